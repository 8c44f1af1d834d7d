"""TDMRep: parsing, matching and precedence (owd.core.tdm), the middleware with real
Scrapy objects, and end-to-end crawls of the local test web in both policies."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastwarc.warc import ArchiveIterator, WarcRecordType
from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Headers, HtmlResponse, Response
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from owd.core.tdm import (
    HEAD_SCAN_BYTES,
    MAX_RULES,
    MAX_TDMREP_BYTES,
    TdmDeclaration,
    TdmVerdict,
    UnreadableBody,
    declaration_from_headers,
    decode_head,
    looks_like_html,
    normalise_path,
    parse_tdmrep_json,
    robots_directives,
    scan_html_head,
    tdm_verdict,
    tdmrep_for_fetch,
)
from owd.crawler.tdm_middleware import TdmMiddleware
from owd.testweb import LogEntry, TestSite, TestWebServer, free_port, read_request_log
from owd.testweb.campaign import write_testweb_campaign
from owd.testweb.content import TDM_POLICY_URL
from tests.conftest import run_owd

POLICY = "https://example.eu/tdm/policy.json"


def rules(*items: Any) -> bytes:
    return json.dumps(list(items)).encode()


def reserved(body: bytes, path: str) -> bool | None:
    declaration = parse_tdmrep_json(body).declaration_for(path)
    return declaration.reservation if declaration else None


# ---- tdmrep.json: structure and hostile input --------------------------------------------------
def test_spec_example_rules_match_first_in_sequence() -> None:
    body = rules(
        {"location": "/directory-a/", "tdm-reservation": 1},
        {"location": "/directory-b/html/", "tdm-reservation": 1, "tdm-policy": POLICY},
        {"location": "/directory-b/images/*.jpg", "tdm-reservation": 0},
    )
    file = parse_tdmrep_json(body)
    assert file.present and file.problems == ()
    assert file.declaration_for("/directory-a/x.pdf") == TdmDeclaration(True, None)
    assert file.declaration_for("/directory-b/html/page.html") == TdmDeclaration(True, POLICY)
    assert file.declaration_for("/directory-b/images/cat.jpg") == TdmDeclaration(False, None)
    # No rule matches: unset, not "not reserved".
    assert file.declaration_for("/directory-b/images/cat.png") is None
    assert file.declaration_for("/") is None


def test_first_matching_rule_wins_not_the_longest() -> None:
    body = rules({"location": "/", "tdm-reservation": 0}, {"location": "/reserved/", "tdm-reservation": 1})
    assert reserved(body, "/reserved/1.html") is False
    body = rules({"location": "/reserved/", "tdm-reservation": 1}, {"location": "/", "tdm-reservation": 0})
    assert reserved(body, "/reserved/1.html") is True
    assert reserved(body, "/open/1.html") is False


def test_empty_array_is_a_file_without_rules() -> None:
    file = parse_tdmrep_json(b"[]")
    assert file.present and file.declaration_for("/x") is None


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "invalid_json"),
    (b"{not json", "invalid_json"),
    (b"[{\"location\": \"/\", \"tdm-reservation\": 1}", "invalid_json"),  # truncated
    (b"\xff\xfe[\x00]\x00", "invalid_json"),  # UTF-16 / not UTF-8
    (b"[" * 100_000 + b"]" * 100_000, "invalid_json"),  # nested past the recursion limit
    (b'{"location": "/", "tdm-reservation": 1}', "not_a_list"),  # one rule without the array
    (b'"[]"', "not_a_list"),
    (b"null", "not_a_list"),
    (b"1", "not_a_list"),
])
def test_garbage_file_is_no_file_with_a_reason(body: bytes, reason: str) -> None:
    file = parse_tdmrep_json(body)
    assert file.reason == reason
    assert not file.present
    assert file.declaration_for("/anything") is None


def test_utf8_bom_is_accepted() -> None:
    assert reserved(b"\xef\xbb\xbf" + rules({"location": "/", "tdm-reservation": 1}), "/a") is True


def test_huge_file_is_no_file() -> None:
    rule = b'{"location": "/", "tdm-reservation": 1},'
    body = b"[" + rule * (MAX_TDMREP_BYTES // len(rule) + 1) + b'{"location": "/x", "tdm-reservation": 0}]'
    assert len(body) > MAX_TDMREP_BYTES
    file = parse_tdmrep_json(body)
    assert file.reason == "too_large" and file.declaration_for("/") is None


def test_too_many_rules_keeps_the_first_ones() -> None:
    body = rules(*[{"location": f"/r{i}/", "tdm-reservation": 1} for i in range(MAX_RULES + 5)])
    file = parse_tdmrep_json(body)
    assert len(file.rules) == MAX_RULES and "too_many_rules" in file.problems
    assert file.declaration_for("/r0/x") == TdmDeclaration(True)


def test_wrong_types_are_ignored_rule_by_rule() -> None:
    body = rules(
        5, None, "location", ["/", 1],  # not objects
        {"tdm-reservation": 1},  # no location
        {"location": 7, "tdm-reservation": 1},
        {"location": "", "tdm-reservation": 1},
        {"location": "/" + "x" * 5000, "tdm-reservation": 1},
        {"location": "/yes/", "tdm-reservation": "yes"},  # invalid value: the rule matches, reservation unset
        {"location": "/two/", "tdm-reservation": 2},  # an old draft's value: a protocol error now
        {"location": "/true/", "tdm-reservation": True},
        {"location": "/float/", "tdm-reservation": 1.0},
        {"location": "/none/"},
        {"location": "/str/", "tdm-reservation": " 1 "},  # the string form is accepted
        {"location": "/badpolicy/", "tdm-reservation": 1, "tdm-policy": {"url": POLICY}},
        {"location": "/", "tdm-reservation": 1, "tdm-policy": POLICY},
    )
    file = parse_tdmrep_json(body)
    assert file.present
    problems = Counter(file.problems)
    assert problems["rule_not_object"] == 4
    assert problems["location_not_string"] == 2  # missing and 7
    assert problems["location_empty"] == 1
    assert problems["location_too_long"] == 1
    assert problems["reservation_invalid"] == 4
    assert problems["reservation_missing"] == 1
    assert problems["policy_invalid"] == 1
    # An invalid value still wins the first-match race: "unset" for that path, not the "/" rule.
    for path in ("/yes/1", "/two/1", "/true/1", "/float/1", "/none/1"):
        assert file.declaration_for(path) == TdmDeclaration(None, None), path
    assert file.declaration_for("/str/1") == TdmDeclaration(True, None)
    assert file.declaration_for("/badpolicy/1") == TdmDeclaration(True, None)
    assert file.declaration_for("/other") == TdmDeclaration(True, POLICY)


# ---- tdmrep.json: location patterns ----------------------------------------------------------------
@pytest.mark.parametrize(("location", "path", "matches"), [
    ("/", "/", True),
    ("/", "/any/thing?q=1", True),
    ("/reserved/*", "/reserved/1.html", True),
    ("/reserved/*", "/reserved/", True),
    ("/reserved/*", "/reserved", False),
    ("/reserved", "/reserved-not/1.html", True),  # a prefix, like robots.txt
    ("/Reserved/", "/reserved/1.html", False),  # case-sensitive
    ("*.pdf", "/docs/a.pdf", True),
    ("/*.pdf$", "/docs/a.pdf", True),
    ("/*.pdf$", "/docs/a.pdf?x=1", False),
    ("/*.pdf", "/docs/a.pdf?x=1", True),
    ("/a.html$", "/a.html", True),
    ("/a.html$", "/a.html/b", False),
    ("/a$b", "/a$b", True),  # "$" before the end is that octet
    ("/a$b", "/ab", False),
    ("/a$$", "/a$", True),  # only the last "$" anchors
    ("/**/x/***", "/p/q/x/", True),
    ("/*/x", "/x", False),
    ("/search?q=", "/search?q=abc", True),
    ("/path/foo-%24", "/path/foo-$", True),  # the spec's example of a literal "$"
    ("/path/foo-%2A", "/path/foo-*", True),
    ("/path/foo-*", "/path/foo-bar", True),
    ("/%7Euser/", "/~user/page", True),  # escapes of unreserved characters are decoded
    ("/~user/", "/%7euser/page", True),
    ("/a%2Fb/", "/a/b/", False),  # an escaped reserved character stays escaped
    ("/a%2fb/", "/a%2Fb/c", True),  # hex case does not matter
    ("/café/", "/caf%C3%A9/menu", True),  # a raw UTF-8 pattern against the encoded path
    ("/caf%c3%a9/", "/café/menu", True),
    ("reserved/", "/reserved/1", True),  # a sloppy relative location
    ("https://example.eu/reserved/", "/reserved/1", True),  # a sloppy absolute URL
    ("https://example.eu", "/anything", True),
])
def test_location_patterns(location: str, path: str, matches: bool) -> None:
    body = rules({"location": location, "tdm-reservation": 1})
    assert (reserved(body, path) is True) is matches


def test_sloppy_locations_are_reported() -> None:
    file = parse_tdmrep_json(rules({"location": "reserved/", "tdm-reservation": 1},
                                   {"location": "https://example.eu/x/", "tdm-reservation": 1}))
    assert set(file.problems) == {"location_relative", "location_absolute_url"}


def test_hostile_pattern_matches_in_bounded_time() -> None:
    # A backtracking regex would take exponential time on this; the glob matcher does not.
    location = "/" + "*a" * 300 + "b"
    body = rules({"location": location, "tdm-reservation": 1})
    start = time.perf_counter()
    assert reserved(body, "/" + "a" * 2000) is None
    assert time.perf_counter() - start < 2.0


def test_normalise_path_escapes_specials_and_non_ascii() -> None:
    assert normalise_path("/a*b$c") == "/a%2Ab%24c"
    assert normalise_path("/a*b$", pattern=True) == "/a*b$"
    assert normalise_path("/ä b") == "/%C3%A4%20b"
    assert normalise_path("/%zz%4") == "/%zz%4"  # broken escapes stay as they are


@pytest.mark.parametrize(("status", "reason"), [
    (None, "unreachable"), (404, "not_found"), (410, "not_found"), (403, "unavailable_4xx"),
    (429, "unavailable_4xx"), (503, "unavailable_5xx"), (301, "unavailable_status"), (700, "unavailable_status"),
])
def test_fetch_outcomes_without_a_file(status: int | None, reason: str) -> None:
    file = tdmrep_for_fetch(status, rules({"location": "/", "tdm-reservation": 1}))
    assert file.reason == reason and not file.present and file.declaration_for("/") is None


def test_fetch_outcome_with_a_file() -> None:
    file = tdmrep_for_fetch(200, rules({"location": "/", "tdm-reservation": 1}))
    assert file.present and file.status == 200 and file.declaration_for("/") == TdmDeclaration(True)
    assert tdmrep_for_fetch(200, b"<html>oops</html>").reason == "invalid_json"


# ---- HTTP header fields ------------------------------------------------------------------------------
@pytest.mark.parametrize(("pairs", "expected"), [
    ([("tdm-reservation", "1")], TdmDeclaration(True)),
    ([(b"TDM-Reservation", b"  1  "), (b"TDM-POLICY", b" " + POLICY.encode() + b" ")], TdmDeclaration(True, POLICY)),
    ([("tdm-reservation", "0"), ("tdm-policy", POLICY)], TdmDeclaration(False, POLICY)),
    ([("tdm-reservation", "0, 1")], TdmDeclaration(True)),  # comma-joined: any valid 1 wins
    ([("tdm-reservation", "0"), ("tdm-reservation", "1")], TdmDeclaration(True)),  # repeated field
    ([("tdm-reservation", "yes, 0")], TdmDeclaration(False)),
    ([("tdm-reservation", "yes")], None),  # protocol error: unset
    ([("tdm-reservation", "2")], None),
    ([("tdm-reservation", "")], None),
    ([("tdm-policy", POLICY)], None),  # a policy alone declares nothing
    ([("x-tdm-reservation", "1"), ("tdm-reservations", "1")], None),
    ([], None),
])
def test_header_fields(pairs: list[tuple[Any, Any]], expected: TdmDeclaration | None) -> None:
    assert declaration_from_headers(pairs) == expected


@pytest.mark.parametrize(("values", "token", "expected"), [
    (["noai, noimageai"], "owd-bot", {"noai", "noimageai"}),
    (["NoAI ,  NOIMAGEAI "], "owd-bot", {"noai", "noimageai"}),
    (["noindex", "noimageai"], "owd-bot", {"noindex", "noimageai"}),
    (["googlebot: noai"], "owd-bot", set()),  # addressed to another crawler
    (["owd-bot: noai"], "owd-bot", {"noai"}),
    (["OWD-Bot: noai, noimageai"], "owd-bot", {"noai", "noimageai"}),
    (["*: noai"], "owd-bot", {"noai"}),
    (["unavailable_after: 25 Jun 2010 15:00:00 PST"], "owd-bot", {"unavailable_after: 25 jun 2010 15:00:00 pst"}),
    ([b"noai"], None, {"noai"}),
])
def test_robots_directives(values: list[Any], token: str | None, expected: set[str]) -> None:
    assert robots_directives(values, token) == expected


# ---- HTML head ---------------------------------------------------------------------------------------
def page(head: str, body: str = "<p>text</p>") -> bytes:
    return f"<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>t</title>{head}</head><body>{body}</body></html>".encode()


@pytest.mark.parametrize(("head", "body", "expected"), [
    ('<meta name="tdm-reservation" content="1">', "", TdmDeclaration(True)),
    (f'<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="{POLICY}">', "",
     TdmDeclaration(True, POLICY)),
    ("<META NAME=TDM-Reservation CONTENT=1>", "", TdmDeclaration(True)),  # case, unquoted
    ("<meta content='0' name='tdm-reservation'/>", "", TdmDeclaration(False)),  # attribute order, XHTML
    ('<meta\n  name="tdm-reservation"\n  content=" 1 "\n>', "", TdmDeclaration(True)),
    ('<meta name="tdm-reservation" content="yes">', "", None),
    ('<meta name="tdm-reservation">', "", None),  # no content
    ("", '<meta name="tdm-reservation" content="1">', None),  # in the body, not the head
    ('<!-- <meta name="tdm-reservation" content="1"> -->', "", None),  # commented out
    ('<script>var s = \'<meta name="tdm-reservation" content="1">\';</script>', "", None),
    ('<meta name="tdm-reservation" content="0"><meta name="tdm-reservation" content="1">', "", TdmDeclaration(True)),
    ('<meta name="tdm-reservation" content="1"><meta name="tdm-reservation" content="0">', "", TdmDeclaration(True)),
    (f'<meta name="tdm-policy" content="{POLICY}"><meta name="tdm-policy" content="https://other.eu/p">'
     '<meta name="tdm-reservation" content="1">', "", TdmDeclaration(True, POLICY)),  # first policy
    (f'<meta name="tdm-policy" content="{POLICY}">', "", None),
    ('<meta name="tdm-policy" content="https://x.eu/?a=1&amp;b=2"><meta name="tdm-reservation" content="1">', "",
     TdmDeclaration(True, "https://x.eu/?a=1&b=2")),  # entities decoded
])
def test_html_metas(head: str, body: str, expected: TdmDeclaration | None) -> None:
    assert scan_html_head(page(head, body)).declaration == expected


def test_head_without_end_is_scanned_until_body() -> None:
    doc = b'<html><meta name="tdm-reservation" content="1"><body><meta name="tdm-policy" content="x">'
    assert scan_html_head(doc).declaration == TdmDeclaration(True, None)


def test_robots_metas() -> None:
    head = '<meta name="robots" content="noimageai"><meta name="OWD-bot" content="noai"><meta name="otherbot" content="x">'
    assert scan_html_head(page(head), robots_names=("robots", "owd-bot")).robots == {"noimageai", "noai"}
    assert scan_html_head(page(head)).robots == {"noimageai"}
    assert scan_html_head(page("", '<meta name="robots" content="noai">')).robots == frozenset()


def test_meta_beyond_the_scanned_prefix_is_not_seen() -> None:
    head = "<title>" + "x" * HEAD_SCAN_BYTES + '</title><meta name="tdm-reservation" content="1">'
    assert scan_html_head(decode_head(page(head), None)).declaration is None


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "deflate-raw", "br", "zstd", "gzip, gzip"])
def test_compressed_bodies_are_decoded_for_the_scan(encoding: str) -> None:
    doc = page('<meta name="tdm-reservation" content="1">', "<p>" + "body " * 50_000 + "</p>")
    if encoding in ("gzip", "x-gzip"):
        data = gzip.compress(doc)
    elif encoding == "deflate":
        data = zlib.compress(doc)
    elif encoding == "deflate-raw":
        raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        data, encoding = raw.compress(doc) + raw.flush(), "deflate"
    elif encoding == "br":
        brotli = pytest.importorskip("brotli")
        data = brotli.compress(doc)
    elif encoding == "zstd":
        zstd = pytest.importorskip("backports.zstd")
        data = zstd.compress(doc)
    else:
        data = gzip.compress(gzip.compress(doc))
    head = decode_head(data, encoding)
    assert len(head) == HEAD_SCAN_BYTES
    assert scan_html_head(head).declaration == TdmDeclaration(True)


def test_compression_bomb_costs_only_the_prefix() -> None:
    bomb = gzip.compress(b"\0" * 50 * 2**20)
    assert len(decode_head(bomb, "gzip")) == HEAD_SCAN_BYTES


@pytest.mark.parametrize(("data", "encoding", "reason"), [
    (b"not gzip at all", "gzip", "corrupt_gzip"),
    (b"not brotli", "br", "corrupt_br"),
    (b"data", "compress", "unknown_encoding"),
])
def test_unreadable_bodies(data: bytes, encoding: str, reason: str) -> None:
    with pytest.raises(UnreadableBody) as info:
        decode_head(data, encoding)
    assert info.value.args[0] == reason


@pytest.mark.parametrize(("ctype", "start", "expected"), [
    ("text/html; charset=utf-8", b"", True), (b"application/xhtml+xml", b"", True), ("image/png", b"<html>", False),
    (None, b"  <!DOCTYPE html><html>", True), (None, b"<HTML>", True), (None, b"\x89PNG", False),
])
def test_looks_like_html(ctype: Any, start: bytes, expected: bool) -> None:
    assert looks_like_html(ctype, start) is expected


# ---- precedence --------------------------------------------------------------------------------------
R1, R0, UNSET = TdmDeclaration(True, POLICY), TdmDeclaration(False, POLICY), TdmDeclaration(None, POLICY)


@pytest.mark.parametrize(("file", "header", "meta", "reservation", "source"), [
    (None, None, None, None, None),
    (R1, None, None, True, "tdmrep.json"),
    (R0, None, None, False, "tdmrep.json"),
    (R1, R0, None, False, "header"),  # the header supersedes the file
    (R0, R1, None, True, "header"),
    (R1, R0, R1, True, "meta"),  # the meta supersedes both
    (R1, R1, R0, False, "meta"),
    (None, None, R0, False, "meta"),
    (R1, UNSET, None, True, "tdmrep.json"),  # an unset value supersedes nothing
    (UNSET, None, None, None, None),
    (R0, R1, UNSET, True, "header"),
])
def test_precedence_meta_over_header_over_file(file: TdmDeclaration | None, header: TdmDeclaration | None,
                                                meta: TdmDeclaration | None, reservation: bool | None,
                                                source: str | None) -> None:
    verdict = tdm_verdict(file=file, header=header, meta=meta)
    assert (verdict.reservation, verdict.source) == (reservation, source)
    # The policy travels with the winning reservation and only when it reserves.
    assert verdict.policy == (POLICY if reservation else None)


def test_policy_comes_from_the_winning_technique() -> None:
    verdict = tdm_verdict(file=TdmDeclaration(True, POLICY), header=TdmDeclaration(True, None))
    assert (verdict.source, verdict.policy) == ("header", None)


def test_verdict_is_frozen_and_json_serialisable() -> None:
    verdict = tdm_verdict(header=TdmDeclaration(True, POLICY), directives={"noai", "noimageai", "noindex"})
    meta = verdict.to_meta()
    assert json.loads(json.dumps(meta)) == {"reservation": True, "policy": POLICY, "source": "header",
                                            "noai": True, "noimageai": True}
    assert verdict.reserved
    with pytest.raises(AttributeError):
        verdict.reservation = False  # type: ignore[misc]
    assert TdmVerdict(None, None, None).to_meta()["source"] is None


# ---- the middleware with real Scrapy objects --------------------------------------------------------------
def middleware(policy: str = "record") -> TdmMiddleware:
    crawler = get_crawler(settings_dict={"OWD_TDM_POLICY": policy, "USER_AGENT": "owd-bot/0.1 (+https://x.eu)"})
    crawler._apply_settings()  # builds crawler.stats, as a crawl does
    return TdmMiddleware.from_crawler(crawler)


def html_response(url: str, body: bytes, headers: dict[str, Any] | None = None) -> HtmlResponse:
    return HtmlResponse(url, body=body, headers={"Content-Type": "text/html; charset=utf-8", **(headers or {})},
                        request=Request(url))


def test_middleware_settings() -> None:
    assert middleware().policy == "record"
    assert middleware("skip").skip
    assert middleware("record").user_agent_token == "owd-bot"
    with pytest.raises(ValueError):
        middleware("ignore")


def test_record_mode_records_header_meta_and_noai() -> None:
    mw = middleware("record")
    body = gzip.compress(page('<meta name="tdm-reservation" content="0"><meta name="robots" content="noimageai">'))
    response = html_response("http://a.eu/p.html", body, {"Content-Encoding": "gzip", "tdm-reservation": "1",
                                                          "tdm-policy": POLICY, "X-Robots-Tag": "noai"})
    request = response.request
    assert request is not None
    assert mw.process_response(request, response) is response
    # The meta (0) supersedes the header (1): recorded, nothing skipped.
    assert request.meta["tdm"] == {"reservation": False, "policy": None, "source": "meta", "noai": True,
                                   "noimageai": True, "skip": False}
    stats = mw.crawler.stats.get_stats()
    assert stats.get("tdm/noai") == stats.get("tdm/noimageai") == 1
    assert not any(k.startswith(("tdm/reserved", "tdm/skipped")) for k in stats)


def test_skip_mode_drops_meta_reserved_response() -> None:
    mw = middleware("skip")
    response = html_response("http://a.eu/p.html", page('<meta name="tdm-reservation" content="1">'))
    assert response.request is not None
    with pytest.raises(IgnoreRequest):
        mw.process_response(response.request, response)
    assert response.request.meta["tdm"]["skip"] is True
    assert mw.crawler.stats.get_value("tdm/skipped/meta") == 1
    assert mw.crawler.stats.get_value("tdm/reserved/meta") == 1


def test_skip_mode_keeps_unreserved_and_protocol_files() -> None:
    mw = middleware("skip")
    ok = html_response("http://a.eu/p.html", page('<meta name="tdm-reservation" content="0">'),
                       {"tdm-reservation": "1"})
    assert ok.request is not None and mw.process_response(ok.request, ok) is ok
    for path in ("/robots.txt", "/.well-known/tdmrep.json"):
        response = Response(f"http://a.eu{path}", body=b"x", headers={"tdm-reservation": "1"},
                            request=Request(f"http://a.eu{path}"))
        assert response.request is not None
        assert mw.process_response(response.request, response) is response
        assert "tdm" not in response.request.meta


def test_unreadable_compressed_body_is_counted() -> None:
    mw = middleware("record")
    response = html_response("http://a.eu/p.html", b"garbage", {"Content-Encoding": "gzip"})
    assert response.request is not None
    mw.process_response(response.request, response)
    assert mw.crawler.stats.get_value("tdm/head_unreadable/corrupt_gzip") == 1
    assert response.request.meta["tdm"]["reservation"] is None


def test_only_html_is_scanned_and_untyped_bodies_are_sniffed() -> None:
    mw = middleware("record")
    image = Response("http://a.eu/i.png", body=b"garbage", request=Request("http://a.eu/i.png"),
                     headers={"Content-Type": "image/png", "Content-Encoding": "gzip"})
    assert image.request is not None
    mw.process_response(image.request, image)  # not HTML: never decompressed, nothing unreadable
    assert not any(k.startswith("tdm/head_unreadable") for k in mw.crawler.stats.get_stats())
    untyped = Response("http://a.eu/p", body=page('<meta name="tdm-reservation" content="1">'),
                       request=Request("http://a.eu/p"))
    assert untyped.request is not None
    mw.process_response(untyped.request, untyped)
    assert untyped.request.meta["tdm"]["source"] == "meta"


def _stop_results(mw: TdmMiddleware, url: str, headers: dict[str, str]) -> list[Any]:
    """Send Scrapy's headers_received signal the way the HTTP/1.1 handler does."""
    results = mw.crawler.signals.send_catch_log(
        signal=signals.headers_received, headers=Headers(headers), body_length=10,
        request=Request(url), spider=None)
    return [r for _, r in results if isinstance(r, Failure) and isinstance(r.value, StopDownload)]


