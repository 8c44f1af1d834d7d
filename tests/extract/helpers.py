"""Small builders for extract tests: images with known sizes, crawl-format WARCs."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from owd.crawler.warc import RecordLocation, WarcWriter
from owd.extract.warc_reader import FetchRecord

T0 = datetime(2026, 5, 28, 10, 0, 0, tzinfo=timezone.utc)


def png(width: int, height: int) -> bytes:
    """A valid 8-bit greyscale PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg(width: int, height: int) -> bytes:
    """JPEG headers up to the frame header (APP0 JFIF, an EXIF-like APP1, SOF0), then EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 300) + b"Exif\x00\x00" + b"\x00" * 294
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + app1 + sof + b"\xff\xd9"


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00;"


def webp_vp8x(width: int, height: int) -> bytes:
    body = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") \
        + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def webp_vp8l(width: int, height: int) -> bytes:
    bits = (width - 1) | (height - 1) << 14
    body = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + struct.pack("<I", bits)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def webp_vp8(width: int, height: int) -> bytes:
    frame = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
    body = b"VP8 " + struct.pack("<I", len(frame)) + frame
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def page_meta(kind: str = "page", tdm: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A metadata record body as our crawler writes it."""
    return {"crawler": "owd-bot/0.1", "campaign": "t", "worker": "w0", "kind": kind, "depth": 0, "via": "seed",
            "redirect_urls": [], "robots": {"verdict": "allowed"},
            "tdm": tdm if tdm is not None else {"reservation": None, "policy": None, "source": None,
                                                 "noai": False, "noimageai": False, "skip": False},
            **extra}


@dataclass
class Fetch:
    url: str
    body: bytes
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Content-Type", "text/html; charset=utf-8")])
    meta: dict[str, Any] | None = None
    media_refs: list[dict[str, Any]] | None = None  # written as a media-refs record after the fetch


def write_warc(directory: Path, fetches: list[Fetch], *, prefix: str = "t", refs_delay: int = 0
               ) -> tuple[Path, dict[str, RecordLocation]]:
    """Write fetches as our crawler does; a page's media-refs record comes ``refs_delay``
    fetches later (the spider parses after the response was written). Returns the
    file and each URL's response location."""
    directory.mkdir(parents=True, exist_ok=True)
    locations: dict[str, RecordLocation] = {}
    pending: list[tuple[int, str, RecordLocation, list[dict[str, Any]]]] = []
    with WarcWriter(directory, prefix, fsync=False) as w:
        for i, f in enumerate(fetches):
            loc = w.write_fetch(f.url, status=f.status, body=f.body, response_headers=f.headers,
                                request_headers=[("User-Agent", "owd-bot/0.1")], ip_address="127.0.0.9",
                                fetch_time=T0.timestamp() + i, metadata=f.meta if f.meta is not None else page_meta())
            locations[f.url] = loc
            if f.media_refs is not None:
                pending.append((i + refs_delay, f.url, loc, f.media_refs))
            for due in [p for p in pending if p[0] <= i]:
                w.write_metadata(due[1], {"kind": "media-refs", "media": due[3]}, refers_to=due[2].record_id)
                pending.remove(due)
        for _, url, loc, refs in pending:
            w.write_metadata(url, {"kind": "media-refs", "media": refs}, refers_to=loc.record_id)
    return w.finished[-1], locations


def html_record(html: str | bytes, url: str = "https://www.example.eu/news/a.html", *,
                headers: list[tuple[str, str]] | None = None, content_type: str | None = "text/html",
                crawl_meta: dict[str, Any] | None = None, offset: int = 0, **kw: Any) -> FetchRecord:
    """A FetchRecord for an HTML body, without a WARC."""
    body = html.encode("utf-8") if isinstance(html, str) else html
    return FetchRecord(url=url, fetch_time=T0, record_type="response", http_status=200,
                       http_headers=headers if headers is not None else [("Content-Type", content_type or "")],
                       content_type=content_type, body=body, warc_file="t.warc.gz", warc_offset=offset,
                       warc_length=100, payload_digest="sha1:AAAA", ip="127.0.0.9",
                       crawl_meta=crawl_meta if crawl_meta is not None else {}, **kw)
