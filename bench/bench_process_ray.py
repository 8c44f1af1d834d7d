"""``owd process``: documents/s of the local runner against the Ray runner (2 workers), same WARCs, one run.

Input: the real pages of shared/data/pages-A (990 pages, 143 MB of HTML), written with our
``owd.crawler.warc.WarcWriter`` as ``--shards`` WARC files of about equal size (rotation by
size) into bench/results/process_ray/warc-<pages>-<shards>/ (once; reused). One WARC file
is one shard, so the shard count bounds the parallelism; 8 shards of ~124 pages keep both
workers busy until the last two.

Each run is a fresh subprocess on a fresh campaign directory (the WARC files hard-linked
in), so both runners pay their imports and model loads:

* **local**: ``owd.process.process_campaign`` (one process).
* **ray**: ``owd.ray_cluster.connect(None)`` (a local Ray instance, ``num_cpus`` = 2, so an
  actor pool of 2 shard workers) then ``owd.ray_process.process_campaign_ray``. Ray's
  start-up is timed apart (``init s``).

**docs/s** = documents written / seconds of the ``process_campaign*`` call (shards +
dedup + apply). **docs/s incl. init** adds the Ray start-up. **shards s** is the time to
the start of the dedup phase; **dedup s** the rest (buckets, clusters, applying them to
every shard). The ratio (ray / local) is the median over repetitions, and the order of
the two runners alternates per repetition. After each pair the outputs (docs/ and dedup/,
every file) are compared byte for byte; a difference fails the benchmark.

Before each run the benchmark waits up to ``--wait-quiet`` s for other processes to go
quiet. **cores busy** is the whole machine's CPU use during the run (from /proc/stat);
**CPU s** is the run's own CPU time (the child process and every descendant: Ray's GCS,
raylet and workers, sampled every 0.2 s); **other cores** = (machine CPU - own CPU) / wall,
the load other processes added. Above 0.2 the run was disturbed (shared 2-core machine).

    python bench/bench_process_ray.py                  # 990 pages, 8 shards, 1 pair (~2 min)
    python bench/bench_process_ray.py --repeat 3       # three pairs, alternating order (~6 min)
    python bench/bench_process_ray.py --pages 200 --shards 4 --wait-quiet 0   # smoke run (~40 s)

Writes bench/results/process_ray.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from machine_load import CLK_TCK, system_busy_s, wait_quiet  # bench/ is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
WORK = RESULTS / "process_ray"
CAMPAIGN = "pagesa"
FETCH_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def build_warcs(pages_dir: Path, limit: int, shards: int) -> list[Path]:
    """pages-A (first ``limit`` pages, 0: all) as about ``shards`` WARC files; reused."""
    from bench_process import page_url  # the same URLs bench_process.py gives these pages

    from owd.crawler.warc import WarcWriter

    entries = [json.loads(line) for line in open(pages_dir / "manifest.jsonl", encoding="utf-8") if line.strip()]
    if limit:
        entries = entries[:limit]
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
            try:
                body.decode("utf-8")
                ctype = "text/html; charset=utf-8"
            except UnicodeDecodeError:  # no charset in the header, the page says it
                ctype = "text/html"
            writer.write_fetch(page_url(e["url"]), status=200, body=body, fetch_time=FETCH_TIME,
                               response_headers=[("Content-Type", ctype)])
    warcs = sorted(writer.finished)
    done.write_text(json.dumps({"warcs": [w.name for w in warcs], "pages": len(entries)}))
    return warcs


def make_campaign(warcs: list[Path], folder: Path) -> Path:
    """A campaign whose warc/w0/ holds (hard links to) the given WARC files."""
    shutil.rmtree(folder, ignore_errors=True)
    warc_dir = folder / "data" / CAMPAIGN / "warc" / "w0"
    warc_dir.mkdir(parents=True)
    for w in warcs:
        os.link(w, warc_dir / w.name)
    config = folder / f"{CAMPAIGN}.yaml"
    config.write_text(f"campaign: {CAMPAIGN}\nseeds: {{urls: ['https://pages-a.invalid/']}}\n"
                      f"storage_root: {folder / 'data'}\n")
    return config


# --------------------------------------------------------------------------- child


def child(runner: str, config: Path, out: Path) -> None:
    from owd.core.config import load_campaign

    cfg = load_campaign(config)
    marks: list[tuple[float, str]] = []
    init_s = 0.0
    if runner == "ray":
        from owd.ray_cluster import cluster_cpus, connect
        from owd.ray_process import process_campaign_ray

        t0 = time.perf_counter()
        with connect(None):
            init_s = time.perf_counter() - t0
            workers = cluster_cpus()
            t0 = time.perf_counter()
            summary = process_campaign_ray(cfg, progress=lambda line: marks.append((time.perf_counter() - t0, line)))
            seconds = time.perf_counter() - t0
    else:
        from owd.process import process_campaign

        workers = 1
        t0 = time.perf_counter()
        summary = process_campaign(cfg, progress=lambda line: marks.append((time.perf_counter() - t0, line)))
        seconds = time.perf_counter() - t0
    shards_s = next(t for t, line in marks if line.startswith("process: dedup"))
    out.write_text(json.dumps({
        "runner": runner, "workers": workers, "seconds": seconds, "init_s": init_s, "shards_s": shards_s,
        "dedup_s": seconds - shards_s, "shards": summary.shards_done, "docs": summary.documents,
        "kept": summary.kept, "duplicates": summary.duplicates, "docs_per_s": summary.documents / seconds,
        "docs_per_s_incl_init": summary.documents / (seconds + init_s),
        "progress": [[round(t, 2), line] for t, line in marks]}))


# --------------------------------------------------------------------------- parent


def run_one(runner: str, warcs: list[Path], wait: float) -> tuple[dict, Path]:
    folder = WORK / f"run-{runner}"
    config = make_campaign(warcs, folder)
    if wait > 0:
        wait_quiet(wait)
    out = folder / "result.json"
    busy0, t0 = system_busy_s(), time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", runner, "--config", str(config), "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    tree_cpu = _TreeCpu(proc.pid)
    err = proc.stderr.read() if proc.stderr else ""  # read before waiting: a full pipe would block the child
    proc.wait()
    wall = time.perf_counter() - t0
    busy = system_busy_s() - busy0
    if proc.returncode != 0:
        raise SystemExit(f"{runner} run failed:\n{err[-4000:]}")
    result = json.loads(out.read_text())
    result["process_wall_s"] = wall
    result["cores_busy"] = busy / wall
    result["tree_cpu_s"] = tree_cpu.stop()
    # CPU the rest of the machine used meanwhile; > 0.2 cores means a disturbed run.
    result["other_cores"] = max(0.0, busy - result["tree_cpu_s"]) / wall
    return result, folder / "data" / CAMPAIGN


class _TreeCpu(threading.Thread):
    """CPU seconds of a process and all its descendants (Ray's GCS, raylet and workers are
    the driver's descendants), sampled every 0.2 s: a process's last sample counts, so a
    worker that exits between samples loses at most 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root, self.seen, self.done = pid, {}, threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.is_set():
            # /proc/<pid>/stat: ppid is field 4, utime/stime 14/15, start time 22 (after the
            # ")" that closes the command name, which may itself hold spaces).
            stats = {}
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    try:
                        with open(f"/proc/{entry.name}/stat", "rb") as fh:
                            fields = fh.read().rsplit(b")", 1)[1].split()
                    except OSError:
                        continue
                    stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), fields[19])
            tree, frontier = set(), {self.root}
            while frontier:
                tree |= frontier
                frontier = {pid for pid, (ppid, _, _) in stats.items() if ppid in frontier} - tree
            for pid in tree & stats.keys():
                _, ticks, start = stats[pid]
                self.seen[(pid, start)] = ticks / CLK_TCK
            self.done.wait(0.2)

    def stop(self) -> float:
        self.done.set()
        self.join()
        return sum(self.seen.values())


