"""One WARC file -> the documents of its HTML pages (the unit of parallelism).

Every record is looked at once, in file order: HTML responses with status 200
become documents (:func:`owd.extract.html.extract_document`); media responses
(``image/*``, ``audio/*``, ``video/*``) are remembered by URL; everything else is
counted by reason under ``extract/skipped/``. At the end each document's media
items are joined with the media records of the same file by URL (a redirected
media fetch is found under every URL of its redirect chain): such items get
MIME, size, digest, ``in_warc=True`` and, for images, width and height. Media a
page references but this WARC does not hold stay ``in_warc=False``.

Each document depends only on its own record and on the media records of the
file, and a URL fetched twice picks its media record by content (see
:meth:`owd.extract.media.MediaInfo.rank`), so the order of records in the file does
not change any document (only its provenance: offset, length, id).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from owd.core.tdm import looks_like_html
from owd.extract.html import ExtractLimits, extract_document
from owd.extract.media import MediaInfo, apply_media_info, media_info, media_key
from owd.extract.warc_reader import FetchRecord, read_warc
from owd.core.schema import Document

__all__ = ["HTML_MIMES", "extract_warc", "is_html"]

HTML_MIMES = frozenset({"text/html", "application/xhtml+xml"})
_NOT_CONTENT = frozenset({"request", "metadata", "warcinfo"})


def is_html(rec: FetchRecord, stats: Counter[str]) -> bool:
    """HTML by MIME type; a response without Content-Type is sniffed (counted)."""
    if rec.mime is not None:
        return rec.mime in HTML_MIMES
    if looks_like_html(None, rec.body[:512]):
        stats["extract/html_sniffed"] += 1
        return True
    return False


def _media_keys(rec: FetchRecord) -> list[str]:
    redirects = rec.crawl_meta.get("redirect_urls")
    urls = [rec.url] + [u for u in redirects if isinstance(u, str)] if isinstance(redirects, list) else [rec.url]
    return [media_key(u) for u in urls]


def extract_warc(path: Path, *, campaign: str, worker: str | None, stats: Counter[str],
                 limits: ExtractLimits) -> list[Document]:
    """Documents of every HTML page in one WARC, media items joined with the file's
    media records. Never raises for bad input: every skip and drop is counted."""
    docs: list[Document] = []
    media: dict[str, MediaInfo] = {}
    for rec in read_warc(Path(path), stats):
        if rec.record_type in _NOT_CONTENT:
            continue
        if rec.record_type not in ("response", "resource"):
            stats[f"extract/skipped/record_type/{rec.record_type}"] += 1
            continue
        if rec.record_type == "response" and rec.http_status != 200:
            stats[f"extract/skipped/status/{rec.http_status}"] += 1
            continue
        info = media_info(rec, stats)
        if info is not None:
            stats["extract/media/records"] += 1
            for key in _media_keys(rec):
                known = media.get(key)
                if known is None or info.rank() > known.rank():
                    media[key] = info
            continue
        if rec.record_type == "resource":
            stats["extract/skipped/resource"] += 1
            continue
        if not is_html(rec, stats):
            stats[f"extract/skipped/mime/{rec.mime or 'none'}"] += 1
            continue
        doc = extract_document(rec, campaign=campaign, worker=worker, stats=stats, limits=limits)
        if doc is not None:
            docs.append(doc)
    for doc in docs:
        joined = []
        for item in doc.media:
            info = media.get(media_key(item.url))
            if info is None:
                stats["extract/media/not_in_warc"] += 1
                joined.append(item)
            else:
                stats["extract/media/in_warc"] += 1
                joined.append(apply_media_info(item, info))
        doc.media = joined
    return docs
