"""End-to-end crawls of the local test web with `owd crawl` (a real Scrapy process)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastwarc.warc import ArchiveIterator, WarcRecordType

from owd.testweb import LogEntry, TestSite, TestWebServer, free_port, read_request_log
from owd.testweb.campaign import write_testweb_campaign
from tests.conftest import run_owd

DELAY = 0.2
# Timestamps are taken when the server reads a request; scheduling jitter on either
# side (2 cores shared by crawler and server) can make one gap look this much shorter.
# Scrapy spaces the *dequeue* times of a host's requests by the delay. On the wire
# a request can leave late when the crawler's reactor is busy (parsing a big page),
# which makes that gap longer and the next one shorter: measured here, single gaps
# of 0.03 s against a 0.2 s delay. So the log is checked for what politeness means
# to the host: in no 1-second window more requests than 1 s / delay (+1), and a
# mean gap of at least the delay (5% slack).
WINDOW_S = 1.0
MEAN_SLACK = 0.05
PER_HOST = 2
RETRIED_STATUSES = {429, 500, 502, 503, 504}


@dataclass
class Crawl:
    site: TestSite
    log: list[LogEntry]
    warcs: list[Path]
    stats: dict[str, object]
    stdout: str


def crawl(tmp: Path, expect_exit: int = 0, **overrides: object) -> Crawl:
    site = TestSite(port=free_port(), pages_per_host=4, real_pages=8)
    overrides.setdefault("politeness", {"delay": DELAY, "concurrency_per_host": PER_HOST, "concurrency": 64,
                                        "autothrottle": False})
    overrides.setdefault("limits", {"timeout": 3})  # /slow/2.html completes, /hang.html times out
    config = write_testweb_campaign(site, tmp, **overrides)
    log_path = tmp / "requests.jsonl"
    with TestWebServer(site, log_path):
        result = run_owd("crawl", str(config), "--log-level", "WARNING", timeout=400)
    assert result.returncode == expect_exit, result.stderr[-3000:]
    data = tmp / "data" / "tw"
    stats = json.loads((data / "crawl" / "w0" / "stats.json").read_text())
    log = read_request_log(log_path) if log_path.exists() else []
    return Crawl(site, log, sorted((data / "warc" / "w0").glob("*.warc.gz")), stats, result.stdout)


@pytest.fixture(scope="module")
def demo_crawl(tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    return crawl(tmp_path_factory.mktemp("crawl"))


def _urls(site: TestSite, entries: list[LogEntry]) -> list[str]:
    return [site.url(e.host, e.path) for e in entries]


def test_fetches_every_in_scope_allowed_page_and_no_disallowed_one(demo_crawl: Crawl) -> None:
    site = demo_crawl.site
    fetched = set(_urls(site, [e for e in demo_crawl.log if e.status == 200]))
    expected = site.expected_pages()
    missing = expected - fetched
    assert not missing, sorted(missing)[:20]
    requested = _urls(site, demo_crawl.log)
    assert not [u for u in requested if "//robots.owdtest.eu" in u and ("/private/" in u or "/no-owd/" in u)]
    assert [u for u in requested if "robots-5xx" in u and not u.endswith("/robots.txt")] == []


def test_no_url_fetched_twice_except_retries(demo_crawl: Crawl) -> None:
    by_url: dict[str, list[LogEntry]] = defaultdict(list)
    for e in demo_crawl.log:
        by_url[e.url_key].append(e)
    for key, entries in by_url.items():
        if len(entries) == 1:
            continue
        earlier = entries[:-1]
        # A repeat is legitimate only when the earlier attempt failed in a retryable way.
        assert all(e.status in RETRIED_STATUSES or key.endswith("/truncated.html") or key.endswith("/hang.html")
                   for e in earlier), (key, [(e.status, e.t) for e in entries])


def assert_polite(site: TestSite, log: list[LogEntry], delay: float, per_host: int) -> None:
    """Politeness as the hosts saw it (the test web's log; see the note on WINDOW_S)."""
    by_host: dict[str, list[LogEntry]] = defaultdict(list)
    for e in log:
        by_host[e.ip].append(e)
    for ip, entries in by_host.items():
        entries.sort(key=lambda e: e.t)
        host = site.by_ip[ip].name
        floor = 0.5 if host == "robots.owdtest.eu" else delay  # robots.txt Crawl-delay there
        gaps = [b.t - a.t for a, b in zip(entries, entries[1:])]
        if gaps:
            times = [e.t for e in entries]
            allowed = int(WINDOW_S / floor) + 1
            busiest = max(sum(1 for u in times[i:] if u < t + WINDOW_S) for i, t in enumerate(times))
            assert busiest <= allowed, (host, busiest, allowed, gaps)
            assert sum(gaps) / len(gaps) >= floor * (1 - MEAN_SLACK), (host, gaps)
        # concurrency: at no time more than per_host requests in flight for one host
        events = sorted([(e.t, 1) for e in entries] + [(e.t_end, -1) for e in entries])
        level = peak = 0
        for _, step in events:
            level += step
            peak = max(peak, level)
        assert peak <= per_host, (host, peak)


def test_per_host_delay_and_concurrency_respected(demo_crawl: Crawl) -> None:
    assert_polite(demo_crawl.site, demo_crawl.log, DELAY, PER_HOST)


def test_retry_after_pauses_the_host(demo_crawl: Crawl) -> None:
    for path in ("/retry-after/1.html", "/flaky/1.html"):
        hits = sorted((e for e in demo_crawl.log if e.host == "errors.owdtest.eu" and e.path == path), key=lambda e: e.t)
        assert [e.status for e in hits] == [429 if "retry" in path else 503, 200], hits
        assert hits[1].t - hits[0].t_end >= 0.95, "Retry-After: 1 must be honoured"
    assert demo_crawl.stats.get("backoff/http_429") == 1 and demo_crawl.stats.get("backoff/http_503", 0) >= 1


def test_every_warc_passes_warcio_check_and_fastwarc_digests(demo_crawl: Crawl) -> None:
    assert demo_crawl.warcs
    for path in demo_crawl.warcs:
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
        types: Counter[str] = Counter()
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, parse_http=False):
                kind = rec.headers.get("WARC-Type")
                if kind == "metadata" and rec.headers.get("WARC-Refers-To"):
                    kind = "metadata-refers"  # what a parsed page referenced (media)
                types[kind] += 1
                assert rec.verify_block_digest(consume=False), rec.headers.get("WARC-Target-URI")
                if rec.record_type == WarcRecordType.response:
                    rec.parse_http()
                    assert rec.verify_payload_digest(consume=False), rec.headers.get("WARC-Target-URI")
        assert types["warcinfo"] == 1
        assert types["request"] == types["response"] == types["metadata"] > 100
        assert types["metadata-refers"] > 0


