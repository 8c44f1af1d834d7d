"""``owd process``: documents/s on one worker, two local worker processes and Ray, same WARCs, one run.

Why: ``owd process`` runs its pipeline through an executor (owd/executors.py), and the
choice must change the speed, never the files. This measures what the second core buys
with each executor on this 2-core machine, and what each costs in memory:

* **local1**: ``LocalExecutor(1)``, every task in the driver process (one model load).
* **local2**: ``LocalExecutor(2)``, a pool of 2 ``spawn`` worker processes. The pool
  starts inside the ``process_campaign`` call (at its first map), so its start-up
  (2 interpreters, imports, model loads) is part of the measured time, as it is for a
  user of ``owd process --workers 2``.
* **ray**: ``RayExecutor(None)``, a private local Ray instance (``num_cpus`` = CPUs, so
  2 tasks at a time). Its start-up (``ray.init``) is timed apart (``init s``): a command
  pays it once, however many stages it runs (``owd run``).

Input: the real pages of shared/data/pages-A (990 pages, 143 MB of HTML), written with our
``owd.crawler.warc.WarcWriter`` as ``--shards`` WARC files of about equal size (rotation by
size) into bench/results/process_workers/warc-<pages>-<shards>/ (once; reused). One WARC
file is one shard, so the shard count bounds the parallelism; 8 shards of ~124 pages keep
both workers busy until the last two.

Each run is a fresh subprocess (the driver) on a fresh campaign directory (the WARC files
hard-linked in, no docs/ or dedup/ yet: no shard is skipped, and the driver checks it),
so every variant pays its imports and model loads.

**docs/s** = documents written / seconds of the ``process_campaign`` call (shards +
dedup + apply). **incl init** adds Ray's start-up. **shards s** is the time to the start
of the dedup phase; **dedup s** the rest. **close s** is the executor's shut-down after
the call (pool join, ``ray.shutdown``), outside docs/s. **wall s** is the driver
subprocess from start to exit (imports, model loads, Ray start and stop included). The
ratios (local2 / local1, ray / local1) are medians over repetitions; the order of the
variants rotates per repetition. After each run every file under docs/ and dedup/ is
hashed; all runs must match the first byte for byte (``outputs identical``), or the
benchmark exits with status 1 (after printing and writing its results).

CPU and load (from /proc, as in the other process benchmarks): **CPU s** is the run's
own CPU time (the driver and every descendant: pool workers, Ray's GCS, raylet and
workers; sampled every 0.2 s); **other cores** = (machine CPU - own CPU) / wall, the
load other processes added; above 0.2 the run is marked DISTURBED. Before each run the
benchmark waits up to ``--wait-quiet`` s for the machine to go quiet.

Memory (MB = 2**20 bytes):

* **driver MB**: peak RSS (``VmHWM``) of the driver process itself, read at its end.
  Not ``ru_maxrss``: Linux carries that across fork+exec, so the driver would report the
  benchmark parent's peak as its own. For local1 this is the whole run's memory.
* **child MB**: the largest peak RSS (``VmHWM``) of any one descendant process (a pool
  worker; for Ray the largest of GCS, raylet and its workers), sampled from /proc every
  0.2 s (a process's peak in its last 0.2 s before exit can be missed).
* **tree MB**: the largest sum of current RSS over the driver and all its descendants in
  one sample: the run's footprint. Pages shared between processes (libraries, Ray's
  object store) count once per process, so it overstates the physical memory.
* The JSON also has ``ru_maxrss_children_mb``: ``getrusage(RUSAGE_CHILDREN).ru_maxrss``
  in the driver after the executor closed, the largest peak of any descendant the driver
  (or a descendant) reaped. For the pool that is the larger worker; it can include the
  driver's RSS at the moment the worker was forked (see above), and for Ray it covers
  only the processes that were reaped, so the table uses the sampled numbers.

    python bench/bench_process_workers.py                  # 990 pages, 8 shards, 1 round of 3 runs (~3 min)
    python bench/bench_process_workers.py --repeat 2       # two rounds, rotated order (~5 min)
    python bench/bench_process_workers.py --pages 120 --shards 4 --wait-quiet 0   # smoke run (~1 min)

Writes bench/results/process-workers.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from machine_load import CLK_TCK, system_busy_s, wait_quiet  # bench/ is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
WORK = RESULTS / "process_workers"
CAMPAIGN = "pagesa"
VARIANTS = ("local1", "local2", "ray")
BASELINE = "local1"
DISTURBED = 0.2  # other processes' cores per second above which a run is marked


def build_warcs(pages_dir: Path, limit: int, shards: int) -> list[Path]:
    """pages-A (first ``limit`` pages, 0: all) as about ``shards`` WARC files; reused."""
    from bench_process import page_entries, write_page  # the same records bench_process.py writes

    from owd.crawler.warc import WarcWriter

    entries = page_entries(pages_dir, limit)
    folder = WORK / f"warc-{len(entries)}-{shards}"
    done = folder / "complete.json"
    if done.exists():
        info = json.loads(done.read_text())
        return [folder / name for name in info["warcs"]]
    shutil.rmtree(folder, ignore_errors=True)
    bodies = [gzip.decompress((pages_dir / e["html_path"]).read_bytes()) for e in entries]
    # Rotation by compressed size: HTML compresses ~5x at level 6, so this gives ~``shards`` files.
    max_size = max(1, sum(len(b) for b in bodies) // 5 // shards)
    with WarcWriter(folder, "pagesA", fsync=False, max_size=max_size,
                    warcinfo={"operator": "owd bench", "description": "shared/data/pages-A"}) as writer:
        for e, body in zip(entries, bodies):
            write_page(writer, e, body)
    warcs = sorted(writer.finished)
    done.write_text(json.dumps({"warcs": [w.name for w in warcs], "pages": len(entries)}))
    return warcs


def make_campaign(warcs: list[Path], folder: Path, extra: str = "") -> Path:
    """A fresh campaign whose warc/w0/ holds (hard links to) the given WARC files;
    ``extra``: more YAML lines for the campaign file (e.g. a ``process:`` section)."""
    shutil.rmtree(folder, ignore_errors=True)  # no docs/ or dedup/ left from an earlier run
    warc_dir = folder / "data" / CAMPAIGN / "warc" / "w0"
    warc_dir.mkdir(parents=True)
    for w in warcs:
        os.link(w, warc_dir / w.name)
    config = folder / f"{CAMPAIGN}.yaml"
    config.write_text(f"campaign: {CAMPAIGN}\nseeds: {{urls: ['https://pages-a.invalid/']}}\n"
                      f"storage_root: {folder / 'data'}\n{extra}")
    return config


# --------------------------------------------------------------------------- child (the driver)


def _status_mb(field: str, pid: int | str = "self") -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of a process from /proc, in MB; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def child(variant: str, config: Path, out: Path) -> None:
    from owd.core.config import load_campaign
    from owd.executors import LocalExecutor
    from owd.process import process_campaign

    cfg = load_campaign(config)
    marks: list[tuple[float, str]] = []
    t0 = time.perf_counter()

    def progress(line: str) -> None:
        marks.append((time.perf_counter() - t0, line))

    executor: Any
    with ExitStack() as stack:
        t_init = time.perf_counter()
        if variant == "ray":
            from owd.ray_executor import RayExecutor

            executor = stack.enter_context(RayExecutor(None))
        else:
            executor = stack.enter_context(LocalExecutor(1 if variant == "local1" else 2))
        init_s = time.perf_counter() - t_init  # ~0 for a local executor: its pool starts at the first map
        workers = executor.workers
        t0 = time.perf_counter()
        summary = process_campaign(cfg, executor=executor, progress=progress)
        seconds = time.perf_counter() - t0
        t_close = time.perf_counter()
        stack.close()  # timed apart: joining the pool or stopping Ray is not processing
        close_s = time.perf_counter() - t_close
    if summary.shards_skipped or not summary.shards_done:
        # a skipped shard would not be processed by this variant: its speed would be wrong
        raise SystemExit(f"{variant}: {summary.shards_done} shard(s) done, {summary.shards_skipped} skipped")
    shards_s = next(t for t, line in marks if line.startswith("process: dedup"))
    own, reaped = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    out.write_text(json.dumps({
        "variant": variant, "workers": workers, "seconds": seconds, "init_s": init_s, "close_s": close_s,
        "shards_s": shards_s, "dedup_s": seconds - shards_s, "shards": summary.shards_done,
        "docs": summary.documents, "kept": summary.kept, "duplicates": summary.duplicates,
        "docs_per_s": summary.documents / seconds, "docs_per_s_incl_init": summary.documents / (seconds + init_s),
        "driver_peak_mb": _status_mb("VmHWM"), "driver_cpu_s": own.ru_utime + own.ru_stime,
        "ru_maxrss_children_mb": reaped.ru_maxrss / 1024, "reaped_children_cpu_s": reaped.ru_utime + reaped.ru_stime,
        "progress": [[round(t, 2), line] for t, line in marks]}))


# --------------------------------------------------------------------------- parent


class _TreeSampler(threading.Thread):
    """CPU seconds and memory of a process and all its descendants (pool workers; Ray's
    GCS, raylet and workers), sampled every 0.2 s from /proc. A process's last sample
    counts, so one that exits between samples loses at most 0.2 s of CPU (and any
    growth of its peak RSS in that time)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root, self.done = pid, threading.Event()
        self.cpu: dict[tuple[int, bytes], float] = {}  # (pid, start time): a reused pid is another process
        self.peak: dict[tuple[int, bytes], tuple[str, float]] = {}  # -> (command name, VmHWM MB)
        self.tree_rss_peak = 0.0
        self.start()

    def run(self) -> None:
        while not self.done.is_set():
            # /proc/<pid>/stat: command name in (), then ppid is field 4, utime/stime 14/15,
            # start time 22 (counted from the ")" that closes the name, which may hold spaces).
            stats: dict[int, tuple[int, float, bytes, str]] = {}
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    try:
                        with open(f"/proc/{entry.name}/stat", "rb") as fh:
                            head, tail = fh.read().rsplit(b")", 1)
                    except (OSError, ValueError):
                        continue
                    fields = tail.split()
                    name = head.split(b"(", 1)[-1].decode(errors="replace")
                    stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK,
                                              fields[19], name)
            tree, frontier = set(), {self.root}
            while frontier:
                tree |= frontier
                frontier = {pid for pid, (ppid, *_) in stats.items() if ppid in frontier} - tree
            rss = 0.0
            for pid in tree & stats.keys():
                _, cpu, start, name = stats[pid]
                self.cpu[(pid, start)] = cpu
                hwm = _status_mb("VmHWM", pid)
                if hwm:  # 0: gone meanwhile, keep what the last sample saw
                    self.peak[(pid, start)] = (name, hwm)
                rss += _status_mb("VmRSS", pid)
            self.tree_rss_peak = max(self.tree_rss_peak, rss)
            self.done.wait(0.2)

    def stop(self) -> dict[str, Any]:
        self.done.set()
        self.join()
        children = sorted(((name, mb) for (pid, _), (name, mb) in self.peak.items() if pid != self.root),
                          key=lambda item: -item[1])
        return {"tree_cpu_s": sum(self.cpu.values()), "tree_rss_peak_mb": self.tree_rss_peak,
                "child_peak_mb": children[0][1] if children else 0.0,
                "children": [[name, round(mb, 1)] for name, mb in children]}


