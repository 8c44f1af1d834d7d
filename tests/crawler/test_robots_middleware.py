"""RobotsMiddleware in a real Scrapy crawl (subprocess) against real local
HTTP servers, one loopback address per "host" so that each gets its own
robots.txt and its own downloader slot."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from owd.crawler.robots_middleware import RobotsMiddleware, robots_origin

REPO_ROOT = Path(__file__).resolve().parents[2]
CRAWL_SCRIPT = Path(__file__).with_name("robots_crawl.py")
UA = "owdbot/0.1 (+https://owd.example/bot)"

_GARBAGE = bytes(random.Random(9309).randrange(256) for _ in range(4096))


@dataclass
class Host:
    """One fake web host: how it answers /robots.txt and which paths exist."""

    address: str
    robots: list[tuple[int, bytes]]  # answers to successive /robots.txt requests; the last repeats
    slow_paths: dict[str, float] = field(default_factory=dict)
    log: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, path)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://{self.address}:{self.server.server_address[1]}"

    def hits(self, path: str) -> list[float]:
        return [when for when, seen in self.log if seen == path]


def _handler_for(host: Host) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 -- http.server API
            host.log.append((time.monotonic(), self.path))
            if self.path == "/robots.txt":
                status, body = host.robots[min(len(host.hits("/robots.txt")) - 1, len(host.robots) - 1)]
            else:
                time.sleep(host.slow_paths.get(self.path, 0.0))
                status, body = 200, f"<html><body>{self.path}</body></html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if self.path == "/robots.txt" else "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- keep test output quiet
            pass

    return Handler


def _serve(hosts: dict[str, Host]) -> list[threading.Thread]:
    threads = []
    for host in hosts.values():
        host.server = ThreadingHTTPServer((host.address, 0), _handler_for(host))
        thread = threading.Thread(target=host.server.serve_forever, daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def _refused_port(address: str) -> int:
    """A port on ``address`` where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