def test_headers_received_stops_reserved_downloads_in_skip_mode_only() -> None:
    skip, record = middleware("skip"), middleware("record")
    stopped = _stop_results(skip, "http://a.eu/p.html", {"tdm-reservation": "1"})
    assert len(stopped) == 1 and stopped[0].value.fail is False
    assert _stop_results(skip, "http://a.eu/p.html", {"tdm-reservation": "0"}) == []
    assert _stop_results(skip, "http://a.eu/robots.txt", {"tdm-reservation": "1"}) == []
    assert _stop_results(skip, "http://a.eu/.well-known/tdmrep.json", {"tdm-reservation": "1"}) == []
    assert _stop_results(record, "http://a.eu/p.html", {"tdm-reservation": "1"}) == []


# ---- end-to-end crawls of the test web --------------------------------------------------------------------
SOURCE_OF_VARIANT = {"file": "tdmrep.json", "header": "header", "meta": "meta"}
TDM_HOSTS = ("tdm-file.owdtest.eu", "tdm-header.owdtest.eu", "tdm-meta.owdtest.eu", "noai.owdtest.eu")
PROTOCOL_PATHS = ("/robots.txt", "/.well-known/tdmrep.json")


@dataclass
class TdmCrawl:
    site: TestSite
    log: list[LogEntry]
    stats: dict[str, Any]
    responses: dict[str, int]  # URL -> status of its WARC response record
    metadata: dict[str, dict[str, Any]]  # URL -> its WARC metadata record


