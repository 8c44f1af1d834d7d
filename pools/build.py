"""``owd pools build``: a campaign's kept documents -> one hive-partitioned Parquet dataset per pool.

Layout, under ``<campaign>/pools/``::

    <pool>/lang=<xx>/part-00000.parquet   zstd, full canonical schema (``lang`` included)
    <pool>/manifest.json                  input fingerprint, files, rows, sha256
    <pool>/croissant.json, dcat.jsonld, summary.json   data cards (pools/cards.py)

Decisions:

* Rows keep the canonical schema, ``lang`` column included, with one change
  (:data:`POOL_SCHEMA`): ``quality`` and ``source_labels`` are stored as
  ``list<struct<key, value>>`` instead of an Arrow ``map``. HF ``datasets`` (5.2) cannot
  load map columns at all ("does not have a datasets dtype equivalent"), and in Parquet both are the same repeated key/value group;
  only the MAP annotation is left out. :func:`to_canonical` turns a pool table back
  into the canonical schema (tests validate every file that way). The ``lang=<xx>``
  folder repeats the column's value: pyarrow, DuckDB, Polars and HF ``datasets`` read
  the file column and the partition as one ``lang`` column (tests/pools check all four).
* ``pools`` is filled with every pool of the campaign the document belongs to.
* Row groups of at most 16 MiB of Arrow data or 10,000 rows: a streaming reader (HF
  ``streaming=True``, DuckDB over HTTP, ``iter_batches``) holds one group at a time and
  gets its first rows after one small read, while zstd still sees enough rows per
  column chunk to compress well. Files roll over at 256 MiB of Arrow data, so no single
  download is huge. Rows waiting for their group are capped at 512 MiB in total (the
  fullest partition then writes early), so memory does not grow with pools x languages. Pages are content-defined chunked, which lets the HF Hub's
  Xet storage deduplicate a re-uploaded pool.
* Atomic and idempotent: all pools are written into ``pools/.staging-<pid>/`` and each
  replaces its old folder by two renames once complete (readers see the old pool or
  the new one; for a moment between the renames, no pool). A pool whose manifest
  carries the current input fingerprint (content hash of ``docs/*.parquet``, every
  pool definition, the campaign fields the cards quote) is skipped; ``force`` rebuilds,
  and produces the same bytes from the same inputs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq

from owd.core.config import CampaignConfig, PoolConfig
from owd.core.done import file_sha256, files_fingerprint, fingerprint
from owd.core.schema import DOCUMENT_SCHEMA, SchemaError, upgrade_table, validate_table
from owd.pools.cards import processing_settings, write_cards
from owd.pools.media_pools import is_current, is_media_pool, staged_build
from owd.pools.rules import Candidate, PoolRule, compile_pool
from owd.pools.stats import PoolStats

__all__ = ["BuildSummary", "build_pools", "pools_dir", "read_manifest", "current_fingerprint", "FORMAT",
           "POOL_SCHEMA", "to_pool_table", "to_canonical", "validate_pool_file",
           "ROW_GROUP_BYTES", "ROW_GROUP_MAX_ROWS", "FILE_MAX_BYTES"]

log = logging.getLogger(__name__)

FORMAT = "owd-pools/1"
REMOTE_FILE = "remote.json"  # beside a pool pulled from another site: where it came from (pools/remote.py)
ROW_GROUP_BYTES = 16 * 2**20
ROW_GROUP_MAX_ROWS = 10_000
FILE_MAX_BYTES = 256 * 2**20
# Rows of every (pool, language) wait in memory until they fill a row group; past this
# total the fullest partition writes a (smaller) group early, so memory stays bounded
# however many pools and languages a campaign has.
MAX_PENDING_BYTES = 512 * 2**20
# Columns the rules and the cards read; the rest of a row is only copied.
_RULE_COLUMNS = ["drop_reason", "lang", "host", "domain", "url", "title", "text", "license_url", "media",
                 "quality", "tdm_reservation", "tdm_source", "robots_noai", "worker", "fetch_time", "pii",
                 "dup_cluster_id", "source", "source_labels"]
_POOLS_TYPE = DOCUMENT_SCHEMA.field("pools").type
# Arrow map columns (``quality``, ``source_labels``): stored as lists of key/value structs
_MAP_COLUMNS = [f.name for f in DOCUMENT_SCHEMA if pa.types.is_map(f.type)]


def _as_list_of_structs(field_: pa.Field) -> pa.Field:
    return pa.field(field_.name, pa.list_(pa.struct([
        pa.field("key", field_.type.key_type, nullable=False), pa.field("value", field_.type.item_type)])))


POOL_SCHEMA = DOCUMENT_SCHEMA
for _name in _MAP_COLUMNS:
    _i = DOCUMENT_SCHEMA.get_field_index(_name)
    POOL_SCHEMA = POOL_SCHEMA.set(_i, _as_list_of_structs(DOCUMENT_SCHEMA.field(_name)))
POOL_SCHEMA = POOL_SCHEMA.with_metadata({**DOCUMENT_SCHEMA.metadata, b"owd.pool_format": FORMAT.encode()})


def to_pool_table(table: pa.Table) -> pa.Table:
    """A canonical table as pool rows: map columns as lists of key/value structs."""
    for name in _MAP_COLUMNS:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, POOL_SCHEMA.field(name), table.column(i).cast(POOL_SCHEMA.field(name).type))
    return table.replace_schema_metadata(POOL_SCHEMA.metadata)


def _to_map(column: pa.ChunkedArray, map_type: pa.MapType) -> pa.ChunkedArray:
    # pyarrow casts map -> list<struct> but not back; rebuild each chunk from its buffers
    chunks = []
    for chunk in column.chunks:
        if chunk.offset and chunk.null_count:  # from_arrays refuses a null mask on sliced offsets
            chunk = pa.concat_arrays([chunk, pa.array([], chunk.type)])
        chunks.append(pa.MapArray.from_arrays(chunk.offsets, chunk.values.field("key"), chunk.values.field("value"),
                                              type=map_type, mask=chunk.is_null() if chunk.null_count else None))
    return pa.chunked_array(chunks, type=map_type)


def to_canonical(table: pa.Table) -> pa.Table:
    """Pool rows back in :data:`~owd.core.schema.DOCUMENT_SCHEMA` (then ``validate_table`` applies).
    A pool file from before schema 5 lacks the ``source*`` columns: they come back as nulls."""
    if "lang" in table.schema.names and pa.types.is_dictionary(table.schema.field("lang").type):
        table = table.set_column(table.schema.get_field_index("lang"), "lang", table.column("lang").cast(pa.string()))
    for name in _MAP_COLUMNS:
        i = table.schema.get_field_index(name)
        if i < 0 or pa.types.is_map(table.schema.field(i).type):
            continue
        field_ = DOCUMENT_SCHEMA.field(name)
        table = table.set_column(i, field_, _to_map(table.column(i), field_.type))
    return upgrade_table(table).replace_schema_metadata(DOCUMENT_SCHEMA.metadata)


def pools_dir(cfg: CampaignConfig) -> Path:
    return cfg.campaign_dir / "pools"


def read_manifest(pool_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((pool_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


@dataclass
class BuildSummary:
    built: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # pool folders no longer in the campaign
    documents: dict[str, int] = field(default_factory=dict)  # per built pool
    input_documents: int = 0
    input_bytes: int = 0  # bytes of docs/*.parquet read
    failed_shards: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def _fingerprint(shards: list[Path], cfg: CampaignConfig) -> str:
    """What the pools are made from (owd.core.done): the documents' content, the rules, the
    settings the cards describe, the format."""
    described = {
        "format": FORMAT, "pyarrow": pa.__version__, "campaign": cfg.campaign, "description": cfg.description,
        "user_agent": cfg.politeness.user_agent, "contact_url": cfg.politeness.contact_url,
        "obey_robots": cfg.politeness.obey_robots, "crawl_tdm": cfg.politeness.tdm,
        "pools": [asdict(p) for p in cfg.pools],
        "process": processing_settings(cfg),
    }
    return fingerprint("pools", files_fingerprint(shards), described)


def validate_pool_file(path: Path) -> int | None:
    """Check a pool's Parquet file against the canonical schema; its row count, or None
    when the file is not a pool file (then :func:`owd.core.schema.validate_file` applies)."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid):
        return None
    if b"owd.pool_format" not in (schema.metadata or {}):
        return None
    table = pq.read_table(path)
    try:
        validate_table(to_canonical(table))
    except (SchemaError, KeyError, pa.ArrowException) as exc:
        raise SchemaError(f"{path}: {exc}") from exc
    return table.num_rows


