"""Which URLs a campaign may fetch: domains, TLDs, patterns, depth, caps and traps.

:meth:`Scope.admit` answers with ``None`` (admitted) or the reason a URL was
refused; the spider counts refusals under ``scope/refused/<reason>``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import parse_qsl, urlsplit

from owd.core.urls import host_of, registered_domain, trap_reason
from owd.core.config import CampaignConfig

__all__ = ["Scope"]

CALENDAR_PAGES_PER_HOST = 5  # calendar-shaped pages admitted per host before we call it a trap


@dataclass
class Scope:
    domains: tuple[str, ...]
    tlds: tuple[str, ...]
    include: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...]
    max_depth: int
    max_pages_per_host: int
    max_pages: int
    max_url_length: int
    max_query_params: int
    per_host: Counter[str] = field(default_factory=Counter)
    calendar_per_host: Counter[str] = field(default_factory=Counter)
    last_was_calendar: bool = False  # set by admit(): was the URL just admitted calendar-shaped
    admitted: int = 0

    @classmethod
    def from_campaign(cls, cfg: CampaignConfig, seed_urls: list[str]) -> "Scope":
        domains = cfg.scope.domains or sorted({registered_domain(host_of(u)) for u in seed_urls if host_of(u)})
        return cls(
            domains=tuple(d.lower().lstrip(".") for d in domains),
            tlds=tuple(t.lower().lstrip(".") for t in cfg.scope.tlds),
            include=tuple(re.compile(p) for p in cfg.scope.include),
            exclude=tuple(re.compile(p) for p in cfg.scope.exclude),
            max_depth=cfg.scope.max_depth,
            max_pages_per_host=min(cfg.scope.max_pages_per_host, cfg.scope.max_pages),
            max_pages=cfg.scope.max_pages,
            max_url_length=cfg.limits.max_url_length,
            max_query_params=cfg.limits.max_query_params,
        )

    def restore_counts(self, per_host: Mapping[str, tuple[int, int]]) -> None:
        """Count an earlier run's pages against the caps: per host (pages admitted, of
        which calendar-shaped), as the frontier store keeps them (FrontierStore.host_counts)."""
        for host, (pages, calendar) in per_host.items():
            self.per_host[host] += pages
            self.admitted += pages
            if calendar:
                self.calendar_per_host[host] += calendar

    def in_scope(self, url: str) -> str | None:
        """Static checks (no counting): the refusal reason, or None."""
        if len(url) > self.max_url_length:
            return "url_too_long"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return "scheme"
        host = (parts.hostname or "").lower()
        if not host:
            return "no_host"
        if self.domains and not any(host == d or host.endswith("." + d) for d in self.domains):
            return "domain"
        if self.tlds and not any(host == t or host.endswith("." + t) for t in self.tlds):
            return "tld"
        if self.include and not any(p.search(url) for p in self.include):
            return "not_included"
        if any(p.search(url) for p in self.exclude):
            return "excluded"
        if parts.query and len(parse_qsl(parts.query, keep_blank_values=True)) > self.max_query_params:
            return "too_many_query_params"
        return None

    def admit(self, url: str, depth: int) -> str | None:
        """Full check for a new URL at ``depth``; counts it against the caps when admitted."""
        reason = self.in_scope(url)
        if reason:
            return reason
        if depth > self.max_depth:
            return "depth"
        host = host_of(url)
        trap = trap_reason(url)
        if trap == "calendar":
            if self.calendar_per_host[host] >= CALENDAR_PAGES_PER_HOST:
                return "trap_calendar"
        elif trap:
            return f"trap_{trap}"
        if self.admitted >= self.max_pages:
            return "max_pages"
        if self.per_host[host] >= self.max_pages_per_host:
            return "max_pages_per_host"
        self.per_host[host] += 1
        self.admitted += 1
        self.last_was_calendar = trap == "calendar"  # the frontier store keeps the count too
        if self.last_was_calendar:
            self.calendar_per_host[host] += 1
        return None
