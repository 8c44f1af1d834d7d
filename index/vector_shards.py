"""The embedding stage: one vectors file beside each docs shard.

``<campaign>/vectors/<shard>.parquet`` holds, for every kept document of
``<campaign>/docs/<shard>.parquet`` (documents with a ``drop_reason`` are never indexed,
so never embedded): ``id``, ``passage_sha1`` (the SHA-1 of what was embedded, see
:func:`owd.index.embed.passage_text`) and ``vector`` (384 float32). The file's schema
metadata records what it was made from (:func:`owd.core.done.parquet_made_from`): the
docs shard's SHA-256, the model and the passage length. So:

* resumable: a shard whose vectors file matches its docs shard is skipped; a killed run
  redoes at most the shard it was in (files are written under a temporary name and
  renamed);
* incremental: when a docs shard changes (dedup marks a new duplicate, a revisit adds a
  page), only documents whose passage changed are embedded again; the rest are copied
  from the old vectors file;
* deterministic: the engine gives the same vector for the same text, and rows follow
  the docs shard's order;
* parallel within a shard: the campaign step (owd.campaign_steps.EmbedDocuments) plans a
  shard here, sends its passages to the workers in batches of :data:`BATCH`, and writes the
  file when every batch is back (a campaign of one large shard still uses every core).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from owd.core.done import file_sha256, fingerprint, parquet_made_from, stamp_table
from owd.core.schema import SchemaError, iter_parquet
from owd.index.embed import DIM, MODEL, PASSAGE_CHARS, Embedder, passage_text

__all__ = ["VECTORS_SCHEMA", "BATCH", "ShardPlan", "plan_shard", "write_shard", "embed_shard", "read_vectors", "vectors_path", "iter_vectors"]

log = logging.getLogger(__name__)

VECTORS_SCHEMA = pa.schema([
    pa.field("id", pa.string(), nullable=False),
    pa.field("passage_sha1", pa.string(), nullable=False),
    pa.field("vector", pa.list_(pa.float32(), DIM), nullable=False),
])
BATCH = 32  # passages per engine call: progress is reported between batches


def vectors_path(docs_shard: Path) -> Path:
    """Where the vectors of a docs shard live: ``<campaign>/vectors/<shard>.parquet``."""
    return docs_shard.parent.parent / "vectors" / docs_shard.name


_DOCS_SHA256 = b"owd.docs_sha256"


def _made_from(docs_sha256: str, chars: int) -> str:
    return fingerprint("vectors", docs_sha256, MODEL, chars)


def read_vectors(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """(ids, passage SHA-1s, n x DIM float32 vectors) of a vectors file."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise SchemaError(f"{path}: not a readable vectors file: {exc}") from None
    if not table.schema.equals(VECTORS_SCHEMA, check_metadata=False):
        raise SchemaError(f"{path}: not a vectors file (schema {table.schema.names})")
    flat = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return (table.column("id").to_pylist(), table.column("passage_sha1").to_pylist(),
            np.asarray(flat, dtype=np.float32).reshape(table.num_rows, DIM))


def iter_vectors(docs_shard: Path) -> dict[str, np.ndarray]:
    """The vectors of a docs shard by document id ({} when it has no vectors file, or one
    made from an older version of the shard: the index then holds its documents for
    lexical search only, until ``owd embed`` runs)."""
    path = vectors_path(docs_shard)
    if not path.exists():
        return {}
    try:
        made_for = (pq.read_schema(path).metadata or {}).get(_DOCS_SHA256, b"").decode()
    except (OSError, pa.ArrowInvalid) as exc:
        log.warning("%s: unreadable vectors file (%s)", path, exc)
        return {}
    if made_for != file_sha256(docs_shard):
        log.warning("%s was made from another version of %s: its documents are indexed without vectors "
                    "(run `owd embed` again)", path, docs_shard)
        return {}
    try:
        ids, _, vecs = read_vectors(path)
    except SchemaError as exc:
        log.warning("%s", exc)
        return {}
    return dict(zip(ids, vecs))


