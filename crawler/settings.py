"""Campaign config -> Scrapy settings: the only place the two vocabularies meet.

Politeness, limits and our components are expressed in Scrapy's own settings
system (priority "project"), so ``-s KEY=VALUE`` style overrides keep working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from owd.core import VERSION
from owd.core.config import CampaignConfig

__all__ = ["scrapy_settings", "user_agent"]


def user_agent(cfg: CampaignConfig) -> str:
    return f"{cfg.politeness.user_agent} (+{cfg.politeness.contact_url})"


def scrapy_settings(cfg: CampaignConfig, warc_dir: Path, worker: str = "w0",
                    crawl_dir: Path | None = None) -> dict[str, Any]:
    p, lim, net = cfg.politeness, cfg.limits, cfg.network
    ua = user_agent(cfg)
    return {
        "BOT_NAME": "owd",
        "USER_AGENT": ua,
        "ROBOTSTXT_OBEY": p.obey_robots,
        "OWD_ROBOTS_USER_AGENT_TOKEN": p.user_agent.split("/")[0],
        # Politeness: one rule, enforced by the downloader where requests start
        # (crawler/politeness.py): max(delay, Crawl-delay, k x last response time) after the
        # previous response ended; no randomisation, so the floor is exact and the test
        # web's log can verify it. AutoThrottle's delay is one more term: it only raises.
        "DOWNLOAD_DELAY": p.delay,
        "DOWNLOAD_DELAY_JITTER": 0,
        "DOWNLOADER": "owd.crawler.downloader.PoliteDownloader",
        "OWD_SLOW_HOST_FACTOR": p.slow_host_factor,
        "OWD_SLOW_HOST_MAX_DELAY": p.slow_host_max_delay,
        "OWD_MAX_CRAWL_DELAY": p.max_crawl_delay,
        "CONCURRENT_REQUESTS": p.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": p.concurrency_per_host,
        "AUTOTHROTTLE_ENABLED": p.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(p.delay, 0.01),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(p.concurrency_per_host),
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "RETRY_TIMES": 2,
        "OWD_MAX_RETRY_AFTER": p.max_retry_after,
        # Limits
        "DOWNLOAD_MAXSIZE": int(lim.max_response_bytes),
        "OWD_MAX_DECOMPRESSED_BYTES": int(lim.max_decompressed_bytes),
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": lim.max_redirects,
        "DOWNLOAD_TIMEOUT": lim.timeout,
        "DEPTH_LIMIT": 0,  # depth is part of our scope (it also counts refusals)
        # The spider de-duplicates canonical URLs before it creates requests (1.6x faster
        # than letting the dupefilter fingerprint every request).
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
        # The frontier lives on disk (crawler/frontier_store.py); the scheduler hands out a
        # request only when its host may be fetched (crawler/scheduler.py). Within a host:
        # priority = relevance - depth, FIFO on ties (breadth-first without topics).
        "SCHEDULER": "owd.crawler.scheduler.FrontierScheduler",
        "COOKIES_ENABLED": False,
        # A crawler needs no listening socket: no telnet console, no remote control.
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOGSTATS_INTERVAL": 0,  # crawler.report prints a fuller progress line
        "OWD_REPORT_PATH": str(crawl_dir / "report.json") if crawl_dir else None,
        "OWD_PROGRESS_INTERVAL": 10.0,
        "EXTENSIONS": {"owd.crawler.media.MediaPolicy": 500},
        "OWD_MEDIA_MIME": {kind: list(getattr(cfg.media, kind).mime) for kind in ("image", "audio", "video")},
        "LOG_LEVEL": "INFO",
        "LOG_INSTALL_ROOT_HANDLER": True,
        # Scrapy's and the libraries' log lines (the test web's deliberate faults are ERRORs
        # to Scrapy) go to the crawl's log file; the console gets owd's progress and summary.
        "LOG_FILE": str(crawl_dir / "crawl.log") if crawl_dir else None,
        "LOG_FILE_APPEND": True,
        "OWD_PROGRESS_CONSOLE": crawl_dir is not None,
        # Network: static host table, then the address guard.
        "TWISTED_DNS_RESOLVER": "owd.crawler.resolver.GuardedResolver",
        "OWD_HOSTS": dict(net.hosts),
        "OWD_HOSTS_FILE": str(cfg.resolve(net.hosts_file)) if net.hosts_file else None,
        "OWD_STATIC_DNS_ONLY": net.static_dns_only,
        "OWD_ALLOW_NETWORKS": list(net.allow_networks),
        "OWD_TDM_POLICY": p.tdm,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
            "owd.crawler.compression.BoundedDecompressionMiddleware": 590,
            "owd.crawler.resolver.AddressGuardMiddleware": 50,
            "owd.crawler.redirects.RedirectSeenMiddleware": 60,
            "owd.crawler.robots_middleware.RobotsMiddleware": 100,
            "owd.crawler.backoff.RetryAfterMiddleware": 560,
            "owd.crawler.report.CrawlReport": 940,
            "owd.crawler.warc_middleware.WarcWriterMiddleware": 950,
            "owd.crawler.tdm_middleware.TdmMiddleware": 960,
        },
        # WARC
        "OWD_WARC_DIR": str(warc_dir),
        "OWD_WARC_MAX_BYTES": int(cfg.warc.max_file_bytes),
        "OWD_CAMPAIGN": cfg.campaign,
        "OWD_WORKER": worker,
        "OWD_WARCINFO": {
            "software": f"owd/{VERSION} (Scrapy)",
            "operator": p.contact_url,
            "campaign": cfg.campaign,
            "robots": "obey" if p.obey_robots else "ignore",
            "tdm-policy": p.tdm,
            "description": cfg.description or cfg.campaign,
        },
    }
