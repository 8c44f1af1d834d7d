"""Scrapy downloader middleware that applies the TDM Reservation Protocol (TDMRep).

Enable it at 960, i.e. after the robots middleware (100) for requests and
before the WARC writer (950) for responses::

    DOWNLOADER_MIDDLEWARES = {..., "owd.crawler.tdm_middleware.TdmMiddleware": 960}

Setting ``OWD_TDM_POLICY``: ``"record"`` (default: fetch everything, record the
verdict) or ``"skip"`` (fetch no TDM-reserved content). ``OWD_TDM_MAX_AGE``:
seconds a fetched tdmrep.json is used (default 86400). The middleware is never
NotConfigured: at least the verdict is always recorded.

Each response that goes through gets ``request.meta["tdm"]``:
``TdmVerdict.to_meta() | {"skip": bool}`` (the WARC writer records it, the
spider follows no links of a skipped page). Before the response, the request
carries the tdmrep.json verdict alone.

How "skip" keeps reserved content out, per technique:

* tdmrep.json: the request is refused before it is sent (IgnoreRequest).
* header: the ``headers_received`` signal stops the download before the body
  (``StopDownload(fail=False)``); the headers-only response then comes through
  :meth:`process_response` like any other, which refuses it (IgnoreRequest) so
  the WARC writer never sees it. ``fail=False`` was chosen so that one code path
  -- process_response with the full precedence rule -- decides every refusal
  and counts it, instead of a second path through process_exception.
* meta: known only with the body; process_response refuses the response
  (IgnoreRequest), so nothing of it reaches the WARC or the spider.

Skipping is deliberately earlier than the precedence rule strictly allows: a
header could lift a file reservation and a meta could lift a header
reservation, but finding that out would mean fetching the content the earlier
technique reserved. In "record" mode everything is fetched and the verdict
follows the rule exactly.

tdmrep.json and robots.txt: robots.txt does not apply to the tdmrep.json fetch
(it carries ``dont_obey_robotstxt``). TDMRep requires the check ("A TDM Agent
MUST check the presence of a TDM file on the origin server before it starts
scraping"), the file is a protocol file like robots.txt itself, and it is only
fetched after robots.txt allowed a request for that origin -- a host that
disallows us entirely never sees it. A ``Disallow: /.well-known/`` would
otherwise hide a rights reservation, turning a politeness rule into a rights
violation.

Stats: ``tdm/file/<reason>`` (one per tdmrep.json fetch, see
``owd.core.tdm.FILE_REASONS``), ``tdm/file_problem/<problem>`` (ignored rules or
values), ``tdm/fetch_error/<exception>``, ``tdm/deferred`` (requests that
waited for a fetch in flight), ``tdm/reserved/<source>``, ``tdm/noai``,
``tdm/noimageai``, ``tdm/skipped/<source>``, ``tdm/download_stopped`` (skipped
responses whose body was never downloaded), ``tdm/head_unreadable/<reason>``
(a compressed HTML body whose metas could not be read).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request, signals
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest, StopDownload
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import CancelledError

from owd.crawler.origin_files import OriginFileCache
from owd.crawler.robots import product_token
from owd.crawler.robots_middleware import robots_origin
from owd.core.tdm import (
    MAX_TDMREP_BYTES,
    TDMREP_PATH,
    HtmlSignals,
    TdmFile,
    TdmVerdict,
    UnreadableBody,
    declaration_from_headers,
    decode_head,
    looks_like_html,
    robots_directives,
    scan_html_head,
    tdm_verdict,
    tdmrep_for_fetch,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response

__all__ = ["TdmMiddleware", "POLICIES"]

logger = logging.getLogger(__name__)

POLICIES = ("record", "skip")
DEFAULT_MAX_AGE_S = 24 * 3600.0
# Marks the middleware's own tdmrep.json request (and its redirects, which copy meta).
_FILE_META = "owd_tdm_file"
# Paths that are protocol files, not content: never judged, never skipped.
_PROTOCOL_PATHS = frozenset({"/robots.txt", TDMREP_PATH})
_SCHEMES = ("http", "https")


def _header_pairs(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, values in headers.items() for value in values]


class TdmMiddleware:
    """Fetch each origin's tdmrep.json once, judge every response, skip if asked."""

    # Like robots.txt: the file must come before the origin's queued pages.
    DOWNLOAD_PRIORITY: int = 1000

    def __init__(
        self,
        crawler: Crawler,
        *,
        policy: str = "record",
        max_age_s: float = DEFAULT_MAX_AGE_S,
        user_agent_token: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"OWD_TDM_POLICY must be one of {POLICIES}, not {policy!r}")
        self.crawler = crawler
        self.policy = policy
        self.skip = policy == "skip"
        self.max_age_s = max_age_s
        self.user_agent_token = user_agent_token
        self._clock = clock
        self._stats = crawler.stats
        self._files: OriginFileCache[TdmFile] = OriginFileCache(
            self._fetch,
            expires_at=lambda _file: self._clock() + self.max_age_s,  # counted from the end of the fetch
            clock=clock,
            stats=self._stats,
            deferred_stat="tdm/deferred",
        )
        if self.skip:
            crawler.signals.connect(self._on_headers_received, signal=signals.headers_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build from ``OWD_TDM_POLICY``, ``OWD_TDM_MAX_AGE`` and the robots token."""
        settings = crawler.settings
        token = settings.get("OWD_ROBOTS_USER_AGENT_TOKEN") or product_token(settings.get("USER_AGENT") or "")
        return cls(
            crawler,
            policy=(settings.get("OWD_TDM_POLICY") or "record").strip().lower(),
            max_age_s=settings.getfloat("OWD_TDM_MAX_AGE", DEFAULT_MAX_AGE_S),
            user_agent_token=token.lower(),
        )

    def file_for(self, origin: str) -> TdmFile | None:
        """The cached tdmrep.json outcome of ``origin`` (``scheme://host[:port]``), if any."""
        return self._files.cached(origin)

    # ---- requests ------------------------------------------------------------------------------
    @staticmethod
    def _exempt(request: Request) -> bool:
        """Protocol files and non-HTTP requests are neither judged nor skipped."""
        if request.meta.get(_FILE_META):
            return True
        parsed = urlparse_cached(request)
        return parsed.scheme not in _SCHEMES or parsed.path in _PROTOCOL_PATHS

    async def process_request(self, request: Request) -> None:
        """Attach the tdmrep.json verdict; with "skip", refuse a path the file reserves."""
        if self._exempt(request):
            return
        origin, _ = robots_origin(request)
        file = await self._files.current(origin, request)
        declaration = file.declaration_for(self._path(request))
        verdict = tdm_verdict(file=declaration)
        skip = self.skip and verdict.reserved
        request.meta["tdm"] = verdict.to_meta() | {"skip": skip}
        if skip:
            self._stats.inc_value("tdm/skipped/tdmrep.json")
            logger.debug("TDM rights reserved by tdmrep.json, not fetched: %s", request)
            raise IgnoreRequest("TDM rights reserved (tdmrep.json)")

    @staticmethod
    def _path(request: Request) -> str:
        parsed = urlparse_cached(request)
        return (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")

    async def _fetch(self, origin: str, _request: Request) -> TdmFile:
        """Download the origin's tdmrep.json through the engine (so it is polite, guarded
        and in the WARC)."""
        url = f"{origin}{TDMREP_PATH}"
        file_request = Request(
            url,
            priority=self.DOWNLOAD_PRIORITY,
            meta={
                _FILE_META: True,
                "dont_obey_robotstxt": True,  # see the module docstring
                "owd_kind": "tdmrep",
                # One byte over the limit: enough to tell "too large" from "at the limit".
                "download_maxsize": MAX_TDMREP_BYTES + 1,
            },
            callback=NO_CALLBACK,
        )
        assert self.crawler.engine is not None
        try:
            response = await self.crawler.engine.download_async(file_request)
        except (DownloadCancelledError, CancelledError):
            # Scrapy aborts over download_maxsize: DownloadCancelledError when the
            # Content-Length says so, a cancelled Deferred when a chunked body gets there.
            file = TdmFile("too_large")
        except Exception as exc:  # noqa: BLE001 -- counted, becomes "unreachable"
            self._stats.inc_value(f"tdm/fetch_error/{type(exc).__name__}")
            logger.info("tdmrep.json unreachable at %s: %r", url, exc)
            file = tdmrep_for_fetch(None, None)
        else:
            file = tdmrep_for_fetch(response.status, response.body)
        self._stats.inc_value(f"tdm/file/{file.reason}")
        for problem in file.problems:
            self._stats.inc_value(f"tdm/file_problem/{problem}")
        return file

    # ---- responses -----------------------------------------------------------------------------
    def _on_headers_received(self, headers: Headers, body_length: int, request: Request, spider: Any = None) -> None:
        """With "skip": stop the download when the header fields reserve the resource.
        The header supersedes the file, so the header alone decides here."""
        if self._exempt(request):
            return
        declaration = declaration_from_headers(_header_pairs(headers))
        if declaration is not None and declaration.reservation:
            raise StopDownload(fail=False)

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        """Record the full verdict; with "skip", refuse a reserved response."""
        if self._exempt(request):
            return response
        file = self.file_for(robots_origin(request)[0])
        file_declaration = file.declaration_for(self._path(request)) if file else None
        header_declaration = declaration_from_headers(_header_pairs(response.headers))
        html = self._html_signals(response)
        directives = robots_directives(response.headers.getlist(b"X-Robots-Tag"), self.user_agent_token)
        verdict = tdm_verdict(
            file=file_declaration,
            header=header_declaration,
            meta=html.declaration,
            directives=directives | html.robots,
        )
        self._count(verdict)
        skip = self.skip and verdict.reserved
        request.meta["tdm"] = verdict.to_meta() | {"skip": skip}
        if skip:
            assert verdict.source is not None
            self._stats.inc_value(f"tdm/skipped/{verdict.source}")
            if "download_stopped" in response.flags:  # set by Scrapy when the transport was dropped
                self._stats.inc_value("tdm/download_stopped")
            logger.debug("TDM rights reserved by %s, dropped: %s", verdict.source, response)
            raise IgnoreRequest(f"TDM rights reserved ({verdict.source})")
        return response

    def _html_signals(self, response: Response) -> HtmlSignals:
        """Metas of the response's head, when it is HTML with a body we can read."""
        if "download_stopped" in response.flags or not response.body:
            return HtmlSignals()
        content_type = response.headers.get(b"Content-Type")
        if content_type and not looks_like_html(content_type, b""):
            return HtmlSignals()  # images, PDFs...: not even decompressed
        try:
            head = decode_head(response.body, response.headers.get(b"Content-Encoding"))
        except UnreadableBody as exc:
            self._stats.inc_value(f"tdm/head_unreadable/{exc.args[0]}")
            return HtmlSignals()
        if not content_type and not looks_like_html(None, head):
            return HtmlSignals()
        names = ("robots", self.user_agent_token) if self.user_agent_token else ("robots",)
        return scan_html_head(head, robots_names=names)

    def _count(self, verdict: TdmVerdict) -> None:
        if verdict.reserved:
            self._stats.inc_value(f"tdm/reserved/{verdict.source}")
        if verdict.noai:
            self._stats.inc_value("tdm/noai")
        if verdict.noimageai:
            self._stats.inc_value("tdm/noimageai")
