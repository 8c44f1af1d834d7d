"""Every WARC/ARC file of shared/data/warc goes through the reader (and the shard
extractor) without an exception, with stable per-file record and bad-record counts.

Compared with warcio 1.8.1 (the manifest's ``warcio_1_8_1`` counts), the reader
(FastWARC for WARC, warcio for ARC) differs on these files, all on purpose:

* whole-file gzip (``example-bad-non-chunked``, ``example-bad.warc.gz.bad``,
  ``unparsable-date``): warcio refuses after the first record ("non-chunked gzip");
  FastWARC reads the stream to its end (counted ``warc/quirk/not_per_record_gzip``;
  offsets in such files cannot address single records);
* ``warcfile.warc.lz4``: FastWARC reads LZ4; warcio does not know the format;
* ``example-wrong-chunks`` and ``link-extraction-test``: a record's Content-Length
  is wrong; warcio stops there, FastWARC's quirks mode finds the next record;
* ``bad.arc``: warcio yields three ARC "responses" with invalid lengths and empty or
  one-byte blocks; they hold no HTTP message, so they are counted as
  ``warc/bad/http_headers`` and dropped (4 = 1 yielded + 3 bad);
* ``example-space-in-url.arc`` and ``clipped.warc.gz``: warcio yields the last record
  silently short; we yield it flagged ``truncated="cut_short"`` and count
  ``warc/bad/cut_short_record``;
* ``blackbook-truncated.arc`` and ``double-single-inflate-error.gz``: the same stop
  as warcio, counted (``invalid_record_header``, ``compression_error``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from owd.extract.html import ExtractLimits
from owd.extract.shard import extract_warc
from owd.extract.warc_reader import read_warc
from owd.core.schema import to_table, validate_table

# file -> (records yielded, {bad reason: count}); measured, see the module docstring.
EXPECTED: dict[str, tuple[int, dict[str, int]]] = {
    "warcio__example.warc.gz": (6, {}),
    "warcio__example.warc": (6, {}),
    "warcio__example-iana.org-chunked.warc": (3, {}),
    "warcio__example-digest.warc": (4, {}),
    "warcio__example-resource.warc.gz": (3, {}),
    "warcio__post-test.warc.gz": (6, {}),
    "warcio__example-space-in-target-uri.warc.gz": (2, {}),
    "warcio__example-wget-bad-target-uri.warc.gz": (6, {}),
    "warcio__example-trunc.warc": (4, {}),
    "warcio__example-wrong-chunks.warc.gz": (2, {}),
    "warcio__example-bad-non-chunked.warc.gz": (6, {}),
    "warcio__example-bad.warc.gz.bad": (6, {}),
    "warcio__example.arc.gz": (2, {}),
    "warcio__example.arc": (2, {}),
    "warcio__example-space-in-url.arc": (2, {"cut_short_record": 1}),
    "warcio__bad.arc": (1, {"http_headers": 3}),
    "chatnoir-resiliparse__warcfile.warc.gz": (50, {}),
    "chatnoir-resiliparse__warcfile.warc.lz4": (50, {}),
    "chatnoir-resiliparse__clipped.warc.gz": (1, {"cut_short_record": 1}),
    "chatnoir-resiliparse__clueweb-quirk.warc.gz": (30, {}),
    "chatnoir-resiliparse__block-sized-records.warc.gz": (3, {}),
    "chatnoir-resiliparse__block-sized-records.warc": (3, {}),
    "jwarc__cc.warc.gz": (1, {}),
    "jwarc__gzip_extra_sl.warc.gz": (1, {}),
    "webarchive-commons__IAH-urls-wget.warc.gz": (36, {}),
    "webarchive-commons__mutliple-headers.warc": (1, {}),
    "webarchive-commons__link-extraction-test.warc": (8, {}),
    "webarchive-commons__IAH-20080430204825-00000-blackbook-truncated.arc": (1, {"invalid_record_header": 1}),
    "webarchive-commons__double-single-inflate-error.gz": (0, {"compression_error": 1}),
    "dolma__sample-0000.warc.gz": (48, {}),
    "dolma__sample-0001.warc.gz": (34, {}),
    "incubator-stormcrawler__test.warc.gz": (42, {}),
    "incubator-stormcrawler__unparsable-date.warc.gz": (3, {}),
}
# Files where we read more or fewer records than warcio, with the reason (docstring).
DIFFERS_FROM_WARCIO = {
    "warcio__example-bad-non-chunked.warc.gz", "warcio__example-bad.warc.gz.bad",
    "incubator-stormcrawler__unparsable-date.warc.gz", "chatnoir-resiliparse__warcfile.warc.lz4",
    "warcio__example-wrong-chunks.warc.gz", "webarchive-commons__link-extraction-test.warc", "warcio__bad.arc",
}


def manifest(shared_data: Path) -> list[dict]:
    lines = (shared_data / "warc" / "manifest.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.shared_data
def test_every_file_reads_with_stable_counts(shared_data: Path) -> None:
    entries = manifest(shared_data)
    assert {e["file"] for e in entries} == set(EXPECTED), "manifest changed: re-measure EXPECTED"
    for entry in entries:
        stats: Counter[str] = Counter()
        records = list(read_warc(shared_data / "warc" / entry["file"], stats))
        bad = {k.removeprefix("warc/bad/"): v for k, v in stats.items() if k.startswith("warc/bad/")}
        assert (len(records), bad) == EXPECTED[entry["file"]], entry["file"]
        assert stats["warc/records"] == len(records)
        warcio = entry.get("warcio_1_8_1") or {}
        if entry["file"] not in DIFFERS_FROM_WARCIO and "records" in warcio:
            assert len(records) == warcio["records"], entry["file"]
        for rec in records:
            assert rec.fetch_time is None or rec.fetch_time.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
            assert rec.crawl_meta == {}  # foreign WARCs carry none of our metadata


@pytest.mark.shared_data
def test_warcio_engine_agrees_with_the_manifest(shared_data: Path) -> None:
    """The warcio engine yields + drops what warcio itself reads, file by file."""
    for entry in manifest(shared_data):
        stats: Counter[str] = Counter()
        records = list(read_warc(shared_data / "warc" / entry["file"], stats, engine="warcio"))
        dropped = stats["warc/bad/http_headers"]
        assert len(records) + dropped == entry["warcio_1_8_1"]["records"], entry["file"]


@pytest.mark.shared_data
@pytest.mark.slow
def test_every_file_goes_through_the_shard_extractor(shared_data: Path) -> None:
    total = 0
    for name in EXPECTED:
        stats: Counter[str] = Counter()
        docs = extract_warc(shared_data / "warc" / name, campaign="foreign", worker=None, stats=stats,
                            limits=ExtractLimits(timeout_s=10))
        validate_table(to_table(docs))
        for doc in docs:
            assert doc.text and doc.host and doc.warc_file == name
            assert doc.tdm_reservation is None or doc.tdm_source in ("header", "meta")
        total += len(docs)
    assert total >= 100  # dolma, stormcrawler, chatnoir, clueweb: real pages
