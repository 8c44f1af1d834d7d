"""Vector search at 100k documents: the ANN library against exact search, and each search mode.

    python bench/bench_vectors.py                      # 100k vectors, usearch (f16, f32, i8) vs exact
    python bench/bench_vectors.py --faiss              # also faiss HNSW (pip install faiss-cpu first)
    python bench/bench_vectors.py --modes              # also query p50/p95 per mode, embedded index
    python bench/bench_vectors.py --modes --opensearch http://127.0.0.1:9200   # and on OpenSearch

The vectors: the real model (owd.index.embed) embeds 960 FLORES sentences (40 in each EU
language); the 100k vectors are those plus Gaussian noise (each at cosine ~0.8 to its base),
normalised. Embedding 100k real pages would take ~7 hours on this machine (~4 passages per
CPU-second), and what an ANN index is measured on is the geometry: many tight clusters
of near neighbours in 384 dimensions, as real corpora have (translations, near-copies,
one topic's pages). Queries: 1,000 further noisy copies, so each has true neighbours.

Measured per library: build time (one thread: the embedded index adds one shard at a time
in the indexing process), memory per vector (RSS growth while building, and the saved
file), recall@10 against exact search (numpy, float32), query latency p50/p95 for one
query at a time. The anchor in the same run is exact search.

With --modes: 100k documents (titles and texts made of FLORES sentences, 24 languages)
with those vectors in the embedded index (and in OpenSearch with --opensearch): p50/p95 of
lexical, semantic and hybrid searches, query embedding excluded (it is cached after the
first call; its own cost is reported once). Writes bench/results/vectors.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from owd.core.languages import EU_LANGUAGES  # noqa: E402
from owd.index.embed import DIM, Embedder, passage_text  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def base_sentences(per_lang: int = 40) -> list[tuple[str, str]]:
    out = []
    for lang in EU_LANGUAGES:
        lines = (SHARED / "langid-A" / "by-lang" / f"{lang}.txt").read_text(encoding="utf-8").splitlines()
        out += [(lang, lines[i]) for i in range(0, per_lang * 20, 20)]
    return out


def synthetic(base: np.ndarray, n: int, seed: int, noise: float = 0.035) -> tuple[np.ndarray, np.ndarray]:
    """n noisy copies of the base vectors (and which base each copies), unit length."""
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(base), n)
    v = base[which] + rng.normal(0.0, noise, (n, DIM)).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32), which


def exact_top(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    out = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), 100):
        sims = queries[s:s + 100] @ data.T
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.take_along_axis(sims, part, 1).argsort(axis=1)[:, ::-1]
        out[s:s + 100] = np.take_along_axis(part, order, 1)
    return out


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times) * 1000, times[int(0.95 * (len(times) - 1))] * 1000


def measure(name: str, build: Callable[[], Any], search: Callable[[Any, np.ndarray, int], np.ndarray],
            data: np.ndarray, queries: np.ndarray, truth: np.ndarray, size_of: Callable[[Any], int]) -> dict:
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    index = build()
    build_s = time.perf_counter() - t0
    grown = rss_mb() - before
    found = []
    times = []
    for q in queries:
        t = time.perf_counter()
        found.append(search(index, q, 10))
        times.append(time.perf_counter() - t)
    recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
    p50, p95 = percentiles(times)
    row = {"name": name, "build_s": round(build_s, 1), "rss_bytes_per_vector": round(grown * 2**20 / len(data)),
           "file_bytes_per_vector": round(size_of(index) / len(data)), "recall_at_10": round(recall, 4),
           "query_p50_ms": round(p50, 3), "query_p95_ms": round(p95, 3)}
    print(f"| {name} | {row['build_s']} | {row['rss_bytes_per_vector']} | {row['file_bytes_per_vector']} | "
          f"{row['recall_at_10']:.4f} | {row['query_p50_ms']:.2f} | {row['query_p95_ms']:.2f} |", flush=True)
    del index
    return row


def ann_rows(data: np.ndarray, queries: np.ndarray, with_faiss: bool) -> list[dict]:
    from usearch.index import Index

    from owd.index.vector_index import CONNECTIVITY, EXPANSION_ADD, EXPANSION_SEARCH

    truth = exact_top(data, queries, 10)
    keys = np.arange(len(data), dtype=np.uint64)
    tmp = Path(tempfile.mkdtemp())
    print("| index | build s (1 thread) | RSS bytes/vector | file bytes/vector | recall@10 | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = [measure("exact (numpy float32, the anchor)", lambda: data.copy(),
                    lambda ix, q, k: exact_top(ix, q[None, :], k)[0], data, queries, truth, lambda ix: ix.nbytes)]

    def usearch_row(dtype: str) -> dict:
        def build() -> Any:
            ix = Index(ndim=DIM, metric="cos", dtype=dtype, connectivity=CONNECTIVITY,
                       expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)
            ix.add(keys, data, threads=1)
            ix.save(str(tmp / f"{dtype}.usearch"))
            return ix

        return measure(f"usearch HNSW {dtype}{' (owd)' if dtype == 'f16' else ''}", build,
                       lambda ix, q, k: ix.search(q, k, threads=1).keys, data, queries, truth,
                       lambda ix: (tmp / f"{dtype}.usearch").stat().st_size)

    rows += [usearch_row(d) for d in ("f16", "f32", "i8")]
    if with_faiss:
        try:
            import faiss
        except ImportError:
            print("faiss: not installed (pip install faiss-cpu); skipped")
        else:
            faiss.omp_set_num_threads(1)

            def faiss_build() -> Any:
                ix = faiss.IndexHNSWFlat(DIM, CONNECTIVITY, faiss.METRIC_INNER_PRODUCT)
                ix.hnsw.efConstruction = EXPANSION_ADD
                ix.hnsw.efSearch = EXPANSION_SEARCH
                ix.add(data)
                faiss.write_index(ix, str(tmp / "faiss.index"))
                return ix

            rows.append(measure("faiss HNSWFlat float32", faiss_build,
                                lambda ix, q, k: ix.search(q[None, :], k)[1][0], data, queries, truth,
                                lambda ix: (tmp / "faiss.index").stat().st_size))
    return rows


def mode_rows(data: np.ndarray, base_texts: list[tuple[str, str]], which: np.ndarray, embedder: Embedder,
              opensearch: str | None) -> list[dict]:
    from owd.core.schema import Document
    from owd.index.base import SearchBackend, SearchQuery

    utc = dt.timezone.utc
    rng = np.random.default_rng(5)
    docs, vectors = [], {}
    for i in range(len(data)):
        lang, sentence = base_texts[which[i]]
        other = base_texts[int(rng.integers(0, len(base_texts)))][1]
        doc = Document(id=f"d{i:06d}", url=f"https://bench.example/{i}", host=f"h{i % 500}.example.eu",
                       domain=f"h{i % 500}.example.eu", campaign="bench", lang=lang, title=sentence[:80],
                       text=f"{sentence} {other}", fetch_time=dt.datetime(2026, 11, 1 + i % 28, tzinfo=utc))
        docs.append(doc)
        vectors[doc.id] = data[i]
    queries = [" ".join(t.split()[:4]) for _, t in base_texts[::3]][:200]
    t0 = time.process_time()
    embedder.queries(queries)
    embed_ms = (time.process_time() - t0) / len(queries) * 1000
    print(f"\nquery embedding: {embed_ms:.1f} CPU-ms per query (4 words; cached afterwards)")
    rows: list[dict] = []
    backends: list[tuple[str, Callable[[], SearchBackend]]] = []
    tmp = Path(tempfile.mkdtemp())
    from owd.index.embedded import EmbeddedBackend

    backends.append(("embedded", lambda: EmbeddedBackend(tmp / "ix", embedder=embedder)))
    if opensearch:
        from owd.index.opensearch import OpenSearchBackend

        backends.append(("opensearch", lambda: OpenSearchBackend(opensearch, f"owd-bench-{int(time.time())}",
                                                                  embedder=embedder)))
    print("| backend | index 100k docs s | mode | p50 ms | p95 ms | filtered (lang:de) p50 ms | p95 ms |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for name, make in backends:
        with make() as b:
            t0 = time.perf_counter()
            for s in range(0, len(docs), 10_000):
                b.add(docs[s:s + 10_000], vectors)
            build = time.perf_counter() - t0
            for mode in ("lexical", "semantic", "hybrid"):
                plain, filtered = [], []
                for q in queries:
                    for text, out in ((q, plain), (f"{q} lang:de", filtered)):
                        t = time.perf_counter()
                        b.search(SearchQuery(text, mode=mode, page_size=10))
                        out.append(time.perf_counter() - t)
                (p50, p95), (f50, f95) = percentiles(plain), percentiles(filtered)
                rows.append({"backend": name, "index_s": round(build, 1), "mode": mode, "p50_ms": round(p50, 2),
                             "p95_ms": round(p95, 2), "lang_p50_ms": round(f50, 2), "lang_p95_ms": round(f95, 2)})
                print(f"| {name} | {build:.0f} | {mode} | {p50:.1f} | {p95:.1f} | {f50:.1f} | {f95:.1f} |", flush=True)
            if name == "opensearch":
                b.drop()  # type: ignore[attr-defined]
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--faiss", action="store_true")
    ap.add_argument("--modes", action="store_true")
    ap.add_argument("--opensearch", default=None, help="OpenSearch URL for --modes")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "vectors.json"))
    args = ap.parse_args()
    embedder = Embedder()
    texts = base_sentences()
    t0 = time.process_time()
    base = embedder.passages([passage_text(t, None) for _, t in texts])
    print(f"{len(texts)} base sentences embedded: {len(texts) / (time.process_time() - t0):.1f} per CPU-s")
    data, which = synthetic(base, args.n, seed=1)
    queries, _ = synthetic(base, 1000, seed=2)
    near = float(np.mean(np.sum(data[:1000] * base[which[:1000]], axis=1)))
    print(f"{args.n} vectors, mean cosine to their base {near:.3f}\n")
    result: dict[str, Any] = {"n": args.n, "ann": ann_rows(data, queries, args.faiss),
                              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    if args.modes:
        result["modes"] = mode_rows(data, texts, which, embedder, args.opensearch)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
