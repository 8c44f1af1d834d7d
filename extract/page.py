"""Facts read from a parsed page (an lxml tree) besides its main text: declared
language, licence, canonical URL, outlinks and media references.

All functions take the tree the extractor parsed once; none of them modifies it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import urldefrag, urljoin

from owd.core.links import MediaRef, caption_and_context, media_kind_of_url
from owd.core.schema import MEDIA_KINDS, MediaItem

__all__ = [
    "base_url",
    "canonical_url",
    "declared_language",
    "license_url",
    "media_items",
    "normalise_lang",
    "outlinks",
    "page_media_refs",
]

# ISO 639 primary subtag, then an optional script (4 letters) or region (2 letters, 3 digits).
_LANG = re.compile(r"^([a-z]{2,3})(?:[-_]([a-z]{4}|[a-z]{2}|\d{3}))?(?=$|[-_])", re.I)
_NOT_A_LANGUAGE = {"und", "mul", "zxx", "mis"}
_CC_LICENSE = re.compile(r"^https?://(?:www\.)?creativecommons\.org/(?:licenses|publicdomain)/", re.I)
_LICENSE_METAS = ("dcterms.license", "dc.rights", "dc.license", "license", "copyright")
_FOOTERISH = re.compile(r"foot|copyright|license|licence", re.I)


def normalise_lang(value: str | None) -> str | None:
    """A language tag as BCP 47 with the usual casing (``de``, ``pt-BR``, ``sr-Latn``):
    first tag of a list, extensions dropped; None for non-tags (``english``, ``und``)."""
    if not value:
        return None
    first = value.split(",")[0].split(";")[0].strip()
    m = _LANG.match(first)
    if not m or m.group(1).lower() in _NOT_A_LANGUAGE:
        return None
    lang, sub = m.group(1).lower(), m.group(2)
    if not sub:
        return lang
    sub = sub.title() if len(sub) == 4 else sub.upper()
    return f"{lang}-{sub}"


def declared_language(tree: Any, http_headers: Iterable[tuple[str, str]], stats: Counter[str]) -> str | None:
    """The page's own language declaration, most specific first: ``<html lang>``
    (or ``xml:lang``), ``<meta http-equiv="Content-Language">``, then the HTTP
    ``Content-Language`` header. Counted by source under ``extract/declared_lang/``."""
    candidates: list[tuple[str, str | None]] = [
        ("html_lang", tree.get("lang")),
        ("html_xml_lang", tree.get("{http://www.w3.org/XML/1998/namespace}lang") or tree.get("xml:lang")),
    ]
    for meta in tree.iter("meta"):
        if (meta.get("http-equiv") or "").strip().lower() == "content-language":
            candidates.append(("meta_http_equiv", meta.get("content")))
            break
    candidates += [("http_header", v) for n, v in http_headers if n.lower() == "content-language"]
    for source, raw in candidates:
        if raw is None or not raw.strip():
            continue
        lang = normalise_lang(raw)
        if lang is None:
            stats[f"extract/declared_lang/invalid/{source}"] += 1
            continue
        stats[f"extract/declared_lang/{source}"] += 1
        return lang
    return None


def base_url(tree: Any, url: str) -> str:
    """The URL relative links resolve against (``<base href>`` if any)."""
    for el in tree.iter("base"):
        href = (el.get("href") or "").strip()
        if href:
            return urljoin(url, href)
    return url


# An absolute http(s) URL that urljoin() returns unchanged whatever the base: lowercase
# scheme, a host, none of the characters urlsplit drops or treats apart (tab, CR, LF,
# ';' params, '#', '[' of an IPv6 literal it may refuse) and no empty query. Most links
# of a page are such URLs; they skip urljoin's parse + unparse (about a third of the
# outlinks time on pages-A).
_PLAIN_ABSOLUTE = re.compile(r"https?://[^/\s;#\[?][^\s;#\[]*")


def _plain_absolute(href: str) -> bool:
    return _PLAIN_ABSOLUTE.fullmatch(href) is not None and not href.endswith("?")


def _absolute_http(base: str, href: str | None, stats: Counter[str] | None = None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if not href:
        return None
    if _plain_absolute(href):
        return href
    try:
        absolute = urljoin(base, href)
    except ValueError:  # e.g. "http://[ccpa-preferences]": not an IPv6 literal
        if stats is not None:
            stats["extract/links/unresolvable"] += 1
        return None
    return absolute if absolute.lower().startswith(("http://", "https://")) else None


def _rel_tokens(el: Any) -> list[str]:
    return (el.get("rel") or "").lower().split()


def canonical_url(tree: Any, base: str) -> str | None:
    """``<link rel="canonical">``, absolute; None when absent or not http(s)."""
    for el in tree.iter("link"):
        if "canonical" in _rel_tokens(el):
            return _absolute_http(base, el.get("href"))
    return None


def _in_footer(el: Any) -> bool:
    node = el.getparent()
    while node is not None:
        if node.tag == "footer" or _FOOTERISH.search(f"{node.get('class') or ''} {node.get('id') or ''}"):
            return True
        node = node.getparent()
    return False


def license_url(tree: Any, base: str, stats: Counter[str]) -> str | None:
    """The page's licence, as a URL. Evidence, strongest first: a ``rel="license"``
    link (``<link>``, ``<a>``, ``<area>``); a licence meta with a URL value; a
    Creative Commons licence link in the footer (a CC link in the body text is
    more often a page *about* licences than the page's own licence)."""
    for el in tree.iter("link", "a", "area"):
        if "license" in _rel_tokens(el):
            url = _absolute_http(base, el.get("href"))
            if url:
                stats["extract/license/rel"] += 1
                return url
    for el in tree.iter("meta"):
        if (el.get("name") or el.get("property") or "").strip().lower() in _LICENSE_METAS:
            content = (el.get("content") or "").strip()
            if content.lower().startswith(("http://", "https://")):
                stats["extract/license/meta"] += 1
                return content
    for el in tree.iter("a"):
        href = (el.get("href") or "").strip()
        if _CC_LICENSE.match(href) and _in_footer(el):
            stats["extract/license/cc_footer_link"] += 1
            return href
    return None


def outlinks(tree: Any, url: str, limit: int, stats: Counter[str]) -> list[str]:
    """Absolute http(s) link targets of ``<a>``/``<area>``, fragment removed, first
    occurrence order, at most ``limit`` (the rest counted). An href that does not
    resolve (``http://[bad]/``) is counted and skipped."""
    base = base_url(tree, url)
    seen: dict[str, None] = {}
    for el in tree.iter("a", "area"):
        href = el.get("href")
        if not href or not href.strip() or href.lstrip().startswith("#"):
            continue
        target = _absolute_http(base, href, stats)
        if target is None:
            continue
        target = urldefrag(target)[0]
        if target in seen:
            continue
        if len(seen) >= limit:
            stats["extract/outlinks/over_limit"] += 1
            break
        seen[target] = None
    return list(seen)


def media_items(refs: Iterable[MediaRef], limit: int, stats: Counter[str]) -> list[MediaItem]:
    """Media references as schema media items: http(s) only, one per URL (first
    wins; a later reference fills a missing alt or caption), at most ``limit``.
    A caption track (``track``) is no media item: its URL goes into ``tracks`` of the
    player's sources, which come right before it in page order (``<video>``, its
    ``<source>`` elements, then its ``<track>`` elements); a track without one is counted."""
    items: dict[str, MediaItem] = {}
    player: list[MediaItem] = []  # the sources of the last <video>/<audio>, while its refs continue
    for ref in refs:
        if ref.kind == "track" and player and ref.url.lower().startswith(("http://", "https://")):
            for source in player:
                source.tracks = [*(source.tracks or []), urldefrag(ref.url)[0]]
            stats["extract/media/tracks"] += 1
            continue
        if ref.kind not in ("audio", "video", "track"):
            player = []
        if ref.kind not in MEDIA_KINDS:
            stats[f"extract/media/skipped_kind/{ref.kind}"] += 1
            continue
        if not ref.url.lower().startswith(("http://", "https://")):
            stats["extract/media/skipped_scheme"] += 1
            continue
        url = urldefrag(ref.url)[0]
        item = items.get(url)
        if item is None:
            if len(items) >= limit:
                stats["extract/media/over_limit"] += 1
                break
            items[url] = MediaItem(url=url, kind=ref.kind, alt=ref.alt or None, caption=ref.caption or None,
                                   context=ref.context or None)
            if ref.kind in ("audio", "video"):
                player.append(items[url])
        else:
            item.alt = item.alt or ref.alt or None
            item.caption = item.caption or ref.caption or None
            item.context = item.context or ref.context or None
    return list(items.values())


def _text(el: Any) -> str | None:
    try:
        return " ".join(el.text_content().split())[:200] or None
    except ValueError:  # lxml refuses some broken text nodes
        return None


def _srcset_urls(el: Any) -> list[str]:
    urls = [el.get("src") or ""] + [c.strip().split(" ")[0] for c in (el.get("srcset") or "").split(",")]
    return [u.strip() for u in dict.fromkeys(urls) if u.strip() and not u.strip().lower().startswith("data:")]


def page_media_refs(tree: Any, url: str, stats: Counter[str]) -> list[MediaRef]:
    """What the page references, by the rules the crawler applies when it records
    ``media-refs`` (:func:`owd.core.links.media_refs`: img/srcset, picture sources,
    audio/video/source/track, poster, links to media files, og:image/og:video),
    each reference resolved on its own so one broken URL costs only itself."""
    base = base_url(tree, url)
    refs: list[MediaRef] = []
    seen: dict[Any, str] = {}  # block texts read so far (images share their block)

    def add(raw: str | None, kind: str, alt: str | None = None, el: Any = None) -> None:
        target = _absolute_http(base, raw, stats)
        if target is not None:
            caption, context = caption_and_context(el, seen) if el is not None else (None, None)
            refs.append(MediaRef(target, kind, alt, caption, context))

    for el in tree.iter("img", "source", "audio", "video", "track", "meta", "a"):
        tag, parent = el.tag, el.getparent()
        if tag == "meta":
            prop = (el.get("property") or el.get("name") or "").lower()
            if prop in ("og:image", "og:image:url", "twitter:image"):
                add(el.get("content"), "image")
            elif prop in ("og:video", "og:video:url"):
                add(el.get("content"), "video")
        elif tag == "a":
            href = (el.get("href") or "").strip()
            kind = media_kind_of_url(href) if href else None
            if kind:
                add(href, kind, _text(el), el)
        elif tag == "img" or (tag == "source" and parent is not None and parent.tag == "picture"):
            for src in _srcset_urls(el):
                add(src, "image", el.get("alt") if tag == "img" else None, el)
        elif tag in ("audio", "video"):
            add(el.get("src"), tag, None, el)
            if tag == "video":
                add(el.get("poster"), "image", None, el)
        elif tag == "source" and parent is not None and parent.tag in ("audio", "video"):
            add(el.get("src"), parent.tag, None, el)
        elif tag == "track":
            add(el.get("src"), "track", None, el)
    return refs
