"""One real Scrapy crawl with RobotsMiddleware, run as a subprocess by
test_robots_middleware.py (Twisted's reactor cannot restart in one process).

Usage: python robots_crawl.py CONFIG.json RESULT.json

CONFIG: {"start": [{"url": ..., "meta": {...}}], "then": {url: [urls to
request from that URL's callback]}, "settings": {...}}.
RESULT: {"stats": {...}, "responses": [{"url", "robots"}], "failures":
[{"url", "error", "robots"}]}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess


class RobotsProbeSpider(scrapy.Spider):
    """Requests the configured URLs and records what came back or failed."""

    name = "robots_probe"

    def __init__(self, config: dict[str, Any], record: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.record = record

    async def start(self):  # noqa: ANN201 -- Scrapy's start() async generator
        for item in self.config["start"]:
            yield self._request(item["url"], item.get("meta", {}))

    def _request(self, url: str, meta: dict[str, Any]) -> scrapy.Request:
        return scrapy.Request(url, meta=dict(meta), callback=self.parse, errback=self.failed, dont_filter=True)

    def parse(self, response: scrapy.http.Response):  # noqa: ANN201
        self.record["responses"].append(
            {"url": response.url, "status": response.status, "robots": response.meta.get("robots")}
        )
        for url in self.config.get("then", {}).get(response.url, []):
            yield self._request(url, {})

    def failed(self, failure: Any) -> None:
        request = failure.request
        self.record["failures"].append(
            {"url": request.url, "error": failure.type.__name__, "robots": request.meta.get("robots")}
        )


def main(config_path: str, result_path: str) -> None:
    config = json.loads(Path(config_path).read_text())
    record: dict[str, Any] = {"responses": [], "failures": []}
    settings = {
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "ROBOTSTXT_OBEY": True,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "owd.crawler.robots_middleware.RobotsMiddleware": 100,
        },
        **config.get("settings", {}),
    }
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(RobotsProbeSpider)
    process.crawl(crawler, config=config, record=record)
    process.start()
    record["stats"] = {key: value for key, value in crawler.stats.get_stats().items() if isinstance(value, (int, float, str))}
    Path(result_path).write_text(json.dumps(record, indent=1, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
