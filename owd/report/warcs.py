"""Fetch facts from a campaign's WARC files, one per HTTP response.

Our crawler writes ``request``, ``response`` and ``metadata`` records per fetch
(crawler/warc.py); the metadata record (``WARC-Concurrent-To`` the response)
carries the kind of fetch (page, robots, media, ...) and the TDM verdict. A
response without its metadata record (another crawler's WARC, a crash between
the two) still counts, with kind ``"?"``.

Files are one gzip member per record, so a corrupt member is skipped by
resynchronising on the next gzip header; each such break counts as one broken
record. fastwarc stops a file at the first bad member, hence the resync here.
"""

from __future__ import annotations

import json
import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from owd.core.urls import host_of

__all__ = ["Fetch", "WarcScan", "scan_warc"]

_GZIP_MAGIC = b"\x1f\x8b\x08"
_TYPES = WarcRecordType.response | WarcRecordType.metadata


@dataclass(frozen=True)
class Fetch:
    """One response record: what the report counts."""

    day: str  # UTC date of WARC-Date, YYYY-MM-DD
    host: str
    status: int
    bytes: int  # HTTP payload length (the body as stored)
    kind: str  # metadata "kind": page, robots, tdmrep, sitemap, image, ... or "?"
    tdm_reservation: bool | None
    tdm_source: str | None


@dataclass
class WarcScan:
    fetches: list[Fetch]
    broken: int  # records skipped because they could not be read


def _records(f: IO[bytes], start: int) -> Iterator[tuple[int, WarcRecord]]:
    """(offset, record) from ``start`` on; raises at the first unreadable member."""
    f.seek(start)
    for rec in ArchiveIterator(f, record_types=_TYPES, parse_http=False, strict_mode=False):
        # fastwarc reports file offsets for a seeked file object; relative ones are made absolute.
        yield (rec.stream_pos if rec.stream_pos >= start else start + rec.stream_pos), rec


def _response(rec: WarcRecord) -> tuple[str, int, str, int] | None:
    """(record id, status, date, payload bytes) of a response record; None if unreadable."""
    rec.parse_http(strict_mode=False)
    if rec.http_headers is None or not rec.http_headers.status_code:
        return None
    payload = len(rec.reader.read())
    # a missing header reads as "" (fastwarc's stubs type get() with a default as Optional)
    return (rec.record_id or "", int(rec.http_headers.status_code), rec.headers.get("WARC-Date") or "",
            payload)


def scan_warc(path: Path) -> WarcScan:
    """Every response of one WARC file, joined with its metadata record."""
    fetches: list[Fetch] = []
    broken = 0
    # Responses wait for their metadata record, which our writer puts right after.
    pending: dict[str, tuple[str, int, str, int]] = {}

    def emit(uri: str, resp: tuple[str, int, str, int], meta: dict[str, Any] | None) -> None:
        _, status, date, size = resp
        tdm = (meta or {}).get("tdm") or {}
        fetches.append(Fetch(day=date[:10] or "?", host=host_of(uri), status=status, bytes=size,
                             kind=str((meta or {}).get("kind") or "?"),
                             tdm_reservation=tdm.get("reservation") if isinstance(tdm, dict) else None,
                             tdm_source=tdm.get("source") if isinstance(tdm, dict) else None))

    uris: dict[str, str] = {}
    with open(path, "rb") as f:
        # mmap (for finding gzip headers) refuses empty files; those have no records anyway.
        data: mmap.mmap | bytes = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if path.stat().st_size else b""
        start, resyncing = 0, False
        while start < len(data):
            last = -1
            try:
                for offset, rec in _records(f, start):
                    last, resyncing = offset, False
                    if rec.record_type == WarcRecordType.response:
                        resp = _response(rec)
                        if resp is None:
                            broken += 1
                            continue
                        pending[resp[0]] = resp
                        uris[resp[0]] = rec.headers.get("WARC-Target-URI") or ""
                    else:
                        target = rec.headers.get("WARC-Concurrent-To")
                        if target not in pending:
                            continue  # a standalone metadata record (media references), not a fetch
                        try:
                            meta = json.loads(rec.reader.read())
                        except ValueError:
                            meta, broken = None, broken + 1
                        emit(uris.pop(target), pending.pop(target), meta if isinstance(meta, dict) else None)
                if not resyncing:
                    break
                # A false gzip header inside a member reads as no WARC at all: keep looking.
                nxt = data.find(_GZIP_MAGIC, start + 1)
                if nxt < 0:
                    break
                start = nxt
            except (OSError, ValueError):
                if not resyncing:  # one break counts once, however many headers we try after it
                    broken += 1
                resyncing = True
                # The next gzip member after the last good record's start (or after the
                # point we restarted from, when nothing was read at all).
                nxt = data.find(_GZIP_MAGIC, max(last, start) + 1)
                if nxt < 0:
                    break
                start = nxt
        if isinstance(data, mmap.mmap):
            data.close()
    for rid, resp in pending.items():
        emit(uris.get(rid, ""), resp, None)
    return WarcScan(fetches, broken)

