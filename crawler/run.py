"""Run one campaign crawl in this process and write its stats.

Twisted's reactor starts once per process: call :func:`run_crawl` once per
process (the CLI does); tests run crawls through ``owd crawl`` in a subprocess.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess

from owd.crawler.frontier import has_crawl_state, migrate_journal, migrate_sqlite
from owd.crawler.frontier_store import FRONTIER_FILE, OLD_FRONTIER_FILE, FrontierStore
from owd.crawler.partition import Partition
from owd.crawler.settings import scrapy_settings
from owd.crawler.spider import CampaignSpider
from owd.crawler.warc import RepairResult, repair_open_warc, tidy_directory
from owd.core.config import CampaignConfig, RevisitConfig

__all__ = ["CrawlSummary", "CrawlStateExists", "NothingToRevisit", "run_crawl", "campaign_paths", "prepare_resume"]

log = logging.getLogger(__name__)


RUNS_FILE = "runs.jsonl"  # crawl/<worker>/runs.jsonl: one line per crawl run of the worker


class CrawlStateExists(Exception):
    """A fresh crawl was asked for where a previous one left state behind."""


class StoppableCrawlerProcess(CrawlerProcess):
    """Scrapy's process with a stop that always ends, and says so on the console.

    First SIGINT/SIGTERM: requests waiting for their politeness turn are dropped at once
    (they stay queued in the frontier store), requests on the wire may finish, within
    ``grace_s``. Then, or on a second signal, the reactor is stopped (forced). If even that
    does not end the process (a wedged reactor), a watchdog thread exits it 15 s later
    (cancelled once the crawl has returned). Every way out leaves the crawl resumable:
    a request's state is in the frontier store before it goes out, and --resume repairs WARC files.
    """

    def __init__(self, settings: dict[str, Any], grace_s: float) -> None:
        super().__init__(settings)
        self.grace_s = grace_s
        self.stopped_by: int | None = None
        self.watchdog: threading.Timer | None = None

    @staticmethod
    def _say(line: str) -> None:
        # Not from inside the signal handler: these run later, in the reactor thread.
        print(f"owd: {line}", file=sys.stderr, flush=True)

    def _signal_shutdown(self, signum: int, frame: Any) -> None:
        from twisted.internet import reactor

        self.stopped_by = signum
        super()._signal_shutdown(signum, frame)  # a second signal now goes to _signal_kill
        reactor.callFromThread(self._begin_stop, signum)

    def _begin_stop(self, signum: int) -> None:
        from twisted.internet import reactor

        dropped = 0
        for crawler in self.crawlers:
            downloader = getattr(crawler.engine, "downloader", None)
            if downloader is not None and hasattr(downloader, "abandon_waiting"):
                dropped += downloader.abandon_waiting()
        self._say(f"{signal.Signals(signum).name}: stopping; {dropped} waiting request(s) dropped (kept for "
                  f"--resume), requests in flight get up to {self.grace_s:.0f} s; a second signal stops at once")
        # twisted's zope interfaces declare methods without self: mypy (without the mypy-zope
        # plugin) takes the delay for self and checks the callable as the delay
        reactor.callLater(self.grace_s, self._force,  # type: ignore[arg-type]
                          f"still busy after {self.grace_s:.0f} s")
        self.watchdog = threading.Timer(self.grace_s + 15.0, self._last_resort)
        self.watchdog.daemon = True
        self.watchdog.start()

    def _signal_kill(self, signum: int, frame: Any) -> None:
        from twisted.internet import reactor

        super()._signal_kill(signum, frame)
        reactor.callFromThread(self._say, f"second {signal.Signals(signum).name}: forced stop; "
                               "resume with `owd crawl --resume`")

    def _force(self, why: str) -> None:
        from twisted.internet import reactor

        if reactor.running:
            self._say(f"forced stop ({why}); resume with `owd crawl --resume`")
            reactor.stop()  # type: ignore[misc]  # zope interface method without self (see above)

    def _last_resort(self) -> None:
        self._say("the crawler did not stop; exiting now (resume with `owd crawl --resume`)")
        os._exit(128 + (self.stopped_by or signal.SIGTERM))


@dataclass
class CrawlSummary:
    stats: dict[str, Any]
    warc_files: list[Path]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)
    stopped_by: int | None = None  # the signal that stopped the crawl early, if one did

    @property
    def pages(self) -> int:
        return int(self.stats.get("pages/fetched", 0))

    @property
    def responses(self) -> int:
        return int(self.stats.get("downloader/response_count", 0))

    @property
    def bytes(self) -> int:
        return int(self.stats.get("warc/response_bytes", 0))


def campaign_paths(cfg: CampaignConfig, worker: str = "w0") -> dict[str, Path]:
    root = cfg.campaign_dir
    return {"root": root, "warc": root / "warc" / worker, "crawl": root / "crawl" / worker}


class BackgroundRepair:
    """Repairs a stopped crawl's unfinished WARC files in a thread while the resumed crawl
    fetches: repair reads a whole file (about 12 s for a 1 GB one), and nothing the crawl
    needs waits for it: the frontier store, not the WARC files, says what to fetch, and the
    new writer starts a new file (the next sequence number after the unfinished ones)."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        self.results: list[RepairResult] = []
        self._thread = threading.Thread(target=self._run, name="owd-warc-repair", daemon=True)

    def start(self) -> "BackgroundRepair":
        if self.files:
            self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for path in self.files:
                self.results.append(repair_open_warc(path))
        except Exception as exc:  # counted in the crawl's stats; the file stays .open for the next resume
            log.error("repairing unfinished WARC files failed: %s", exc)

    def facts(self) -> dict[str, int]:
        """Wait for the repair and say what it did."""
        if self._thread.ident is not None:  # started
            self._thread.join()
        done = self.results
        return {
            "resume/warc_repaired": sum(1 for r in done if r.status == "truncated"),
            "resume/warc_intact": sum(1 for r in done if r.status == "intact"),
            "resume/warc_set_aside": sum(1 for r in done if r.status == "corrupt"),
            "resume/warc_bytes_dropped": sum(r.bytes_dropped for r in done),
            "resume/warc_repair_failed": len(self.files) - len(done),
        }