def _crawl(tmp: Path, policy: str) -> TdmCrawl:
    site = TestSite(port=free_port(), pages_per_host=2, real_pages=0)
    (tmp / "tdm-seeds.txt").write_text("\n".join(site.url(h) for h in TDM_HOSTS) + "\n")
    config = write_testweb_campaign(
        site, tmp,
        seeds={"files": ["tdm-seeds.txt"], "sitemaps": []},
        scope={"domains": list(TDM_HOSTS)},
        politeness={"tdm": policy, "delay": 0.02},
        media={"kinds": []},
    )
    log_path = tmp / "requests.jsonl"
    with TestWebServer(site, log_path):
        result = run_owd("crawl", str(config), "--log-level", "WARNING", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    data = tmp / "data" / "tw"
    stats = json.loads((data / "crawl" / "w0" / "stats.json").read_text())
    responses: dict[str, int] = {}
    metadata: dict[str, dict[str, Any]] = {}
    for path in sorted((data / "warc" / "w0").glob("*.warc.gz")):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response | WarcRecordType.metadata):
                uri = rec.headers.get("WARC-Target-URI")
                if rec.record_type == WarcRecordType.response:
                    responses[uri] = rec.http_headers.status_code
                else:
                    assert rec.headers.get("WARC-Concurrent-To")
                    metadata[uri] = json.loads(rec.reader.read())
    return TdmCrawl(site, read_request_log(log_path), stats, responses, metadata)


