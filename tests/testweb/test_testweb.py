"""The local test web answers each hostile and compliance case as described, and logs it all."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import socket
import time
import zlib
from pathlib import Path

import pytest

from owd.testweb import EU_LANGUAGES, HEALTH_WORD, TestSite, TestWebServer, free_port, read_request_log
from owd.testweb.render import BIG_BYTES, BOMB_BYTES, ERROR_PATHS
from tests.conftest import REPO


def get(server: TestWebServer, host: str, path: str, headers: dict[str, str] | None = None,
        conn: http.client.HTTPConnection | None = None, timeout: float = 10) -> tuple[int, http.client.HTTPMessage, bytes]:
    site = server.site
    own = conn is None
    conn = conn or http.client.HTTPConnection(site.by_name[host].ip, site.port, timeout=timeout)
    conn.request("GET", path, headers={"Host": f"{host}:{site.port}", "User-Agent": "owd-test/1", **(headers or {})})
    resp = conn.getresponse()
    body = resp.read()
    if own:
        conn.close()
    return resp.status, resp.headers, body


def test_every_host_listens_on_its_own_loopback_address(testweb: TestWebServer) -> None:
    site = testweb.site
    assert len({h.ip for h in site.hosts}) == len(site.hosts)
    assert all(h.ip.startswith("127.0.1.") for h in site.hosts)
    for host in site.hosts:
        status, _, _ = get(testweb, host.name, "/")
        assert status == 200, host


def test_pages_in_all_24_languages(testweb: TestWebServer) -> None:
    site = testweb.site
    seen = set()
    for lang in EU_LANGUAGES:
        host = next(h for h in site.hosts if h.kind == "lang" and h.lang == lang)
        status, headers, body = get(testweb, host.name, "/news/1.html")
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        text = body.decode("utf-8")
        assert f'<html lang="{lang}">' in text
        assert "<p>" in text
        seen.add(lang)
    assert seen == set(EU_LANGUAGES) and len(seen) == 24


@pytest.mark.shared_data
def test_text_comes_from_real_sentences_of_the_page_language(testweb: TestWebServer, shared_data: Path) -> None:
    for lang in ("sl", "mt", "el", "ga"):
        sentences = set((shared_data / "langid-A/by-lang" / f"{lang}.txt").read_text(encoding="utf-8").splitlines())
        extra = shared_data / "langid-C/sentences/by-lang" / f"{lang}.txt"
        if extra.is_file():
            sentences |= set(extra.read_text(encoding="utf-8").splitlines())
        host = next(h for h in testweb.site.hosts if h.kind == "lang" and h.lang == lang)
        _, _, body = get(testweb, host.name, "/news/2.html")
        first_para = re.search(r"<p>(.*?)</p>", body.decode())
        assert first_para is not None
        import html as html_mod

        para = html_mod.unescape(first_para.group(1))
        assert any(s and s.strip() in para for s in sentences), (lang, para[:100])


@pytest.mark.shared_data
def test_real_pages_are_served_verbatim(testweb: TestWebServer, shared_data: Path) -> None:
    site = testweb.site
    assert len(site.real_page_ids) == 60
    page_id = site.real_page_ids[0]
    status, _, body = get(testweb, "pages.owdtest.org", f"/page/{page_id}.html")
    assert status == 200
    assert body == gzip.decompress((shared_data / "pages-A/html" / f"{page_id}.html.gz").read_bytes())


def test_generated_content_without_shared_data() -> None:
    site = TestSite(port=1, use_shared_data=False)
    assert site.data_dir is None and site.real_page_ids == []
    words = {w for w in "der die und in den von zu das mit sich des auf für ist nicht".split()}
    host = site.by_name["de.owdtest.de"]
    from owd.testweb.render import article

    body = article(site, host, "/news/0.html").body.decode()
    para = re.search(r"<p>(.*?)</p>", body).group(1)  # type: ignore[union-attr]
    assert set(para.lower().rstrip(".").replace(".", "").split()) <= words
    assert "generated.png" in site.media_files


def test_deterministic_from_seed() -> None:
    from owd.testweb.render import respond

    a, b, c = TestSite(seed=7, port=9), TestSite(seed=7, port=9), TestSite(seed=8, port=9)
    host = "fi.owdtest.fi"
    bodies = [respond(s, s.by_name[host], "/news/3.html", "", False, 1).body for s in (a, b, c)]
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]
    assert a.hosts_file() == b.hosts_file()


def test_committed_host_table_and_demo_seeds_match_the_generator() -> None:
    site = TestSite(seed=7, port=8631)
    assert (REPO / "configs/testweb.hosts").read_text() == site.hosts_file()
    assert (REPO / "configs/demo-seeds.txt").read_text().split() == site.seed_urls()


def test_robots_variants(testweb: TestWebServer) -> None:
    status, _, body = get(testweb, "robots.owdtest.eu", "/robots.txt")
    assert status == 200 and b"Disallow: /private/" in body and b"Crawl-delay: 0.5" in body
    assert get(testweb, "robots-404.owdtest.eu", "/robots.txt")[0] == 404
    assert get(testweb, "robots-5xx.owdtest.eu", "/robots.txt")[0] == 503
    status, _, body = get(testweb, "robots-broken.owdtest.eu", "/robots.txt")
    assert status == 200 and b"\x00" in body and b"\xff\xfe" in body
    # The disallowed pages exist: only robots.txt keeps a crawler away from them.
    assert get(testweb, "robots.owdtest.eu", "/private/1.html")[0] == 200


def test_sitemaps_list_orphan_pages(testweb: TestWebServer) -> None:
    site = testweb.site
    status, _, index = get(testweb, site.hosts[0].name, "/sitemap_index.xml")
    assert status == 200 and index.count(b"<sitemap>") == sum(1 for h in site.hosts if h.kind == "lang")
    status, _, sitemap = get(testweb, "sl.owdtest.si", "/sitemap.xml")
    assert b"/archive/orphan-1.html" in sitemap
    _, _, home = get(testweb, "sl.owdtest.si", "/")
    assert b"orphan" not in home  # reachable only through the sitemap
    assert get(testweb, "sl.owdtest.si", "/archive/orphan-1.html")[0] == 200


def test_tdm_reservation_by_each_mechanism(testweb: TestWebServer) -> None:
    status, headers, body = get(testweb, "tdm-file.owdtest.eu", "/.well-known/tdmrep.json")
    assert status == 200 and headers["Content-Type"] == "application/json"
    rules = json.loads(body)
    assert {"location": "/reserved/*", "tdm-reservation": 1, "tdm-policy": "https://owdtest.eu/tdm-policy.json"} in rules
    assert get(testweb, "tdm-header.owdtest.eu", "/.well-known/tdmrep.json")[0] == 404

    _, headers, _ = get(testweb, "tdm-header.owdtest.eu", "/open/1.html")
    assert headers["tdm-reservation"] == "1" and headers["tdm-policy"].startswith("https://")

    _, headers, body = get(testweb, "tdm-meta.owdtest.eu", "/open/1.html")
    assert "tdm-reservation" not in headers
    assert b'<meta name="tdm-reservation" content="1">' in body and b'name="tdm-policy"' in body

    _, headers, body = get(testweb, "noai.owdtest.eu", "/open/1.html")
    assert headers["X-Robots-Tag"] == "noai, noimageai" and b'content="noimageai"' in body


def test_redirects_chains_loops_and_cross_host(testweb: TestWebServer) -> None:
    status, headers, _ = get(testweb, "errors.owdtest.eu", "/redirect/3.html")
    assert status == 301 and headers["Location"] == "/redirect/2.html"
    assert get(testweb, "errors.owdtest.eu", "/redirect/0.html")[0] == 200
    _, a, _ = get(testweb, "errors.owdtest.eu", "/loop/a.html")
    _, b, _ = get(testweb, "errors.owdtest.eu", "/loop/b.html")
    assert a["Location"] == "/loop/b.html" and b["Location"].endswith("/loop/a.html")
    status, headers, _ = get(testweb, "errors.owdtest.eu", "/redirect-away.html")
    assert status == 301 and "owdtest.bg" in headers["Location"]


def test_error_statuses_and_retry_after(testweb: TestWebServer) -> None:
    for code in (403, 404, 410, 500):
        assert get(testweb, "errors.owdtest.eu", f"/status/{code}.html")[0] == code
    status, headers, _ = get(testweb, "errors.owdtest.eu", "/retry-after/1.html")
    assert status == 429 and headers["Retry-After"] == "1"
    assert get(testweb, "errors.owdtest.eu", "/retry-after/1.html")[0] == 200
    status, headers, _ = get(testweb, "errors.owdtest.eu", "/flaky/1.html")
    assert status == 503 and headers["Retry-After"] == "1"
    assert get(testweb, "errors.owdtest.eu", "/flaky/1.html")[0] == 200


def test_slow_and_hanging_pages(testweb: TestWebServer) -> None:
    t0 = time.monotonic()
    assert get(testweb, "errors.owdtest.eu", "/slow/2.html")[0] == 200
    assert time.monotonic() - t0 >= 1.9
    with pytest.raises(socket.timeout):
        get(testweb, "errors.owdtest.eu", "/hang.html", timeout=1.0)


def test_oversized_and_bomb_responses(testweb: TestWebServer) -> None:
    status, headers, body = get(testweb, "errors.owdtest.eu", "/big.html")
    assert status == 200 and len(body) > BIG_BYTES > 10 * 2**20
    status, headers, body = get(testweb, "errors.owdtest.eu", "/bomb.html", {"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and len(body) < 2**20
    inflated = zlib.decompressobj(31).decompress(body, 60 * 2**20)
    assert len(inflated) == 60 * 2**20  # still going: the whole thing is BOMB_BYTES
    assert BOMB_BYTES >= 100 * 2**20


def test_broken_bodies_and_headers(testweb: TestWebServer) -> None:
    _, _, latin = get(testweb, "errors.owdtest.eu", "/latin1.html")
    with pytest.raises(UnicodeDecodeError):
        latin.decode("utf-8")  # declared utf-8, sent latin-1
    _, headers, mislabelled = get(testweb, "errors.owdtest.eu", "/mislabelled.html")
    assert "iso-8859-1" in headers["Content-Type"] and "Żółć".encode() in mislabelled
    _, _, empty = get(testweb, "errors.owdtest.eu", "/empty.html")
    assert empty == b""
    # Raw socket: the malformed header lines and the short body must really go out.
    ip, port = testweb.site.by_name["errors.owdtest.eu"].ip, testweb.site.port
    for path, check in (("/bad-headers.html", lambda raw: b"This line has no colon\r\n" in raw),
                        ("/truncated.html", lambda raw: len(raw.split(b"\r\n\r\n", 1)[1]) == 100)):
        with socket.create_connection((ip, port), timeout=5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: errors.owdtest.eu\r\nConnection: close\r\n\r\n".encode())
            raw = b""
            while chunk := s.recv(65536):
                raw += chunk
        assert check(raw), (path, raw[:300])
    assert all(get(testweb, "errors.owdtest.eu", "/")[2].count(p.encode()) for p in ERROR_PATHS)


def test_crawler_traps_are_endless(testweb: TestWebServer) -> None:
    url = "/calendar/2026/11.html"
    for _ in range(30):
        _, _, body = get(testweb, "traps.owdtest.eu", url)
        nxt = re.search(rb'href="http://[^/]+(/calendar/[^"]+)">next month', body)
        assert nxt
        url = nxt.group(1).decode()
    assert url == "/calendar/2029/5.html"
    _, _, body = get(testweb, "traps.owdtest.eu", "/shop/item.html?sessionid=5eed")
    sids = set(re.findall(rb"sessionid=([0-9a-f]+)", body))
    assert sids and b"5eed" not in sids
    _, _, body = get(testweb, "traps.owdtest.eu", "/deep/a/a/a.html")
    assert b"/deep/a/a/a/a.html" in body


def _main_text(body: bytes) -> list[str]:
    return re.findall(r"<p>(.*?)</p>", body.decode())[:-1]  # last <p> is the footer


def test_exact_and_near_duplicates_across_hosts(testweb: TestWebServer) -> None:
    site = testweb.site
    from owd.testweb.content import EU_LANGUAGES as langs

    src_host = next(h for h in site.hosts if h.kind == "lang" and h.lang == langs[2])
    _, _, original = get(testweb, src_host.name, "/news/2.html")
    _, _, exact = get(testweb, "mirror.owdtest.eu", "/copy/2.html")
    _, _, near = get(testweb, "near.owdtest.org", "/copy/2.html")
    assert _main_text(exact) == _main_text(original)
    assert _main_text(near)[:-1] == _main_text(original) and len(_main_text(near)) == len(_main_text(original)) + 1
    assert exact != original  # different boilerplate and links around the same text


def test_focus_topic_pages_carry_the_health_word(testweb: TestWebServer) -> None:
    _, _, body = get(testweb, "sl.owdtest.si", "/health/0.html")
    assert HEALTH_WORD["sl"].capitalize().encode() in body
    _, _, home = get(testweb, "sl.owdtest.si", "/")
    assert f">{HEALTH_WORD['sl']}</a>".encode() in home  # anchor text names the topic


def test_media_files_and_references(testweb: TestWebServer) -> None:
    site = testweb.site
    _, _, gallery = get(testweb, "media.owdtest.eu", "/gallery.html")
    assert b"<img " in gallery and b"og:image" in gallery and b"srcset=" in gallery and b"<figcaption>" in gallery
    _, _, video = get(testweb, "media.owdtest.eu", "/video.html")
    assert b"<video" in video and b"<track" in video and b"huge.mp4" in video
    for name, (mime, data) in site.media_files.items():
        status, headers, body = get(testweb, "media.owdtest.eu", f"/media/{name}")
        assert status == 200 and headers["Content-Type"] == mime and body == data
    status, headers, body = get(testweb, "media.owdtest.eu", "/media/huge.mp4")
    assert int(headers["Content-Length"]) > 50 * 2**20


def test_gzip_when_accepted(testweb: TestWebServer) -> None:
    _, headers, body = get(testweb, "de.owdtest.de", "/news/1.html", {"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip"
    assert b'<html lang="de">' in gzip.decompress(body)


def test_request_log_is_complete(tmp_path: Path) -> None:
    site = TestSite(port=free_port())
    log = tmp_path / "log.jsonl"
    with TestWebServer(site, log) as server:
        conn = http.client.HTTPConnection(site.by_name["sl.owdtest.si"].ip, site.port, timeout=5)
        for path in ("/", "/news/1.html", "/nope", "/robots.txt"):
            get(server, "sl.owdtest.si", path, conn=conn)
        conn.close()
        get(server, "errors.owdtest.eu", "/status/500.html")
    entries = read_request_log(log)
    assert [(e.host, e.path, e.status) for e in entries] == [
        ("sl.owdtest.si", "/", 200), ("sl.owdtest.si", "/news/1.html", 200), ("sl.owdtest.si", "/nope", 404),
        ("sl.owdtest.si", "/robots.txt", 200), ("errors.owdtest.eu", "/status/500.html", 500),
    ]
    first_conn = {e.conn for e in entries[:4]}
    assert len(first_conn) == 1 and [e.conn_seq for e in entries[:4]] == [1, 2, 3, 4]  # keep-alive
    assert entries[4].conn not in first_conn
    assert all(e.user_agent == "owd-test/1" and e.ip == site.by_name[e.host].ip for e in entries)
    assert all(e.t <= e.t_end for e in entries) and entries[1].bytes > 0


def test_expected_pages_follow_robots_and_tdm() -> None:
    site = TestSite(port=8631)
    pages = site.expected_pages()
    assert "http://robots.owdtest.eu:8631/private/1.html" not in pages
    assert "http://robots.owdtest.eu:8631/tmp/x.html" in pages  # only '*' disallows /tmp/
    assert not any("robots-5xx" in u for u in pages)
    assert "http://tdm-file.owdtest.eu:8631/reserved/1.html" in pages
    skipping = site.expected_pages(tdm_skip=True)
    assert "http://tdm-file.owdtest.eu:8631/reserved/1.html" not in skipping
    assert "http://tdm-file.owdtest.eu:8631/open/1.html" in skipping
    assert "http://sl.owdtest.si:8631/archive/orphan-1.html" in pages
