"""Search latency and indexing throughput of the embedded (tantivy) index.

Builds N pages from the real parallel sentences in shared/data/langid-A/by-lang (24
languages; a page = a title sentence + 8 following sentences, ~1 KB of text) or, when
that data is absent, from a generated vocabulary. Indexes them through
``EmbeddedBackend.add`` (the owd path: index record, per-language loose analysis,
delete-then-add by id), then runs a mix of queries and reports p50/p95/max of
``SearchResult.took_ms`` per query kind: single word, two words, phrase, OR,
exclusion, with filters, filters only, with all four facets, deep page.

    python bench/bench_search.py                  # 100,000 pages
    python bench/bench_search.py --docs 20000     # quicker
    python bench/bench_search.py --keep DIR       # keep the index in DIR (reused if it has --docs pages)

Writes bench/results/search.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from index.base import FACETS, SearchQuery  # noqa: E402
from index.embedded import EmbeddedBackend  # noqa: E402
from owd.schema import Document, MediaItem  # noqa: E402
from owd.shared_data import shared_data_dir  # noqa: E402

UTC = dt.timezone.utc
TLDS = {"sl": "si", "hr": "hr", "de": "de", "en": "uk", "fr": "fr", "el": "gr", "bg": "bg", "pl": "pl",
        "fi": "fi", "cs": "cz", "sk": "sk", "hu": "hu", "ro": "ro", "it": "it", "es": "es", "pt": "pt",
        "nl": "nl", "da": "dk", "sv": "se", "et": "ee", "lv": "lv", "lt": "lt", "ga": "ie", "mt": "mt"}


def sentences() -> dict[str, list[str]]:
    shared = shared_data_dir()
    out: dict[str, list[str]] = {}
    if shared is not None:
        for path in sorted((shared / "langid-A" / "by-lang").glob("*.txt")):
            out[path.stem] = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not out:  # generated fallback: Zipf-ish words per language
        rng = random.Random(1)
        for lang in list(TLDS)[:10]:
            vocab = ["".join(rng.choice("abcdeghijklmnoprstuvzčšž") for _ in range(rng.randint(3, 10)))
                     for _ in range(5000)]
            out[lang] = [" ".join(vocab[min(int(rng.paretovariate(1.1)), 4999)] for _ in range(15)) + "."
                         for _ in range(1000)]
    return out


def make_docs(n: int, corpus: dict[str, list[str]]):
    rng = random.Random(7)
    langs = sorted(corpus)
    for i in range(n):
        lang = langs[i % len(langs)]
        lines = corpus[lang]
        start = rng.randrange(len(lines) - 9)
        host = f"site{rng.randrange(400)}.example.{TLDS.get(lang, 'eu')}"
        yield Document(
            id=f"d{i:07d}", url=f"https://{host}/p/{i}", host=host, domain=host.split(".", 1)[1], campaign="bench",
            lang=lang, title=lines[start], text=" ".join(lines[start + 1:start + 9]),
            fetch_time=dt.datetime(2026, 10, 1, tzinfo=UTC) + dt.timedelta(minutes=rng.randrange(86400)),
            pools=rng.choice([["health"], ["news"], [], ["news", "health"]]),
            media=[MediaItem(url=f"https://{host}/i{i}.jpg", kind="image")] if rng.random() < 0.3 else [],
        )


def queries(corpus: dict[str, list[str]]) -> dict[str, list[SearchQuery]]:
    rng = random.Random(3)
    word = re.compile(r"[^\W\d_]{5,}")
    pool = {lang: [w for ln in lines[:300] for w in word.findall(ln)] for lang, lines in corpus.items()}
    langs = sorted(pool)

    def w(lang: str | None = None) -> str:
        return rng.choice(pool[lang or rng.choice(langs)])

    kinds: dict[str, list[SearchQuery]] = {k: [] for k in (
        "one word", "two words", "phrase", "or", "exclusion", "word + filters", "filters only", "facets",
        "page 50")}
    for _ in range(100):
        lang = rng.choice(langs)
        line = rng.choice(corpus[lang][:300])
        ws = word.findall(line) or [w(lang)]
        kinds["one word"].append(SearchQuery(w(lang)))
        kinds["two words"].append(SearchQuery(f"{w(lang)} {w(lang)}"))
        kinds["phrase"].append(SearchQuery('"' + " ".join(line.split()[:3]) + '"'))
        kinds["or"].append(SearchQuery(f"{w(lang)} OR {w(lang)} OR {w()}"))
        kinds["exclusion"].append(SearchQuery(f"{ws[0]} -{w(lang)}"))
        kinds["word + filters"].append(SearchQuery(f"{ws[0]} lang:{lang} domain:.{TLDS.get(lang, 'eu')} "
                                                   "after:2026-10-15 before:2026-11-15"))
        kinds["filters only"].append(SearchQuery(f"lang:{lang} pool:health media:image"))
        kinds["facets"].append(SearchQuery(ws[0], facets=FACETS))
        kinds["page 50"].append(SearchQuery(ws[0], page=50, page_size=20))
    return kinds


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="index directory to keep (and reuse)")
    ap.add_argument("--repeat", type=int, default=3, help="passes over the query mix (first is warm-up)")
    args = ap.parse_args()

    corpus = sentences()
    path = args.keep or Path(tempfile.mkdtemp(prefix="owd-bench-search-"))
    result: dict[str, object] = {"docs": args.docs, "languages": len(corpus), "python": platform.python_version(),
                                 "machine": platform.machine(), "cpus": __import__("os").cpu_count()}
    with EmbeddedBackend(path) as b:
        if b.count() == args.docs:
            print(f"reusing the index in {path}")
        else:
            b.clear()
            t0 = time.perf_counter()
            batch: list[Document] = []
            for doc in make_docs(args.docs, corpus):
                batch.append(doc)
                if len(batch) == 10_000:
                    b.add(batch)
                    batch = []
            b.add(batch)
            secs = time.perf_counter() - t0
            result["index_seconds"] = round(secs, 2)
            result["index_docs_per_s"] = round(args.docs / secs)
            print(f"indexed {args.docs} pages in {secs:.1f} s ({args.docs / secs:.0f} pages/s)")
    # queries run on a reopened index: the writer's background merges are finished, as when serving
    with EmbeddedBackend(path, create=False) as b:
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        result["index_mb"] = round(size / 1e6, 1)
        kinds = queries(corpus)
        latency: dict[str, dict[str, float]] = {}
        for name, qs in kinds.items():
            took: list[float] = []
            totals: list[int] = []
            for rep in range(args.repeat):
                for q in qs:
                    t0 = time.perf_counter()
                    r = b.search(q)
                    wall = (time.perf_counter() - t0) * 1000
                    if rep:
                        took.append(wall)
                        totals.append(r.total)
            latency[name] = {"p50_ms": round(pct(took, 50), 2), "p95_ms": round(pct(took, 95), 2),
                             "max_ms": round(max(took), 2), "median_total": statistics.median(totals)}
        result["latency"] = latency
    if not args.keep:
        shutil.rmtree(path, ignore_errors=True)
    print(f"index {result['index_mb']} MB, {result['languages']} languages")
    print(f"{'query':<16}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'hits':>9}")
    for name, row in latency.items():
        print(f"{name:<16}{row['p50_ms']:>9}{row['p95_ms']:>9}{row['max_ms']:>9}{row['median_total']:>9}")
    out = REPO / "bench" / "results" / "search.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
