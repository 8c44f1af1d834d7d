"""Turn a request on the test web into a response, deterministically.

:func:`respond` is pure apart from ``state`` (per-path hit counters for the
"fails once, then works" paths), so the server stays a thin transport.
"""

from __future__ import annotations

import gzip
import html
import random
import zlib
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from urllib.parse import parse_qs

from owd.testweb.content import (HEALTH_WORD, REVISIT_PAGES, SLOW_REPLY_S, TDM_POLICY_URL, Host, TestSite,
                                 endless_host_name, endless_links, stable_int)

__all__ = ["Response", "respond", "conditional", "ERROR_PATHS"]

_NOT_FOUND = b"<html><body>not found</body></html>"

# Paths of errors.owdtest.eu, each a hostile case the crawler must survive and count.
ERROR_PATHS = [
    "/status/403.html", "/status/404.html", "/status/410.html", "/status/500.html",
    "/flaky/1.html", "/retry-after/1.html", "/slow/2.html", "/hang.html",
    "/big.html", "/bomb.html", "/redirect/3.html", "/loop/a.html", "/redirect-away.html",
    "/broken.html", "/latin1.html", "/mislabelled.html", "/bad-headers.html", "/truncated.html",
    "/empty.html", "/binary.html",
]
BIG_BYTES = 12 * 2**20  # just over the default 10 MiB response cap
BOMB_BYTES = 100 * 2**20  # decompressed size of the gzip bomb


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    delay: float = 0.0  # seconds to wait before sending anything
    raw_header_lines: list[bytes] = field(default_factory=list)  # malformed lines, sent verbatim
    truncate_to: int | None = None  # send only this many body bytes, then close (Content-Length lies)


def _html_page(
    site: TestSite,
    host: Host,
    lang: str | None,
    title: str,
    paragraphs: list[str],
    links: list[tuple[str, str]],
    head_extra: str = "",
    body_extra: str = "",
) -> bytes:
    lang_attr = f' lang="{lang}"' if lang else ""
    nav = "\n".join(f'<li><a href="{html.escape(u)}">{html.escape(t)}</a></li>' for u, t in links)
    paras = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    when = 1 + stable_int(site.seed, host.name, title) % 28
    return (
        f"<!DOCTYPE html>\n<html{lang_attr}>\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n"
        f"<meta name=\"description\" content=\"{html.escape(paragraphs[0][:150] if paragraphs else title)}\">\n"
        f"<meta name=\"author\" content=\"Redakcija {html.escape(host.name)}\">\n"
        f"<meta property=\"article:published_time\" content=\"2026-10-{when:02d}T08:00:00Z\">\n"
        f"{head_extra}</head>\n<body>\n<header><nav><ul>\n{nav}\n</ul></nav></header>\n"
        f"<main><article>\n<h1>{html.escape(title)}</h1>\n{paras}\n{body_extra}</article></main>\n"
        f"<footer><p>&copy; 2026 {html.escape(host.name)} &middot; owd test web</p></footer>\n</body>\n</html>\n"
    ).encode("utf-8")


def _title(site: TestSite, lang: str, key: str, topic: str | None) -> str:
    first = site.paragraphs(lang, key, 1)[0]
    words = first.split()[:7]
    title = " ".join(words).rstrip(".,;:")
    if topic == "health":
        title = f"{HEALTH_WORD[lang].capitalize()}: {title}"
    return title


def _link_text(site: TestSite, url: str) -> str:
    host_name, _, path = url.split("//", 1)[1].partition("/")
    host = site.by_name.get(host_name.split(":")[0])
    if host and host.lang and path.startswith("health/"):
        return HEALTH_WORD[host.lang]
    return "/" + path


def article(site: TestSite, host: Host, path: str, *, variant: str = "") -> Response:
    """An ordinary article page of a language host (or a bulk host)."""
    lang = host.lang or "en"
    topic = "health" if path.startswith("/health/") else None
    key = f"{host.name}{path}"
    paragraphs = site.paragraphs(lang, key)
    if topic:
        paragraphs[0] = f"{HEALTH_WORD[lang].capitalize()}. {paragraphs[0]}"
    links = [(u, _link_text(site, u)) for u in site.links_of(host, path)]
    head = ""
    if stable_int(site.seed, key, "license") % 3 == 0:
        head += '<link rel="license" href="https://creativecommons.org/licenses/by/4.0/">\n'
    return Response(200, [("Content-Type", "text/html; charset=utf-8")],
                    _html_page(site, host, lang, _title(site, lang, key, topic), paragraphs, links, head))