def _passages(docs_shard: Path, chars: int) -> Iterator[tuple[str, str]]:
    for batch in iter_parquet(docs_shard, batch_size=500):
        for doc in batch:
            if not doc.drop_reason:
                yield doc.id, passage_text(doc.title, doc.text, doc.description, chars)


@dataclass
class ShardPlan:
    """One docs shard's embedding work: its rows, the vectors known already, what is left."""

    docs_shard: Path
    made_from: str
    docs_sha256: str
    ids: list[str]
    texts: list[str]
    shas: list[str]
    vectors: np.ndarray
    todo: list[int]  # rows whose passage must be embedded


def plan_shard(docs_shard: Path, *, chars: int = PASSAGE_CHARS, force: bool = False) -> ShardPlan | None:
    """What embedding ``docs_shard`` takes, or None when its vectors file is current."""
    out = vectors_path(docs_shard)
    docs_sha256 = file_sha256(docs_shard)
    made_from = _made_from(docs_sha256, chars)
    if not force and out.exists() and parquet_made_from(out) == made_from:
        return None
    old: dict[tuple[str, str], np.ndarray] = {}
    if out.exists() and not force:
        try:
            ids, shas, vecs = read_vectors(out)
            old = {(i, s): v for i, s, v in zip(ids, shas, vecs)}
        except SchemaError as exc:
            log.warning("%s: embedding every document again", exc)
    rows = list(_passages(docs_shard, chars))
    shas = [hashlib.sha1(text.encode("utf-8")).hexdigest() for _, text in rows]
    vectors = np.zeros((len(rows), DIM), dtype=np.float32)
    todo = []
    for i, ((doc_id, _), sha) in enumerate(zip(rows, shas)):
        known = old.get((doc_id, sha))
        if known is not None:
            vectors[i] = known
        else:
            todo.append(i)
    return ShardPlan(docs_shard, made_from, docs_sha256, [r[0] for r in rows], [r[1] for r in rows], shas,
                     vectors, todo)


def write_shard(plan: ShardPlan) -> Counter[str]:
    """Write the vectors file of a plan whose ``todo`` rows are filled in."""
    out = vectors_path(plan.docs_shard)
    table = pa.table({
        "id": pa.array(plan.ids, pa.string()),
        "passage_sha1": pa.array(plan.shas, pa.string()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(plan.vectors.reshape(-1), pa.float32()), DIM),
    }, schema=VECTORS_SCHEMA)
    table = stamp_table(table, plan.made_from)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _DOCS_SHA256: plan.docs_sha256.encode()})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(out)
    return Counter({"embed/documents": len(plan.ids), "embed/embedded": len(plan.todo),
                    "embed/reused": len(plan.ids) - len(plan.todo)})


def embed_shard(docs_shard: Path, embedder: Embedder, *, chars: int = PASSAGE_CHARS, force: bool = False,
                progress: Callable[[str], None] = lambda line: None) -> Counter[str]:
    """Embed the kept documents of one docs shard into its vectors file, in this process;
    counters ``embed/documents`` (in the file), ``embed/embedded`` (computed now),
    ``embed/reused`` (copied from the previous file), ``embed/shards_skipped`` (already current)."""
    plan = plan_shard(docs_shard, chars=chars, force=force)
    if plan is None:
        return Counter({"embed/shards_skipped": 1})
    started = time.monotonic()
    for start in range(0, len(plan.todo), BATCH):
        part = plan.todo[start:start + BATCH]
        plan.vectors[part] = embedder.passages([plan.texts[i] for i in part])
        done = start + len(part)
        rate = done / max(time.monotonic() - started, 1e-9)
        progress(f"embed: {docs_shard.name}: {done}/{len(plan.todo)} passages ({rate:.1f}/s)")
    return write_shard(plan)