def prepare_resume(paths: dict[str, Path], revisit: RevisitConfig | None = None
                   ) -> tuple[dict[str, int], BackgroundRepair]:
    """Reopen the frontier store (what was in flight at the stop goes back to its queue;
    with a ``revisit`` policy, the URLs due under it are queued too) and find the
    unfinished WARC files, repaired in the background once the crawl runs. Nothing is
    replayed, so this takes about as long for a billion URLs as for ten."""
    repair = BackgroundRepair(tidy_directory(paths["warc"]))
    facts: dict[str, int] = {}
    store = FrontierStore(paths["crawl"] / FRONTIER_FILE)
    try:
        if (paths["crawl"] / OLD_FRONTIER_FILE).exists():
            facts.update(migrate_sqlite(paths["crawl"], store))
        if (paths["crawl"] / "frontier.jsonl").exists():
            facts.update(migrate_journal(paths["crawl"], store))
        in_flight = store.requeue_in_flight()
        if revisit is not None:
            facts["revisit/queued"] = store.queue_revisits(revisit)
        pending = store.queued()
    finally:
        store.close()
    # (the done count is in `owd status`: counting it reads the whole store)
    facts.update({"resume/refetch_in_flight": in_flight, "resume/pending": pending})
    return facts, repair


class NothingToRevisit(Exception):
    """``--revisit`` was asked for a campaign that has no crawl yet."""


