"""Scrapy downloader middleware that obeys robots.txt per RFC 9309.

Replaces ``scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware``,
which lets everything through when robots.txt answers 5xx or cannot be
fetched; RFC 9309 §2.3.1.4 requires the opposite. Enable it instead of
Scrapy's own::

    DOWNLOADER_MIDDLEWARES = {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "crawler.robots_middleware.RobotsMiddleware": 100,
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
``robots/crawl_delay_applied`` (a downloader slot was slowed down),
``robots/crawl_delay_max`` (largest Crawl-delay applied, seconds),
``robots/crawl_delay_no_slot`` (Crawl-delay known but the slot was not found).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler.robots import (
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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.crawler = crawler
        self.user_agent_token = user_agent_token
        self.unreachable_retry_s = unreachable_retry_s
        self.max_age_s = max_age_s
        self._clock = clock
        self._stats = crawler.stats
        self._verdicts: dict[str, RobotsVerdict] = {}
        # origin -> Deferreds of the requests waiting for its in-flight fetch
        self._waiting: dict[str, list[Deferred[RobotsVerdict]]] = {}
        crawler.signals.connect(self._on_request_reached_downloader, signal=signals.request_reached_downloader)

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
        )

    def verdict_for(self, origin: str) -> RobotsVerdict | None:
        """The cached verdict for ``origin`` (see :func:`robots_origin`), if any."""
        return self._verdicts.get(origin)

    async def process_request(self, request: Request) -> None:
        """Let ``request`` through, or raise IgnoreRequest if robots.txt forbids it."""
        if request.meta.get("dont_obey_robotstxt"):
            return
        if urlparse_cached(request).scheme not in _SCHEMES:
            return
        origin, robots_url = robots_origin(request)
        verdict = await self._verdict(origin, robots_url, request)
        allowed = verdict.allowed(request.url, self.user_agent_token)
        request.meta["robots"] = {
            "verdict": "allowed" if allowed else "disallowed",
            "reason": verdict.reason,
            "robots_url": robots_url,
            "robots_status": verdict.status,
        }
        if allowed:
            self._stats.inc_value("robots/allowed")
            return
        self._stats.inc_value("robots/disallowed")
        self._stats.inc_value(f"robots/disallowed/{verdict.reason}")
        logger.debug("Forbidden by robots.txt (%s): %s", verdict.reason, request)
        raise IgnoreRequest(f"Forbidden by robots.txt ({verdict.reason})")

    async def _verdict(self, origin: str, robots_url: str, request: Request) -> RobotsVerdict:
        """The current verdict for ``origin``: cached, or fetched now when there
        is none or it expired, or the one a fetch in flight will give."""
        cached = self._verdicts.get(origin)
        if cached is not None and not cached.expired(self._clock()):
            return cached
        waiting = self._waiting.get(origin)
        if waiting is not None:
            self._stats.inc_value("robots/deferred")
            waiter: Deferred[RobotsVerdict] = Deferred()
            waiting.append(waiter)
            return await maybe_deferred_to_future(waiter)

        waiting = self._waiting[origin] = []
        try:
            verdict = await self._fetch(robots_url, request)
        except BaseException as exc:
            # Only cancellation gets here (_fetch turns errors into verdicts);
            # the waiters must not hang on a fetch that will never finish.
            del self._waiting[origin]
            for waiter in waiting:
                waiter.errback(Failure(exc))
            raise
        self._verdicts[origin] = verdict
        del self._waiting[origin]
        for waiter in waiting:
            waiter.callback(verdict)
        return verdict

    async def _fetch(self, robots_url: str, request: Request) -> RobotsVerdict:
        """Download ``robots_url`` through the engine and judge the outcome."""
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

    def _on_request_reached_downloader(self, request: Request, spider: Any = None) -> None:
        """Make the request's downloader slot honour its host's Crawl-delay.

        Runs on every request because the downloader drops idle slots after
        a minute (a new one starts from DOWNLOAD_DELAY) and AutoThrottle may
        lower a slot's delay; by now the slot exists and has not yet decided
        when to send this request.
        """
        if urlparse_cached(request).scheme not in _SCHEMES:
            return
        verdict = self._verdicts.get(robots_origin(request)[0])
        if verdict is None:
            return
        crawl_delay = verdict.rules.crawl_delay(self.user_agent_token)
        if not crawl_delay:
            return
        downloader = self.crawler.engine.downloader if self.crawler.engine else None
        slot = downloader.slots.get(request.meta.get(downloader.DOWNLOAD_SLOT, "")) if downloader else None
        if slot is None:
            self._stats.inc_value("robots/crawl_delay_no_slot")
            return
        delay = max(slot.delay, crawl_delay)
        # The slot waits delay * (1 ± jitter); cap the jitter so that even
        # the shortest wait is the Crawl-delay.
        jitter = min(slot.jitter, max(0.0, 1.0 - crawl_delay / delay))
        if delay != slot.delay or jitter != slot.jitter:
            slot.delay, slot.jitter = delay, jitter
            self._stats.inc_value("robots/crawl_delay_applied")
            self._stats.max_value("robots/crawl_delay_max", crawl_delay)