@pytest.fixture(scope="module")
def record_crawl(tmp_path_factory: pytest.TempPathFactory) -> TdmCrawl:
    return _crawl(tmp_path_factory.mktemp("tdm-record"), "record")


@pytest.fixture(scope="module")
def skip_crawl(tmp_path_factory: pytest.TempPathFactory) -> TdmCrawl:
    return _crawl(tmp_path_factory.mktemp("tdm-skip"), "skip")


def _pages(crawl: TdmCrawl, urls: dict[str, Any]) -> dict[str, Any]:
    """The content URLs (not robots.txt / tdmrep.json) of the tdm hosts among ``urls``."""
    return {u: v for u, v in urls.items() if u.split("/")[2].split(":")[0] in TDM_HOSTS
            and not u.endswith(PROTOCOL_PATHS)}


def _expected(site: TestSite, tdm_skip: bool) -> set[str]:
    return {u for u in site.expected_pages(tdm_skip=tdm_skip) if u.split("/")[2].split(":")[0] in TDM_HOSTS}


def _file_fetches(crawl: TdmCrawl) -> Counter[str]:
    return Counter(e.host for e in crawl.log if e.path == "/.well-known/tdmrep.json")


def test_record_crawl_fetches_everything_once_and_records_the_verdicts(record_crawl: TdmCrawl) -> None:
    crawl, site = record_crawl, record_crawl.site
    pages = _pages(crawl, crawl.responses)
    assert set(pages) == _expected(site, tdm_skip=False)
    assert _file_fetches(crawl) == Counter({h: 1 for h in TDM_HOSTS})
    reserved_by: Counter[str] = Counter()
    for url in pages:
        host = site.by_name[url.split("/")[2].split(":")[0]]
        path = "/" + url.split("/", 3)[3]
        tdm = crawl.metadata[url]["tdm"]
        assert tdm["skip"] is False, url
        if site.tdm_reserved(host, path):
            source = SOURCE_OF_VARIANT[host.variant]
            assert (tdm["reservation"], tdm["source"], tdm["policy"]) == (True, source, TDM_POLICY_URL), (url, tdm)
            reserved_by[source] += 1
        else:
            assert tdm["reservation"] in (False, None), (url, tdm)
            assert tdm["policy"] is None
        if host.variant == "noai":
            assert tdm["noai"] is True and tdm["noimageai"] is True, (url, tdm)
        else:
            assert tdm["noai"] is False and tdm["noimageai"] is False, (url, tdm)
    # tdm-file: /open/* declared 0 by the file, the home page matches no rule (unset).
    file_host = "tdm-file.owdtest.eu"
    assert crawl.metadata[site.url(file_host, "/open/1.html")]["tdm"]["reservation"] is False
    assert crawl.metadata[site.url(file_host, "/")]["tdm"]["reservation"] is None
    for source, n in reserved_by.items():
        assert crawl.stats.get(f"tdm/reserved/{source}", 0) >= n, (source, crawl.stats)
    assert crawl.stats.get("tdm/noai", 0) >= 5 and crawl.stats.get("tdm/noimageai", 0) >= 5
    assert crawl.stats.get("tdm/file/parsed") == 1 and crawl.stats.get("tdm/file/not_found") == 3
    assert not any(k.startswith("tdm/skipped") for k in crawl.stats)
    # The tdmrep.json fetches are in the WARC too (provenance of the verdicts).
    assert crawl.metadata[site.url(file_host, "/.well-known/tdmrep.json")]["kind"] == "tdmrep"


