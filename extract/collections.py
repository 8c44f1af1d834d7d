"""Documents from collections made by others: FineWeb-2 Parquet, HPLT JSONL(.zst), Common
Crawl WET.

Why: a campaign can start from text others already extracted from the web (an
``ingest:`` source of kind ``fineweb2``, ``hplt`` or WET files) instead of, or beside, its
own crawl. Each record becomes an owd :class:`~owd.core.schema.Document` that then goes
through owd's own language ID, quality, PII and dedup steps like a crawled page: the
collection's own verdicts (its language, its quality scores, its robots.txt verdict) are
kept as strings in ``source_labels``, beside owd's, never in owd's own ``lang`` /
``quality`` / ``drop_reason`` columns.

Every document gets ``source`` (the caller's source name), ``source_record`` (the record's
id in that collection), ``url``, ``host``, ``domain`` (:func:`owd.core.urls.registered_domain`,
as for crawled pages), ``campaign``, ``text``, ``fetch_time`` (UTC), ``warc_file`` (the
local file's name), ``warc_offset`` (where the record is in that file: Parquet row index
from 0, JSONL line number from 1, WET record byte offset) and
``id = document_id(url, warc_file, warc_offset)``.

FineWeb-2 (dataset card: https://huggingface.co/datasets/HuggingFaceFW/fineweb-2 ; its
``dataset_info`` types, e.g. as copied in
https://huggingface.co/datasets/malhajar/fineweb-2_fr_2019-2024/blob/main/README.md ; the
card's field descriptions as quoted in hplt-project/data-analytics-tool,
scripts/readdocuments-fineweb2.py; FineWeb rows with id/date/file_path values:
https://huggingface.co/datasets/smseals/test_dataset)

=====================  =======  ==========================================================
FineWeb-2 column       type     owd
=====================  =======  ==========================================================
text                   string   text
id                     string   source_record ("original unique identifier for this sample
                                from CommonCrawl": the WARC-Record-ID, ``<urn:uuid:...>``)
url                    string   url (host, domain derived)
date                   string   fetch_time ("crawl date (from CommonCrawl)", ISO 8601, Z)
dump                   string   source_labels["dump"] (the CC crawl, CC-MAIN-2024-10)
file_path              string   source_labels["file_path"] (the CC WARC file, s3://...)
language               string   source_labels["language"] (ISO 639-3, GlotLID)
language_score         float64  source_labels["language_score"]
language_script        string   source_labels["language_script"] (e.g. Latn)
top_langs              string   source_labels["top_langs"] (JSON, {"deu_Latn_score": 0.99})
minhash_cluster_size   int64    source_labels["minhash_cluster_size"]
=====================  =======  ==========================================================

Only ``text``, ``id`` and ``url`` are required (FineWeb and FineWeb-Edu files, which lack
some label columns, read too); only the columns above are read, so extra columns (e.g.
FineWeb2-HQ's embeddings) cost nothing. Not recorded by FineWeb-2: HTTP status and
content type (left null).

HPLT v2 (release page: https://hplt-project.org/datasets/v2.0 ; the JSONL output format and the
meaning of ``filter``/``doc_scores``/``pii``: README of hplt-project/monotextor-slurm
(https://github.com/hplt-project/monotextor-slurm#output-format); ``f o s rs u c ts`` are
warc2text's fields (https://github.com/bitextor/warc2text#output); ``robotstxt`` =
``allowed``/``disallowed`` is written by monotextor-slurm utils/src/bin/annotator.rs; field
types: https://huggingface.co/datasets/HPLT/HPLT2.0_cleaned/blob/main/README.md)

=============  ===========  ==================================================================
HPLT field     type         owd
=============  ===========  ==================================================================
u              string       url
text           string       text (paragraphs joined by newlines)
ts             string       fetch_time ("crawl date/time as reported by the crawler")
c              string       content_type (as the HTTP response reported it)
id             string       source_record (xxh128 of f + u + ts); absent: ``<f>@<o>``
f, o           string, int  source_labels["f"], ["o"] (the original WARC file and record offset)
collection     string       source_labels["collection"] (e.g. cc22, wide16)
lang, prob     list         source_labels["lang"], ["prob"] (top-3 OpenLID languages and
                            probabilities, JSON lists; the first is the document's language)
doc_scores     list         source_labels["doc_scores"] (Web Docs Scorer: overall score first)
filter         string       source_labels["filter"] (keep, length_500, word_avg_5, adult_ut1...)
robotstxt      string       source_labels["robotstxt"] (allowed / disallowed)
s, rs          int          not kept (record and payload sizes in the original WARC)
seg_langs      list         not kept (one label per paragraph: grows with the text)
pii            list         not kept (character offsets into HPLT's text, wrong once owd's PII
                            step has replaced anything; owd finds PII itself)
=============  ===========  ==================================================================

HPLT v1.2 (https://huggingface.co/datasets/HPLT/hplt_monolingual_v1_2, section Fields):
``url`` -> url, ``id`` (int) -> source_record, ``document_lang`` (CLD2) and ``collection``
-> source_labels; ``scores`` and ``langs`` (per paragraph) are not kept; v1.2 has no crawl
time (fetch_time null). Later monotextor-slurm versions write ``robots: allow|disallow``
instead of ``robotstxt``: it is kept as ``robotstxt`` = ``allowed``/``disallowed``, so one
pool rule reads both. A ``.jsonl`` file that starts with zstd's magic bytes is read as zstd.

Common Crawl WET (format: https://commoncrawl.org/navigating-the-warc-file-format ;
conversion and WARC-Refers-To: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/ ;
a real WET file: commoncrawl/whirlwind-python, whirlwind.warc.wet)

================================  =============================================================
WET record header / field         owd
================================  =============================================================
WARC-Target-URI                   url
block (UTF-8 plain text)          text
WARC-Date                         fetch_time
WARC-Refers-To                    source_record (the WARC response record's WARC-Record-ID: the
                                  same id FineWeb-2 stores); absent: WARC-Record-ID
WARC-Identified-Content-Language  source_labels["WARC-Identified-Content-Language"] (CLD2,
                                  ISO 639-3, comma-separated, most likely first)
warcinfo isPartOf                 source_labels["isPartOf"] (the crawl, CC-MAIN-2025-08)
record offset and length          warc_offset, warc_length
================================  =============================================================

A WET record has no HTTP status and no original content type (its Content-Type,
text/plain, is the conversion's): both stay null.

Bad input: one bad record (a broken JSON line, no URL, a non-http(s) URL, no text) is
counted as ``ingest/broken/<reason>`` and skipped, never raised; damage to a compressed
stream is counted (``ingest/broken/stream_damage``) and ends the file there. A file that
is not the expected format at all (Parquet without the FineWeb-2 columns, a ``.zst`` that
is not zstd, JSONL none of whose first lines is an HPLT document, a file that is not
WARC) raises :class:`~owd.core.errors.InputError` naming the file. Good records count
``ingest/records``. Memory does not grow with the file: Parquet is read a row group at a
time, JSONL a line at a time (zstd by pyarrow's streaming decompressor), WET a record at
a time.
"""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
from fastwarc.warc import ArchiveIterator, WarcRecordType