def run_one(variant: str, warcs: list[Path], wait: float) -> tuple[dict[str, Any], Path]:
    folder = WORK / f"run-{variant}"
    config = make_campaign(warcs, folder)
    if wait > 0:
        wait_quiet(wait)
    out = folder / "result.json"
    busy0, t0 = system_busy_s(), time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", variant, "--config", str(config), "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = _TreeSampler(proc.pid)
    err = proc.stderr.read() if proc.stderr else ""  # read before waiting: a full pipe would block the child
    proc.wait()
    wall = time.perf_counter() - t0
    busy = system_busy_s() - busy0
    sampled = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{variant} run failed:\n{err[-4000:]}")
    result = json.loads(out.read_text())
    result.update(sampled)
    result["process_wall_s"] = wall
    result["cores_busy"] = busy / wall
    # CPU the rest of the machine used meanwhile; > 0.2 cores means a disturbed run.
    result["other_cores"] = max(0.0, busy - result["tree_cpu_s"]) / wall
    return result, folder / "data" / CAMPAIGN


def output_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under docs/ and dedup/, by path relative to the campaign."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for sub in ("docs", "dedup") for p in sorted((root / sub).rglob("*")) if p.is_file()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=0, help="first N pages of pages-A (0: all 990)")
    ap.add_argument("--shards", type=int, default=8, help="WARC files (shards) to split them into")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of the three runs (order rotates)")
    ap.add_argument("--wait-quiet", type=float, default=120.0, help="wait up to S s for a quiet machine per run")
    ap.add_argument("--out", type=Path, default=RESULTS / "process-workers.json")
    ap.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.config, args.out)
        return 0

    from owd.shared_data import shared_data_dir

    started = time.perf_counter()
    data = shared_data_dir()
    if data is None:
        raise SystemExit("needs ../shared/data (pages-A)")
    warcs = build_warcs(data / "pages-A", args.pages, args.shards)
    mb = sum(w.stat().st_size for w in warcs) / 1e6
    print(f"{len(warcs)} WARC file(s), {mb:.1f} MB, in {warcs[0].parent.relative_to(ROOT)}", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    reference: dict[str, str] | None = None  # the first run's output hashes; every run must match them
    different: set[str] = set()
    for rep in range(args.repeat):
        order = VARIANTS[rep % 3:] + VARIANTS[:rep % 3]  # each variant goes first in turn
        for variant in order:
            result, root = run_one(variant, warcs, args.wait_quiet)
            hashes = output_hashes(root)
            if reference is None:
                reference = hashes
            diff = sorted(k for k in reference.keys() | hashes.keys() if reference.get(k) != hashes.get(k))
            result["outputs_match_first_run"] = not diff
            different.update(diff)
            runs[variant].append(result)
            print(f"  {rep + 1}/{args.repeat} {variant:6s} {result['docs']} docs in {result['seconds']:.1f} s "
                  f"({result['docs_per_s']:.1f} docs/s; init {result['init_s']:.1f} s; "
                  f"CPU {result['tree_cpu_s']:.1f} s; other cores {result['other_cores']:.2f}"
                  f"{'  DISTURBED' if result['other_cores'] > DISTURBED else ''}"
                  f"{'  OUTPUTS DIFFER' if diff else ''})", flush=True)

    def ratios(variant: str, key: str) -> list[float]:
        return [a[key] / b[key] for a, b in zip(runs[variant], runs[BASELINE])]

    def med(variant: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[variant])

    ratio = {"local2_vs_local1": ratios("local2", "docs_per_s"), "ray_vs_local1": ratios("ray", "docs_per_s"),
             "ray_incl_init_vs_local1": ratios("ray", "docs_per_s_incl_init")}
    identical = not different
    header = (f"{'variant':8s} {'workers':>7s} {'docs':>5s} {'docs/s':>7s} {'incl init':>9s} {'x local1':>8s} "
              f"{'init s':>6s} {'shards s':>8s} {'dedup s':>7s} {'total s':>7s} {'close s':>7s} {'wall s':>6s} "
              f"{'CPU s':>6s} {'other cores':>11s} {'driver MB':>9s} {'child MB':>8s} {'tree MB':>7s}")
    title = "medians of the runs" if args.repeat > 1 else "one run each"
    print(f"\n{title}\n{header}\n{'-' * len(header)}")
    for v in VARIANTS:
        x = statistics.median(ratios(v, "docs_per_s"))
        print(f"{v:8s} {runs[v][0]['workers']:7d} {runs[v][0]['docs']:5d} {med(v, 'docs_per_s'):7.1f} "
              f"{med(v, 'docs_per_s_incl_init'):9.1f} {x:8.2f} {med(v, 'init_s'):6.1f} {med(v, 'shards_s'):8.1f} "
              f"{med(v, 'dedup_s'):7.1f} {med(v, 'seconds'):7.1f} {med(v, 'close_s'):7.1f} "
              f"{med(v, 'process_wall_s'):6.1f} {med(v, 'tree_cpu_s'):6.1f} {med(v, 'other_cores'):11.2f} "
              f"{med(v, 'driver_peak_mb'):9.0f} {med(v, 'child_peak_mb'):8.0f} {med(v, 'tree_rss_peak_mb'):7.0f}")

    def each(values: list[float]) -> str:
        return f"{statistics.median(values):.2f}" + (f" ({', '.join(f'{r:.2f}' for r in values)})"
                                                     if len(values) > 1 else "")

    print(f"\nlocal2 / local1 docs/s: {each(ratio['local2_vs_local1'])}; ray / local1: {each(ratio['ray_vs_local1'])}"
          f" (counting Ray's start-up: {each(ratio['ray_incl_init_vs_local1'])})")
    print(f"outputs byte-identical (docs/ and dedup/, {len(reference or {})} files, every run): "
          f"{'yes' if identical else 'NO'}")
    if not identical:
        print(f"  differing files: {', '.join(sorted(different)[:10])}")
    disturbed = [f"{v} {i + 1}" for v in VARIANTS for i, r in enumerate(runs[v]) if r["other_cores"] > DISTURBED]
    if disturbed:
        print(f"disturbed runs (other cores > {DISTURBED}): {', '.join(disturbed)}")
    import ray

    total_s = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "bench": "process_workers", "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "ray": ray.__version__, "cpus": os.cpu_count(),
        "warcs": [str(w.relative_to(ROOT)) for w in warcs], "warc_mb": round(mb, 1),
        "pages": args.pages or "all", "shards": len(warcs), "repeat": args.repeat, "runs": runs,
        "ratio_docs_per_s": {name: {"median": statistics.median(v), "each": v} for name, v in ratio.items()},
        "outputs_identical": identical, "different_files": sorted(different)[:50],
        "benchmark_s": round(total_s, 1)}, indent=1))
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} "
          f"(benchmark {total_s:.0f} s)")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