def test_cdxj_finds_every_response(demo_crawl: Crawl) -> None:
    from owd.core.cdxj import lookup

    for path in demo_crawl.warcs:
        cdxj = path.with_name(path.name + ".cdxj")
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=False):
                url = rec.headers.get("WARC-Target-URI")
                hits = lookup(cdxj, url)
                assert any(h.offset == rec.stream_pos for h in hits), url


def test_stats_count_refusals_and_errors(demo_crawl: Crawl) -> None:
    s = demo_crawl.stats
    assert s.get("robots/disallowed", 0) >= 2
    assert s.get("scope/refused/domain", 0) > 0  # real pages link to their original sites
    assert s.get("errors/http_404", 0) >= 1
    assert s.get("errors/DownloadTimeoutError", 0) >= 1  # /hang.html
    assert s.get("media/fetched/image", 0) >= 1
    assert s.get("media/refused/mime/image", 0) >= 1  # not-an-image.jpg (and real pages' 404s) are text/html
    assert s.get("media/refs_recorded", 0) >= 5
    # hostile responses are counted and passed over
    assert s.get("limits/decompressed_too_large", 0) >= 1  # /bomb.html
    assert s.get("limits/response_too_large", 0) >= 2  # /big.html, /media/huge.mp4
    assert s.get("redirects/to_seen", 0) >= 1  # /loop/a.html <-> /loop/b.html
    assert s.get("errors/ResponseDataLossError", 0) >= 1  # /truncated.html
    assert demo_crawl.stats["finish_reason"] == "finished"


