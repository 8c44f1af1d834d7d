"""`owd report`: the campaign report's numbers against independent recounts, and the
HTML page (in headless Chromium) against the JSON."""

from __future__ import annotations

import json
import re
import shutil
import struct
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from warcio.archiveiterator import ArchiveIterator

from owd.crawler.partition import Partition
from owd.core.config import load_campaign
from owd.report import LOCAL_SITE, build_report, render_html, write_report
from owd.core.schema import read_parquet
from owd.testweb import TestSite, free_port
from owd.testweb.campaign import write_testweb_campaign
from owd.testweb.server import read_request_log
from tests.conftest import crawl_testweb, run_owd

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small real campaign, crawled and processed: (campaign file, test web request log)."""
    tmp = tmp_path_factory.mktemp("report")
    site = TestSite(port=free_port(), pages_per_host=4, real_pages=8)
    config, _ = crawl_testweb(
        site, tmp, politeness={"delay": 0.01, "concurrency_per_host": 2, "concurrency": 32, "autothrottle": False},
        limits={"timeout": 2}, timeout=300)
    log = tmp / "requests.jsonl"
    result = run_owd("process", str(config), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return config, log


@pytest.fixture(scope="module")
def cli_run(campaign: tuple[Path, Path]) -> tuple[str, dict[str, Any], Path]:
    """`owd report` once: (its stdout, report.json, report.html)."""
    result = run_owd("report", str(campaign[0]), timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    root = load_campaign(campaign[0]).campaign_dir / "report"
    return result.stdout, json.loads((root / "report.json").read_text()), root / "report.html"


def _root(config: Path) -> Path:
    return load_campaign(config).campaign_dir


def _recount_warcs(root: Path) -> dict[str, Any]:
    """The crawl numbers again, with warcio instead of fastwarc, joined by record id."""
    responses: dict[str, tuple[str, int, int, str]] = {}
    kinds: dict[str, str] = {}
    for path in sorted((root / "warc").glob("*/*.warc.gz")):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                h = rec.rec_headers
                if rec.rec_type == "response":
                    size = len(rec.raw_stream.read())  # the stored payload, not content-decoded
                    responses[h.get_header("WARC-Record-ID")] = (
                        h.get_header("WARC-Target-URI"), int(rec.http_headers.get_statuscode()), size,
                        h.get_header("WARC-Date")[:10])
                elif rec.rec_type == "metadata" and h.get_header("WARC-Concurrent-To"):
                    kinds[h.get_header("WARC-Concurrent-To")] = json.loads(rec.raw_stream.read())["kind"]
    pages = [r for rid, r in responses.items() if kinds.get(rid) == "page" and 200 <= r[1] < 300]
    hosts = {re.match(r"https?://([^/:]+)", r[0]).group(1) for r in responses.values()}  # type: ignore[union-attr]
    return {
        "status": Counter(str(r[1]) for r in responses.values()),
        "responses": len(responses), "pages": len(pages), "bytes": sum(r[2] for r in responses.values()),
        "hosts": hosts, "days": Counter(r[3] for r in pages),
    }


def test_cli_writes_json_and_html_and_prints_headline(cli_run: tuple[str, dict[str, Any], Path]) -> None:
    stdout, report, html = cli_run
    assert str(html) in stdout and str(html.with_suffix(".json")) in stdout
    h = report["headline"]
    assert f"{h['pages_total']} pages" in stdout and f"{h['hosts_total']} hosts" in stdout
    assert f"{h['documents_kept']}/{h['documents_total']} documents" in stdout
    page = html.read_text()
    # Self-contained: no scripts, no external stylesheets, images or fonts.
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)


def test_crawl_numbers_equal_independent_recounts(campaign: tuple[Path, Path],
                                                  cli_run: tuple[str, dict[str, Any], Path]) -> None:
    config, log = campaign
    crawl = cli_run[1]["crawl"]
    root = _root(config)
    recount = _recount_warcs(root)
    assert crawl["status"] == dict(sorted(recount["status"].items(), key=lambda kv: int(kv[0])))
    assert (crawl["responses"], crawl["pages"], crawl["bytes"]) == \
        (recount["responses"], recount["pages"], recount["bytes"])
    assert set(crawl["hosts"]) == recount["hosts"] and crawl["hosts_total"] == len(recount["hosts"])
    assert {d: row["pages"] for d, row in crawl["by_day"].items()} == dict(recount["days"])
    # One crawler on one machine: everything is site "local", worker w0.
    assert list(crawl["by_site"]) == [LOCAL_SITE] and crawl["by_site"][LOCAL_SITE]["workers"] == ["w0"]
    assert crawl["by_site"][LOCAL_SITE]["pages"] == crawl["pages"] > 50
    assert sum(row["pages"] for row in crawl["by_site_day"]) == crawl["pages"]
    assert crawl["warc_broken_records"] == 0

    # Scrapy's own counters (another path through the crawler) agree with the WARC.
    stats = json.loads((root / "crawl/w0/stats.json").read_text())
    assert crawl["status"] == {k.rsplit("/", 1)[1]: v for k, v in stats.items()
                               if k.startswith("downloader/response_status_count/")}
    assert crawl["robots_refusals"]["total"] == stats["robots/disallowed"] > 0
    assert crawl["errors"] == {k[len("errors/"):]: v for k, v in stats.items() if k.startswith("errors/")}
    assert crawl["errors_total"] == sum(crawl["errors"].values()) > 0

    # The test web served at least every response the report counts (retries and
    # timeouts are served but never stored), and only to hosts it has.
    served = Counter(str(e.status) for e in read_request_log(log))
    assert all(served[code] >= n for code, n in crawl["status"].items())
    assert set(crawl["hosts"]) <= {e.host for e in read_request_log(log)}

    # The test web reserves TDM on a few pages (header, meta, tdmrep.json).
    tdm = crawl["tdm"]
    assert tdm["pages_reserved"] == sum(tdm["by_source"].values()) > 0
    assert {"header", "meta"} <= set(tdm["by_source"])
    assert tdm["reservation_rate"] == round(tdm["pages_reserved"] / crawl["pages"], 6)


def test_document_numbers_equal_the_parquet(campaign: tuple[Path, Path],
                                            cli_run: tuple[str, dict[str, Any], Path]) -> None:
    docs = [d for shard in sorted((_root(campaign[0]) / "docs").glob("*.parquet")) for d in read_parquet(shard)]
    got = cli_run[1]["documents"]
    kept = [d for d in docs if d.drop_reason is None]
    assert (got["total"], got["kept"], got["dropped"]) == (len(docs), len(kept), len(docs) - len(kept))
    assert got["languages"] == dict(Counter(d.lang or "?" for d in kept))
    assert len(got["languages"]) >= 20  # one host per official EU language
    assert got["drop_reasons"] == dict(Counter(d.drop_reason.split(":")[0] for d in docs if d.drop_reason))
    dup = sum(d.drop_reason == "duplicate" for d in docs)
    assert got["duplicates"]["dropped"] == dup > 0  # the test web serves exact and near copies
    assert got["duplicates"]["rate"] == round(dup / (len(kept) + dup), 6)
    assert got["duplicates"]["in_clusters"] == sum((d.dup_cluster_size or 1) > 1 for d in docs)
    assert got["kept_text_bytes"] == sum(len((d.text or "").encode()) for d in kept)
    assert got["tdm"]["reserved"] == sum(bool(d.tdm_reservation) for d in docs)
    report = cli_run[1]
    assert report["headline"]["duplicate_rate"] == got["duplicates"]["rate"]
    # No pools and no `owd run` state in this campaign: empty sections, not errors.
    assert report["pools"]["documents"] == {} and report["throughput"] == {}


def _corrupt_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 64] = bytes(b ^ 0xFF for b in data[mid:mid + 64])
    path.write_bytes(bytes(data))


def test_sites_pools_throughput_and_a_broken_record(campaign: tuple[Path, Path], tmp_path: Path) -> None:
    """Two workers on two AIF+A sites (the same WARCs twice, one copy damaged), pool
    summaries and a run state: per-site numbers, the damage counted, items/s."""
    data = yaml.safe_load(campaign[0].read_text())
    src = _root(campaign[0])
    data["storage_root"] = str(tmp_path / "data")
    for f in campaign[0].parent.glob("tw*"):
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    config = tmp_path / "tw.yaml"
    config.write_text(yaml.safe_dump(data))
    cfg = load_campaign(config)
    root = cfg.campaign_dir
    shutil.copytree(src / "warc" / "w0", root / "warc" / "w0")
    shutil.copytree(src / "warc" / "w0", root / "warc" / "w1")
    shutil.copytree(src / "crawl" / "w0", root / "crawl" / "w0")
    for warc in (root / "warc" / "w1").glob("*.warc.gz"):
        _corrupt_middle(warc)
    Partition(("w0", "w1"), ("aif-lu", "aif-fi")).save(root / "crawl" / "partition.json")
    (root / "pools" / "news").mkdir(parents=True)
    (root / "pools" / "news" / "summary.json").write_text(json.dumps({"general": {"documents": 42}}))
    (root / "pools" / "broken").mkdir(parents=True)
    (root / "pools" / "broken" / "summary.json").write_text("{not json")
    (root / "run").mkdir()
    (root / "run" / "state.json").write_text(json.dumps({"steps": {
        "crawl": {"status": "done", "started": 100.0, "finished": 110.0, "seconds": 10.0, "items": 250,
                  "unit": "pages"},
        "process": {"status": "running", "started": 110.0, "unit": "documents"}}}))

    report = build_report(cfg)
    crawl = report["crawl"]
    clean = _recount_warcs(src)
    assert crawl["by_worker"]["w0"]["site"] == "aif-lu" and crawl["by_worker"]["w1"]["site"] == "aif-fi"
    assert crawl["by_site"]["aif-lu"]["responses"] == clean["responses"]
    assert crawl["by_site"]["aif-lu"]["bytes"] == clean["bytes"]
    # The damaged gzip member is skipped and counted; the records after it still count.
    assert crawl["warc_broken_records"] == 1
    assert clean["responses"] - 1 <= crawl["by_site"]["aif-fi"]["responses"] <= clean["responses"]
    assert crawl["responses"] == sum(s["responses"] for s in crawl["by_site"].values())
    assert {row["site"] for row in crawl["by_site_day"]} == {"aif-lu", "aif-fi"}
    assert report["headline"]["sites_total"] == 2
    assert report["pools"] == {"source": "summary.json", "documents": {"news": 42}}
    assert report["throughput"]["crawl"]["items_per_second"] == 25.0
    assert report["throughput"]["process"]["items_per_second"] is None
    assert report["documents"]["total"] == 0  # no docs copied: an empty section
    html = render_html(report)
    assert "aif-fi" in html and "No documents yet" in html


def test_missing_inputs_give_empty_sections(tmp_path: Path) -> None:
    config = write_testweb_campaign(TestSite(port=free_port()), tmp_path, name="empty")
    json_path, html_path = write_report(load_campaign(config))
    report = json.loads(json_path.read_text())
    assert report["headline"]["pages_total"] == 0 and report["crawl"]["by_site"] == {}
    assert report["documents"]["total"] == 0 and report["pools"]["documents"] == {}
    assert report["headline"]["tdm_reservation_rate"] == 0.0
    page = html_path.read_text()
    assert "No crawl output yet" in page and "No documents yet" in page and "No run state" in page


def test_html_escapes_names_from_the_web(tmp_path: Path) -> None:
    report = build_report(load_campaign(write_testweb_campaign(TestSite(port=1), tmp_path, name="esc")))
    report["crawl"]["errors"] = {"<script>alert(1)</script>": 3}
    page = render_html(report)
    assert "<script>" not in page and "&lt;script&gt;" in page


# --------------------------------------------------------------------------- browser


def _parse_shown(text: str, fmt: str) -> tuple[float | None, float]:
    """(value, tolerance) of a number as the page shows it."""
    text = text.strip()
    if text == "–":
        return None, 0.0
    number = float(text.removesuffix(" %").removesuffix(" MB").replace(",", ""))
    return {"int": (number, 0.0), "pct": (number / 100, 0.00005), "mb": (number * 1e6, 5000.0),
            "float": (number, 0.005)}[fmt]


def _png_is_not_blank(png: bytes) -> bool:
    """Decode just enough PNG to see that the pixels are not one flat colour."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width = struct.unpack(">I", chunk[:4])[0]
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    return width >= 800 and len(set(raw)) > 32  # text and charts give many distinct byte values


