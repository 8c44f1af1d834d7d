"""Redirect targets go through the same seen-set and scope as links.

Scrapy's RedirectMiddleware re-schedules the target as a new request; without
this check a redirect to a page already fetched (or queued) would fetch it a
second time, and a redirect could leave the campaign's scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest

from owd.core.urls import canonical_url
from owd.crawler.warc_middleware import CONDITIONAL_HEADERS, REVISIT_META

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

__all__ = ["RedirectSeenMiddleware"]


class RedirectSeenMiddleware:
    def __init__(self, crawler: "Crawler") -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: "Crawler") -> "RedirectSeenMiddleware":
        return cls(crawler)

    def process_request(self, request: "Request", spider: "Spider | None" = None) -> None:
        if not request.meta.get("redirect_urls") or request.meta.get("owd_redirect_checked") == request.url:
            return
        if request.meta.pop(REVISIT_META, None) is not None:
            # A revisit that was redirected: the validators belong to the old URL, and
            # what comes back is not a revisit of it (Scrapy copies meta and headers over).
            for name in CONDITIONAL_HEADERS:
                request.headers.pop(name, None)
        spider = spider or self.crawler.spider
        frontier, scope = getattr(spider, "frontier", None), getattr(spider, "scope", None)
        if frontier is None or scope is None:
            return
        canon = canonical_url(request.url)
        stats = self.crawler.stats
        # the frontier's seen-set (crawler/frontier_store.py): see() is True for a new URL
        if not frontier.see(canon):
            stats.inc_value("redirects/to_seen")
            raise IgnoreRequest(f"redirect to an already seen URL: {request.url}")
        forward = getattr(spider, "forward_redirect", None)
        if forward is not None and forward(canon, request):
            raise IgnoreRequest(f"redirect to a host another crawler owns, forwarded: {request.url}")
        reason = scope.in_scope(canon)
        if reason:
            stats.inc_value(f"redirects/out_of_scope/{reason}")
            raise IgnoreRequest(f"redirect out of scope ({reason}): {request.url}")
        request.meta["owd_redirect_checked"] = request.url