from owd.core.errors import InputError
from owd.core.gzip_members import GZIP_MAGIC, member_end
from owd.core.schema import Document, document_id
from owd.core.urls import host_of, registered_domain
from owd.extract.warc_reader import DEFAULT_MAX_RECORD_BYTES

__all__ = ["COLLECTION_SUFFIXES", "collection_format", "iter_collection_documents"]

log = logging.getLogger(__name__)

COLLECTION_SUFFIXES: tuple[str, ...] = (".parquet", ".jsonl", ".jsonl.zst", ".warc.wet.gz", ".wet.gz", ".wet")

_FORMAT_BY_SUFFIX = (
    (".parquet", "fineweb2"),
    (".jsonl.zst", "hplt"),
    (".jsonl", "hplt"),
    (".wet.gz", "wet"),  # also .warc.wet.gz
    (".wet", "wet"),
)


def collection_format(path: Path) -> str | None:
    """``"fineweb2"``, ``"hplt"`` or ``"wet"`` by the file's name (case-insensitive), or None."""
    name = Path(path).name.lower()
    for suffix, kind in _FORMAT_BY_SUFFIX:
        if name.endswith(suffix):
            return kind
    return None


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class _Record:
    """One record as a format gives it, before the checks every format shares."""

    offset: int
    url: object
    text: object
    record_id: str | None
    time: object  # str or datetime as the source writes it; None: not recorded
    labels: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    length: int | None = None


