"""Scrapy downloader middleware that obeys robots.txt per RFC 9309.

Replaces ``scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware``,
which lets everything through when robots.txt answers 5xx or cannot be
fetched; RFC 9309 §2.3.1.4 requires the opposite. Enable it instead of
Scrapy's own::

    DOWNLOADER_MIDDLEWARES = {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "owd.crawler.robots_middleware.RobotsMiddleware": 100,
    }

Settings: ``ROBOTSTXT_OBEY`` (off -> NotConfigured), ``USER_AGENT``,
``OWD_ROBOTS_USER_AGENT_TOKEN`` (the product token matched against
robots.txt groups; default: USER_AGENT up to its first ``/``),
``OWD_ROBOTS_UNREACHABLE_RETRY`` (seconds a host stays disallowed after an
unreachable robots.txt; default 600), ``OWD_ROBOTS_MAX_AGE`` (seconds a
fetched robots.txt is used; default 86400).

Each request that goes through gets ``request.meta["robots"]``:
``{"verdict": "allowed" | "disallowed", "reason": <fetch reason>,
"robots_url": ..., "robots_status": <int | None>}``.

Stats: ``robots/fetch/<reason>``, ``robots/fetch_error/<exception>``,
``robots/allowed``, ``robots/disallowed``, ``robots/disallowed/<reason>``,
``robots/deferred`` (requests that waited for an in-flight fetch),
``robots/crawl_delay_max`` (largest Crawl-delay met, seconds),
``politeness/crawl_delay_over_max`` (requests refused because the host's Crawl-delay
exceeds ``OWD_MAX_CRAWL_DELAY``).

The Crawl-delay travels in ``request.meta["owd_crawl_delay"]`` (also on requests exempt
from the rules, once the origin's robots.txt is known); the downloader
(crawler/downloader.py) makes it a floor of the host's politeness rule.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Self

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.httpobj import urlparse_cached

from owd.crawler.origin_files import OriginFileCache
from owd.crawler.robots import (
    DEFAULT_MAX_AGE_S,
    DEFAULT_UNREACHABLE_RETRY_S,
    RobotsVerdict,
    product_token,
    rules_for_fetch,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_SCHEMES = ("http", "https")
#: request.meta key: the host's robots.txt Crawl-delay, read by crawler/downloader.py
CRAWL_DELAY_META = "owd_crawl_delay"
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def robots_origin(request: Request) -> tuple[str, str]:
    """(origin, robots.txt URL) for an http(s) request; the origin
    (``scheme://host[:port]``, default port dropped) is the cache key because
    a robots.txt governs only its own scheme, host and port (RFC 9309 §2.3)."""
    parsed = urlparse_cached(request)
    hostport = parsed.netloc.rpartition("@")[2].lower()
    default_port = _DEFAULT_PORTS.get(parsed.scheme, "")
    if default_port and hostport.endswith(default_port):
        hostport = hostport[: -len(default_port)]
    origin = f"{parsed.scheme}://{hostport}"
    return origin, f"{origin}/robots.txt"


class RobotsMiddleware:
    """Fetch each origin's robots.txt once, then allow or refuse its requests."""

    # Same priority Scrapy's RobotsTxtMiddleware gives its robots.txt requests.
    DOWNLOAD_PRIORITY: int = 1000

    def __init__(
        self,
        crawler: Crawler,
        *,
        user_agent_token: str,
        unreachable_retry_s: float = DEFAULT_UNREACHABLE_RETRY_S,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        max_crawl_delay: float = float("inf"),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.crawler = crawler
        self.user_agent_token = user_agent_token
        self.unreachable_retry_s = unreachable_retry_s
        self.max_age_s = max_age_s
        self.max_crawl_delay = max_crawl_delay
        self._clock = clock
        self._stats = crawler.stats
        self._verdicts: OriginFileCache[RobotsVerdict] = OriginFileCache(
            self._fetch,
            expires_at=lambda verdict: verdict.expires_at,  # set by rules_for_fetch, per outcome
            clock=clock,
            stats=self._stats,
            deferred_stat="robots/deferred",
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build from crawler settings; NotConfigured unless ROBOTSTXT_OBEY."""
        settings = crawler.settings
        if not settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured("ROBOTSTXT_OBEY is off")
        token = settings.get("OWD_ROBOTS_USER_AGENT_TOKEN") or product_token(settings.get("USER_AGENT") or "")
        if not token:
            logger.warning("No robots.txt user-agent token: only '*' groups will apply")
        return cls(
            crawler,
            user_agent_token=token,
            unreachable_retry_s=settings.getfloat("OWD_ROBOTS_UNREACHABLE_RETRY", DEFAULT_UNREACHABLE_RETRY_S),
            max_age_s=settings.getfloat("OWD_ROBOTS_MAX_AGE", DEFAULT_MAX_AGE_S),
            max_crawl_delay=settings.getfloat("OWD_MAX_CRAWL_DELAY", float("inf")),
        )

    def verdict_for(self, origin: str) -> RobotsVerdict | None:
        """The cached verdict for ``origin`` (see :func:`robots_origin`), if any."""
        return self._verdicts.cached(origin)

    async def process_request(self, request: Request) -> None:
        """Let ``request`` through, or raise IgnoreRequest if robots.txt forbids it."""
        if urlparse_cached(request).scheme not in _SCHEMES:
            return
        if request.meta.get("dont_obey_robotstxt"):
            # Exempt from the rules (robots.txt itself, tdmrep.json), not from the pace.
            known = self._verdicts.cached(robots_origin(request)[0])
            if known is not None:
                request.meta[CRAWL_DELAY_META] = known.rules.crawl_delay(self.user_agent_token) or 0.0
            return
        origin, robots_url = robots_origin(request)
        verdict = await self._verdicts.current(origin, request)
        allowed = verdict.allowed(request.url, self.user_agent_token)
        crawl_delay = verdict.rules.crawl_delay(self.user_agent_token) or 0.0
        request.meta[CRAWL_DELAY_META] = crawl_delay
        request.meta["robots"] = {
            "verdict": "allowed" if allowed else "disallowed",
            "reason": verdict.reason,
            "robots_url": robots_url,
            "robots_status": verdict.status,
            "crawl_delay": crawl_delay,
        }
        if allowed and crawl_delay > self.max_crawl_delay:
            # Crawling it faster than it asks is never an option, and at its pace one host
            # would hold the campaign for days: leave it, counted, for the operator to decide.
            self._stats.inc_value("politeness/crawl_delay_over_max")
            self._stats.max_value("robots/crawl_delay_max", crawl_delay)
            raise IgnoreRequest(f"robots.txt Crawl-delay {crawl_delay:g} s exceeds politeness.max_crawl_delay "
                                f"({self.max_crawl_delay:g} s)")
        if allowed:
            self._stats.inc_value("robots/allowed")
            if crawl_delay:
                self._stats.max_value("robots/crawl_delay_max", crawl_delay)
            return
        self._stats.inc_value("robots/disallowed")
        self._stats.inc_value(f"robots/disallowed/{verdict.reason}")
        logger.debug("Forbidden by robots.txt (%s): %s", verdict.reason, request)
        raise IgnoreRequest(f"Forbidden by robots.txt ({verdict.reason})")

    async def _fetch(self, origin: str, request: Request) -> RobotsVerdict:
        """Download the origin's robots.txt through the engine and judge the outcome."""
        robots_url = f"{origin}/robots.txt"
        robots_request = Request(
            robots_url,
            priority=self.DOWNLOAD_PRIORITY,
            meta={"dont_obey_robotstxt": True},
            callback=NO_CALLBACK,
        )
        assert self.crawler.engine is not None
        status: int | None = None
        body: bytes | None = None
        try:
            response = await self.crawler.engine.download_async(robots_request)
            status, body = response.status, response.body
        except Exception as exc:  # noqa: BLE001 -- counted, becomes "unreachable_error"
            self._stats.inc_value(f"robots/fetch_error/{type(exc).__name__}")
            logger.info("robots.txt unreachable at %s: %r", robots_url, exc)
        verdict = rules_for_fetch(
            status,
            body,
            self._clock(),
            unreachable_retry_s=self.unreachable_retry_s,
            max_age_s=self.max_age_s,
        )
        self._stats.inc_value(f"robots/fetch/{verdict.reason}")
        if verdict.reason == "parsed":
            await self.crawler.signals.send_catch_log_async(
                signal=signals.robots_parsed, robotparser=verdict.rules, request=request
            )
        return verdict
