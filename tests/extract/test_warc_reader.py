"""owd.extract.read_warc on our crawler's WARC format: fields, joins, decoding, damage."""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter
from pathlib import Path

import pytest

from owd.extract.warc_reader import FetchRecord, read_warc
from tests.extract.helpers import T0, Fetch, page_meta, png, write_warc

PAGE = ("<!doctype html><html lang=de><head><title>Grüße</title></head><body>" + "<p>Hallo Welt</p>" * 50
        + "</body></html>")


def responses(path: Path, stats: Counter[str] | None = None, **kw: object) -> list[FetchRecord]:
    return [r for r in read_warc(path, stats if stats is not None else Counter(), **kw)  # type: ignore[arg-type]
            if r.record_type == "response"]


@pytest.fixture(scope="module")
def crawl_warc(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    fetches = [
        Fetch("http://a.owdtest.eu/plain.html", PAGE.encode()),
        Fetch("http://a.owdtest.eu/gz.html", gzip.compress(PAGE.encode(), mtime=0),
              headers=[("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")],
              media_refs=[{"url": "http://a.owdtest.eu/i.png", "kind": "image", "alt": "Bild", "caption": None,
                           "context": "x"}, {"bad": "ref"}]),
        Fetch("http://a.owdtest.eu/missing.html", b"not found", status=404,
              headers=[("Content-Type", "text/plain")]),
        Fetch("http://a.owdtest.eu/i.png", png(3, 2), headers=[("Content-Type", "image/png")],
              meta=page_meta("image")),
    ] + [Fetch(f"http://b.owdtest.eu/{i}.html", PAGE.encode()) for i in range(20)]
    # the media-refs record lands 15 fetches (45 records) after its page, as in a busy crawl
    return write_warc(tmp_path_factory.mktemp("warc"), fetches, refs_delay=15)


def test_every_record_in_file_order_with_its_fields(crawl_warc: tuple[Path, dict]) -> None:
    path, locs = crawl_warc
    stats: Counter[str] = Counter()
    recs = list(read_warc(path, stats))
    assert [r.record_type for r in recs[:4]] == ["warcinfo", "request", "response", "metadata"]
    assert stats["warc/records"] == len(recs)
    assert [k for k in stats if k.startswith("warc/bad")] == ["warc/bad/media_ref"]  # the one planted below
    plain = next(r for r in recs if r.record_type == "response")
    assert plain.url == "http://a.owdtest.eu/plain.html"
    assert plain.fetch_time == T0 and plain.fetch_time.tzinfo is not None
    assert plain.http_status == 200 and plain.content_type == "text/html; charset=utf-8"
    assert ("Content-Type", "text/html; charset=utf-8") in plain.http_headers
    assert plain.body == PAGE.encode() and plain.mime == "text/html"
    assert plain.warc_file == path.name and plain.ip == "127.0.0.9"
    assert plain.payload_digest and plain.payload_digest.startswith("sha1:")
    assert plain.record_id == locs[plain.url].record_id
    assert plain.crawl_meta["kind"] == "page" and plain.crawl_meta["tdm"]["reservation"] is None


def test_offset_and_length_address_the_gzip_member(crawl_warc: tuple[Path, dict]) -> None:
    path, locs = crawl_warc
    data = path.read_bytes()
    for rec in responses(path):
        assert (rec.warc_offset, rec.warc_length) == (locs[rec.url].offset, locs[rec.url].length)
        member = zlib.decompressobj(zlib.MAX_WBITS | 16)
        block = member.decompress(data[rec.warc_offset: rec.warc_offset + rec.warc_length])
        assert member.eof and not member.unused_data
        assert b"WARC-Type: response" in block and rec.record_id.encode() in block  # type: ignore[union-attr]


def test_body_is_content_decoded_and_metadata_joined_however_far(crawl_warc: tuple[Path, dict]) -> None:
    path, _ = crawl_warc
    stats: Counter[str] = Counter()
    by_url = {r.url: r for r in responses(path, stats)}
    gz = by_url["http://a.owdtest.eu/gz.html"]
    assert gz.body == PAGE.encode()
    assert [(m.url, m.kind, m.alt) for m in gz.media_refs] == [("http://a.owdtest.eu/i.png", "image", "Bild")]
    assert stats["warc/bad/media_ref"] == 1  # the malformed entry, counted
    assert by_url["http://a.owdtest.eu/missing.html"].http_status == 404
    assert by_url["http://a.owdtest.eu/i.png"].crawl_meta["kind"] == "image"
    assert all(not r.media_refs for u, r in by_url.items() if u != gz.url)


def test_both_engines_read_the_same_records(crawl_warc: tuple[Path, dict]) -> None:
    path, _ = crawl_warc
    fast = list(read_warc(path, Counter(), engine="fastwarc"))
    slow = list(read_warc(path, Counter(), engine="warcio"))
    assert fast == slow


def test_bomb_is_counted_and_dropped_and_reading_goes_on(tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * 3_000_000)
    path, _ = write_warc(tmp_path, [
        Fetch("http://a.owdtest.eu/bomb.html", bomb,
              headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")]),
        Fetch("http://a.owdtest.eu/after.html", PAGE.encode()),
    ])
    stats: Counter[str] = Counter()
    recs = responses(path, stats, max_decoded_bytes=1_000_000)
    assert [r.url for r in recs] == ["http://a.owdtest.eu/after.html"]
    assert stats["warc/bad/decompression_bomb"] == 1


def test_reader_cap_cuts_big_blocks_and_flags_them(tmp_path: Path) -> None:
    big = png(400, 300) + b"\0" * 200_000
    path, _ = write_warc(tmp_path, [Fetch("http://a.owdtest.eu/big.png", big, headers=[("Content-Type", "image/png")]),
                                    Fetch("http://a.owdtest.eu/after.html", PAGE.encode())])
    stats: Counter[str] = Counter()
    recs = responses(path, stats, max_record_bytes=50_000)
    assert recs[0].truncated == "reader_cap" and recs[0].body.startswith(png(400, 300)[:100])
    assert recs[1].truncated is None and recs[1].body == PAGE.encode()
    assert stats["warc/capped/record_bytes"] == 1


@pytest.mark.parametrize("which,where", [(1, 0.1), (8, 0.5), (23, 0.9), (23, 0.999)])
def test_cut_off_file_stops_at_the_damage_without_raising(crawl_warc: tuple[Path, dict], tmp_path: Path,
                                                          which: int, where: float) -> None:
    path, locs = crawl_warc
    data = path.read_bytes()
    record = list(locs.values())[which]  # cut inside this response record's gzip member
    damaged = tmp_path / "cut.warc.gz"
    damaged.write_bytes(data[: record.offset + max(1, int(record.length * where))])
    stats: Counter[str] = Counter()
    recs = list(read_warc(damaged, stats))
    full = list(read_warc(path, Counter()))
    assert 0 < len(recs) < len(full)
    def key(r: FetchRecord) -> tuple:
        return r.record_type, r.url, r.http_status, r.body, r.warc_offset

    intact = [key(r) for r in recs if r.truncated is None]
    assert intact == [key(r) for r in full[: len(intact)]]  # everything before the damage, unchanged
    damage = {k: v for k, v in stats.items() if k.startswith("warc/bad/") and k != "warc/bad/media_ref"}
    assert sum(damage.values()) == 1, damage  # counted once


def test_corrupt_bytes_in_the_middle(crawl_warc: tuple[Path, dict], tmp_path: Path) -> None:
    path, _ = crawl_warc
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid: mid + 64] = b"\xff" * 64
    damaged = tmp_path / "corrupt.warc.gz"
    damaged.write_bytes(bytes(data))
    stats: Counter[str] = Counter()
    recs = list(read_warc(damaged, stats))
    assert recs and sum(v for k, v in stats.items() if k.startswith("warc/bad/")) >= 1


@pytest.mark.parametrize("content,reason", [
    (b"", "empty_file"),
    (b"this is not a WARC file at all\n" * 10, "no_records"),
    (gzip.compress(b"neither is this\n" * 100), "no_records"),
    (b"\x1f\x8b\x08\x00" + b"\x00" * 40, "compression_error"),
])
def test_not_a_warc(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "x.warc.gz"
    path.write_bytes(content)
    stats: Counter[str] = Counter()
    assert list(read_warc(path, stats)) == []
    assert stats[f"warc/bad/{reason}"] == 1


def test_missing_file_is_counted_not_raised(tmp_path: Path) -> None:
    stats: Counter[str] = Counter()
    assert list(read_warc(tmp_path / "nope.warc.gz", stats)) == []
    assert stats["warc/bad/unreadable_file"] == 1


def test_foreign_metadata_is_not_taken_for_ours(tmp_path: Path) -> None:
    """A metadata record that is not JSON (Common Crawl writes warc-fields) joins nothing."""
    from owd.crawler.warc import WarcWriter

    with WarcWriter(tmp_path, "f", fsync=False) as w:
        loc = w.write_fetch("http://a.owdtest.eu/", status=200, body=PAGE.encode(),
                            response_headers=[("Content-Type", "text/html")], metadata=None)
        w.write_metadata("http://a.owdtest.eu/", {"kind": "other", "x": 1}, refers_to=loc.record_id)
    recs = responses(w.finished[0])
    assert recs[0].crawl_meta == {} and recs[0].media_refs == ()
    assert json.dumps(recs[0].crawl_meta) == "{}"