def _label(value: object) -> str | None:
    """A source value as a label string: lists and maps as compact JSON, exactly as the
    source has them (no value is reinterpreted here); None for a missing value."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _labels(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: text for name in names if (text := _label(values.get(name))) is not None}


def _utc(value: object, stats: Counter[str]) -> datetime | None:
    """A source's crawl time as an aware UTC datetime. The collections copy WARC-Date,
    which is UTC by definition, so a time without a zone is read as UTC."""
    if value is None or value == "":
        return None
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())  # 3.11 reads the trailing Z
        except ValueError:
            parsed = None
    if parsed is None:
        stats["ingest/quirk/unparsable_date"] += 1
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _broken(stats: Counter[str], reason: str) -> None:
    stats[f"ingest/broken/{reason}"] += 1


def _host_or_problem(url: str) -> tuple[str, str | None]:
    """``(host, None)`` for an http(s) URL with a host, else ``("", why it is unusable)``."""
    if not url:
        return "", "no_url"
    try:
        scheme, host = urlsplit(url).scheme.lower(), host_of(url)
    except ValueError:  # e.g. a broken IPv6 literal
        return "", "bad_url"
    if scheme not in ("http", "https"):
        return "", "not_http_url"
    return (host, None) if host else ("", "no_host")


def _document(rec: _Record, file_name: str, source: str, campaign: str, stats: Counter[str]) -> Document | None:
    """The document of one record, or None (counted) when it has no usable URL or text."""
    url = rec.url.strip() if isinstance(rec.url, str) else ""
    text = rec.text if isinstance(rec.text, str) else ""
    host, problem = _host_or_problem(url)
    if problem is None and not text.strip():
        problem = "empty_text"
    if problem is not None:
        _broken(stats, problem)
        return None
    stats["ingest/records"] += 1
    return Document(
        id=document_id(url, file_name, rec.offset), url=url, host=host, domain=registered_domain(host),
        campaign=campaign, fetch_time=_utc(rec.time, stats), content_type=rec.content_type,
        warc_file=file_name, warc_offset=rec.offset, warc_length=rec.length,
        source=source, source_record=rec.record_id, source_labels=rec.labels, text=text,
    )


# --------------------------------------------------------------------------- FineWeb-2
_FINEWEB2_REQUIRED = ("text", "id", "url")
_FINEWEB2_LABELS = ("dump", "file_path", "language", "language_score", "language_script", "top_langs",
                    "minhash_cluster_size")
_FINEWEB2_COLUMNS = (*_FINEWEB2_REQUIRED, "date", *_FINEWEB2_LABELS)
_ROWS_AT_ONCE = 256  # rows turned into Python objects at a time


def _fineweb2_records(path: Path, stats: Counter[str]) -> Iterator[_Record]:
    try:
        source = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    names = set(source.schema_arrow.names)
    missing = [name for name in _FINEWEB2_REQUIRED if name not in names]
    if missing:
        raise InputError(f"{path}: not a FineWeb-2 Parquet file: no column {', '.join(missing)} "
                         f"(it has {', '.join(sorted(names)) or 'no columns'})")
    columns = [name for name in _FINEWEB2_COLUMNS if name in names]
    row = 0
    for group_index in range(source.num_row_groups):
        group_rows = source.metadata.row_group(group_index).num_rows
        # A row group at a time, not ParquetFile.iter_batches: with pyarrow 26 the latter's
        # allocations grow with every batch over a whole file (measured, see
        # owd.core.schema.iter_parquet). datatrove's ParquetWriter, which FineWeb-2 comes
        # from, writes row groups of 1,000 documents by default.
        try:
            group = source.read_row_group(group_index, columns=columns)
        except (OSError, pa.ArrowException) as exc:
            log.warning("%s: row group %d unreadable (%s): its %d rows skipped", path.name, group_index, exc,
                        group_rows)
            stats["ingest/broken/unreadable_rows"] += group_rows
            row += group_rows
            continue
        for start in range(0, group.num_rows, _ROWS_AT_ONCE):
            for values in group.slice(start, _ROWS_AT_ONCE).to_pylist():
                record_id = values.get("id")
                yield _Record(offset=row, url=values.get("url"), text=values.get("text"),
                              record_id=record_id if isinstance(record_id, str) else None,
                              time=values.get("date"), labels=_labels(values, _FINEWEB2_LABELS))
                row += 1


# --------------------------------------------------------------------------- HPLT
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_HPLT_LABELS = ("collection", "lang", "prob", "doc_scores", "filter", "robotstxt", "f", "o",  # v2
                "document_lang")  # v1.2
_ROBOTS_VERDICTS = {"allow": "allowed", "disallow": "disallowed"}  # later monotextor-slurm's `robots`
_PROBE_OBJECTS = 100  # JSON objects looked at before a file none of them fits is refused


def _open_lines(path: Path, stack: ExitStack) -> BinaryIO:
    """The file's bytes, decompressed when it is zstd (by its magic bytes, whatever its name)."""
    with open(path, "rb") as raw:
        head = raw.read(4)
    if head == _ZSTD_MAGIC:
        native = stack.enter_context(pa.OSFile(str(path)))
        return stack.enter_context(io.BufferedReader(pa.CompressedInputStream(native, "zstd")))
    if path.name.lower().endswith(".zst"):
        raise InputError(f"{path}: not zstd-compressed (it does not start with zstd's magic bytes 28 b5 2f fd)")
    return stack.enter_context(open(path, "rb"))


