"""A crawl stopped by SIGKILL or Ctrl-C resumes without losing or repeating work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastwarc.warc import ArchiveIterator, WarcRecordType

from owd.testweb import TestSite, TestWebServer, free_port, read_request_log
from owd.testweb.campaign import write_testweb_campaign
from tests.conftest import REPO, crawl_testweb, run_owd

RETRIED_STATUSES = {429, 500, 502, 503, 504}
FAST = {"politeness": {"delay": 0.02, "concurrency_per_host": 2, "concurrency": 32, "autothrottle": False},
        "limits": {"timeout": 3}}


def _portless(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def warc_responses(folder: Path) -> list[tuple[str, int]]:
    out = []
    for path in sorted(folder.glob("*.warc.gz")):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
                out.append((_portless(rec.headers.get("WARC-Target-URI")), rec.http_headers.status_code))
    return out


def start_crawl(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "owd.cli", "crawl", str(config), "--log-level", "WARNING", *extra],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_requests(log: Path, n: int, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and sum(1 for _ in open(log)) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} requests within {timeout}s")


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    tmp = tmp_path_factory.mktemp("clean")
    site = TestSite(port=free_port(), pages_per_host=4, real_pages=8)
    crawl_testweb(site, tmp, **FAST)
    return {url for url, _ in warc_responses(tmp / "data/tw/warc/w0")}


def _check_warcs(folder: Path) -> None:
    assert not list(folder.glob("*.open")), "no unfinished WARC file may remain"
    for path in folder.glob("*.warc.gz"):
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout[-1000:]


@pytest.mark.parametrize("stop", ["sigkill", "ctrl-c"])
def test_stopped_crawl_resumes_to_the_clean_set(tmp_path: Path, clean_run: set[str], stop: str) -> None:
    site = TestSite(port=free_port(), pages_per_host=4, real_pages=8)
    config = write_testweb_campaign(site, tmp_path, **FAST)
    log = tmp_path / "requests.jsonl"
    warc_dir = tmp_path / "data/tw/warc/w0"
    with TestWebServer(site, log):
        proc = start_crawl(config)
        wait_for_requests(log, 250, proc)
        if stop == "sigkill":
            os.kill(proc.pid, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGINT)  # Scrapy's graceful shutdown
        proc.communicate(timeout=120)
        requests_before = len(read_request_log(log))
        if stop == "sigkill":
            assert list(warc_dir.glob("*.warc.gz.open")), "a killed crawl leaves its WARC unfinished"
        else:
            assert not list(warc_dir.glob("*.open")), "Ctrl-C closes the WARC properly"
        assert requests_before < 700, "the crawl was stopped midway, not at its end"

        fresh = run_owd("crawl", str(config), "--log-level", "WARNING", timeout=120)
        assert fresh.returncode == 2 and "--resume" in fresh.stderr  # never silently start over

        resumed = run_owd("crawl", str(config), "--resume", "--log-level", "WARNING", timeout=400)
        assert resumed.returncode == 0, resumed.stderr[-2000:]

    _check_warcs(warc_dir)
    responses = warc_responses(warc_dir)
    assert {url for url, _ in responses} == clean_run
    stats = json.loads((tmp_path / "data/tw/crawl/w0/stats.json").read_text())
    assert stats["resume/pending"] > 0
    repeats = Counter(url for url, _ in responses)
    first_status = {}
    for url, status in responses:
        first_status.setdefault(url, status)
    # A URL may appear twice only when its first answer was retryable, or when it was in
    # flight at the stop (its response reached the WARC, its links were not yet followed).
    # robots.txt (and tdmrep.json) are fetched afresh by every crawler process on purpose:
    # rules may have changed while the crawl was stopped.
    per_process = ("/robots.txt", "/.well-known/tdmrep.json")
    in_flight = [u for u, n in repeats.items()
                 if n > 1 and first_status[u] not in RETRIED_STATUSES and not u.endswith(per_process)]
    assert len(in_flight) <= stats["resume/refetch_in_flight"], (in_flight, stats["resume/refetch_in_flight"])
    assert stats["resume/refetch_in_flight"] <= 64  # bounded by what can be in flight (concurrency 32)
