"""Cross-lingual retrieval on FLORES-200 (../shared/data/langid-A): semantic vs lexical vs hybrid.

The i-th sentence of every language file is a translation of the same English sentence.
Every sampled sentence of all 24 EU languages is indexed as one document (title: the
sentence) in a real index (embedded tantivy + usearch, or OpenSearch with --backend), with
its vector from the real model. For each query language a and target language b != a, each
sampled sentence of a is searched with ``lang:b`` in each mode; recall@1 and recall@10 say
how often its translation in b is first / in the top 10. The 24x24 table is summarised per
query language (the mean over the 23 targets) and as a macro average.

    python bench/eval_crosslingual.py                 # 200 sentences a language, embedded index
    python bench/eval_crosslingual.py --sentences 1012 --modes semantic
    python bench/eval_crosslingual.py --backend opensearch --url http://127.0.0.1:9200

Writes bench/results/crosslingual.json (the whole 24x24 table per mode) and prints the
per-language summary. The issue's target: macro recall@10 >= 0.9 for semantic and hybrid.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from owd.core.languages import EU_LANGUAGES  # noqa: E402
from owd.core.schema import Document  # noqa: E402
from owd.index.base import SearchBackend, SearchQuery  # noqa: E402
from owd.index.embed import Embedder  # noqa: E402

MODES = ("lexical", "semantic", "hybrid")


def crosslingual_sample(shared: Path, sentences: int = 12) -> dict[str, list[str]]:
    """lang -> the same ``sentences`` FLORES sentences (evenly spread over the file), per EU language."""
    out: dict[str, list[str]] = {}
    for lang in EU_LANGUAGES:
        path = shared / "langid-A" / "by-lang" / f"{lang}.txt"
        if not path.exists():
            continue
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
        step = max(1, len(lines) // sentences)
        out[lang] = [lines[i] for i in range(0, len(lines), step)][:sentences]
    return out


def query_text(sentence: str) -> str:
    """A sentence as a search box query: its first 30 words (the query language takes 32),
    punctuation dropped so that nothing in it reads as an operator."""
    words = re.findall(r"[^\W_]+", sentence)[:30]
    return " ".join(w.lower() if w in ("OR", "AND", "NOT") else w for w in words)


def documents(sample: dict[str, list[str]]) -> list[Document]:
    utc = dt.timezone.utc
    return [Document(id=f"{lang}-{i:04d}", url=f"https://flores.example/{lang}/{i}", host="flores.example",
                     domain="flores.example", campaign="flores", lang=lang, title=sentence, text=None,
                     fetch_time=dt.datetime(2026, 11, 1, tzinfo=utc))
            for lang, sentences in sample.items() for i, sentence in enumerate(sentences)]


def evaluate(backend: SearchBackend, sample: dict[str, list[str]], modes: Sequence[str] = MODES,
             targets: Sequence[str] | None = None, query_langs: Sequence[str] | None = None) -> dict[str, Any]:
    """{mode: {"r1"/"r10": {a: {b: recall}}, "per_lang": {a: {"r1", "r10"}}, "macro": {"r1", "r10"}}}.
    ``targets``: the target languages, ``query_langs`` the query languages (default: every
    language of the sample)."""
    targets = list(targets or sorted(sample))
    # a query language needs another language to look in
    langs = [a for a in sorted(query_langs or sample) if any(b != a for b in targets)]
    n = min(len(v) for v in sample.values())
    out: dict[str, Any] = {}
    for mode in modes:
        r1: dict[str, dict[str, float]] = {}
        r10: dict[str, dict[str, float]] = {}
        for a in langs:
            r1[a], r10[a] = {}, {}
            for b in targets:
                if b == a:
                    continue
                top1 = top10 = 0
                for i in range(n):
                    hits = backend.search(SearchQuery(f"{query_text(sample[a][i])} lang:{b}", mode=mode,
                                                      page_size=10, highlight=False)).hits
                    want = f"{b}-{i:04d}"
                    got = [h.id for h in hits]
                    top1 += bool(got) and got[0] == want
                    top10 += want in got
                r1[a][b], r10[a][b] = top1 / n, top10 / n
        per_lang = {a: {"r1": sum(r1[a].values()) / len(r1[a]), "r10": sum(r10[a].values()) / len(r10[a])}
                    for a in langs}
        out[mode] = {"r1": r1, "r10": r10, "per_lang": per_lang,
                     "macro": {k: sum(v[k] for v in per_lang.values()) / len(per_lang) for k in ("r1", "r10")}}
    return out


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in parts[0]:
        merged: dict[str, Any] = {"r1": {}, "r10": {}, "per_lang": {}}
        for part in parts:
            for key in ("r1", "r10", "per_lang"):
                merged[key].update(part[mode][key])
        per_lang = merged["per_lang"]
        merged["macro"] = {k: sum(v[k] for v in per_lang.values()) / len(per_lang) for k in ("r1", "r10")}
        out[mode] = merged
    return out


_CHILD: dict[str, Any] = {}


def _evaluate_part(query_langs: list[str]) -> dict[str, Any]:
    with _CHILD["open"]() as backend:
        return evaluate(backend, _CHILD["sample"], _CHILD["modes"], query_langs=query_langs)


def _embed_part(args: tuple[str, list[str]]) -> Any:
    kind, texts = args
    e = Embedder()
    return e.passages(texts) if kind == "passage" else e.queries(texts)


def _parallel(kind: str, texts: list[str], workers: int) -> Any:
    """Vectors from ``workers`` forked processes (one model each), in order."""
    import multiprocessing

    import numpy as np

    step = -(-len(texts) // (workers * 8))
    parts = [(kind, texts[i:i + step]) for i in range(0, len(texts), step)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return np.concatenate(pool.map(_embed_part, parts))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", type=int, default=200, help="sentences per language (FLORES devtest has 1012)")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--backend", default="embedded", choices=["embedded", "opensearch"])
    ap.add_argument("--url", default="http://127.0.0.1:9200")
    ap.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--workers", type=int, default=2, help="processes for embedding and for searching")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "crosslingual.json"))
    args = ap.parse_args()
    import tempfile

    sample = crosslingual_sample(Path(args.shared), args.sentences)
    docs = documents(sample)
    from owd.index.embed import passage_text, query_input
    from owd.index.query import parse

    embedder = Embedder(query_cache=10**6)
    texts = [passage_text(d.title, d.text) for d in docs]
    queries = [parse(query_text(s)).meaning_text for lang in sorted(sample) for s in sample[lang]]
    t0 = time.monotonic()
    vecs = _parallel("passage", texts, args.workers)
    qvecs = _parallel("query", queries, args.workers)
    seconds = time.monotonic() - t0
    with embedder._lock:  # the searches below find every query's vector in the cache
        embedder._cache.update(zip([query_input(q) for q in queries], qvecs))
    print(f"embedded {len(texts)} passages and {len(queries)} queries in {seconds:.0f} s on {args.workers} "
          f"processes ({(len(texts) + len(queries)) / seconds / args.workers:.1f} per second per process)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "embedded":
            from owd.index.embedded import EmbeddedBackend

            backend: SearchBackend = EmbeddedBackend(Path(tmp) / "ix", embedder=embedder)
        else:
            from owd.index.opensearch import OpenSearchBackend

            backend = OpenSearchBackend(args.url, f"owd-flores-{int(time.time())}", embedder=embedder)
        with backend:
            backend.add(docs, {d.id: v for d, v in zip(docs, vecs)})
            t0 = time.monotonic()
            # the searches in forked processes, a share of the query languages each; each opens
            # the index read-only and finds the query vectors in its copy of the cache
            if args.backend == "embedded":
                _CHILD["open"] = lambda: EmbeddedBackend(Path(tmp) / "ix", create=False, embedder=embedder)
            else:
                _CHILD["open"] = lambda: OpenSearchBackend(args.url, backend.index, create=False,  # type: ignore[attr-defined]
                                                           embedder=embedder)
            _CHILD.update(sample=sample, modes=args.modes)
            langs = sorted(sample)
            import multiprocessing

            with multiprocessing.get_context("fork").Pool(args.workers) as pool:
                result = _merge(pool.map(_evaluate_part, [langs[i::args.workers] for i in range(args.workers)]))
            seconds = time.monotonic() - t0
            if args.backend == "opensearch":
                backend.drop()  # type: ignore[attr-defined]
    print(f"{len(sample)} languages x {args.sentences} sentences, {args.backend}, searches in {seconds:.0f} s")
    print("| query lang | " + " | ".join(f"{m} R@1 | {m} R@10" for m in args.modes) + " |")
    print("|---|" + "---:|" * (2 * len(args.modes)))
    for a in sorted(sample):
        print(f"| {a} | " + " | ".join(f"{result[m]['per_lang'][a]['r1']:.3f} | {result[m]['per_lang'][a]['r10']:.3f}"
                                       for m in args.modes) + " |")
    print("| **macro** | " + " | ".join(f"**{result[m]['macro']['r1']:.3f}** | **{result[m]['macro']['r10']:.3f}**"
                                        for m in args.modes) + " |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"sentences": args.sentences, "backend": args.backend,
                                          "languages": sorted(sample), "result": result}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
