"""Crawl statistics by status, host and content type, and a progress line.

Scrapy's stats already count statuses, retries and exceptions; this downloader
middleware (order 940, next to the WARC writer, so it sees redirects and
robots.txt too) adds the breakdowns an operator asks for (per host, per content type, bytes),
gathers refusals and errors by reason, prints progress while the crawl runs,
and writes ``crawl/<worker>/report.json`` when it ends.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from twisted.internet import task

from owd.core.files import replace_text
from owd.core.urls import host_of

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = ["CrawlReport", "summarise_stats"]

log = logging.getLogger("owd.crawl")

_REASON_PREFIXES = {
    "robots": "robots/disallowed/",
    "tdm": "tdm/skipped/",
    "scope": "scope/refused/",
    "redirects": "redirects/",
    "backoff": "backoff/",
    "errors": "errors/",
}


def summarise_stats(stats: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Group Scrapy stats into refusals and errors by reason."""
    out: dict[str, dict[str, int]] = {}
    for name, prefix in _REASON_PREFIXES.items():
        out[name] = {k[len(prefix):]: int(v) for k, v in sorted(stats.items()) if k.startswith(prefix)}
    out["guard"] = {"refused": int(stats.get("guard/refused", 0))}
    return out


class CrawlReport:
    def __init__(self, crawler: "Crawler") -> None:
        self.crawler = crawler
        s = crawler.settings
        self.path = Path(s.get("OWD_REPORT_PATH")) if s.get("OWD_REPORT_PATH") else None
        self.interval = s.getfloat("OWD_PROGRESS_INTERVAL", 10.0)
        self.console = s.getbool("OWD_PROGRESS_CONSOLE", False)
        self.by_status: Counter[int] = Counter()
        self.by_host: Counter[str] = Counter()
        self.bytes_by_host: Counter[str] = Counter()
        self.by_type: Counter[str] = Counter()
        self.bytes = 0
        self.started = time.time()
        self._last = (self.started, 0)
        self._loop: task.LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: "Crawler") -> "CrawlReport":
        return cls(crawler)

    def process_response(self, request: "Request", response: "Response", spider: "Spider | None" = None) -> "Response":
        """Count every response that reached the WARC writer (redirects and robots.txt included)."""
        self._count(response)
        return response

    def _count(self, response: "Response") -> None:
        host = host_of(response.url)
        size = len(response.body)
        self.by_status[response.status] += 1
        self.by_host[host] += 1
        self.bytes_by_host[host] += size
        ctype = (response.headers.get("Content-Type") or b"").split(b";")[0].strip().lower()
        self.by_type[ctype.decode("latin-1") or "(none)"] += 1
        self.bytes += size

    def spider_opened(self, spider: "Spider") -> None:
        if self.interval > 0:
            self._loop = task.LoopingCall(self.progress)
            self._loop.start(self.interval, now=False)

    def progress(self) -> None:
        now = time.time()
        responses = sum(self.by_status.values())
        rate = (responses - self._last[1]) / max(now - self._last[0], 1e-6)
        self._last = (now, responses)
        stats = self.crawler.stats.get_stats()
        scheduler = getattr(getattr(self.crawler.engine, "_slot", None), "scheduler", None)
        queued = len(scheduler) if scheduler is not None and hasattr(scheduler, "__len__") else -1
        errors = sum(v for k, v in stats.items() if k.startswith("errors/"))
        line = (f"progress: {responses} responses ({rate:.0f}/s), {stats.get('pages/fetched', 0)} pages, "
                f"{self.bytes / 1e6:.1f} MB, {len(self.by_host)} hosts, {queued if queued >= 0 else '?'} queued, "
                f"{errors} errors, {stats.get('robots/disallowed', 0)} robots refusals")
        log.info(line)
        if self.console:  # Scrapy's log goes to a file: progress is owd's to show
            print(f"owd: {line}", file=sys.stderr, flush=True)
        self._write_frontier_snapshot(scheduler)

    def _write_frontier_snapshot(self, scheduler: Any) -> None:
        """The scheduler's live state beside report.json, for `owd status`."""
        snapshot = getattr(scheduler, "snapshot", None)
        if self.path is None or snapshot is None:
            return
        data = {"time": time.time(), **snapshot()}
        tmp = self.path.with_name("frontier.json.tmp")
        try:
            tmp.write_text(json.dumps(data))
            tmp.replace(self.path.with_name("frontier.json"))
        except OSError as exc:  # status is a convenience: the crawl goes on
            log.warning("cannot write %s: %s", tmp, exc)

    def report(self) -> dict[str, Any]:
        stats = self.crawler.stats.get_stats()
        return {
            "seconds": round(time.time() - self.started, 3),
            "responses": sum(self.by_status.values()),
            "pages": int(stats.get("pages/fetched", 0)),
            "bytes": self.bytes,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_content_type": dict(self.by_type.most_common()),
            "by_host": {h: {"responses": n, "bytes": self.bytes_by_host[h]} for h, n in self.by_host.most_common()},
            **summarise_stats(stats),
        }

    def spider_closed(self, spider: "Spider", reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        report = self.report()
        report["finish_reason"] = reason
        if self.path is not None:
            replace_text(self.path, json.dumps(report, indent=1))
