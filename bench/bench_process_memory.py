"""``owd process`` on one WARC file of growing size: peak RSS, and docs/s per core end to end.

Why: a worker must not hold a shard's documents (issue 14: Common Crawl WARC files hold
~40,000 records). The reader hands documents on one at a time and the shard is written
in row groups, so the peak should stay where it is for a small file. This measures it.

Input: the real pages of shared/data/pages-A, repeated until a WARC file holds ``--pages``
pages, each copy under its own URL (``?copy=K`` appended), written once with our
``owd.crawler.warc.WarcWriter`` (as bench_process.py writes them) into
bench/results/process_memory/warc-<pages>/ and reused. The copies are exact duplicates,
so dedup has real work (990 clusters of ``pages / 990`` documents).

Each size runs ``python -m owd process <campaign> --workers 1`` (everything in one process:
the peak is one worker's) on a fresh campaign directory (the WARC hard-linked in) as a
subprocess, and reads its ``os.wait4`` rusage:

* **peak MB**: ``ru_maxrss`` of that process (MB = 2**20 bytes);
* **CPU s**: its user + system time (imports and model loads included, as a user pays them);
* **docs/s per core**: documents written (the campaign's ``docs/*.parquet`` rows) / CPU s.

The ratio is peak(largest) / peak(smallest). Target (issue 14): <= 1.2 for 20,000 pages
against 990; and >= 30 docs/s per core on the 990-page WARC (18.2 before issue 14).

    python bench/bench_process_memory.py                         # 990 and 20,000 pages (~15 min)
    python bench/bench_process_memory.py --sizes 990             # the end-to-end speed only (~40 s)
    python bench/bench_process_memory.py --sizes 990 3960 --extractor trafilatura-fast
    python bench/bench_process_memory.py --sizes 990 --before 622877f --repeat 2   # against an older commit

``--before REF`` also runs that commit's ``owd process`` (installed once with pip into
bench/results/process_memory/owd-REF, run with it first on PYTHONPATH) on the same WARC,
alternating with this code, and prints the ratio of docs/s per core (the median over
``--repeat`` pairs). 622877f is the last commit before issue 14 (18.2 docs/s per core then).

Writes bench/results/process-memory.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_process_workers import CAMPAIGN, make_campaign  # the same campaign layout (bench/ is sys.path[0])
from machine_load import system_busy_s, wait_quiet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
WORK = RESULTS / "process_memory"


def build_warc(pages_dir: Path, pages: int) -> Path:
    """One WARC file of ``pages`` pages: pages-A in manifest order, repeated, each copy
    under a distinct URL; reused when complete."""
    from bench_process import page_entries, write_page

    from owd.crawler.warc import WarcWriter

    folder = WORK / f"warc-{pages}"
    done = folder / "complete.json"
    if done.exists():
        return folder / json.loads(done.read_text())["warc"]
    shutil.rmtree(folder, ignore_errors=True)
    entries = page_entries(pages_dir, 0)
    bodies = [gzip.decompress((pages_dir / e["html_path"]).read_bytes()) for e in entries]
    with WarcWriter(folder, "pagesA", fsync=False, max_size=10**13,
                    warcinfo={"operator": "owd bench", "description": "shared/data/pages-A, repeated"}) as writer:
        for i in range(pages):
            copy, k = divmod(i, len(entries))
            entry = dict(entries[k])
            if copy:
                sep = "&" if "?" in entry["url"] else "?"
                entry["url"] = f"{entry['url']}{sep}copy={copy}"
            write_page(writer, entry, bodies[k])
    (warc,) = writer.finished
    done.write_text(json.dumps({"warc": warc.name, "pages": pages}))
    return warc


def install_before(ref: str) -> Path:
    """``ref``'s owd installed (not editable) into its own folder; reused."""
    target = WORK / f"owd-{ref}"
    if (target / "owd" / "__init__.py").exists():
        return target
    src = WORK / f"src-{ref}"
    shutil.rmtree(src, ignore_errors=True)
    subprocess.run(["git", "worktree", "add", "--force", "--detach", str(src), ref], cwd=ROOT, check=True)
    try:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(src)],
                       check=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(src)], cwd=ROOT, check=False)
    return target