def _is_hplt(doc: dict[str, Any]) -> bool:
    return "text" in doc and ("u" in doc or "url" in doc)


def _hplt_record(doc: dict[str, Any], line: int) -> _Record:
    labels = _labels(doc, _HPLT_LABELS)
    robots = doc.get("robots")
    if "robotstxt" not in labels and isinstance(robots, str):
        labels["robotstxt"] = _ROBOTS_VERDICTS.get(robots, robots)
    record_id = _label(doc.get("id"))
    if record_id is None and doc.get("f") is not None and doc.get("o") is not None:
        record_id = f"{doc['f']}@{doc['o']}"  # the record's place in its WARC file: unique too
    content_type = doc.get("c")
    return _Record(offset=line, url=doc.get("u", doc.get("url")), text=doc.get("text"), record_id=record_id,
                   time=doc.get("ts"), labels=labels,
                   content_type=content_type if isinstance(content_type, str) and content_type else None)


def _hplt_records(path: Path, stats: Counter[str]) -> Iterator[_Record]:
    objects = fitting = 0
    with ExitStack() as stack:
        lines = _open_lines(path, stack)
        number = 0
        try:
            for number, raw in enumerate(lines, start=1):
                if not raw.strip():
                    continue
                try:
                    doc = json.loads(raw)
                except UnicodeDecodeError:
                    _broken(stats, "not_utf8")
                    continue
                except ValueError:
                    _broken(stats, "json")
                    continue
                if not isinstance(doc, dict):
                    _broken(stats, "json")
                    continue
                objects += 1
                fitting += _is_hplt(doc)
                if objects == _PROBE_OBJECTS and not fitting:
                    break
                yield _hplt_record(doc, number)
        except OSError as exc:  # a damaged or cut-off zstd stream: what came before stands
            log.warning("%s: stopped reading after line %d: %s", path.name, number, exc)
            _broken(stats, "stream_damage")
            return
    if objects and not fitting:
        raise InputError(f"{path}: not an HPLT file: no JSON line of the first {objects} has the fields "
                         f"text and u (v2) or url (v1.2)")


# --------------------------------------------------------------------------- WET
_WET_LANGUAGE = "WARC-Identified-Content-Language"


def _warc_fields(block: bytes) -> dict[str, str]:
    """A warcinfo record's ``name: value`` lines."""
    fields = {}
    for line in block.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def _block_text(block: bytes, stats: Counter[str]) -> str:
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError:  # CC writes UTF-8; anything else is kept, readable, and counted
        stats["ingest/quirk/text_not_utf8"] += 1
        return block.decode("utf-8", "replace")