def run_crawl(cfg: CampaignConfig, worker: str = "w0", log_level: str = "INFO", resume: bool = False,
              extra_settings: dict[str, Any] | None = None, partition: Partition | None = None,
              revisit: bool = False) -> CrawlSummary:
    """Crawl the campaign with one Scrapy process; return its stats and WARC files.

    ``resume`` continues a stopped or killed crawl: unfinished WARC files are
    repaired (or set aside), and the frontier store's unfinished URLs are requested again.
    ``revisit`` resumes too, and first queues the fetched URLs due for a revisit under the
    campaign's ``revisit`` policy: they are fetched with conditional requests.

    With a ``partition`` this process is one crawler of a distributed crawl: it
    fetches only the hosts it owns, forwards other links to their owners' inboxes,
    and runs until the coordinator tells it to stop (crawler.coordination). The
    campaign's total page cap is shared out evenly between the crawlers.
    """
    if partition is not None:
        if worker not in partition.workers:
            raise ValueError(f"worker {worker!r} is not in the crawl partition {list(partition.workers)}")
        share = math.ceil(cfg.scope.max_pages / len(partition.workers))
        cfg = cfg.with_overrides(scope=replace(cfg.scope, max_pages=share))
    paths = campaign_paths(cfg, worker)
    has_state = has_crawl_state(paths["crawl"], paths["warc"])
    if revisit and not has_state and partition is None:
        raise NothingToRevisit(f"{paths['root']} holds no crawl of campaign {cfg.campaign!r} to revisit; "
                               "crawl it first (`owd crawl` without --revisit)")
    resume = resume or revisit
    if has_state and not resume:
        raise CrawlStateExists(
            f"{paths['root']} already holds a crawl of campaign {cfg.campaign!r}; "
            "use --resume to continue it, or remove that folder to start afresh")
    paths["warc"].mkdir(parents=True, exist_ok=True)
    paths["crawl"].mkdir(parents=True, exist_ok=True)
    facts, repair = prepare_resume(paths, cfg.revisit if revisit else None) if resume else ({}, BackgroundRepair([]))
    settings = scrapy_settings(cfg, paths["warc"], worker, paths["crawl"])
    settings["LOG_LEVEL"] = log_level
    settings["LOG_INSTALL_ROOT_HANDLER"] = log_level != "NONE"
    if partition is not None:
        settings["OWD_PARTITION"] = True
        settings["OWD_CRAWL_ROOT"] = str(paths["crawl"].parent)
        settings["EXTENSIONS"] = {**settings["EXTENSIONS"], "owd.crawler.coordination.PartitionExtension": 600}
        # Site operators (and the test web's log) can tell which crawler of the campaign asked.
        from scrapy.settings.default_settings import DEFAULT_REQUEST_HEADERS

        settings["DEFAULT_REQUEST_HEADERS"] = {**DEFAULT_REQUEST_HEADERS, "X-OWD-Crawler": f"{cfg.campaign}/{worker}"}
    settings.update(extra_settings or {})
    # Requests on the wire finish within DOWNLOAD_TIMEOUT; then the stop is forced.
    process = StoppableCrawlerProcess(settings, grace_s=min(cfg.limits.timeout, 60.0) + 5.0)
    if log_level == "NONE":
        logging.getLogger("scrapy").setLevel(logging.CRITICAL)
    crawler = process.create_crawler(CampaignSpider)
    started = time.time()
    repair.start()
    process.crawl(crawler, campaign=cfg, worker=worker, journal_dir=paths["crawl"],
                  partition=partition, crawl_root=paths["crawl"].parent)
    process.start()
    if process.watchdog is not None:
        process.watchdog.cancel()  # the crawl did return: nothing left to force
    seconds = time.time() - started
    facts.update(repair.facts())
    for key, value in facts.items():
        crawler.stats.set_value(key, value)
    stats = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in crawler.stats.get_stats().items()}
    (paths["crawl"] / "stats.json").write_text(json.dumps(stats, indent=1, sort_keys=True, default=str))
    # stats.json is the last run's; runs.jsonl keeps every run (the report sums revisits over them)
    run = {"started": started, "seconds": round(seconds, 3),
           "mode": "revisit" if revisit else "resume" if resume else "crawl", "stats": stats}
    with open(paths["crawl"] / RUNS_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(run, sort_keys=True, default=str) + "\n")
    warcs = sorted(paths["warc"].glob("*.warc.gz"))
    return CrawlSummary(stats, warcs, seconds, stopped_by=process.stopped_by)
