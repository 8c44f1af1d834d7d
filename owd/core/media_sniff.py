"""The MIME type of a media file from its first bytes (magic numbers), not from its label.

The media step sniffs every media record with it (owd.extract.media_probe) and the pool
writer names WebDataset members by it (owd.pools.media_output): a server's Content-Type
is often wrong, and a reader picks its decoder by the name.
"""

from __future__ import annotations

__all__ = ["sniff_mime"]

# (prefix at offset, MIME). Order matters only where prefixes overlap.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"\x00\x00\x01\x00", "image/x-icon"),
    (0, b"fLaC", "audio/flac"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\x1aE\xdf\xa3", "video/webm"),  # EBML: WebM or Matroska
)
_FTYP_BRANDS = {b"avif": "image/avif", b"avis": "image/avif", b"heic": "image/heic", b"heix": "image/heic",
                b"mif1": "image/heif", b"M4A ": "audio/mp4", b"M4B ": "audio/mp4", b"qt  ": "video/quicktime"}


def sniff_mime(data: bytes) -> str | None:
    """The MIME type the first bytes say, or None (HTML, text, unknown)."""
    for offset, magic, mime in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return mime
    if data[:4] == b"RIFF" and len(data) >= 12:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(data[8:12])
    if data[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(data[8:12], "video/mp4")
    if data[:4] == b"OggS":
        head = data[:256]
        if b"OpusHead" in head:
            return "audio/opus"
        if b"\x80theora" in head:
            return "video/ogg"
        return "audio/ogg"
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x06:  # MPEG audio frame sync
        return "audio/mpeg"
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0:  # ADTS AAC
        return "audio/aac"
    return None