def _mismatches(report: dict[str, Any], shown: list[tuple[str, str, str, bool]]) -> list[str]:
    """The data-kpi paths whose shown number is not the JSON's (or that are hidden)."""
    bad = []
    for kpi, fmt, text, visible in shown:
        value: Any = report
        for key in json.loads(kpi):
            value = value[key]
        got, tolerance = _parse_shown(text, fmt)
        same = got is None if value is None else got is not None and abs(got - value) <= tolerance
        if not (same and visible):
            bad.append(kpi)
    return bad


def _shown(page: Any, url: str) -> list[tuple[str, str, str, bool]]:
    page.goto(url)
    return [(el.get_attribute("data-kpi") or "null", el.get_attribute("data-fmt") or "", el.text_content() or "",
             el.is_visible()) for el in page.query_selector_all("[data-kpi]")]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install chromium)")
def test_html_renders_in_chromium_and_its_numbers_equal_the_json(
        cli_run: tuple[str, dict[str, Any], Path], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    _, report, html = cli_run
    # A page rendered from a report with one number changed: the check must catch it.
    tampered = json.loads(json.dumps(report))
    tampered["headline"]["pages_total"] += 1
    tampered_html = tmp_path / "tampered.html"
    tampered_html.write_text(render_html(tampered))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900}, java_script_enabled=False)
            requested: list[str] = []
            page.on("request", lambda req: requested.append(req.url))
            shown = _shown(page, html.as_uri())
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            assert requested == [html.as_uri()]  # nothing fetched besides the page itself
            shown_tampered = _shown(page, tampered_html.as_uri())
        finally:
            browser.close()
    assert _png_is_not_blank(shot.read_bytes())
    assert _mismatches(report, shown) == []
    assert _mismatches(report, shown_tampered) == ['["headline", "pages_total"]']

    paths = {tuple(json.loads(kpi)) for kpi, *_ in shown}
    # The KPIs a coordinator asks for are all on the page.
    for key in report["headline"]:
        assert ("headline", key) in paths
    for code in report["crawl"]["status"]:
        assert ("crawl", "status", code) in paths
    for lang in report["documents"]["languages"]:
        assert ("documents", "languages", lang) in paths
    for site in report["crawl"]["by_site"]:
        assert ("crawl", "by_site", site, "pages") in paths and ("crawl", "by_site", site, "bytes") in paths
    for day in report["crawl"]["by_day"]:
        assert ("crawl", "by_day", day, "pages") in paths
    assert ("crawl", "robots_refusals", "total") in paths and ("crawl", "tdm", "reservation_rate") in paths
    assert len(paths) > 100
