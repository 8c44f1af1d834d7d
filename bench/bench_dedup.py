"""Dedup speed and memory: signatures/s on one core, and bucket/cluster peak memory.

1. Signatures/s: documents of 30-60 real sentences (``langid-A``/``langid-C``
   from the shared data, many languages; random words when absent), signed
   with datasketch MinHash ``update`` per shingle, ``update_batch`` with SHA-1,
   ``update_batch`` with xxh32 (when ``xxhash`` is importable), and the whole
   ``SignatureStep`` (normalise, exact hash, signature, bands, Parquet). Rates
   use process CPU time (one core; the machine may be shared), best of
   ``--repeat``; wall time is reported too.
2. Memory: ``--sizes`` synthetic signature sets made directly with numpy (not
   via MinHash): ``--dup-frac`` of the documents copy an earlier one (half
   exactly, half keeping each 16-bit MinHash value with probability 0.85, band
   keys hashed from the values), 24 languages. Each phase (bucket map, bucket
   reduce, unverified components, verified clusters) runs in a fresh process that
   reports its peak RSS (``VmHWM``), its RSS after imports, the tracemalloc
   peak (Python and numpy allocations) and pyarrow's pool peak.

Results go to bench/results/dedup.json (and a table on stdout).

    python bench/bench_dedup.py                       # 300 docs, 100k and 1M signatures
    python bench/bench_dedup.py --docs 100 --sizes 100000 --skip-speed
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute  # noqa: E402,F401
import pyarrow.parquet as pq  # noqa: E402
from datasketch import MinHash  # noqa: E402

from owd.dedup import BucketStep, ClusterStep, MinhashConfig, SignatureStep  # noqa: E402
from owd.dedup.minhash import _template, shingles, words  # noqa: E402
from owd.dedup.steps import (  # noqa: E402
    _META_CONFIG, _META_DIGEST, _mix64, signature_file_fingerprint, signature_schema)
from owd.dedup.text import normalise  # noqa: E402
from owd.core.schema import Document  # noqa: E402
from owd.shared_data import shared_data_dir  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
LANGS = ("bg cs da de el en es et fi fr ga hr hu it lt lv mt nl pl pt ro sk sl sv").split()


# --------------------------------------------------------------------------- speed


def make_texts(n: int, seed: int = 1) -> tuple[list[str], str]:
    rng = random.Random(seed)
    data = shared_data_dir()
    pools: list[list[str]] = []
    if data is not None:
        for lang in LANGS:
            lines = []
            for path in (data / "langid-A" / "by-lang" / f"{lang}.txt",
                         data / "langid-C" / "sentences" / "by-lang" / f"{lang}.txt"):
                if path.is_file():
                    lines += [s for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
            if lines:
                pools.append(lines)
    if pools:
        texts = []
        for i in range(n):
            pool = pools[i % len(pools)]
            k = rng.randint(30, 60)
            start = rng.randrange(len(pool) - k)
            texts.append("\n".join(pool[start:start + k]))
        return texts, f"real sentences, {len(pools)} languages"
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10))) for _ in range(20000)]
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(600, 1200))) for _ in range(n)], "random words"


def _sign_update(sh: list[bytes], cfg: MinhashConfig) -> np.ndarray:
    tpl = _template(cfg)
    mh = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, hashfunc=tpl.hashfunc, permutations=tpl.permutations,
                 scheme="affine32")
    for s in sh:
        mh.update(s)
    return mh.hashvalues


def _sign_batch(sh: list[bytes], cfg: MinhashConfig) -> np.ndarray:
    tpl = _template(cfg)
    mh = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, hashfunc=tpl.hashfunc, permutations=tpl.permutations,
                 scheme="affine32")
    mh.update_batch(sh)
    return mh.hashvalues


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    best_cpu = best_wall = float("inf")
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    return best_cpu, best_wall


def bench_speed(n: int, repeat: int) -> dict[str, Any]:
    texts, source = make_texts(n)
    normalised = [normalise(t) for t in texts]
    sh = [shingles(words(t), 5) for t in normalised]
    n_words = sum(len(words(t)) for t in normalised)
    rows: list[dict[str, Any]] = []

    def add(name: str, fn: Callable[[], Any], docs: int = n, reps: int = repeat, note: str = "") -> None:
        cpu, wall = _timed(fn, reps)
        rows.append({"method": name, "docs": docs, "docs_per_s_cpu": round(docs / cpu, 1),
                     "docs_per_s_wall": round(docs / wall, 1), "words_per_s_cpu": round(n_words * docs / n / cpu),
                     "note": note})

    sha1 = MinhashConfig(hash_fn="sha1")
    m = max(1, n // 5)  # per-shingle update is slow: a fifth of the documents
    add("update, sha1 (MinHash only)", lambda: [_sign_update(s, sha1) for s in sh[:m]], docs=m, reps=1)
    add("update_batch, sha1 (MinHash only)", lambda: [_sign_batch(s, sha1) for s in sh])
    if importlib.util.find_spec("xxhash") is not None:
        xx = MinhashConfig(hash_fn="xxh32")
        add("update_batch, xxh32 (MinHash only)", lambda: [_sign_batch(s, xx) for s in sh])
    add("normalise + shingle only", lambda: [shingles(words(normalise(t)), 5) for t in texts])
    docs = [Document(id=f"d{i}", url=f"https://x.eu/{i}", host="x.eu", campaign="bench", lang="en", text=t)
            for i, t in enumerate(texts)]
    for cfg in [sha1] + ([MinhashConfig(hash_fn="xxh32")] if importlib.util.find_spec("xxhash") else []):
        def step(cfg: MinhashConfig = cfg) -> None:
            with tempfile.TemporaryDirectory() as tmp:
                SignatureStep(Path(tmp), cfg).run("bench", docs)
        add(f"SignatureStep, {cfg.hash_fn} (end to end)", step,
            note="default" if cfg == MinhashConfig() else "")
    return {"texts": source, "docs": n, "mean_words": round(n_words / n), "rows": rows}


# --------------------------------------------------------------------------- memory


def make_signatures(dedup_dir: Path, n: int, dup_frac: float, shard_rows: int = 50_000, seed: int = 1) -> dict:
    """Write ``n`` synthetic signature rows as SignatureStep would, in shards of ``shard_rows``.

    Every document has random 16-bit MinHash values; ``dup_frac`` of them copy an earlier
    document (which may itself be a copy): half exactly, half keeping each value with
    probability 0.85 (a near duplicate at Jaccard ~0.85). Band keys are hashes of each
    band's values, so two documents share a band exactly when its rows are equal.
    """
    cfg = MinhashConfig()
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**16, size=(n, cfg.num_perm), dtype=np.uint16)
    exact = rng.integers(0, 2**64, size=n, dtype=np.uint64)
    lang_p = 1.0 / np.arange(1, len(LANGS) + 1)
    lang = rng.choice(len(LANGS), size=n, p=lang_p / lang_p.sum())
    copies = np.flatnonzero(rng.random(n) < dup_frac)
    copies = copies[copies > 0]
    sources = (rng.random(len(copies)) * copies).astype(np.int64)  # an earlier document
    exact_copy = rng.random(len(copies)) < 0.5
    keep_row = rng.random((len(copies), cfg.num_perm)) < 0.85
    for k, (c, s, ex) in enumerate(zip(copies.tolist(), sources.tolist(), exact_copy.tolist())):
        lang[c] = lang[s]  # in index order, so a source that is a copy is final already
        if ex:
            values[c] = values[s]
            exact[c] = exact[s]
        else:
            values[c, keep_row[k]] = values[s, keep_row[k]]
    del keep_row
    rows = cfg.rows_per_band
    bands = np.empty((n, cfg.num_bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for b in range(cfg.num_bands):
            packed = np.ascontiguousarray(values[:, b * rows:(b + 1) * rows]).view(np.uint64)
            h = np.full(n, b + 1, dtype=np.uint64)
            for j in range(packed.shape[1]):
                h = _mix64(h * np.uint64(0x9E3779B97F4A7C15) ^ packed[:, j])
            bands[:, b] = h
    doc_ids = np.char.add("doc-", rng.permutation(n).astype("U9"))
    length = rng.integers(200, 20_000, size=n)
    fetch = rng.integers(1_700_000_000_000, 1_800_000_000_000, size=n)
    schema = signature_schema(cfg.num_bands, cfg.num_perm)
    dedup_dir.mkdir(parents=True, exist_ok=True)
    (dedup_dir / "signatures").mkdir(exist_ok=True)
    for k, lo in enumerate(range(0, n, shard_rows)):
        hi = min(n, lo + shard_rows)
        cols: dict[str, Any] = {
            "doc_id": pa.array(doc_ids[lo:hi].tolist(), pa.string()),
            "lang": pa.array([LANGS[i] for i in lang[lo:hi]], pa.string()),
            "exact_hash": pa.array([f"{x:016x}" + "0" * 16 for x in exact[lo:hi].tolist()], pa.string()),
            "exact_key": exact[lo:hi], "length": length[lo:hi],
            "fetch_time": pa.array(fetch[lo:hi], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        }
        for b in range(cfg.num_bands):
            cols[f"band_{b}"] = bands[lo:hi, b]
        cols["minhash"] = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(2 * cfg.num_perm), hi - lo, [None, pa.py_buffer(values[lo:hi].astype("<u2").tobytes())])
        table = pa.table(cols, schema=schema).replace_schema_metadata({
            _META_CONFIG: signature_file_fingerprint(cfg).encode(),
            _META_DIGEST: hashlib.blake2b(f"synthetic-{seed}-{n}-{k}".encode(), digest_size=16).hexdigest().encode()})
        pq.write_table(table, dedup_dir / "signatures" / f"synth-{k:05d}.parquet", compression="zstd")
    return {"docs": n, "copies": len(copies), "exact_copies": int(exact_copy.sum()), "shards": -(-n // shard_rows)}


def _status_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process from /proc.

    Not ``ru_maxrss``: Linux keeps that across fork+exec, so a child would
    report the parent's peak (the generated signatures) as its own.
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _warm_up(dedup_dir: Path) -> None:
    # The first Parquet read maps ~90 MB of Arrow/Parquet library code and
    # buffers into RSS whatever the data size; read a few rows first so the
    # baseline includes that fixed cost and peak - baseline is the data's.
    first = sorted((dedup_dir / "signatures").glob("*.parquet"))[0]
    t = pq.ParquetFile(first).read_row_group(0).slice(0, 1000)
    pq.write_table(t, dedup_dir / "warmup.parquet", compression="zstd")
    t = pq.read_table(dedup_dir / "warmup.parquet")
    pa.compute.sort_indices(t.column("doc_id"))
    pa.compute.dictionary_encode(t.column("lang"))
    (dedup_dir / "warmup.parquet").unlink()


def child(phase: str, dedup_dir: Path, partitions: int) -> None:
    """One phase in this (fresh) process; prints its measurements as JSON."""
    _warm_up(dedup_dir)
    baseline = _status_kb("VmRSS")
    tracemalloc.start()
    t0 = time.perf_counter()
    bucket = BucketStep(dedup_dir, num_partitions=partitions)
    if phase == "map":
        plan = bucket.plan()
        for shard in plan.shards:
            bucket.map_shard(plan, shard)
    elif phase == "reduce":
        plan = bucket.plan()
        for k in range(plan.num_partitions):
            bucket.reduce_partition(plan, k)
    elif phase in ("cluster", "components"):
        # "components": FineWeb's unverified connected components (the clustering before
        # representatives), on the same edges, for comparison.
        step = ClusterStep(dedup_dir, method="representative" if phase == "cluster" else "components")
        step.run()
    else:
        raise SystemExit(f"unknown phase {phase}")
    secs = time.perf_counter() - t0
    _, traced_peak = tracemalloc.get_traced_memory()
    out: dict[str, Any] = {"phase": phase, "seconds": round(secs, 2),
                           "peak_rss_mb": round(_status_kb("VmHWM") / 1024, 1),
                           "baseline_rss_mb": round(baseline / 1024, 1),
                           "tracemalloc_peak_mb": round(traced_peak / 2**20, 1),
                           "arrow_pool_peak_mb": round(pa.default_memory_pool().max_memory() / 2**20, 1)}
    out["peak_minus_baseline_mb"] = round(out["peak_rss_mb"] - out["baseline_rss_mb"], 1)
    if phase in ("cluster", "components"):
        out["cluster_stats"] = dict(step.stats)
    print(json.dumps(out))


def bench_memory(sizes: list[int], dup_frac: float, partitions: int) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            info = make_signatures(Path(tmp), n, dup_frac)
            info["generate_seconds"] = round(time.perf_counter() - t0, 1)
            info["signature_mb_on_disk"] = round(sum(p.stat().st_size for p in Path(tmp, "signatures").iterdir()) / 2**20, 1)
            for phase in ("map", "reduce", "components", "cluster"):
                proc = subprocess.run([sys.executable, __file__, "_child", phase, tmp, str(partitions)],
                                      capture_output=True, text=True, check=True)
                res = json.loads(proc.stdout.strip().splitlines()[-1])
                rows.append({**info, "partitions": partitions, "dup_frac": dup_frac, **res})
    return rows


# --------------------------------------------------------------------------- main


def print_tables(result: dict[str, Any]) -> None:
    if "speed" in result:
        sp = result["speed"]
        print(f"Signatures on one core: {sp['docs']} documents ({sp['texts']}, mean {sp['mean_words']} words)")
        print(f"{'method':42} {'docs/s cpu':>11} {'docs/s wall':>12} {'words/s cpu':>12}")
        for r in sp["rows"]:
            print(f"{r['method']:42} {r['docs_per_s_cpu']:11.1f} {r['docs_per_s_wall']:12.1f} {r['words_per_s_cpu']:12d}"
                  f"  {r['note']}")
    if "memory" in result:
        print(f"\n{'docs':>9} {'phase':>8} {'secs':>6} {'peak RSS':>9} {'base':>6} {'peak-base':>9} "
              f"{'tracemalloc':>11} {'arrow':>7}  (MB)")
        for r in result["memory"]:
            print(f"{r['docs']:9d} {r['phase']:>8} {r['seconds']:6.1f} {r['peak_rss_mb']:9.1f} {r['baseline_rss_mb']:6.1f}"
                  f" {r['peak_minus_baseline_mb']:9.1f} {r['tracemalloc_peak_mb']:11.1f} {r['arrow_pool_peak_mb']:7.1f}")
        for r in result["memory"]:
            if r["phase"] in ("cluster", "components"):
                print(f"  {r['docs']} docs, {r['phase']}: {r['cluster_stats']}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=300, help="documents for the signature speed test")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--dup-frac", type=float, default=0.2)
    ap.add_argument("--partitions", type=int, default=64)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "dedup.json")
    args = ap.parse_args()
    result: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                                          "platform": platform.platform()},
                              "command": " ".join([Path(sys.executable).name] + sys.argv)}
    if not args.skip_speed:
        result["speed"] = bench_speed(args.docs, args.repeat)
    if args.sizes:
        result["memory"] = bench_memory(args.sizes, args.dup_frac, args.partitions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print_tables(result)
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
