"""Why a crawl fetched nothing, in one line an operator can act on.

A crawl whose every seed was refused (by the address guard, DNS, scope, robots.txt, the
politeness cap) used to end "successfully" with 0 pages; the reason sat in a counter of
stats.json. :func:`nothing_fetched` reads the same stats and names the causes with their
counts and the fix.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Iterable, Mapping

__all__ = ["fetched_anything", "nothing_fetched", "merged_stats", "DNS_ERRORS"]

#: Twisted's name for a failed lookup, and Scrapy's (2.14+) wrapper of it
DNS_ERRORS = ("DNSLookupError", "CannotResolveHostError")


def merged_stats(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The stats of several crawlers as one: numbers added, the first other value kept."""
    out: dict[str, Any] = {}
    for stats in parts:
        for key, value in stats.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = out.get(key, 0) + value
            else:
                out.setdefault(key, value)
    return out


def _sum(stats: Mapping[str, Any], prefix: str) -> int:
    return sum(int(v) for k, v in stats.items() if k.startswith(prefix) and isinstance(v, (int, float)))


def fetched_anything(stats: Mapping[str, Any]) -> bool:
    """Whether any page, media file, sitemap or HTTP error answer reached the crawl
    (robots.txt and tdmrep.json answers alone do not count)."""
    return (_sum(stats, "pages/fetched") + _sum(stats, "media/fetched/") + _sum(stats, "sitemaps/fetched")
            + _sum(stats, "errors/http_")) > 0


def _allow_hint(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "add its network to network.allow_networks"
    return f"add {ip}/{ip.max_prefixlen} to network.allow_networks"


def nothing_fetched(stats: Mapping[str, Any]) -> str | None:
    """None if the crawl fetched something (or had nothing left to do on resume), else one
    line: every cause with its count, and what to change."""
    if fetched_anything(stats) or int(stats.get("resume/done_before", 0) or 0) > 0:
        return None
    causes: list[str] = []
    if guard := int(stats.get("guard/refused", 0) or 0):
        address = str(stats.get("guard/first_refused_address") or "")
        where = f" (e.g. {address})" if address else ""
        causes.append(f"{guard} refused by the address guard{where}: {_allow_hint(address)}")
    # a name that does not resolve usually fails first at its robots.txt
    if dns := sum(_sum(stats, f"{where}/{name}") for where in ("errors", "robots/fetch_error") for name in DNS_ERRORS):
        causes.append(f"{dns} with host names that did not resolve: add them to network.hosts or "
                      "network.hosts_file, or set network.static_dns_only: false")
    if scope := _sum(stats, "scope/refused/"):
        causes.append(f"{scope} out of scope: check scope.domains, tlds, include, exclude and the limits")
    if robots := int(stats.get("robots/disallowed", 0) or 0):  # (robots/disallowed/<reason> splits it)
        unreachable = _sum(stats, "robots/disallowed/unreachable")
        why = f", {unreachable} of them because robots.txt was unreachable" if unreachable else ""
        causes.append(f"{robots} disallowed by robots.txt{why}")
    if slow := _sum(stats, "politeness/crawl_delay_over_max"):
        causes.append(f"{slow} on hosts whose Crawl-delay exceeds politeness.max_crawl_delay")
    if tdm := _sum(stats, "tdm/skipped"):
        causes.append(f"{tdm} TDM-reserved and skipped (politeness.tdm: skip)")
    network = {k.split("/", 1)[1]: int(v) for k, v in stats.items()
               if k.startswith("errors/") and not k.startswith(("errors/http_", *(f"errors/{n}" for n in DNS_ERRORS)))
               and isinstance(v, (int, float))}
    if network:
        detail = ", ".join(f"{name} {n}" for name, n in sorted(network.items()))
        causes.append(f"{sum(network.values())} failed on the network ({detail}): are the servers up?")
    if not causes:
        causes.append("no request was made (no seeds left after parsing, or every seed was already seen)")
    return "crawl fetched nothing: " + "; ".join(causes)