def run_one(pages: int, warc: Path, extractor: str, before: Path | None = None) -> dict[str, Any]:
    import pyarrow.parquet as pq

    folder = WORK / f"run-{pages}{'-before' if before else ''}"
    # (an older commit may not know process.extractor: its runs keep their default)
    config = make_campaign([warc], folder, f"process: {{extractor: {extractor}}}\n" if before is None else "")
    env = dict(os.environ)
    if before is not None:  # the older install first on the path (the venv's editable owd after it)
        env["PYTHONPATH"] = str(before)
    busy0, wall0 = system_busy_s(), time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "owd", "process", str(config), "--workers", "1"],
                            cwd=ROOT if before is None else WORK, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()  # read in full before waiting (a full pipe would block the child)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - wall0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"owd process failed on {pages} pages:\n{err.decode(errors='replace')[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    docs = sum(pq.ParquetFile(p).metadata.num_rows for p in (folder / "data" / CAMPAIGN / "docs").glob("*.parquet"))
    other = max(0.0, (system_busy_s() - busy0 - cpu) / wall)
    return {"pages": pages, "docs": docs, "peak_mb": usage.ru_maxrss / 1024, "cpu_s": cpu, "wall_s": wall,
            "docs_per_core_s": docs / cpu, "other_cores": other}


def main() -> int:
    from owd.shared_data import shared_data_dir

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[990, 20_000], help="pages per WARC file")
    ap.add_argument("--extractor", default="trafilatura", help="process.extractor")
    ap.add_argument("--wait-quiet", type=float, default=120.0, help="s to wait for the machine to go quiet")
    ap.add_argument("--before", metavar="REF", help="also run this git commit's owd process, alternating")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size (and per side with --before)")
    ap.add_argument("--out", type=Path, default=RESULTS / "process-memory.json")
    args = ap.parse_args()
    shared = shared_data_dir()
    if shared is None:
        print("shared/data is absent: nothing to measure", file=sys.stderr)
        return 2
    before = install_before(args.before) if args.before else None
    rows, before_rows = [], []
    for pages in args.sizes:
        warc = build_warc(shared / "pages-A", pages)
        for rep in range(args.repeat):
            sides = [None, before] if before is not None else [None]
            for side in (sides if rep % 2 == 0 else sides[::-1]):
                wait_quiet(args.wait_quiet)
                row = run_one(pages, warc, args.extractor, side)
                row["rep"] = rep
                (rows if side is None else before_rows).append(row)
                who = "this code" if side is None else args.before
                print(f"{who:>10} {pages:>7} pages  {row['docs']:>7} docs  peak {row['peak_mb']:7.0f} MB  "
                      f"CPU {row['cpu_s']:7.1f} s  {row['docs_per_core_s']:6.1f} docs/s per core  "
                      f"other cores {row['other_cores']:.2f}", flush=True)
    peak = {p: max(r["peak_mb"] for r in rows if r["pages"] == p) for p in args.sizes}
    ratio = peak[args.sizes[-1]] / peak[args.sizes[0]]
    print(f"\npeak RSS {args.sizes[-1]} pages / {args.sizes[0]} pages: {ratio:.2f}x (target <= 1.2)")
    speed_ratio = None
    if before_rows:
        pairs = [(a["docs_per_core_s"], b["docs_per_core_s"]) for a in rows for b in before_rows
                 if a["pages"] == b["pages"] and a["rep"] == b["rep"]]
        speed_ratio = statistics.median(a / b for a, b in pairs)
        print(f"docs/s per core, this code / {args.before}: {speed_ratio:.2f}x (median of {len(pairs)} pairs)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"extractor": args.extractor, "rows": rows, "peak_ratio": ratio,
                                    "before": args.before, "before_rows": before_rows, "speed_ratio": speed_ratio,
                                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                                    "date": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
