"""Real vectors for the test corpora, computed by the real model once per machine.

The model embeds ~13 short sentences per CPU-second, and the semantic tests need a few
thousand vectors (the contract corpus on two backends, the served corpus, FLORES
sentences in 24 languages, the real-sentence corpus). So:

* :class:`CachedEmbedder` is the real :class:`owd.index.embed.Embedder` with a disk cache
  (SQLite, keyed by model, kind and exact input): a vector is computed once, then read;
* at the start of a session that collected semantic tests, ``tests/conftest.py`` starts
  ``python -m tests.vectors`` in the background (low priority), which fills the cache with
  the inputs those tests will ask for, while the crawler and extraction tests keep the other
  core busy only part of the time. A test that gets there first computes what is missing
  itself: the cache only ever saves time, never changes a result (the engine is
  deterministic: the same input gives the same vector in any process).

The cache lives in ``$OWD_TEST_VECTORS`` (default: a folder under the system temp dir).
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import sys
import tempfile
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from owd.index.embed import DIM, Embedder, passage_text, query_input, text_key
from owd.index.query import parse

CROSSLINGUAL_SENTENCES = 12  # per language, in tests (the benchmark takes 200)

__all__ = ["CROSSLINGUAL_SENTENCES", "CachedEmbedder", "cached_embedder", "passage_vectors", "cache_path", "prefetch_inputs"]


def cache_path() -> Path:
    root = os.environ.get("OWD_TEST_VECTORS") or str(Path(tempfile.gettempdir()) / f"owd-test-vectors-{os.getuid()}")
    return Path(root) / "vectors.sqlite"


class CachedEmbedder(Embedder):
    """The real model behind a disk cache of its outputs."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(threads=1)
        self.path = path or cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db_lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS v (k TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        self._db.commit()

    def _cached(self, kind: str, texts: Sequence[str], compute: callable) -> np.ndarray:  # type: ignore[valid-type]
        keys = [text_key(kind, t) for t in texts]
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        found: dict[str, bytes] = {}
        with self._db_lock:
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                rows = self._db.execute(f"SELECT k, vec FROM v WHERE k IN ({','.join('?' * len(part))})", part)
                found.update(rows.fetchall())
        missing = [i for i, k in enumerate(keys) if k not in found]
        for i, k in enumerate(keys):
            if k in found:
                out[i] = np.frombuffer(found[k], dtype=np.float32)
        if missing:
            vecs = compute([texts[i] for i in missing])
            out[missing] = vecs
            with self._db_lock:
                self._db.executemany("INSERT OR REPLACE INTO v VALUES (?, ?)",
                                     [(keys[i], vecs[j].astype(np.float32).tobytes()) for j, i in enumerate(missing)])
                self._db.commit()
        return out

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._cached("passage", list(texts), super().passages)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        normal = [query_input(t) for t in texts]
        return self._cached("query", normal, super().queries)


_SHARED: dict[str, CachedEmbedder] = {}


def cached_embedder() -> CachedEmbedder:
    """The session's cached embedder (one model per process)."""
    if "e" not in _SHARED:
        _SHARED["e"] = CachedEmbedder()
    return _SHARED["e"]


def passage_vectors(docs: Sequence, embedder: Embedder | None = None) -> dict[str, np.ndarray]:
    """id -> vector of each document that has a passage (what `owd embed` computes)."""
    embedder = embedder or cached_embedder()
    texts = [passage_text(d.title, d.text, d.description) for d in docs]
    vecs = embedder.passages(texts)
    return {d.id: v for d, v, t in zip(docs, vecs, texts) if t}


# ---------------------------------------------------------------------------- what the tests will ask for


def title_queries(docs: Sequence) -> list[str]:
    """The contract's title queries, as the backend embeds them."""
    return [parse(d.title).meaning_text for d in docs if d.title and "(" not in d.title]


def shared_title_queries(docs: Sequence) -> list[str]:
    rng = random.Random(7)
    sample = rng.sample(list(docs), min(120, len(docs)))
    return [parse(" ".join(re.findall(r"[^\W_]+", d.title)[:10])).meaning_text for d in sample]


def prefetch_inputs() -> list[tuple[str, list[str]]]:
    """(kind, inputs) in the order the semantic tests need them."""
    from owd.shared_data import shared_data_dir
    from tests.index.corpus import kept, shared_corpus, synthetic_corpus
    from tests.bench_modules import load_bench_module

    corpus = kept(synthetic_corpus())
    work = [("passage", [passage_text(d.title, d.text, d.description) for d in corpus]),
            ("query", title_queries(corpus))]
    shared = shared_data_dir()
    if shared is not None:
        flores = load_bench_module("eval_crosslingual")
        sample = flores.crosslingual_sample(shared, CROSSLINGUAL_SENTENCES)
        work += [("passage", [passage_text(d.title, d.text) for d in flores.documents(sample)]),
                 ("query", [parse(flores.query_text(s)).meaning_text for lang in sorted(sample) for s in sample[lang]])]
        docs = shared_corpus(shared)
        work += [("passage", [passage_text(d.title, d.text, d.description) for d in docs]),
                 ("query", shared_title_queries(docs))]
    return work


def main() -> int:
    try:
        os.nice(10)  # behind the tests that are running
    except OSError:
        pass
    embedder = CachedEmbedder()
    for kind, texts in prefetch_inputs():
        texts = [t for t in texts if t.strip()]
        for start in range(0, len(texts), 32):
            part = texts[start:start + 32]
            (embedder.passages if kind == "passage" else embedder.queries)(part)
    return 0


if __name__ == "__main__":
    sys.exit(main())
