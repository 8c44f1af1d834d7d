"""One protocol file per origin, fetched once while that origin's requests wait.

robots.txt (crawler/robots_middleware.py) and tdmrep.json (crawler/tdm_middleware.py)
follow the same rule: no request to an origin goes out before the origin's file is
known, the file is fetched once however many requests arrive meanwhile, and the
outcome is reused until it expires. :class:`OriginFileCache` is that rule, written
once; each middleware keeps what is its own: how to fetch and judge its file, and
how long an outcome lasts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.statscollectors import StatsCollector

__all__ = ["OriginFileCache"]

T = TypeVar("T")


class OriginFileCache(Generic[T]):
    """Per-origin outcomes of ``fetch``, each kept until its expiry time.

    ``fetch(origin, request)`` downloads and judges the origin's file for the
    ``request`` that found it missing; it must turn download errors into an outcome
    (a host is never left without one), so only cancellation escapes it.
    ``expires_at(outcome)`` is asked as soon as the fetch returns; an outcome is
    fresh while ``clock()`` is below it. Each request that waits for a fetch
    already in flight counts once in the stat ``deferred_stat``.
    """

    def __init__(
        self,
        fetch: Callable[[str, Request], Awaitable[T]],
        *,
        expires_at: Callable[[T], float],
        clock: Callable[[], float],
        stats: StatsCollector,
        deferred_stat: str,
    ) -> None:
        self._fetch = fetch
        self._expires_at = expires_at
        self._clock = clock
        self._stats = stats
        self._deferred_stat = deferred_stat
        self._outcomes: dict[str, tuple[T, float]] = {}  # origin -> (outcome, expires at)
        # origin -> Deferreds of the requests waiting for its in-flight fetch
        self._waiting: dict[str, list[Deferred[T]]] = {}

    def cached(self, origin: str) -> T | None:
        """The last outcome for ``origin``, expired or not; None before the first fetch."""
        entry = self._outcomes.get(origin)
        return entry[0] if entry is not None else None

    async def current(self, origin: str, request: Request) -> T:
        """The outcome for ``origin``: cached, fetched now when there is none or it
        expired, or the one a fetch in flight will give."""
        entry = self._outcomes.get(origin)
        if entry is not None and self._clock() < entry[1]:
            return entry[0]
        waiting = self._waiting.get(origin)
        if waiting is not None:
            self._stats.inc_value(self._deferred_stat)
            waiter: Deferred[T] = Deferred()
            waiting.append(waiter)
            return await maybe_deferred_to_future(waiter)

        waiting = self._waiting[origin] = []
        try:
            outcome = await self._fetch(origin, request)
        except BaseException as exc:
            # Only cancellation gets here (fetch turns errors into outcomes);
            # the waiters must not hang on a fetch that will never finish.
            del self._waiting[origin]
            for waiter in waiting:
                waiter.errback(Failure(exc))
            raise
        # Stored before the waiters resume, so none of them starts a second fetch.
        self._outcomes[origin] = (outcome, self._expires_at(outcome))
        del self._waiting[origin]
        for waiter in waiting:
            waiter.callback(outcome)
        return outcome
