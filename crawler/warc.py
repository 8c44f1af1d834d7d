"""The crawler's WARC output (ISO 28500, WARC/1.1), written with warcio.

Files are ``<prefix>-<UTC YYYYmmddHHMMSSffffff>-<seq:05d>.warc.gz``, one gzip member
per record, each starting with a ``warcinfo`` record. A file being written is named
``<final>.open``; closing it (rotation or :meth:`WarcWriter.close`) writes the CDXJ
index ``<final>.cdxj`` (temp name, then rename) and then renames the WARC itself, so
a final name always means "complete and indexed". Leftover ``.open`` files of a
crashed crawl are made final by :func:`repair_open_warc` / :func:`repair_directory`.

One HTTP exchange is three records sharing ``WARC-Target-URI`` and ``WARC-Date``:
``request`` and ``metadata`` point at the ``response`` with ``WARC-Concurrent-To``.
The metadata record's block is UTF-8 JSON (``Content-Type: application/json``).

HTTP header blocks are rebuilt (Scrapy keeps no raw header bytes) from the status,
reason and header pairs, as bytes verbatim. The stored body is never chunked, so
``Transfer-Encoding`` becomes ``X-Crawler-Transfer-Encoding``; when the body given is
*decoded* (``body_decoded=True``) ``Content-Encoding`` becomes
``X-Crawler-Content-Encoding``, otherwise the body is taken as the wire bytes and the
header kept; ``Content-Length`` is set to the stored body length (a differing
original becomes ``X-Crawler-Content-Length``). This is the Common Crawl /
StormCrawler convention, so readers can replay the record consistently.
"""

from __future__ import annotations

import base64
import hashlib
import http
import json
import logging
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path
from importlib.metadata import version as _dist_version
from typing import IO, Any, Iterable, Mapping
from urllib.parse import urlsplit

from fastwarc.warc import ArchiveIterator as FastArchiveIterator
from fastwarc.warc import WarcRecordType
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import (StatusAndHeaders, StatusAndHeadersParser,
                                     StatusAndHeadersParserException)
from warcio.warcwriter import WARCWriter

from owd.core.cdxj import CdxjEntry, make_entry, to_uri, write_cdxj, index_warc
from owd.core.gzip_members import iter_members

log = logging.getLogger(__name__)

WARC_VERSION = "1.1"
FINAL_SUFFIX = ".warc.gz"
OPEN_SUFFIX = ".open"
CORRUPT_SUFFIX = ".corrupt"
CDXJ_SUFFIX = ".cdxj"

# RFC 9110 token: anything else in a field name would corrupt or confuse parsers.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

HeaderValue = str | bytes
# (name, value) pairs, or a mapping / Scrapy ``Headers`` whose values may be lists
# (a list or tuple value is several values; _clean_headers expands only those).
HeaderPairs = (Iterable[tuple[HeaderValue, HeaderValue | list[HeaderValue] | tuple[HeaderValue, ...]]]
               | Mapping[Any, Any])
FetchTime = datetime | float | int | None


REVISIT_PROFILES = {
    "identical-payload-digest": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
    "server-not-modified": "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
}


