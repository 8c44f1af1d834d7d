"""Pool build throughput, and reading one language slice of a pool against the whole pool.

1. Synthesises ``--docs`` documents of the canonical schema (24 EU languages, words
   from the test web's per-language word lists, hosts on every ccTLD plus ``*.gv.at``
   and TDM-reserved hosts, licenses, media items, quality signals, 3% dropped) in
   ``--shards`` shards of ``docs/*.parquet``, written with ``owd.core.schema.write_parquet``
   like ``owd process`` does.
2. Builds six pools (everything; German health in .de/.at with a keyword prefix;
   government globs; min quality over three languages; a license allow-list; media)
   with ``build_pools(force=True)``, ``--repeat`` times. Throughput is MB/s of input
   ``docs/*.parquet`` bytes per wall second (and documents/s), best run.
3. Reads the largest pool: the whole pool, one language through ``pyarrow.dataset``
   with a ``lang`` filter (partition pruning), and the same language by its
   ``lang=<xx>`` folder directly; best of ``--repeat`` each.

Results go to bench/results/pools.json (and a table on stdout).

    python bench/bench_pools.py                    # 100k documents, 10 shards
    python bench/bench_pools.py --docs 20000 --shards 4 --repeat 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402

from owd.core.config import parse_campaign  # noqa: E402
from owd.core.schema import DOCUMENT_SCHEMA, write_parquet  # noqa: E402
from owd.testweb.content import _FALLBACK_WORDS, HEALTH_WORD, LANG_TLD  # noqa: E402
from owd.pools.build import build_pools  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
LANGS = sorted(_FALLBACK_WORDS)
POOLS: list[dict[str, Any]] = [
    {"name": "everything"},
    {"name": "health-de-at", "languages": ["de"], "tlds": ["de", "at"], "keywords": ["Gesundheit*"]},
    {"name": "gov", "domains": ["*.gv.at", "*.gov.si", "*.gouv.fr"]},
    {"name": "quality-en-fr-sl", "languages": ["en", "fr", "sl"], "min_quality": 0.7},
    {"name": "cc-by", "licenses": ["https://creativecommons.org/licenses/by/"], "min_length": 1000},
    {"name": "media", "media_kinds": ["audio", "video"]},
]
LICENSES = [None, None, None, "https://creativecommons.org/licenses/by/4.0/",
            "http://creativecommons.org/licenses/by-sa/3.0/", "https://creativecommons.org/licenses/by-nc/4.0/"]


def _vocabulary(lang: str, rng: np.random.Generator, size: int = 5000) -> list[str]:
    """The language's frequent words first, then made-up words from its letters."""
    real = (_FALLBACK_WORDS[lang] + " " + HEALTH_WORD[lang]).split()
    letters = sorted({c for word in real for c in word.lower() if c.isalpha()})
    made = ["".join(rng.choice(letters, int(rng.integers(3, 11)))) for _ in range(size - len(real))]
    return real + made


