"""DNS for the crawler: a static host table, then the address guard.

The guard refuses private, loopback, link-local, multicast and reserved
addresses *after* resolution (a public name can point at 127.0.0.1), unless the
campaign allow-lists the network. IP-literal URLs never reach a resolver in
Twisted, so :class:`AddressGuardMiddleware` applies the same rule to them.
The rule itself (:class:`AddressGuard`) lives in owd.core.networks, shared with
owd.core.download; it is re-exported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

from owd.core.networks import AddressGuard
from owd.core.urls import host_of, is_ip_literal

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

__all__ = ["AddressRefused", "AddressGuard", "GuardedResolver", "AddressGuardMiddleware", "read_hosts_file"]


class AddressRefused(IgnoreRequest):
    """The host resolves to an address the campaign may not connect to.

    An IgnoreRequest, so Scrapy neither retries nor logs it as an error; the
    spider's errback counts it under ``guard/refused`` (and keeps the first refused
    address, so a crawl that fetched nothing can name the network to allow).
    """

    def __init__(self, message: str, address: str = "") -> None:
        super().__init__(message)
        self.address = address


def read_hosts_file(path: Path) -> dict[str, str]:
    """Parse a hosts(5) file: ``address name [alias...]`` lines, ``#`` comments."""
    table: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2:
            for name in fields[1:]:
                table[name.lower()] = fields[0]
    return table


class GuardedResolver(CachingThreadedResolver):
    """``TWISTED_DNS_RESOLVER``: static table first, system DNS unless disabled, then the guard."""

    def __init__(self, reactor: Any, cache_size: int, timeout: float, hosts: dict[str, str],
                 static_only: bool, guard: AddressGuard) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.hosts = hosts
        self.static_only = static_only
        self.guard = guard

    @classmethod
    def from_crawler(cls, crawler: "Crawler", reactor: Any) -> "GuardedResolver":
        s = crawler.settings
        hosts = dict(s.getdict("OWD_HOSTS"))
        if s.get("OWD_HOSTS_FILE"):
            hosts = {**read_hosts_file(Path(s.get("OWD_HOSTS_FILE"))), **hosts}
        cache = s.getint("DNSCACHE_SIZE") if s.getbool("DNSCACHE_ENABLED") else 0
        return cls(reactor, cache, s.getfloat("DNS_TIMEOUT"), {k.lower(): v for k, v in hosts.items()},
                   s.getbool("OWD_STATIC_DNS_ONLY"), AddressGuard(s.getlist("OWD_ALLOW_NETWORKS")))

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> "defer.Deferred[str]":
        key = name.lower().rstrip(".")
        if is_ip_literal(key):
            # An address needs no lookup, static table or not (the guard still applies):
            # the connection code hands IP literals to the resolver too.
            d0: defer.Deferred[str] = defer.succeed(key.strip("[]"))
            return d0.addCallback(self._check, name)
        if key in self.hosts:
            d: defer.Deferred[str] = defer.succeed(self.hosts[key])
        elif self.static_only:
            return defer.fail(DNSLookupError(f"{name}: not in the campaign's static host table"))
        else:
            d = super().getHostByName(name, timeout)
        return d.addCallback(self._check, name)

    def _check(self, address: str, name: str) -> str:
        kind = self.guard.refusal(address)
        if kind:
            raise AddressRefused(f"{name} resolves to {address}, a {kind} address not allow-listed", address)
        return address


class AddressGuardMiddleware:
    """Downloader middleware that applies the guard before anything else is sent.

    IP-literal hosts never reach a resolver in Twisted, so they are checked here;
    names are resolved here through the installed resolver (its cache then serves
    the real connection), so a refusal surfaces as one :class:`AddressRefused`
    instead of a retried DNS error, and before a robots.txt fetch is attempted.
    """

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard

    @classmethod
    def from_crawler(cls, crawler: "Crawler") -> "AddressGuardMiddleware":
        return cls(AddressGuard(crawler.settings.getlist("OWD_ALLOW_NETWORKS")))

    async def process_request(self, request: "Request", spider: "Spider | None" = None) -> None:
        host = host_of(request.url)
        if is_ip_literal(host):
            kind = self.guard.refusal(host)
            if kind:
                raise AddressRefused(f"{host} is a {kind} address not allow-listed", host.strip("[]"))
            return
        from twisted.internet import reactor

        try:
            # twisted's zope interfaces declare methods without self: mypy (without the
            # mypy-zope plugin) takes the host name for self and checks it as the timeout
            await maybe_deferred_to_future(reactor.resolve(host))  # type: ignore[arg-type]
        except AddressRefused:
            raise
        except (DNSLookupError, OSError):
            return  # not our verdict: the download itself reports the DNS failure
