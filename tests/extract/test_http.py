"""HTTP blocks as stored in WARC: parsing, de-chunking, bounded content decoding."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
from fastwarc.stream_io import ZstdWriter

from owd.extract.http import BodyError, decode_content, dechunk, header_value, parse_http_block

HTML = b"<html><body>" + "<p>Grüße aus Ljubljana</p>".encode() * 200 + b"</body></html>"


def zstd(data: bytes) -> bytes:
    import io

    buf = io.BytesIO()
    w = ZstdWriter(buf)
    w.write(data)
    w.close()
    return buf.getvalue()


def test_response_block_status_headers_and_body() -> None:
    msg = parse_http_block(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-A: 1\r\nX-A: 2\r\n\r\n<html>")
    assert msg is not None
    assert msg.status == 200 and msg.body == b"<html>" and msg.quirks == ()
    assert msg.headers == [("Content-Type", "text/html"), ("X-A", "1"), ("X-A", "2")]
    assert header_value(msg.headers, "content-type") == "text/html"


def test_tolerated_quirks_are_reported() -> None:
    block = b"HTTP/1.0 404 Not Found\nServer: x\n folded part\nno colon here\nContent-Length: 3\n\nabc"
    msg = parse_http_block(block)
    assert msg is not None and msg.status == 404 and msg.body == b"abc"
    assert ("Server", "x folded part") in msg.headers
    assert set(msg.quirks) == {"http_lf_line_ends", "http_folded_header", "http_header_without_colon"}


def test_requests_and_garbage() -> None:
    req = parse_http_block(b"GET /a?b=1 HTTP/1.1\r\nHost: example.eu\r\n\r\n")
    assert req is not None and req.status is None and req.headers == [("Host", "example.eu")]
    assert parse_http_block(b"") is None
    assert parse_http_block(b"<!doctype html><html>") is None


def test_non_utf8_header_values_survive_as_latin1() -> None:
    msg = parse_http_block(b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"r\xe9sum\xe9.pdf\"\r\n\r\n")
    assert msg is not None and msg.headers[0][1].endswith('"résumé.pdf"')


def test_dechunk() -> None:
    assert dechunk(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n") == b"hello world"
    assert dechunk(b"0\r\n\r\n") == b""
    assert dechunk(b"zz\r\nhello") is None  # not chunked after all: the caller keeps the bytes
    assert dechunk(b"ff\r\nshort\r\n0\r\n\r\n") is None


@pytest.mark.parametrize("encoding,encode", [
    ("gzip", lambda b: gzip.compress(b, mtime=0)),
    ("x-gzip", lambda b: gzip.compress(b, mtime=0)),
    ("deflate", zlib.compress),
    ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate under the same name
    ("br", brotli.compress),
    ("zstd", zstd),
])
def test_content_codings_are_undone(encoding: str, encode: object) -> None:
    body, quirks = decode_content(encode(HTML), encoding, 10**6)  # type: ignore[operator]
    assert body == HTML and quirks == ()


def test_stacked_codings_are_undone_in_reverse_order() -> None:
    body, _ = decode_content(brotli.compress(gzip.compress(HTML)), "gzip, br", 10**6)
    assert body == HTML


def test_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    with pytest.raises(BodyError) as err:
        decode_content(bomb, "gzip", 1_000_000)
    assert err.value.reason == "decompression_bomb"
    with pytest.raises(BodyError):
        decode_content(brotli.compress(b"\0" * 5_000_000), "br", 1_000_000)


def test_mislabelled_truncated_and_corrupt_bodies() -> None:
    assert decode_content(HTML, "gzip", 10**6) == (HTML, ("content_encoding_not_applied",))
    varied = "".join(f"<p>Absatz {i}: {i * 7919 % 104729}</p>" for i in range(3000)).encode()
    cut = gzip.compress(varied)[:-200]  # the file ended inside the body
    body, quirks = decode_content(cut, "gzip", 10**6)
    assert varied.startswith(body) and len(body) > 10_000 and quirks == ("content_encoding_incomplete",)
    with pytest.raises(BodyError) as err:
        decode_content(b"\x1f\x8b\x08\x00garbage-garbage", "gzip", 10**6)
    assert err.value.reason == "content_encoding/gzip"
    assert decode_content(HTML, "compress", 10**6) == (HTML, ("content_encoding_unknown",))
    assert decode_content(HTML, "identity", 10**6) == (HTML, ())
