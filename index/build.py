"""Index a campaign's document shards, incrementally.

``index_campaign`` reads every ``<campaign>/docs/*.parquet`` shard and adds its
documents to a backend. A small JSON state file remembers, per shard, its size,
modification time and SHA-256; a rerun skips unchanged shards and re-indexes
changed ones (``owd process`` rewrites every shard after dedup, which marks
duplicates with a ``drop_reason``: re-adding removes them from the index, since
``add`` is idempotent by id and a dropped document replaces its indexed version
by nothing). A shard is recorded only after its documents are committed, so a
killed run resumes where it stopped.

A shard's vectors (``<campaign>/vectors/<shard>.parquet``, :mod:`owd.index.vector_shards`)
are indexed with its documents; the state records which vectors file was used, so
embedding a campaign after it was indexed re-indexes its shards once.

Not handled incrementally: a shard that disappears (its documents stay in the
index; it is counted as ``shards_missing``) and a document that disappears from a
changed shard. ``rebuild=True`` indexes everything again inside
:meth:`SearchBackend.rebuilding`: on OpenSearch into a new index that replaces the old
one atomically when every shard is in (the state is then written once, at the end, since
a failed rebuild leaves the old index in place); on the embedded index after a clear.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from owd.index.base import SearchBackend
from owd.core.done import file_sha256, parquet_made_from
from owd.core.schema import Document, SchemaError, read_parquet
from owd.index.vector_shards import iter_vectors, vectors_path

__all__ = ["IndexSummary", "index_campaign", "index_shard", "ShardIndexer", "STATE_FORMAT"]

log = logging.getLogger(__name__)

STATE_FORMAT = 1

#: runs index_shard over shards (anywhere) and yields its results as they complete
ShardIndexer = Callable[[list[Path]], Iterable[tuple[Path, int, "int | str", float]]]


@dataclass
class IndexSummary:
    shards_indexed: int = 0
    shards_skipped: int = 0  # unchanged since the last run
    shards_failed: int = 0  # unreadable or not the document schema: logged, retried next run
    shards_missing: int = 0  # in the state but no longer in docs_dir
    documents_indexed: int = 0
    documents_dropped: int = 0  # carry a drop_reason: not indexed (removed if they were)
    total: int = 0  # documents in the index afterwards
    seconds: float = 0.0




def _load_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"format": STATE_FORMAT, "shards": {}}
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        # Losing the state costs one full re-index, which is idempotent: safe.
        log.warning("index state %s is unreadable (%s); indexing every shard again", path, exc)
        return {"format": STATE_FORMAT, "shards": {}}
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT or not isinstance(state.get("shards"), dict):
        log.warning("index state %s has an unknown format; indexing every shard again", path)
        return {"format": STATE_FORMAT, "shards": {}}
    return {"format": STATE_FORMAT, "annotate_key": str(state.get("annotate_key", "")),
            "shards": {k: v for k, v in state["shards"].items() if isinstance(v, dict)}}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def index_campaign(docs_dir: Path, backend: SearchBackend, state_path: Path, *, rebuild: bool = False,
                   progress: Callable[[str], None] = lambda line: log.info(line),
                   annotate: Callable[[Document], Document] | None = None, annotate_key: str = "",
                   shard_indexer: ShardIndexer | None = None) -> IndexSummary:
    """Add every new or changed docs shard in ``docs_dir`` to ``backend``.

    ``annotate`` rewrites each document before it is indexed (the campaign's pool
    membership, see pools.rules.pool_membership); ``annotate_key`` names its
    version, and a different key than the last run's re-indexes every shard.

    ``shard_indexer`` indexes a list of shards elsewhere and yields each result of
    :func:`index_shard` as it completes (``owd run`` runs them as Ray tasks against
    OpenSearch); this function keeps the state. Not used with ``rebuild``: the
    rebuilt index is private to this backend object until its alias swap."""
    started = time.time()
    docs_dir, state_path = Path(docs_dir), Path(state_path)
    summary = IndexSummary()
    state: dict[str, Any]
    if not rebuild:
        state = _load_state(state_path)
        if state["shards"] and state.get("annotate_key", "") != annotate_key:
            progress("index: the pool rules changed since the last run: indexing every shard again")
            state["shards"] = {}
    if rebuild:
        state = {"format": STATE_FORMAT, "shards": {}}
        state["annotate_key"] = annotate_key
        with backend.rebuilding() as atomic:
            # atomic: the shards go to an index nobody reads yet; recording them before the
            # swap would claim shards that a failed rebuild threw away
            _index_shards(docs_dir, backend, state_path, state, summary, progress, annotate, None,
                          save=not atomic)
        _save_state(state_path, state)
    else:
        state["annotate_key"] = annotate_key
        if state["shards"] and backend.count() == 0 and any(bool(s.get("indexed")) for s in state["shards"].values()):
            # The index was deleted or replaced but the state survived: trust the index.
            log.warning("index is empty but %s lists indexed shards; indexing every shard again", state_path)
            state["shards"] = {}
        _index_shards(docs_dir, backend, state_path, state, summary, progress, annotate, shard_indexer, save=True)
    if not state_path.exists():
        _save_state(state_path, state)
    summary.total = backend.count()
    summary.seconds = time.time() - started
    return summary


def _index_shards(docs_dir: Path, backend: SearchBackend, state_path: Path, state: dict[str, Any],
                  summary: IndexSummary, progress: Callable[[str], None],
                  annotate: Callable[[Document], Document] | None, shard_indexer: ShardIndexer | None, *,
                  save: bool) -> None:
    shards = sorted(docs_dir.glob("*.parquet"))
    names = {p.name for p in shards}
    summary.shards_missing = sum(1 for name in state["shards"] if name not in names)
    todo: dict[Path, tuple[Any, str, str | None]] = {}  # shard -> (stat, sha256, vectors), in shard order
    for shard in shards:
        stat = shard.stat()
        known = state["shards"].get(shard.name)
        vectors = parquet_made_from(vectors_path(shard))
        if known and known.get("vectors") != vectors:
            known = None  # embedded (again) since it was indexed
        if known and known.get("size") == stat.st_size and known.get("mtime_ns") == stat.st_mtime_ns:
            summary.shards_skipped += 1
            continue
        digest = file_sha256(shard)
        if known and known.get("sha256") == digest:  # touched, not changed
            known.update(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
            if save:
                _save_state(state_path, state)
            summary.shards_skipped += 1
            continue
        todo[shard] = (stat, digest, vectors)
    run = shard_indexer or (lambda paths: _index_here(paths, backend, annotate))
    for done, (shard, n_docs, indexed, seconds) in enumerate(run(list(todo)), 1):
        if isinstance(indexed, str):  # the shard could not be read
            summary.shards_failed += 1
            log.error("index: skipping shard %s: %s", shard.name, indexed)
            continue
        stat, digest, vectors = todo[shard]
        summary.shards_indexed += 1
        summary.documents_indexed += indexed
        summary.documents_dropped += n_docs - indexed
        state["shards"][shard.name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest,
                                       "documents": n_docs, "indexed": indexed, "vectors": vectors}
        if save:
            _save_state(state_path, state)
        progress(f"index: shard {done}/{len(todo)} {shard.name}: {indexed}/{n_docs} documents in {seconds:.1f} s")


def index_shard(shard: Path, backend: SearchBackend, annotate: Callable[[Document], Document] | None = None
                ) -> tuple[Path, int, int | str, float]:
    """Index one docs shard: (shard, documents read, documents indexed or why the shard
    could not be read, seconds). The unit of work of a parallel ``shard_indexer``."""
    t0 = time.time()
    try:
        docs = read_parquet(shard)
    except (OSError, SchemaError, ValueError) as exc:
        return shard, 0, str(exc), time.time() - t0
    if annotate is not None:
        docs = [annotate(d) for d in docs]
    return shard, len(docs), backend.add(docs, iter_vectors(shard)), time.time() - t0


def _index_here(shards: list[Path], backend: SearchBackend, annotate: Callable[[Document], Document] | None
                ) -> Iterator[tuple[Path, int, int | str, float]]:
    for shard in shards:
        yield index_shard(shard, backend, annotate)