def test_record_crawl_fetched_the_file_before_any_page_of_its_host(record_crawl: TdmCrawl) -> None:
    by_host: dict[str, list[LogEntry]] = defaultdict(list)
    for e in sorted(record_crawl.log, key=lambda e: e.t):
        by_host[e.host].append(e)
    for host in TDM_HOSTS:
        paths = [e.path for e in by_host[host] if e.path != "/robots.txt"]
        assert paths[0] == "/.well-known/tdmrep.json", (host, paths)


def test_skip_crawl_fetches_no_reserved_content(skip_crawl: TdmCrawl) -> None:
    crawl, site = skip_crawl, skip_crawl.site
    requested = {(e.host, e.path) for e in crawl.log}
    # tdmrep.json: reserved paths are never requested at all; the open ones are fetched.
    assert not [p for h, p in requested if h == "tdm-file.owdtest.eu" and p.startswith("/reserved/")]
    pages = _pages(crawl, crawl.responses)
    assert set(pages) == _expected(site, tdm_skip=True)
    assert {site.url("tdm-file.owdtest.eu", p) for p in ("/", "/open/1.html", "/open/2.html")} <= set(pages)
    # header and meta: no response record of any of their pages (only the protocol files).
    for host in ("tdm-header.owdtest.eu", "tdm-meta.owdtest.eu"):
        in_warc = [u for u in crawl.responses if f"//{host}:" in u]
        assert in_warc and all(u.endswith(PROTOCOL_PATHS) for u in in_warc), in_warc
        # Their home pages were dropped, so none of their links was followed.
        assert {p for h, p in requested if h == host} == {"/robots.txt", "/.well-known/tdmrep.json", "/"}
    assert _file_fetches(crawl) == Counter({h: 1 for h in TDM_HOSTS})
    s = crawl.stats
    assert s.get("tdm/skipped/tdmrep.json") == 2, s  # /reserved/1.html and /reserved/2.html
    assert s.get("tdm/skipped/header") == 1 and s.get("tdm/skipped/meta") == 1, s
    # The noai host reserves nothing under TDMRep: fetched and recorded as usual.
    noai_home = site.url("noai.owdtest.eu", "/")
    assert crawl.metadata[noai_home]["tdm"]["noai"] is True and crawl.metadata[noai_home]["tdm"]["skip"] is False