@dataclass
class CrawlRun:
    hosts: dict[str, Host]
    result: dict[str, Any]
    dead_base: str

    @property
    def stats(self) -> dict[str, Any]:
        return self.result["stats"]

    def response_for(self, url: str) -> dict[str, Any]:
        return next(r for r in self.result["responses"] if r["url"] == url)

    def failure_for(self, url: str) -> dict[str, Any]:
        return next(f for f in self.result["failures"] if f["url"] == url)

    def fetched_paths(self, name: str) -> set[str]:
        return {path for _, path in self.hosts[name].log if path != "/robots.txt"}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrawlRun]:
    """Serve six hosts, crawl them once with RobotsMiddleware, keep the logs."""
    hosts = {
        # The owdbot group is more specific than "*", which forbids everything.
        "rules": Host("127.0.0.2", [(200, b"User-agent: *\nDisallow: /\n\nUser-agent: owdbot\nDisallow: /private\n")]),
        "missing": Host("127.0.0.3", [(404, b"not found")], slow_paths={"/slow": 1.5}),
        "down": Host("127.0.0.4", [(503, b"busy")]),
        "delay": Host("127.0.0.5", [(200, b"User-agent: owdbot\nCrawl-delay: 1\n")]),
        "garbage": Host("127.0.0.6", [(200, _GARBAGE + b"\nUser-agent: *\nDisallow: /blocked\n" + _GARBAGE)]),
        # 503 first, then a file that allows everything: retried after OWD_ROBOTS_UNREACHABLE_RETRY.
        "recovers": Host("127.0.0.7", [(503, b"busy"), (200, b"User-agent: *\nDisallow:\n")]),
    }
    threads = _serve(hosts)
    dead_base = f"http://127.0.0.8:{_refused_port('127.0.0.8')}"
    b = {name: host.base for name, host in hosts.items()}
    start = [
        *({"url": f"{b['rules']}/{path}"} for path in ("public", "private/secret", "private", "other")),
        {"url": f"{b['missing']}/anything"},
        {"url": f"{b['missing']}/slow"},
        {"url": f"{b['down']}/a"},
        {"url": f"{b['down']}/b"},
        {"url": f"{b['down']}/exempt", "meta": {"dont_obey_robotstxt": True}},
        *({"url": f"{b['delay']}/d{i}"} for i in range(1, 4)),
        {"url": f"{b['garbage']}/ok"},
        {"url": f"{b['garbage']}/blocked"},
        {"url": f"{b['recovers']}/first"},
        {"url": f"{dead_base}/nothing"},
    ]
    config = {
        "start": start,
        # Requested only once /slow answered, i.e. after the 1 s retry period.
        "then": {f"{b['missing']}/slow": [f"{b['recovers']}/second"]},
        "settings": {
            "USER_AGENT": UA,
            "OWD_ROBOTS_UNREACHABLE_RETRY": 1.0,
            # One robots.txt request per outcome, so the server logs are exact.
            "RETRY_ENABLED": False,
            "DOWNLOAD_TIMEOUT": 10,
            # Crawl-delay is enforced by owd's downloader (crawler/politeness.py).
            "DOWNLOADER": "owd.crawler.downloader.PoliteDownloader",
            "OWD_SLOW_HOST_FACTOR": 0,
        },
    }
    workdir = tmp_path_factory.mktemp("robots_crawl")
    config_path, result_path = workdir / "config.json", workdir / "result.json"
    config_path.write_text(json.dumps(config))
    proc = subprocess.run(
        [sys.executable, str(CRAWL_SCRIPT), str(config_path), str(result_path)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    for host in hosts.values():
        assert host.server is not None
        host.server.shutdown()
        host.server.server_close()
    for thread in threads:
        thread.join(timeout=5)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(result_path.read_text())
    result["log"] = proc.stderr
    yield CrawlRun(hosts=hosts, result=result, dead_base=dead_base)


def test_crawl_finishes_cleanly(crawl: CrawlRun) -> None:
    assert crawl.stats["finish_reason"] == "finished"
    assert "log_count/ERROR" not in crawl.stats, crawl.result["log"][-4000:]


def test_disallowed_path_is_not_fetched(crawl: CrawlRun) -> None:
    assert crawl.fetched_paths("rules") == {"/public", "/other"}
    base = crawl.hosts["rules"].base
    assert crawl.response_for(f"{base}/public")["robots"] == {
        "verdict": "allowed",
        "reason": "parsed",
        "robots_url": f"{base}/robots.txt",
        "robots_status": 200,
        "crawl_delay": 0.0,
    }
    refused = crawl.failure_for(f"{base}/private/secret")
    assert refused["error"] == "IgnoreRequest"
    assert refused["robots"]["verdict"] == "disallowed"
    assert refused["robots"]["reason"] == "parsed"
    assert crawl.stats["robots/disallowed/parsed"] == 3  # 2 on "rules", /blocked on "garbage"


def test_robots_fetched_once_per_host_while_requests_wait(crawl: CrawlRun) -> None:
    for name in ("rules", "missing", "down", "delay", "garbage"):
        assert len(crawl.hosts[name].hits("/robots.txt")) == 1, name
    # Four requests for "rules" started together: three waited for the first's fetch.
    assert crawl.stats["robots/deferred"] >= 3


def test_robots_404_allows_everything(crawl: CrawlRun) -> None:
    assert crawl.fetched_paths("missing") == {"/anything", "/slow"}
    assert crawl.response_for(f"{crawl.hosts['missing'].base}/anything")["robots"]["reason"] == "unavailable_4xx"
    assert crawl.stats["robots/fetch/unavailable_4xx"] == 1


def test_robots_503_disallows_everything_and_is_counted(crawl: CrawlRun) -> None:
    # Only the request that opted out of robots.txt reached the host.
    assert crawl.fetched_paths("down") == {"/exempt"}
    assert crawl.response_for(f"{crawl.hosts['down'].base}/exempt")["robots"] is None
    assert crawl.failure_for(f"{crawl.hosts['down'].base}/a")["robots"]["reason"] == "unreachable_5xx"
    assert crawl.stats["robots/disallowed/unreachable_5xx"] == 3  # /a, /b, and /first on "recovers"
    assert crawl.stats["robots/fetch/unreachable_5xx"] == 2  # "down" and the first try on "recovers"


def test_unreachable_robots_is_fetched_again_after_retry_period(crawl: CrawlRun) -> None:
    host = crawl.hosts["recovers"]
    assert len(host.hits("/robots.txt")) == 2
    assert crawl.fetched_paths("recovers") == {"/second"}
    assert crawl.response_for(f"{host.base}/second")["robots"]["reason"] == "parsed"


def test_network_error_disallows_everything(crawl: CrawlRun) -> None:
    assert crawl.stats["robots/fetch/unreachable_error"] == 1
    assert crawl.stats["robots/fetch_error/DownloadConnectionRefusedError"] == 1
    assert crawl.failure_for(f"{crawl.dead_base}/nothing")["robots"]["reason"] == "unreachable_error"


def test_crawl_delay_spaces_requests(crawl: CrawlRun) -> None:
    host = crawl.hosts["delay"]
    times = sorted(when for when, path in host.log if path != "/robots.txt")
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    # Crawl-delay: 1, whatever Scrapy's default ±50 % jitter does to the slot's own delay.
    assert min(gaps) >= 0.95, gaps
    assert crawl.stats["robots/crawl_delay_max"] == 1.0


def test_binary_robots_body_is_parsed_as_far_as_possible(crawl: CrawlRun) -> None:
    assert crawl.fetched_paths("garbage") == {"/ok"}
    assert crawl.failure_for(f"{crawl.hosts['garbage'].base}/blocked")["robots"]["verdict"] == "disallowed"


def test_not_configured_without_robotstxt_obey() -> None:
    with pytest.raises(NotConfigured):
        RobotsMiddleware.from_crawler(get_crawler(settings_dict={"ROBOTSTXT_OBEY": False}))


def test_settings_are_read_in_from_crawler() -> None:
    middleware = RobotsMiddleware.from_crawler(
        get_crawler(settings_dict={"ROBOTSTXT_OBEY": True, "USER_AGENT": UA, "OWD_ROBOTS_UNREACHABLE_RETRY": 42})
    )
    assert middleware.user_agent_token == "owdbot"
    assert middleware.unreachable_retry_s == 42.0
    explicit = RobotsMiddleware.from_crawler(
        get_crawler(settings_dict={"ROBOTSTXT_OBEY": True, "USER_AGENT": UA, "OWD_ROBOTS_USER_AGENT_TOKEN": "OwdNews"})
    )
    assert explicit.user_agent_token == "OwdNews"


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://Example.ORG/a?b", "http://example.org"),
        ("http://example.org:80/a", "http://example.org"),
        ("https://example.org:443/a", "https://example.org"),
        ("https://example.org/a", "https://example.org"),  # not shared with http://
        ("http://example.org:8080/a", "http://example.org:8080"),
        ("http://user:pw@example.org/a", "http://example.org"),
        ("http://[::1]:80/a", "http://[::1]"),
    ],
)
def test_robots_origin_is_scheme_host_and_port(url: str, origin: str) -> None:
    assert robots_origin(Request(url)) == (origin, f"{origin}/robots.txt")