def test_odd_but_valid_responses_are_archived(demo_crawl: Crawl) -> None:
    archived = set()
    for path in demo_crawl.warcs:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=False):
                archived.add(rec.headers.get("WARC-Target-URI").split("/", 3)[-1])
    for path in ("broken.html", "latin1.html", "mislabelled.html", "bad-headers.html", "empty.html", "binary.html",
                 "bomb.html", "redirect/3.html", "redirect/0.html", "status/404.html"):
        assert path in archived, path


def test_media_references_and_bytes_in_the_warc(demo_crawl: Crawl) -> None:
    refs: list[dict[str, object]] = []
    media_responses = set()
    for path in demo_crawl.warcs:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.metadata | WarcRecordType.response,
                                       parse_http=False):
                uri = rec.headers.get("WARC-Target-URI")
                if rec.record_type == WarcRecordType.response and "/media/" in uri:
                    media_responses.add(uri.rsplit("/", 1)[1])
                elif rec.record_type == WarcRecordType.metadata and rec.headers.get("WARC-Refers-To"):
                    body = json.loads(rec.reader.read())
                    if body.get("kind") == "media-refs" and uri.endswith("/gallery.html"):
                        refs = body["media"]  # type: ignore[assignment]
    assert refs, "the gallery page's media references are recorded"
    by_alt = {r["alt"]: r for r in refs if r["alt"]}
    assert by_alt["Second picture"]["caption"] == "Caption of the second picture"
    assert any(r["context"] and "really a web page" in str(r["context"]) for r in refs)
    site = demo_crawl.site
    small = {n for n, (mime, data) in site.media_files.items() if len(data) <= 5 * 2**20 and len(data) > 0}
    referenced_images = {str(r["url"]).rsplit("/", 1)[1] for r in refs if r["kind"] == "image"}
    assert referenced_images - {"not-an-image.jpg"} <= media_responses
    assert "huge.mp4" not in media_responses and "not-an-image.jpg" not in media_responses
    assert small & media_responses


def test_report_breaks_down_by_status_host_and_type(demo_crawl: Crawl) -> None:
    report = json.loads((demo_crawl.warcs[0].parents[2] / "crawl" / "w0" / "report.json").read_text())
    responses = int(demo_crawl.stats["downloader/response_count"])
    assert report["responses"] == responses == sum(report["by_status"].values())
    assert sum(h["responses"] for h in report["by_host"].values()) == responses
    assert set(report["by_host"]) <= set(demo_crawl.site.by_name)
    assert report["by_content_type"]["text/html"] > 100 and any(t.startswith("image/") for t in report["by_content_type"])
    assert report["robots"]["parsed"] == demo_crawl.stats["robots/disallowed/parsed"]
    assert report["errors"]["DownloadTimeoutError"] >= 1 and report["scope"]["domain"] > 0
    assert report["bytes"] == sum(h["bytes"] for h in report["by_host"].values()) > 0


def test_address_guard_refuses_the_test_web_when_not_allow_listed(tmp_path: Path) -> None:
    # A crawl that fetched nothing fails, naming the cause and the fix (issue 11).
    result = crawl(tmp_path, expect_exit=1, network={"allow_networks": []})
    assert result.log == [], "nothing on a loopback address may be fetched"
    seeds = len(result.site.seed_urls()) + 1  # + the sitemap index
    assert result.stats.get("guard/refused", 0) >= seeds, result.stats
    assert not result.warcs
