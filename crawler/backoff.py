"""Honour 429/503 Retry-After by pausing the host, not just the one URL.

Scrapy's RetryMiddleware re-queues the failed request at once; a server that
says "slow down" means the whole host. This middleware (order 560, so its
``process_response`` runs before RetryMiddleware's at 550) raises the host's
downloader-slot delay to the Retry-After value and pushes the slot's last-seen
time to now, then restores the delay after the next good response.
"""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = ["RetryAfterMiddleware", "parse_retry_after"]

DEFAULT_BACKOFF_S = 1.0  # a 429/503 without Retry-After still pauses the host this long


def parse_retry_after(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class RetryAfterMiddleware:
    def __init__(self, crawler: "Crawler") -> None:
        self.crawler = crawler
        self.max_wait = crawler.settings.getfloat("OWD_MAX_RETRY_AFTER", 600.0)
        self.saved_delay: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: "Crawler") -> "RetryAfterMiddleware":
        return cls(crawler)

    def _slot(self, request: "Request") -> tuple[str | None, Any]:
        key = request.meta.get("download_slot")
        engine = self.crawler.engine
        slots = getattr(getattr(engine, "downloader", None), "slots", {}) if engine else {}
        return key, slots.get(key) if key else None

    def process_response(self, request: "Request", response: "Response", spider: "Spider | None" = None) -> "Response":
        key, slot = self._slot(request)
        stats = self.crawler.stats
        if response.status in (429, 503):
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is None:
                wait = DEFAULT_BACKOFF_S
                stats.inc_value("backoff/no_retry_after")
            if wait > self.max_wait:
                # Longer than the campaign accepts: do not stall the host; the retry
                # middleware's own limit decides this URL's fate.
                stats.inc_value("backoff/retry_after_too_long")
                return response
            stats.inc_value(f"backoff/http_{response.status}")
            if slot is not None and key is not None:
                self.saved_delay.setdefault(key, slot.delay)
                slot.delay = max(slot.delay, wait)
                slot.lastseen = time.monotonic()
        elif key in self.saved_delay and slot is not None and response.status < 400:
            slot.delay = self.saved_delay.pop(key)
        return response
