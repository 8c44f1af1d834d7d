"""Revisits: a second run fetches due pages with conditional requests, writes WARC revisit
records for unchanged ones, full responses for changed ones, counts the gone ones; and
`owd process` makes no new documents for unchanged pages but moves their last-seen date.

The revisit host of the test web (owd/testweb/content.py REVISIT_PAGES) is served at
revision 0 for the first crawl and at revision 1 for the revisit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastwarc.warc import ArchiveIterator as FastIterator
from fastwarc.warc import WarcRecordType
from warcio.archiveiterator import ArchiveIterator

from owd.crawler.frontier_store import FRONTIER_FILE, FrontierStore
from owd.core.schema import read_parquet
from owd.testweb import TestSite, TestWebServer, free_port, read_request_log
from owd.testweb.campaign import write_testweb_campaign
from owd.testweb.content import REVISIT_HOST, REVISIT_PAGES
from tests.conftest import run_owd

UNCHANGED_304 = {p for p, b in REVISIT_PAGES.items() if b in ("etag", "modified")}
UNCHANGED_SAME_BODY = {"/"} | {p for p, b in REVISIT_PAGES.items() if b == "plain"}
CHANGED = {p for p, b in REVISIT_PAGES.items() if b == "changing"}
GONE = {p for p, b in REVISIT_PAGES.items() if b.startswith("gone")}
PROFILE = "http://netpreserve.org/warc/1.1/revisit/"


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def _records(warc: Path) -> list[dict[str, Any]]:
    out = []
    with open(warc, "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type in ("response", "revisit"):
                h = rec.rec_headers
                out.append({"type": rec.rec_type, "url": h.get_header("WARC-Target-URI"),
                            "date": h.get_header("WARC-Date"), "profile": h.get_header("WARC-Profile"),
                            "refers_uri": h.get_header("WARC-Refers-To-Target-URI"),
                            "refers_date": h.get_header("WARC-Refers-To-Date"),
                            "digest": h.get_header("WARC-Payload-Digest"),
                            "status": int(rec.http_headers.get_statuscode()), "body": rec.content_stream().read()})
    return out


@pytest.fixture(scope="module")
def revisited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("revisit")
    port = free_port()
    out: dict[str, Any] = {"tmp": tmp}
    for revision in (0, 1):
        site = TestSite(port=port, revision=revision, pages_per_host=2, real_pages=0)
        config = write_testweb_campaign(site, tmp, seed_urls=[site.url(REVISIT_HOST)], seeds={"sitemaps": []},
                                        revisit={"interval": 0})
        with TestWebServer(site, tmp / f"requests-{revision}.jsonl"):
            args = ["crawl", str(config), "--log-level", "WARNING"] + (["--revisit"] if revision else [])
            result = run_owd(*args)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        process = run_owd("process", str(config))
        assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-3000:]
        out[f"docs-{revision}"] = {f.name: read_parquet(f) for f in sorted((tmp / "data/tw/docs").glob("*.parquet"))}
    out["config"] = config
    out["warcs"] = sorted((tmp / "data/tw/warc/w0").glob("*.warc.gz"))
    out["stats"] = json.loads((tmp / "data/tw/crawl/w0/stats.json").read_text())
    return out


def test_second_run_asks_conditionally_and_counts_every_outcome(revisited: dict[str, Any]) -> None:
    stats = revisited["stats"]
    assert stats["revisit/queued"] == stats["revisit/requested"] == 1 + len(REVISIT_PAGES)
    assert stats["revisit/unchanged/server-not-modified"] == len(UNCHANGED_304)
    assert stats["revisit/unchanged/identical-payload-digest"] == len(UNCHANGED_SAME_BODY)
    assert stats["revisit/changed"] == len(CHANGED)
    assert stats["revisit/gone"] == len(GONE)
    # the server saw the validators: 304 for exactly the pages that have them and did not change
    log = [e for e in read_request_log(revisited["tmp"] / "requests-1.jsonl") if e.host == REVISIT_HOST]
    by_status = {e.path: e.status for e in log if e.path not in ("/robots.txt", "/.well-known/tdmrep.json")}
    assert {p for p, s in by_status.items() if s == 304} == UNCHANGED_304
    assert {p for p, s in by_status.items() if s in (404, 410)} == GONE
    assert len(by_status) == 1 + len(REVISIT_PAGES)  # every page once, nothing else


def test_revisit_records_refer_to_the_payload_and_pass_warcio_and_fastwarc(revisited: dict[str, Any]) -> None:
    first, second = revisited["warcs"]
    originals = {_path(r["url"]): r for r in _records(first) if r["type"] == "response"}
    records = _records(second)
    revisits = {_path(r["url"]): r for r in records if r["type"] == "revisit"}
    assert set(revisits) == UNCHANGED_304 | UNCHANGED_SAME_BODY
    for path, rec in revisits.items():
        original = originals[path]
        expected = "server-not-modified" if path in UNCHANGED_304 else "identical-payload-digest"
        assert rec["profile"] == PROFILE + expected
        assert rec["refers_uri"] == original["url"] and rec["refers_date"] == original["date"]
        assert rec["body"] == b""  # headers only: the payload is in the referred-to record
        assert rec["status"] == (304 if expected == "server-not-modified" else 200)
        if expected == "identical-payload-digest":
            assert rec["digest"] == original["digest"]
    responses = {_path(r["url"]): r for r in records if r["type"] == "response"}
    assert {p for p, r in responses.items() if r["status"] == 200 and p in REVISIT_PAGES} == CHANGED
    for path in CHANGED:
        assert responses[path]["digest"] != originals[path]["digest"]
        assert b"Update 1:" in responses[path]["body"]
    assert {p for p, r in responses.items() if r["status"] in (404, 410) and p in REVISIT_PAGES} == GONE
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(second)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-1500:]
    with open(second, "rb") as fh:
        fast = [(r.headers.get("WARC-Profile"), r.verify_block_digest())
                for r in FastIterator(fh, record_types=WarcRecordType.revisit, parse_http=False)]
    assert sorted(p for p, _ in fast) == sorted(r["profile"] for r in revisits.values())
    assert all(ok for _, ok in fast)
    # the CDXJ index lists the revisit records (what the process step reads)
    lines = Path(str(second) + ".cdxj").read_text().splitlines()
    assert sum('"mime": "warc/revisit"' in line for line in lines) == len(revisits)


def test_store_keeps_the_content_fetch_and_marks_gone_pages(revisited: dict[str, Any]) -> None:
    store = FrontierStore(revisited["tmp"] / "data/tw/crawl/w0" / FRONTIER_FILE, read_only=True)
    rows = {}
    for url, _ in store.urls():
        facts = store.facts(url)
        assert facts is not None
        rows[_path(url)] = (facts["status"], facts["outcome"], facts["ref_date"])
    store.close()
    for path in UNCHANGED_304 | UNCHANGED_SAME_BODY:
        assert rows[path][:2] == (200, "unchanged")
    for path in GONE:
        assert rows[path][1] == "gone" and rows[path][0] in (404, 410)
    first, second = revisited["warcs"]
    dates = {_path(r["url"]): r["date"] for w in (first, second) for r in _records(w) if r["type"] == "response"}
    for path in CHANGED | UNCHANGED_304:
        assert rows[path][2] == dates[path]  # the record that now holds the content


def test_process_makes_no_documents_for_unchanged_pages_and_moves_last_seen(revisited: dict[str, Any]) -> None:
    before, after = revisited["docs-0"], revisited["docs-1"]
    first_shard = next(iter(before))
    new_shards = [name for name in after if name not in before]
    assert len(new_shards) == 1
    new_docs = after[new_shards[0]]
    assert {_path(d.url) for d in new_docs} == CHANGED  # nothing for unchanged or gone pages
    old = {_path(d.url): d for d in after[first_shard]}
    revisit_dates = {_path(r["url"]): r["date"] for r in _records(revisited["warcs"][1]) if r["type"] == "revisit"}
    for path in UNCHANGED_304 | UNCHANGED_SAME_BODY:
        doc = old[path]
        assert doc.first_seen == doc.fetch_time
        assert doc.last_seen is not None and doc.last_seen > doc.fetch_time
        assert doc.last_seen.isoformat()[:19] == revisit_dates[path][:19]
    for path in CHANGED | GONE:  # the old version was last seen at its own fetch
        assert old[path].last_seen == old[path].fetch_time
    for doc in new_docs:
        assert doc.first_seen is not None and doc.fetch_time is not None
        assert doc.first_seen <= old[_path(doc.url)].fetch_time < doc.fetch_time
    # before the revisit every document was seen once
    assert all(d.first_seen == d.last_seen == d.fetch_time for d in before[first_shard])


def test_report_shows_revisit_outcomes(revisited: dict[str, Any]) -> None:
    result = run_owd("report", str(revisited["config"]))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((revisited["tmp"] / "data/tw/report/report.json").read_text())
    rv = report["crawl"]["revisits"]
    assert rv["runs"] == 1 and rv["requested"] == 1 + len(REVISIT_PAGES)
    assert (rv["unchanged"], rv["changed"], rv["gone"]) == (
        len(UNCHANGED_304 | UNCHANGED_SAME_BODY), len(CHANGED), len(GONE))
    html = (revisited["tmp"] / "data/tw/report/report.html").read_text()
    assert "<h2>Revisits</h2>" in html


def test_revisit_without_a_crawl_is_one_clear_line(tmp_path: Path) -> None:
    site = TestSite(port=free_port(), revision=0, pages_per_host=2, real_pages=0)
    config = write_testweb_campaign(site, tmp_path, seed_urls=[site.url(REVISIT_HOST)])
    result = run_owd("crawl", str(config), "--revisit")
    assert result.returncode == 2
    assert "no crawl" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
