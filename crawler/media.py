"""Media fetching policy: a MIME allow-list per kind, checked when headers arrive.

Size caps are Scrapy's own ``download_maxsize`` (set per request by the spider);
a response whose Content-Type is not allowed for its kind is stopped before its
body is downloaded and counted under ``media/refused/mime/<kind>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import StopDownload

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

__all__ = ["MediaPolicy", "mime_allowed"]

MEDIA_KINDS = ("image", "audio", "video")


def mime_allowed(content_type: str, allowed: list[str]) -> bool:
    """Prefix match of the bare MIME type (``image/`` allows ``image/png``); empty allows all."""
    mime = content_type.split(";", 1)[0].strip().lower()
    return not allowed or any(mime.startswith(a.lower()) for a in allowed)


class MediaPolicy:
    """An extension: listens to ``headers_received`` for media requests."""

    def __init__(self, crawler: "Crawler", allowed: dict[str, list[str]]) -> None:
        self.stats = crawler.stats
        self.allowed = allowed
        crawler.signals.connect(self.headers_received, signal=signals.headers_received)

    @classmethod
    def from_crawler(cls, crawler: "Crawler") -> "MediaPolicy":
        return cls(crawler, {k: list(v) for k, v in crawler.settings.getdict("OWD_MEDIA_MIME").items()})

    def headers_received(self, headers: Any, body_length: int, request: "Request", spider: "Spider") -> None:
        kind = request.meta.get("owd_kind")
        if kind not in MEDIA_KINDS:
            return
        ctype = (headers.get(b"Content-Type") or b"").decode("latin-1")
        if not mime_allowed(ctype, self.allowed.get(kind, [])):
            self.stats.inc_value(f"media/refused/mime/{kind}")
            raise StopDownload(fail=True)