def test_skip_crawl_stops_header_reserved_downloads_after_the_headers(skip_crawl: TdmCrawl) -> None:
    # The server writes these small pages into the socket at once, so its log cannot
    # show the cut; Scrapy's own "download_stopped" flag (the HTTP/1.1 handler dropped
    # the connection after the headers) can.
    s = skip_crawl.stats
    assert s.get("tdm/download_stopped") == s.get("tdm/skipped/header") == 1, s
    home = next(e for e in skip_crawl.log if e.host == "tdm-header.owdtest.eu" and e.path == "/")
    assert home.status == 200  # it was requested: the header is only known from the response


# ---- hostile tdmrep.json answers over the network (real crawl, small local servers) -----------------------
PROBE_SCRIPT = Path(__file__).with_name("robots_crawl.py")  # the robots tests' probe spider, reused as is
REPO_ROOT = Path(__file__).resolve().parents[2]
RESERVE_RESERVED = rules({"location": "/reserved/", "tdm-reservation": 1, "tdm-policy": POLICY})


@dataclass
class Origin:
    """One small HTTP server: fixed answers per path (status, headers, body), pages otherwise."""

    answers: dict[str, tuple[int, dict[str, str], bytes]]
    file_delay: float = 0.0
    log: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _origin_handler(origin: Origin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 -- http.server API
            origin.log.append(self.path)
            if self.path == "/.well-known/tdmrep.json":
                time.sleep(origin.file_delay)
            status, headers, body = origin.answers.get(
                self.path, (200, {"Content-Type": "text/html"}, f"<html><body>{self.path}</body></html>".encode()))
            if status == 0:
                return  # hang up without an answer
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "no-length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- quiet
            pass

    return Handler


@pytest.fixture(scope="module")
def hostile_crawl(tmp_path_factory: pytest.TempPathFactory) -> Any:
    big = b"[" + b" " * (2 * MAX_TDMREP_BYTES) + b"]"
    json_headers = {"Content-Type": "application/json"}
    origins = {
        "huge": Origin({"/.well-known/tdmrep.json": (200, json_headers, big)}),
        # HTTP/1.0 without Content-Length: the size is only found out while reading.
        "huge_unsized": Origin({"/.well-known/tdmrep.json": (200, {**json_headers, "no-length": "1"}, big)}),
        "garbage": Origin({"/.well-known/tdmrep.json": (200, json_headers, b"\x00{[garbage")}),
        "down": Origin({"/.well-known/tdmrep.json": (503, json_headers, b"busy")}),
        "hangs_up": Origin({"/.well-known/tdmrep.json": (0, {}, b"")}),
        # A redirect is followed; the file is slow, so the other requests wait for it.
        "moved": Origin({"/.well-known/tdmrep.json": (301, {"Location": "/files/tdm.json"}, b""),
                         "/files/tdm.json": (200, json_headers, RESERVE_RESERVED)}, file_delay=0.5),
        # robots.txt does not apply to the tdmrep.json fetch (see crawler.tdm_middleware).
        "no_wellknown": Origin({"/robots.txt": (200, {"Content-Type": "text/plain"},
                                                b"User-agent: *\nDisallow: /.well-known/\n"),
                                "/.well-known/tdmrep.json": (200, json_headers, RESERVE_RESERVED)}),
    }
    for origin in origins.values():
        origin.answers.setdefault("/robots.txt", (404, {}, b"none"))
        origin.server = ThreadingHTTPServer(("127.0.0.1", 0), _origin_handler(origin))
        threading.Thread(target=origin.server.serve_forever, daemon=True).start()
    with socket_closed_port() as dead_port:
        # An origin whose robots.txt is unreachable: robots refuses its pages first,
        # so its tdmrep.json is never asked for.
        dead = f"http://127.0.0.1:{dead_port}"
        start = [{"url": f"{o.base}/{p}"} for o in origins.values() for p in ("open/1", "open/2", "reserved/1")]
        start.append({"url": f"{dead}/open/1"})
        config = {"start": start, "settings": {
            "USER_AGENT": "owd-bot/0.1 (+https://x.eu)",
            "DOWNLOADER_MIDDLEWARES": {
                "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
                "owd.crawler.robots_middleware.RobotsMiddleware": 100,
                "owd.crawler.tdm_middleware.TdmMiddleware": 960,
            },
            "OWD_TDM_POLICY": "skip",
            "RETRY_TIMES": 1,
            "DOWNLOAD_TIMEOUT": 10,
        }}
        workdir = tmp_path_factory.mktemp("tdm_hostile")
        config_path, result_path = workdir / "config.json", workdir / "result.json"
        config_path.write_text(json.dumps(config))
        proc = subprocess.run([sys.executable, str(PROBE_SCRIPT), str(config_path), str(result_path)],
                              cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                              capture_output=True, text=True, timeout=60)
    for origin in origins.values():
        assert origin.server is not None
        origin.server.shutdown()
        origin.server.server_close()
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(result_path.read_text())
    return origins, result


class socket_closed_port:  # noqa: N801 -- used as a context manager
    """A loopback port where nothing listens (connections are refused)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


def test_hostile_files_count_as_no_file(hostile_crawl: Any) -> None:
    origins, result = hostile_crawl
    stats = result["stats"]
    assert stats.get("tdm/file/too_large") == 2, stats  # sized and unsized
    assert stats.get("tdm/file/invalid_json") == 1, stats
    assert stats.get("tdm/file/unavailable_5xx") == 1, stats
    assert stats.get("tdm/file/unreachable") == 1 and stats.get("tdm/fetch_error/DownloadFailedError") == 1, stats
    assert stats.get("robots/disallowed/unreachable_error") == 1  # the dead origin: no tdmrep.json asked
    assert stats.get("tdm/file/parsed") == 2, stats  # "moved" (after its redirect) and "no_wellknown"
    assert stats.get("finish_reason") == "finished"  # (Scrapy's retry middleware logs its give-ups as errors)
    # No file: nothing reserved, every page of those origins fetched.
    for name in ("huge", "huge_unsized", "garbage", "down", "hangs_up"):
        pages = {p for p in origins[name].log if p not in ("/robots.txt", "/.well-known/tdmrep.json")}
        assert pages == {"/open/1", "/open/2", "/reserved/1"}, (name, origins[name].log)


def test_file_fetched_once_while_requests_wait_and_redirects_followed(hostile_crawl: Any) -> None:
    origins, result = hostile_crawl
    for name, origin in origins.items():
        if name not in ("down", "hangs_up"):  # retried once
            assert origin.log.count("/.well-known/tdmrep.json") == 1, (name, origin.log)
    assert result["stats"].get("tdm/deferred", 0) >= 2
    moved = origins["moved"]
    assert moved.log.index("/files/tdm.json") < moved.log.index("/open/1")
    # The redirected file reserves /reserved/: never requested, refused with IgnoreRequest.
    assert "/reserved/1" not in moved.log
    failure = next(f for f in result["failures"] if f["url"] == f"{moved.base}/reserved/1")
    assert failure["error"] == "IgnoreRequest"


def test_robots_txt_does_not_hide_the_file(hostile_crawl: Any) -> None:
    origins, result = hostile_crawl
    log = origins["no_wellknown"].log
    assert "/.well-known/tdmrep.json" in log and "/reserved/1" not in log
    assert {"/open/1", "/open/2"} <= set(log)
    assert result["stats"].get("tdm/skipped/tdmrep.json") == 2  # "moved" and "no_wellknown"
