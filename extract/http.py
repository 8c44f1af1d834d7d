"""HTTP message blocks as stored in WARC records: header parsing, de-chunking and
bounded content decoding (gzip, deflate, br, zstd).

Both WARC engines hand this module the raw record block, so every reader parses
HTTP the same way. Nothing here raises on bad input except :class:`BodyError`
(a body that must be dropped, with its reason).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from io import BytesIO

import brotli
from fastwarc.stream_io import ZstdReader

__all__ = [
    "BodyError",
    "HttpMessage",
    "decode_content",
    "dechunk",
    "header_value",
    "header_values",
    "parse_http_block",
]

MAX_HEADER_BYTES = 64 * 1024
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_STATUS_LINE = re.compile(rb"^HTTP/\d(?:\.\d)?\s+(\d{3})(?:\s|$)", re.I)
_REQUEST_LINE = re.compile(rb"^[A-Z]+\s+\S+\s+HTTP/\d(?:\.\d)?\s*$")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r?\n")

Headers = list[tuple[str, str]]


class BodyError(Exception):
    """The body cannot be used; ``reason`` is a stats key suffix (``decompression_bomb``, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HttpMessage:
    """A parsed HTTP request or response block."""

    status: int | None  # None for requests
    headers: Headers
    body: bytes
    quirks: tuple[str, ...] = ()  # tolerated deviations, for counting


def _text(raw: bytes) -> str:
    # Header bytes are latin-1 by RFC 9110, but real servers send UTF-8 (Location,
    # Content-Disposition); prefer it when the bytes are valid UTF-8.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_http_block(block: bytes) -> HttpMessage | None:
    """Split a stored HTTP message into status, header pairs and body.

    Tolerates LF-only line ends, folded header lines and lines without a colon
    (recorded in ``quirks``). None when the block does not start with an HTTP
    status or request line.
    """
    quirks: list[str] = []
    end = _HEADER_END.search(block, 0, MAX_HEADER_BYTES + 4)
    if end is None:
        if len(block) > MAX_HEADER_BYTES:
            return None
        head, body = block, b""  # a header-only message (e.g. a revisit)
        quirks.append("http_no_header_end")
    else:
        head, body = block[: end.start()], block[end.end():]
        if b"\r\n\r\n" not in end.group(0):
            quirks.append("http_lf_line_ends")
    lines = head.split(b"\n")
    first = lines[0].rstrip(b"\r").strip()
    match = _STATUS_LINE.match(first)
    if match:
        status: int | None = int(match.group(1))
    elif _REQUEST_LINE.match(first):
        status = None
    else:
        return None
    headers: Headers = []
    for raw in lines[1:]:
        line = raw.rstrip(b"\r")
        if not line.strip():
            continue
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding (RFC 9112 §5.2)
            prev_name, prev_value = headers[-1]
            headers[-1] = (prev_name, f"{prev_value} {_text(line.strip())}")
            quirks.append("http_folded_header")
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            quirks.append("http_header_without_colon")
            continue
        headers.append((_text(name.strip()), _text(value.strip())))
    return HttpMessage(status, headers, body, tuple(quirks))


def header_values(headers: Headers, name: str) -> list[str]:
    """All values of a header (case-insensitive name), in order."""
    low = name.lower()
    return [v for n, v in headers if n.lower() == low]


def header_value(headers: Headers, name: str) -> str | None:
    """The first value of a header, or None."""
    values = header_values(headers, name)
    return values[0] if values else None


def dechunk(body: bytes) -> bytes | None:
    """Undo ``Transfer-Encoding: chunked``; None when the body is not validly chunked
    (the caller keeps the stored bytes, as warcio does)."""
    out: list[bytes] = []
    pos = 0
    while True:
        match = _CHUNK_SIZE.match(body, pos)
        if match is None:
            return None
        size = int(match.group(1), 16)
        pos = match.end()
        if size == 0:
            return b"".join(out)
        if pos + size > len(body):
            return None
        out.append(body[pos: pos + size])
        pos += size
        if body.startswith(b"\r\n", pos):
            pos += 2
        elif body.startswith(b"\n", pos):
            pos += 1
        else:
            return None


def _inflate(data: bytes, wbits: int, limit: int) -> tuple[bytes, bool]:
    """Inflate at most ``limit`` + 1 bytes; concatenated gzip members are followed.
    Returns (output, complete)."""
    out = bytearray()
    while data:
        d = zlib.decompressobj(wbits)
        out += d.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            return bytes(out), True
        if not d.eof:
            return bytes(out), False
        # a second gzip member (rare, legal); anything else after the stream is junk
        data = d.unused_data if wbits > zlib.MAX_WBITS and d.unused_data[:2] == b"\x1f\x8b" else b""
    return bytes(out), True


def _decode_one(data: bytes, encoding: str, limit: int, quirks: list[str]) -> bytes:
    if encoding in ("gzip", "x-gzip"):
        if not data.startswith(b"\x1f\x8b"):
            # labelled gzip but stored plain (a proxy or the client already decoded it)
            quirks.append("content_encoding_not_applied")
            return data
        try:
            out, complete = _inflate(data, zlib.MAX_WBITS | 16, limit)
        except zlib.error as exc:
            raise BodyError("content_encoding/gzip") from exc
    elif encoding == "deflate":
        try:
            out, complete = _inflate(data, zlib.MAX_WBITS, limit)
        except zlib.error:
            try:  # servers also send raw deflate under this name
                out, complete = _inflate(data, -zlib.MAX_WBITS, limit)
            except zlib.error as exc:
                raise BodyError("content_encoding/deflate") from exc
    elif encoding == "br":
        dec = brotli.Decompressor()
        try:
            out = dec.process(data, output_buffer_limit=limit + 1)
        except brotli.error as exc:
            raise BodyError("content_encoding/br") from exc
        complete = dec.is_finished() or len(out) > limit
    elif encoding == "zstd":
        try:
            out = ZstdReader(BytesIO(data)).read(limit + 1)
        except OSError as exc:
            raise BodyError("content_encoding/zstd") from exc
        complete = True
    else:
        quirks.append("content_encoding_unknown")
        return data
    if len(out) > limit:
        raise BodyError("decompression_bomb")
    if not complete:
        if not out:
            raise BodyError(f"content_encoding/{encoding}")
        quirks.append("content_encoding_incomplete")  # cut-off stream: keep what inflated
    return out


def decode_content(body: bytes, content_encoding: str | None, limit: int) -> tuple[bytes, tuple[str, ...]]:
    """Undo a ``Content-Encoding`` (comma list, applied in order) with output capped
    at ``limit`` bytes. Returns (decoded body, quirks). Raises :class:`BodyError`
    for a bomb (more than ``limit`` bytes) or a body that does not decode at all."""
    encodings = [e.strip().lower() for e in (content_encoding or "").split(",")]
    encodings = [e for e in encodings if e and e not in ("identity", "none")]
    quirks: list[str] = []
    for encoding in reversed(encodings):  # the last one listed was applied last
        body = _decode_one(body, encoding, limit, quirks)
    return body, tuple(quirks)
