"""Issue 7's benchmark in one run: crawl scaling (1 vs 2 crawler actors) and processing
(one local worker vs Ray with 2 workers), on this machine, one after the other.

It runs ``bench_distributed_crawl.py`` and ``bench_process_workers.py`` (each compares its
variants within its own run, rotating their order with ``--repeat``) and prints both
ratios in one table; the merged JSON goes to ``bench/results/ray.json``.

    python bench/bench_ray.py                 # one pair each
    python bench/bench_ray.py --repeat 3      # three pairs each, medians
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--hosts", type=int, default=40, help="test-web hosts for the crawl")
    ap.add_argument("--pages", type=int, default=100, help="pages per host for the crawl")
    args = ap.parse_args()
    steps = [
        ("crawl", [sys.executable, str(BENCH / "bench_distributed_crawl.py"), "--repeat", str(args.repeat),
                   "--hosts", str(args.hosts), "--pages", str(args.pages)], RESULTS / "distributed_crawl.json"),
        ("process", [sys.executable, str(BENCH / "bench_process_workers.py"), "--repeat", str(args.repeat)],
         RESULTS / "process-workers.json"),
    ]
    merged = {}
    for name, cmd, out in steps:
        print(f"== {name}: {' '.join(Path(c).name if c.endswith('.py') else c for c in cmd[1:])}", flush=True)
        if subprocess.run(cmd, cwd=BENCH.parent).returncode != 0:
            print(f"{name} benchmark failed", file=sys.stderr)
            return 1
        merged[name] = json.loads(out.read_text())
    crawl, process = merged["crawl"], merged["process"]
    print()
    print(f"{'benchmark':<34} {'baseline':>12} {'on Ray':>12} {'ratio':>7}")
    print(f"{'crawl pages/s, 1 vs 2 actors':<34} {crawl['median_pages_per_s']['1']:>12.1f} "
          f"{crawl['median_pages_per_s']['2']:>12.1f} {crawl['ratio_2_vs_1']:>7.2f}")
    import statistics

    local = statistics.median(r["docs_per_s"] for r in process["runs"]["local1"])
    ray = statistics.median(r["docs_per_s"] for r in process["runs"]["ray"])
    print(f"{'process docs/s, 1 local vs Ray (2)':<34} {local:>12.1f} {ray:>12.1f} "
          f"{process['ratio_docs_per_s']['ray_vs_local1']['median']:>7.2f}")
    print(f"(crawl: every page fetched {crawl['complete']}; process: outputs byte-identical "
          f"{process['outputs_identical']}; the process ratio counting Ray's start-up: "
          f"{process['ratio_docs_per_s']['ray_incl_init_vs_local1']['median']:.2f})")
    (RESULTS / "ray.json").write_text(json.dumps(merged, indent=1))
    print(f"JSON: {RESULTS / 'ray.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
