"""The campaign spider: seeds, link following, scope, focus and media discovery.

The spider decides *what* to fetch. Writing WARC, robots.txt, TDMRep and the
address guard are downloader middlewares, so they also see robots.txt,
sitemap and redirect traffic.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.python.failure import Failure

from crawler.focus import TopicScorer
from crawler.links import media_kind_of_url, media_refs, page_links
from crawler.scope import Scope
from crawler.urls import canonical_url
from owd.config import CampaignConfig

__all__ = ["CampaignSpider"]

log = logging.getLogger(__name__)


def _read_seed_file(path: Path) -> list[str]:
    urls = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            urls.append(line)
    return urls


class CampaignSpider(scrapy.Spider):
    """One spider per campaign (and, on Ray, per crawler actor)."""

    name = "owd"

    def __init__(self, campaign: CampaignConfig, worker: str = "w0", seen: set[str] | None = None,
                 frontier: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.campaign = campaign
        self.worker = worker
        self.seed_urls = list(campaign.seeds.urls)
        for name in campaign.seeds.files:
            self.seed_urls += _read_seed_file(campaign.resolve(name))
        self.scope = Scope.from_campaign(campaign, self.seed_urls + campaign.seeds.sitemaps)
        self.scorer = TopicScorer.from_config(campaign.focus)
        self.media_kinds = set(campaign.media.kinds)
        self.seen: set[str] = seen if seen is not None else set()
        self.resume_frontier = frontier or []

    # ---- seeds ---------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[scrapy.Request]:
        for entry in self.resume_frontier:
            yield self._request(entry["url"], entry["depth"], entry.get("via"), entry.get("score", 0.0),
                                kind=entry.get("kind", "page"), check_seen=False)
        for url in self.campaign.seeds.sitemaps:
            yield scrapy.Request(url, callback=self.parse_sitemap, errback=self.on_error,
                                 meta={"owd_kind": "sitemap", "depth": 0, "via": "seed"}, dont_filter=True)
        for url in self.seed_urls:
            request = self._maybe_request(url, depth=0, via="seed", score=0.0)
            if request is not None:
                yield request

    # ---- requests --------------------------------------------------------------------------
    def _maybe_request(self, url: str, depth: int, via: str | None, score: float,
                       kind: str = "page") -> scrapy.Request | None:
        """A request for ``url`` unless it was seen or is out of scope (each refusal counted)."""
        try:
            canon = canonical_url(url)
        except ValueError:
            self._count("links/refused/bad_url")
            return None
        if canon in self.seen:
            return None
        self.seen.add(canon)
        reason = self.scope.admit(canon, depth) if kind == "page" else self.scope.in_scope(canon)
        if reason:
            self._count(f"scope/refused/{reason}")
            return None
        return self._request(canon, depth, via, score, kind=kind, check_seen=False)

    def _request(self, url: str, depth: int, via: str | None, score: float, kind: str = "page",
                 check_seen: bool = True) -> scrapy.Request:
        if check_seen:
            self.seen.add(url)
        meta: dict[str, Any] = {"depth": depth, "via": via, "owd_kind": kind, "score": score}
        if kind != "page":
            cap = getattr(self.campaign.media, kind if kind in ("image", "audio", "video") else "image")
            meta["download_maxsize"] = int(cap.max_bytes)
        callback = self.parse if kind == "page" else self.parse_media
        return scrapy.Request(url, callback=callback, errback=self.on_error, meta=meta,
                              priority=self.scorer.priority(depth, score), dont_filter=True)

    def _count(self, key: str, n: int = 1) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, n)

    # ---- callbacks ---------------------------------------------------------------------------
    def parse(self, response: Response, **kwargs: Any) -> Iterator[scrapy.Request]:
        self._count("pages/fetched")
        if not isinstance(response, TextResponse) or b"html" not in (response.headers.get("Content-Type") or b"html"):
            self._count("pages/not_html")
            return
        if (response.meta.get("tdm") or {}).get("skip"):
            return  # reserved content the campaign will not use: its links are not followed either
        try:
            root = response.selector.root
        except (ValueError, TypeError) as exc:
            self._count(f"pages/unparsable/{type(exc).__name__}")
            return
        if root is None or not hasattr(root, "iter"):
            self._count("pages/unparsable/empty")
            return
        depth = response.meta.get("depth", 0) + 1
        parent_score = 0.0
        if self.scorer.enabled:
            title = " ".join(response.xpath("//title//text()").getall())
            parent_score = self.scorer.text_score(title + " " + " ".join(response.xpath("//h1//text()").getall()))
        for link in page_links(root, response.url):
            kind = media_kind_of_url(link.url)
            if kind:
                if kind in self.media_kinds:
                    req = self._maybe_request(link.url, depth, response.url, 0.0, kind=kind)
                    if req is not None:
                        yield req
                continue
            score = self.scorer.link_score(link.anchor, link.url, parent_score) if self.scorer.enabled else 0.0
            req = self._maybe_request(link.url, depth, response.url, score)
            if req is not None:
                yield req
        if self.media_kinds:
            for ref in media_refs(root, response.url):
                kind = "image" if ref.kind == "track" else ref.kind  # caption tracks ride with video
                if (ref.kind == "track" and "video" in self.media_kinds) or ref.kind in self.media_kinds:
                    req = self._maybe_request(ref.url, depth, response.url, 0.0, kind=kind)
                    if req is not None:
                        yield req

    def parse_media(self, response: Response, **kwargs: Any) -> None:
        kind = response.meta.get("owd_kind", "media")
        self._count(f"media/fetched/{kind}")

    def parse_sitemap(self, response: Response, **kwargs: Any) -> Iterator[scrapy.Request]:
        body = response.body
        if response.url.endswith("/robots.txt"):
            for url in sitemap_urls_from_robots(response.text, base_url=response.url):
                yield scrapy.Request(url, callback=self.parse_sitemap, errback=self.on_error,
                                     meta={"owd_kind": "sitemap", "depth": 0, "via": response.url})
            return
        try:
            sitemap = Sitemap(body)
        except Exception as exc:  # lxml raises a family of XML errors on broken sitemaps
            self._count(f"sitemaps/unparsable/{type(exc).__name__}")
            return
        self._count("sitemaps/fetched")
        for entry in sitemap:
            loc = (entry.get("loc") or "").strip()
            if not loc:
                continue
            if sitemap.type == "sitemapindex":
                yield scrapy.Request(loc, callback=self.parse_sitemap, errback=self.on_error,
                                     meta={"owd_kind": "sitemap", "depth": 0, "via": response.url})
            else:
                req = self._maybe_request(loc, depth=1, via=response.url, score=0.0)
                if req is not None:
                    yield req

    def on_error(self, failure: Failure) -> None:
        """Every failed request is counted by reason; the crawl goes on."""
        exc = failure.value
        name = type(exc).__name__
        if name == "AddressRefused":
            self._count("guard/refused")
        elif name == "HttpError":
            status = getattr(getattr(exc, "response", None), "status", "unknown")
            self._count(f"errors/http_{status}")
            return
        self._count(f"errors/{name}")
        log.debug("request failed: %s: %s", failure.request.url if hasattr(failure, "request") else "?", exc)
