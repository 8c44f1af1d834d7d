"""First-seen and last-seen dates of documents, from the campaign's fetch history.

A URL fetched in several crawl runs leaves several records: a ``response`` when the
content was new, a ``revisit`` record when a revisit found it unchanged (304 Not
Modified or the same payload digest: crawler/warc_middleware.py), a 404/410 response
when it was gone. Revisit records make no documents (extract/shard.py reads
responses), so an unchanged page is never a new document; this step tells each
document how long its content was seen:

* ``first_seen``: the first fetch of its URL in the campaign;
* ``last_seen``: the last fetch that found this content: its own response, then every
  later revisit record of the URL, or later response with the same payload digest,
  up to the first fetch that found something else (changed, gone, or an error).

A page that changed has two documents, each with its own span. The input is the
CDXJ index beside each WARC (one line per response/revisit record; a WARC without one,
e.g. from elsewhere, is indexed on the fly), so the step reads a few hundred bytes per
fetch, not the WARC files. Output: ``dedup/fetch_dates.parquet``, one row per document
whose URL was fetched more than once (a document fetched once has both dates equal to
its ``fetch_time``), keyed by document id; :func:`apply_fetch_dates` joins it.

Memory: the fetches of all URLs while the file is built (about 200 bytes per fetch);
an external sort by URL would bound it for campaigns beyond ~50 million fetches.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fastwarc.warc import ArchiveIterator, WarcRecordType

from owd.core.cdxj import CDXJ_REVISIT_MIME, read_cdxj
from owd.dedup.steps import rows_of_docs
from owd.core.schema import document_id
from owd.core.schema import Document

__all__ = ["FETCH_DATES_SCHEMA", "FetchDatesStep", "apply_fetch_dates"]

log = logging.getLogger(__name__)

_UTC_MS = pa.timestamp("ms", tz="UTC")
FETCH_DATES_SCHEMA = pa.schema([
    pa.field("doc_id", pa.string(), nullable=False),
    pa.field("first_seen", _UTC_MS),  # null: the document's own fetch was the first
    pa.field("last_seen", _UTC_MS),  # null: nothing later found the same content
])
# (timestamp, file, offset, revisit?, status, digest): one fetch of a URL
_Fetch = tuple[str, str, int, bool, "int | None", "str | None"]


def _fetches(warc: Path) -> Iterator[tuple[str, _Fetch]]:
    """(url, fetch) of every response/revisit/resource record of a WARC file: from its
    CDXJ index when it has one (our crawler writes it), else read with FastWARC (headers
    only; a damaged file yields the records before the damage)."""
    cdxj = warc.with_name(warc.name + ".cdxj")
    if cdxj.is_file():
        for e in read_cdxj(cdxj):
            yield e.url, (e.timestamp, e.filename, e.offset, e.mime == CDXJ_REVISIT_MIME, e.status, e.digest)
        return
    types = WarcRecordType.response | WarcRecordType.revisit | WarcRecordType.resource
    try:
        with open(warc, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=types, parse_http=False):
                url = rec.headers.get("WARC-Target-URI")
                date = rec.headers.get("WARC-Date")
                if not url or not date:
                    continue
                status = None
                if rec.record_type != WarcRecordType.resource:
                    head = rec.reader.read(64).split(b"\r\n", 1)[0].split(b" ")
                    status = int(head[1]) if len(head) > 1 and head[1].isdigit() else None
                digest = (rec.headers.get("WARC-Payload-Digest") or "").removeprefix("sha1:") or None
                stamp = re.sub(r"\D", "", date)[:14]
                yield url, (stamp, warc.name, rec.stream_pos, rec.record_type == WarcRecordType.revisit, status, digest)
    except (OSError, ValueError) as exc:  # unreadable or damaged: its documents keep fetch_time
        log.warning("fetch dates: %s: %s", warc.name, exc)


def _time(timestamp: str) -> dt.datetime:
    return dt.datetime.strptime(timestamp[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.timezone.utc)


def _spans(url: str, fetches: list[_Fetch]) -> Iterator[tuple[str, dt.datetime | None, dt.datetime | None]]:
    """(doc id, first_seen or None, last_seen or None) of each content response of a URL."""
    # Chronological; within one second, file name then offset (a worker's file names
    # carry their creation time, and records follow each other in a file).
    fetches.sort(key=lambda f: (f[0], f[1], f[2]))
    first = fetches[0][0]
    for i, (stamp, name, offset, revisit, status, digest) in enumerate(fetches):
        if revisit or not (status is None or 200 <= status < 300):
            continue  # only content responses (and resource records) are documents
        last = None
        for later in fetches[i + 1:]:
            same = later[3] or (later[4] is not None and 200 <= later[4] < 300 and later[5] == digest)
            if not same:
                break
            last = later[0]
        yield (document_id(url, name, offset), _time(first) if i > 0 else None,
               _time(last) if last is not None else None)


class FetchDatesStep:
    """Builds ``<dedup_dir>/fetch_dates.parquet`` from the campaign's WARC files."""

    def __init__(self, dedup_dir: Path) -> None:
        self.dedup_dir = Path(dedup_dir)

    @property
    def output_path(self) -> Path:
        return self.dedup_dir / "fetch_dates.parquet"

    def run(self, warcs: Iterable[Path]) -> Path:
        """Rebuilt on every run: a revisit crawl adds fetches to URLs of older shards."""
        by_url: dict[str, _Fetch | list[_Fetch]] = {}
        for warc in warcs:
            for url, fetch in _fetches(Path(warc)):
                known = by_url.get(url)
                if known is None:
                    by_url[url] = fetch  # most URLs are fetched once: no list for them
                elif isinstance(known, list):
                    known.append(fetch)
                else:
                    by_url[url] = [known, fetch]
        ids: list[str] = []
        firsts: list[dt.datetime | None] = []
        lasts: list[dt.datetime | None] = []
        for url, fetches in by_url.items():
            if isinstance(fetches, list):
                for doc_id, first, last in _spans(url, fetches):
                    if first is not None or last is not None:
                        ids.append(doc_id)
                        firsts.append(first)
                        lasts.append(last)
        table = pa.table({"doc_id": ids, "first_seen": firsts, "last_seen": lasts}, schema=FETCH_DATES_SCHEMA)
        self.dedup_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.output_path.with_name(self.output_path.name + ".tmp")
        pq.write_table(table.sort_by("doc_id"), tmp, compression="zstd")
        tmp.replace(self.output_path)
        return self.output_path


def fetch_date_rows(dates_path: Path | None, doc_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The rows of the dates file for ``doc_ids``, by id ({} when there is no dates file)."""
    if dates_path is None or not Path(dates_path).is_file():
        return {}
    return rows_of_docs(pq.ParquetFile(dates_path), doc_ids)


def apply_fetch_dates(docs: Iterable[Document], dates: Path | None | Mapping[str, dict[str, Any]]) -> list[Document]:
    """Copies of ``docs`` with ``first_seen`` / ``last_seen`` set (``fetch_time`` where the
    dates file has no row, or when there is no dates file). ``dates``: the dates file or
    its rows for these documents (:func:`fetch_date_rows`)."""
    docs = list(docs)
    found = dates if isinstance(dates, Mapping) else fetch_date_rows(dates, [d.id for d in docs])
    out = []
    for doc in docs:
        row = found.get(doc.id, {})
        own = doc.fetch_time
        first, last = row.get("first_seen"), row.get("last_seen")
        # (the index has whole seconds, fetch_time milliseconds: the own fetch bounds both)
        out.append(dataclasses.replace(doc, first_seen=min(first, own) if first and own else first or own,
                                       last_seen=max(last, own) if last and own else last or own))
    return out
