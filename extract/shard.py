"""One WARC file -> the documents of its HTML pages (the unit of parallelism).

Two passes over the file. The first (:func:`warc_media`) remembers every media
response (``image/*``, ``audio/*``, ``video/*``) by URL (a redirected media fetch
under every URL of its redirect chain). The second looks at every record in file
order: HTML responses with status 200 become documents
(:func:`owd.extract.html.extract_document`), each handed on as soon as it is made
(memory does not grow with the file), its media items joined with the file's media
records by URL: such items get MIME, size, digest, ``in_warc=True`` and, for images,
width and height. Media a page references but this WARC does not hold stay
``in_warc=False``. Everything else is counted by reason under ``extract/skipped/``.

Each document depends only on its own record and on the media records of the
file, and a URL fetched twice picks its media record by content (see
:meth:`owd.extract.media.MediaInfo.rank`), so the order of records in the file does
not change any document (only its provenance: offset, length, id, and the order of
the documents, which is the file's).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

from owd.core.tdm import looks_like_html
from owd.extract.html import ExtractLimits, extract_document
from owd.extract.media import MediaInfo, apply_media_info, media_info, media_key, media_kind_of_mime
from owd.extract.warc_reader import FetchRecord, read_warc
from owd.core.schema import Document, MediaItem

__all__ = ["HTML_MIMES", "extract_warc", "is_html", "is_fetched_content", "iter_documents", "media_keys", "warc_media"]

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


def is_fetched_content(rec: FetchRecord) -> bool:
    """A response with status 200 or a resource record: content, not a redirect or an error."""
    return rec.record_type == "resource" or (rec.record_type == "response" and rec.http_status == 200)


def media_keys(rec: FetchRecord) -> list[str]:
    """The join keys of every URL a media record answers (a redirected fetch: its whole chain)."""
    redirects = rec.crawl_meta.get("redirect_urls")
    urls = [rec.url] + [u for u in redirects if isinstance(u, str)] if isinstance(redirects, list) else [rec.url]
    return [media_key(u) for u in urls]


def warc_media(path: Path, stats: Counter[str]) -> dict[str, MediaInfo]:
    """The media records of one WARC by every URL they answer (a redirected fetch under
    each URL of its chain), the best-ranked record where a URL was fetched twice; media
    counts go into ``stats`` (the file's record counts do not: the second pass makes
    them). A first pass over the file: pages may come before or after their media, and
    the documents are streamed, so their media must be known before the first page."""
    media: dict[str, MediaInfo] = {}
    for rec in read_warc(Path(path), Counter()):
        if not is_fetched_content(rec):
            continue
        info = media_info(rec, stats)
        if info is None:
            continue
        stats["extract/media/records"] += 1
        for key in media_keys(rec):
            known = media.get(key)
            if known is None or info.rank() > known.rank():
                media[key] = info
    return media


def iter_documents(path: Path, *, campaign: str, worker: str | None, stats: Counter[str],
                   limits: ExtractLimits) -> Iterator[Document]:
    """Documents of every HTML page in one WARC, in file order, each as soon as it is
    extracted, media items joined with the file's media records (:func:`warc_media`).
    Memory: one page at a time plus the file's media table. Never raises for bad input:
    every skip and drop is counted."""
    media = warc_media(path, stats)
    for rec in read_warc(Path(path), stats):
        if rec.record_type in _NOT_CONTENT:
            continue
        if rec.record_type not in ("response", "resource"):
            stats[f"extract/skipped/record_type/{rec.record_type}"] += 1
            continue
        if rec.record_type == "response" and rec.http_status != 200:
            stats[f"extract/skipped/status/{rec.http_status}"] += 1
            continue
        if media_kind_of_mime(rec.mime) is not None:  # read and counted by the first pass
            continue
        if rec.record_type == "resource":
            stats["extract/skipped/resource"] += 1
            continue
        if not is_html(rec, stats):
            stats[f"extract/skipped/mime/{rec.mime or 'none'}"] += 1
            continue
        doc = extract_document(rec, campaign=campaign, worker=worker, stats=stats, limits=limits)
        if doc is not None:
            doc.media = [_joined(item, media, stats) for item in doc.media]
            yield doc


def _joined(item: MediaItem, media: dict[str, MediaInfo], stats: Counter[str]) -> MediaItem:
    info = media.get(media_key(item.url))
    if info is None:
        stats["extract/media/not_in_warc"] += 1
        return item
    stats["extract/media/in_warc"] += 1
    return apply_media_info(item, info)


def extract_warc(path: Path, *, campaign: str, worker: str | None, stats: Counter[str],
                 limits: ExtractLimits) -> list[Document]:
    """:func:`iter_documents` as a list (tests and tools that want them all at once)."""
    return list(iter_documents(path, campaign=campaign, worker=worker, stats=stats, limits=limits))
