"""Scrapy's downloader with the per-host delay enforced between actual download starts.

Scrapy stamps a slot's ``lastseen`` when it takes a request off the slot queue;
the coroutine that actually sends it may start a few hundred milliseconds later
when the reactor is busy parsing a large page, and by then the slot may have
released the next request too, so on the wire two requests to one host could
leave almost together (measured on the test web: 0.0 s apart with a 0.2 s delay;
more often in a distributed crawl, whose reactor also reads forwarded links).
So each slot also keeps the time its last download started, and a download that
would start sooner than ``delay`` after it waits for its turn. The turn is
reserved before waiting, so requests released together leave one delay apart.
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
        # Slot objects have __slots__, so the last start is kept here, by slot identity.
        self._last_start: dict[int, float] = {}

    async def _download(self, slot: Any, request: Any) -> Any:
        if slot.delay:
            now = monotonic()
            if len(self._last_start) > self.MAX_REMEMBERED:
                self._last_start = {k: t for k, t in self._last_start.items() if now - t < 60}
            last = self._last_start.get(id(slot))
            turn = now if last is None else max(now, last + slot.delay)
            self._last_start[id(slot)] = turn
            if turn > now:
                from twisted.internet import reactor  # the one Scrapy installed (not at import time)

                await maybe_deferred_to_future(deferLater(reactor, turn - now, lambda: None))
            slot.lastseen = max(slot.lastseen, monotonic())
        return await super()._download(slot, request)
