"""Downloader middleware that writes every HTTP exchange to WARC.

Placed close to the downloader (order 950), so it sees each response before
decompression and redirect handling: the WARC keeps the body as it came off the
wire, redirects included. Scrapy keeps no raw header bytes, so the writer
rebuilds the header block from the parsed headers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from owd.crawler.warc import Revisit, WarcWriter, payload_digest

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = ["WarcWriterMiddleware", "REVISIT_META", "CONDITIONAL_HEADERS", "revisit_profile"]

# request.meta key of a revisit: {"url", "digest", "ref_date"} of the fetch that holds the
# URL's content (crawler/spider.py sets it, with the conditional request headers).
REVISIT_META = "owd_revisit"
CONDITIONAL_HEADERS = (b"If-None-Match", b"If-Modified-Since")


def _pairs(headers: Any) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, values in headers.items() for value in values]


class WarcWriterMiddleware:
    """Settings: ``OWD_WARC_DIR`` (required), ``OWD_WARC_PREFIX``, ``OWD_WARC_MAX_BYTES``,
    ``OWD_WARCINFO`` (dict), ``OWD_CAMPAIGN``, ``OWD_WORKER``."""

    def __init__(self, crawler: "Crawler") -> None:
        s = crawler.settings
        if not s.get("OWD_WARC_DIR"):
            raise NotConfigured("OWD_WARC_DIR is not set")
        self.stats = crawler.stats
        self.campaign = s.get("OWD_CAMPAIGN", "")
        self.worker = s.get("OWD_WORKER", "w0")
        self.user_agent = s.get("USER_AGENT")
        self.writer = WarcWriter(
            Path(s.get("OWD_WARC_DIR")),
            s.get("OWD_WARC_PREFIX") or f"{self.campaign}-{self.worker}",
            max_size=s.getint("OWD_WARC_MAX_BYTES", 10**9),
            warcinfo={**s.getdict("OWD_WARCINFO"), "http-header-user-agent": self.user_agent or ""},
            fsync=s.getbool("OWD_WARC_FSYNC", True),
        )
        crawler.signals.connect(self.close, signal=signals.spider_closed)
        # The spider adds metadata records about parsed pages (media references) to the
        # same file; one writer per crawler, handed over explicitly here.
        crawler.owd_warc_writer = self.writer  # type: ignore[attr-defined]

    @classmethod
    def from_crawler(cls, crawler: "Crawler") -> "WarcWriterMiddleware":
        return cls(crawler)

    def process_response(self, request: "Request", response: "Response", spider: "Spider | None" = None) -> "Response":
        meta = request.meta
        digest = payload_digest(response.body) if response.status != 304 else None
        revisit = revisit_profile(meta.get(REVISIT_META), request.url, response.status, digest,
                                  complete="dataloss" not in response.flags)
        latency = float(meta.get("download_latency") or 0.0)
        metadata = {
            "crawler": self.user_agent,
            "campaign": self.campaign,
            "worker": self.worker,
            "kind": meta.get("owd_kind", "robots" if request.url.endswith("/robots.txt") else "page"),
            "depth": meta.get("depth", 0),
            "via": meta.get("via"),
            "redirect_urls": meta.get("redirect_urls", []),
            "robots": meta.get("robots"),
            "tdm": meta.get("tdm"),
            "download_latency": round(latency, 6),
        }
        location = self.writer.write_fetch(
            response.url,
            status=response.status,
            body=response.body,
            method=request.method,
            request_headers=_pairs(request.headers),
            request_body=request.body or b"",
            response_headers=_pairs(response.headers),
            ip_address=str(response.ip_address) if response.ip_address else None,
            fetch_time=time.time() - latency,
            metadata=metadata,
            http_version=response.protocol or "HTTP/1.1",
            truncated="disconnect" if "dataloss" in response.flags else None,
            revisit=revisit,
            body_digest=digest,
        )
        meta["warc"] = {"file": location.filename, "offset": location.offset, "length": location.length,
                        "record_id": location.record_id, "date": location.warc_date, "digest": digest,
                        "revisit": revisit.profile if revisit is not None else None}
        self.stats.inc_value("warc/records", 3)
        if revisit is not None:
            self.stats.inc_value(f"warc/revisit_records/{revisit.profile}")
        else:
            self.stats.inc_value("warc/response_bytes", len(response.body))
        return response

    def close(self, spider: "Spider | None" = None) -> None:
        self.writer.close()
        self.stats.set_value("warc/files", len(self.writer.finished))


def revisit_profile(previous: dict[str, Any] | None, url: str, status: int, digest: str | None,
                    complete: bool) -> Revisit | None:
    """How a revisit's answer is written: a ``revisit`` record when the server said 304 or
    sent the same payload again (``previous`` is the request's REVISIT_META), else None (a
    full response: new content, an error, or not a revisit of this URL at all)."""
    if not previous or previous.get("url") != url:
        return None
    if status == 304:
        return Revisit("server-not-modified", url, previous.get("ref_date"), None)
    if 200 <= status < 300 and complete and digest is not None and digest == previous.get("digest"):
        return Revisit("identical-payload-digest", url, previous.get("ref_date"), digest)
    return None