def payload_digest(body: bytes) -> str:
    """``sha1:<base32>`` of a payload: the WARC-Payload-Digest warcio writes for it."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


@dataclass(frozen=True)
class Revisit:
    """Write an exchange as a ``revisit`` record (WARC 1.1 section 6.7) instead of a
    ``response``: the server said 304 Not Modified (``server-not-modified``) or sent the
    payload the crawl already has (``identical-payload-digest``). The record keeps the
    HTTP headers, not the payload, and points at the record that holds the payload."""

    profile: str  # a key of REVISIT_PROFILES
    refers_to_uri: str
    refers_to_date: str | None  # WARC-Date of the record holding the payload
    payload_digest: str | None  # that payload's digest

    def __post_init__(self) -> None:
        if self.profile not in REVISIT_PROFILES:
            raise ValueError(f"unknown revisit profile {self.profile!r}")


@dataclass(frozen=True)
class RecordLocation:
    """Where a record ended up: final file name (valid once the file is closed),
    offset and length of its gzip member, and its record id/date."""

    filename: str
    path: Path
    offset: int
    length: int
    record_id: str
    warc_date: str


# --------------------------------------------------------------------------- helpers
class _GzipMemberSink:
    """File-like target for warcio: every ``flush()`` (warcio calls it once at the
    end of each record) closes one gzip member. warcio's own gzip wrapper is fixed
    at level 9; this one takes the level."""

    def __init__(self, raw: IO[bytes], level: int) -> None:
        self._raw, self._level = raw, level
        self.reset()

    def reset(self) -> None:
        self._comp = zlib.compressobj(self._level, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> None:
        self._raw.write(self._comp.compress(data))

    def flush(self) -> None:
        self._raw.write(self._comp.flush())
        self.reset()
        self._raw.flush()


class _OwdWARCWriter(WARCWriter):
    """warcio writer that gives ``metadata`` records no WARC-Payload-Digest: their
    block has no defined payload (fastwarc 2.0.1 cannot verify one there, and
    Heritrix / Common Crawl write none); the block digest covers them."""

    NO_PAYLOAD_DIGEST_TYPES = ("warcinfo", "revisit", "metadata")


class _RawHttpHeaders(StatusAndHeaders):
    """StatusAndHeaders whose serialised block is our exact bytes: warcio would
    re-encode it (it %-escapes non-ASCII values and crashes on non-ASCII names)."""

    def __init__(self, statusline: str, protocol: str, block: bytes) -> None:
        super().__init__(statusline, [("X-Raw", "1")], protocol=protocol)
        self.headers_buff = block

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        return None


def _as_bytes(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _warc_date(when: FetchTime) -> str:
    if when is None:
        dt = datetime.now(timezone.utc)
    elif isinstance(when, (int, float)):
        dt = datetime.fromtimestamp(when, timezone.utc)
    else:
        dt = when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _http_version(protocol: str) -> str:
    """Status/request-line version from Scrapy's ``response.protocol`` ("HTTP/1.1", "h2")."""
    p = protocol.strip().upper()
    if p.startswith("HTTP/"):
        return p
    return {"H2": "HTTP/2", "H3": "HTTP/3"}.get(p, "HTTP/1.1")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _warc_fields_value(value: object) -> str:
    return re.sub(r"[\r\n]+", " ", str(value))


