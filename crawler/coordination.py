"""The crawler side of a distributed crawl: inbox, idle detection and stop.

A partitioned crawler cannot close when its own queue runs dry, since another
crawler may still find links for its hosts. This extension keeps the spider
open (``DontCloseSpider``) until the campaign's coordinator drops a ``stop`` file
into the crawler's folder; meanwhile it polls the inbox (links forwarded by
other crawlers) and writes ``status.json``: whether this crawler is idle and how
far it has read each inbox file. The coordinator (owd/ray_crawl.py) ends
the crawl when every crawler is idle and has read every byte sent to it, twice
in a row.

Enabled by ``run_crawl(..., partition=...)`` (setting ``OWD_PARTITION``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from owd.core.files import replace_text
from owd.crawler.mailbox import Inbox

__all__ = ["PartitionExtension", "STOP_FILE", "STATUS_FILE"]

log = logging.getLogger(__name__)

STOP_FILE = "stop"
STATUS_FILE = "status.json"


class PartitionExtension:
    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        if not settings.getbool("OWD_PARTITION"):
            raise NotConfigured
        self.crawler = crawler
        self.worker = settings.get("OWD_WORKER", "w0")
        self.crawl_root = Path(settings["OWD_CRAWL_ROOT"])
        self.folder = self.crawl_root / self.worker
        self.interval = settings.getfloat("OWD_PARTITION_POLL", 0.3)
        self.inbox = Inbox(self.crawl_root, self.worker)
        self.received = 0
        self.closing = False
        self.parent_pid = int(os.environ.get("OWD_PARENT_PID") or 0)
        self._loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> "PartitionExtension":
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    # -- signals

    def spider_opened(self, spider: Any) -> None:
        self._loop = task.LoopingCall(self.tick)
        self._loop.start(self.interval, now=True)

    def spider_idle(self, spider: Any) -> None:
        self._take_inbox()
        if not (self.folder / STOP_FILE).exists():
            raise DontCloseSpider

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        outbox = getattr(spider, "outbox", None)
        if outbox is not None:
            outbox.close()
        self._write_status(idle=True, closed=reason)

    # -- work

    def _take_inbox(self) -> int:
        spider, engine = self.crawler.spider, self.crawler.engine
        taken = 0
        for entry in self.inbox.poll():
            self.received += 1
            request = spider.admit_forwarded(entry)
            if request is not None:
                engine.crawl(request)
                taken += 1
        if self.inbox.bad_lines:
            self.crawler.stats.set_value("partition/inbox_bad_lines", self.inbox.bad_lines)
        self.crawler.stats.set_value("partition/received", self.received)
        return taken

    def tick(self) -> None:
        if self.closing:
            return
        if self.parent_pid and os.getppid() != self.parent_pid:
            # The actor that started us died; Ray starts a new one, which resumes this
            # worker. Stop at once, as a kill would, so two processes never write one
            # worker's files (the resume repairs what this leaves unfinished).
            log.error("crawler %s: supervising actor %d is gone; exiting", self.worker, self.parent_pid)
            os._exit(70)
        engine = self.crawler.engine
        spider = self.crawler.spider
        outbox = getattr(spider, "outbox", None)
        if outbox is not None and len(outbox):
            outbox.flush()  # links of pages still being parsed, or of a redirect
        self._take_inbox()
        try:
            idle = engine.spider_is_idle()
        except RuntimeError:  # the engine is not running (yet, or any more)
            return
        self._write_status(idle=idle)
        if idle and (self.folder / STOP_FILE).exists():
            self.closing = True
            deferred_from_coro(engine.close_spider_async(reason="finished"))

    def _write_status(self, idle: bool, closed: str | None = None) -> None:
        spider = self.crawler.spider
        outbox = getattr(spider, "outbox", None)
        status = {
            "worker": self.worker, "pid": os.getpid(), "time": time.time(), "idle": idle, "closed": closed,
            "offsets": dict(self.inbox.offsets), "received": self.received,
            "sent": outbox.sent if outbox is not None else 0,
            "pages": self.crawler.stats.get_value("pages/fetched", 0),
        }
        replace_text(self.folder / STATUS_FILE, json.dumps(status))
