"""Page metadata (title, description, author, publication date, site name), cheap
sources first.

What a page declares about itself is read first: ``<meta name/property/itemprop>``,
OpenGraph and JSON-LD in the head (trafilatura's :func:`examine_meta` and
:func:`extract_meta_json`), the canonical/``og:url`` URL, and for the date htmldate's
first stage (a date in the URL, date ``<meta>`` elements, JSON-LD date fields,
``<abbr>``). Only a field that is still missing goes to a fuller search of the body:

* **title**: trafilatura's :func:`extract_title` (one ``<h1>``, title XPaths, the
  ``<title>`` element). Cheap, always run when needed.
* **author**: ``author="markup"`` (the default) looks only at author markup whose
  meaning is defined by a standard: the HTML link type ``rel="author"``, schema.org
  microdata ``itemprop="author"`` (its ``itemprop="name"`` when it has one) and the
  hCard/hAtom class ``author``. ``"full"`` runs trafilatura's :func:`extract_author`
  instead (it deep-copies the tree and evaluates regex XPaths, which lxml runs in
  Python, over every element: ~10 ms on each page it runs on) and then equals
  today's author; ``"none"`` stops at the head.
* **date**: ``date="full"`` (the default) runs htmldate's :func:`find_date` with the
  parameters ``extract_page`` used, ``"fast"`` the same without its free-text search
  (no dateparser), ``"none"`` stops after the first stage.

Measured with ``bench/eval_metadata.py`` (990 pages of pages-A, 120 HTML pages of the
WARC samples; "today" = ``bare_extraction(with_metadata=True)``'s metadata, 15.9 and
16.4 ms/doc in that run): the default takes 6.6 / 10.0 ms/doc; title, description,
site name and date equal today's on every page, the author on 88 %. The generic
guesses of the full author search (``class="byline"``, ids, ...) are what the
default leaves out: half of them are names, the rest labels ("Posted", "Follow",
"Name") or sentences; ``author="full"`` gives today's author at 11.8 / 14.6 ms/doc.
``date="fast"`` would save another 2-5 ms but loses the date on 11 % of pages-A and
on 58 % of the WARC pages, whose dates are mostly in the body.

The rules are those trafilatura's ``extract_metadata`` applies to the same sources,
so a field found in the head equals what ``bare_extraction(with_metadata=True)``
returns. With ``date="full"`` the date always equals it: the first stage here is
htmldate's own first stage, run in the same order with the same options, and
:func:`find_date` repeats it (cheaply) before searching the body.

Dates: the upper bound is the fetch date (a page cannot have been published after it
was fetched; "today" would make the result depend on when extraction runs), every source is
checked against it, and no result is after it. Everything is a pure function of
(tree, url, fetch date): no process-wide state changes results. The tree is never
modified: the helpers used here only read it, and those that prune
(``extract_author``, ``find_date``) work on their own deep copies.

dateparser (htmldate's last resort for dates written in words) compiles its regular
expressions lazily, per locale, in ``dateparser.languages.dictionary.Dictionary``
and keeps them on the locale objects of its process-wide loader: the first string
that reaches it in a process makes it try every locale, ~2 s of ``regex.compile``
charged to that one document (and to its time limit). It is once per process, not
per document; :func:`warm_up` pays it up front, e.g. when a worker starts.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from htmldate import find_date
from htmldate.core import examine_abbr_elements, examine_header
from htmldate.extractors import extract_url_date, get_external_parser, json_search, month_words
from htmldate.utils import Extractor
from htmldate.validators import get_max_date, get_min_date
from trafilatura.json_metadata import normalize_authors
from trafilatura.metadata import (META_URL, examine_meta, extract_author, extract_meta_json, extract_sitename,
                                  extract_title, extract_url)
from trafilatura.settings import Document as TrafilaturaDocument

from owd.extract.extractors import clean_text

__all__ = ["AuthorSearch", "DateSearch", "PageMetadata", "date_params", "page_metadata", "warm_up"]

log = logging.getLogger(__name__)

AuthorSearch = Literal["none", "markup", "full"]
DateSearch = Literal["none", "fast", "full"]

# Author markup with a defined meaning: the HTML link type "author", schema.org
# microdata, and the hCard/hAtom class "author". Generic guesses (ids, "byline",
# "writer", ...) are what the expensive search is for.
_AUTHOR_MARKUP = (
    './/*[self::a or self::link or self::address or self::span or self::div or self::p][contains(concat(" ", '
    'normalize-space(@rel), " "), " author ")]'
    ' | .//*[contains(concat(" ", normalize-space(@itemprop), " "), " author ")]'
    ' | .//*[contains(concat(" ", normalize-space(@class), " "), " author ")]'
)
# An author text is a name or a short list of names, not a sentence or a bio.
_AUTHOR_MIN, _AUTHOR_MAX = 3, 120


@dataclass(frozen=True)
class PageMetadata:
    """Metadata of one page. Strings are NFC and stripped, None when absent.

    ``published`` is never after the fetch date. ``sources`` says where each found
    field came from (``head`` = meta/OpenGraph/JSON-LD/URL, ``body`` = the fuller
    search), for counting.
    """

    title: str | None
    description: str | None
    author: str | None
    published: dt.date | None
    site_name: str | None
    url: str | None
    sources: dict[str, str]


def date_params(fetch_time: dt.datetime | None) -> dict[str, Any]:
    """htmldate parameters: original (publication) date, extensive search, and the
    fetch date (UTC) as the latest acceptable date."""
    max_date = (fetch_time or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    return {"original_date": True, "extensive_search": True, "max_date": max_date.strftime("%Y-%m-%d")}


def warm_up() -> float:
    """Compile dateparser's per-locale regexes now (once per process, ~2 s) instead of
    inside the first document that needs them. Returns the seconds it took."""
    t0 = time.perf_counter()
    month_words()
    # A word no locale knows makes dateparser test (and so compile) every locale.
    get_external_parser().get_date_data("1 qxzvw 2000")
    return time.perf_counter() - t0


def _title_element(tree: Any) -> str | None:
    for el in tree.iter("title"):
        return clean_text(" ".join(el.text_content().split()))
    return None


def _markup_author(tree: Any) -> str | None:
    for el in tree.xpath(_AUTHOR_MARKUP):
        if el.tag == "link" or el.tag == "meta":  # no text; the head was read already
            continue
        # schema.org Person: the name property, not the whole card
        names = el.xpath('.//*[@itemprop="name"]')
        source = names[0] if names else el
        text = " ".join(" ".join(source.itertext()).split())
        if _AUTHOR_MIN <= len(text) <= _AUTHOR_MAX:
            author = normalize_authors(None, text)
            if author:
                return author
    return None


def _site_name(md: TrafilaturaDocument, tree: Any) -> str | None:
    # trafilatura's rules, so the value matches its sitename: the head's, else the
    # part of <title> that looks like a domain; "@handle" -> "handle", capitalised
    # when it is a bare word; else the host of the page's URL (its META_URL pattern).
    name = md.sitename or extract_sitename(tree)
    if name:
        name = name.lstrip("@")
        if name and "." not in name and not name[0].isupper():
            name = name.title()
        return name or None
    if md.url and (m := META_URL.match(md.url)):
        return m[1]
    return None


def _published(value: str | None, latest: dt.date) -> dt.date | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    # htmldate checks every candidate against max_date; this is the guarantee
    return day if day <= latest else None


def page_metadata(tree: Any, url: str, fetch_time: dt.datetime | None, *, author: AuthorSearch = "markup",
                  date: DateSearch = "full", stats: Counter[str] | None = None) -> PageMetadata:
    """Title, description, author, publication date and site name of a parsed page
    (an lxml tree from trafilatura's ``load_html``), head first, body only for what
    is missing (see the module docstring for ``author`` and ``date``). ``url`` is the
    fetched URL (the fallback for the canonical URL), ``fetch_time`` bounds the date
    (now when None). The tree is not modified. Sources are counted in ``stats``
    under ``extract/metadata/<field>/<source>``."""
    if author not in ("none", "markup", "full"):
        raise ValueError(f"page_metadata: author must be 'none', 'markup' or 'full', got {author!r}")
    if date not in ("none", "fast", "full"):
        raise ValueError(f"page_metadata: date must be 'none', 'fast' or 'full', got {date!r}")
    sources: dict[str, str] = {}
    md = examine_meta(tree)
    # trafilatura's rule: a one-word meta author is usually a site or a handle
    if md.author and " " not in md.author:
        md.author = None
    try:
        md = extract_meta_json(tree, md)
    except Exception as exc:  # noqa: BLE001 -- a bug in trafilatura's JSON-LD reader must not cost the page
        log.debug("JSON-LD metadata of %s failed: %s", url, exc)
        if stats is not None:
            stats["extract/metadata/json_ld_error"] += 1
    for name in ("title", "description", "author"):
        if getattr(md, name):
            sources[name] = "head"
    if not md.title:
        md.title = extract_title(tree)
        if md.title:
            sources["title"] = "body"
    if not md.author and author != "none":
        # "full" is trafilatura's search alone: markup first and then the full search
        # was measured slower than the full search alone (it still runs wherever a page
        # names no author) and further from today's results
        md.author = extract_author(tree) if author == "full" else _markup_author(tree)
        if md.author:
            sources["author"] = "body"
    if not md.url:
        md.url = extract_url(tree, url)
    md.sitename = _site_name(md, tree)
    # trafilatura's final pass (entities, control characters, length cap) before ours
    md.clean_and_trim()

    params = date_params(fetch_time)
    options = Extractor(params["extensive_search"], get_max_date(params["max_date"]), get_min_date(None),
                        params["original_date"], "%Y-%m-%d")
    # htmldate's first stage, in its order; each helper validates against options.max
    found = extract_url_date(md.url, options) or examine_header(tree, options) or json_search(tree, options) \
        or examine_abbr_elements(tree, options)
    if found:
        sources["date"] = "head"
    elif date != "none":
        found = find_date(tree, url=md.url, extensive_search=date == "full", original_date=params["original_date"],
                          max_date=params["max_date"])
        if found:
            sources["date"] = "body"
    published = _published(found, dt.date.fromisoformat(params["max_date"]))

    title = clean_text(md.title) or _title_element(tree)
    if title and "title" not in sources:
        sources["title"] = "title_element"
    result = PageMetadata(title=title, description=clean_text(md.description), author=clean_text(md.author),
                          published=published, site_name=clean_text(md.sitename), url=md.url, sources=sources)
    if stats is not None:
        for name, source in sources.items():
            stats[f"extract/metadata/{name}/{source}"] += 1
    return result
