"""Scrapy's downloader with owd's politeness rule (crawler/politeness.py) applied where
requests actually start.

Scrapy spaces a slot's requests by ``slot.delay`` counted from when it *dequeued* the
previous one, and AutoThrottle rewrites ``slot.delay`` freely (down to DOWNLOAD_DELAY,
below a robots.txt Crawl-delay). That cannot express "after the previous response ended",
nor "Crawl-delay is a floor". So every download passes through :meth:`_wait_turn`, which
holds it until :class:`~crawler.politeness.PolitenessRule` says the host may be asked
again, and records when it really started and ended. ``slot.delay`` (AutoThrottle,
Retry-After) is one more term of the rule's ``max``: it can raise the gap, never lower it.

A waiting request keeps its place in ``slot.transferring``, so per-host concurrency
counts requests waiting for their turn as well as those on the wire; a host with a
Crawl-delay gets concurrency 1.

On shutdown :meth:`abandon_waiting` fails every request still waiting for a turn (or
queued in a slot), so Scrapy's graceful stop does not sit out a long Crawl-delay or
Retry-After; those URLs stay in the frontier store and ``--resume`` asks for them again.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from scrapy.core.downloader import Downloader
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import deferLater

from owd.crawler.politeness import HostClock, PolitenessRule
from owd.crawler.robots_middleware import CRAWL_DELAY_META

__all__ = ["PoliteDownloader", "CrawlStopping"]


class CrawlStopping(IgnoreRequest):
    """The crawl is stopping: the request was not sent (the frontier keeps it for --resume)."""


class PoliteDownloader(Downloader):
    #: prune clocks of hosts idle this long (Scrapy itself drops slots idle for a minute)
    PRUNE_IDLE_S = 600.0
    PRUNE_EVERY = 5_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.settings
        self.rule = PolitenessRule(
            delay=s.getfloat("DOWNLOAD_DELAY"),
            slow_host_factor=s.getfloat("OWD_SLOW_HOST_FACTOR", 5.0),
            slow_host_max_delay=s.getfloat("OWD_SLOW_HOST_MAX_DELAY", 30.0),
        )
        # By slot key (the host), not by Slot object: Scrapy drops idle slots and makes new
        # ones, and a host's Crawl-delay and last response must outlive that.
        self.clocks: dict[str, HostClock] = {}
        self._sleeps: set[Deferred[None]] = set()
        self._stopping = False
        self._downloads = 0

    def due(self, key: str) -> float:
        """When (monotonic) the next request to host ``key`` may start: the scheduler
        (crawler/scheduler.py) asks, so that it hands out only requests that may go now."""
        clock = self.clocks.get(key)
        if clock is None:
            return float("-inf")
        slot = self.slots.get(key)
        return self.rule.earliest_start(clock, slot.delay if slot is not None else 0.0)

    def host_limit(self, key: str, default: int) -> int:
        """Requests that may be in flight to host ``key``: 1 while it has a Crawl-delay."""
        clock = self.clocks.get(key)
        return 1 if clock is not None and clock.crawl_delay else default

    def _clock(self, key: str) -> HostClock:
        clock = self.clocks.get(key)
        if clock is None:
            clock = self.clocks[key] = HostClock()
        return clock

    async def _download(self, slot: Any, request: Any) -> Any:
        key = request.meta.get(self.DOWNLOAD_SLOT, "")
        clock = self._clock(key)
        crawl_delay = request.meta.get(CRAWL_DELAY_META) or 0.0
        if crawl_delay > clock.crawl_delay:
            clock.crawl_delay = crawl_delay
        if clock.crawl_delay:
            slot.concurrency = 1
        slot.transferring.add(request)  # a request waiting for its turn holds a transfer place
        try:
            await self._wait_turn(slot, clock)
        except BaseException:
            slot.transferring.discard(request)
            self._process_queue(slot)
            raise
        started = monotonic()
        clock.started(started)
        slot.lastseen = max(slot.lastseen, started)
        try:
            return await super()._download(slot, request)
        finally:
            clock.ended(started, monotonic())
            self._downloads += 1
            if self._downloads % self.PRUNE_EVERY == 0:
                self._prune(monotonic())

    async def _wait_turn(self, slot: Any, clock: HostClock) -> None:
        from twisted.internet import reactor  # the one Scrapy installed (not at import time)

        # Yield once: the download that just freed this transfer place records its end
        # right after it hands the slot on, and the rule must see that end.
        await self._sleep(reactor, 0.0)
        while True:
            due = self.rule.earliest_start(clock, slot.delay)
            now = monotonic()
            if due <= now:
                return
            await self._sleep(reactor, due - now)

    async def _sleep(self, reactor: Any, seconds: float) -> None:
        if self._stopping:
            raise CrawlStopping("crawl stopping: request not sent")
        d: Deferred[None] = deferLater(reactor, seconds, lambda: None)
        self._sleeps.add(d)
        try:
            await maybe_deferred_to_future(d)
        except CancelledError:
            raise CrawlStopping("crawl stopping: request not sent") from None
        finally:
            self._sleeps.discard(d)

    def abandon_waiting(self) -> int:
        """Fail every request that waits for its turn or sits in a slot queue; return how
        many. Requests already on the wire finish (within DOWNLOAD_TIMEOUT)."""
        self._stopping = True
        count = len(self._sleeps)
        for d in list(self._sleeps):
            d.cancel()
        for slot in self.slots.values():
            slot.close()  # its pending latercall would only dequeue into a failure
            while slot.queue:
                request, queued = slot.queue.popleft()
                count += 1
                queued.errback(CrawlStopping(f"crawl stopping: {request.url} not sent"))
        return count

    def _prune(self, now: float) -> None:
        idle = [k for k, c in self.clocks.items()
                if k not in self.slots and (c.last_end or c.last_start or 0.0) < now - self.PRUNE_IDLE_S]
        for key in idle:
            del self.clocks[key]
