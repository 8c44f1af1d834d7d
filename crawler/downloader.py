"""Scrapy's downloader with the per-host delay enforced between actual download starts.

Scrapy stamps a slot's ``lastseen`` when it takes a request off the slot queue;
the coroutine that actually sends it may start a few hundred milliseconds later
when the reactor is busy parsing a large page, and by then the slot may have
released the next request too, so on the wire two requests to one host could
leave almost together (measured on the test web: 0.0 s apart with a 0.2 s delay;
more often in a distributed crawl, whose reactor also reads forwarded links).
So each slot also keeps when its last download really started, and a download
that would start sooner than ``delay`` after it waits. Requests released
together reserve successive turns first (so they do not all wake at once), and
each checks again on waking, since the one before it may itself have started late.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from scrapy.core.downloader import Downloader
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

__all__ = ["PoliteDownloader"]


class PoliteDownloader(Downloader):
    #: prune remembered start times beyond this many slots (Scrapy itself drops idle slots)
    MAX_REMEMBERED = 10_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Slot objects have __slots__, so their times are kept here, by slot identity:
        # when the last download really started, and the next turn not yet reserved.
        self._started: dict[int, float] = {}
        self._next_turn: dict[int, float] = {}

    async def _download(self, slot: Any, request: Any) -> Any:
        if slot.delay:
            await self._wait_turn(slot)
        return await super()._download(slot, request)

    async def _wait_turn(self, slot: Any) -> None:
        from twisted.internet import reactor  # the one Scrapy installed (not at import time)

        key, delay = id(slot), slot.delay
        now = monotonic()
        if len(self._started) > self.MAX_REMEMBERED:
            self._started = {k: t for k, t in self._started.items() if now - t < 60}
            self._next_turn = {k: t for k, t in self._next_turn.items() if k in self._started}
        turn = max(now, self._next_turn.get(key, now))
        self._next_turn[key] = turn + delay
        while True:
            started = self._started.get(key)
            due = max(turn, started + delay if started is not None else turn)
            now = monotonic()
            if due <= now:
                break
            await maybe_deferred_to_future(deferLater(reactor, due - now, lambda: None))
        self._started[key] = now
        self._next_turn[key] = max(self._next_turn[key], now + delay)
        slot.lastseen = max(slot.lastseen, now)
