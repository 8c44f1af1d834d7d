"""Distributed crawl scaling: 1 vs 2 crawler actors on a local Ray instance, same test web.

Both runs crawl the same bulk test web (``--hosts`` hosts x ``--pages`` pages, politeness
delay off, as in bench_crawl.py), each against a freshly started server process
(bench_crawl's ``Server``, pre-rendered pages by default so the server costs little CPU),
with ``owd crawl --ray --crawlers N``. pages/s = HTML pages fetched / the crawl span
(first crawler's Scrapy start to last crawler's finish, from their stats.json), so Ray's
start-up (~3-5 s here) is reported apart, as ``overhead_s``.

On this 2-core machine the two crawlers share the cores with each other and with the test
web, so the ratio says how much of a second core the split uses, not how a cluster scales.

    python bench/bench_distributed_crawl.py                 # 40 hosts x 100 pages, 1 vs 2 actors
    python bench/bench_distributed_crawl.py --repeat 2      # alternate the order, medians

Results: a table on stdout and JSON in ``bench/results/distributed_crawl.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_crawl import Server, write_campaign

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def _ts(value: str) -> float:
    return dt.datetime.fromisoformat(value).timestamp()


def crawl_once(crawlers: int, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    folder = workdir / f"c{crawlers}-{time.time_ns()}"
    server = Server(workdir, args)
    try:
        campaign = write_campaign(folder, server.port, args)
        started = time.time()
        proc = subprocess.run([sys.executable, "-m", "owd.cli", "crawl", str(campaign), "--ray",
                               "--crawlers", str(crawlers)], cwd=ROOT, capture_output=True, text=True)
        wall = time.time() - started
    finally:
        server_facts = server.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"crawl with {crawlers} actor(s) failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    stats = [json.loads(p.read_text()) for p in sorted((folder / "data" / "bench" / "crawl").glob("w*/stats.json"))]
    pages = sum(int(s.get("pages/fetched", 0)) for s in stats)
    span = max(_ts(s["finish_time"]) for s in stats) - min(_ts(s["start_time"]) for s in stats)
    expected = args.hosts * (args.pages + 1)
    shutil.rmtree(folder, ignore_errors=True)
    return {"crawlers": crawlers, "pages": pages, "expected_pages": expected, "span_s": round(span, 2),
            "wall_s": round(wall, 2), "overhead_s": round(wall - span, 2), "pages_per_s": round(pages / span, 1),
            "per_crawler_pages": [int(s.get("pages/fetched", 0)) for s in stats], "server": server_facts}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--pages", type=int, default=100, help="pages per host")
    ap.add_argument("--per-host", type=int, default=8, help="concurrent requests per host")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--server", choices=["cached", "live"], default="cached")
    ap.add_argument("--server-log", action="store_true")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="owd-bench-dcrawl-") as tmp:
        for i in range(args.repeat):
            for n in ((1, 2) if i % 2 == 0 else (2, 1)):
                run = crawl_once(n, Path(tmp), args)
                runs.append(run)
                print(f"  {n} crawler(s): {run['pages']} pages in {run['span_s']} s "
                      f"({run['pages_per_s']} pages/s), +{run['overhead_s']} s start-up", flush=True)
    med = {n: statistics.median(r["pages_per_s"] for r in runs if r["crawlers"] == n) for n in (1, 2)}
    ratio = med[2] / med[1]
    complete = all(r["pages"] >= r["expected_pages"] for r in runs)
    print()
    print(f"{'crawlers':>8} {'pages/s (median)':>17} {'span s':>8} {'start-up s':>10}")
    for n in (1, 2):
        rs = [r for r in runs if r["crawlers"] == n]
        print(f"{n:>8} {med[n]:>17.1f} {statistics.median(r['span_s'] for r in rs):>8.1f} "
              f"{statistics.median(r['overhead_s'] for r in rs):>10.1f}")
    print(f"scaling 2 vs 1 actors: {ratio:.2f}x on {platform.machine()} with 2 cores shared with the test web; "
          f"every page fetched: {complete}")
    out = {"bench": "distributed_crawl", "hosts": args.hosts, "pages_per_host": args.pages,
           "per_host": args.per_host, "concurrency": args.concurrency, "runs": runs,
           "median_pages_per_s": med, "ratio_2_vs_1": round(ratio, 3), "complete": complete,
           "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()}}
    (RESULTS / "distributed_crawl.json").write_text(json.dumps(out, indent=1))
    print(f"JSON: {RESULTS / 'distributed_crawl.json'}")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