def outputs(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for sub in ("docs", "dedup") for p in sorted((root / sub).rglob("*")) if p.is_file()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=0, help="first N pages of pages-A (0: all 990)")
    ap.add_argument("--shards", type=int, default=8, help="WARC files (shards) to split them into")
    ap.add_argument("--repeat", type=int, default=1, help="pairs of runs (order alternates)")
    ap.add_argument("--wait-quiet", type=float, default=120.0, help="wait up to S s for a quiet machine per run")
    ap.add_argument("--out", type=Path, default=RESULTS / "process_ray.json")
    ap.add_argument("--child", choices=["local", "ray"], help=argparse.SUPPRESS)
    ap.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.config, args.out)
        return

    from owd.shared_data import shared_data_dir

    data = shared_data_dir()
    if data is None:
        raise SystemExit("needs ../shared/data (pages-A)")
    warcs = build_warcs(data / "pages-A", args.pages, args.shards)
    mb = sum(w.stat().st_size for w in warcs) / 1e6
    print(f"{len(warcs)} WARC file(s), {mb:.1f} MB, in {warcs[0].parent.relative_to(ROOT)}", flush=True)
    runs: dict[str, list[dict]] = {"local": [], "ray": []}
    ratios, ratios_incl_init = [], []
    for rep in range(args.repeat):
        order = ["local", "ray"] if rep % 2 == 0 else ["ray", "local"]
        roots = {}
        for runner in order:
            result, roots[runner] = run_one(runner, warcs, args.wait_quiet)
            runs[runner].append(result)
            print(f"  {rep + 1}/{args.repeat} {runner:5s} {result['docs']} docs in {result['seconds']:.1f} s "
                  f"({result['docs_per_s']:.1f} docs/s; init {result['init_s']:.1f} s; "
                  f"CPU {result['tree_cpu_s']:.1f} s; other cores {result['other_cores']:.2f}"
                  f"{'  DISTURBED' if result['other_cores'] > 0.2 else ''})", flush=True)
        a, b = outputs(roots["local"]), outputs(roots["ray"])
        different = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        if different:
            raise SystemExit(f"outputs differ between the runners: {different[:10]}")
        ratios.append(runs["ray"][-1]["docs_per_s"] / runs["local"][-1]["docs_per_s"])
        ratios_incl_init.append(runs["ray"][-1]["docs_per_s_incl_init"] / runs["local"][-1]["docs_per_s_incl_init"])

    def med(runner: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[runner])

    header = (f"{'runner':8s} {'workers':>7s} {'docs':>6s} {'docs/s':>8s} {'incl init':>9s} {'init s':>7s} "
              f"{'shards s':>9s} {'dedup s':>8s} {'total s':>8s} {'CPU s':>7s} {'other cores':>11s}")
    print("\nmedians of the runs\n" + header + "\n" + "-" * len(header))
    for runner in ("local", "ray"):
        print(f"{runner:8s} {runs[runner][0]['workers']:7d} {runs[runner][0]['docs']:6d} "
              f"{med(runner, 'docs_per_s'):8.1f} {med(runner, 'docs_per_s_incl_init'):9.1f} "
              f"{med(runner, 'init_s'):7.1f} {med(runner, 'shards_s'):9.1f} {med(runner, 'dedup_s'):8.1f} "
              f"{med(runner, 'seconds'):8.1f} {med(runner, 'tree_cpu_s'):7.1f} {med(runner, 'other_cores'):11.2f}")
    print(f"\nray / local docs/s: {statistics.median(ratios):.2f} (each {', '.join(f'{r:.2f}' for r in ratios)}); "
          f"including Ray start-up: {statistics.median(ratios_incl_init):.2f}; outputs byte-identical: yes")
    import ray

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "bench": "process_ray", "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "ray": ray.__version__, "cpus": os.cpu_count(),
        "warcs": [str(w.relative_to(ROOT)) for w in warcs], "warc_mb": round(mb, 1),
        "pages": args.pages or "all", "repeat": args.repeat, "runs": runs,
        "ratio_docs_per_s": {"median": statistics.median(ratios), "each": ratios},
        "ratio_docs_per_s_incl_init": {"median": statistics.median(ratios_incl_init), "each": ratios_incl_init},
        "outputs_identical": True}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
