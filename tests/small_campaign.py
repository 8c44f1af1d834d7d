"""A campaign of a few pages in one real WARC file, without a crawl.

For the stages after the crawl (process, index, pools, report, status) where a test
needs seconds, not a served test web: the WARC is written by the crawler's own
writer (through tests.extract.helpers.write_warc), with the test web's sentences.
"""

from __future__ import annotations

import gzip
import html
from pathlib import Path
from typing import Any

import yaml

from owd.testweb import TestSite
from tests.extract.helpers import Fetch, write_warc

LANGS = ("de", "sl", "en")  # one page per language, in this order


def _page(site: TestSite, lang: str, i: int) -> bytes:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in site.paragraphs(lang, f"small-{i}", 8))
    return (f"<html lang='{lang}'><head><title>Page {i}</title></head><body><article><h1>Page {i}</h1>"
            f"{paragraphs}</article></body></html>").encode()


def write_small_campaign(folder: Path, worker: str = "w0", **sections: Any) -> tuple[Path, Path]:
    """(campaign file, WARC file): one page per language of :data:`LANGS` under
    ``<folder>/data/small/warc/<worker>/``; ``sections`` override parts of the campaign."""
    data = {"campaign": "small", "seeds": {"urls": ["https://news.example.eu/"]},
            "storage_root": str(folder / "data"), **sections}
    config = folder / "small.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    site = TestSite(port=1)
    fetches = [Fetch(f"https://news.example.eu/{lang}/{i}.html", _page(site, lang, i)) for i, lang in enumerate(LANGS)]
    warc, _ = write_warc(folder / "data" / "small" / "warc" / worker, fetches, prefix=worker)
    return config, warc


def write_sharded_campaign(folder: Path, shards: int = 5, pages: int = 5) -> Path:
    """A campaign of ``shards`` WARC files under ``<folder>/data/multi/warc/w0/``, without a
    crawl: ``pages`` pages per file in several languages, an exact duplicate of one page
    and a near duplicate (one paragraph changed) of another in later files, so the dedup
    steps find clusters across shards. Returns the campaign file."""
    data = {"campaign": "multi", "seeds": {"urls": ["https://news.example.eu/"]}, "storage_root": str(folder / "data")}
    config = folder / "multi.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    site = TestSite(port=1)
    langs = ("de", "sl", "en", "fr", "hr", "pl", "it")

    def body(paragraphs: list[str], i: int) -> bytes:
        return (f"<html><head><title>Page {i}</title></head><body><article><h1>Page {i}</h1>"
                + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs) + "</article></body></html>").encode()

    first = site.paragraphs("de", "multi-dup", 12)
    second = site.paragraphs("en", "multi-near", 12)
    for shard in range(shards):
        fetches = []
        for page in range(pages):
            lang = langs[(shard + page) % len(langs)]
            fetches.append(Fetch(f"https://news.example.eu/{shard}/{page}.html",
                                 body(site.paragraphs(lang, f"multi-{shard}-{page}", 8), page)))
        if shard % 2 == 0:  # the same page under another URL in every other file
            fetches.append(Fetch(f"https://mirror.example.eu/{shard}/dup.html", body(first, 100)))
        if shard >= 1:  # one paragraph of twelve changed per file
            fetches.append(Fetch(f"https://news.example.eu/{shard}/near.html",
                                 body(second[:-1] + site.paragraphs("en", f"multi-tail-{shard}", 1), 101)))
        write_warc(folder / "data" / "multi" / "warc" / "w0", fetches, prefix=f"w0-{shard}")
    return config


def uncompressed_copy(warc: Path, name: str | None = None) -> Path:
    """The same records as an uncompressed ``.warc`` file beside ``warc`` (default: its name without ``.gz``)."""
    plain = warc.with_name(name or warc.name.removesuffix(".gz"))
    plain.write_bytes(gzip.decompress(warc.read_bytes()))  # every gzip member, one after the other
    return plain
