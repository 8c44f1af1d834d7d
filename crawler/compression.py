"""Decompression with its own cap (``limits.max_decompressed_bytes``).

Scrapy's HttpCompressionMiddleware bounds the *decompressed* body with
DOWNLOAD_MAXSIZE, the same number that bounds the bytes on the wire. A crawl
wants two numbers: a small page may legitimately inflate 5-10x, while a 100 KB
gzip bomb must still stop. Per-request ``download_maxsize`` (media caps) wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["BoundedDecompressionMiddleware"]


class BoundedDecompressionMiddleware(HttpCompressionMiddleware):
    def __init__(self, *, crawler: "Crawler") -> None:
        super().__init__(crawler=crawler)
        self._max_size = crawler.settings.getint("OWD_MAX_DECOMPRESSED_BYTES", self._max_size)
