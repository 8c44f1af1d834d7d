"""Tolerant WARC (and legacy ARC) reading: every readable record becomes a
:class:`FetchRecord` with a content-decoded body and the crawl's own metadata.

Engines: FastWARC reads WARC (plain, gzip per record or whole file, LZ4, zstd);
warcio reads ARC, which FastWARC does not. ``engine="auto"`` picks FastWARC for
WARC and warcio for ARC (measured in ``bench/bench_warc_read.py``: FastWARC is
the faster one on our crawl output and on real files). Both engines hand this
module the raw record block, and HTTP is parsed in one place
(:mod:`owd.extract.http`), so the two give the same records.

Nothing raises out of :func:`read_warc`: a bad record is counted under
``warc/bad/<reason>`` and skipped; damage to the stream itself (a corrupt gzip
member, a cut-off file) is counted and ends the file there.

Two passes: the first reads only ``metadata`` records (cheap, they are small)
and indexes our crawler's JSON metadata by ``WARC-Concurrent-To`` (fetch
metadata) and ``WARC-Refers-To`` (the ``media-refs`` record the spider writes
when it parses a page, often dozens of records after the response). The second
pass yields records in file order with that metadata joined, so the join never
depends on how far apart the records are.
"""

from __future__ import annotations

import json
import logging
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from fastwarc.warc import ArchiveIterator as FastArchiveIterator
from fastwarc.warc import WarcRecordType
from warcio.archiveiterator import ArchiveIterator as WarcioArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from owd.core.gzip_members import GZIP_MAGIC, GZIP_WBITS, member_end
from owd.core.links import MediaRef
from owd.extract.http import BodyError, decode_content, dechunk, header_value, parse_http_block

__all__ = [
    "DEFAULT_MAX_DECODED_BYTES",
    "DEFAULT_MAX_RECORD_BYTES",
    "Engine",
    "FetchRecord",
    "read_warc",
]

log = logging.getLogger(__name__)

Engine = Literal["auto", "fastwarc", "warcio"]

# A record block above this is cut (the record is still yielded, truncated="reader_cap"):
# the crawler stores at most limits.max_response_bytes (10 MiB by default) per response,
# Common Crawl 1 MiB; a bigger block is a media file whose head is all we read.
DEFAULT_MAX_RECORD_BYTES = 64 * 2**20
# Same default as the crawler's limits.max_decompressed_bytes: a larger inflated body is a bomb.
DEFAULT_MAX_DECODED_BYTES = 50 * 2**20
# Our metadata records are a few hundred bytes; anything far larger is not ours.
_MAX_METADATA_BYTES = 4 * 2**20
_SNIFF_BYTES = 64 * 1024
_HTTP_TYPES = ("response", "revisit", "request")


@dataclass(frozen=True)
class FetchRecord:
    """One WARC record, ready for extraction.

    ``body`` is the HTTP payload with transfer and content codings undone (for
    non-HTTP records: the record block). ``warc_offset``/``warc_length`` are the
    byte range of the record in the file as stored (its gzip member in a
    per-record-gzip file); in a file compressed as one stream records share a
    range (counted as ``warc/quirk/not_per_record_gzip``). ``fetch_time`` is None
    only when WARC-Date cannot be parsed (counted). ``crawl_meta`` is our crawler's
    metadata record for this fetch (``{}`` for foreign WARCs), ``media_refs`` what
    the page referenced according to the crawler's ``media-refs`` record.
    ``truncated`` is the record's ``WARC-Truncated`` value, ``"reader_cap"`` when
    the reader cut a block above its size cap, or ``"cut_short"`` when the file
    ends inside the record (counted as ``warc/bad/cut_short_record``).
    """

    url: str
    fetch_time: datetime | None
    record_type: str
    http_status: int | None
    http_headers: list[tuple[str, str]]
    content_type: str | None
    body: bytes
    warc_file: str
    warc_offset: int
    warc_length: int
    payload_digest: str | None
    ip: str | None
    crawl_meta: dict[str, Any] = field(default_factory=dict)
    media_refs: tuple[MediaRef, ...] = ()
    record_id: str | None = None
    truncated: str | None = None

    @property
    def mime(self) -> str | None:
        """The bare, lower-cased MIME type of ``content_type``."""
        return bare_mime(self.content_type)


