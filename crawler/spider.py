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
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.utils.sitemap import Sitemap
from twisted.python.failure import Failure

from owd.crawler.focus import TopicScorer
from owd.crawler.frontier_store import FRONTIER_FILE, FrontierEntry, FrontierStore
from owd.core.links import MediaRef, media_kind_of_url, media_refs, page_links
from owd.crawler.mailbox import Outbox
from owd.crawler.partition import Partition
from owd.crawler.scheduler import FRESH_META, frontier_host
from owd.crawler.scope import Scope
from owd.core.urls import canonical_url
from owd.crawler.warc_middleware import REVISIT_META
from owd.core.config import CampaignConfig

__all__ = ["CampaignSpider"]

log = logging.getLogger(__name__)


def _read_seed_file(path: Path) -> list[str]:
    urls = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            urls.append(line)
    return urls


# The crawler's store block cache: a crawler admits ~8,000 URLs/s (200 pages/s x 40 links),
# far below what the store does even with a small cache (bench/README.md), and RSS should
# stop growing early: with 128 MiB it is flat from about a million URLs on.
FRONTIER_CACHE_MIB = 128


def _header(headers: Any, name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1")[:512] if value else None


class CampaignSpider(scrapy.Spider):
    """One spider per campaign (and, on Ray, per crawler actor)."""

    name = "owd"

    def __init__(self, campaign: CampaignConfig, worker: str = "w0", journal_dir: Path | None = None,
                 partition: Partition | None = None, crawl_root: Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.campaign = campaign
        self.worker = worker
        self.seed_urls = list(campaign.seeds.urls)
        for name in campaign.seeds.files:
            self.seed_urls += _read_seed_file(campaign.resolve(name))
        self.scope = Scope.from_campaign(campaign, self.seed_urls + campaign.seeds.sitemaps)
        self.scorer = TopicScorer.from_config(campaign.focus)
        self.media_kinds = set(campaign.media.kinds)
        # The frontier on disk: seen-set, queues, URL states (crawler/frontier_store.py); a
        # resumed crawl reopens it. Its scheduler (crawler/scheduler.py) sets self.scheduler.
        self.frontier = FrontierStore(journal_dir / FRONTIER_FILE if journal_dir is not None else None,
                                      cache_mib=FRONTIER_CACHE_MIB)
        self.scheduler: Any = None
        # a resumed crawl's pages count against the caps (per-host counts, kept in the store)
        self.scope.restore_counts(self.frontier.host_counts())
        # Distributed crawl: links for hosts another crawler owns go to its inbox.
        self.partition = partition
        self.outbox = Outbox(crawl_root, worker) if partition is not None and crawl_root is not None else None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> "CampaignSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._close_frontier, signal=scrapy.signals.spider_closed)
        return spider

    def _close_frontier(self, spider: scrapy.Spider) -> None:
        self.frontier.close()  # (the scheduler closes it first; closing twice is fine)

    # ---- seeds ---------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[scrapy.Request]:
        # (a resumed crawl's unfinished URLs are in the frontier store; seeds already seen are skipped)
        for url in self.campaign.seeds.sitemaps:
            request = self._maybe_request(url, depth=0, via="seed", score=0.0, kind="sitemap")
            if request is not None:
                yield request
        for url in self.seed_urls:
            request = self._maybe_request(url, depth=0, via="seed", score=0.0)
            if request is not None:
                yield request

    # ---- requests --------------------------------------------------------------------------
    def _maybe_request(self, url: str, depth: int, via: str | None, score: float,
                       kind: str = "page", forwarded: bool = False) -> scrapy.Request | None:
        """A request for ``url`` unless it was seen or is out of scope (each refusal counted).
        Admitted URLs are in the frontier store, so a resumed crawl neither loses nor repeats them.
        In a distributed crawl a URL of a host another crawler owns is sent to that
        crawler instead (seeds are not: every crawler reads the same seed list)."""
        try:
            canon = canonical_url(url)
        except ValueError:
            self._count("links/refused/bad_url")
            return None
        if not self.frontier.see(canon):
            return None
        if self.partition is not None and not forwarded:
            owner = self.partition.owner(canon)
            if owner != self.worker:
                if via != "seed" and self.outbox is not None:
                    self.outbox.add(owner, canon, depth, via, score, kind)
                    self._count("partition/forwarded")
                return None
        reason = self.scope.admit(canon, depth) if kind == "page" else self.scope.in_scope(canon)
        if reason:
            self._count(f"scope/refused/{reason}")
            return None
        # Queued in the store in the same call as it was seen: its seen mark and queue entry
        # are one write batch, so a crash never leaves a URL seen but not queued.
        self.frontier.queue(FrontierEntry(url=canon, host=frontier_host(canon), depth=depth, via=via, score=score,
                                          kind=kind, priority=float(self.scorer.priority(depth, score))),
                            calendar=kind == "page" and self.scope.last_was_calendar)
        request = self._request(canon, depth, via, score, kind=kind)
        request.meta[FRESH_META] = True  # tells the scheduler a new URL is in its host's queue
        return request

    def request_for(self, entry: FrontierEntry) -> scrapy.Request:
        """The request for a URL the scheduler took from the frontier store. A URL fetched
        before (queued again by a revisit run) gets a conditional request: the server may
        answer 304, and the WARC writer compares the payload digest (crawler/warc_middleware.py)."""
        request = self._request(entry.url, entry.depth, entry.via, entry.score, kind=entry.kind)
        previous = entry.previous
        if previous is not None:
            if previous.etag:
                request.headers[b"If-None-Match"] = previous.etag
            if previous.modified:
                request.headers[b"If-Modified-Since"] = previous.modified
            request.meta[REVISIT_META] = {"url": entry.url, "digest": previous.digest, "ref_date": previous.ref_date}
            request.meta["handle_httpstatus_list"] = [304]
            self._count("revisit/requested")
        return request

    def _request(self, url: str, depth: int, via: str | None, score: float, kind: str = "page") -> scrapy.Request:
        meta: dict[str, Any] = {"depth": depth, "via": via, "owd_kind": kind, "score": score, "owd_url": url}
        if kind in ("image", "audio", "video"):
            meta["download_maxsize"] = int(getattr(self.campaign.media, kind).max_bytes)
        callback = {"page": self.parse, "sitemap": self.parse_sitemap}.get(kind, self.parse_media)
        return scrapy.Request(url, callback=callback, errback=self.on_error, meta=meta,
                              priority=self.scorer.priority(depth, score), dont_filter=True)

    def admit_forwarded(self, entry: dict[str, Any]) -> scrapy.Request | None:
        """A request for a frontier entry another crawler forwarded (see crawler.mailbox)."""
        return self._maybe_request(entry["u"], int(entry.get("d", 0)), entry.get("v"), float(entry.get("s", 0.0)),
                                   kind=str(entry.get("k", "page")), forwarded=True)

    def forward_redirect(self, url: str, request: scrapy.Request) -> bool:
        """Send a redirect target on another crawler's host to that crawler; True if sent."""
        if self.partition is None or self.outbox is None:
            return False
        owner = self.partition.owner(url)
        if owner == self.worker:
            return False
        meta = request.meta
        self.outbox.add(owner, url, int(meta.get("depth", 0)), meta.get("via"), float(meta.get("score", 0.0)),
                        str(meta.get("owd_kind", "page")))
        self.outbox.flush()
        self._count("partition/forwarded_redirects")
        return True

    def _unchanged(self, response: Response) -> bool:
        """True for a revisit that found the content unchanged (written as a WARC revisit
        record): nothing to parse, its links are in the frontier already."""
        if REVISIT_META not in response.meta:
            return False
        profile = (response.meta.get("warc") or {}).get("revisit")
        if profile is None:
            self._count("revisit/changed")
            return False
        self._count(f"revisit/unchanged/{profile}")
        self._done(response, "unchanged")
        return True

    def _done(self, response_or_failure: Any, outcome: str, status: int | None = None) -> None:
        if self.outbox is not None and len(self.outbox):
            self.outbox.flush()  # before "done": a kill in between re-parses the page and resends
        request = getattr(response_or_failure, "request", None)
        url = request.meta.get("owd_url") if request is not None else None
        if not url:
            return
        if isinstance(response_or_failure, Response):
            headers = response_or_failure.headers
            warc = response_or_failure.meta.get("warc") or {}
            stored = warc.get("revisit") is None  # a response record: this fetch holds the content now
            self.frontier.done(url, outcome, status=response_or_failure.status if stored else None,
                               digest=warc.get("digest") if stored else None,
                               ref_date=warc.get("date") if stored else None,
                               etag=_header(headers, b"ETag"), modified=_header(headers, b"Last-Modified"))
        else:
            self.frontier.done(url, outcome, status=status, failed=True)
        if self.scheduler is not None:
            self.scheduler.release(url)

    def _count(self, key: str, n: int = 1) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, n)

    # ---- callbacks ---------------------------------------------------------------------------
    def parse(self, response: Response, **kwargs: Any) -> Iterator[scrapy.Request]:
        if self._unchanged(response):
            return
        yield from self._follow_links(response)
        self._done(response, "parsed")

    def _follow_links(self, response: Response) -> Iterator[scrapy.Request]:
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
        refs = list(media_refs(root, response.url))
        if refs:
            self._record_media_refs(response, refs)
        if self.media_kinds:
            for ref in refs:
                kind = "video" if ref.kind == "track" else ref.kind  # caption tracks ride with video
                if kind in self.media_kinds:
                    req = self._maybe_request(ref.url, depth, response.url, 0.0, kind=kind)
                    if req is not None:
                        yield req

    def _record_media_refs(self, response: Response, refs: list[MediaRef]) -> None:
        """Write what media the page references (alt text, caption, surrounding text) as a
        WARC metadata record that refers to the page's response record."""
        writer = getattr(self.crawler, "owd_warc_writer", None)
        if writer is None:
            return
        unique = list({(r.url, r.kind): r for r in refs}.values())
        writer.write_metadata(response.url, {"kind": "media-refs", "media": [r.to_dict() for r in unique]},
                              refers_to=(response.meta.get("warc") or {}).get("record_id"))
        self._count("media/refs_recorded", len(unique))

    def parse_media(self, response: Response, **kwargs: Any) -> None:
        if self._unchanged(response):
            return
        kind = response.meta.get("owd_kind", "media")
        self._count(f"media/fetched/{kind}")
        self._done(response, "fetched")

    def parse_sitemap(self, response: Response, **kwargs: Any) -> Iterator[scrapy.Request]:
        if self._unchanged(response):
            return
        yield from self._sitemap_entries(response)
        self._done(response, "parsed")

    def _sitemap_entries(self, response: Response) -> Iterator[scrapy.Request]:
        body = response.body
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
                req = self._maybe_request(loc, depth=0, via=response.url, score=0.0, kind="sitemap")
                if req is not None:
                    yield req
            else:
                req = self._maybe_request(loc, depth=1, via=response.url, score=0.0)
                if req is not None:
                    yield req

    def on_error(self, failure: Failure) -> None:
        """Every failed request is counted by reason; the crawl goes on."""
        exc = failure.value
        name = type(exc).__name__
        if name == "CrawlStopping":
            # Never sent because the crawl is stopping: not done, so --resume asks for it.
            self._count("stop/not_sent")
            return
        status = getattr(getattr(exc, "response", None), "status", None) if name == "HttpError" else None
        gone = status in (404, 410)
        request = getattr(failure, "request", None)
        if request is not None and REVISIT_META in request.meta:
            # 404 and 410 say the page is gone; anything else may pass: the URL keeps the
            # status of its last good fetch, so the next revisit run tries it again
            self._count("revisit/gone" if gone else f"revisit/failed/{name}")
            if not gone:
                status = None
        self._done(failure, "gone" if gone else f"failed:{name}", status=status)
        if name == "StopDownload":
            return  # stopped on purpose (MIME allow-list, TDM reservation): counted by the stopper
        if name == "AddressRefused":
            self._count("guard/refused")
            stats = self.crawler.stats if self.crawler is not None else None
            address = getattr(exc, "address", "")
            if stats is not None and address and not stats.get_value("guard/first_refused_address"):
                stats.set_value("guard/first_refused_address", address)
            return
        if name == "HttpError":  # an IgnoreRequest subclass, but a real outcome: count it
            status = getattr(getattr(exc, "response", None), "status", "unknown")
            self._count(f"errors/http_{status}")
            return
        if isinstance(exc, IgnoreRequest):
            return  # a refusal (robots.txt, TDM, redirect): counted by the component that refused
        if name == "DownloadCancelledError":  # the body was larger than the response-size cap
            self._count("limits/response_too_large")
            return
        self._count(f"errors/{name}")
        log.debug("request failed: %s: %s", failure.request.url if hasattr(failure, "request") else "?", exc)