def _source_of_copy(site: TestSite, index: int) -> tuple[Host, str]:
    lang_hosts = [h for h in site.hosts if h.kind == "lang"]
    src = lang_hosts[index % len(lang_hosts)]
    return src, f"/news/{index % max(1, site.pages_per_host)}.html"


def mirror_page(site: TestSite, host: Host, path: str) -> Response:
    """Exact (same main text) or near (one paragraph changed) copies of language pages."""
    index = int(path.rsplit("/", 1)[1].split(".")[0])
    src, src_path = _source_of_copy(site, index)
    assert src.lang is not None
    key = f"{src.name}{src_path}"
    paragraphs = site.paragraphs(src.lang, key)
    if host.variant == "near":
        paragraphs = paragraphs + [site.paragraphs(src.lang, key + ":near", 1)[0]]
    links = [(site.url(host.name, "/"), "home")]
    title = _title(site, src.lang, key, None)
    return Response(200, [("Content-Type", "text/html; charset=utf-8")],
                    _html_page(site, host, src.lang, title, paragraphs, links))


def _home(site: TestSite, host: Host, extra_paths: list[str] | None = None) -> Response:
    links = [(u, _link_text(site, u)) for u in site.links_of(host, "/")]
    links += [(site.url(host.name, p), p) for p in extra_paths or []]
    lang = host.lang or "en"
    paragraphs = site.paragraphs(lang, f"{host.name}/")
    title = f"{host.name} — " + _title(site, lang, f"{host.name}/", None)
    return Response(200, [("Content-Type", "text/html; charset=utf-8")],
                    _html_page(site, host, host.lang, title, paragraphs, links))


def _endless_page(site: TestSite, host: Host, path: str) -> Response:
    """Page n of the endless web: small, and linking to ENDLESS_FANOUT pages never linked before."""
    if path == "/":
        n = 0
    elif path.startswith("/e/") and path.endswith(".html") and path[3:-5].isdigit():
        n = int(path[3:-5])
    else:
        return Response(404, [("Content-Type", "text/html; charset=utf-8")], _NOT_FOUND)
    links = "".join(f'<a href="http://{endless_host_name(h)}:{site.port}/e/{m}.html">page {m}</a>\n'
                    for h, m in endless_links(n, site.endless_hosts))
    body = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Endless page {n}</title></head>"
            f"<body><h1>Endless page {n}</h1><p>One page of a web that never ends.</p>\n{links}</body></html>")
    return Response(200, [("Content-Type", "text/html; charset=utf-8")], body.encode())


_EPOCH_2026_10_01 = 1790841600  # validators' dates: 2026-10-01 08:00 UTC + one day per revision


def _revisit_page(site: TestSite, host: Host, path: str) -> Response:
    """A page of the revisit host at ``site.revision`` (see REVISIT_PAGES)."""
    rev = site.revision or 0
    behaviour = "plain" if path == "/" else REVISIT_PAGES.get(path)
    if behaviour is None:
        return Response(404, [("Content-Type", "text/html; charset=utf-8")], _NOT_FOUND)
    if behaviour.startswith("gone") and rev >= 1:
        status = 410 if behaviour == "gone-410" else 404
        return Response(status, [("Content-Type", "text/html; charset=utf-8")], _NOT_FOUND)
    key = f"{host.name}{path}"
    paragraphs = site.paragraphs("en", key)
    if behaviour == "changing":
        paragraphs.append(f"Update {rev}: " + site.paragraphs("en", f"{key}:revision:{rev}", 1)[0])
    links = [(u, _link_text(site, u)) for u in site.links_of(host, path)]
    body = _html_page(site, host, "en", _title(site, "en", key, None), paragraphs, links)
    headers = [("Content-Type", "text/html; charset=utf-8")]
    if behaviour in ("etag", "modified", "changing"):
        changed = rev if behaviour == "changing" else 0
        headers.append(("Last-Modified", formatdate(_EPOCH_2026_10_01 + 86400 * changed, usegmt=True)))
        if behaviour != "modified":
            headers.append(("ETag", f'"{stable_int(site.seed, key) % 10**8:x}-{changed}"'))
    return Response(200, headers, body)


