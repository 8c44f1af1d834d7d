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


def uncompressed_copy(warc: Path, name: str | None = None) -> Path:
    """The same records as an uncompressed ``.warc`` file beside ``warc`` (default: its name without ``.gz``)."""
    plain = warc.with_name(name or warc.name.removesuffix(".gz"))
    plain.write_bytes(gzip.decompress(warc.read_bytes()))  # every gzip member, one after the other
    return plain
