"""The embedded backend's vector index: a usearch HNSW graph in one file beside tantivy.

Why usearch (``python bench/bench_vectors.py``, bench/README.md): a small wheel with no
dependencies, HNSW with half-precision storage, keyed add/remove/get, exact search on
request, and a single-file save that another process can load; recall@10 against exact
search, build time and memory per vector are measured there against faiss and exact
search.

Keys are 63-bit xxHash64 values of document ids (:func:`vector_key`); tantivy indexes the
same key (field ``vkey``), which is how a key found here becomes a document there. Two
ids sharing a key (odds ~n²/2⁶⁴: about 3e-10 for 100k documents) would share a vector
slot: the later add wins, and the document that lost it is found by lexical search only.

Below :data:`EXACT_BELOW` vectors every search is exact (a scan costs well under a
millisecond per thousand vectors): small campaigns and tests get exact, deterministic
neighbours, and the graph only matters where it pays.

Durability: :meth:`VectorIndex.save` writes a temporary file and renames it over the
old one; other processes see the new file on their next search (by its size and
modification time).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import xxhash

from owd.index.embed import DIM

__all__ = ["VectorIndex", "vector_key", "key_text", "EXACT_BELOW"]

EXACT_BELOW = 10_000
_FILE = "vectors.usearch"
# HNSW parameters (usearch defaults are 16 / 128 / 64): measured in bench/bench_vectors.py
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 96


def vector_key(doc_id: str) -> int:
    """The vector key of a document id (63 bits, so it is a valid signed integer too)."""
    return xxhash.xxh64_intdigest(doc_id.encode("utf-8")) & 0x7FFF_FFFF_FFFF_FFFF


def key_text(key: int) -> str:
    """A key as tantivy's ``vkey`` term (fixed-width hex)."""
    return f"{int(key):016x}"


class VectorIndex:
    """Unit vectors by key, searched by cosine similarity."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / _FILE
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._index = self._new()
        self._dirty = False
        self._load()

    @staticmethod
    def _new() -> Any:
        from usearch.index import Index

        return Index(ndim=DIM, metric="cos", dtype="f16", connectivity=CONNECTIVITY,
                     expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_size, st.st_mtime_ns

    def _load(self) -> None:
        stamp = self._file_stamp()
        if stamp is None:
            self._index, self._stamp = self._new(), None
            return
        index = self._new()
        index.load(str(self.path))
        self._index, self._stamp = index, stamp

    def refresh(self) -> None:
        """Load the file again if another process saved a newer one (and we hold no unsaved writes)."""
        with self._lock:
            if not self._dirty and self._file_stamp() != self._stamp:
                self._load()

    def __len__(self) -> int:
        return len(self._index)

    # -- writing

    def upsert(self, keys: Sequence[int], vectors: np.ndarray) -> None:
        if not len(keys):
            return
        arr = np.asarray(keys, dtype=np.uint64)
        with self._lock:
            self._index.remove(arr)
            self._index.add(arr, np.asarray(vectors, dtype=np.float32))
            self._dirty = True

    def remove(self, keys: Iterable[int]) -> None:
        arr = np.asarray(list(keys), dtype=np.uint64)
        if arr.size:
            with self._lock:
                self._index.remove(arr)
                self._dirty = True

    def clear(self) -> None:
        with self._lock:
            self._index = self._new()
            self._dirty = True

    def save(self) -> None:
        """Write the index if it changed (atomically: a temporary file renamed over the old)."""
        with self._lock:
            if not self._dirty:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            self._index.save(str(tmp))
            os.replace(tmp, self.path)
            self._stamp = self._file_stamp()
            self._dirty = False

    def rollback(self) -> None:
        """Forget unsaved writes."""
        with self._lock:
            self._dirty = False
            self._load()

    # -- reading

    def get(self, key: int) -> np.ndarray | None:
        with self._lock:
            vec = self._index.get(np.uint64(key))
        return None if vec is None else np.asarray(vec, dtype=np.float32)

    def get_many(self, keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(the keys that have a vector, their vectors as an n x DIM float32 array)."""
        if not len(keys):
            return np.zeros(0, dtype=np.uint64), np.zeros((0, DIM), dtype=np.float32)
        arr = np.asarray(keys, dtype=np.uint64)
        with self._lock:
            found = self._index.contains(arr)
            present = arr[np.asarray(found, dtype=bool)]
            vecs = self._index.get(present) if present.size else np.zeros((0, DIM))
        return present, np.asarray(vecs, dtype=np.float32).reshape(-1, DIM)

    def keys(self) -> list[int]:
        with self._lock:
            return [int(k) for k in self._index.keys]

    def search(self, vector: np.ndarray, k: int, *, exact: bool = False) -> list[tuple[int, float]]:
        """The ``k`` nearest keys with their cosine similarity, best first (ties by key)."""
        n = len(self._index)
        if n == 0 or k <= 0:
            return []
        with self._lock:
            m = self._index.search(np.asarray(vector, dtype=np.float32), min(k, n),
                                   exact=exact or n < EXACT_BELOW, threads=1)
        pairs = [(int(key), round(1.0 - float(dist), 6)) for key, dist in zip(m.keys, m.distances)]
        return sorted(pairs, key=lambda p: (-p[1], p[0]))
