"""Scrapy scheduler on the disk frontier (``SCHEDULER = "owd.crawler.scheduler.FrontierScheduler"``).

Scrapy's own scheduler keeps every request in memory queues and hands them to the
downloader, which then sits on them until each host's delay allows. This one keeps the
URLs in the frontier store (crawler/frontier_store.py) and hands Scrapy a request only
for a host that may be fetched now: one whose requests in flight are below its limit
(1 with a robots.txt Crawl-delay) and whose politeness rule, asked of the downloader
(crawler/politeness.py, the one place), lets a request start. So the downloader holds at
most a few requests per host, and a host with a long Crawl-delay does not tie up the
crawl's global concurrency while it waits.

In memory: one small :class:`_Host` per host with queued URLs (counts and a window of a
few URLs read ahead from the store), a FIFO of hosts ready now, and a heap of hosts
waiting for their time. Requests that come back without being fresh admissions
(retries, redirects) are few and wait in a small in-memory queue; their URL stays "in
flight" in the store, so a crash re-queues it.

Across hosts the order is round-robin among ready hosts (as Scrapy's
DownloaderAwarePriorityQueue balances its slots); within a host, the store's order:
priority (focus relevance - depth), then admission order.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from time import monotonic
from typing import TYPE_CHECKING, Any

from scrapy.core.scheduler import BaseScheduler

from owd.crawler.frontier_store import FrontierEntry, FrontierStore
from owd.core.urls import host_of

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

__all__ = ["FrontierScheduler", "frontier_host"]

FRESH_META = "owd_fresh"  # set by the spider on a newly admitted URL's request


def frontier_host(url: str) -> str:
    """The frontier's host key: the hostname, as the scope counts hosts (owd.core.urls.host_of)
    and as Scrapy keys its downloader slots (canonical URLs carry no trailing dot)."""
    return host_of(url)


@dataclass(slots=True)
class _Host:
    queued: int = 0  # in the store, not yet popped (the window included)
    in_flight: int = 0
    window: deque[FrontierEntry] = field(default_factory=deque)
    listed: bool = False  # in the ready FIFO or the waiting heap


class FrontierScheduler(BaseScheduler):
    # URLs read ahead per host. 1: a URL is "in flight" in the store only once it was handed
    # to Scrapy, so a SIGKILL re-queues exactly the requests in flight; a read costs ~20 µs.
    WINDOW = 1

    def __init__(self, crawler: "Crawler") -> None:
        self.crawler = crawler
        self.per_host = max(1, crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 1))
        self.hosts: dict[str, _Host] = {}
        self.ready: deque[str] = deque()
        self.waiting: list[tuple[float, str]] = []
        self.extra: deque[Request] = deque()
        self.queued = 0
        self.store: FrontierStore | None = None
        self.spider: Any = None
        self._wakeup: Any = None
        self._wake_time = 0.0  # monotonic
        self._confirmed_empty = False

    @classmethod
    def from_crawler(cls, crawler: "Crawler") -> "FrontierScheduler":
        return cls(crawler)

    # ---- lifecycle -------------------------------------------------------------------------
    def open(self, spider: "Spider") -> None:
        self.spider = spider
        store = getattr(spider, "frontier", None)
        if not isinstance(store, FrontierStore):
            raise RuntimeError("FrontierScheduler needs a spider with a `frontier` (FrontierStore)")
        self.store = store
        # the spider tells us when a URL is done (release); CampaignSpider declares the
        # attribute, scrapy's Spider (the type the scheduler interface gives) does not
        setattr(spider, "scheduler", self)
        for name, n in store.queued_by_host():
            self.hosts[name] = _Host(queued=n)
            self.queued += n
            self._list_ready(name)

    def close(self, reason: str) -> None:
        if self._wakeup is not None and self._wakeup.active():
            self._wakeup.cancel()
        if self.store is not None:
            # what was read ahead but never handed out goes back to its queue
            self.store.unpop(e for h in self.hosts.values() for e in h.window)
            self.store.close()

    def has_pending_requests(self) -> bool:
        if self.extra or self.queued > 0:
            return True
        return self._recount()

    def _recount(self) -> bool:
        """The per-host counts (kept in the store) say nothing is queued: before the crawl
        may end, count the store's queue keys once, so that a count that went wrong can
        never strand URLs. Asked again only after something new was queued."""
        if self._confirmed_empty or self.store is None:
            return False
        self._confirmed_empty = True
        if self.store.queued(exact=True) == 0:
            return False
        self.crawler.stats.inc_value("frontier/recounted")
        for name, n in self.store.queued_by_host(exact=True):
            host = self.hosts.setdefault(name, _Host())
            self.queued += n - host.queued
            host.queued = n
            self._list_ready(name)
        return self.queued > 0

    def __len__(self) -> int:
        return len(self.extra) + self.queued

    # ---- in ------------------------------------------------------------------------------
    def enqueue_request(self, request: "Request") -> bool:
        assert self.store is not None
        if not request.meta.pop(FRESH_META, False):
            self.extra.append(request)  # a retry or redirect of a URL already in flight
            return True
        # The spider queued the URL in the store when it admitted it; the request object is
        # dropped here and built again from the store when its turn comes.
        name = frontier_host(request.meta["owd_url"])
        self.store.maybe_commit()
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = _Host()
        host.queued += 1
        self.queued += 1
        self._confirmed_empty = False
        self._list_ready(name)
        self.crawler.stats.inc_value("frontier/queued")
        return True

    def release(self, url: str) -> None:
        """A URL handed out earlier is finished (answered, failed or refused)."""
        name = frontier_host(url)
        host = self.hosts.get(name)
        if host is None:
            return
        host.in_flight = max(0, host.in_flight - 1)
        if host.queued > 0:
            self._list_ready(name)
        elif host.in_flight == 0 and not host.window:
            del self.hosts[name]  # memory is per active host only
        if self.store is not None:
            self.store.maybe_commit()

    # ---- out -----------------------------------------------------------------------------
    def next_request(self) -> "Request | None":
        if self.extra:
            return self.extra.popleft()
        now = monotonic()
        while self.waiting and self.waiting[0][0] <= now:
            _, name = heapq.heappop(self.waiting)
            self.hosts[name].listed = False
            self._list_ready(name)
        while self.ready:
            name = self.ready.popleft()
            host = self.hosts[name]
            host.listed = False
            if host.queued <= 0 or host.in_flight >= self._limit(name):
                continue  # listed again when a request of it is released
            due = self._due(name)
            if due > now:
                host.listed = True
                heapq.heappush(self.waiting, (due, name))
                continue
            entry = self._take(name, host)
            if entry is None:
                continue
            assert self.store is not None
            host.in_flight += 1
            # The pop was one write batch in the store's log before it returned: after a SIGKILL
            # every URL that may have been fetched is "in flight", re-queued and counted. (The
            # commit writes the refused URLs' seen marks, which may wait: a loss re-refuses.)
            self.store.commit()
            if host.queued > 0 and host.in_flight < self._limit(name):
                self._list_ready(name)  # several in flight allowed: the downloader spaces them
            self.crawler.stats.inc_value("frontier/dequeued")
            return self.spider.request_for(entry)
        self._wake_at(self.waiting[0][0] if self.waiting else None, now)
        return None

    def snapshot(self) -> dict[str, Any]:
        """The live state for `owd status` (written to crawl/<worker>/frontier.json)."""
        now = monotonic()
        return {"queued": self.queued, "retries_waiting": len(self.extra), "active_hosts": len(self.hosts),
                "ready_hosts": len(self.ready), "waiting_hosts": len(self.waiting),
                "in_flight": sum(h.in_flight for h in self.hosts.values()),
                "next_due_in_s": round(max(0.0, self.waiting[0][0] - now), 3) if self.waiting else None}

    # ---- helpers -----------------------------------------------------------------------------
    def _take(self, name: str, host: _Host) -> FrontierEntry | None:
        assert self.store is not None
        if not host.window:
            host.window.extend(self.store.pop(name, self.WINDOW))
            self.store.maybe_commit()
        if not host.window:
            self.queued -= host.queued  # the counts were off (cannot happen unless the store was edited)
            host.queued = 0
            return None
        host.queued -= 1
        self.queued -= 1
        return host.window.popleft()

    def _list_ready(self, name: str) -> None:
        host = self.hosts[name]
        if not host.listed:
            host.listed = True
            self.ready.append(name)

    def _downloader(self) -> Any:
        engine = self.crawler.engine
        return getattr(engine, "downloader", None) if engine is not None else None

    def _due(self, name: str) -> float:
        downloader = self._downloader()
        due = getattr(downloader, "due", None)
        return due(name) if due is not None else float("-inf")

    def _limit(self, name: str) -> int:
        downloader = self._downloader()
        limit = getattr(downloader, "host_limit", None)
        return limit(name, self.per_host) if limit is not None else self.per_host

    def _wake_at(self, when: float | None, now: float) -> None:
        """Ask the engine for requests again when the first waiting host is due (it would
        otherwise wait for its next heartbeat, up to 5 s)."""
        from twisted.internet import reactor

        if when is None:
            return
        if self._wakeup is not None and self._wakeup.active():
            if self._wake_time <= when + 0.001:
                return
            self._wakeup.cancel()
        self._wake_time = when
        # twisted's zope interfaces declare methods without self, so mypy (without the
        # mypy-zope plugin) takes the delay for self and the callable for the delay
        self._wakeup = reactor.callLater(max(0.0, when - now), self._wake)  # type: ignore[arg-type]

    def _wake(self) -> None:
        self._wakeup = None
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None and getattr(slot, "nextcall", None) is not None:
            slot.nextcall.schedule()
