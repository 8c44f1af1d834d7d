"""Link and media discovery on an HTML page (what the crawler follows or fetches).

Works on the lxml tree Scrapy already parsed, so a page is parsed once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import urljoin

__all__ = ["Link", "MediaRef", "page_links", "media_refs", "media_kind_of_url", "caption_and_context"]

_MEDIA_EXT = {
    "image": (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg", ".bmp", ".tif", ".tiff"),
    "audio": (".mp3", ".ogg", ".oga", ".opus", ".wav", ".flac", ".m4a", ".aac", ".weba"),
    "video": (".mp4", ".webm", ".ogv", ".mov", ".m4v", ".mkv", ".avi"),
}
_SKIP_SCHEMES = ("mailto:", "javascript:", "tel:", "data:", "ftp:", "#")
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Link:
    url: str
    anchor: str


@dataclass(frozen=True)
class MediaRef:
    url: str
    kind: str  # image | audio | video | track
    alt: str | None = None
    caption: str | None = None  # the enclosing <figure>'s <figcaption>
    context: str | None = None  # text of the nearest enclosing block, for later alignment

    def to_dict(self) -> dict[str, str | None]:
        return {"url": self.url, "kind": self.kind, "alt": self.alt, "caption": self.caption, "context": self.context}


def _join_or_empty(base: str, href: str) -> str:
    return _join(base, href) or ""


def _join(base: str, href: str) -> str | None:
    """Absolute URL, or None for one urljoin refuses (e.g. ``http://[not-an-ip]/``):
    one bad link must not cost the page all its others."""
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def media_kind_of_url(url: str) -> str | None:
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    for kind, exts in _MEDIA_EXT.items():
        if path.endswith(exts):
            return kind
    return None


def _text(el: Any, limit: int = 200) -> str:
    """The element's text, whitespace collapsed, at most ``limit`` characters. Reads only as
    much of the subtree as it needs: the block around an image is often the whole page
    (measured: text_content() of it made the media references 6x slower on pages-A)."""
    parts: list[str] = []
    size, check_at = 0, 2 * limit
    try:
        for chunk in el.itertext():
            parts.append(chunk)
            size += len(chunk)
            if size > check_at:  # enough text once collapsed? (checks at doubling sizes: linear)
                if len(_WS.sub(" ", "".join(parts)).lstrip()) > limit:
                    break
                check_at = 2 * size
    except ValueError:  # lxml refuses some broken text nodes
        return ""
    return _WS.sub(" ", "".join(parts)).strip()[:limit]


def page_links(root: Any, base_url: str) -> Iterator[Link]:
    """``<a href>`` and ``<area href>`` links, absolute, with their anchor text."""
    base = _base_href(root, base_url)
    for el in root.iter("a", "area"):
        href = (el.get("href") or "").strip()
        if not href or href.lower().startswith(_SKIP_SCHEMES):
            continue
        url = _join(base, href)
        if url is not None:
            yield Link(url, _text(el) if el.tag == "a" else (el.get("alt") or ""))


_BLOCKS = {"p", "figure", "li", "td", "div", "section", "article", "main", "body"}


def caption_and_context(el: Any, seen: dict[Any, str] | None = None) -> tuple[str | None, str | None]:
    """The enclosing figure's caption and the text of the nearest enclosing block (200
    characters). ``seen``: block texts already read on this page (many images of a page
    share their block), filled as it goes."""
    caption = context = None
    node = el.getparent()
    while node is not None and (caption is None or context is None):
        if node.tag == "figure" and caption is None:
            cap = next(node.iter("figcaption"), None)
            caption = _text(cap) or None if cap is not None else None
        if node.tag in _BLOCKS and context is None:
            if seen is None:
                context = _text(node) or None
            else:
                if node not in seen:  # (the dict keeps the element's proxy alive, so it stays the key)
                    seen[node] = _text(node)
                context = seen[node] or None
        node = node.getparent()
    return caption, context


def media_refs(root: Any, base_url: str) -> Iterator[MediaRef]:
    """Images, audio, video and caption tracks referenced by the page, with their
    alt text, figure caption and surrounding text."""
    seen: dict[Any, str] = {}
    for ref, el in _media_elements(root, base_url):
        if not ref.url:
            continue
        if el is None:
            yield ref
        else:
            caption, context = caption_and_context(el, seen)
            yield MediaRef(ref.url, ref.kind, ref.alt, caption, context)


def _media_elements(root: Any, base_url: str) -> Iterator[tuple[MediaRef, Any]]:
    base = _base_href(root, base_url)
    for el in root.iter("img", "source", "audio", "video", "track", "meta", "a"):
        tag = el.tag
        if tag == "meta":
            prop = (el.get("property") or el.get("name") or "").lower()
            if prop in ("og:image", "og:image:url", "twitter:image"):
                yield MediaRef(_join_or_empty(base, el.get("content") or ""), "image"), None
            elif prop in ("og:video", "og:video:url"):
                yield MediaRef(_join_or_empty(base, el.get("content") or ""), "video"), None
            continue
        if tag == "a":
            href = (el.get("href") or "").strip()
            kind = media_kind_of_url(href) if href else None
            if kind:
                yield MediaRef(_join_or_empty(base, href), kind, _text(el) or None), el
            continue
        parent = el.getparent()
        if tag == "img" or (tag == "source" and parent is not None and parent.tag == "picture"):
            alt = el.get("alt") if tag == "img" else None
            for url in _srcset_and_src(el):
                yield MediaRef(_join_or_empty(base, url), "image", alt), el
        elif tag in ("audio", "video"):
            if el.get("src"):
                yield MediaRef(_join_or_empty(base, el.get("src")), tag), el
            if tag == "video" and el.get("poster"):
                yield MediaRef(_join_or_empty(base, el.get("poster")), "image"), el
        elif tag == "source" and parent is not None and parent.tag in ("audio", "video") and el.get("src"):
            yield MediaRef(_join_or_empty(base, el.get("src")), parent.tag), el
        elif tag == "track" and el.get("src"):
            yield MediaRef(_join_or_empty(base, el.get("src")), "track"), el


def _srcset_and_src(el: Any) -> list[str]:
    urls = []
    if el.get("src"):
        urls.append(el.get("src").strip())
    for candidate in (el.get("srcset") or "").split(","):
        url = candidate.strip().split(" ")[0]
        if url:
            urls.append(url)
    return [u for u in dict.fromkeys(urls) if not u.lower().startswith("data:")]


def _base_href(root: Any, base_url: str) -> str:
    for el in root.iter("base"):
        if el.get("href"):
            return _join(base_url, el.get("href").strip()) or base_url
    return base_url
