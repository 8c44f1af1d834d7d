"""What a media file is, from its bytes: sniffed MIME type, dimensions, duration, codecs.

A server's Content-Type is often wrong (an HTML error page served as ``image/jpeg``, a
generic ``application/octet-stream``), so the type is sniffed from the magic bytes and
the file is then opened by a decoder that knows the format: Pillow for images (decoded
in full, so a truncated file is caught), PyAV (FFmpeg's demuxers, bundled in its wheel)
for audio and video (container metadata and the first packets decoded). Anything that
does not open is a :class:`ProbeError` with a short reason that the media step counts;
nothing here raises for bad bytes.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass, field
from typing import Any

from owd.core.media_sniff import sniff_mime

__all__ = ["MediaProbe", "ProbeError", "probe_media", "sniff_mime", "PROBE_REASONS"]

# Every reason a probe can fail with (the media step counts extract/media/broken/<reason>).
PROBE_REASONS = ("empty", "unknown_format", "not_media", "truncated", "undecodable", "too_large")

# Images above this many pixels are not decoded (a decompression bomb costs memory, not bytes).
MAX_PIXELS = 50_000_000


class ProbeError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class MediaProbe:
    kind: str  # image | audio | video
    mime: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    codecs: list[str] = field(default_factory=list)
    channels: int | None = None
    sample_rate: int | None = None
    phash: int | None = None


def probe_media(data: bytes, *, max_bytes: int = 200 * 2**20) -> MediaProbe:
    """The facts of one media file; :class:`ProbeError` with a reason when it is not one."""
    if not data:
        raise ProbeError("empty")
    if len(data) > max_bytes:
        raise ProbeError("too_large", f"{len(data)} bytes")
    mime = sniff_mime(data)
    if mime is None:
        raise ProbeError("not_media" if _looks_like_text(data) else "unknown_format")
    probe = MediaProbe(kind=mime.split("/", 1)[0], mime=mime, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    if probe.kind == "image":
        _probe_image(data, probe)
    else:
        _probe_av(data, probe)
    return probe


def _looks_like_text(data: bytes) -> bool:
    head = data[:512].lstrip().lower()
    return head.startswith((b"<", b"{", b"[")) or b"<html" in head


def _probe_image(data: bytes, probe: MediaProbe) -> None:
    from PIL import Image, UnidentifiedImageError

    from owd.core.image_phash import phash

    try:
        with Image.open(io.BytesIO(data)) as image:
            probe.width, probe.height = image.size
            if image.size[0] * image.size[1] > MAX_PIXELS:
                raise ProbeError("too_large", f"{image.size[0]}x{image.size[1]} pixels")
            probe.codecs = [image.format.lower()] if image.format else []
            image.load()  # decode every pixel: a truncated file fails here, not in a pool
            probe.phash = phash(image)
    except UnidentifiedImageError as e:
        raise ProbeError("undecodable", str(e)) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, EOFError) as e:
        text = str(e)
        truncated = "truncated" in text.lower() or "broken data stream" in text.lower()
        raise ProbeError("truncated" if truncated else "undecodable",
                         text) from None


def _probe_av(data: bytes, probe: MediaProbe) -> None:
    import av

    logging.getLogger("libav").setLevel(logging.CRITICAL)  # FFmpeg's warnings: the reason is counted instead
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if container.duration is not None:
                probe.duration = container.duration / 1_000_000  # av.time_base: microseconds
            # Any: the codec contexts' attributes depend on the stream type, which PyAV's stubs do not follow
            video: Any = next((s for s in container.streams if s.type == "video"), None)
            audio: Any = next((s for s in container.streams if s.type == "audio"), None)
            if video is None and audio is None:
                raise ProbeError("undecodable", "no audio or video stream")
            probe.codecs = [s.codec_context.codec.canonical_name for s in container.streams if s.type in ("audio", "video")]
            if video is not None:
                probe.kind = "video"
                probe.width, probe.height = video.codec_context.width or None, video.codec_context.height or None
                if not probe.mime.startswith("video/"):
                    probe.mime = "video/" + probe.mime.split("/", 1)[1]
            if audio is not None:
                probe.channels = _int_or_none(audio.codec_context.channels)
                probe.sample_rate = _int_or_none(audio.codec_context.sample_rate)
                if video is None and not probe.mime.startswith("audio/"):
                    probe.kind, probe.mime = "audio", "audio/" + probe.mime.split("/", 1)[1]
            _decode_some(container)
    except ProbeError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as e:
        raise ProbeError("undecodable", str(e)) from None


def _decode_some(container: Any, packets: int = 8) -> None:
    """Decode the first packets: a file whose header opens but whose data is garbage fails
    here (a truncated tail is fine: the container's own duration says what it should be)."""
    decoded = 0
    for packet in container.demux():
        if packet.size == 0:
            continue
        packet.decode()
        decoded += 1
        if decoded >= packets:
            return
    if decoded == 0:
        raise ProbeError("truncated", "no media data")


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and value > 0 else None
