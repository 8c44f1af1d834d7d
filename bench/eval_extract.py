"""Extraction quality on the gold pages of shared/data/pages-A: P/R/F1 of snippets.

Configurations, all on the same pages:

* ``owd``: ``owd.extract.html.extract_document`` with default ``ExtractLimits``
  (what the pipeline runs; trafilatura without comments, one parse shared);
* ``owd+comments``: the same with ``include_comments=True``;
* ``trafilatura``: plain ``trafilatura.extract(html)`` with default settings
  (comments included), the reference we must not fall below.

Scoring is trafilatura's convention (see ``extract/snippet_eval.py``). Prints a
table (overall, then per language with n) and writes
bench/results/eval_extract.json. Pages run in ``--jobs`` processes.

    python bench/eval_extract.py [--configs owd trafilatura] [--jobs 2] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trafilatura  # noqa: E402

from owd.extract.html import ExtractLimits  # noqa: E402
from owd.extract.snippet_eval import EvalPage, evaluate, load_pages, owd_extractor  # noqa: E402
from owd.shared_data import shared_data_dir  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "eval_extract.json"
CONFIGS = ("owd", "owd+comments", "trafilatura")


def _run_one(args: tuple[str, EvalPage]) -> tuple[str, str | None, float, dict[str, int]]:
    config, page = args
    stats: Counter[str] = Counter()
    t0 = time.perf_counter()
    if config == "trafilatura":
        text = trafilatura.extract(page.html())
    else:
        limits = ExtractLimits(include_comments=config == "owd+comments")
        text = owd_extractor(limits, stats)(page)
    return page.id, text, time.perf_counter() - t0, dict(stats)


def _quiet() -> None:
    # trafilatura logs a warning for every page without main text
    logging.getLogger("trafilatura").setLevel(logging.ERROR)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--limit", type=int, default=0, help="only the first N pages (0: all)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    data = shared_data_dir()
    if data is None or not (data / "pages-A" / "manifest.jsonl").exists():
        sys.exit("shared/data/pages-A is not available here")
    pages = load_pages(data / "pages-A")
    if args.limit:
        pages = pages[: args.limit]
    by_id = {p.id: p for p in pages}
    _quiet()
    report: dict[str, object] = {"bench": "eval_extract", "pages": len(pages), "python": platform.python_version(),
                                 "trafilatura": trafilatura.__version__, "jobs": args.jobs, "configs": {}}
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=_quiet) as pool:
        # warm every worker up (imports, lazily built tables) so the first config is not charged for it
        list(pool.map(_run_one, [(c, pages[i % len(pages)]) for c in args.configs for i in range(args.jobs * 2)]))
        for config in args.configs:
            t0 = time.perf_counter()
            rows = list(pool.map(_run_one, [(config, p) for p in pages], chunksize=4))
            wall = time.perf_counter() - t0
            result = evaluate((by_id[pid], text) for pid, text, _, _ in rows)
            stats: Counter[str] = Counter()
            for _, _, _, s in rows:
                stats.update(s)
            cpu = sum(secs for _, _, secs, _ in rows)
            entry = {**result.as_dict(), "wall_s": round(wall, 1), "docs_per_s_per_process": round(len(rows) / cpu, 2),
                     "slowest_page_s": round(max(secs for _, _, secs, _ in rows), 2),
                     "dropped": {k: v for k, v in sorted(stats.items()) if "/dropped/" in k}}
            report["configs"][config] = entry  # type: ignore[index]
            o = result.overall
            print(f"{config}: P={o.precision:.4f} R={o.recall:.4f} F1={o.f1:.4f} acc={o.accuracy:.4f} "
                  f"n={o.pages} no_text={o.no_text} wall={wall:.0f}s "
                  f"({entry['docs_per_s_per_process']} docs/s per process)", flush=True)
    configs = report["configs"]  # type: ignore[assignment]
    langs = list(next(iter(configs.values()))["by_lang"])  # type: ignore[union-attr]
    header = f"{'lang':6} {'n':>4} " + " ".join(f"{c + ' P/R/F1':>26}" for c in configs)
    print("\n" + header)
    for lang in ["overall"] + langs:
        cells = []
        n = 0
        for c in configs:
            s = configs[c]["overall"] if lang == "overall" else configs[c]["by_lang"][lang]  # type: ignore[index]
            n = s["n"]
            cells.append(f"{s['precision']:.3f}/{s['recall']:.3f}/{s['f1']:.3f}".rjust(26))
        print(f"{lang:6} {n:4d} " + " ".join(cells))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