def conditional(resp: Response, if_none_match: str | None, if_modified_since: str | None) -> Response:
    """304 Not Modified for a GET whose validators match ``resp`` (RFC 9110 13.1-13.2:
    If-None-Match decides when present, If-Modified-Since only without it)."""
    if resp.status != 200:
        return resp
    headers = dict((k.lower(), v) for k, v in resp.headers)
    etag, modified = headers.get("etag"), headers.get("last-modified")
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        match = etag is not None and ("*" in tags or etag.removeprefix("W/") in tags)
    elif if_modified_since is not None and modified is not None:
        try:
            match = parsedate_to_datetime(modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            match = False
    else:
        match = False
    if not match:
        return resp
    kept = [(k, v) for k, v in resp.headers if k.lower() in ("etag", "last-modified", "cache-control", "vary")]
    return Response(304, kept, b"", delay=resp.delay)


def _media_page(site: TestSite, host: Host, path: str) -> Response:
    names = sorted(site.media_files)
    by_kind = {k: [n for n in names if site.media_files[n][0].startswith(k + "/")] for k in ("image", "audio", "video")}
    m = lambda name: html.escape(site.url(host.name, "/media/" + name))  # noqa: E731
    head = body = ""
    images, audio, video = by_kind["image"], by_kind["audio"], by_kind["video"]
    if path == "/gallery.html" and images:
        pick = lambda i: images[i % len(images)]  # noqa: E731
        head = f'<meta property="og:image" content="{m(pick(0))}">\n'
        body += f'<img src="{m(pick(0))}" alt="A picture for the gallery">\n'
        body += f'<figure><img src="{m(pick(1))}" alt="Second picture"><figcaption>Caption of the second picture</figcaption></figure>\n'
        body += f'<img srcset="{m(pick(2))} 1x, {m(pick(-1))} 2x" alt="Responsive picture">\n'
        body += f'<picture><source srcset="{m(pick(3))}" type="image/png"><img src="{m(pick(-1))}" alt="Picture element"></picture>\n'
        body += f'<p>A picture that is really a web page: <img src="{m("not-an-image.jpg")}" alt="Mislabelled"></p>\n'
        # an image whose origin reserves TDM by header (tdm-header host): out of image pools by default
        reserved = html.escape(site.url("tdm-header.owdtest.eu", "/media/" + pick(1)))
        body += f'<figure><img src="{reserved}" alt="Borrowed picture"><figcaption>A picture from a reserved origin</figcaption></figure>\n'
    if path == "/noimageai.html" and images:
        # the page reserves its images (robots noimageai) but not its text
        head = '<meta name="robots" content="noimageai">\n'
        body += f'<figure><img src="{m(images[0])}" alt="A reserved picture"><figcaption>Pictures here are not for AI training</figcaption></figure>\n'
    if path == "/audio.html" and audio:
        sources = "".join(f'<source src="{m(n)}" type="{site.media_files[n][0]}">' for n in audio[:2])
        body += f"<figure><audio controls>{sources}</audio><figcaption>Listen to the recording</figcaption></figure>\n"
        body += "".join(f'<p><a href="{m(n)}">download {html.escape(n)}</a></p>\n' for n in audio[2:])
    if path == "/video.html":
        if video:
            head = f'<meta property="og:video" content="{m(video[0])}">\n'
            sources = "".join(f'<source src="{m(n)}" type="{site.media_files[n][0]}">' for n in video)
            body += f'<video controls>{sources}<track kind="captions" src="{m("captions.vtt")}" srclang="en"></video>\n'
        body += f'<p><a href="{m("huge.mp4")}">the full film (too large)</a></p>\n'
    paragraphs = site.paragraphs("en", f"{host.name}{path}", 2)
    links = [(site.url(host.name, "/"), "home")]
    return Response(200, [("Content-Type", "text/html; charset=utf-8")],
                    _html_page(site, host, "en", f"Media {path}", paragraphs, links, head, body))


@lru_cache(maxsize=2)
def _bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    chunk = b"\0" * 2**20
    return b"".join(compressor.compress(chunk) for _ in range(BOMB_BYTES // 2**20)) + compressor.flush()


def _errors(site: TestSite, host: Host, path: str, hits: int) -> Response | None:
    html_type = [("Content-Type", "text/html; charset=utf-8")]
    tiny = lambda text: f"<html><body><p>{text}</p></body></html>".encode()  # noqa: E731
    if path.startswith("/status/"):
        code = int(path.split("/")[2].split(".")[0])
        return Response(code, html_type, tiny(f"status {code}"))
    if path == "/flaky/1.html":
        if hits == 1:
            return Response(503, html_type + [("Retry-After", "1")], tiny("try again"))
        return Response(200, html_type, tiny("flaky page, second try works"))
    if path == "/retry-after/1.html":
        if hits == 1:
            return Response(429, html_type + [("Retry-After", "1")], tiny("slow down"))
        return Response(200, html_type, tiny("rate-limited page, served after waiting"))
    if path == "/slow/2.html":
        return Response(200, html_type, tiny("slow page"), delay=2.0)
    if path == "/hang.html":
        return Response(200, html_type, tiny("too late"), delay=120.0)
    if path == "/big.html":
        return Response(200, html_type, b"<html><body>" + b"x" * BIG_BYTES + b"</body></html>")
    if path == "/bomb.html":
        return Response(200, html_type + [("Content-Encoding", "gzip")], _bomb())
    if path.startswith("/redirect/"):
        n = int(path.split("/")[2].split(".")[0])
        target = f"/redirect/{n - 1}.html" if n > 0 else "/"
        if n == 0:
            return Response(200, html_type, tiny("end of the redirect chain"))
        return Response(301, [("Location", target)])
    if path == "/loop/a.html":
        return Response(302, [("Location", "/loop/b.html")])
    if path == "/loop/b.html":
        return Response(302, [("Location", site.url(host.name, "/loop/a.html"))])
    if path == "/redirect-away.html":
        lang_host = next(h for h in site.hosts if h.kind == "lang")
        return Response(301, [("Location", site.url(lang_host.name, "/news/0.html"))])
    if path == "/broken.html":
        return Response(200, html_type, b"<html><head><title>Broken</title><body><div><p>Unclosed <b>tags <i>everywhere"
                        b"<table><tr><td>cell</div></p>&bogus; &#xFFFFFFF; <a href='/'>home</a><scr")
    if path == "/latin1.html":
        text = "Größere Übersicht über die Änderungen. Ça coûte très cher à Málaga."
        return Response(200, html_type, f"<html><body><p>{text}</p></body></html>".encode("latin-1"))
    if path == "/mislabelled.html":
        text = "Żółć gęślą jaźń — zdrowie obywateli Unii Europejskiej."
        return Response(200, [("Content-Type", "text/html; charset=iso-8859-1")],
                        f"<html><head><meta charset=\"iso-8859-1\"></head><body><p>{text}</p></body></html>".encode())
    if path == "/bad-headers.html":
        return Response(200, html_type + [("X-Odd", "caf\u00e9")], tiny("odd headers"),
                        raw_header_lines=[b"This line has no colon", b"X-Binary: \xff\xfe\x00ok"])
    if path == "/truncated.html":
        return Response(200, html_type, tiny("cut " * 2000), truncate_to=100)
    if path == "/empty.html":
        return Response(200, html_type, b"")
    if path == "/binary.html":
        rng = random.Random(f"{site.seed}:binary")
        return Response(200, html_type, bytes(rng.randrange(256) for _ in range(4096)))
    return None


def _traps(site: TestSite, host: Host, path: str, query: str) -> Response | None:
    """Endless link spaces: a calendar, session ids in URLs, an ever-deeper path."""
    links: list[tuple[str, str]] = []
    if path.startswith("/calendar/"):
        try:
            year, month = (int(x) for x in path[len("/calendar/"):-len(".html")].split("/"))
        except ValueError:
            return None
        prev_y, prev_m = (year, month - 1) if month > 1 else (year - 1, 12)
        next_y, next_m = (year, month + 1) if month < 12 else (year + 1, 1)
        links = [(site.url(host.name, f"/calendar/{prev_y}/{prev_m}.html"), "previous month"),
                 (site.url(host.name, f"/calendar/{next_y}/{next_m}.html"), "next month")]
    elif path in ("/shop/item.html", "/shop/other.html"):
        sid = parse_qs(query).get("sessionid", ["0"])[0]
        nxt = f"{stable_int(sid, 'next') % 16**12:012x}"
        links = [(site.url(host.name, f"/shop/other.html?sessionid={nxt}"), "other"),
                 (site.url(host.name, f"/shop/item.html?sessionid={nxt}"), "item")]
    elif path.startswith("/deep/"):
        links = [(site.url(host.name, path[:-len(".html")] + "/a.html"), "deeper")]
    else:
        return None
    paragraphs = site.paragraphs("en", f"{host.name}{path}", 1)
    return Response(200, [("Content-Type", "text/html; charset=utf-8")],
                    _html_page(site, host, "en", f"Trap {path}", paragraphs, links))


def respond(site: TestSite, host: Host, path: str, query: str, accept_gzip: bool, hits: int) -> Response:
    """The response of the test web for one request; ``hits`` counts requests for this
    host+path so far, including this one."""
    slow = SLOW_REPLY_S if host.kind == "manners" and host.variant == "slow" else 0.0
    if path == "/robots.txt":
        status, body = site.robots_txt(host)
        return Response(status, [("Content-Type", "text/plain")], body, delay=slow)
    if path == "/.well-known/tdmrep.json":
        status, body = site.tdmrep_json(host)
        return Response(status, [("Content-Type", "application/json")], body, delay=slow)
    if path == "/sitemap.xml":
        return Response(200, [("Content-Type", "application/xml")], site.sitemap(host))
    if path == "/sitemap_index.xml" and host.name == site.hosts[0].name:
        return Response(200, [("Content-Type", "application/xml")], site.sitemap_index())
    if path.startswith("/media/") and host.kind == "media":
        return _media_file(site, path[len("/media/"):])
    if path.startswith("/media/") and host.kind == "tdm":  # with the host's rights signals
        media = _media_file(site, path[len("/media/"):])
        _add_compliance_signals(site, host, path, media)
        return media

    resp: Response | None = None
    if host.kind == "endless":
        return _endless_page(site, host, path)
    if host.kind == "revisit":
        return _revisit_page(site, host, path)
    if host.kind == "errors":
        resp = _home(site, host, ERROR_PATHS) if path == "/" else _errors(site, host, path, hits)
    elif host.kind == "traps":
        start = ["/calendar/2026/11.html", "/shop/item.html?sessionid=5eed", "/deep/a.html"]
        resp = _home(site, host, start) if path == "/" else _traps(site, host, path, query)
    elif path == "/":
        resp = _home(site, host)
    elif path in site.page_paths(host) or path in site.orphan_paths(host):
        if host.kind in ("lang", "bulk"):
            resp = article(site, host, path)
        elif host.kind == "mirror":
            resp = mirror_page(site, host, path)
        elif host.kind == "media":
            resp = _media_page(site, host, path)
        elif host.kind == "real":
            page = site.real_page(path[len("/page/"):-len(".html")])
            resp = Response(200, [("Content-Type", "text/html")], page or b"")
        else:  # robots and tdm hosts carry ordinary articles too
            resp = article(site, host, path)
    if resp is None:
        resp = Response(404, [("Content-Type", "text/html; charset=utf-8")], _NOT_FOUND)

    resp.delay = max(resp.delay, slow)
    _add_compliance_signals(site, host, path, resp)
    if accept_gzip and resp.status == 200 and 1024 < len(resp.body) < 2**20 and resp.truncate_to is None \
            and not any(k.lower() == "content-encoding" for k, _ in resp.headers):
        resp.body = gzip.compress(resp.body, mtime=0)
        resp.headers.append(("Content-Encoding", "gzip"))
        resp.headers.append(("Vary", "Accept-Encoding"))
    return resp


def _add_compliance_signals(site: TestSite, host: Host, path: str, resp: Response) -> None:
    if host.kind != "tdm":
        return
    if host.variant == "header":
        resp.headers += [("tdm-reservation", "1"), ("tdm-policy", TDM_POLICY_URL)]
    elif host.variant == "meta" and resp.body.startswith(b"<!DOCTYPE html>"):
        meta = (f'<meta name="tdm-reservation" content="1">\n<meta name="tdm-policy" content="{TDM_POLICY_URL}">\n').encode()
        resp.body = resp.body.replace(b"</head>", meta + b"</head>", 1)
    elif host.variant == "noai":
        resp.headers.append(("X-Robots-Tag", "noai, noimageai"))
        if resp.body.startswith(b"<!DOCTYPE html>"):
            resp.body = resp.body.replace(b"</head>", b'<meta name="robots" content="noimageai">\n</head>', 1)


def _media_file(site: TestSite, name: str) -> Response:
    if name == "captions.vtt":
        return Response(200, [("Content-Type", "text/vtt")], b"WEBVTT\n\n00:00.000 --> 00:02.000\nA bear.\n")
    if name == "not-an-image.jpg":  # wrong MIME type for an image reference
        return Response(200, [("Content-Type", "text/html; charset=utf-8")], b"<html><body>surprise</body></html>")
    if name == "huge.mp4":
        return Response(200, [("Content-Type", "video/mp4")], _huge_video())
    if name not in site.media_files:
        return Response(404, [("Content-Type", "text/plain")], b"no such media")
    mime, data = site.media_files[name]
    return Response(200, [("Content-Type", mime)], data)


@lru_cache(maxsize=1)
def _huge_video() -> bytes:
    return b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (60 * 2**20)