def synthesise(docs_dir: Path, n: int, shards: int, words: int, seed: int = 1) -> None:
    """Write ``n`` documents in ``shards`` Parquet files (columns built directly as Arrow)."""
    rng = np.random.default_rng(seed)
    vocab = {lang: _vocabulary(lang, rng) for lang in LANGS}
    # Zipf-like word frequencies, so the text compresses about as well as real text does
    ranks = np.arange(1, len(vocab[LANGS[0]]) + 1)
    freq = 1.0 / ranks ** 1.1
    freq /= freq.sum()
    start = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    per_shard = -(-n // shards)
    for s in range(shards):
        rows: dict[str, list[Any]] = {name: [] for name in DOCUMENT_SCHEMA.names}
        for i in range(s * per_shard, min(n, (s + 1) * per_shard)):
            lang = LANGS[i % len(LANGS)]
            tld = LANG_TLD.get(lang, "eu")
            kind = i % 50
            host, domain = f"site{i % 400}.example.{tld}", f"example.{tld}"
            if kind == 0:
                host, domain = f"www.amt{i % 7}.gv.at", f"amt{i % 7}.gv.at"
            elif kind == 1:
                host, domain = "tdm-header.owdtest.eu", "owdtest.eu"
            n_words = int(rng.integers(words // 3, words * 2))
            w = vocab[lang]
            text_words = [w[j] for j in rng.choice(len(w), n_words, p=freq)]
            text = "\n".join(" ".join(text_words[k:k + 12]) + "." for k in range(0, n_words, 12))
            row = {
                "id": f"{i:012x}", "url": f"https://{host}/{lang}/{i}.html", "host": host, "domain": domain,
                "campaign": "bench", "worker": f"w{i % 4}", "fetch_time": start + dt.timedelta(seconds=i),
                "http_status": 200, "content_type": "text/html; charset=utf-8", "warc_file": f"bench-{s:05d}.warc.gz",
                "warc_offset": i * 4096, "warc_length": 4096, "title": f"{HEALTH_WORD[lang]} {i}", "text": text,
                "lang": lang, "lang_score": 0.9, "lang_topk": [{"lang": lang, "score": 0.9}], "script": "Latn",
                "license_url": LICENSES[i % len(LICENSES)], "robots_noai": kind == 2,
                "tdm_reservation": True if kind == 1 else None, "tdm_source": "header" if kind == 1 else None,
                "outlinks": [f"https://{host}/{lang}/{i + k}.html" for k in range(1, 6)],
                "media": [{"url": f"https://{host}/m/{i}.{ext}", "kind": kind_, "in_warc": False}
                          for ext, kind_ in (("jpg", "image"), ("mp3", "audio"), ("webm", "video"))[: i % 4]],
                "quality": [("alpha_words_frac", 0.8 + (i % 20) / 100), ("fw_line_punct_ratio", 0.95),
                            ("dup_line_char_frac", 0.0), ("words", float(n_words))],
                "drop_reason": "duplicate" if i % 33 == 0 else None,
                "pii": {"email": 0, "phone": 0, "ip": 0, "iban": 0},
                "dup_cluster_id": f"{i:012x}", "dup_cluster_size": 1, "pools": [],
            }
            for name in DOCUMENT_SCHEMA.names:
                rows[name].append(row.get(name))
        table = pa.Table.from_pydict(rows, schema=DOCUMENT_SCHEMA)
        write_parquet(table, docs_dir / f"bench-{s:05d}.parquet")


def best(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--shards", type=int, default=10)
    ap.add_argument("--words", type=int, default=300, help="mean words per document is about 1.2x this")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lang", default="sl", help="the language slice to read")
    ap.add_argument("--keep", action="store_true", help="keep the temporary campaign")
    ap.add_argument("--out", type=Path, default=RESULTS / "pools.json")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-pools-"))
    try:
        cfg = parse_campaign({"campaign": "bench", "storage_root": str(tmp), "seeds": {"urls": ["https://a.eu/"]},
                              "pools": POOLS}, tmp / "bench.yaml")
        docs_dir = cfg.campaign_dir / "docs"
        t0 = time.perf_counter()
        synthesise(docs_dir, args.docs, args.shards, args.words)
        synth_s = time.perf_counter() - t0
        input_bytes = sum(p.stat().st_size for p in docs_dir.glob("*.parquet"))
        print(f"synthesised {args.docs} documents in {args.shards} shards, {input_bytes / 1e6:.1f} MB Parquet "
              f"({synth_s:.1f} s)")

        build_s, summary = best(lambda: build_pools(cfg, force=True), args.repeat)
        skip_s, _ = best(lambda: build_pools(cfg), 1)  # unchanged inputs: fingerprint only
        pools_root = cfg.campaign_dir / "pools"
        pool_bytes = {p["name"]: sum(f.stat().st_size for f in (pools_root / p["name"]).rglob("*.parquet"))
                      for p in POOLS}

        big = max(summary.documents, key=lambda name: summary.documents[name])
        folder = pools_root / big
        whole_s, whole = best(lambda: ds.dataset(folder, format="parquet", partitioning="hive",
                                                 exclude_invalid_files=True).to_table(), args.repeat)
        filt_s, filt = best(lambda: ds.dataset(folder, format="parquet", partitioning="hive",
                                               exclude_invalid_files=True).to_table(
            filter=ds.field("lang") == args.lang), args.repeat)
        direct_s, direct = best(lambda: ds.dataset(folder / f"lang={args.lang}", format="parquet").to_table(),
                                args.repeat)
        assert filt.num_rows == direct.num_rows > 0

        result = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "pyarrow": pa.__version__},
            "docs": args.docs, "shards": args.shards, "input_bytes": input_bytes,
            "build": {"seconds": round(build_s, 3), "mb_per_s": round(input_bytes / 1e6 / build_s, 2),
                      "docs_per_s": round(args.docs / build_s), "pools": summary.documents, "pool_bytes": pool_bytes,
                      "unchanged_rerun_seconds": round(skip_s, 3)},
            "read": {"pool": big, "lang": args.lang,
                     "whole": {"rows": whole.num_rows, "seconds": round(whole_s, 4)},
                     "lang_filter": {"rows": filt.num_rows, "seconds": round(filt_s, 4)},
                     "lang_folder": {"rows": direct.num_rows, "seconds": round(direct_s, 4)}},
        }
        print(f"\n{'pool build':34} {'seconds':>8} {'MB/s in':>8} {'docs/s':>8}")
        print(f"{'6 pools, force':34} {build_s:8.2f} {result['build']['mb_per_s']:8.1f} "
              f"{result['build']['docs_per_s']:8d}")
        print(f"{'unchanged rerun (fingerprint)':34} {skip_s:8.2f}")
        print(f"\n{'pool':20} {'documents':>10} {'MB':>8}")
        for name, n in summary.documents.items():
            print(f"{name:20} {n:10d} {pool_bytes[name] / 1e6:8.1f}")
        print(f"\nread pool {big!r} ({pool_bytes[big] / 1e6:.1f} MB)")
        print(f"{'read':34} {'rows':>8} {'seconds':>8} {'x whole':>8}")
        for label, rows, secs in (("whole pool", whole.num_rows, whole_s),
                                  (f"lang={args.lang} via dataset filter", filt.num_rows, filt_s),
                                  (f"lang={args.lang} folder directly", direct.num_rows, direct_s)):
            print(f"{label:34} {rows:8d} {secs:8.3f} {secs / whole_s:8.3f}")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
        print(f"\nwritten to {args.out}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
