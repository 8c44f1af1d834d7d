"""The politeness rule, as the hosts see it (issue 11, findings 1 and 2).

Rule (crawler/politeness.py): per host, the next request starts no earlier than
``max(delay, Crawl-delay, min(k x previous response time, cap))`` after the previous
response *ended*, one request at a time while a Crawl-delay is set; AutoThrottle may
only raise that gap. Checked on the test web's manners hosts (Crawl-delay 2 and 3, and a
host whose every reply takes a second) from the server's request log, under the default
politeness and under ``delay: 0``, with AutoThrottle on and off.

Before the fix this failed both ways the issue measured: with AutoThrottle on, gaps on
the Crawl-delay hosts fell to the configured delay (and to ~0 with ``delay: 0``); and
after a slow reply the next request left a fraction of a second after it ended.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from owd.core.config import PolitenessConfig
from owd.testweb import LogEntry, TestSite, TestWebServer, free_port, read_request_log
from owd.testweb.campaign import write_testweb_campaign
from owd.testweb.content import MANNERS_HOSTS, SLOW_REPLY_S
from tests.conftest import REPO

DEFAULTS = PolitenessConfig()
# Server timestamps bracket the crawler's own (a request arrives after it left, a response
# is written before it is read), so the server sees gaps at least as long as the crawler
# kept; this only absorbs timer granularity.
EPSILON_S = 0.02

CASES = {
    "default": {},
    "default-no-autothrottle": {"autothrottle": False},
    "delay0": {"delay": 0.0},
    "delay0-no-autothrottle": {"delay": 0.0, "autothrottle": False},
}


def _crawl(folder: Path, politeness_overrides: dict[str, object]) -> tuple[TestSite, list[LogEntry], str]:
    site = TestSite(port=free_port(), manners=True, real_pages=0)
    hosts = [h for h in site.hosts if h.kind == "manners"]
    politeness = {**dataclasses.asdict(DEFAULTS), **politeness_overrides}
    config = write_testweb_campaign(
        site, folder, seed_urls=[site.url(h.name) for h in hosts],
        seeds={"sitemaps": []}, politeness=politeness, media={"kinds": []},
        scope={"domains": [h.name for h in hosts]}, limits={"timeout": 10})
    with TestWebServer(site, folder / "requests.jsonl"):
        result = subprocess.run([sys.executable, "-m", "owd.cli", "crawl", str(config), "--log-level", "WARNING"],
                                cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return site, read_request_log(folder / "requests.jsonl"), result.stdout


@pytest.fixture(scope="module")
def crawls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[TestSite, list[LogEntry], str]]:
    # Four crawls at once, each with its own test web on its own port: the hosts are
    # slow on purpose, so in a row this would take four times as long.
    base = tmp_path_factory.mktemp("manners")
    with ThreadPoolExecutor(len(CASES)) as pool:
        futures = {name: pool.submit(_crawl, base / name, over) for name, over in CASES.items()}
        return {name: f.result() for name, f in futures.items()}


def rule_gap(host_variant: str, delay: float, previous: LogEntry) -> float:
    crawl_delay = MANNERS_HOSTS[host_variant]
    took = previous.t_end - previous.t
    return max(delay, crawl_delay, min(DEFAULTS.slow_host_factor * took, DEFAULTS.slow_host_max_delay))


@pytest.mark.parametrize("case", list(CASES))
def test_no_gap_below_the_rule_from_end_of_response(crawls, case: str) -> None:
    site, log, _ = crawls[case]
    delay = float(CASES[case].get("delay", DEFAULTS.delay))  # type: ignore[arg-type]
    by_host: dict[str, list[LogEntry]] = defaultdict(list)
    for entry in log:
        by_host[entry.host].append(entry)
    assert set(by_host) == {f"{v}.owdtest.eu" for v in MANNERS_HOSTS}, sorted(by_host)
    for host, entries in by_host.items():
        variant = host.split(".")[0]
        entries.sort(key=lambda e: e.t)
        # every page was fetched: the rule slows a crawl down, it does not lose pages
        pages = {e.path for e in entries if e.status == 200 and e.path.endswith((".html", "/"))}
        assert pages == {"/", *site.page_paths(site.by_name[host])}, (host, pages)
        for previous, nxt in zip(entries, entries[1:]):
            gap = nxt.t - previous.t_end
            wanted = rule_gap(variant, delay, previous)
            assert gap >= wanted - EPSILON_S, (case, host, previous.path, nxt.path, round(gap, 3), round(wanted, 3))


def test_slow_host_waits_a_multiple_of_its_reply_time(crawls) -> None:
    # the case the issue measured: after a reply that took seconds, the next request left
    # a fraction of a second after it ended
    _, log, _ = crawls["delay0-no-autothrottle"]
    slow = sorted((e for e in log if e.host == "slow.owdtest.eu"), key=lambda e: e.t)
    assert len(slow) >= 3
    gaps = [b.t - a.t_end for a, b in zip(slow, slow[1:])]
    assert min(gaps) >= DEFAULTS.slow_host_factor * SLOW_REPLY_S - EPSILON_S, gaps


def test_crawl_delay_hosts_get_one_request_at_a_time(crawls) -> None:
    for case, (_, log, _) in crawls.items():
        for host in ("delay2.owdtest.eu", "delay3.owdtest.eu"):
            entries = sorted((e for e in log if e.host == host), key=lambda e: e.t)
            overlaps = [(a.path, b.path) for a, b in zip(entries, entries[1:]) if b.t < a.t_end]
            assert not overlaps, (case, host, overlaps)
