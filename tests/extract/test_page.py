"""Facts read from the parsed page: declared language, licence, canonical URL,
outlinks and media references."""

from __future__ import annotations

from collections import Counter

import pytest
from trafilatura.utils import load_html

from owd.core.links import MediaRef, media_refs
from owd.extract.page import (canonical_url, declared_language, license_url, media_items, normalise_lang, outlinks,
                          page_media_refs)

URL = "https://www.example.eu/news/2026/article.html"


def tree(body: str, head: str = "", html_attrs: str = "") -> object:
    return load_html(f"<!doctype html><html {html_attrs}><head><title>t</title>{head}</head>"
                     f"<body>{body}<p>{'Text. ' * 30}</p></body></html>")


@pytest.mark.parametrize("raw,norm", [
    ("de", "de"), ("de-DE", "de-DE"), ("de_de", "de-DE"), ("EN-gb", "en-GB"), ("sr-latn-RS", "sr-Latn"),
    ("es-419", "es-419"), ("pt-BR, en", "pt-BR"), ("en;q=0.8", "en"), (" fr ", "fr"), ("gsw", "gsw"),
    ("english", None), ("und", None), ("x", None), ("{{lang}}", None), ("", None),
])
def test_language_tags_are_normalised(raw: str, norm: str | None) -> None:
    assert normalise_lang(raw) == norm


def test_declared_language_precedence() -> None:
    meta = '<meta http-equiv="Content-Language" content="fr-FR">'
    header = [("Content-Language", "it")]
    cases = [
        (tree("", meta, 'lang="sl-SI"'), header, "sl-SI", "html_lang"),
        (tree("", meta, 'xml:lang="hr"'), header, "hr", "html_xml_lang"),
        (tree("", meta), header, "fr-FR", "meta_http_equiv"),
        (tree(""), header, "it", "http_header"),
        (tree("", "", 'lang="english"'), header, "it", "http_header"),  # an invalid tag is skipped, counted
        (tree(""), [], None, None),
    ]
    for page, headers, lang, source in cases:
        stats: Counter[str] = Counter()
        assert declared_language(page, headers, stats) == lang
        if source:
            assert stats[f"extract/declared_lang/{source}"] == 1
    stats = Counter()
    declared_language(tree("", "", 'lang="english"'), header, stats)
    assert stats["extract/declared_lang/invalid/html_lang"] == 1


@pytest.mark.parametrize("head,body,expected,source", [
    ('<link rel="license" href="/licence.html">', "", "https://www.example.eu/licence.html", "rel"),
    ("", '<a rel="nofollow License" href="https://creativecommons.org/licenses/by-sa/4.0/">CC</a>',
     "https://creativecommons.org/licenses/by-sa/4.0/", "rel"),
    ('<meta name="dcterms.license" content="https://creativecommons.org/publicdomain/zero/1.0/">', "",
     "https://creativecommons.org/publicdomain/zero/1.0/", "meta"),
    ("", '<footer><a href="https://creativecommons.org/licenses/by/4.0/deed.de">CC BY</a></footer>',
     "https://creativecommons.org/licenses/by/4.0/deed.de", "cc_footer_link"),
    ("", '<div id="site-footer"><p><a href="http://creativecommons.org/licenses/by-nc/3.0/">x</a></p></div>',
     "http://creativecommons.org/licenses/by-nc/3.0/", "cc_footer_link"),
])
def test_license_url(head: str, body: str, expected: str, source: str) -> None:
    stats: Counter[str] = Counter()
    assert license_url(tree(body, head), URL, stats) == expected
    assert stats == {f"extract/license/{source}": 1}


def test_a_cc_link_in_the_article_is_not_the_page_licence() -> None:
    body = '<article><p>Read about <a href="https://creativecommons.org/licenses/by/4.0/">CC BY</a>.</p></article>'
    assert license_url(tree(body), URL, Counter()) is None
    assert license_url(tree('<a href="https://example.org/license">terms</a>'), URL, Counter()) is None


def test_canonical_url() -> None:
    assert canonical_url(tree("", '<link rel="canonical" href="/news/a">'), URL) == "https://www.example.eu/news/a"
    assert canonical_url(tree("", '<link rel="alternate canonical" href="https://m.example.eu/a">'), URL) \
        == "https://m.example.eu/a"
    assert canonical_url(tree("", '<link rel="canonical" href="javascript:void(0)">'), URL) is None
    assert canonical_url(tree(""), URL) is None


def test_outlinks_absolute_deduplicated_and_bounded() -> None:
    body = ('<a href="/a">a</a><a href="b.html#top">b</a><a href="b.html">b again</a>'
            '<a href="mailto:x@example.eu">m</a><a href="#frag">f</a><a href="javascript:go()">j</a>'
            '<a href="http://[ccpa-preferences]/x">broken</a><map><area href="https://other.eu/z" alt="z"></map>'
            '<a href="HTTPS://Other.eu/Q?x=1">q</a>')
    stats: Counter[str] = Counter()
    assert outlinks(tree(body), URL, 100, stats) == [
        "https://www.example.eu/a", "https://www.example.eu/news/2026/b.html", "https://other.eu/z",
        "https://Other.eu/Q?x=1"]
    assert stats["extract/links/unresolvable"] == 1
    limited = Counter()
    assert len(outlinks(tree(body), URL, 2, limited)) == 2 and limited["extract/outlinks/over_limit"] == 1


def test_outlinks_respect_base_href() -> None:
    page = tree('<a href="x.html">x</a>', '<base href="https://cdn.example.eu/mirror/">')
    assert outlinks(page, URL, 10, Counter()) == ["https://cdn.example.eu/mirror/x.html"]