def bare_mime(content_type: str | None) -> str | None:
    """``text/html; charset=utf-8`` -> ``text/html``; None for an empty value."""
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    # our test web serves "image/jpeg (MALFORMED: ...)": the first token is the type
    mime = mime.split()[0] if mime else mime
    return mime or None


# --------------------------------------------------------------------------- raw records
class _Damage(Exception):
    """The stream cannot be read past this point."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Raw:
    headers: list[tuple[str, str]]
    block: bytes
    offset: int
    length: int
    complete: bool  # False: the block is shorter than its Content-Length (cut-off file)
    capped: bool  # the reader cut the block at max_record_bytes


def _damage_reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if "non-chunked gzip" in text:
        return "not_per_record_gzip"
    if "gzip" in text or "deflate" in text or "lz4" in text or "zstd" in text or isinstance(exc, zlib.error):
        return "compression_error"
    if "unknown archive format" in text or "invalid warc header" in text or "header" in text:
        return "invalid_record_header"
    if isinstance(exc, EOFError):
        return "unexpected_eof"
    return "read_error"


def _declared_length(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None


def _fastwarc_raw(path: Path, max_block: int, only_metadata: bool = False) -> Iterator[_Raw]:
    size = path.stat().st_size
    types = WarcRecordType.metadata if only_metadata else WarcRecordType.any_type
    with open(path, "rb") as f:
        gzipped = f.read(2) == GZIP_MAGIC
        f.seek(0)
        # quirks_mode: LF-only header lines and other real-world deviations are read, not refused
        it = iter(FastArchiveIterator(f, record_types=types, parse_http=False, quirks_mode=True))
        pending: _Raw | None = None
        while True:
            try:
                rec = next(it, None)
                if rec is None:
                    break
                pos = rec.stream_pos
                # FastWARC's content_length is what it could read: a file cut inside a record
                # header gives 0 there, so completeness is judged against the header itself.
                declared = _declared_length(rec.headers.get("Content-Length"))
                block = rec.reader.read(max_block + 1)
                capped = len(block) > max_block
                if capped:
                    block = block[:max_block]
                    rec.consume()
                headers = list(rec.headers.astuples())
            except (OSError, ValueError) as exc:
                if pending is not None:
                    yield pending  # complete before the damage; its end is not known, so up to EOF
                raise _Damage(_damage_reason(exc)) from exc
            if pending is not None:
                pending.length = pos - pending.offset
                yield pending
            complete = declared is not None and (capped or len(block) >= declared)
            pending = _Raw(headers, block, pos, size - pos, complete, capped)
        if pending is None:
            return
        # (records sharing one gzip stream report the stream's end as their offset: no member to check)
        check = gzipped and pending.complete and pending.offset < size and not only_metadata
        end = member_end(f, pending.offset) if check else size
        if end is not None:
            pending.length = end - pending.offset
        yield pending
        if end is None or end < size:
            # FastWARC ends quietly when the file stops inside a gzip member's first bytes
            raise _Damage("cut_short_member")


def _warcio_raw(path: Path, max_block: int, only_metadata: bool = False) -> Iterator[_Raw]:
    with open(path, "rb") as f:
        it = WarcioArchiveIterator(f, arc2warc=True, no_record_parse=True, check_digests=False)
        try:
            for rec in it:
                if only_metadata and rec.rec_type != "metadata":
                    continue
                block = rec.raw_stream.read(max_block + 1)
                capped = len(block) > max_block
                complete = capped or rec.raw_stream.limit == 0
                it.read_to_end(rec)
                raw = _Raw(list(rec.rec_headers.headers), block[:max_block], it.get_record_offset(),
                           it.get_record_length(), complete, capped)
                yield raw
        except (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, ValueError, OSError,
                zlib.error) as exc:
            raise _Damage(_damage_reason(exc)) from exc


def _sniff(path: Path) -> Literal["warc", "arc", "empty"]:
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if not head:
        return "empty"
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(GZIP_WBITS).decompress(head, 64)
        except zlib.error:
            return "warc"  # the engine meets the same damage and counts it
    return "arc" if head.lstrip().startswith(b"filedesc://") else "warc"


# --------------------------------------------------------------------------- metadata index
@dataclass
class _MetaIndex:
    concurrent: dict[str, dict[str, Any]] = field(default_factory=dict)
    refers: dict[str, list[MediaRef]] = field(default_factory=dict)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    low = name.lower()
    for n, v in headers:
        if n.lower() == low:
            return v.strip()
    return None


def _media_refs(items: Any, stats: Counter[str]) -> list[MediaRef]:
    refs = []
    for item in items if isinstance(items, list) else []:
        url = item.get("url") if isinstance(item, dict) else None
        kind = item.get("kind") if isinstance(item, dict) else None
        if not isinstance(url, str) or not url or not isinstance(kind, str):
            stats["warc/bad/media_ref"] += 1
            continue
        alt, caption, context = (v if isinstance(v := item.get(k), str) else None
                                 for k in ("alt", "caption", "context"))
        refs.append(MediaRef(url, kind, alt, caption, context))
    return refs


def _metadata_index(raws: Iterator[_Raw], stats: Counter[str]) -> _MetaIndex:
    index = _MetaIndex()
    try:
        for raw in raws:
            if not raw.complete:
                continue  # a cut-off record: the second pass counts it
            ctype = (_header(raw.headers, "Content-Type") or "").lower()
            if not ctype.startswith("application/json") or len(raw.block) > _MAX_METADATA_BYTES:
                continue  # not ours (Common Crawl writes warc-fields here)
            try:
                data = json.loads(raw.block)
            except (ValueError, UnicodeDecodeError):
                stats["warc/bad/metadata_json"] += 1
                continue
            if not isinstance(data, dict):
                stats["warc/bad/metadata_json"] += 1
                continue
            refers = _header(raw.headers, "WARC-Refers-To")
            concurrent = _header(raw.headers, "WARC-Concurrent-To")
            if refers and data.get("kind") == "media-refs":
                index.refers.setdefault(refers, []).extend(_media_refs(data.get("media"), stats))
            elif concurrent:
                index.concurrent.setdefault(concurrent, data)
    except _Damage:
        pass  # the second pass reaches the same damage and counts it once
    return index


# --------------------------------------------------------------------------- records
_DATE_14 = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})?(\d{2})?(\d{2})?")


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        m = _DATE_14.match(text)  # ARC-style 14-digit stamps
        if not m or len(text) > 17:
            return None
        try:
            year, month, day, hour, minute, second = (int(g or 0) for g in m.groups())
            parsed = datetime(year, month, day, hour, minute, second)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)  # WARC dates are UTC by definition
    return parsed.astimezone(timezone.utc)


def _clean_uri(uri: str | None, stats: Counter[str]) -> str:
    if not uri:
        return ""
    cleaned = uri.strip()
    if cleaned.startswith("<") and cleaned.endswith(">"):  # wget 1.14 wrote <uri>
        cleaned = cleaned[1:-1].strip()
        stats["warc/quirk/target_uri_angle_brackets"] += 1
    if " " in cleaned:
        cleaned = cleaned.replace(" ", "%20")
        stats["warc/quirk/target_uri_spaces"] += 1
    return cleaned


def _fetch_record(raw: _Raw, warc_file: str, index: _MetaIndex, stats: Counter[str],
                  max_decoded: int) -> FetchRecord | None:
    headers = raw.headers
    rec_type = (_header(headers, "WARC-Type") or "unknown").lower()
    if not raw.complete:
        # The file ends inside this record (a cut-off file): the part that is there is
        # passed on, flagged, since a cut page still has text; reading stops after it.
        stats["warc/bad/cut_short_record"] += 1
    url = _clean_uri(_header(headers, "WARC-Target-URI"), stats)
    date_value = _header(headers, "WARC-Date")
    fetch_time = _parse_date(date_value)
    if fetch_time is None and date_value is not None:
        stats["warc/quirk/unparsable_date"] += 1
    status: int | None = None
    http_headers: list[tuple[str, str]] = []
    body = raw.block
    content_type = _header(headers, "Content-Type")
    looks_http = raw.block[:5].upper() == b"HTTP/" or url.lower().startswith(("http:", "https:"))
    if rec_type in _HTTP_TYPES and looks_http:
        msg = parse_http_block(raw.block)
        if msg is None:
            if rec_type == "response":
                if raw.complete:  # (a cut-off record is already counted as such)
                    stats["warc/bad/http_headers"] += 1
                return None
            stats["warc/quirk/unparsed_http_block"] += 1  # a request or revisit we do not need
        else:
            for quirk in msg.quirks:
                stats[f"warc/quirk/{quirk}"] += 1
            status, http_headers, body = msg.status, msg.headers, msg.body
            content_type = header_value(http_headers, "Content-Type")
            if rec_type == "response":
                te = (header_value(http_headers, "Transfer-Encoding") or "").lower()
                if "chunked" in te:
                    dechunked = dechunk(body)
                    if dechunked is None:
                        stats["warc/quirk/transfer_encoding_not_chunked"] += 1
                    else:
                        body = dechunked
                try:
                    body, quirks = decode_content(body, header_value(http_headers, "Content-Encoding"),
                                                  max_decoded)
                except BodyError as exc:
                    if raw.complete:
                        stats[f"warc/bad/{exc.reason}"] += 1
                    return None
                for quirk in quirks:
                    stats[f"warc/quirk/{quirk}"] += 1
    record_id = _header(headers, "WARC-Record-ID")
    crawl_meta = index.concurrent.get(record_id, {}) if record_id else {}
    media_refs = tuple(index.refers.get(record_id, ())) if record_id else ()
    truncated = _header(headers, "WARC-Truncated")
    if not raw.complete:
        truncated = "cut_short"
    elif raw.capped:
        truncated = "reader_cap"
        stats["warc/capped/record_bytes"] += 1
    stats["warc/records"] += 1
    stats[f"warc/records/{rec_type}"] += 1
    return FetchRecord(
        url=url, fetch_time=fetch_time, record_type=rec_type, http_status=status,
        http_headers=http_headers, content_type=content_type, body=body, warc_file=warc_file,
        warc_offset=raw.offset, warc_length=raw.length,
        payload_digest=_header(headers, "WARC-Payload-Digest"), ip=_header(headers, "WARC-IP-Address"),
        crawl_meta=crawl_meta, media_refs=media_refs, record_id=record_id, truncated=truncated,
    )


def read_warc(path: Path, stats: Counter[str], *, engine: Engine = "auto",
              max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
              max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> Iterator[FetchRecord]:
    """Yield every readable record of a WARC or ARC file, in file order.

    Bad records are counted (``warc/bad/<reason>``) and skipped; stream damage is
    counted and ends the file; tolerated deviations are counted under
    ``warc/quirk/<what>``. Never raises for bad input (a missing file included:
    ``warc/bad/unreadable_file``).
    """
    if engine not in ("auto", "fastwarc", "warcio"):
        raise ValueError(f"unknown WARC engine {engine!r}: use 'auto', 'fastwarc' or 'warcio'")
    path = Path(path)
    try:
        kind = _sniff(path)
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        stats["warc/bad/unreadable_file"] += 1
        return
    if kind == "empty":
        stats["warc/bad/empty_file"] += 1
        return
    use_warcio = kind == "arc" or engine == "warcio"
    if kind == "arc":
        stats["warc/files/arc"] += 1
    source = _warcio_raw if use_warcio else _fastwarc_raw
    index = _metadata_index(source(path, max_record_bytes, only_metadata=True), stats) \
        if kind == "warc" else _MetaIndex()
    seen = 0
    last_offset = -1
    shared_offsets = False
    try:
        for raw in source(path, max_record_bytes):
            seen += 1
            if raw.offset == last_offset and not shared_offsets:
                shared_offsets = True
                stats["warc/quirk/not_per_record_gzip"] += 1
            last_offset = raw.offset
            rec = _fetch_record(raw, path.name, index, stats, max_decoded_bytes)
            if rec is not None:
                yield rec
    except _Damage as damage:
        cause = str(damage.__cause__ or damage.reason).strip().splitlines() or [damage.reason]
        log.warning("%s: stopped reading after %d records: %s", path.name, seen, cause[0])
        stats[f"warc/bad/{damage.reason}"] += 1
        return
    if seen == 0:
        stats["warc/bad/no_records"] += 1  # not a WARC at all (FastWARC finds nothing to read)
