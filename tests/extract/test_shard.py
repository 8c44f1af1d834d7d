"""extract_warc: one WARC -> documents, media records joined into media items."""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from owd.extract.html import ExtractLimits, extract_document
from owd.extract.shard import extract_warc
from owd.extract.warc_reader import read_warc
from owd.core.schema import read_parquet, to_table, validate_table, write_parquet
from tests.extract.helpers import Fetch, jpeg, page_meta, png, write_warc

BASE = "http://media.owdtest.eu"
TEXT = " ".join(["Ein ausführlicher Absatz über die Galerie der Stadt und ihre Sammlung alter Karten."] * 5)


def gallery_html(extra: str = "") -> bytes:
    return (f"<html lang='de'><head><title>Galerie</title></head><body><article><h1>Galerie</h1><p>{TEXT}</p>"
            f"<figure><img src='/m/a.png' alt='Bild A'><figcaption>Karte von 1850</figcaption></figure>"
            f"<img src='/m/b.jpg' alt='Bild B'><img src='/m/missing.png' alt='fehlt'>"
            f"<video src='/m/film.mp4'></video>{extra}<p>{TEXT}</p></article></body></html>").encode()


def fetches(slow_page: bool = False) -> list[Fetch]:
    html = [("Content-Type", "text/html; charset=utf-8")]
    out = [
        Fetch(f"{BASE}/gallery.html", gzip.compress(gallery_html(), mtime=0),
              headers=html + [("Content-Encoding", "gzip")],
              media_refs=[{"url": f"{BASE}/m/a.png", "kind": "image", "alt": "Bild A", "caption": "Karte von 1850",
                           "context": "c"},
                          {"url": f"{BASE}/m/b.jpg", "kind": "image", "alt": "Bild B", "caption": None,
                           "context": None},
                          {"url": f"{BASE}/m/missing.png", "kind": "image", "alt": "fehlt", "caption": None,
                           "context": None},
                          {"url": f"{BASE}/m/film.mp4", "kind": "video", "alt": None, "caption": None,
                           "context": None}]),
        Fetch(f"{BASE}/plain.html", gallery_html()),  # no media-refs record: the page itself is parsed
        Fetch(f"{BASE}/m/a.png", png(120, 80), headers=[("Content-Type", "image/png")], meta=page_meta("image")),
        # b.jpg was redirected: the WARC holds the 301 and the final response under the new URL
        Fetch(f"{BASE}/m/b.jpg", b"", status=301, headers=[("Location", f"{BASE}/store/b-final.jpg")],
              meta=page_meta("image")),
        Fetch(f"{BASE}/store/b-final.jpg", jpeg(640, 427), headers=[("Content-Type", "image/jpeg")],
              meta=page_meta("image", redirect_urls=[f"{BASE}/m/b.jpg"])),
        Fetch(f"{BASE}/m/film.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\0" * 500, headers=[("Content-Type", "video/mp4")],
              meta=page_meta("video")),
        Fetch(f"{BASE}/missing.html", b"<html><body>not found</body></html>", status=404),
        Fetch(f"{BASE}/robots.txt", b"User-agent: *\nAllow: /\n", headers=[("Content-Type", "text/plain")],
              meta=page_meta("robots")),
        Fetch(f"{BASE}/feed.xml", b"<rss></rss>", headers=[("Content-Type", "application/rss+xml")]),
    ]
    if slow_page:
        slow = "<html><body>" + "<p>Wort Wort Wort Wort</p>" * 120_000 + "</body></html>"
        out.insert(1, Fetch(f"{BASE}/slow.html", slow.encode()))
    return out


LIMITS = ExtractLimits(timeout_s=10)
LOCATIONS: dict[Path, dict] = {}  # response locations of the files written by the fixture


@pytest.fixture(scope="module")
def shard(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, Counter[str]]:
    path, LOCATIONS[path] = write_warc(tmp_path_factory.mktemp("shard"), fetches(), refs_delay=4)
    stats: Counter[str] = Counter()
    return path, extract_warc(path, campaign="t", worker="w0", stats=stats, limits=LIMITS), stats


