"""Run one campaign crawl in this process and write its stats.

Twisted's reactor starts once per process: call :func:`run_crawl` once per
process (the CLI does); tests run crawls through ``owd crawl`` in a subprocess.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess

from crawler.settings import scrapy_settings
from crawler.spider import CampaignSpider
from owd.config import CampaignConfig

__all__ = ["CrawlSummary", "run_crawl", "campaign_paths"]


@dataclass
class CrawlSummary:
    stats: dict[str, Any]
    warc_files: list[Path]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

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


def run_crawl(cfg: CampaignConfig, worker: str = "w0", log_level: str = "INFO",
              extra_settings: dict[str, Any] | None = None) -> CrawlSummary:
    """Crawl the campaign with one Scrapy process; return its stats and WARC files."""
    paths = campaign_paths(cfg, worker)
    paths["warc"].mkdir(parents=True, exist_ok=True)
    paths["crawl"].mkdir(parents=True, exist_ok=True)
    settings = scrapy_settings(cfg, paths["warc"], worker)
    settings["LOG_LEVEL"] = log_level
    settings["LOG_INSTALL_ROOT_HANDLER"] = log_level != "NONE"
    settings.update(extra_settings or {})
    process = CrawlerProcess(settings)
    if log_level == "NONE":
        logging.getLogger("scrapy").setLevel(logging.CRITICAL)
    crawler = process.create_crawler(CampaignSpider)
    started = time.time()
    process.crawl(crawler, campaign=cfg, worker=worker)
    process.start()
    seconds = time.time() - started
    stats = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in crawler.stats.get_stats().items()}
    (paths["crawl"] / "stats.json").write_text(json.dumps(stats, indent=1, sort_keys=True, default=str))
    warcs = sorted(paths["warc"].glob("*.warc.gz"))
    return CrawlSummary(stats, warcs, seconds)
