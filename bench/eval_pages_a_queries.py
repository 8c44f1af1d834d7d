"""Monolingual relevance on real pages: lexical vs semantic vs hybrid, and what to embed.

    python bench/eval_pages_a_queries.py                   # passages of 600 characters (owd's default)
    python bench/eval_pages_a_queries.py --chars 300 600 1500 4000

The 990 pages of ../shared/data/pages-A go through owd's extraction (extract.html.extract_page,
the default trafilatura profile) and into a real embedded index with their vectors. The
queries are bench/data/pages_a_queries.jsonl: 150 queries written for 150 pages (7
languages), as a person would type them, without copying the page's words (at most one
shared content word, no shared word pair; checked mechanically when the set was written).
Each query is searched in each mode with no filter; the metrics: MRR@10 (the reciprocal rank
of the page the query was written for, 0 below rank 10), recall@1 and recall@10.

With several --chars values, each passage length is embedded and evaluated in turn, and
the embedding speed (passages per second per worker process, ``--workers`` of them,
one engine thread each) is reported for each: the cost side of choosing what to embed. Writes
bench/results/pages_a_queries.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from owd.core.schema import Document  # noqa: E402
from owd.extract.html import ExtractLimits, extract_page  # noqa: E402
from owd.index.base import SearchQuery  # noqa: E402
from owd.index.embed import Embedder, passage_text  # noqa: E402
from owd.index.embedded import EmbeddedBackend  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "pages-A"
QUERIES = REPO / "bench" / "data" / "pages_a_queries.jsonl"
MODES = ("lexical", "semantic", "hybrid")


def load_documents() -> list[Document]:
    docs = []
    limits = ExtractLimits(timeout_s=0)
    for line in (SHARED / "manifest.jsonl").read_text().splitlines():
        page = json.loads(line)
        html = gzip.open(SHARED / page["html_path"]).read().decode("utf-8", "replace")
        found = extract_page(html, page["url"], fetch_time=None, http_headers=[], media_refs=(), limits=limits,
                             stats=Counter())
        if found is None:
            continue
        lang = (page.get("lang_auto") or page.get("declared_lang") or "").split("-")[0].lower() or None
        docs.append(Document(id=page["id"], url=page["url"], host="pages.example", domain="pages.example",
                             campaign="pages-a", lang=lang, title=found.title, text=found.text,
                             description=found.description))
    return docs


def embed_parallel(texts: list[str], workers: int) -> tuple[Any, float]:
    """Vectors of ``texts`` from ``workers`` processes (owd embed's own task), and passages per
    CPU-second of one worker (wall time x workers)."""
    import numpy as np

    from owd.campaign_steps import _embed_batch
    from owd.executors import LocalExecutor
    from owd.index.vector_shards import BATCH

    batches = [texts[i:i + BATCH] for i in range(0, len(texts), BATCH)]
    out: list[Any] = [None] * len(batches)
    t0 = time.monotonic()
    with LocalExecutor(workers) as ex:
        for i, vecs in ex.map_unordered(_embed_batch, batches):
            out[i] = vecs
    return np.concatenate(out), len(texts) / ((time.monotonic() - t0) * workers)


def evaluate(backend: EmbeddedBackend, queries: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out = {}
    for mode in MODES:
        rr, r1, r10 = 0.0, 0, 0
        for q in queries:
            got = [h.id for h in backend.search(SearchQuery(q["query"], mode=mode, page_size=10,
                                                            highlight=False)).hits]
            if q["id"] in got:
                rank = got.index(q["id"]) + 1
                rr += 1.0 / rank
                r1 += rank == 1
                r10 += 1
        n = len(queries)
        out[mode] = {"mrr10": round(rr / n, 4), "r1": round(r1 / n, 4), "r10": round(r10 / n, 4)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chars", type=int, nargs="+", default=[600], help="passage lengths to compare")
    ap.add_argument("--workers", type=int, default=2, help="embedding processes")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "pages_a_queries.json"))
    args = ap.parse_args()
    t0 = time.monotonic()
    docs = load_documents()
    queries = [json.loads(line) for line in QUERIES.read_text().splitlines() if line.strip()]
    ids = {d.id for d in docs}
    missing = [q["id"] for q in queries if q["id"] not in ids]
    queries = [q for q in queries if q["id"] in ids]
    print(f"{len(docs)} pages extracted in {time.monotonic() - t0:.0f} s; {len(queries)} queries "
          f"({len(missing)} for pages without main text left out)")
    embedder = Embedder()
    embedder.queries([q["query"] for q in queries])
    results: dict[str, Any] = {"documents": len(docs), "queries": len(queries), "runs": []}
    print("| passage chars | passages per CPU-s | mode | MRR@10 | R@1 | R@10 |")
    print("|---:|---:|---|---:|---:|---:|")
    for chars in args.chars:
        texts = [passage_text(d.title, d.text, d.description, chars) for d in docs]
        vecs, rate = embed_parallel(texts, args.workers)
        with tempfile.TemporaryDirectory() as tmp, EmbeddedBackend(Path(tmp) / "ix", embedder=embedder) as b:
            b.add(docs, {d.id: v for d, v in zip(docs, vecs)})
            scores = evaluate(b, queries)
        for mode in MODES:
            s = scores[mode]
            print(f"| {chars} | {rate:.2f} | {mode} | {s['mrr10']:.3f} | {s['r1']:.3f} | {s['r10']:.3f} |", flush=True)
        results["runs"].append({"chars": chars, "passages_per_cpu_s": round(rate, 2), "scores": scores})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
