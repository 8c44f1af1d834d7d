"""The canonical document schema: one Arrow schema every stage reads and writes.

Columns are added here and nowhere else. A :class:`Document` is the Python view
of one row; :func:`to_table` / :func:`from_table` convert between the two, and
:func:`validate_file` checks a Parquet file written by any stage.
"""

from __future__ import annotations

import dataclasses
import hashlib
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from owd.core.errors import InputError

__all__ = [
    "DOCUMENT_SCHEMA",
    "MEDIA_ITEM_TYPE",
    "Document",
    "DocumentWriter",
    "MediaItem",
    "LangScore",
    "PiiCounts",
    "SchemaError",
    "to_table",
    "from_table",
    "write_parquet",
    "iter_parquet",
    "read_parquet",
    "upgrade_table",
    "validate_table",
    "validate_file",
]

MediaKind = Literal["image", "audio", "video"]
MEDIA_KINDS: tuple[str, ...] = ("image", "audio", "video")

MEDIA_ITEM_TYPE = pa.struct(
    [
        pa.field("url", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # image | audio | video
        pa.field("mime", pa.string()),
        pa.field("alt", pa.string()),
        pa.field("caption", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("digest", pa.string()),
        pa.field("in_warc", pa.bool_(), nullable=False),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("context", pa.string()),  # text of the nearest enclosing block (200 characters at most)
        pa.field("tracks", pa.list_(pa.string())),  # a video's or audio's <track> URLs (WebVTT captions)
    ]
)

LANG_SCORE_TYPE = pa.struct(
    [pa.field("lang", pa.string(), nullable=False), pa.field("score", pa.float64(), nullable=False)]
)

PII_COUNTS_TYPE = pa.struct(
    [
        pa.field("email", pa.int32(), nullable=False),
        pa.field("phone", pa.int32(), nullable=False),
        pa.field("ip", pa.int32(), nullable=False),
        pa.field("iban", pa.int32(), nullable=False),
    ]
)

_UTC_MS = pa.timestamp("ms", tz="UTC")

# Raised when a column is added or changes meaning (older files are upgraded on read).
SCHEMA_VERSION = 5  # 5: source, source_record, source_labels (documents ingested from other collections)

DOCUMENT_SCHEMA = pa.schema(
    [
        # identity and provenance
        pa.field("id", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("host", pa.string(), nullable=False),
        pa.field("domain", pa.string()),  # registered domain (public-suffix aware)
        pa.field("campaign", pa.string(), nullable=False),
        pa.field("worker", pa.string()),
        pa.field("fetch_time", _UTC_MS),
        # the first fetch of the URL in the campaign, and the last fetch that found this
        # content (a later revisit that found it unchanged); both fetch_time when fetched once
        pa.field("first_seen", _UTC_MS),
        pa.field("last_seen", _UTC_MS),
        pa.field("http_status", pa.int16()),
        pa.field("content_type", pa.string()),
        pa.field("warc_file", pa.string()),
        pa.field("warc_offset", pa.int64()),
        pa.field("warc_length", pa.int64()),
        pa.field("payload_digest", pa.string()),
        pa.field("canonical_url", pa.string()),  # <link rel=canonical>, when the page declares one
        # where the document came from when owd did not crawl it (owd.crawler.ingest,
        # owd.extract.collections): the campaign's ingest source name (null: owd's own crawl),
        # the record's id in that source, and the source's own labels (its language, its
        # quality scores, its robots verdict...) as strings, kept beside owd's own signals
        pa.field("source", pa.string()),
        pa.field("source_record", pa.string()),
        pa.field("source_labels", pa.map_(pa.string(), pa.string())),
        # content and metadata
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("description", pa.string()),
        pa.field("author", pa.string()),
        pa.field("published", pa.date32()),
        pa.field("declared_lang", pa.string()),
        # language identification
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float64()),
        pa.field("lang_topk", pa.list_(LANG_SCORE_TYPE)),
        pa.field("script", pa.string()),
        # rights and opt-out signals
        pa.field("license_url", pa.string()),
        pa.field("robots_noai", pa.bool_()),
        pa.field("robots_noimageai", pa.bool_()),
        pa.field("tdm_reservation", pa.bool_()),  # null: no TDMRep signal seen
        pa.field("tdm_policy", pa.string()),
        pa.field("tdm_source", pa.string()),  # tdmrep.json | header | meta
        # links and media
        pa.field("outlinks", pa.list_(pa.string())),
        pa.field("media", pa.list_(MEDIA_ITEM_TYPE)),
        # quality, PII, dedup, pools
        pa.field("quality", pa.map_(pa.string(), pa.float64())),
        pa.field("drop_reason", pa.string()),  # null: kept
        pa.field("pii", PII_COUNTS_TYPE),
        pa.field("dup_cluster_id", pa.string()),
        pa.field("dup_cluster_size", pa.int32()),
        pa.field("pools", pa.list_(pa.string())),
    ],
    metadata={b"owd.schema_version": str(SCHEMA_VERSION).encode()},
)
# Columns added since schema 2, filled with nulls when an older file is read.
_ADDED_SINCE_2 = ("first_seen", "last_seen", "source", "source_record", "source_labels")


class SchemaError(InputError):
    """A table or file does not match :data:`DOCUMENT_SCHEMA`."""


@dataclass
class MediaItem:
    url: str
    kind: str
    mime: str | None = None
    alt: str | None = None
    caption: str | None = None
    size: int | None = None
    digest: str | None = None
    in_warc: bool = False
    width: int | None = None
    height: int | None = None
    context: str | None = None
    tracks: list[str] | None = None

    def __post_init__(self) -> None:
        if self.kind not in MEDIA_KINDS:
            raise SchemaError(f"media kind must be one of {MEDIA_KINDS}, got {self.kind!r}")


@dataclass
class LangScore:
    lang: str
    score: float


@dataclass
class PiiCounts:
    email: int = 0
    phone: int = 0
    ip: int = 0
    iban: int = 0


@dataclass
class Document:
    """One row of the canonical schema. Field order and names match the Arrow schema."""

    id: str
    url: str
    host: str
    campaign: str
    domain: str | None = None
    worker: str | None = None
    fetch_time: dt.datetime | None = None
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    http_status: int | None = None
    content_type: str | None = None
    warc_file: str | None = None
    warc_offset: int | None = None
    warc_length: int | None = None
    payload_digest: str | None = None
    canonical_url: str | None = None
    source: str | None = None
    source_record: str | None = None
    source_labels: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    text: str | None = None
    description: str | None = None
    author: str | None = None
    published: dt.date | None = None
    declared_lang: str | None = None
    lang: str | None = None
    lang_score: float | None = None
    lang_topk: list[LangScore] = field(default_factory=list)
    script: str | None = None
    license_url: str | None = None
    robots_noai: bool | None = None
    robots_noimageai: bool | None = None
    tdm_reservation: bool | None = None
    tdm_policy: str | None = None
    tdm_source: str | None = None
    outlinks: list[str] = field(default_factory=list)
    media: list[MediaItem] = field(default_factory=list)
    quality: dict[str, float] = field(default_factory=dict)
    drop_reason: str | None = None
    pii: PiiCounts = field(default_factory=PiiCounts)
    dup_cluster_id: str | None = None
    dup_cluster_size: int | None = None
    pools: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.fetch_time is not None and self.fetch_time.tzinfo is None:
            # A naive time is ambiguous provenance; the schema stores UTC only.
            raise SchemaError(f"fetch_time of {self.url} must be timezone-aware")


_DOC_FIELDS = [f.name for f in dataclasses.fields(Document)]
assert set(_DOC_FIELDS) == set(DOCUMENT_SCHEMA.names), "Document and DOCUMENT_SCHEMA disagree"


_LANG_SCORE_FIELDS = [f.name for f in dataclasses.fields(LangScore)]
_MEDIA_FIELDS = [f.name for f in dataclasses.fields(MediaItem)]
_PII_FIELDS = [f.name for f in dataclasses.fields(PiiCounts)]


def _row(doc: Document) -> dict[str, Any]:
    # Shallow field reads, not dataclasses.asdict: the nested records hold plain values,
    # and asdict's recursive copy was 5 % of `owd process` (one call per media item).
    row = {name: getattr(doc, name) for name in _DOC_FIELDS}
    row["lang_topk"] = [{name: getattr(s, name) for name in _LANG_SCORE_FIELDS} for s in doc.lang_topk]
    row["media"] = [{name: getattr(m, name) for name in _MEDIA_FIELDS} for m in doc.media]
    row["pii"] = {name: getattr(doc.pii, name) for name in _PII_FIELDS}
    row["quality"] = list(doc.quality.items())
    row["source_labels"] = list(doc.source_labels.items())
    for name in ("fetch_time", "first_seen", "last_seen"):
        if row[name] is not None:
            row[name] = row[name].astimezone(dt.timezone.utc)
    return row


def to_table(docs: Iterable[Document]) -> pa.Table:
    """Build an Arrow table with exactly :data:`DOCUMENT_SCHEMA` from documents."""
    rows = [_row(d) for d in docs]
    columns = {name: [r[name] for r in rows] for name in DOCUMENT_SCHEMA.names}
    try:
        return pa.Table.from_pydict(columns, schema=DOCUMENT_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SchemaError(f"documents do not fit the schema: {exc}") from exc


def from_table(table: pa.Table) -> list[Document]:
    """Turn a table of the canonical schema back into documents."""
    validate_table(table)
    docs = []
    for row in table.to_pylist():
        row["lang_topk"] = [LangScore(**s) for s in row["lang_topk"] or []]
        row["media"] = [MediaItem(**m) for m in row["media"] or []]
        row["pii"] = PiiCounts(**row["pii"]) if row["pii"] else PiiCounts()
        row["quality"] = dict(row["quality"] or [])
        row["source_labels"] = dict(row["source_labels"] or [])
        row["outlinks"] = row["outlinks"] or []
        row["pools"] = row["pools"] or []
        docs.append(Document(**row))
    return docs


def validate_table(table: pa.Table) -> None:
    """Raise :class:`SchemaError` naming every column that differs from the schema."""
    problems = []
    expected = {f.name: f for f in DOCUMENT_SCHEMA}
    actual = {f.name: f for f in table.schema}
    for name in expected.keys() - actual.keys():
        problems.append(f"missing column {name!r}")
    for name in actual.keys() - expected.keys():
        problems.append(f"unknown column {name!r}")
    for name in expected.keys() & actual.keys():
        if not actual[name].type.equals(expected[name].type):
            problems.append(f"column {name!r} has type {actual[name].type}, expected {expected[name].type}")
        elif not expected[name].nullable and table.column(name).null_count:
            problems.append(f"column {name!r} has {table.column(name).null_count} nulls but is required")
    if problems:
        raise SchemaError("; ".join(sorted(problems)))


def write_parquet(docs: Iterable[Document] | pa.Table, path: Path) -> Path:
    """Write documents atomically (temporary name, then rename) as zstd Parquet."""
    table = docs if isinstance(docs, pa.Table) else to_table(docs)
    validate_table(table)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)
    return path


_CHUNK = 100  # documents converted to Arrow at a time (DocumentWriter)


class DocumentWriter:
    """Documents into one Parquet file as they come, in row groups of at most ``max_rows``
    documents or about ``max_bytes`` of text, so that memory does not grow with the shard.

    Written under a temporary name; :meth:`commit` renames it into place (a reader never
    sees half a file), :meth:`abort` removes it. ``made_from`` (owd.core.done) is stamped
    in the schema metadata, as :func:`owd.core.done.stamp_table` does for whole tables.
    Used as a context manager it commits on success and aborts on an exception.
    """

    def __init__(self, path: Path, made_from: str | None = None, *, max_rows: int = 1000,
                 max_bytes: int = 8 * 2**20) -> None:
        from owd.core.done import MADE_FROM  # (done does not import the schema; no cycle)

        if max_rows < 1 or max_bytes < 1:
            raise ValueError(f"DocumentWriter: max_rows and max_bytes must be >= 1, got {max_rows}, {max_bytes}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        schema = DOCUMENT_SCHEMA if made_from is None else DOCUMENT_SCHEMA.with_metadata({MADE_FROM: made_from.encode()})
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(self.tmp, schema, compression="zstd")
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self._pending: list[Document] = []  # at most _CHUNK documents as Python objects
        self._tables: list[pa.Table] = []  # the rest of the row group, already as Arrow
        self._pending_rows = self._pending_bytes = 0
        self.rows = 0
        self._committed = False

    def write(self, doc: Document) -> None:
        if self._writer is None:
            raise ValueError(f"DocumentWriter for {self.path} is closed")
        self._pending.append(doc)
        self._pending_rows += 1
        # text dominates a row; outlinks are the other big list (~60 bytes each)
        self._pending_bytes += len(doc.text or "") + 64 * len(doc.outlinks)
        if len(self._pending) >= _CHUNK:
            # A document as Python objects takes ~5-10x its Arrow size (measured ~115 KB
            # against ~17 KB a pages-A document): convert every few, not once per row group.
            self._tables.append(to_table(self._pending))
            self._pending = []
        if self._pending_rows >= self.max_rows or self._pending_bytes >= self.max_bytes:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._tables.append(to_table(self._pending))
        if self._tables and self._writer is not None:
            table = pa.concat_tables(self._tables)
            self._writer.write_table(table, row_group_size=table.num_rows)
            self.rows += table.num_rows
        self._pending, self._tables = [], []
        self._pending_rows = self._pending_bytes = 0

    def close(self) -> None:
        """Write what is pending and close the temporary file (not yet in place)."""
        if self._writer is not None:
            self._flush()
            self._writer.close()
            self._writer = None

    def commit(self) -> Path:
        if not self._committed:
            self.close()
            self.tmp.replace(self.path)
            self._committed = True
        return self.path

    def abort(self) -> None:
        if self._committed:
            return
        if self._writer is not None:
            self._pending, self._tables = [], []
            self._writer.close()
            self._writer = None
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "DocumentWriter":
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def upgrade_table(table: pa.Table) -> pa.Table:
    """A table written with an older schema, with the columns added since as nulls (a
    campaign processed before an upgrade keeps working; rerun `owd process` to fill them)."""
    for name in _ADDED_SINCE_2:
        if name not in table.column_names:
            field_ = DOCUMENT_SCHEMA.field(name)
            table = table.add_column(table.num_columns, field_, pa.nulls(table.num_rows, field_.type))
    if table.column_names != DOCUMENT_SCHEMA.names and set(table.column_names) == set(DOCUMENT_SCHEMA.names):
        table = table.select(DOCUMENT_SCHEMA.names)
    media = DOCUMENT_SCHEMA.field("media")
    if "media" in table.column_names and not table.schema.field("media").type.equals(media.type):
        # schema 3 media items had no context or tracks: Arrow adds the missing struct fields as nulls
        try:
            table = table.set_column(table.column_names.index("media"), media, table.column("media").cast(media.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # another shape altogether: validate_table names the column
    return table


def iter_parquet(path: Path, batch_size: int = 100) -> Iterator[list[Document]]:
    """The documents of a file in batches of at most ``batch_size``, read one row group at a
    time (memory: a row group; docs shards are written in row groups of at most 1,000
    documents). Not ``ParquetFile.iter_batches``: with pyarrow 26 its Arrow allocations grew
    by ~6 MB a batch over a whole 20,000-document shard (measured: 66 -> 130 MB after 15
    batches), where reading row group by row group stays flat (~16 MB)."""
    source = pq.ParquetFile(path)
    for i in range(source.num_row_groups):
        group = upgrade_table(source.read_row_group(i))
        for start in range(0, group.num_rows, batch_size):
            yield from_table(group.slice(start, batch_size))


def read_parquet(path: Path) -> list[Document]:
    return from_table(upgrade_table(pq.read_table(path)))


def validate_file(path: Path) -> int:
    """Check a Parquet file against the schema; return its row count.

    Raises :class:`SchemaError` (with the file name) when it does not match.
    """
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise SchemaError(f"{path}: not a readable Parquet file: {exc}") from exc
    try:
        validate_table(table)
    except SchemaError as exc:
        raise SchemaError(f"{path}: {exc}") from exc
    return table.num_rows


def drop_kind(reason: str) -> str:
    """What dropped a document: the part of its ``drop_reason`` before the first ``:``
    (reasons are ``<filter or stage>:<rule>``, e.g. ``gopher_quality:too_few_words``)."""
    return reason.split(":", 1)[0]


def document_id(url: str, warc_file: str, warc_offset: int) -> str:
    """The deterministic id of the document extracted from one WARC record."""
    return hashlib.sha1(f"{url}\n{warc_file}\n{warc_offset}".encode("utf-8", "surrogatepass")).hexdigest()
