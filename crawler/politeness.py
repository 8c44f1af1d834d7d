"""The politeness rule, in one place.

Per host, the next request may start no earlier than::

    max(delay, Crawl-delay, min(k x last response time, slow_max)) [, AutoThrottle/Retry-After]

after the host's previous response *ended* (and after its previous request started,
which only matters when an operator allows several requests in flight per host).

* ``delay`` is the campaign's ``politeness.delay``.
* ``Crawl-delay`` is the host's robots.txt value (for our product token, else ``*``);
  a host asking for more than ``politeness.max_crawl_delay`` is not crawled further
  (crawler/robots_middleware.py refuses its requests) rather than crawled faster than it
  asked. While a host has a Crawl-delay, one request at a time goes to it.
* ``k x last response time``: a host that takes 4 s to answer waits ``4k`` s for the next
  request. Heritrix's frontier does the same (``delayFactor``, default 5, capped by
  ``maxDelayMs``, default 30 s); owd uses the same defaults.
* A slot's own delay (what AutoThrottle computes, or what a 429/503 Retry-After set) is
  one more term of the ``max``: it can raise the gap, never lower it.

Counting from the end of the response matters for slow hosts: counted from the start,
a 4 s reply followed by a 1 s delay sends the next request the moment the reply is in.

:class:`HostClock` is the state of one host; :class:`PolitenessRule` turns it into the
earliest start. The downloader (crawler/downloader.py) is the only caller.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HostClock", "PolitenessRule"]


@dataclass(slots=True)
class HostClock:
    """What the rule needs to know about one host (times are ``time.monotonic()``)."""

    last_start: float | None = None  # when the latest request to it went out
    last_end: float | None = None  # when the latest response from it ended (or failed)
    last_duration: float = 0.0  # how long that response took, start to end
    crawl_delay: float = 0.0  # robots.txt Crawl-delay, 0 when none

    def started(self, now: float) -> None:
        self.last_start = now

    def ended(self, started: float, now: float) -> None:
        # With several requests in flight (an operator's choice, never with a Crawl-delay)
        # responses may end out of order: keep the latest end, and the duration of that one.
        if self.last_end is None or now >= self.last_end:
            self.last_end = now
            self.last_duration = max(0.0, now - started)


@dataclass(frozen=True)
class PolitenessRule:
    delay: float = 1.0
    slow_host_factor: float = 5.0
    slow_host_max_delay: float = 30.0

    def gap(self, host: HostClock, slot_delay: float = 0.0) -> float:
        """Seconds between the end of the host's previous response and its next request."""
        slow = min(self.slow_host_factor * host.last_duration, self.slow_host_max_delay)
        return max(self.delay, host.crawl_delay, slow, slot_delay)

    def earliest_start(self, host: HostClock, slot_delay: float = 0.0) -> float:
        """The first moment (monotonic) the next request to ``host`` may start."""
        gap = self.gap(host, slot_delay)
        due = float("-inf")
        if host.last_start is not None:
            due = host.last_start + gap
        if host.last_end is not None:
            due = max(due, host.last_end + gap)
        return due