def test_html_pages_become_documents_and_the_rest_is_counted(shard: tuple[Path, list, Counter[str]]) -> None:
    path, docs, stats = shard
    assert [d.url for d in docs] == [f"{BASE}/gallery.html", f"{BASE}/plain.html"]
    assert all(d.warc_file == path.name and d.campaign == "t" and d.worker == "w0" for d in docs)
    assert stats["extract/skipped/status/404"] == 1 and stats["extract/skipped/status/301"] == 1
    assert stats["extract/skipped/mime/text/plain"] == 1
    assert stats["extract/skipped/mime/application/rss+xml"] == 1
    assert stats["extract/media/records"] == 3 and stats["extract/documents"] == 2
    validate_table(to_table(docs))


def test_media_items_joined_with_the_records_of_the_file(shard: tuple[Path, list, Counter[str]]) -> None:
    _, docs, _ = shard
    for doc in docs:  # the same whether the crawl's media-refs record or the page itself was read
        media = {m.url.rsplit("/", 1)[1]: m for m in doc.media}
        a, b, missing, film = media["a.png"], media["b.jpg"], media["missing.png"], media["film.mp4"]
        assert (a.kind, a.mime, a.size, a.width, a.height, a.in_warc) == ("image", "image/png", len(png(120, 80)),
                                                                           120, 80, True)
        assert (a.alt, a.caption) == ("Bild A", "Karte von 1850") and a.digest and a.digest.startswith("sha1:")
        assert (b.mime, b.width, b.height, b.in_warc) == ("image/jpeg", 640, 427, True)  # through the redirect
        assert (missing.in_warc, missing.mime, missing.size, missing.width) == (False, None, None, None)
        assert (film.kind, film.mime, film.in_warc, film.width) == ("video", "video/mp4", True, None)


def test_documents_are_those_of_extract_document(shard: tuple[Path, list, Counter[str]]) -> None:
    """The shard adds only the media join: each document is its record's own."""
    path, docs, _ = shard
    html_recs = [r for r in read_warc(path, Counter()) if r.url.endswith(".html") and r.http_status == 200]
    alone = [extract_document(r, campaign="t", worker="w0", stats=Counter(), limits=LIMITS) for r in html_recs]
    for doc, single in zip(docs, alone):
        assert single is not None
        assert dataclasses.replace(doc, media=[]) == dataclasses.replace(single, media=[])
        assert [m.url for m in doc.media] == [m.url for m in single.media]


def test_record_order_changes_no_document(tmp_path: Path, shard: tuple[Path, list, Counter[str]]) -> None:
    _, docs, _ = shard
    reversed_path, _ = write_warc(tmp_path / "rev", list(reversed(fetches())), refs_delay=0)
    again = extract_warc(reversed_path, campaign="t", worker="w0", stats=Counter(), limits=LIMITS)

    def content(d):  # type: ignore[no-untyped-def]
        # provenance differs by construction: another file, other offsets, so other ids
        return dataclasses.replace(d, id="", warc_file=None, warc_offset=None, warc_length=None, fetch_time=None)

    assert sorted(map(repr, map(content, again))) == sorted(map(repr, map(content, docs)))


def test_a_pathological_page_is_counted_and_the_shard_continues(tmp_path: Path) -> None:
    path, _ = write_warc(tmp_path, fetches(slow_page=True))
    stats: Counter[str] = Counter()
    docs = extract_warc(path, campaign="t", worker="w0", stats=stats,
                        limits=ExtractLimits(timeout_s=0.5, max_elements=10**6))
    assert stats["extract/dropped/timeout"] == 1
    assert [d.url for d in docs] == [f"{BASE}/gallery.html", f"{BASE}/plain.html"]


def test_documents_round_trip_through_parquet(tmp_path: Path, shard: tuple[Path, list, Counter[str]]) -> None:
    _, docs, _ = shard
    out = write_parquet(docs, tmp_path / "docs.parquet")
    assert read_parquet(out) == docs


def test_a_damaged_shard_gives_what_is_readable(tmp_path: Path, shard: tuple[Path, list, Counter[str]]) -> None:
    path, docs, _ = shard
    data = path.read_bytes()
    middle = LOCATIONS[path][f"{BASE}/m/film.mp4"]  # cut the file inside this record
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: middle.offset + middle.length // 2])
    stats: Counter[str] = Counter()
    partial = extract_warc(cut, campaign="t", worker="w0", stats=stats, limits=LIMITS)
    assert [d.url for d in partial] == [d.url for d in docs][: len(partial)] and partial
    assert sum(v for k, v in stats.items() if k.startswith("warc/bad/")) == 1
    assert json.dumps(dict(stats))  # stats stay plain counts
