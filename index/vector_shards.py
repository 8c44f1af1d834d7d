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
  the docs shard's order.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from owd.core.done import file_sha256, fingerprint, parquet_made_from, stamp_table
from owd.core.schema import SchemaError, iter_parquet
from owd.index.embed import DIM, MODEL, PASSAGE_CHARS, Embedder, passage_text

__all__ = ["VECTORS_SCHEMA", "BATCH", "embed_shard", "read_vectors", "vectors_path", "iter_vectors"]

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


def embed_shard(docs_shard: Path, embedder: Embedder, *, chars: int = PASSAGE_CHARS, force: bool = False,
                progress: Callable[[str], None] = lambda line: None) -> Counter[str]:
    """Embed the kept documents of one docs shard into its vectors file; counters
    ``embed/documents`` (in the file), ``embed/embedded`` (computed now), ``embed/reused``
    (copied from the previous file), ``embed/shards_skipped`` (already current)."""
    out = vectors_path(docs_shard)
    docs_sha256 = file_sha256(docs_shard)
    made_from = _made_from(docs_sha256, chars)
    if not force and out.exists() and parquet_made_from(out) == made_from:
        return Counter({"embed/shards_skipped": 1})
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
    started = time.monotonic()
    for start in range(0, len(todo), BATCH):
        part = todo[start:start + BATCH]
        vectors[part] = embedder.passages([rows[i][1] for i in part])
        done = start + len(part)
        rate = done / max(time.monotonic() - started, 1e-9)
        progress(f"embed: {docs_shard.name}: {done}/{len(todo)} passages ({rate:.1f}/s)")
    table = pa.table({
        "id": pa.array([r[0] for r in rows], pa.string()),
        "passage_sha1": pa.array(shas, pa.string()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), DIM),
    }, schema=VECTORS_SCHEMA)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    table = stamp_table(table, made_from)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _DOCS_SHA256: docs_sha256.encode()})
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(out)
    return Counter({"embed/documents": len(rows), "embed/embedded": len(todo), "embed/reused": len(rows) - len(todo)})
