"""Media records of a WARC: what a page's media items learn from them.

Image dimensions are read from the file header by hand (PNG, GIF, JPEG, WebP,
BMP): no imaging library is installed, and a header read costs microseconds and
never decodes pixels. A truncated or unknown header gives no dimensions.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urldefrag

from w3lib.url import safe_url_string

from owd.extract.warc_reader import FetchRecord
from owd.core.schema import MediaItem

__all__ = ["MediaInfo", "image_size", "media_info", "media_key", "media_kind_of_mime", "apply_media_info"]

_INT32_MAX = 2**31 - 1
# JPEG start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_NO_LENGTH = frozenset(range(0xD0, 0xDA)) | {0x01}  # RSTn, SOI, EOI, TEM


def _png(data: bytes) -> tuple[int, int] | None:
    if len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def _gif(data: bytes) -> tuple[int, int] | None:
    return struct.unpack("<HH", data[6:10]) if len(data) >= 10 else None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None  # lost sync: not a marker where one must be
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_NO_LENGTH:
            pos += 2
            continue
        if marker == 0xDA:  # start of scan: no frame header before it
            return None
        (length,) = struct.unpack(">H", data[pos + 2: pos + 4])
        if marker in _JPEG_SOF:
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5: pos + 9])
            return width, height
        if length < 2:
            return None
        pos += 2 + length
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        b0, b1, b2, b3 = data[21:25]
        return 1 + (b0 | (b1 & 0x3F) << 8), 1 + (b1 >> 6 | b2 << 2 | (b3 & 0x0F) << 10)
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    return None


def _bmp(data: bytes) -> tuple[int, int] | None:
    if len(data) >= 26 and struct.unpack("<I", data[14:18])[0] >= 40:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)  # a negative height means top-down rows
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF, JPEG, WebP or BMP from its first bytes; None
    for other formats, truncated headers and implausible sizes."""
    size: tuple[int, int] | None = None
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        size = _png(data)
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        size = _gif(data)
    elif data.startswith(b"\xff\xd8"):
        size = _jpeg(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        size = _webp(data)
    elif data[:2] == b"BM":
        size = _bmp(data)
    if size is None or not (0 < size[0] <= _INT32_MAX and 0 < size[1] <= _INT32_MAX):
        return None
    return size


def media_kind_of_mime(mime: str | None) -> str | None:
    """``image`` / ``audio`` / ``video`` for such MIME types, else None."""
    if not mime:
        return None
    top = mime.split("/", 1)[0]
    return top if top in ("image", "audio", "video") else None


def media_key(url: str) -> str:
    """The join key of a media URL: fragment removed, then made the ASCII URL Scrapy
    requests (and so the crawler's WARC-Target-URI) use, so a page's raw reference
    and the fetched record meet."""
    return safe_url_string(urldefrag(url.strip())[0])


@dataclass(frozen=True)
class MediaInfo:
    """What a media record in the WARC says about one media URL."""

    mime: str
    size: int | None  # None when the record is truncated: its true size is unknown
    digest: str | None
    width: int | None
    height: int | None
    complete: bool
    fetch_time: datetime | None

    def rank(self) -> tuple[bool, str, str]:
        """Order among records of one URL (a refetch): complete first, then the latest
        fetch, then the digest, so the choice never depends on record order."""
        return self.complete, self.fetch_time.isoformat() if self.fetch_time else "", self.digest or ""


def media_info(rec: FetchRecord, stats: Counter[str]) -> MediaInfo | None:
    """The media facts of a media response/resource record; None when it is not one."""
    mime = rec.mime
    kind = media_kind_of_mime(mime)
    if kind is None or mime is None:
        return None
    complete = rec.truncated is None
    width = height = None
    if kind == "image":
        size = image_size(rec.body)
        if size is None:
            stats["extract/media/no_dimensions"] += 1
        else:
            width, height = size
    if not complete:
        stats["extract/media/truncated_record"] += 1
    return MediaInfo(mime=mime, size=len(rec.body) if complete else None, digest=rec.payload_digest,
                     width=width, height=height, complete=complete, fetch_time=rec.fetch_time)


def apply_media_info(item: MediaItem, info: MediaInfo) -> MediaItem:
    """The page's media item with what the WARC record adds (``in_warc=True``)."""
    return MediaItem(url=item.url, kind=item.kind, mime=info.mime, alt=item.alt, caption=item.caption,
                     size=info.size, digest=info.digest, in_warc=True, width=info.width, height=info.height,
                     context=item.context, tracks=item.tracks)
