"""Decompression with its own cap (``limits.max_decompressed_bytes``).

Scrapy's HttpCompressionMiddleware bounds the *decompressed* body with
DOWNLOAD_MAXSIZE, the same number that bounds the bytes on the wire. A crawl
wants two numbers: a small page may legitimately inflate 5-10x, while a 100 KB
gzip bomb must still stop. Per-request ``download_maxsize`` (media caps) wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

__all__ = ["BoundedDecompressionMiddleware"]


class BoundedDecompressionMiddleware(HttpCompressionMiddleware):
    def __init__(self, *, crawler: "Crawler") -> None:
        super().__init__(crawler=crawler)
        self._max_size = crawler.settings.getint("OWD_MAX_DECOMPRESSED_BYTES", self._max_size)

    def process_response(self, request: "Request", response: Any, spider: "Spider | None" = None) -> Any:
        try:
            return super().process_response(request, response, spider)
        except IgnoreRequest:
            # The one refusal Scrapy raises here: the body inflated past the cap (a bomb).
            if self.stats:
                self.stats.inc_value("limits/decompressed_too_large")
            raise