# --------------------------------------------------------------------------- writer
class WarcWriter:
    """Writes fetches as per-record-gzipped WARC/1.1 files with rotation and CDXJ.

    ``warcinfo`` (software, operator, campaign, robots policy, user agent, ...) is
    written as the ``warcinfo`` record at the start of every file; ``format`` and
    ``conformsTo`` are added when absent. Not thread-safe (Scrapy is single-
    threaded). Files are opened lazily on the first write, so a writer that wrote
    nothing leaves no file. ``close()`` is idempotent; the writer is a context
    manager. ``stats`` counts header repairs made on the way (reason -> count).
    ``fsync=False`` skips the fsyncs at file close (tests, benchmarks).
    """

    def __init__(self, directory: Path | str, prefix: str, *, max_size: int = 1_000_000_000,
                 warcinfo: Mapping[str, str] | None = None, compress_level: int = 6,
                 fsync: bool = True) -> None:
        if not prefix or "/" in prefix or prefix.startswith("."):
            raise ValueError(f"bad WARC prefix {prefix!r}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix, self.max_size = prefix, max_size
        # Level 6, not warcio's fixed 9: on the shared real pages + media mix
        # (bench/bench_warc_write.py) 9 wrote 0.3% smaller files at 34 vs 44 MB/s.
        self.compress_level, self.fsync = compress_level, fsync
        info = dict(warcinfo or {})
        info.setdefault("software", f"owd-crawler (warcio {_dist_version('warcio')})")
        info.setdefault("format", "WARC File Format 1.1")
        info.setdefault("conformsTo",
                        "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/")
        self.warcinfo = {k: _warc_fields_value(v) for k, v in info.items()}
        self.stats: Counter[str] = Counter()
        self.finished: list[Path] = []
        self._seq = self._next_seq()
        leftovers = sorted(self.directory.glob(f"{prefix}-*{FINAL_SUFFIX}{OPEN_SUFFIX}"))
        if leftovers:
            log.info("%d unfinished WARC file(s) of an earlier run in %s (repaired by `owd crawl --resume`): %s",
                     len(leftovers), self.directory, [p.name for p in leftovers])
        self._closed = False
        self._file: IO[bytes] | None = None
        self._sink: _GzipMemberSink | None = None
        self._warc: WARCWriter | None = None
        self._final: Path | None = None
        self._warcinfo_id = ""
        self._entries: list[CdxjEntry] = []

    # -- file lifecycle
    def _next_seq(self) -> int:
        pattern = re.compile(re.escape(self.prefix) + r"-\d{20}-(\d{5,})\.warc\.gz")
        seqs = [int(m.group(1)) for p in self.directory.iterdir()
                if (m := pattern.match(p.name))]
        return max(seqs, default=-1) + 1

    @property
    def current_path(self) -> Path | None:
        """The ``.open`` file being written, if any."""
        return self._final.with_name(self._final.name + OPEN_SUFFIX) if self._final else None

    def _open(self) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")
        self._final = self.directory / f"{self.prefix}-{stamp}-{self._seq:05d}{FINAL_SUFFIX}"
        self._seq += 1
        self._file = open(self.current_path, "xb")  # type: ignore[arg-type]
        self._sink = _GzipMemberSink(self._file, self.compress_level)
        self._warc = _OwdWARCWriter(self._sink, gzip=False, warc_version=WARC_VERSION)
        self._entries = []
        info = self._warc.create_warcinfo_record(self._final.name, self.warcinfo)
        self._warcinfo_id = info.rec_headers.get_header("WARC-Record-ID")
        self._warc.write_record(info)

    def _finalize(self) -> None:
        assert self._file is not None and self._final is not None
        open_path = self.current_path
        try:
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
        finally:
            self._file.close()
        write_cdxj(self._entries, self._final.with_name(self._final.name + CDXJ_SUFFIX), fsync=self.fsync)
        os.replace(open_path, self._final)  # type: ignore[arg-type]
        if self.fsync:
            _fsync_dir(self.directory)
        self.finished.append(self._final)
        self._file = self._sink = self._warc = self._final = None
        self._entries = []

    def rotate(self) -> None:
        """Close the current file now (no-op when none is open)."""
        if self._file is not None:
            self._finalize()

    def close(self) -> None:
        """Finalize the current file; further writes raise. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.rotate()

    def __enter__(self) -> "WarcWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records
    def _headers(self, rec_type: str, uri: str, date: str, ip: str | None = None,
                 extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
        # Insertion order is the order in the file (warcio keeps it).
        h = {"WARC-Type": rec_type, "WARC-Record-ID": StatusAndHeadersParser.make_warc_id(),
             "WARC-Date": date, "WARC-Target-URI": uri}
        if ip:
            h["WARC-IP-Address"] = ip
        h["WARC-Warcinfo-ID"] = self._warcinfo_id
        h.update({k: v for k, v in (extra or {}).items() if v})
        return h

    def _ensure_open(self) -> WARCWriter:
        if self._closed:
            raise ValueError("WarcWriter is closed")
        if self._file is None:
            self._open()
        assert self._warc is not None
        return self._warc

    def _clean_headers(self, pairs: HeaderPairs) -> list[tuple[bytes, bytes]]:
        items = pairs.items() if isinstance(pairs, Mapping) or hasattr(pairs, "items") else pairs
        out = []
        for name, values in items:
            n = _as_bytes(name).strip()
            if not _TOKEN.fullmatch(n):
                self.stats["header_dropped_bad_name"] += 1
                continue
            for value in values if isinstance(values, (list, tuple)) else [values]:
                v = _as_bytes(value)
                if re.search(rb"[\r\n\x00]", v):
                    self.stats["header_value_newline_replaced"] += 1
                    v = re.sub(rb"[\r\n\x00]+", b" ", v)
                out.append((n, v.strip()))
        return out

    def _response_headers(self, pairs: list[tuple[bytes, bytes]], body: bytes,
                          body_decoded: bool) -> list[tuple[bytes, bytes]]:
        encodings = [v.strip().lower() for n, v in pairs if n.lower() == b"content-encoding"]
        if (not body_decoded and encodings in ([b"gzip"], [b"x-gzip"])
                and body and not body.startswith(b"\x1f\x8b")):
            # Caller passed a decoded body with the header left in; storing it as-is
            # would make every reader fail to gunzip the payload.
            self.stats["content_encoding_gzip_but_plain_body"] += 1
            body_decoded = True
        size = str(len(body)).encode()
        lengths = [v for n, v in pairs if n.lower() == b"content-length"]
        keep_length = lengths == [size]
        out: list[tuple[bytes, bytes]] = []
        for n, v in pairs:
            low = n.lower()
            if low == b"transfer-encoding":
                out.append((b"X-Crawler-Transfer-Encoding", v))
            elif low == b"content-encoding" and body_decoded:
                out.append((b"X-Crawler-Content-Encoding", v))
            elif low == b"content-length" and not keep_length:
                out.append((b"X-Crawler-Content-Length", v))
            else:
                out.append((n, v))
        if not keep_length:
            out.append((b"Content-Length", size))
        return out

    @staticmethod
    def _block(start_line: bytes, pairs: list[tuple[bytes, bytes]]) -> bytes:
        lines = [start_line] + [n + b": " + v if v else n + b":" for n, v in pairs]
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def _write_group(self, records: list[Any], index: int, entry_args: dict[str, Any] | None) -> RecordLocation:
        """Write records as one unit (rolled back on error); index ``records[index]`` in
        the CDXJ unless ``entry_args`` is None (records nobody looks up by URL)."""
        self._ensure_open()
        assert self._file is not None and self._warc is not None and self._final is not None
        start = self._file.tell()
        spans = []
        try:
            for rec in records:
                before = self._file.tell()
                self._warc.write_record(rec)
                spans.append((before, self._file.tell() - before))
        except BaseException:
            self._rollback(start)
            raise
        # Hand the group to the kernel now: a SIGKILLed crawler loses only what is in
        # Python's buffer, and the resume journal may already say "done" for it.
        self._file.flush()
        offset, length = spans[index]
        main = records[index]
        date = main.rec_headers.get_header("WARC-Date")
        if entry_args is not None:
            self._entries.append(make_entry(
                url=main.rec_headers.get_header("WARC-Target-URI"), warc_date=date,
                rec_type=main.rec_type,
                payload_digest=main.rec_headers.get_header("WARC-Payload-Digest"),
                offset=offset, length=length, filename=self._final.name, **entry_args))
        loc = RecordLocation(self._final.name, self._final, offset, length,
                             main.rec_headers.get_header("WARC-Record-ID"), date)
        if self._file.tell() >= self.max_size:
            self._finalize()
        return loc

    def _rollback(self, start: int) -> None:
        """Cut a half-written group so the file ends on a record boundary again; if
        even that fails (disk full), abandon the file as ``.open`` for repair."""
        assert self._file is not None and self._sink is not None
        try:
            self._sink.reset()
            self._file.seek(start)
            self._file.truncate()
            self.stats["groups_rolled_back"] += 1
        except OSError as e:
            log.error("cannot roll back %s (%s); leaving it for repair_open_warc", self.current_path, e)
            self.stats["files_abandoned_for_repair"] += 1
            try:
                self._file.close()
            except OSError as close_err:  # buffered bytes can't be written either
                self.stats["abandoned_file_close_errors"] += 1
                log.error("closing abandoned %s failed: %s", self.current_path, close_err)
            self._file = self._sink = self._warc = self._final = None
            self._entries = []

    def _metadata_record(self, uri: str, date: str, concurrent_to: str,
                         metadata: Mapping[str, Any] | None) -> Any:
        blob = json.dumps(dict(metadata or {}), ensure_ascii=False, allow_nan=False).encode()
        return self._ensure_open().create_warc_record(
            uri, "metadata", payload=BytesIO(blob), length=len(blob),
            warc_content_type="application/json",
            warc_headers_dict=self._headers("metadata", uri, date,
                                            extra={"WARC-Concurrent-To": concurrent_to}))

    def write_metadata(self, url: str, metadata: Mapping[str, Any], *, refers_to: str | None = None,
                       fetch_time: FetchTime = None) -> RecordLocation:
        """Write a standalone ``metadata`` record about ``url`` (e.g. what a parsed page
        references), linked to its response by ``WARC-Refers-To``; not in the CDXJ."""
        uri, date = to_uri(url), _warc_date(fetch_time)
        blob = json.dumps(dict(metadata), ensure_ascii=False, allow_nan=False).encode()
        rec = self._ensure_open().create_warc_record(
            uri, "metadata", payload=BytesIO(blob), length=len(blob), warc_content_type="application/json",
            warc_headers_dict=self._headers("metadata", uri, date, extra={"WARC-Refers-To": refers_to}))
        return self._write_group([rec], 0, None)

    def write_fetch(self, url: str, *, status: int, body: bytes, method: str = "GET",
                    request_headers: HeaderPairs = (), request_body: bytes = b"",
                    reason: str | bytes | None = None, response_headers: HeaderPairs = (),
                    body_decoded: bool = False, ip_address: str | None = None,
                    fetch_time: FetchTime = None, metadata: Mapping[str, Any] | None = None,
                    http_version: str = "HTTP/1.1", truncated: str | None = None,
                    revisit: Revisit | None = None, body_digest: str | None = None) -> RecordLocation:
        """Write request + response + metadata records for one HTTP exchange
        (request + revisit + metadata with ``revisit``: the body is not stored then).

        ``body`` is the response body as received (content-coded, de-chunked) unless
        ``body_decoded`` says it was already content-decoded (see module docstring).
        ``metadata`` must be JSON-serialisable (checked before anything is written).
        ``truncated`` sets ``WARC-Truncated`` (``length``/``time``/``disconnect``);
        ``http_version`` takes Scrapy's ``response.protocol`` (``h2`` -> ``HTTP/2``).
        Headers may be pairs or a mapping with list values (Scrapy's ``Headers``);
        request headers get ``Host`` (and ``Content-Length`` for a body) when absent,
        as the HTTP client adds them on the wire. ``reason`` defaults to the standard
        phrase for ``status`` (Scrapy does not keep the one sent).
        Returns the response record's location (final file name, member offset/length).
        """
        warc = self._ensure_open()
        uri, date = to_uri(url), _warc_date(fetch_time)
        parts = urlsplit(uri)
        version = _http_version(http_version)
        # -- response
        if not reason:
            try:
                reason = http.HTTPStatus(status).phrase
            except ValueError:  # unregistered code: the status line keeps an empty reason
                reason = ""
        reason_b = re.sub(rb"[\r\n]+", b" ", _as_bytes(reason))
        resp_pairs = self._response_headers(self._clean_headers(response_headers), body, body_decoded)
        status_line = f"{version} {int(status)} ".encode() + reason_b
        mime = next((v.decode("latin-1") for n, v in resp_pairs if n.lower() == b"content-type"), None)
        # body_digest: payload_digest(body) when the caller has it already (it is not computed twice)
        extra: dict[str, str | None] = {"WARC-Truncated": truncated, "WARC-Payload-Digest": body_digest}
        if revisit is not None:
            extra = {"WARC-Profile": REVISIT_PROFILES[revisit.profile],
                     "WARC-Refers-To-Target-URI": to_uri(revisit.refers_to_uri),
                     "WARC-Refers-To-Date": revisit.refers_to_date,
                     "WARC-Payload-Digest": revisit.payload_digest}
        stored = b"" if revisit is not None else body
        rec_type = "revisit" if revisit is not None else "response"
        resp = warc.create_warc_record(
            uri, rec_type, payload=BytesIO(stored), length=len(stored),
            http_headers=_RawHttpHeaders(f"{int(status)} {reason_b.decode('latin-1')}", version,
                                         self._block(status_line, resp_pairs)),
            warc_headers_dict=self._headers(rec_type, uri, date, ip_address, extra=extra))
        resp_id = resp.rec_headers.get_header("WARC-Record-ID")
        # -- request
        req_pairs = self._clean_headers(request_headers)
        if not any(n.lower() == b"host" for n, _ in req_pairs):
            req_pairs.insert(0, (b"Host", parts.netloc.rpartition("@")[2].encode("ascii")))
        if request_body and not any(n.lower() == b"content-length" for n, _ in req_pairs):
            req_pairs.append((b"Content-Length", str(len(request_body)).encode()))
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        req_line = f"{method.upper()} {target} {version}".encode("ascii")
        req = warc.create_warc_record(
            uri, "request", payload=BytesIO(request_body), length=len(request_body),
            http_headers=_RawHttpHeaders(f"{target} {version}", method.upper(),
                                         self._block(req_line, req_pairs)),
            warc_headers_dict=self._headers("request", uri, date, ip_address,
                                            extra={"WARC-Concurrent-To": resp_id}))
        meta = self._metadata_record(uri, date, resp_id, metadata)
        return self._write_group([req, resp, meta], 1, {"mime": mime, "status": int(status)})

    def write_resource(self, url: str, content: bytes, content_type: str, *,
                       fetch_time: FetchTime = None, ip_address: str | None = None,
                       metadata: Mapping[str, Any] | None = None) -> RecordLocation:
        """Write a ``resource`` record (content not obtained as an HTTP response,
        e.g. a rendered snapshot) plus its ``metadata`` record; indexed in CDXJ.
        Non-HTML HTTP responses are plain :meth:`write_fetch` calls."""
        warc = self._ensure_open()
        uri, date = to_uri(url), _warc_date(fetch_time)
        res = warc.create_warc_record(
            uri, "resource", payload=BytesIO(content), length=len(content),
            warc_content_type=content_type,
            warc_headers_dict=self._headers("resource", uri, date, ip_address))
        meta = self._metadata_record(uri, date, res.rec_headers.get_header("WARC-Record-ID"), metadata)
        return self._write_group([res, meta], 0, {"mime": content_type, "status": None})


# --------------------------------------------------------------------------- repair
@dataclass
class RepairResult:
    """Outcome of repairing one ``.open`` file.

    ``status``: ``intact`` (nothing cut), ``truncated`` (a damaged tail was cut) or
    ``corrupt`` (no readable warcinfo: file moved to ``*.warc.gz.corrupt``).
    ``response_urls`` are the target URIs of complete response/revisit records,
    i.e. what a resumed crawl need not fetch again.
    """

    source: Path
    path: Path | None
    status: str
    records_kept: int = 0
    records_by_type: dict[str, int] = field(default_factory=dict)
    bytes_kept: int = 0
    bytes_dropped: int = 0
    response_urls: list[str] = field(default_factory=list)
    problem: str | None = None


@dataclass
class _Scanned:
    rec_type: str
    url: str | None
    date: str
    mime: str | None
    status: int | None
    payload_digest: str | None


def _check_record(spool: IO[bytes]) -> _Scanned | str:
    """Parse one decompressed member strictly: one record, full block, digests pass."""
    spool.seek(0)
    it = ArchiveIterator(spool, check_digests=True)
    try:
        rec = next(it)
        while rec.raw_stream.read(1 << 20):
            pass
        if rec.raw_stream.limit != 0:
            return "record block shorter than Content-Length"
        if rec.digest_checker.passed is not True:
            return f"digest check failed or missing: {rec.digest_checker.problems}"
        facts = _Scanned(rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI"),
                         rec.rec_headers.get_header("WARC-Date"), None, None,
                         rec.rec_headers.get_header("WARC-Payload-Digest"))
        if rec.http_headers and rec.rec_type in ("response", "revisit"):
            code = rec.http_headers.get_statuscode()
            facts.status = int(code) if code.isdigit() else None
            facts.mime = rec.http_headers.get_header("Content-Type")
        elif rec.rec_type == "resource":
            facts.mime = rec.rec_headers.get_header("Content-Type")
        if next(it, None) is not None or it.err_count:
            return "more than one record in a gzip member"
    except (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError,
            ValueError, StopIteration) as e:
        return f"unparseable record: {type(e).__name__}: {e}"
    return facts


def repair_open_warc(path: Path) -> RepairResult:
    """Make a crashed crawl's ``*.warc.gz.open`` final.

    Rule: keep every complete, parseable record (whole gzip member, one record,
    block length and digests verified) up to the first damaged member, cut the file
    there, write the CDXJ and rename to the final name. A trailing request/response
    whose metadata record was lost is kept (the records are valid on their own).
    Without a readable leading warcinfo the file becomes ``*.warc.gz.corrupt``.
    Only call this on files no live writer has open.
    """
    path = Path(path)
    if not path.name.endswith(FINAL_SUFFIX + OPEN_SUFFIX):
        raise ValueError(f"not an open WARC: {path}")
    final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
    if final.exists():
        raise FileExistsError(f"{final} already exists; not overwriting it")
    size = path.stat().st_size
    result = RepairResult(source=path, path=None, status="intact")
    entries: list[CdxjEntry] = []
    kept: Counter[str] = Counter()
    good_end = 0
    with open(path, "rb") as f:
        for member in iter_members(f):
            facts = member.problem or _check_record(member.data)
            if isinstance(facts, str):
                result.problem = f"at offset {good_end}: {facts}"
                break
            if not kept and facts.rec_type != "warcinfo":
                result.problem = f"first record is {facts.rec_type}, not warcinfo"
                break
            kept[facts.rec_type] += 1
            if facts.rec_type in ("response", "revisit", "resource") and facts.url:
                entries.append(make_entry(url=facts.url, warc_date=facts.date, rec_type=facts.rec_type,
                                          mime=facts.mime, status=facts.status,
                                          payload_digest=facts.payload_digest, offset=good_end,
                                          length=member.length, filename=final.name))
                if facts.rec_type != "resource":
                    result.response_urls.append(facts.url)
            good_end += member.length
    result.records_kept, result.records_by_type = sum(kept.values()), dict(kept)
    result.bytes_kept, result.bytes_dropped = good_end, size - good_end
    if not kept:
        aside = final.with_name(final.name + CORRUPT_SUFFIX)
        os.replace(path, aside)
        log.warning("WARC %s has no readable warcinfo (%s); set aside as %s", path, result.problem, aside)
        result.status, result.path, result.response_urls = "corrupt", None, []
        result.bytes_kept, result.bytes_dropped = 0, size
        return result
    if good_end < size:
        result.status = "truncated"
        with open(path, "r+b") as f:
            f.truncate(good_end)
            os.fsync(f.fileno())
        log.warning("WARC %s: cut %d damaged bytes (%s)", path, size - good_end, result.problem)
    write_cdxj(entries, final.with_name(final.name + CDXJ_SUFFIX))
    os.replace(path, final)
    _fsync_dir(final.parent)
    result.path = final
    return result


def tidy_directory(directory: Path) -> list[Path]:
    """Drop stale CDXJ temp files and rebuild a missing ``.cdxj`` beside any final WARC
    (cheap: a crash leaves at most one of either); return the ``*.warc.gz.open`` files
    left to :func:`repair_open_warc`. Call it before a writer opens the directory."""
    directory = Path(directory)
    for stale in directory.glob("*" + CDXJ_SUFFIX + OPEN_SUFFIX):
        log.warning("removing stale CDXJ temp file %s", stale)
        stale.unlink()
    for warc in sorted(directory.glob("*" + FINAL_SUFFIX)):
        cdxj = warc.with_name(warc.name + CDXJ_SUFFIX)
        if not cdxj.exists():
            log.warning("rebuilding missing CDXJ for %s", warc)
            write_cdxj(index_warc(warc), cdxj)
    return sorted(directory.glob("*" + FINAL_SUFFIX + OPEN_SUFFIX))


def repair_directory(directory: Path) -> list[RepairResult]:
    """Repair every ``*.warc.gz.open`` in ``directory``; also drop stale CDXJ temp
    files and rebuild a missing ``.cdxj`` beside any final WARC."""
    return [repair_open_warc(p) for p in tidy_directory(directory)]


# --------------------------------------------------------------------------- resume
def iter_fetched_urls(warc_dir: Path) -> set[str]:
    """Target URIs of all response/revisit records in the closed WARCs of a directory
    (``*.warc.gz`` only; run :func:`repair_directory` first to include crashed files)."""
    urls: set[str] = set()
    for warc in sorted(Path(warc_dir).glob("*" + FINAL_SUFFIX)):
        with open(warc, "rb") as f:
            for rec in FastArchiveIterator(f, record_types=WarcRecordType.response | WarcRecordType.revisit,
                                           parse_http=False):
                uri = rec.headers.get("WARC-Target-URI")
                if uri:
                    urls.add(uri)
    return urls
