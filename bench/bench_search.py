"""Search latency and indexing throughput: the embedded (tantivy) index and OpenSearch, same
pages, same queries, one run.

Builds N pages from the real parallel sentences in shared/data/langid-A/by-lang (24
languages; a page = a title sentence + 8 following sentences, ~1 KB of text) or, when
that data is absent, from a generated vocabulary. Indexes them through each backend's
``add`` (the owd path: index record, per-language loose analysis, replace by id), then
runs a mix of queries and reports p50/p95/max of the wall time per query kind: single
word, two words, phrase, OR, exclusion, with filters, filters only, with all four
facets, deep page.

OpenSearch is also measured against a raw ``_bulk`` loop: the same documents (the JSON
our backend sends, built outside the timer), the same batch size, one ``_bulk`` POST
after another over one keep-alive connection (http.client), into an index made from
the same template; the target is that ``OpenSearchBackend.add`` reaches at least 0.8 of
its documents/s. Before both, an untimed warm-up indexes 5,000 pages, so neither run pays
for the JVM's warm-up.

    python bench/bench_search.py                          # 100,000 pages, both backends
    python bench/bench_search.py --docs 20000             # quicker
    python bench/bench_search.py --backends embedded      # one backend only
    python bench/bench_search.py --url http://127.0.0.1:9200   # an OpenSearch node already running
    python bench/bench_search.py --keep DIR               # keep the embedded index in DIR (reused if it has --docs pages)

Without ``--url`` (or ``$OWD_OPENSEARCH_URL``) a node is started with
scripts/opensearch_node.py on a free port (heap from OPENSEARCH_JAVA_OPTS, default
``-Xms1g -Xmx1g`` here) and stopped at the end. Writes bench/results/search.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import itertools
import json
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any, Iterable, Iterator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from owd.index.base import FACETS, SearchBackend, SearchQuery, to_record  # noqa: E402
from owd.index.embedded import EmbeddedBackend  # noqa: E402
from owd.index.opensearch import OpenSearchBackend  # noqa: E402
from owd.core.schema import Document, MediaItem  # noqa: E402
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


def make_docs(n: int, corpus: dict[str, list[str]], seed: int = 7) -> Iterator[Document]:
    rng = random.Random(seed)
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


BATCH_DOCS = 10_000  # documents handed to one add() call (the backend batches them again)


def index_docs(b: SearchBackend, docs: Iterable[Document]) -> int:
    batch: list[Document] = []
    n = 0
    for doc in docs:
        batch.append(doc)
        if len(batch) == BATCH_DOCS:
            n += b.add(batch)
            batch = []
    return n + b.add(batch)


def latency(b: SearchBackend, kinds: dict[str, list[SearchQuery]], repeat: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, qs in kinds.items():
        took: list[float] = []
        totals: list[int] = []
        for rep in range(repeat):
            for q in qs:
                t0 = time.perf_counter()
                r = b.search(q)
                wall = (time.perf_counter() - t0) * 1000
                if rep:  # the first pass warms caches
                    took.append(wall)
                    totals.append(r.total)
        out[name] = {"p50_ms": round(pct(took, 50), 2), "p95_ms": round(pct(took, 95), 2),
                     "max_ms": round(max(took), 2), "median_total": statistics.median(totals)}
    return out


def bench_embedded(args: argparse.Namespace, corpus: dict[str, list[str]],
                   kinds: dict[str, list[SearchQuery]]) -> dict[str, Any]:
    path = args.keep or Path(tempfile.mkdtemp(prefix="owd-bench-search-"))
    result: dict[str, Any] = {}
    with EmbeddedBackend(path) as b:
        if b.count() == args.docs:
            print(f"embedded: reusing the index in {path}")
        else:
            b.clear()
            t0 = time.perf_counter()
            index_docs(b, make_docs(args.docs, corpus))
            secs = time.perf_counter() - t0
            result["index_seconds"] = round(secs, 2)
            result["index_docs_per_s"] = round(args.docs / secs)
            print(f"embedded: indexed {args.docs} pages in {secs:.1f} s ({args.docs / secs:.0f} pages/s)")
    # queries run on a reopened index: the writer's background merges are finished, as when serving
    with EmbeddedBackend(path, create=False) as b:
        result["index_mb"] = round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 1)
        result["latency"] = latency(b, kinds, args.repeat)
    if not args.keep:
        shutil.rmtree(path, ignore_errors=True)
    return result


class RawBulk:
    """The baseline: POST prepared documents to ``_bulk``, batch after batch, on one
    keep-alive connection; no client library, no per-item bookkeeping beyond the
    ``errors`` flag."""

    def __init__(self, url: str) -> None:
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 9200, timeout=300)

    def request(self, method: str, path: str, body: bytes | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/x-ndjson" if path.endswith("_bulk") else "application/json"}
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = json.loads(resp.read() or b"{}")
        if resp.status >= 300 or data.get("errors"):
            raise RuntimeError(f"{method} {path}: HTTP {resp.status} {str(data)[:500]}")
        return data

    def close(self) -> None:
        self.conn.close()


class RawLoop:
    """Index into ``index`` (a concrete index made from owd's template) with the raw loop;
    the wire documents are built outside the timer."""

    def __init__(self, url: str, index: str, backend: OpenSearchBackend, batch: int) -> None:
        self.raw, self.index, self.backend, self.batch = RawBulk(url), index, backend, batch

    def add(self, docs: list[Document]) -> float:
        """Seconds spent sending ``docs`` (then refreshing, as our add() ends with a refresh)."""
        timed = 0.0
        for start in range(0, len(docs), self.batch):
            # untimed: the same JSON documents our add() sends
            wire = [self.backend._document(to_record(d)) for d in docs[start:start + self.batch]]
            t0 = time.perf_counter()
            lines = []
            for w in wire:
                lines.append(json.dumps({"index": {"_index": self.index, "_id": w["id"]}}, separators=(",", ":")))
                lines.append(json.dumps(w, ensure_ascii=False, separators=(",", ":")))
            self.raw.request("POST", "/_bulk", ("\n".join(lines) + "\n").encode("utf-8"))
            timed += time.perf_counter() - t0
        t0 = time.perf_counter()
        self.raw.request("POST", f"/{self.index}/_refresh")
        return timed + time.perf_counter() - t0

    def close(self) -> None:
        self.raw.close()


class Node:
    """An OpenSearch node: the one at --url, or one started here and stopped by close()."""

    def __init__(self, url: str | None) -> None:
        self.workdir: Path | None = None
        self.script: Any = None
        if url:
            self.url = url.rstrip("/")
            return
        import importlib.util

        spec = importlib.util.spec_from_file_location("owd_scripts_opensearch_node", REPO / "scripts" / "opensearch_node.py")
        assert spec and spec.loader
        self.script = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = self.script
        spec.loader.exec_module(self.script)
        os.environ.setdefault("OPENSEARCH_JAVA_OPTS", "-Xms1g -Xmx1g")
        nodes = self.script.cache_dir() / "nodes"
        nodes.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-", dir=nodes))
        self.workdir.chmod(0o755)
        info = self.script.start_node(port=0, workdir=self.workdir, timeout=240, die_with_parent=True, quiet=False)
        self.url = info.url

    def close(self) -> None:
        if self.workdir is not None:
            self.script.stop_node(workdir=self.workdir, quiet=True)
            shutil.rmtree(self.workdir, ignore_errors=True)


def bench_opensearch(args: argparse.Namespace, corpus: dict[str, list[str]],
                     kinds: dict[str, list[SearchQuery]]) -> dict[str, Any]:
    node = Node(args.url or os.environ.get("OWD_OPENSEARCH_URL"))
    tag = uuid.uuid4().hex[:6]
    result: dict[str, Any] = {"url": node.url, "batch_size": args.batch}
    made: list[OpenSearchBackend] = []
    try:
        def backend(name: str) -> OpenSearchBackend:
            b = OpenSearchBackend(node.url, f"owdbench-{name}-{tag}", batch_size=args.batch, timeout=300)
            made.append(b)
            return b

        info = backend("warmup")._client.info()
        result["version"] = info["version"]["number"]
        # untimed: JIT-compile the JVM's indexing and analysis paths for both runs below
        index_docs(made[0], make_docs(min(5000, args.docs), corpus, seed=11))
        made[0].drop()

        # Raw and ours alternate slice by slice (who goes first alternates too), so both see
        # the same machine: other work on it slows both alike instead of one run.
        raw_b, ours = backend("raw"), backend("ours")
        (raw_index,) = raw_b._concrete()
        loop = RawLoop(node.url, raw_index, raw_b, args.batch)
        raw_secs = secs = 0.0
        docs = make_docs(args.docs, corpus)
        for k in itertools.count():
            chunk = list(itertools.islice(docs, BATCH_DOCS))
            if not chunk:
                break
            for who in (("raw", "ours") if k % 2 == 0 else ("ours", "raw")):
                if who == "raw":
                    raw_secs += loop.add(chunk)
                else:
                    t0 = time.perf_counter()
                    ours.add(chunk)
                    secs += time.perf_counter() - t0
        loop.close()
        assert raw_b.count() == args.docs == ours.count(), (raw_b.count(), ours.count())
        raw_b.drop()
        raw_rate, rate = args.docs / raw_secs, args.docs / secs
        print(f"opensearch raw _bulk: {args.docs} pages in {raw_secs:.1f} s ({raw_rate:.0f} pages/s)")
        print(f"opensearch owd add: {args.docs} pages in {secs:.1f} s ({rate:.0f} pages/s), "
              f"{rate / raw_rate:.2f} of raw")
        result.update(index_seconds=round(secs, 2), index_docs_per_s=round(rate),
                      raw_bulk_seconds=round(raw_secs, 2), raw_bulk_docs_per_s=round(raw_rate),
                      ratio_to_raw=round(rate / raw_rate, 3))
        client = ours._client
        client.indices.refresh(index=ours.index)
        stats = client.indices.stats(index=ours.index, metric="store")
        result["index_mb"] = round(stats["_all"]["primaries"]["store"]["size_in_bytes"] / 1e6, 1)
        result["latency"] = latency(ours, kinds, args.repeat)
        ours.drop()
    finally:
        for b in made:
            try:
                b.drop()
            except Exception:  # noqa: BLE001 (best effort: the node may be gone)
                pass
            b.close()
        node.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="embedded index directory to keep (and reuse)")
    ap.add_argument("--repeat", type=int, default=3, help="passes over the query mix (first is warm-up)")
    ap.add_argument("--backends", default="embedded,opensearch", help="comma-separated: embedded, opensearch")
    ap.add_argument("--url", help="OpenSearch node to use (default $OWD_OPENSEARCH_URL, else start one)")
    ap.add_argument("--batch", type=int, default=1000, help="documents per _bulk request, ours and raw (default 1000)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "search.json")
    args = ap.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    corpus = sentences()
    kinds = queries(corpus)
    result: dict[str, Any] = {"docs": args.docs, "languages": len(corpus), "python": platform.python_version(),
                              "machine": platform.machine(), "cpus": os.cpu_count()}
    for name in backends:
        run = {"embedded": bench_embedded, "opensearch": bench_opensearch}[name]
        result[name] = run(args, corpus, kinds)

    print(f"\n{args.docs} pages, {result['languages']} languages")
    print(f"{'':<22}" + "".join(f"{n:>14}" for n in backends))
    for key, label in (("index_docs_per_s", "pages/s indexed"), ("index_mb", "index MB")):
        print(f"{label:<22}" + "".join(f"{result[n].get(key, '-'):>14}" for n in backends))
    if "opensearch" in result:
        os_r = result["opensearch"]
        print(f"opensearch raw _bulk: {os_r['raw_bulk_docs_per_s']} pages/s (batch {os_r['batch_size']}); "
              f"owd add = {os_r['ratio_to_raw']:.2f} of raw (target >= 0.8)")
    print(f"\n{'query (ms)':<16}" + "".join(f"{n[:10] + ' p50':>16}{n[:10] + ' p95':>16}" for n in backends)
          + f"{'hits':>9}")
    for kind in kinds:
        row = "".join(f"{result[n]['latency'][kind]['p50_ms']:>16}{result[n]['latency'][kind]['p95_ms']:>16}"
                      for n in backends)
        print(f"{kind:<16}{row}{result[backends[0]]['latency'][kind]['median_total']:>9}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
