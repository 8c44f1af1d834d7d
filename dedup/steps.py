"""Near-duplicate clustering in three restartable steps, plus applying the result.

::

    SignatureStep  per shard   docs -> signatures/<shard>.parquet               (map)
    BucketStep     global      signatures -> buckets/map/<shard>.parquet        (map: scatter band
                                             buckets/edges/part-XXXXX.parquet    entries to partitions;
                                                                                 reduce: group each
                                                                                 partition -> edges)
    ClusterStep    global      edges + signatures -> clusters.parquet           (union-find, then
                                                                                 verified clusters)
    apply_clusters per shard   docs + clusters.parquet -> docs with dup_cluster_* / drop_reason

Documents are compared only within one language (``lang``; a missing language
counts as ``"und"``). Two documents are joined by a candidate edge when they
share a band hash or their normalised texts are equal (the exact hash is
bucketed as one more band). The connected components of the candidate edges
only bound which documents may be related: FineWeb stops there, and a chain of
near duplicates (A ~ B ~ C ~ D) then becomes one cluster although A and D are
distinct. ClusterStep instead verifies: inside each component, a document joins
a cluster only if the Jaccard estimated from the two documents' MinHash values
(the ``minhash`` column, 16 bits per value) with the cluster's representative
reaches :data:`VERIFY_THRESHOLD` (0.764, derived from the 0.8 / 0.6 definition
of near duplicate and distinct). See :class:`ClusterStep` for the rule.
Documents that already carry a ``drop_reason`` are left out by default, so a
rejected page never becomes the kept copy of a cluster.

Every file is written under a temporary name and renamed when complete, and
carries in its Parquet metadata the fingerprint of the inputs it was made
from; a rerun skips files whose fingerprint matches and redoes the others, so
a killed run resumes and a rerun gives the same bytes. ``BucketStep.plan`` numbers
documents globally (shards sorted by id, then row order), so every later file
refers to a document by one uint64. That plan is the unit of consistency:
adding a shard changes it, and the bucket and edge files are then rebuilt.
Clusters never depend on those numbers: a component's documents are ordered by
the keep policy (a total order on document ids), so the output is the same
whatever the shard names, sizes, order or partition count.

The global steps are split the way a distributed run needs them: one
:meth:`BucketStep.map_shard` task per signature file, one
:meth:`BucketStep.reduce_partition` task per partition (band buckets as a
shuffle), then one clustering task.

Memory, for D signed documents, B bands, N partitions and M documents that
have at least one candidate (bench/bench_dedup.py measures it; numbers are
peak RSS above a warmed-up interpreter, 1M synthetic signatures, 50k-row
shards, N = 64):

* SignatureStep: independent of D. One write batch (``batch_size`` rows) plus
  one document's shingles (at most ``max_words``; hashed ``batch_shingles`` x
  B·r x 4 bytes at a time).
* BucketStep map: O(rows of one shard): (B+1) entries of ~40 bytes while
  sorting (tracemalloc 31 MB for 50k rows; +50-60 MB RSS).
* BucketStep reduce: O((B+1)·D/N), the entries of one partition from all
  shards, ~40 bytes each (10 MB for D = 1M; +20-40 MB RSS). Raise
  ``num_partitions`` with D to keep it flat.
* ClusterStep: O(M): the union-find parent array (int32 below 2^31 nodes) and
  the doc id, length and fetch time of the M documents in any edge, plus one
  chunk of ``edge_chunk`` edges (default max(1M, M), 8 bytes each), read one
  edge file at a time; signature columns are read one shard at a time.
  Verification holds the MinHash values of one batch of whole components
  (``verify_batch`` documents, default 131,072: 29 MB at 224 bytes each) and
  their verified pairs (at most 28 x 16 candidates per document are compared),
  re-reading the shards' ``minhash`` column once per batch.
  Documents without any edge cost nothing beyond that. Unverified components
  measured ~160 bytes per clustered document; see bench/results/dedup.json
  for the verified clusters.
* apply_clusters: O(docs of the shard + one batch of 1M cluster rows); it
  reads the whole clusters file once per shard.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from owd.dedup.minhash import MinhashConfig, bands, signature_of_words, words
from owd.dedup.text import exact_digest, normalise
from owd.core.done import MADE_FROM, fingerprint
from owd.core.schema import Document

__all__ = [
    "SignatureStep",
    "BucketStep",
    "BucketPlan",
    "ClusterStep",
    "KeepPolicy",
    "ClusterMethod",
    "apply_clusters",
    "rows_of_docs",
    "signature_schema",
    "signature_file_fingerprint",
    "minhash_column",
    "SIGNATURE_FORMAT",
    "VERIFY_THRESHOLD",
    "CLUSTER_SCHEMA",
    "EDGE_SCHEMA",
    "UNDETERMINED_LANG",
    "DUPLICATE_REASON",
]

log = logging.getLogger(__name__)

KeepPolicy = Literal["first", "longest", "earliest"]
KEEP_POLICIES: tuple[str, ...] = ("first", "longest", "earliest")
UNDETERMINED_LANG = "und"
DUPLICATE_REASON = "duplicate"

_SHARD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]*$")
_META_CONFIG = b"owd.dedup.config"
_META_DIGEST = b"owd.dedup.digest"
_META_PLAN = b"owd.dedup.plan"
_META_ROW_GROUPS = b"owd.dedup.row_groups"
_META_KEEP = b"owd.dedup.keep"
_META_STATS = b"owd.dedup.stats"
_UTC_MS = pa.timestamp("ms", tz="UTC")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_APPLY_BATCH = 1 << 20
_META_CLUSTERING = b"owd.dedup.clustering"
#: 2: signature files carry the ``minhash`` column (16-bit MinHash values).
SIGNATURE_FORMAT = 2

EDGE_SCHEMA = pa.schema([pa.field("u", pa.uint64(), nullable=False), pa.field("v", pa.uint64(), nullable=False)])
_ENTRY_SCHEMA = pa.schema([
    pa.field("lang", pa.string(), nullable=False),
    pa.field("band", pa.uint8(), nullable=False),
    pa.field("key", pa.uint64(), nullable=False),
    pa.field("doc", pa.uint64(), nullable=False),
])
CLUSTER_SCHEMA = pa.schema([
    pa.field("doc_id", pa.string(), nullable=False),
    pa.field("cluster_id", pa.string(), nullable=False),
    pa.field("cluster_size", pa.int32(), nullable=False),
    pa.field("keep", pa.bool_(), nullable=False),
])


def signature_schema(num_bands: int, num_perm: int) -> pa.Schema:
    """Columns of ``signatures/<shard>.parquet``: one row per signed document."""
    return pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("lang", pa.string(), nullable=False),
            pa.field("exact_hash", pa.string(), nullable=False),  # hex BLAKE2b-128 of the normalised text
            pa.field("exact_key", pa.uint64(), nullable=False),  # its first 64 bits, bucketed as band B
            pa.field("length", pa.int64(), nullable=False),  # characters of the original text
            pa.field("fetch_time", _UTC_MS),
        ]
        + [pa.field(f"band_{i}", pa.uint64(), nullable=False) for i in range(num_bands)]
        # The low 16 bits of every MinHash value, little-endian: what ClusterStep estimates
        # Jaccard from. 16 bits make two unequal values collide with probability 2^-16, a
        # bias of +0.00002 on the estimate, at half the bytes (and clustering memory) of 32.
        + [pa.field("minhash", pa.binary(2 * num_perm), nullable=False)]
    )


def signature_file_fingerprint(config: MinhashConfig) -> str:
    """What a signature file records as its config: the MinHash config and the file format.
    Files without the ``minhash`` column (format 1) are stale and get re-signed."""
    return fingerprint({"minhash": config.fingerprint(), "format": SIGNATURE_FORMAT})


def minhash_column(sig: np.ndarray) -> bytes:
    """The ``minhash`` cell of a signature: its values' low 16 bits, little-endian."""
    return (sig & 0xFFFF).astype("<u2").tobytes()