def _check_warc_head(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(GZIP_MAGIC) and not head.startswith(b"WARC/"):
        raise InputError(f"{path}: not a WET file: it starts neither with a gzip member nor with 'WARC/'")


def _cut_short(content_length: str | None, block: bytes) -> bool:
    """Whether a record's block is shorter than its Content-Length says (the reader's cap aside)."""
    try:
        declared = int(content_length) if content_length is not None else None
    except ValueError:
        return False
    return declared is not None and len(block) < min(declared, DEFAULT_MAX_RECORD_BYTES + 1)


def _conversion_record(headers: Any, offset: int, block: bytes, crawl: dict[str, str],
                       stats: Counter[str]) -> _Record:
    """A WET conversion record (``headers``: FastWARC's) as a record, its length not yet known."""
    if len(block) > DEFAULT_MAX_RECORD_BYTES:
        block = block[:DEFAULT_MAX_RECORD_BYTES]
        stats["ingest/quirk/text_capped"] += 1
    labels = dict(crawl)
    if (language := headers.get(_WET_LANGUAGE)):
        labels[_WET_LANGUAGE] = language
    return _Record(offset=offset, url=headers.get("WARC-Target-URI"), text=_block_text(block, stats),
                   record_id=headers.get("WARC-Refers-To") or headers.get("WARC-Record-ID"),
                   time=headers.get("WARC-Date"), labels=labels)


def _last_record_end(path: Path, offset: int, size: int, gzipped: bool) -> int | None:
    """Where the file's last record ends: its gzip member's end (None: the member is cut
    short), or the end of an uncompressed file."""
    if not gzipped:
        return size
    with open(path, "rb") as f:  # a second handle: the reader's is still open
        return member_end(f, offset)


def _wet_records(path: Path, stats: Counter[str]) -> Iterator[_Record]:
    _check_warc_head(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        gzipped = f.read(2) == GZIP_MAGIC
    crawl: dict[str, str] = {}  # the warcinfo's isPartOf, for the records after it
    pending: _Record | None = None  # read, but its length is known only at the next record
    seen = conversions = 0
    with open(path, "rb") as f:
        records = iter(ArchiveIterator(f, record_types=WarcRecordType.any_type, parse_http=False))
        while True:
            try:
                rec = next(records, None)
                if rec is None:
                    break
                pos, kind = rec.stream_pos, rec.headers.get("WARC-Type", "")
                block = rec.reader.read(DEFAULT_MAX_RECORD_BYTES + 1)
            except (OSError, ValueError) as exc:
                log.warning("%s: stopped reading after %d records: %s", path.name, seen, exc)
                _broken(stats, "stream_damage")
                break
            seen += 1
            if pending is not None:  # the record before ends where this one starts
                yield replace(pending, length=pos - pending.offset)
                pending = None
            if _cut_short(rec.headers.get("Content-Length"), block):
                # the file ends inside this record (FastWARC hands on what is there): a cut text is
                # not the page's text, and nothing can follow
                log.warning("%s: the record at offset %d is cut short", path.name, pos)
                _broken(stats, "cut_short_record")
                return
            if kind == "warcinfo":
                part_of = _warc_fields(block).get("isPartOf")
                crawl = {"isPartOf": part_of} if part_of else {}
                continue
            if kind != "conversion":
                if not conversions:
                    # WET files hold only warcinfo and conversion records: a WARC or WAT file
                    # (ingested elsewhere), refused before it is read to its end
                    raise InputError(f"{path}: not a WET file: its first content record is a {kind or 'untyped'} "
                                     f"record, not a conversion record")
                stats[f"ingest/skipped/{kind or 'untyped'}_record"] += 1
                continue
            conversions += 1
            pending = _conversion_record(rec.headers, pos, block, crawl, stats)
    if seen == 0:
        raise InputError(f"{path}: not a WET file: no WARC record could be read")
    if pending is not None:
        end = _last_record_end(path, pending.offset, size, gzipped)
        if end is None:
            _broken(stats, "cut_short_record")
            return
        yield replace(pending, length=end - pending.offset)
        if end < size:
            # FastWARC ends quietly when the file stops inside a gzip member's first bytes
            log.warning("%s: the file ends inside the record after offset %d", path.name, pending.offset)
            _broken(stats, "cut_short_record")


# --------------------------------------------------------------------------- entry point
_READERS: dict[str, Callable[[Path, Counter[str]], Iterator[_Record]]] = {
    "fineweb2": _fineweb2_records,
    "hplt": _hplt_records,
    "wet": _wet_records,
}


def iter_collection_documents(path: Path, *, source: str, campaign: str, stats: Counter[str],
                              kind: str | None = None) -> Iterator[Document]:
    """The documents of one collection file, in file order, one at a time.

    ``kind`` (``"fineweb2"``, ``"hplt"`` or ``"wet"``) overrides what the file name says
    (:func:`collection_format`). Bad records are counted in ``stats`` and skipped; a file
    that is not of its format at all raises :class:`InputError` (when iteration starts).
    """
    path = Path(path)
    fmt = kind if kind is not None else collection_format(path)
    if fmt is None:
        raise InputError(f"{path}: not a collection file: its name ends in none of {', '.join(COLLECTION_SUFFIXES)}")
    reader = _READERS.get(fmt)
    if reader is None:
        raise InputError(f"{path}: unknown collection kind {fmt!r}: expected one of {', '.join(_READERS)}")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    for rec in reader(path, stats):
        doc = _document(rec, path.name, source, campaign, stats)
        if doc is not None:
            yield doc