def _shards(cfg: CampaignConfig) -> list[Path]:
    return sorted((cfg.campaign_dir / "docs").glob("*.parquet"))


def current_fingerprint(cfg: CampaignConfig) -> str:
    """The fingerprint a pool built now from this campaign's documents and rules would carry."""
    return _fingerprint(_shards(cfg), cfg)


class _PartitionWriter:
    """One ``lang=<xx>`` folder of one pool: buffers rows into row groups, rolls files over."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.pending_bytes = 0
        self.files: list[dict[str, Any]] = []
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None
        self._file_rows = self._file_bytes = self._file_groups = 0

    def add(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.pending_rows += table.num_rows
        self.pending_bytes += table.nbytes
        while self.pending_rows >= ROW_GROUP_MAX_ROWS or self.pending_bytes >= ROW_GROUP_BYTES:
            self._write_group()

    def flush_group(self) -> None:
        """Write the pending rows now (memory pressure), as one or more row groups."""
        while self.pending_rows:
            self._write_group()

    def _write_group(self) -> None:
        table = pa.concat_tables(self.pending)
        avg = max(1.0, table.nbytes / max(1, table.num_rows))
        n = min(table.num_rows, ROW_GROUP_MAX_ROWS, max(1, int(ROW_GROUP_BYTES // avg)))
        group, rest = table.slice(0, n), table.slice(n)
        if self._writer is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._tmp = self.folder / f".part-{len(self.files):05d}.parquet.tmp"
            self._writer = pq.ParquetWriter(
                self._tmp, POOL_SCHEMA, compression="zstd", write_page_index=True,
                use_content_defined_chunking=True)
        self._writer.write_table(group.combine_chunks(), row_group_size=n)
        self._file_rows += n
        self._file_bytes += group.nbytes
        self._file_groups += 1
        self.pending = [rest] if rest.num_rows else []
        self.pending_rows, self.pending_bytes = rest.num_rows, rest.nbytes if rest.num_rows else 0
        if self._file_bytes >= FILE_MAX_BYTES:
            self._close_file()

    def _close_file(self) -> None:
        assert self._writer is not None and self._tmp is not None
        self._writer.close()
        final = self.folder / f"part-{len(self.files):05d}.parquet"
        self._tmp.replace(final)
        self.files.append({"rows": self._file_rows, "row_groups": self._file_groups, "path": final})
        self._writer = self._tmp = None
        self._file_rows = self._file_bytes = self._file_groups = 0

    def close(self) -> list[dict[str, Any]]:
        self.flush_group()
        if self._writer is not None:
            self._close_file()
        return self.files


def _read_shard(shard: Path) -> pa.Table:
    try:
        table = upgrade_table(pq.read_table(shard))
    except (OSError, pa.ArrowInvalid) as exc:
        raise SchemaError(f"not a readable Parquet file: {exc}") from exc
    validate_table(table)
    return table


def _swap_in(staged: Path, final: Path) -> None:
    """Replace ``final`` by ``staged`` with two renames (a directory cannot be replaced in one)."""
    old = final.parent / f".old-{final.name}-{os.getpid()}"
    if final.exists():
        final.rename(old)
    staged.rename(final)
    if old.exists():
        shutil.rmtree(old)


def _evaluate(records: list[dict[str, Any]], rules: list[PoolRule], stats: dict[str, PoolStats]
              ) -> tuple[dict[str, list[int]], list[list[str]]]:
    """Rows of each pool being built (``stats`` keys), and every row's full list of pools."""
    members: dict[str, list[int]] = {name: [] for name in stats}
    memberships: list[list[str]] = []
    for row, record in enumerate(records):
        cand = Candidate(record)  # normalised once, shared by every pool
        nbytes = len((record["text"] or "").encode("utf-8"))
        mine = []
        for pool_stats in stats.values():
            pool_stats.observe(record)
        for rule in rules:
            reason = rule.reject_reason(cand)
            if reason is None:
                mine.append(rule.name)
            if rule.name in stats:
                if reason is None:
                    members[rule.name].append(row)
                    stats[rule.name].add(record, nbytes, cand.reserved)
                else:
                    stats[rule.name].reject(record, reason, nbytes)
        memberships.append(mine)
    return members, memberships


