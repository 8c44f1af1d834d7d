"""OriginFileCache on its own: one fetch per origin shared by the requests that wait
for it, reuse until expiry, and waiters released when the fetch is cancelled. (The
middlewares that use it are tested in real crawls: test_robots_middleware, test_tdm.)

Run under asyncio.run: with a running asyncio loop Scrapy's maybe_deferred_to_future
hands out asyncio futures, as in a crawl on the asyncio reactor."""

from __future__ import annotations

import asyncio

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from owd.crawler.origin_files import OriginFileCache

ORIGIN = "http://a.eu"


class Origins:
    """A fetch function that counts its calls and finishes when told to."""

    def __init__(self, ttl: float = 10.0) -> None:
        self.now = 100.0
        self.ttl = ttl
        self.calls: list[tuple[str, str]] = []
        self.release: asyncio.Event | None = None
        self.stats = get_crawler().stats
        self.cache: OriginFileCache[str] = OriginFileCache(
            self.fetch, expires_at=lambda _o: self.now + self.ttl, clock=lambda: self.now,
            stats=self.stats, deferred_stat="test/deferred")

    async def fetch(self, origin: str, request: Request) -> str:
        self.calls.append((origin, request.url))
        if self.release is not None:
            await self.release.wait()
        return f"file of {origin} #{len(self.calls)}"


def _request(path: str = "/") -> Request:
    return Request(f"{ORIGIN}{path}")


def test_one_fetch_is_shared_by_the_requests_that_wait() -> None:
    origins = Origins()

    async def main() -> list[str]:
        origins.release = asyncio.Event()
        tasks = [asyncio.ensure_future(origins.cache.current(ORIGIN, _request(f"/{i}"))) for i in range(3)]
        await asyncio.sleep(0)
        assert origins.cache.cached(ORIGIN) is None  # not known while in flight
        origins.release.set()
        return list(await asyncio.gather(*tasks))

    results = asyncio.run(main())
    assert results == ["file of http://a.eu #1"] * 3
    assert origins.calls == [(ORIGIN, f"{ORIGIN}/0")]  # the first request's fetch, once
    assert origins.stats.get_value("test/deferred") == 2
    assert origins.cache.cached(ORIGIN) == "file of http://a.eu #1"


def test_outcome_is_reused_until_it_expires() -> None:
    origins = Origins(ttl=10.0)

    async def main() -> list[str]:
        got = [await origins.cache.current(ORIGIN, _request())]
        origins.now += 9.9
        got.append(await origins.cache.current(ORIGIN, _request()))
        origins.now += 0.1  # exactly at the expiry time: expired
        assert origins.cache.cached(ORIGIN) == "file of http://a.eu #1"  # stale, still readable
        got.append(await origins.cache.current(ORIGIN, _request()))
        got.append(await origins.cache.current("https://b.eu", Request("https://b.eu/")))
        return got

    assert asyncio.run(main()) == ["file of http://a.eu #1", "file of http://a.eu #1", "file of http://a.eu #2",
                                   "file of https://b.eu #3"]
    assert origins.stats.get_value("test/deferred") is None


def test_cancelled_fetch_releases_the_waiters_and_caches_nothing() -> None:
    origins = Origins()

    async def main() -> tuple[list[BaseException | str], str]:
        origins.release = asyncio.Event()
        owner = asyncio.ensure_future(origins.cache.current(ORIGIN, _request("/owner")))
        await asyncio.sleep(0)
        waiters = [asyncio.ensure_future(origins.cache.current(ORIGIN, _request(f"/{i}"))) for i in range(2)]
        await asyncio.sleep(0)
        owner.cancel()
        outcomes = await asyncio.gather(owner, *waiters, return_exceptions=True)
        origins.release = None
        return list(outcomes), await origins.cache.current(ORIGIN, _request("/after"))  # a new fetch

    outcomes, after = asyncio.run(main())
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes), outcomes
    assert after == "file of http://a.eu #2"
    assert [url for _, url in origins.calls] == [f"{ORIGIN}/owner", f"{ORIGIN}/after"]


def test_fetch_errors_are_the_fetch_functions_business() -> None:
    # An exception other than cancellation is a bug in the fetch function: it propagates
    # to every request of the origin, and nothing is cached.
    async def broken(origin: str, request: Request) -> str:
        raise ValueError(origin)

    cache: OriginFileCache[str] = OriginFileCache(broken, expires_at=lambda _o: 1e9, clock=lambda: 0.0,
                                                  stats=get_crawler().stats, deferred_stat="test/deferred")
    with pytest.raises(ValueError):
        asyncio.run(cache.current(ORIGIN, _request()))
    assert cache.cached(ORIGIN) is None
