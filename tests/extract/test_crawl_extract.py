"""End to end: crawl the local test web with `owd crawl`, then extract its WARC."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from owd.extract.html import ExtractLimits
from owd.extract.shard import extract_warc
from owd.core.schema import to_table, validate_table
from owd.testweb import TestSite, free_port
from tests.conftest import crawl_testweb


@pytest.mark.slow
def test_extracting_a_real_crawl(tmp_path: Path) -> None:
    site = TestSite(port=free_port(), pages_per_host=3, real_pages=6)
    crawl_testweb(site, tmp_path, politeness={
        "delay": 0.02, "concurrency_per_host": 2, "concurrency": 64, "autothrottle": False})
    warcs = sorted((tmp_path / "data" / "tw" / "warc" / "w0").glob("*.warc.gz"))
    assert warcs
    stats: Counter[str] = Counter()
    docs = [d for w in warcs for d in extract_warc(w, campaign="tw", worker="w0", stats=stats,
                                                    limits=ExtractLimits(timeout_s=10))]
    validate_table(to_table(docs))
    by_url = {d.url: d for d in docs}
    assert len(docs) >= 50 and stats["extract/rights/from_crawl"] == len(docs)
    # every document is an HTML page the crawl stored with status 200
    assert all(d.http_status == 200 and d.text and d.domain for d in docs)
    # the gallery's images are in the WARC, with sizes read from their headers
    gallery = next(d for u, d in by_url.items() if u.endswith("/gallery.html"))
    fetched = [m for m in gallery.media if m.in_warc and m.kind == "image"]
    assert fetched and all(m.mime and m.mime.startswith("image/") and m.size is not None for m in fetched)
    assert any(m.width and m.height for m in fetched)
    assert stats["extract/media/from_crawl_refs"] >= 1
    # TDMRep: every reserving mechanism of the test web shows up on its documents
    reserved = {d.tdm_source for d in docs if d.tdm_reservation}
    assert {"header", "meta"} <= reserved
    # declared languages of the per-language hosts
    assert sum(1 for d in docs if d.declared_lang) >= len(docs) // 2
    # the crawler stores the gzip bomb as it came off the wire; the reader refuses to inflate it
    assert stats["warc/bad/decompression_bomb"] == 1
    assert not any(d.url.endswith("/bomb.html") for d in docs)