GALLERY = """
<meta property="og:image" content="/social.jpg">
<figure><img src="/img/a.png" alt="Alt A" srcset="/img/a-2x.png 2x, data:image/png;base64,xx">
<figcaption>Caption A</figcaption></figure>
<picture><source srcset="/img/b.webp"><img src="/img/b.jpg" alt="B"></picture>
<video src="/v/film.mp4" poster="/v/poster.jpg"><track src="/v/subs.vtt"></video>
<audio><source src="/a/song.ogg"></audio>
<p><a href="/docs/scan.tiff">the scan</a> <img src="http://[bad-host]/x.png"></p>
"""


def test_page_media_refs_match_the_crawlers_rules() -> None:
    page = load_html(f"<html><head>{GALLERY.splitlines()[1]}</head><body>{GALLERY}</body></html>")
    stats: Counter[str] = Counter()
    ours = [(r.url, r.kind, r.alt, r.caption) for r in page_media_refs(page, URL, stats)]
    assert ("https://www.example.eu/img/a.png", "image", "Alt A", "Caption A") in ours
    assert ("https://www.example.eu/img/a-2x.png", "image", "Alt A", "Caption A") in ours
    assert ("https://www.example.eu/v/poster.jpg", "image", None, None) in ours
    assert ("https://www.example.eu/a/song.ogg", "audio", None, None) in ours
    assert ("https://www.example.eu/docs/scan.tiff", "image", "the scan", None) in ours
    assert stats["extract/links/unresolvable"] == 1  # the broken one costs only itself
    # the crawler's own function agrees on every reference it can resolve
    clean = load_html(f"<html><body>{GALLERY.replace('http://[bad-host]/x.png', '/ok.png')}</body></html>")
    crawler = {(r.url, r.kind, r.alt or None, r.caption, r.context) for r in media_refs(clean, URL)}
    assert {(r.url, r.kind, r.alt or None, r.caption, r.context)
            for r in page_media_refs(clean, URL, Counter())} == crawler
    assert any(r.context and "the scan" in r.context for r in page_media_refs(clean, URL, Counter()))


def test_media_items_dedupe_and_skip_tracks() -> None:
    refs = [MediaRef("https://e.eu/a.png", "image", None, None), MediaRef("https://e.eu/a.png#x", "image", "A", "C"),
            MediaRef("https://e.eu/s.vtt", "track"), MediaRef("data:image/png;base64,x", "image"),
            MediaRef("https://e.eu/f.mp4", "video", "", "")]
    stats: Counter[str] = Counter()
    items = media_items(refs, 10, stats)
    assert [(m.url, m.kind, m.alt, m.caption, m.in_warc) for m in items] == [
        ("https://e.eu/a.png", "image", "A", "C", False), ("https://e.eu/f.mp4", "video", None, None, False)]
    assert stats == {"extract/media/skipped_kind/track": 1, "extract/media/skipped_scheme": 1}
    assert len(media_items(refs, 1, Counter())) == 1


def test_a_track_goes_to_the_sources_of_the_player_before_it() -> None:
    refs = [MediaRef("https://e.eu/f.mp4", "video"), MediaRef("https://e.eu/f.webm", "video"),
            MediaRef("https://e.eu/de.vtt", "track"), MediaRef("https://e.eu/en.vtt#t", "track"),
            MediaRef("https://e.eu/p.png", "image"), MediaRef("https://e.eu/late.vtt", "track")]
    stats: Counter[str] = Counter()
    items = media_items(refs, 10, stats)
    assert [(m.url, m.tracks) for m in items] == [
        ("https://e.eu/f.mp4", ["https://e.eu/de.vtt", "https://e.eu/en.vtt"]),
        ("https://e.eu/f.webm", ["https://e.eu/de.vtt", "https://e.eu/en.vtt"]),
        ("https://e.eu/p.png", None)]
    assert stats == {"extract/media/tracks": 2, "extract/media/skipped_kind/track": 1}


@pytest.mark.parametrize("href", [
    "http://a.com", "https://a.com/x?y=1", "http://a.com?", "http://a.com/x;p", "http:///x", "http://[::1]/",
    "http://[bad]/", "HTTP://a.com", "https://a.com/a/../b", "https://a.com/x?#", "https://a.com/x#frag",
    "http://a.com:80/x", "https://a.com//x", " https://a.com/x ", "https://a.com/\tx", "relative/x", "/abs",
    "//proto.relative/x", "mailto:a@b.eu", "javascript:void(0)",
])
def test_the_absolute_url_fast_path_gives_what_urljoin_gives(href: str) -> None:
    from urllib.parse import urljoin

    from owd.extract.page import _absolute_http

    for base in (URL, "http://example.eu/", "https://a.com/p/q"):
        try:
            expected = urljoin(base, href.strip())
        except ValueError:
            expected = None
        if expected is not None and not expected.lower().startswith(("http://", "https://")):
            expected = None
        assert _absolute_http(base, href) == expected


@pytest.mark.shared_data
def test_the_fast_path_matches_urljoin_on_real_links(shared_data) -> None:  # type: ignore[no-untyped-def]
    """Every href of 200 real pages resolves as urljoin resolves it."""
    from urllib.parse import urljoin

    from owd.extract.page import _absolute_http
    from owd.extract.snippet_eval import load_pages

    checked = 0
    for page in load_pages(shared_data / "pages-A")[:200]:
        doc = load_html(page.html())
        if doc is None:
            continue
        for el in doc.iter("a", "link", "img"):
            href = el.get("href") or el.get("src")
            if not href or not href.strip():
                continue
            try:
                expected: str | None = urljoin(page.url, href.strip())
            except ValueError:
                expected = None
            if expected is not None and not expected.lower().startswith(("http://", "https://")):
                expected = None
            assert _absolute_http(page.url, href) == expected, href
            checked += 1
    assert checked > 10_000
