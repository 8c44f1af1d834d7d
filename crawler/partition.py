"""Which crawler owns which host: the host partition of a distributed crawl.

Every host belongs to exactly one crawler (a worker name such as ``w1``), chosen
by a stable hash of its registered domain, so that all hosts of one site share
one politeness state, one robots.txt cache and one TDMRep cache. Hosts pinned to
an AIF+A site (by TLD or domain, ``sites:`` in the campaign) are hashed over that
site's crawlers only; every other host over all crawlers.

The plan is written to ``<campaign>/crawl/partition.json`` when a campaign starts
and read back by every crawler and on resume: changing the number of crawlers of
a running campaign would move hosts between crawlers, so it is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from owd.core.urls import host_of, registered_domain
from owd.core.config import CampaignConfig
from owd.core.files import replace_text
from owd.core.errors import OwdError

__all__ = ["Partition", "PartitionError", "plan_partition", "stable_hash"]


class PartitionError(OwdError, ValueError):
    """A partition that cannot work (a pinned site without crawlers, a changed plan)."""


def stable_hash(key: str) -> int:
    """Python's hash() is salted per process; crawlers in different processes must agree."""
    return int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True)
class SitePin:
    site: str
    tlds: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()

    def matches(self, host: str, domain: str) -> bool:
        tld = host.rsplit(".", 1)[-1]
        if any(tld == t.lstrip(".") or host.endswith("." + t.lstrip(".")) for t in self.tlds):
            return True
        return any(domain == d or host == d or host.endswith("." + d) for d in self.domains)


@dataclass(frozen=True)
class Partition:
    """Crawler names in order, the site each runs on ("" = any), and the site pins."""

    workers: tuple[str, ...]
    worker_sites: tuple[str, ...] = ()
    pins: tuple[SitePin, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.workers:
            raise PartitionError("a partition needs at least one crawler")
        if len(set(self.workers)) != len(self.workers):
            raise PartitionError("crawler names must be unique")
        if self.worker_sites and len(self.worker_sites) != len(self.workers):
            raise PartitionError("one site (or '') per crawler")
        for pin in self.pins:
            if not self.workers_of_site(pin.site):
                raise PartitionError(f"site {pin.site!r} has hosts pinned to it but no crawler")

    def site_of_worker(self, worker: str) -> str:
        return self.worker_sites[self.workers.index(worker)] if self.worker_sites else ""

    def workers_of_site(self, site: str) -> tuple[str, ...]:
        return tuple(w for w in self.workers if self.site_of_worker(w) == site)

    def site_of_host(self, host: str) -> str:
        """The site a host is pinned to, or "" when it may be crawled anywhere."""
        domain = registered_domain(host)
        for pin in self.pins:
            if pin.matches(host, domain):
                return pin.site
        return ""

    def owner(self, url: str) -> str:
        """The crawler that fetches ``url`` (hash of the host's registered domain)."""
        host = host_of(url)
        domain = registered_domain(host) or host
        site = self.site_of_host(host)
        candidates = self.workers_of_site(site) if site else self.workers
        return candidates[stable_hash(domain) % len(candidates)]

    # -- persistence

    def to_json(self) -> dict[str, Any]:
        return {"workers": list(self.workers), "worker_sites": list(self.worker_sites),
                "pins": [asdict(p) for p in self.pins]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Partition":
        pins = tuple(SitePin(p["site"], tuple(p.get("tlds", ())), tuple(p.get("domains", ()))) for p in data["pins"])
        return cls(tuple(data["workers"]), tuple(data.get("worker_sites", ())), pins)

    def save(self, path: Path) -> None:
        replace_text(path, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Partition":
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PartitionError(f"{path}: not a crawl partition ({exc})") from None


def plan_partition(cfg: CampaignConfig, crawlers: int | None = None) -> Partition:
    """The campaign's plan: ``sites[].crawlers`` crawlers per site when sites are
    configured (hosts pinned by their ``tlds``/``domains``), else ``crawlers``
    (default ``run.crawlers``) crawlers on any node. Workers are named w0, w1, ..."""
    if cfg.sites:
        sites = [s.name for s in cfg.sites for _ in range(s.crawlers)]
        workers = tuple(f"w{i}" for i in range(len(sites)))
        pins = tuple(SitePin(s.name, tuple(t.lower().lstrip(".") for t in s.tlds), tuple(d.lower() for d in s.domains))
                     for s in cfg.sites if s.tlds or s.domains)
        return Partition(workers, tuple(sites), pins)
    n = crawlers if crawlers is not None else cfg.run.crawlers
    if n < 1:
        raise PartitionError("crawlers: at least one")
    return Partition(tuple(f"w{i}" for i in range(n)))
