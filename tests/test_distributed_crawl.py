"""A distributed crawl on a local Ray instance: 2 crawler actors on the test web.

Real components throughout: `owd crawl --ray` in a subprocess starts Ray, two
crawler actors, each running a real Scrapy process against the loopback test
web; the test web's request log says which crawler asked for what (the
X-OWD-Crawler header).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from owd.crawler.partition import Partition
from owd.testweb import LogEntry, TestSite, TestWebServer, free_port, read_request_log
from owd.testweb.campaign import write_testweb_campaign
from tests.conftest import REPO, crawl_testweb, run_owd
from tests.crawler.test_crawl import assert_polite
from tests.crawler.test_resume import warc_responses

pytestmark = pytest.mark.slow

DELAY = 0.1
PER_HOST = 2
RETRIED_STATUSES = {429, 500, 502, 503, 504}
CAMPAIGN = {"politeness": {"delay": DELAY, "concurrency_per_host": PER_HOST, "concurrency": 32,
                           "autothrottle": False},
            "limits": {"timeout": 3}, "run": {"crawlers": 2}}


def _site() -> TestSite:
    return TestSite(port=free_port(), pages_per_host=4, real_pages=8)


def _all_responses(data: Path) -> set[str]:
    return {url for w in ("w0", "w1") for url, _ in warc_responses(data / "warc" / w)}


def _check_warcs(data: Path) -> None:
    files = list((data / "warc").glob("w*/*.warc.gz"))
    assert files and not list((data / "warc").glob("w*/*.open")), "no unfinished WARC file may remain"
    for path in files:
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, (path, check.stdout[-1000:])


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestSite, Path, list[LogEntry]]:
    tmp = tmp_path_factory.mktemp("dist")
    site = _site()
    _, result = crawl_testweb(site, tmp, "--ray", timeout=500, **CAMPAIGN)
    assert "on 2 crawler(s)" in result.stdout
    return site, tmp / "data" / "tw", read_request_log(tmp / "requests.jsonl")


def test_every_in_scope_page_fetched_exactly_once(clean: tuple[TestSite, Path, list[LogEntry]]) -> None:
    site, data, log = clean
    fetched = {site.url(e.host, e.path) for e in log if e.status == 200}
    missing = site.expected_pages() - fetched
    assert not missing, sorted(missing)[:20]
    by_url: dict[str, list[LogEntry]] = defaultdict(list)
    for e in sorted(log, key=lambda e: e.t):
        by_url[e.url_key].append(e)
    for key, entries in by_url.items():
        # a repeat is legitimate only after a retryable failure (as in a one-process crawl)
        assert all(e.status in RETRIED_STATUSES or key.endswith(("/truncated.html", "/hang.html"))
                   for e in entries[:-1]), (key, [(e.status, e.crawler) for e in entries])
    _check_warcs(data)


def test_each_host_fetched_by_its_owner_only(clean: tuple[TestSite, Path, list[LogEntry]]) -> None:
    site, data, log = clean
    partition = Partition.load(data / "crawl" / "partition.json")
    crawlers_of_host: dict[str, set[str]] = defaultdict(set)
    for e in log:
        crawlers_of_host[e.host].add(e.crawler)
    assert all(len(c) == 1 for c in crawlers_of_host.values()), crawlers_of_host
    for host, crawlers in crawlers_of_host.items():
        assert crawlers == {f"tw/{partition.owner(site.url(host, '/'))}"}, host
    assert {c for cs in crawlers_of_host.values() for c in cs} == {"tw/w0", "tw/w1"}  # both crawlers worked
    # each crawler's WARC files hold only its own hosts
    for worker in ("w0", "w1"):
        hosts = {url.split("/", 1)[0] for url, _ in warc_responses(data / "warc" / worker)}
        assert hosts and all(partition.owner(site.url(h, "/")) == worker for h in hosts), (worker, hosts)
    stats = [json.loads((data / "crawl" / w / "stats.json").read_text()) for w in ("w0", "w1")]
    assert sum(s.get("partition/forwarded", 0) for s in stats) > 0  # links did cross between crawlers


def test_politeness_held_per_host(clean: tuple[TestSite, Path, list[LogEntry]]) -> None:
    site, _, log = clean
    assert_polite(site, log, DELAY, PER_HOST)  # the same rule as a one-process crawl


def test_a_second_run_without_resume_is_refused(clean: tuple[TestSite, Path, list[LogEntry]]) -> None:
    _, data, _ = clean
    result = run_owd("crawl", str(data.parent.parent / "tw.yaml"), "--ray")
    assert result.returncode == 2 and "--resume" in result.stderr and "Traceback" not in result.stderr


def test_killed_crawler_actor_is_restarted_and_the_crawl_completes(
        tmp_path: Path, clean: tuple[TestSite, Path, list[LogEntry]]) -> None:
    _, clean_data, _ = clean
    site = _site()
    config = write_testweb_campaign(site, tmp_path, **CAMPAIGN)
    data = tmp_path / "data" / "tw"
    log = tmp_path / "requests.jsonl"
    with TestWebServer(site, log):
        proc = subprocess.Popen([sys.executable, "-m", "owd.cli", "crawl", str(config), "--ray"], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            actor_file = data / "crawl" / "w1" / "actor.json"
            deadline = time.monotonic() + 180
            # mid-crawl: w1 has started and the test web has served a good part of the crawl
            while time.monotonic() < deadline:
                n = sum(1 for _ in open(log)) if log.exists() else 0
                if actor_file.exists() and n >= 250:
                    break
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.05)
            else:
                raise AssertionError("the crawl did not get going")
            victim = json.loads(actor_file.read_text())["pid"]
            os.kill(victim, signal.SIGKILL)
            out, err = proc.communicate(timeout=400)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, out[-2000:] + err[-3000:]
    restarted = json.loads(actor_file.read_text())
    assert restarted["pid"] != victim  # Ray started a new actor ...
    assert "--resume" in (data / "crawl" / "w1" / "crawler.log").read_text()  # ... which resumed w1's journal
    assert _all_responses(data) == _all_responses(clean_data)
    _check_warcs(data)
    hosts_by_crawler: dict[str, set[str]] = defaultdict(set)
    for e in read_request_log(log):
        hosts_by_crawler[e.host].add(e.crawler)
    assert all(len(c) == 1 for c in hosts_by_crawler.values())
