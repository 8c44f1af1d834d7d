"""One HTML fetch -> one :class:`owd.core.schema.Document`.

The page is decoded (:mod:`owd.extract.encoding`) and parsed **once** with
trafilatura's own loader and parser settings; the same lxml tree feeds the main
text (:mod:`owd.extract.extractors`, the campaign's ``process.extractor``; trafilatura
copies a tree before it prunes it), the metadata (:mod:`owd.extract.metadata`: the
head, OpenGraph, JSON-LD and the URL first, the searches of the body only for what is
missing) and our own facts (language, licence, canonical URL, outlinks, media:
:mod:`owd.extract.page`). Extraction is per-document deterministic: trafilatura's
``deduplicate`` (a process-wide LRU of seen paragraphs) is off, and the date's upper
bound is the fetch date instead of "today". The caches left in
trafilatura/htmldate/courlan/dateparser are caches of pure functions, which do not
change results.

Guards (:class:`ExtractLimits`): bytes over ``max_bytes`` are cut or the page is
dropped; a tree with more than ``max_elements`` elements is dropped before the
expensive steps; everything after decoding runs under a wall-clock limit
(:mod:`owd.extract.guard`). Each drop is counted as ``extract/dropped/<reason>``.

Document id: ``sha1(url + "\\n" + warc_file + "\\n" + warc_offset)`` in hex: the
same fetch always gets the same id, two fetches of one URL get two ids, and the
id says nothing about the content (dedup works on text, not ids).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from lxml import etree
from trafilatura.utils import load_html

from owd.core.urls import registered_domain
from owd.extract.encoding import decode_html
from owd.extract.extractors import EXTRACTORS, TextOptions, main_text
from owd.extract.metadata import page_metadata
from owd.extract.guard import ExtractionTimeout, time_limit, timer_available
from owd.extract.page import (base_url, canonical_url, declared_language, license_url, media_items, outlinks,
                          page_media_refs)
from owd.extract.rights import rights_signals
from owd.extract.warc_reader import FetchRecord
from owd.core.schema import Document, MediaItem, document_id

__all__ = ["ExtractLimits", "PageExtraction", "document_id", "extract_document", "extract_page"]

log = logging.getLogger(__name__)
_WARNED: set[str] = set()  # exception types already logged once (logging only, no effect on results)


@dataclass(frozen=True)
class ExtractLimits:
    """Per-document guards.

    ``max_bytes``: decoded-body bytes kept; above it the body is cut there
    (``oversize="truncate"``, counted ``extract/truncated/oversize``) or the page is
    dropped (``"drop"``). ``timeout_s``: wall-clock limit for parse + extraction
    (0 disables it). ``max_elements``: a bigger tree is dropped before extraction
    (the timer cannot interrupt one long lxml call; this bounds them).
    ``max_outlinks`` / ``max_media``: list caps (the rest counted).
    """

    max_bytes: int = 5 * 2**20
    timeout_s: float = 20.0
    oversize: Literal["truncate", "drop"] = "truncate"
    max_elements: int = 200_000
    max_outlinks: int = 2000
    max_media: int = 500
    include_comments: bool = False
    include_tables: bool = True
    extractor: str = "trafilatura"  # the main-text extractor (owd.extract.extractors)

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_elements <= 0 or self.max_outlinks < 0 or self.max_media < 0:
            raise ValueError(f"ExtractLimits: sizes must be positive: {self}")
        if self.timeout_s < 0:
            raise ValueError(f"ExtractLimits: timeout_s must be >= 0, got {self.timeout_s}")
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"ExtractLimits: extractor must be one of {', '.join(EXTRACTORS)}, got {self.extractor!r}")
        if self.oversize not in ("truncate", "drop"):
            raise ValueError(f"ExtractLimits: oversize must be 'truncate' or 'drop', got {self.oversize!r}")


@dataclass(frozen=True)
class PageExtraction:
    """What :func:`extract_page` read from one page (before it becomes a Document).

    """

    text: str
    title: str | None
    description: str | None
    author: str | None
    published: dt.date | None
    declared_lang: str | None
    license_url: str | None
    canonical_url: str | None
    outlinks: list[str]
    media: list[MediaItem]


def extract_page(html: str, url: str, *, fetch_time: dt.datetime | None, http_headers: list[tuple[str, str]],
                 media_refs: tuple[Any, ...], limits: ExtractLimits, stats: Counter[str]) -> PageExtraction | None:
    """Parse decoded HTML once and read text, metadata, links and media from it.
    None (counted) when the page has no usable tree or no main text. Not guarded:
    :func:`extract_document` runs it under the time limit."""
    try:
        tree = load_html(html)
    except (ValueError, TypeError, etree.LxmlError) as exc:
        log.debug("unparsable page %s: %s", url, exc)
        tree = None
    if tree is None:
        stats["extract/dropped/unparsable"] += 1
        return None
    # Each element, comment or PI of the tree starts at a '<' of the source, except the
    # few libxml2 implies (html, head, body, a p around a bare text run): at most two per
    # '<' plus four. Below that bound the walk over the tree (~1.5 ms a page) is not needed.
    if 2 * html.count("<") + 4 > limits.max_elements and sum(1 for _ in tree.iter()) > limits.max_elements:
        stats["extract/dropped/too_many_elements"] += 1
        return None
    base = base_url(tree, url)
    lang = declared_language(tree, http_headers, stats)
    licence = license_url(tree, base, stats)
    canonical = canonical_url(tree, base)
    links = outlinks(tree, url, limits.max_outlinks, stats)
    if media_refs:
        stats["extract/media/from_crawl_refs"] += 1
    refs = media_refs or tuple(page_media_refs(tree, url, stats))
    media = media_items(refs, limits.max_media, stats)
    text = main_text(limits.extractor, tree, html, url,
                     TextOptions(include_comments=limits.include_comments, include_tables=limits.include_tables))
    if not text:
        stats["extract/dropped/no_main_text"] += 1
        return None
    meta = page_metadata(tree, url, fetch_time, stats=stats)  # (a dropped page skips it)
    return PageExtraction(
        text=text, title=meta.title, description=meta.description, author=meta.author, published=meta.published,
        declared_lang=lang, license_url=licence, canonical_url=canonical, outlinks=links, media=media,
    )


def extract_document(rec: FetchRecord, *, campaign: str, worker: str | None, stats: Counter[str],
                     limits: ExtractLimits) -> Document | None:
    """Extract the document of one HTML fetch; None when it is dropped (the reason is
    counted under ``extract/dropped/``). The caller decides which records are HTML."""
    try:
        host = (urlsplit(rec.url).hostname or "").lower()
    except ValueError:  # e.g. a broken IPv6 literal
        host = ""
    if not host:
        stats["extract/dropped/no_host"] += 1
        return None
    body = rec.body
    if not body.strip():
        stats["extract/dropped/empty_body"] += 1
        return None
    if len(body) > limits.max_bytes:
        if limits.oversize == "drop":
            stats["extract/dropped/oversize"] += 1
            return None
        stats["extract/truncated/oversize"] += 1
        body = body[: limits.max_bytes]
    if rec.truncated:
        stats[f"extract/input_truncated/{rec.truncated}"] += 1
    html = decode_html(body, rec.content_type, stats)
    if not timer_available():
        stats["extract/guard/no_timer"] += 1
    # counts of an interrupted page are not kept: only its drop reason is
    page_stats: Counter[str] = Counter()
    try:
        with time_limit(limits.timeout_s):
            page = extract_page(html, rec.url, fetch_time=rec.fetch_time, http_headers=rec.http_headers,
                                media_refs=rec.media_refs, limits=limits, stats=page_stats)
    except ExtractionTimeout:
        log.warning("extraction of %s (%s@%d) hit the %g s limit", rec.url, rec.warc_file, rec.warc_offset,
                    limits.timeout_s)
        stats["extract/dropped/timeout"] += 1
        return None
    except RecursionError:
        stats["extract/dropped/recursion"] += 1
        return None
    except Exception as exc:  # noqa: BLE001 -- a library bug on one page must not stop the shard
        name = type(exc).__name__
        if name not in _WARNED:
            _WARNED.add(name)
            log.warning("extraction of %s failed with %s: %s (further %s failures are only counted)",
                        rec.url, name, exc, name)
        stats[f"extract/dropped/error/{name}"] += 1
        return None
    stats.update(page_stats)
    if page is None:
        return None
    rights = rights_signals(rec.crawl_meta, rec.http_headers, body, stats)
    stats["extract/documents"] += 1
    return Document(
        id=document_id(rec.url, rec.warc_file, rec.warc_offset), url=rec.url, host=host,
        domain=registered_domain(host), campaign=campaign, worker=worker,
        fetch_time=rec.fetch_time, http_status=rec.http_status, content_type=rec.content_type,
        warc_file=rec.warc_file, warc_offset=rec.warc_offset, warc_length=rec.warc_length,
        payload_digest=rec.payload_digest, canonical_url=page.canonical_url, title=page.title, text=page.text, description=page.description,
        author=page.author, published=page.published, declared_lang=page.declared_lang,
        license_url=page.license_url, robots_noai=rights.robots_noai, robots_noimageai=rights.robots_noimageai,
        tdm_reservation=rights.tdm_reservation, tdm_policy=rights.tdm_policy, tdm_source=rights.tdm_source,
        outlinks=page.outlinks, media=page.media,
    )