# --------------------------------------------------------------------------- helpers


def _check_shard_id(shard_id: str) -> None:
    if not _SHARD_ID.match(shard_id):
        raise ValueError(f"shard id {shard_id!r} must match {_SHARD_ID.pattern} (it becomes a file name)")


def _tmp_path(path: Path) -> Path:
    # The pid keeps two attempts at the same output (a retried task) from
    # writing one temporary file.
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _metadata(path: Path) -> dict[bytes, bytes] | None:
    """The Parquet key-value metadata of a file, or None if there is no readable file."""
    if not path.is_file():
        return None
    try:
        return dict(pq.ParquetFile(path).metadata.metadata or {})
    except (OSError, pa.ArrowInvalid) as exc:
        # Only complete files are renamed into place, so this is outside damage:
        # say so and rebuild it rather than stop.
        log.warning("dedup: unreadable %s (%s); rebuilding it", path, exc)
        return None


def _write_table(table: pa.Table, path: Path, metadata: dict[bytes, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)
    return path


def _epoch_ms(when: dt.datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _mix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, elementwise (wrapping uint64 arithmetic)."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    out: np.ndarray = x ^ (x >> np.uint64(33))
    return out


def partition_of(keys: np.ndarray, band: int, num_partitions: int) -> np.ndarray:
    """Partition of band-bucket keys: a function of (band, key) only, so a bucket never splits."""
    with np.errstate(over="ignore"):
        mixed = _mix64(keys.astype(np.uint64) ^ np.uint64((band + 1) * 0x9E3779B97F4A7C15 % 2**64))
    return (mixed % np.uint64(num_partitions)).astype(np.int64)


# --------------------------------------------------------------------------- signatures


class SignatureStep:
    """Map side: per shard, exact hash and MinHash band hashes of every document.

    Writes ``<dedup_dir>/signatures/<shard_id>.parquet`` (:func:`signature_schema`).
    Skips documents with a ``drop_reason`` (unless ``include_dropped``) and
    documents without a word; both are counted in :attr:`stats`.
    """

    def __init__(self, dedup_dir: Path, config: MinhashConfig = MinhashConfig(), *,
                 include_dropped: bool = False, batch_size: int = 10_000) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dedup_dir = Path(dedup_dir)
        self.config = config
        self.include_dropped = include_dropped
        self.batch_size = batch_size
        self.schema = signature_schema(config.num_bands, config.num_perm)
        self.stats: collections.Counter[str] = collections.Counter()
        # the counts of the shard :meth:`run` signed (or found signed) last
        self.last_shard_stats: collections.Counter[str] = collections.Counter()

    def output_path(self, shard_id: str) -> Path:
        """Where :meth:`run` writes the signatures of ``shard_id``."""
        _check_shard_id(shard_id)
        return self.dedup_dir / "signatures" / f"{shard_id}.parquet"

    def run(self, shard_id: str, docs: Iterable[Document], made_from: str = "") -> Path:
        """Sign one shard; a complete file made with the same config from the same documents
        is kept and ``docs`` not read. ``made_from``: the fingerprint of what the documents
        were made from (owd.core.done), recorded in the file; "" when the caller has none."""
        if self.is_signed(shard_id, made_from):
            return self.output_path(shard_id)
        for _ in self.signed(shard_id, docs, made_from):
            pass
        return self.output_path(shard_id)

    def is_signed(self, shard_id: str, made_from: str = "") -> bool:
        """True (and :attr:`last_shard_stats` set to what signing it counted, as the file
        recorded it) when a complete file made with the same config from the same
        documents exists."""
        meta = _metadata(self.output_path(shard_id))
        if meta is None or meta.get(_META_CONFIG) != signature_file_fingerprint(self.config).encode() or \
                meta.get(MADE_FROM, b"").decode() != made_from:
            return False
        self.stats["shards_skipped_complete"] += 1
        self.last_shard_stats = collections.Counter(json.loads(meta.get(_META_STATS, b"{}")))
        return True

    def signed(self, shard_id: str, docs: Iterable[Document], made_from: str = "") -> Iterator[Document]:
        """``docs`` handed on one by one as they pass, each signed on the way (a stage in a
        stream: the shard is never held). The file is written in batches and put in place
        when the last document has passed; a failing input, a consumer that stops early or
        a kill leaves no file (and no partial temporary file) behind."""
        out = self.output_path(shard_id)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp_path(out)
        shard_stats: collections.Counter[str] = collections.Counter()
        digest = hashlib.blake2b(digest_size=16)
        rows: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        try:
            with pq.ParquetWriter(tmp, self.schema, compression="zstd") as writer:
                for doc in docs:
                    self._sign(doc, rows, shard_stats)
                    if len(rows["doc_id"]) >= self.batch_size:
                        self._flush(writer, rows, digest)
                    yield doc
                self._flush(writer, rows, digest)
                writer.add_key_value_metadata({
                    _META_CONFIG: signature_file_fingerprint(self.config).encode(),
                    _META_DIGEST: digest.hexdigest().encode(),
                    _META_STATS: json.dumps(dict(sorted(shard_stats.items()))).encode(),
                    MADE_FROM: made_from.encode(),
                })
        except BaseException:  # GeneratorExit included: nothing was renamed into place
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(out)
        self.stats.update(shard_stats)
        self.last_shard_stats = shard_stats
        self.stats["shards_done"] += 1
        log.info("dedup signatures %s: %s", shard_id, dict(shard_stats))

    def _sign(self, doc: Document, rows: dict[str, list[Any]], shard_stats: collections.Counter[str]) -> None:
        shard_stats["docs"] += 1
        if doc.drop_reason is not None and not self.include_dropped:
            shard_stats["skipped_dropped"] += 1
        elif not self._add(doc, rows, shard_stats):
            shard_stats["skipped_no_words"] += 1
        else:
            shard_stats["signed"] += 1

    def _add(self, doc: Document, rows: dict[str, list[Any]], stats: collections.Counter[str]) -> bool:
        text = doc.text or ""
        norm = normalise(text)
        tokens = words(norm)
        if len(tokens) > self.config.max_words:
            stats["truncated_words"] += 1
        sig = signature_of_words(tokens, self.config)
        if sig is None:
            return False
        exact = exact_digest(norm)
        rows["doc_id"].append(doc.id)
        rows["lang"].append(doc.lang or UNDETERMINED_LANG)
        rows["exact_hash"].append(exact.hex())
        rows["exact_key"].append(int.from_bytes(exact[:8], "little"))
        rows["length"].append(len(text))
        # Epoch milliseconds: pyarrow's conversion of aware datetimes imports pandas (0.3 s per process).
        rows["fetch_time"].append(None if doc.fetch_time is None else _epoch_ms(doc.fetch_time))
        for i, value in enumerate(bands(sig, self.config)):
            rows[f"band_{i}"].append(value)
        rows["minhash"].append(minhash_column(sig))
        return True

    def _flush(self, writer: pq.ParquetWriter, rows: dict[str, list[Any]], digest: Any) -> None:
        if not rows["doc_id"]:
            return
        columns: dict[str, Any] = dict(rows)
        columns["fetch_time"] = pa.array(rows["fetch_time"], pa.int64()).cast(_UTC_MS)
        table = pa.Table.from_pydict(columns, schema=self.schema)
        # The digest identifies the file's content for BucketStep's plan, so a
        # shard re-signed with other documents invalidates downstream files.
        digest.update("\0".join(rows["doc_id"]).encode("utf-8", "surrogatepass"))
        digest.update("\0".join(rows["lang"]).encode("utf-8", "surrogatepass"))
        for name in ["exact_key"] + [f"band_{i}" for i in range(self.config.num_bands)]:
            digest.update(np.asarray(rows[name], dtype="<u8").tobytes())
        digest.update(b"".join(rows["minhash"]))
        writer.write_table(table)
        for column in rows.values():
            column.clear()


# --------------------------------------------------------------------------- buckets


@dataclass(frozen=True)
class ShardPlan:
    """One signature file in a :class:`BucketPlan`: its documents are ``offset .. offset+rows-1``."""

    shard_id: str
    rows: int
    offset: int
    digest: str


@dataclass(frozen=True)
class BucketPlan:
    """The signature files a bucketing run covers, in global document order."""

    config: str  # MinhashConfig fingerprint shared by all signature files
    num_bands: int
    num_partitions: int
    shards: tuple[ShardPlan, ...]

    @property
    def fingerprint(self) -> str:
        """Digest of the whole plan; stamped on every bucket, edge and cluster file."""
        return fingerprint("bucket plan", self)

    @property
    def num_docs(self) -> int:
        return sum(s.rows for s in self.shards)

    def to_json(self) -> str:
        return json.dumps({**dataclasses.asdict(self), "fingerprint": self.fingerprint}, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "BucketPlan":
        raw = json.loads(text)
        raw.pop("fingerprint", None)
        raw["shards"] = tuple(ShardPlan(**s) for s in raw["shards"])
        return cls(**raw)


class BucketStep:
    """Band buckets -> candidate edges, per language, in bounded memory.

    Map (:meth:`map_shard`, one per signature file): every document contributes
    one entry (lang, band, key, doc) per band plus one for its exact hash (band
    index ``num_bands``); entries go to partition ``partition_of(key, band)``
    and are written to ``buckets/map/<shard>.parquet`` as one row group per
    partition. Reduce (:meth:`reduce_partition`, one per partition): read that
    partition's row group from every map file, group by (lang, band, key), and
    connect each bucket's members to its smallest document (a star, not all
    pairs) into ``buckets/edges/part-XXXXX.parquet`` (u < v, global doc numbers).
    """

    def __init__(self, dedup_dir: Path, num_partitions: int = 64) -> None:
        if not 1 <= num_partitions <= 99_999:
            raise ValueError(f"num_partitions must be in 1..99999, got {num_partitions}")
        self.dedup_dir = Path(dedup_dir)
        self.num_partitions = num_partitions
        self.stats: collections.Counter[str] = collections.Counter()

    @property
    def signatures_dir(self) -> Path:
        return self.dedup_dir / "signatures"

    @property
    def buckets_dir(self) -> Path:
        return self.dedup_dir / "buckets"

    def map_path(self, shard_id: str) -> Path:
        return self.buckets_dir / "map" / f"{shard_id}.parquet"

    def edge_path(self, partition: int) -> Path:
        return self.buckets_dir / "edges" / f"part-{partition:05d}.parquet"

    def plan(self) -> BucketPlan:
        """Number all signed documents and record the plan in ``buckets/plan.json``.

        When the plan differs from the recorded one (a shard added, re-signed or
        removed, another partition count), the bucket and edge files of the old
        plan are deleted: they number documents differently.
        """
        files = sorted(self.signatures_dir.glob("*.parquet"))
        if not files:
            raise FileNotFoundError(f"no signature files in {self.signatures_dir}: run SignatureStep first")
        shards, configs, offset, num_bands = [], set(), 0, None
        for path in files:
            meta = pq.ParquetFile(path).metadata
            kv = meta.metadata or {}
            if _META_CONFIG not in kv or _META_DIGEST not in kv:
                raise ValueError(f"{path} is not a dedup signature file (no {_META_CONFIG.decode()} metadata)")
            configs.add(kv[_META_CONFIG].decode())
            bands_here = sum(1 for name in meta.schema.names if name.startswith("band_"))
            if num_bands is not None and bands_here != num_bands:
                raise ValueError(f"{path} has {bands_here} bands, other signature files {num_bands}")
            num_bands = bands_here
            shards.append(ShardPlan(path.stem, meta.num_rows, offset, kv[_META_DIGEST].decode()))
            offset += meta.num_rows
        if len(configs) > 1:
            raise ValueError(f"signature files in {self.signatures_dir} were made with different MinhashConfigs "
                             f"{sorted(configs)}; re-sign the shards with one config")
        assert num_bands is not None
        plan = BucketPlan(configs.pop(), num_bands, self.num_partitions, tuple(shards))
        plan_file = self.buckets_dir / "plan.json"
        if plan_file.is_file():
            old = BucketPlan.from_json(plan_file.read_text())
            if old == plan:
                return plan
            log.info("dedup buckets: plan changed (%d -> %d shards); rebuilding buckets", len(old.shards), len(shards))
            for sub in ("map", "edges"):
                shutil.rmtree(self.buckets_dir / sub, ignore_errors=True)
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp_path(plan_file)
        tmp.write_text(plan.to_json())
        tmp.replace(plan_file)
        return plan

    def run(self) -> list[Path]:
        """Plan, map every shard, reduce every partition; returns the edge files."""
        plan = self.plan()
        for shard in plan.shards:
            self.map_shard(plan, shard)
        return [self.reduce_partition(plan, k) for k in range(plan.num_partitions)]

    def map_shard(self, plan: BucketPlan, shard: ShardPlan) -> Path:
        """Scatter one signature file's band entries into per-partition row groups."""
        out = self.map_path(shard.shard_id)
        meta = _metadata(out)
        if meta is not None and meta.get(_META_PLAN) == plan.fingerprint.encode():
            self.stats["map_skipped_complete"] += 1
            return out
        cols = ["lang", "exact_key"] + [f"band_{i}" for i in range(plan.num_bands)]
        table = pq.read_table(self.signatures_dir / f"{shard.shard_id}.parquet", columns=cols)
        if table.num_rows != shard.rows:
            raise ValueError(f"signature file of {shard.shard_id} changed under the plan; rerun BucketStep")
        n = table.num_rows
        doc = np.arange(shard.offset, shard.offset + n, dtype=np.uint64)
        lang_codes = pc.dictionary_encode(table.column("lang").combine_chunks())
        lang_idx = lang_codes.indices.to_numpy(zero_copy_only=False).astype(np.int32)
        keys, parts, band_ids = [], [], []
        for b in range(plan.num_bands + 1):
            name = f"band_{b}" if b < plan.num_bands else "exact_key"
            k = table.column(name).to_numpy()
            keys.append(k)
            parts.append(partition_of(k, b, plan.num_partitions))
            band_ids.append(np.full(n, b, dtype=np.uint8))
        del table
        key = np.concatenate(keys)
        part = np.concatenate(parts)
        band = np.concatenate(band_ids)
        del keys, parts, band_ids
        reps = plan.num_bands + 1
        order = np.argsort(part, kind="stable")
        key, part, band = key[order], part[order], band[order]
        docs = np.tile(doc, reps)[order]
        langs = np.tile(lang_idx, reps)[order]
        del order
        bounds = np.searchsorted(part, np.arange(plan.num_partitions + 1))
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp_path(out)
        row_groups: list[list[int]] = []
        with pq.ParquetWriter(tmp, _ENTRY_SCHEMA, compression="zstd") as writer:
            for p in range(plan.num_partitions):
                lo, hi = int(bounds[p]), int(bounds[p + 1])
                if lo == hi:
                    continue
                rg = pa.table({
                    "lang": lang_codes.dictionary.take(pa.array(langs[lo:hi])).cast(pa.string()),
                    "band": band[lo:hi], "key": key[lo:hi], "doc": docs[lo:hi],
                }, schema=_ENTRY_SCHEMA)
                writer.write_table(rg, row_group_size=hi - lo)
                row_groups.append([p, len(row_groups)])
            writer.add_key_value_metadata({_META_PLAN: plan.fingerprint.encode(),
                                           _META_ROW_GROUPS: json.dumps(row_groups).encode()})
        tmp.replace(out)
        self.stats["map_done"] += 1
        self.stats["entries"] += len(key)
        return out

    def reduce_partition(self, plan: BucketPlan, partition: int) -> Path:
        """Group one partition's entries by (lang, band, key) into star edges."""
        out = self.edge_path(partition)
        meta = _metadata(out)
        if meta is not None and meta.get(_META_PLAN) == plan.fingerprint.encode():
            self.stats["reduce_skipped_complete"] += 1
            return out
        pieces = []
        for shard in plan.shards:
            path = self.map_path(shard.shard_id)
            kv = _metadata(path)
            if kv is None or kv.get(_META_PLAN) != plan.fingerprint.encode():
                raise FileNotFoundError(f"bucket map file {path} is missing or stale: run map_shard first")
            row_groups = dict(json.loads(kv[_META_ROW_GROUPS]))
            if partition in row_groups:
                pieces.append(pq.ParquetFile(path).read_row_group(row_groups[partition]))
        u, v, stats = _star_edges(pa.concat_tables(pieces) if pieces else _ENTRY_SCHEMA.empty_table())
        del pieces
        edges = pa.table({"u": u, "v": v}, schema=EDGE_SCHEMA)
        _write_table(edges, out, {_META_PLAN: plan.fingerprint.encode(),
                                  _META_STATS: json.dumps(stats, sort_keys=True).encode()})
        self.stats["reduce_done"] += 1
        self.stats.update({f"reduce_{k}": v for k, v in stats.items()})
        return out


def _star_edges(entries: pa.Table) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Unique (first member, other member) pairs of every bucket with more than one member."""
    n = entries.num_rows
    if n == 0:
        empty = np.empty(0, dtype=np.uint64)
        return empty, empty, {"entries": 0, "buckets_shared": 0, "edges": 0}
    lang = pc.dictionary_encode(entries.column("lang").combine_chunks()).indices.to_numpy(zero_copy_only=False)
    band = entries.column("band").to_numpy()
    key = entries.column("key").to_numpy()
    doc = entries.column("doc").to_numpy()
    # doc is the last-resort key, so each bucket starts with its smallest
    # document: the star centre is the same whichever shard order made it.
    order = np.lexsort((doc, key, band, lang))
    lang, band, key, doc = lang[order], band[order], key[order], doc[order]
    del order
    new_bucket = np.empty(n, dtype=bool)
    new_bucket[0] = True
    new_bucket[1:] = (lang[1:] != lang[:-1]) | (band[1:] != band[:-1]) | (key[1:] != key[:-1])
    del lang, band, key
    starts = np.flatnonzero(new_bucket)
    centre = np.repeat(doc[starts], np.diff(np.append(starts, n)))
    member = ~new_bucket
    u, v = centre[member], doc[member]
    shared = int(np.count_nonzero(np.diff(np.append(starts, n)) > 1))
    del centre, member, new_bucket
    if len(u):
        # The same pair usually shares several bands: keep it once.
        order = np.lexsort((v, u))
        u, v = u[order], v[order]
        keep = np.ones(len(u), dtype=bool)
        keep[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        u, v = u[keep], v[keep]
    return u, v, {"entries": n, "buckets_shared": shared, "edges": len(u)}


# --------------------------------------------------------------------------- clusters


ClusterMethod = Literal["representative", "components"]
CLUSTER_METHODS: tuple[str, ...] = ("representative", "components")
#: Estimated Jaccard a document needs with its cluster's representative. Derived, not fitted
#: to any labelled set: near duplicates are 5-shingle Jaccard >= 0.8, distinct documents
#: < 0.6. Two members of a cluster are each within the threshold of the representative, and
#: the threshold is the loosest one at which two members each edited independently from the
#: representative down to it are still not distinct: keeping a share p of the
#: representative's shingles gives J = p/(2-p), and two such members share p^2, so
#: p^2/(2-p^2) = 0.6 -> p = sqrt(0.75) -> J = 0.764. (0.8 would guarantee it even for edits
#: that do not overlap, by the triangle inequality of Jaccard distance, but near duplicates
#: at 0.8-0.85 would then fall out of their clusters half the time.)
VERIFY_THRESHOLD = round(math.sqrt(0.75) / (2 - math.sqrt(0.75)), 3)
#: Rows of the bands that find a document's candidate representatives inside its component:
#: four 16-bit values make one 64-bit key, and 28 such bands of 112 rows find a representative
#: of Jaccard 0.7 with probability 1-(1-0.7^4)^28 > 0.9995 (the 14 x 8 LSH bands: 0.60).
_VERIFY_ROWS = 4
#: In a verification bucket of more documents, each is compared with the first this many
#: only (in keep order): bounds the pairs per document at bands x this, however many
#: documents a template-heavy component puts in one bucket.
_VERIFY_BUCKET_CAP = 16


class ClusterStep:
    """Candidate edges -> near-duplicate clusters -> ``clusters.parquet``.

    One row per document in a cluster of two or more (:data:`CLUSTER_SCHEMA`),
    sorted by ``doc_id``; documents not listed are singletons. ``cluster_id``
    is the smallest ``doc_id`` of the cluster. One document per cluster has
    ``keep = True``, chosen by ``keep``:

    * ``"first"``: the smallest ``doc_id``;
    * ``"longest"``: the longest original text (characters), ties by ``doc_id``;
    * ``"earliest"``: the earliest ``fetch_time`` (unknown times last), ties by ``doc_id``.

    ``method="representative"`` (the default): the connected components of the
    LSH candidate edges only say which documents *may* be related. Inside each
    component, every pair sharing one of 28 bands of 4 MinHash rows is verified
    (estimated Jaccard from the 16-bit values >= ``threshold``); then, as in pivot
    clustering, the document with the most verified near duplicates (ties: keep
    order) becomes a representative and takes every verified neighbour not yet
    taken, and so on until every document has a representative. A cluster is a
    representative and the documents it took: every member was verified close to
    the representative, so two distinct documents that are each close to a third
    in between no longer chain into one cluster, and (with the threshold derived
    at :data:`VERIFY_THRESHOLD`) no two members are typically distinct.

    The representative is *not* the kept document. Taking the kept document as the
    pivot (the smallest id, an arbitrary member) puts it at the edge of its group
    as often as in the middle, and its cluster boundary then cuts through pairs of
    near duplicates: on bench/eval_neardup.py's labelled pairs (8 languages, seed 1)
    kept-document pivots left recall at 0.88-0.89 for thresholds 0.7-0.75, the
    best-connected member gives 0.96 (precision 0.99 at 0.764). The kept document
    is then the keep policy's choice among the members, as before (so ``keep``
    means what it meant); it is within the threshold of the representative.

    ``method="components"``: the unverified connected components (FineWeb's
    recipe; kept to measure against).

    Both depend only on the documents, not on shard order or layout. Document
    ids must be unique: an id signed twice that lands in a candidate component
    raises ``ValueError`` (ids of singletons are not checked).
    """

    def __init__(self, dedup_dir: Path, keep: KeepPolicy = "first", *, edge_chunk: int | None = None,
                 method: ClusterMethod = "representative", threshold: float = VERIFY_THRESHOLD,
                 verify_batch: int = 1 << 17) -> None:
        if keep not in KEEP_POLICIES:
            raise ValueError(f"keep must be one of {KEEP_POLICIES}, got {keep!r}")
        if method not in CLUSTER_METHODS:
            raise ValueError(f"method must be one of {CLUSTER_METHODS}, got {method!r}")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if edge_chunk is not None and edge_chunk < 1:
            raise ValueError(f"edge_chunk must be >= 1, got {edge_chunk}")
        if verify_batch < 1:
            raise ValueError(f"verify_batch must be >= 1, got {verify_batch}")
        self.dedup_dir = Path(dedup_dir)
        self.keep = keep
        self.method = method
        self.threshold = threshold
        self.edge_chunk = edge_chunk
        self.verify_batch = verify_batch
        self.stats: collections.Counter[str] = collections.Counter()

    @property
    def output_path(self) -> Path:
        return self.dedup_dir / "clusters.parquet"

    def _settings(self) -> bytes:
        # verify_batch is left out: it changes memory, not the result.
        return json.dumps({"keep": self.keep, "method": self.method, "threshold": self.threshold,
                           "verify_rows": _VERIFY_ROWS, "bucket_cap": _VERIFY_BUCKET_CAP}, sort_keys=True).encode()

    def run(self) -> Path:
        """Cluster the edges of the current bucket plan; a matching complete file is kept."""
        bucket = BucketStep(self.dedup_dir)
        plan_file = bucket.buckets_dir / "plan.json"
        if not plan_file.is_file():
            raise FileNotFoundError(f"{plan_file} is missing: run BucketStep first")
        plan = BucketPlan.from_json(plan_file.read_text())
        fingerprint = plan.fingerprint.encode()
        meta = _metadata(self.output_path)
        if meta is not None and meta.get(_META_PLAN) == fingerprint and meta.get(_META_CLUSTERING) == self._settings():
            self.stats["skipped_complete"] += 1
            return self.output_path
        edge_files = [bucket.edge_path(k) for k in range(plan.num_partitions)]
        for path in edge_files:
            kv = _metadata(path)
            if kv is None or kv.get(_META_PLAN) != fingerprint:
                raise FileNotFoundError(f"edge file {path} is missing or stale: run BucketStep first")

        nodes = _edge_nodes(edge_files)
        # Node numbers fit int32 below 2^31 nodes: half the memory per edge.
        index = np.int32 if len(nodes) < 2**31 else np.int64
        parent = np.arange(len(nodes), dtype=index)
        # Each chunk costs a few O(M) compression passes, so chunks of ~M edges
        # keep the time O(edges) and the memory O(M).
        chunk = self.edge_chunk or max(1_000_000, len(nodes))
        for u, v in _edge_chunks(edge_files, nodes, index, chunk):
            _union(parent, u, v)
            self.stats["edges"] += len(u)
        _compress(parent)
        table = self._cluster_table(plan, nodes, parent)
        stats = {"candidates": len(nodes), "docs_in_clusters": table.num_rows,
                 "clusters": int(pc.sum(table.column("keep").cast(pa.int64())).as_py() or 0)}
        stats["dropped"] = stats["docs_in_clusters"] - stats["clusters"]
        self.stats.update(stats)
        log.info("dedup clusters: %s", stats)
        return _write_table(table, self.output_path, {
            _META_PLAN: fingerprint, _META_CLUSTERING: self._settings(), _META_KEEP: self.keep.encode(),
            _META_STATS: json.dumps(stats, sort_keys=True).encode()})

    def _cluster_table(self, plan: BucketPlan, nodes: np.ndarray, comp: np.ndarray) -> pa.Table:
        if not len(nodes):
            return CLUSTER_SCHEMA.empty_table()
        ids, length, fetch = _node_attributes(self.dedup_dir / "signatures", plan, nodes)
        order = pc.sort_indices(ids).to_numpy()
        sorted_ids = ids.take(pa.array(order))
        if len(order) > 1:
            same = pc.equal(sorted_ids.slice(1), sorted_ids.slice(0, len(order) - 1)).to_numpy(zero_copy_only=False)
            if same.any():
                dup = sorted_ids[int(np.flatnonzero(same)[0])].as_py()
                raise ValueError(f"doc id {dup!r} occurs in more than one signature row; ids must be unique")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        # The keep order over all nodes: a total order (doc ids are unique), so it is the
        # same whichever shard or partition a document came from.
        if self.keep == "first":
            by_keep = order
        elif self.keep == "longest":
            by_keep = np.lexsort((rank, -length))
        else:
            by_keep = np.lexsort((rank, fetch))
        del length, fetch
        priority = np.empty(len(order), dtype=np.int64)
        priority[by_keep] = np.arange(len(order))
        del by_keep
        if self.method == "components":
            group = comp.astype(np.int64)
        else:
            group = _representatives(self.dedup_dir / "signatures", plan, nodes, comp, priority, self._need(plan),
                                     self.verify_batch, self.stats)
        # The kept document is the keep policy's choice among the cluster's members (for
        # "representative" every member was verified close to the cluster's representative).
        by_group = np.lexsort((priority, group))
        starts = np.flatnonzero(np.r_[True, group[by_group][1:] != group[by_group][:-1]])
        kept = np.zeros(len(group), dtype=bool)
        kept[by_group[starts]] = True
        del by_group, starts
        del comp, priority
        # Size and smallest doc id per cluster; clusters of one are not listed.
        by_id = np.lexsort((rank, group))
        starts = np.flatnonzero(np.r_[True, group[by_id][1:] != group[by_id][:-1]])
        sizes = np.diff(np.append(starts, len(by_id)))
        first_rank = np.empty(len(group), dtype=np.int64)
        size = np.empty(len(group), dtype=np.int64)
        first_rank[by_id] = np.repeat(rank[by_id[starts]], sizes)
        size[by_id] = np.repeat(sizes, sizes)
        del by_id, group
        listed = size[order] >= 2
        rows = order[listed]
        return pa.table({
            "doc_id": sorted_ids.filter(pa.array(listed)),
            "cluster_id": sorted_ids.take(pa.array(first_rank[rows])),
            "cluster_size": size[rows].astype(np.int32),
            "keep": kept[rows],
        }, schema=CLUSTER_SCHEMA)

    def _need(self, plan: BucketPlan) -> int:
        """Equal MinHash values out of ``num_perm`` that an estimate >= threshold needs."""
        num_perm = _num_perm(self.dedup_dir / "signatures", plan)
        return max(1, math.ceil(self.threshold * num_perm - 1e-9))


def _num_perm(signatures_dir: Path, plan: BucketPlan) -> int:
    if not plan.shards:
        return 0
    path = signatures_dir / f"{plan.shards[0].shard_id}.parquet"
    schema = pq.read_schema(path)
    if "minhash" not in schema.names:
        raise ValueError(f"{path} has no minhash column (signed before clusters were verified); "
                         "re-sign the shards (owd process --force)")
    width: int = schema.field("minhash").type.byte_width
    return width // 2


def _representatives(signatures_dir: Path, plan: BucketPlan, nodes: np.ndarray, comp: np.ndarray,
                     priority: np.ndarray, need: int, batch: int, stats: collections.Counter[str]) -> np.ndarray:
    """The representative (a node number) of every node; see :class:`ClusterStep`.

    Components are taken whole, in batches of about ``batch`` nodes, and only a
    batch's MinHash values (2·num_perm bytes per node) and verified pairs are in
    memory: the rest is the O(M) the union-find already holds.
    """
    n = len(nodes)
    order = np.lexsort((priority, comp))  # by component, each in keep order
    sorted_comp = comp[order]
    starts = np.flatnonzero(np.r_[True, sorted_comp[1:] != sorted_comp[:-1]])
    ends = np.append(starts[1:], n)
    rep = np.arange(n, dtype=np.int64)
    first = 0
    while first < len(starts):
        last = int(np.searchsorted(ends, starts[first] + batch, side="right"))
        last = max(last, first + 1)  # a component larger than the batch goes alone
        lo, hi = int(starts[first]), int(ends[last - 1])
        members = order[lo:hi]
        sigs = _node_minhash(signatures_dir, plan, nodes, members)
        local_comp = np.repeat(np.arange(last - first), ends[first:last] - starts[first:last])
        local = _pivot(sigs, local_comp, need, stats)
        rep[members] = members[local]
        stats["verify_batches"] += 1
        first = last
    return rep


def _close_pairs(sigs: np.ndarray, comp: np.ndarray, need: int, stats: collections.Counter[str]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows (u < v) of one component whose estimated Jaccard reaches ``need``/num_perm.

    Candidates share one of the 4-row verification bands; in a bucket of more than
    :data:`_VERIFY_BUCKET_CAP` rows, each row is paired with the first ones only (rows
    are in keep order, so which ones does not depend on the layout).
    """
    n, num_perm = sigs.shape
    num_bands = num_perm // _VERIFY_ROWS
    if num_bands == 0:  # fewer rows than one band: every pair of a component is a candidate
        u, v = np.triu_indices(n, 1)
        same = comp[u] == comp[v]
        cand_u, cand_v = u[same], v[same]
        bands_keys: list[np.ndarray] = []
    else:
        # Four 16-bit values are one 64-bit key; a view, not a copy, when the rows divide evenly.
        bands_keys = list(np.ascontiguousarray(sigs[:, :num_bands * _VERIFY_ROWS]).view(np.uint64).T)
    rows = np.arange(n, dtype=np.int64)
    found = np.empty(0, dtype=np.int64)  # verified pairs as u * n + v
    for keys in bands_keys:
        by = np.lexsort((rows, keys, comp))
        k, c = keys[by], comp[by]
        new = np.r_[True, (k[1:] != k[:-1]) | (c[1:] != c[:-1])]
        start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
        pos = np.arange(n) - start
        us, vs = [], []
        for j in range(_VERIFY_BUCKET_CAP):
            has = pos > j
            if not has.any():
                break
            us.append(by[start[has] + j])
            vs.append(by[has])
        if not us:
            continue
        cand_u, cand_v = np.concatenate(us), np.concatenate(vs)
        found = np.union1d(found, _verified(sigs, cand_u, cand_v, need, n, stats))
    if not bands_keys and len(cand_u):
        found = _verified(sigs, cand_u, cand_v, need, n, stats)
    return found // n, found % n


def _verified(sigs: np.ndarray, u: np.ndarray, v: np.ndarray, need: int, n: int,
              stats: collections.Counter[str]) -> np.ndarray:
    out = []
    step = 1 << 14  # pairs compared at a time: two 16k x 224-byte gathers (7 MB), not the whole batch
    for lo in range(0, len(u), step):
        a, b = u[lo:lo + step], v[lo:lo + step]
        ok = (sigs[a] == sigs[b]).sum(axis=1) >= need
        out.append(np.minimum(a, b)[ok] * n + np.maximum(a, b)[ok])
    stats["verify_compared"] += len(u)
    return np.unique(np.concatenate(out)) if out else np.empty(0, dtype=np.int64)


def _pivot(sigs: np.ndarray, comp: np.ndarray, need: int, stats: collections.Counter[str]) -> np.ndarray:
    """Representative (a row) of every row of ``sigs``; rows grouped by ``comp``, each group
    in keep order. Pivot clustering over the verified pairs, most connected row first."""
    n = len(sigs)
    u, v = _close_pairs(sigs, comp, need, stats)
    stats["verified_pairs"] += len(u)
    degree = np.bincount(u, minlength=n) + np.bincount(v, minlength=n)
    # Neighbour lists (both directions), as one sorted array and offsets.
    ends_a, ends_b = np.concatenate([u, v]), np.concatenate([v, u])
    by = np.argsort(ends_a, kind="stable")
    neighbours = ends_b[by]
    offsets = np.r_[0, np.cumsum(np.bincount(ends_a, minlength=n))]
    del ends_a, ends_b, by
    # The most connected row of a component goes first (ties: keep order): the
    # representative then sits in the middle of its near duplicates rather than at
    # their edge, so fewer pairs of near duplicates fall on two sides of a cluster edge.
    visit = np.lexsort((np.arange(n), -degree, comp))
    rep = np.full(n, -1, dtype=np.int64)
    for r in visit.tolist():
        if rep[r] >= 0:
            continue
        rep[r] = r
        near = neighbours[offsets[r]:offsets[r + 1]]
        if len(near):
            near = near[rep[near] < 0]
            rep[near] = r
    return rep


def _node_minhash(signatures_dir: Path, plan: BucketPlan, nodes: np.ndarray, members: np.ndarray) -> np.ndarray:
    """The 16-bit MinHash values of the nodes ``members`` (node numbers), one row each, in that order."""
    by_node = np.argsort(members, kind="stable")
    wanted = nodes[members[by_node]]  # global doc numbers, ascending
    out: np.ndarray | None = None
    for shard in plan.shards:
        lo, hi = np.searchsorted(wanted, [shard.offset, shard.offset + shard.rows])
        if lo == hi:
            continue
        path = signatures_dir / f"{shard.shard_id}.parquet"
        if "minhash" not in pq.read_schema(path).names:
            raise ValueError(f"{path} has no minhash column (signed before clusters were verified); "
                             "re-sign the shards (owd process --force)")
        column = pq.read_table(path, columns=["minhash"]).column("minhash").combine_chunks()
        if len(column) != shard.rows:
            raise ValueError(f"signature file of {shard.shard_id} changed under the plan; rerun BucketStep")
        width = column.type.byte_width
        values = np.frombuffer(column.buffers()[1], dtype="<u2", count=len(column) * width // 2,
                               offset=column.offset * width).reshape(len(column), width // 2)
        if out is None:
            out = np.empty((len(members), width // 2), dtype=np.uint16)
        # Written in place: no second copy of the batch's values.
        out[by_node[lo:hi]] = values[(wanted[lo:hi] - np.uint64(shard.offset)).astype(np.int64)]
        del column, values
    if out is None:
        raise ValueError("no signature rows for the clustered documents; rerun BucketStep")
    return out


def _edge_nodes(edge_files: list[Path]) -> np.ndarray:
    """Sorted unique documents of all edge files, merged a file at a time."""
    merged = np.empty(0, dtype=np.uint64)
    pending: list[np.ndarray] = []
    pending_size = 0
    for path in edge_files:
        t = pq.read_table(path)
        here = np.unique(np.concatenate([t.column("u").to_numpy(), t.column("v").to_numpy()]))
        pending.append(here)
        pending_size += len(here)
        # Merge when the pending arrays outgrow the merged one: memory stays
        # within ~2x the node count and merging costs O(M log files).
        if pending_size > len(merged):
            merged = np.unique(np.concatenate([merged, *pending]))
            pending, pending_size = [], 0
    if pending:
        merged = np.unique(np.concatenate([merged, *pending]))
    return merged


def _edge_chunks(edge_files: list[Path], nodes: np.ndarray, index: type, chunk: int
                 ) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    """Edges as node numbers (positions in ``nodes``), about ``chunk`` at a time."""
    us: list[np.ndarray] = []
    vs: list[np.ndarray] = []
    size = 0
    for path in edge_files:
        t = pq.read_table(path)
        us.append(np.searchsorted(nodes, t.column("u").to_numpy()).astype(index))
        vs.append(np.searchsorted(nodes, t.column("v").to_numpy()).astype(index))
        size += t.num_rows
        del t
        if size >= chunk:
            yield np.concatenate(us), np.concatenate(vs)
            us, vs, size = [], [], 0
    if size:
        yield np.concatenate(us), np.concatenate(vs)


def _compress(parent: np.ndarray) -> None:
    """Pointer jumping until every node points at its root (halves depths per pass)."""
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return
        parent[:] = grand


def _union(parent: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
    """Merge the components of every (u, v): vectorised union-find, roots hook to the smaller root.

    Parents only ever point to smaller indices, so no cycle can form; each
    round hooks every unsatisfied edge's larger root, and edges whose ends
    already share a root are dropped, so rounds shrink quickly.
    """
    while len(u):
        _compress(parent)
        ru, rv = parent[u], parent[v]
        open_ = ru != rv
        u, v, ru, rv = u[open_], v[open_], ru[open_], rv[open_]
        if not len(u):
            return
        np.minimum.at(parent, np.maximum(ru, rv), np.minimum(ru, rv))


def _node_attributes(signatures_dir: Path, plan: BucketPlan, nodes: np.ndarray
                     ) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """doc_id, text length and fetch time (ms, unknown = max) of the given global documents."""
    ids: list[pa.Array] = []
    lengths: list[np.ndarray] = []
    fetches: list[np.ndarray] = []
    for shard in plan.shards:
        lo, hi = np.searchsorted(nodes, [shard.offset, shard.offset + shard.rows])
        if lo == hi:
            continue
        local = pa.array((nodes[lo:hi] - np.uint64(shard.offset)).astype(np.int64))
        t = pq.read_table(signatures_dir / f"{shard.shard_id}.parquet", columns=["doc_id", "length", "fetch_time"])
        if t.num_rows != shard.rows:
            raise ValueError(f"signature file of {shard.shard_id} changed under the plan; rerun BucketStep")
        t = t.take(local)
        ids.append(t.column("doc_id").combine_chunks())
        lengths.append(t.column("length").to_numpy())
        ft = t.column("fetch_time").cast(pa.int64()).fill_null(np.iinfo(np.int64).max)
        fetches.append(ft.to_numpy())
    if not ids:
        return pa.array([], pa.string()), np.empty(0, np.int64), np.empty(0, np.int64)
    return pa.concat_arrays(ids), np.concatenate(lengths), np.concatenate(fetches)


# --------------------------------------------------------------------------- apply


def rows_of_docs(table: pq.ParquetFile, doc_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The rows of a Parquet file keyed by ``doc_id`` that belong to ``doc_ids``, by id.
    Streamed in batches, so a shard only ever holds its own rows of a file that lists
    documents of the whole campaign."""
    wanted = pa.array(doc_ids, pa.string())
    found: dict[str, dict[str, Any]] = {}
    for batch in table.iter_batches(batch_size=_APPLY_BATCH):
        hits = batch.filter(pc.is_in(batch.column("doc_id"), value_set=wanted))
        found.update((row["doc_id"], row) for row in hits.to_pylist())
    return found


def cluster_rows(clusters_path: Path, doc_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The rows of the clusters file for ``doc_ids`` (the clustered ones among them), by id."""
    clusters = pq.ParquetFile(clusters_path)
    if not clusters.schema_arrow.remove_metadata().equals(CLUSTER_SCHEMA):
        raise ValueError(f"{clusters_path} is not a clusters file: schema {clusters.schema_arrow}")
    return rows_of_docs(clusters, doc_ids)


def apply_clusters(docs: Iterable[Document], clusters: Path | Mapping[str, dict[str, Any]]) -> list[Document]:
    """Copies of ``docs`` with ``dup_cluster_id``/``dup_cluster_size`` set, non-kept ones dropped.

    ``clusters``: the clusters file, or its rows for these documents (:func:`cluster_rows`,
    read once for a shard that is applied in batches). A document not in it is a
    singleton (its own id, size 1). A clustered document that is not its cluster's kept
    one gets ``drop_reason = "duplicate"`` unless it already has a drop reason.
    """
    docs = list(docs)
    found = clusters if isinstance(clusters, Mapping) else cluster_rows(clusters, [d.id for d in docs])
    out = []
    for doc in docs:
        row = found.get(doc.id)
        if row is None:
            out.append(dataclasses.replace(doc, dup_cluster_id=doc.id, dup_cluster_size=1))
            continue
        drop = doc.drop_reason
        if drop is None and not row["keep"]:
            drop = DUPLICATE_REASON
        out.append(dataclasses.replace(doc, dup_cluster_id=row["cluster_id"],
                                       dup_cluster_size=row["cluster_size"], drop_reason=drop))
    return out