def _finish(folder: Path, pool: PoolConfig, cfg: CampaignConfig, parts: dict[str, _PartitionWriter],
            stats: PoolStats, fingerprint: str | None) -> dict[str, Any]:
    """Close a staged pool's files, write its cards, then its manifest (which marks it complete)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for lang, part in sorted(parts.items()):
        for f in part.close():
            path: Path = f["path"]
            files.append({"path": path.relative_to(folder).as_posix(), "lang": lang, "rows": f["rows"],
                          "row_groups": f["row_groups"], "bytes": path.stat().st_size, "sha256": file_sha256(path)})
    manifest = {"format": FORMAT, "pool": pool.name, "campaign": cfg.campaign, "fingerprint": fingerprint,
                "documents": sum(f["rows"] for f in files), "bytes": sum(f["bytes"] for f in files),
                "row_group_max_bytes": ROW_GROUP_BYTES, "row_group_max_rows": ROW_GROUP_MAX_ROWS,
                "file_max_bytes": FILE_MAX_BYTES, "files": files}
    write_cards(folder, pool, cfg, stats, manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def _build_media_pools(cfg: CampaignConfig, out: Path, force: bool, summary: BuildSummary,
                       say: Callable[[str], None]) -> None:
    """The media pools (pools/media_pools.py), each rebuilt when its media tables or rule changed."""
    for pool in cfg.pools:
        if not is_media_pool(pool):
            continue
        if not force and is_current(cfg, pool, out / pool.name):
            summary.skipped.append(pool.name)
            continue
        manifest = staged_build(cfg, pool, out, say)
        summary.built.append(pool.name)
        summary.documents[pool.name] = manifest["documents"]


def build_pools(cfg: CampaignConfig, *, force: bool = False,
                progress: Callable[[str], None] | None = None) -> BuildSummary:
    """Build (or skip, when up to date) every pool of the campaign; see the module docstring."""
    started = time.monotonic()
    summary = BuildSummary()
    say = progress or (lambda line: None)
    out = pools_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    for leftover in [*out.glob(".staging-*"), *out.glob(".old-*")]:  # from a killed build
        shutil.rmtree(leftover, ignore_errors=True)
    configured = {p.name for p in cfg.pools}
    for folder in sorted(out.iterdir()):
        if folder.name.startswith(".") or (folder / REMOTE_FILE).exists():
            continue  # a pull under way, or a pool pulled from another site (pools/remote.py): not ours to remove
        if folder.is_dir() and folder.name not in configured and read_manifest(folder) is not None:
            shutil.rmtree(folder)
            summary.removed.append(folder.name)

    _build_media_pools(cfg, out, force, summary, say)
    document_pools = [p for p in cfg.pools if not is_media_pool(p)]
    shards = _shards(cfg)
    fingerprint = _fingerprint(shards, cfg)
    todo = [p for p in document_pools
            if force or (read_manifest(out / p.name) or {}).get("fingerprint") != fingerprint]
    summary.skipped += [p.name for p in document_pools if p not in todo]
    if not todo:
        summary.seconds = time.monotonic() - started
        return summary

    rules = [compile_pool(p) for p in document_pools]  # all of them: the `pools` column names every pool
    staging = out / f".staging-{os.getpid()}"
    stats = {p.name: PoolStats() for p in todo}
    writers: dict[str, dict[str, _PartitionWriter]] = {p.name: {} for p in todo}
    for i, shard in enumerate(shards, 1):
        try:
            table = _read_shard(shard)
        except SchemaError as exc:
            # Reported (the CLI exits 1) and the pools are not marked up to date, so a rerun retries.
            log.warning("pools: skipping %s: %s", shard, exc)
            summary.failed_shards[shard.name] = str(exc)
            continue
        summary.input_bytes += shard.stat().st_size
        summary.input_documents += table.num_rows
        records = table.select(_RULE_COLUMNS).to_pylist()
        members, memberships = _evaluate(records, rules, stats)
        table = table.set_column(table.schema.get_field_index("pools"), DOCUMENT_SCHEMA.field("pools"),
                                 pa.array(memberships, type=_POOLS_TYPE))
        table = to_pool_table(table)
        for name, rows in members.items():
            by_lang: dict[str, list[int]] = {}
            for row in rows:
                by_lang.setdefault(records[row]["lang"], []).append(row)
            for lang, idx in sorted(by_lang.items()):
                part = writers[name].get(lang) or writers[name].setdefault(
                    lang, _PartitionWriter(staging / name / f"lang={lang}"))
                part.add(table.take(pa.array(idx, type=pa.int64())))
        parts = [part for by_lang in writers.values() for part in by_lang.values()]
        while sum(part.pending_bytes for part in parts) > MAX_PENDING_BYTES:
            max(parts, key=lambda part: part.pending_bytes).flush_group()
        say(f"pools: shard {i}/{len(shards)} {shard.name}: {table.num_rows} documents, "
            + ", ".join(f"{n} {len(r)}" for n, r in members.items()))

    complete = fingerprint if not summary.failed_shards else None
    for pool in todo:
        manifest = _finish(staging / pool.name, pool, cfg, writers[pool.name], stats[pool.name], complete)
        summary.documents[pool.name] = manifest["documents"]
    for pool in todo:
        _swap_in(staging / pool.name, out / pool.name)
        summary.built.append(pool.name)
    shutil.rmtree(staging, ignore_errors=True)
    summary.seconds = time.monotonic() - started
    return summary
