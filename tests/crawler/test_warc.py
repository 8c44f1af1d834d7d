"""WARC writer, CDXJ index, repair and resume: real files, checked by warcio and fastwarc."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastwarc.warc import ArchiveIterator as FastIterator
from fastwarc.warc import WarcRecordType

from owd.core.cdxj import index_warc, lookup, read_cdxj, read_record, surt, to_uri
from owd.crawler.warc import (RecordLocation, WarcWriter, iter_fetched_urls, repair_directory,
                          repair_open_warc)

HTML = "<!doctype html><html><head><title>Grüße</title></head><body>" + "<p>Hallo Welt</p>" * 200 + "</body></html>"
HTML_B = HTML.encode("utf-8")
T0 = datetime(2026, 5, 28, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
GZ_BODY = gzip.compress(HTML_B, mtime=0)
BIG = random.Random(7).randbytes(2_000_000)  # incompressible, ~2 MB


# --------------------------------------------------------------------------- helpers
def warcio_check(path: Path) -> tuple[int, str]:
    exe = Path(sys.executable).parent / "warcio"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from warcio.cli import main; main()"]
    proc = subprocess.run(cmd + ["check", "-v", str(path)], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def assert_warcio_ok(path: Path, n_records: int) -> None:
    rc, out = warcio_check(path)
    assert rc == 0, out
    assert "digest failed" not in out and "exception" not in out.lower(), out
    assert out.count("digest pass") == n_records, out


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def fast_records(path: Path) -> list[dict]:
    """Every record via fastwarc, verifying block digest first, then payload digest."""
    out = []
    with open(path, "rb") as f:
        # fastwarc 2.0.1 digests the *remaining* block, so the block digest must be
        # checked before parse_http() consumes the HTTP header block.
        for rec in FastIterator(f, parse_http=False):
            block_ok = rec.verify_block_digest()
            rec.parse_http()
            digest = rec.headers.get("WARC-Payload-Digest")
            payload_ok = rec.verify_payload_digest() if digest and rec.is_http else None
            payload = rec.reader.read()
            if digest and not rec.is_http:  # fastwarc defines payloads only for HTTP records
                payload_ok = digest == sha1_b32(payload)
            out.append({
                "type": str(rec.record_type), "headers": dict(rec.headers.items()),
                "block_ok": block_ok, "payload_ok": payload_ok,
                "status": rec.http_headers.status_code if rec.is_http else None,
                "http_headers": rec.http_headers.to_tuples() if rec.is_http else None,
                "payload": payload, "length": rec.content_length,
            })
    with open(path, "rb") as f:
        verified = sum(1 for _ in FastIterator(f, parse_http=True, verify_digests=True))
    assert verified == len(out)
    return out


def assert_fast_ok(path: Path) -> list[dict]:
    recs = fast_records(path)
    for r in recs:
        assert r["block_ok"], r["headers"]
        assert r["payload_ok"] in (True, None), r["headers"]
        if r["type"] in ("response", "request", "resource"):
            assert r["payload_ok"] is True
        if r["type"] == "metadata":
            assert "WARC-Payload-Digest" not in r["headers"]
    return recs


FETCHES: list[dict] = [
    dict(url="https://www.example.com/index.html?b=2&a=1", status=200, body=HTML_B,
         reason="OK", ip_address="93.184.216.34",
         request_headers=[(b"User-Agent", b"owd-bot/0.1 (+https://example.org/bot)"),
                          (b"Accept", b"text/html"), (b"Accept-Encoding", b"gzip, br")],
         response_headers=[(b"Content-Type", b"text/html; charset=utf-8"),
                           (b"Transfer-Encoding", b"chunked"), (b"Set-Cookie", b"a=1"),
                           (b"Set-Cookie", b"b=2"), (b"Server", b"nginx")],
         metadata={"campaign": "eu-2026", "depth": 0, "via": [], "robots": "allowed",
                   "tdmrep": {"reserved": False}}),
    dict(url="https://files.example.eu/report.pdf", status=200, body=BIG,
         response_headers=[("Content-Type", "application/pdf"), ("Content-Length", str(len(BIG)))],
         metadata={"depth": 2, "via": ["https://www.example.com/index.html?b=2&a=1"]}),
    dict(url="http://gz.example.org/page", status=200, body=GZ_BODY,
         response_headers=[(b"Content-Type", b"text/html"), (b"Content-Encoding", b"gzip"),
                           (b"Content-Length", str(len(GZ_BODY)).encode())],
         metadata={"note": "wire bytes kept"}),
    dict(url="http://gz.example.org/decoded", status=200, body=HTML_B, body_decoded=True,
         response_headers=[(b"Content-Type", b"text/html"), (b"Content-Encoding", b"gzip"),
                           (b"Content-Length", b"1234")],
         metadata={"note": "decoded by scrapy"}),
    dict(url="https://odd.example.com/h", status=200, body=b"odd",
         response_headers=[(b"X-Latin1", b"caf\xe9"), (b"X-Utf8", "café".encode()),
                           (b"X-Empty", b""), (b"X-Dup", b"1"), (b"x-dup", b"2"),
                           (b"X-Injected", b"a\r\nEvil: yes"), (b"Bad Name", b"dropped"),
                           (b"Caf\xe9", b"dropped"), ("X-Str", "str value")],
         metadata={"ünïcode": "✓"}),
    dict(url="https://bücher.example/straße?q=ü", status=200, body="Straße".encode(),
         response_headers=[(b"Content-Type", b"text/plain; charset=utf-8")], metadata={}),
    dict(url="https://www.example.com/missing", status=404, body=b"<h1>nope</h1>",
         reason="Not Found", response_headers=[(b"Content-Type", b"text/html")], metadata=None),
    dict(url="https://www.example.com/empty", status=204, body=b"",
         response_headers=[(b"Content-Length", b"0")], metadata={"empty": True}),
    dict(url="https://www.example.com/weird", status=599, body=b"x", metadata={}),
    dict(url="https://api.example.com/search", status=200, body=b'{"ok":true}', method="POST",
         request_body=b"q=eu&lang=de",
         request_headers=[(b"Content-Type", b"application/x-www-form-urlencoded")],
         response_headers=[(b"Content-Type", b"application/json")], metadata={"post": 1}),
    dict(url="https://h2.example.com/", status=200, body=b"over h2", http_version="h2",
         response_headers=[(b"content-type", b"text/plain")], metadata={}),
    dict(url="http://mislabelled.example.org/", status=200, body=HTML_B,
         response_headers=[(b"Content-Type", b"text/html"), (b"Content-Encoding", b"gzip")],
         metadata={}),
]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("warc")
    locs: list[RecordLocation] = []
    with WarcWriter(d, "owd-test", warcinfo={"operator": "owd tests", "isPartOf": "eu-2026",
                                             "robots": "obey", "http-header-user-agent": "owd-bot"}) as w:
        for i, fx in enumerate(FETCHES):
            locs.append(w.write_fetch(fetch_time=T0 + timedelta(seconds=i), **fx))
        res_loc = w.write_resource("urn:owd:snapshot:1", b"\x89PNG fake", "image/png",
                                   metadata={"kind": "screenshot"})
        stats = dict(w.stats)
    warcs = sorted(d.glob("*.warc.gz"))
    assert len(warcs) == 1
    return {"dir": d, "warc": warcs[0], "locs": locs, "res_loc": res_loc, "stats": stats}


# --------------------------------------------------------------------------- writing
def test_warcio_check_passes(written: dict) -> None:
    assert_warcio_ok(written["warc"], 1 + 3 * len(FETCHES) + 2)


def test_fastwarc_reads_and_verifies_every_record(written: dict) -> None:
    recs = assert_fast_ok(written["warc"])
    types = [r["type"] for r in recs]
    assert types == ["warcinfo"] + ["request", "response", "metadata"] * len(FETCHES) + ["resource", "metadata"]
    info = recs[0]
    assert info["headers"]["WARC-Filename"] == written["warc"].name
    assert b"operator: owd tests" in info["payload"] and b"isPartOf: eu-2026" in info["payload"]
    assert all(r["headers"]["WARC-Warcinfo-ID"] == info["headers"]["WARC-Record-ID"] for r in recs[1:])
    assert all(r["headers"]["WARC-Type"] != "warcinfo" for r in recs[1:])


def test_groups_are_linked_and_metadata_round_trips(written: dict) -> None:
    recs = fast_records(written["warc"])
    for i, fx in enumerate(FETCHES):
        req, resp, meta = recs[1 + 3 * i: 4 + 3 * i]
        rid = resp["headers"]["WARC-Record-ID"]
        assert req["headers"]["WARC-Concurrent-To"] == rid == meta["headers"]["WARC-Concurrent-To"]
        uris = {r["headers"]["WARC-Target-URI"] for r in (req, resp, meta)}
        dates = {r["headers"]["WARC-Date"] for r in (req, resp, meta)}
        assert uris == {to_uri(fx["url"])} and len(dates) == 1
        assert dates.pop() == f"2026-05-28T10:00:{i:02d}.123456Z"  # T0 is 12:00 CEST
        assert meta["headers"]["Content-Type"] == "application/json"
        assert json.loads(meta["payload"]) == (fx["metadata"] or {})
        assert resp["status"] == fx["status"]
        assert resp["payload"] == fx["body"]
        if fx.get("ip_address"):
            assert resp["headers"]["WARC-IP-Address"] == fx["ip_address"]
        # HTTP Content-Length always states the stored payload length
        lengths = [v for k, v in resp["http_headers"] if k.lower() == "content-length"]
        assert lengths == [str(len(fx["body"]))]
        assert not any(k.lower() == "transfer-encoding" for k, _ in resp["http_headers"])
        assert req["http_headers"] is not None
    assert recs[-1]["headers"]["WARC-Concurrent-To"] == recs[-2]["headers"]["WARC-Record-ID"]


def test_header_block_rewrite(written: dict) -> None:
    recs = fast_records(written["warc"])
    by_uri = {r["headers"]["WARC-Target-URI"]: r for r in recs if r["type"] == "response"}
    html = dict(by_uri["https://www.example.com/index.html?b=2&a=1"]["http_headers"])
    assert html["X-Crawler-Transfer-Encoding"] == "chunked"
    wire = dict(by_uri["http://gz.example.org/page"]["http_headers"])
    assert wire["Content-Encoding"] == "gzip" and "X-Crawler-Content-Length" not in wire
    dec = dict(by_uri["http://gz.example.org/decoded"]["http_headers"])
    assert "Content-Encoding" not in dec and dec["X-Crawler-Content-Encoding"] == "gzip"
    assert dec["X-Crawler-Content-Length"] == "1234"
    mis = dict(by_uri["http://mislabelled.example.org/"]["http_headers"])
    assert "Content-Encoding" not in mis and mis["X-Crawler-Content-Encoding"] == "gzip"
    odd = by_uri["https://odd.example.com/h"]["http_headers"]
    names = [k for k, _ in odd]
    assert "Bad Name" not in names and not any("dropped" in v for _, v in odd)
    assert ("X-Dup", "1") in odd and ("x-dup", "2") in odd and ("X-Injected", "a Evil: yes") in odd
    assert ("X-Str", "str value") in odd
    assert written["stats"] == {"header_dropped_bad_name": 2, "header_value_newline_replaced": 1,
                                "content_encoding_gzip_but_plain_body": 1}
    # raw bytes are stored verbatim (latin-1 and UTF-8 alike)
    loc = written["locs"][4]
    with open(written["warc"], "rb") as f:
        f.seek(loc.offset)
        raw = gzip.decompress(f.read(loc.length))
    assert b"X-Latin1: caf\xe9\r\n" in raw and "X-Utf8: café\r\n".encode() in raw and b"X-Empty:\r\n" in raw
    everything = gzip.decompress(written["warc"].read_bytes())
    assert b"HTTP/1.1 599 \r\n" in everything and b"HTTP/2 200 OK\r\n" in everything
    assert b"GET / HTTP/2\r\nHost: h2.example.com\r\n" in everything
    # the request line and Host header are rebuilt from the URL
    req = next(r for r in recs if r["type"] == "request" and "api.example.com" in r["headers"]["WARC-Target-URI"])
    assert req["payload"] == b"q=eu&lang=de"


def test_wire_gzip_body_decodes_on_read(written: dict) -> None:
    loc = written["locs"][2]
    assert read_record(written["warc"], loc.offset, loc.length).payload == GZ_BODY
    assert read_record(written["warc"], loc.offset, loc.length, decode=True).payload == HTML_B


def test_non_ascii_url_is_stored_as_uri(written: dict) -> None:
    uri = to_uri("https://bücher.example/straße?q=ü")
    assert uri == "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC" and uri.isascii()
    cdxj = written["warc"].with_name(written["warc"].name + ".cdxj")
    for form in ("https://bücher.example/straße?q=ü", uri):
        hits = lookup(cdxj, form)
        assert [h.url for h in hits] == [uri]


# --------------------------------------------------------------------------- CDXJ
def test_cdxj_lookup_and_read_back(written: dict) -> None:
    warc = written["warc"]
    cdxj = warc.with_name(warc.name + ".cdxj")
    lines = cdxj.read_text(encoding="utf-8").splitlines()
    assert lines == sorted(lines) and len(lines) == len(FETCHES) + 1
    for line in lines:
        key, ts, blob = line.split(" ", 2)
        assert len(ts) == 14 and ts.isdigit()
        assert list(json.loads(blob))[-3:] == ["length", "offset", "filename"]
    for fx, loc in zip(FETCHES, written["locs"]):
        assert loc.filename == warc.name and loc.path == warc
        hits = [e for e in lookup(cdxj, fx["url"]) if e.offset == loc.offset]
        assert len(hits) == 1, fx["url"]
        e = hits[0]
        assert (e.length, e.status, e.filename) == (loc.length, fx["status"], warc.name)
        rec = read_record(warc, e.offset, e.length)
        assert rec.rec_type == "response" and rec.payload == fx["body"] and rec.http_status == fx["status"]
    res = written["res_loc"]
    (e,) = lookup(cdxj, "urn:owd:snapshot:1")
    assert (e.offset, e.mime, e.status) == (res.offset, "image/png", None)
    assert read_record(warc, e.offset, e.length).payload == b"\x89PNG fake"


def test_cdxj_matches_reindex_and_warcio_cli(written: dict) -> None:
    warc = written["warc"]
    cdxj = warc.with_name(warc.name + ".cdxj")
    assert sorted(read_cdxj(cdxj), key=lambda e: e.to_line()) == sorted(index_warc(warc), key=lambda e: e.to_line())
    exe = Path(sys.executable).parent / "warcio"
    out = subprocess.run([str(exe), "index", "-f", "offset,length,warc-type,warc-target-uri", str(warc)],
                         capture_output=True, text=True, check=True).stdout
    cli = {(int(j["offset"]), int(j["length"])) for j in map(json.loads, out.splitlines())
           if j["warc-type"] in ("response", "resource")}
    assert cli == {(e.offset, e.length) for e in read_cdxj(cdxj)}


@pytest.mark.parametrize("url,key", [
    ("http://www.archive.org/", "org,archive)/"),
    ("https://archive.org/goo/?", "org,archive)/goo"),
    ("http://archive.org/goo/?a=2&b&a=1", "org,archive)/goo?a=1&a=2&b"),
    ("http://www34.Example.COM:80/Path/?B=2&a=1#frag", "com,example)/path?a=1&b=2"),
    ("https://example.com:8443/x", "com,example:8443)/x"),
    ("http://archive.org/index.php?PHPSESSID=0123456789abcdefghijklemopqrstuv&action=profile;u=4221",
     "org,archive)/index.php?action=profile;u=4221"),
    ("http://host/%25%32%35", "host)/%25"),
    ("http://example.com/a/./b/../c//d", "com,example)/a/c/d"),
    ("http://Bücher.ch/", "ch,xn--bcher-kva)/"),
    ("http://example.com/aä", "com,example)/a%c3%a4"),
    ("http://example.com/a%C3%A4", "com,example)/a%c3%a4"),
    ("dns:example.com", "dns:example.com"),
    ("urn:owd:x", "urn:owd:x"),
])
def test_surt(url: str, key: str) -> None:
    assert surt(url) == key


# --------------------------------------------------------------------------- lifecycle
def test_scrapy_headers_object_is_accepted(tmp_path: Path) -> None:
    from scrapy.http import Headers

    resp_h = Headers({"Content-Type": "text/html", "Set-Cookie": ["a=1", "b=2"]})
    req_h = Headers({"User-Agent": "owd-bot", "Accept-Language": "de, en;q=0.5"})
    with WarcWriter(tmp_path, "scrapy", fsync=False) as w:
        w.write_fetch("https://example.com/s", status=200, body=b"<p>x</p>",
                      request_headers=req_h, response_headers=resp_h)
    (warc,) = tmp_path.glob("*.warc.gz")
    recs = assert_fast_ok(warc)
    assert ("Set-Cookie", "a=1") in recs[2]["http_headers"] and ("Set-Cookie", "b=2") in recs[2]["http_headers"]
    assert ("User-Agent", "owd-bot") in recs[1]["http_headers"]


def test_fetch_time_forms(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, "t", fsync=False) as w:
        a = w.write_fetch("https://example.com/a", status=200, body=b"", fetch_time=1_780_000_000.5)
        b = w.write_fetch("https://example.com/b", status=200, body=b"",
                          fetch_time=datetime(2026, 1, 2, 3, 4, 5))  # naive = UTC
    assert a.warc_date == "2026-05-28T20:26:40.500000Z"
    assert b.warc_date == "2026-01-02T03:04:05.000000Z"


def test_open_name_while_writing_final_after_close(tmp_path: Path) -> None:
    w = WarcWriter(tmp_path, "life", fsync=False)
    assert list(tmp_path.iterdir()) == []  # lazily opened
    loc = w.write_fetch("https://example.com/", status=200, body=b"x")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [loc.filename + ".open"] and w.current_path == tmp_path / names[0]
    w.close()
    w.close()  # idempotent
    assert sorted(p.name for p in tmp_path.iterdir()) == [loc.filename, loc.filename + ".cdxj"]
    with pytest.raises(ValueError):
        w.write_fetch("https://example.com/2", status=200, body=b"y")


def test_failed_write_leaves_file_valid(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, "rollback", fsync=False) as w:
        w.write_fetch("https://example.com/1", status=200, body=b"one")
        with pytest.raises(TypeError):  # not JSON: rejected before anything is written
            w.write_fetch("https://example.com/2", status=200, body=b"two", metadata={"x": object()})
        # Fault injection: the disk "fills up" halfway through the response record.
        sink, real_write, calls = w._sink, w._sink.write, []

        def failing_write(data: bytes) -> None:
            calls.append(len(data))
            if len(calls) == 4:
                raise OSError("No space left on device")
            real_write(data)

        sink.write = failing_write  # type: ignore[method-assign]
        with pytest.raises(OSError):
            w.write_fetch("https://example.com/3", status=200, body=b"three")
        del sink.write
        w.write_fetch("https://example.com/4", status=200, body=b"four")
        assert w.stats["groups_rolled_back"] == 1
    (warc,) = tmp_path.glob("*.warc.gz")
    assert_warcio_ok(warc, 7)
    assert_fast_ok(warc)
    assert iter_fetched_urls(tmp_path) == {"https://example.com/1", "https://example.com/4"}


def test_rotation(tmp_path: Path) -> None:
    rnd = random.Random(3)
    locs = []
    with WarcWriter(tmp_path, "rot", max_size=60_000, fsync=False) as w:
        for i in range(20):
            locs.append(w.write_fetch(f"https://example.com/{i}", status=200, body=rnd.randbytes(10_000)))
        assert len(w.finished) >= 3
    assert not list(tmp_path.glob("*.open"))
    warcs = sorted(tmp_path.glob("*.warc.gz"))
    seqs = [int(p.name.split("-")[-1].split(".")[0]) for p in warcs]
    assert seqs == list(range(len(warcs))) and len(warcs) >= 4
    for p in warcs:
        with open(p, "rb") as f:
            first = next(iter(FastIterator(f)))
        assert first.record_type == WarcRecordType.warcinfo
        assert first.headers["WARC-Filename"] == p.name
        assert p.with_name(p.name + ".cdxj").exists()
    assert {loc.filename for loc in locs} == {p.name for p in warcs}
    for i, loc in enumerate(locs):
        assert read_record(loc.path, loc.offset, loc.length).url == f"https://example.com/{i}"
    # a new writer continues the sequence instead of restarting at 00000
    with WarcWriter(tmp_path, "rot", fsync=False) as w2:
        loc = w2.write_fetch("https://example.com/next", status=200, body=b"z")
    assert loc.filename.endswith(f"-{len(warcs):05d}.warc.gz")
    assert iter_fetched_urls(tmp_path) == {f"https://example.com/{i}" for i in range(20)} | {"https://example.com/next"}


# --------------------------------------------------------------------------- repair
@pytest.fixture(scope="module")
def repair_src(tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("src")
    with WarcWriter(d, "crash", fsync=False) as w:
        for i in range(5):
            w.write_fetch(f"https://example.com/p{i}", status=200, body=(HTML_B + str(i).encode()) * (i + 1),
                          response_headers=[(b"Content-Type", b"text/html")], metadata={"i": i})
    (warc,) = d.glob("*.warc.gz")
    out = subprocess.run([str(Path(sys.executable).parent / "warcio"), "index", "-f",
                          "offset,length,warc-type,warc-target-uri", str(warc)],
                         capture_output=True, text=True, check=True).stdout
    members = [json.loads(line) for line in out.splitlines()]
    for m in members:
        m["offset"], m["length"] = int(m["offset"]), int(m["length"])
    return {"warc": warc, "members": members, "size": warc.stat().st_size}


def _crash_copy(src: Path, dst_dir: Path, cut: int) -> Path:
    dst = dst_dir / (src.name + ".open")
    with open(src, "rb") as i, open(dst, "wb") as o:
        o.write(i.read(cut))
    return dst


def _expected_urls(members: list[dict], cut: int) -> list[str]:
    return [m["warc-target-uri"] for m in members
            if m["warc-type"] == "response" and m["offset"] + m["length"] <= cut]


def _cuts(members: list[dict], size: int) -> dict[str, int]:
    resp = [m for m in members if m["warc-type"] == "response"]
    meta = [m for m in members if m["warc-type"] == "metadata"]
    return {
        "mid_record": resp[2]["offset"] + resp[2]["length"] // 2,
        "mid_gzip_header": resp[3]["offset"] + 5,
        "boundary_after_metadata": meta[1]["offset"] + meta[1]["length"],
        "boundary_after_response": resp[3]["offset"] + resp[3]["length"],
        "one_byte_short": size - 1,
        "whole_file": size,
    }


@pytest.mark.parametrize("case", ["mid_record", "mid_gzip_header", "boundary_after_metadata",
                                  "boundary_after_response", "one_byte_short", "whole_file"])
def test_repair_truncated(case: str, repair_src: dict, tmp_path: Path) -> None:
    members, size = repair_src["members"], repair_src["size"]
    cut = _cuts(members, size)[case]
    open_path = _crash_copy(repair_src["warc"], tmp_path, cut)
    res = repair_open_warc(open_path)
    boundary = max(m["offset"] + m["length"] for m in members if m["offset"] + m["length"] <= cut)
    assert res.status == ("intact" if boundary == cut else "truncated")
    assert (res.bytes_kept, res.bytes_dropped) == (boundary, cut - boundary)
    assert res.records_kept == sum(1 for m in members if m["offset"] + m["length"] <= cut)
    assert res.response_urls == _expected_urls(members, cut)
    final = tmp_path / repair_src["warc"].name
    assert res.path == final and final.stat().st_size == boundary and not open_path.exists()
    assert_warcio_ok(final, res.records_kept)
    assert_fast_ok(final)
    entries = read_cdxj(final.with_name(final.name + ".cdxj"))
    assert sorted(e.url for e in entries) == sorted(res.response_urls)
    for e in entries:
        assert read_record(final, e.offset, e.length).url == e.url
    assert iter_fetched_urls(tmp_path) == set(res.response_urls)


def test_repair_corrupt_byte_cuts_at_damaged_member(repair_src: dict, tmp_path: Path) -> None:
    members = repair_src["members"]
    resp = [m for m in members if m["warc-type"] == "response"]
    open_path = _crash_copy(repair_src["warc"], tmp_path, repair_src["size"])
    data = bytearray(open_path.read_bytes())
    data[resp[1]["offset"] + resp[1]["length"] // 2] ^= 0xFF
    open_path.write_bytes(bytes(data))
    res = repair_open_warc(open_path)
    assert res.status == "truncated" and res.bytes_kept == resp[1]["offset"]
    assert res.response_urls == [resp[0]["warc-target-uri"]]
    assert_warcio_ok(res.path, res.records_kept)


@pytest.mark.parametrize("cut", [0, 10, "inside_warcinfo"])
def test_repair_without_warcinfo_sets_file_aside(cut: object, repair_src: dict, tmp_path: Path) -> None:
    first = repair_src["members"][0]
    n = first["length"] - 3 if cut == "inside_warcinfo" else int(cut)  # type: ignore[call-overload]
    open_path = _crash_copy(repair_src["warc"], tmp_path, n)
    res = repair_open_warc(open_path)
    assert res.status == "corrupt" and res.path is None and res.response_urls == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [repair_src["warc"].name + ".corrupt"]


def test_repair_directory(repair_src: dict, tmp_path: Path) -> None:
    members, size = repair_src["members"], repair_src["size"]
    cuts = _cuts(members, size)
    src = repair_src["warc"]
    a = tmp_path / src.name.replace("-00000", "-00001")
    b = tmp_path / src.name.replace("-00000", "-00002")
    shutil.copy(src, tmp_path / src.name)  # a final file whose CDXJ was lost
    shutil.copy(src, a.with_name(a.name + ".open"))
    with open(src, "rb") as i, open(b.with_name(b.name + ".open"), "wb") as o:
        o.write(i.read(cuts["mid_record"]))
    (tmp_path / (b.name + ".cdxj.open")).write_text("stale")
    results = repair_directory(tmp_path)
    assert [r.status for r in results] == ["intact", "truncated"]
    assert not list(tmp_path.glob("*.open"))
    for w in (tmp_path / src.name, a, b):
        assert w.exists() and w.with_name(w.name + ".cdxj").exists()
    assert iter_fetched_urls(tmp_path) == {f"https://example.com/p{i}" for i in range(5)}


# --------------------------------------------------------------------------- third-party WARCs
def _shared_warc_dir() -> Path:
    from owd.shared_data import shared_data_dir

    data = shared_data_dir()
    if data is None or not (data / "warc").is_dir():
        pytest.skip("../shared/data/warc is absent")
    return data / "warc"


@pytest.mark.shared_data
def test_index_lines_match_pywb_cdxj_indexer() -> None:
    """Expected lines are those pywb's cdxj-indexer prints for warcio's sample files."""
    warcs = _shared_warc_dir()
    post = sorted(e.to_line() for e in index_warc(warcs / "warcio__post-test.warc.gz", "post-test.warc.gz"))
    assert post == [
        'org,httpbin)/post 20140610000859 {"url": "http://httpbin.org/post", "mime": "application/json", "status": "200", "digest": "M532K5WS4GY2H4OVZO6HRPOP47A7KDWU", "length": "720", "offset": "0", "filename": "post-test.warc.gz"}',
        'org,httpbin)/post 20140610001151 {"url": "http://httpbin.org/post", "mime": "application/json", "status": "200", "digest": "M7YCTM7HS3YKYQTAWQVMQSQZBNEOXGU2", "length": "723", "offset": "1196", "filename": "post-test.warc.gz"}',
        'org,httpbin)/post?foo=bar 20140610001255 {"url": "http://httpbin.org/post?foo=bar", "mime": "application/json", "status": "200", "digest": "B6E5P6JUZI6UPDTNO4L2BCHMGLTNCUAJ", "length": "723", "offset": "2395", "filename": "post-test.warc.gz"}',
    ]
    example = sorted(e.to_line() for e in index_warc(warcs / "warcio__example.warc.gz", "example.warc.gz"))
    assert example[0] == 'com,example)/ 20170306040206 {"url": "http://example.com/", "mime": "text/html", "status": "200", "digest": "G7HRM7BGOKSKMSXZAHMUQTTV53QOFSMK", "length": "1228", "offset": "784", "filename": "example.warc.gz"}'
    assert '"mime": "warc/revisit", "status": "200", "digest": "G7HRM7BGOKSKMSXZAHMUQTTV53QOFSMK"' in example[1]


@pytest.mark.shared_data
def test_third_party_offsets_agree_with_warcio_cli() -> None:
    warcs = _shared_warc_dir()
    exe = Path(sys.executable).parent / "warcio"
    for name in ("dolma__sample-0000.warc.gz", "incubator-stormcrawler__test.warc.gz",
                 "chatnoir-resiliparse__warcfile.warc.gz", "webarchive-commons__IAH-urls-wget.warc.gz"):
        path = warcs / name
        if not path.exists():
            continue
        out = subprocess.run([str(exe), "index", "-f", "offset,length,warc-type", str(path)],
                             capture_output=True, text=True, check=True).stdout
        cli = {(int(j["offset"]), int(j["length"])) for j in map(json.loads, out.splitlines())
               if j.get("warc-type") in ("response", "revisit", "resource")}
        entries = index_warc(path)
        assert cli == {(e.offset, e.length) for e in entries} and entries, name
        for e in entries[:5]:
            assert read_record(path, e.offset, e.length).url == e.url
