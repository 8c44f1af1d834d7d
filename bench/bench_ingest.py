"""``owd ingest`` + ``owd process`` on a local WARC list against ``owd process`` on the same files as a crawl.

Why (the issue): "Benchmark: ingest records/s per core from a local WARC list against
``owd process`` on the same files (should be equal: same stages)." An ingested WARC file is
one more shard of ``owd process`` and goes through the same document steps (extract ->
language ID -> quality -> PII -> MinHash signature -> media) and the same campaign dedup
steps as the campaign's own WARC files; only ``ExtractStep`` differs, by adding
``source``/``source_record``/``source_labels`` to every document (extract/steps.py). So the
ingest path should cost what the crawl path costs, plus the fetch (copy + SHA-256).

Input: the real pages of shared/data/pages-A as ``--files`` WARC files of about equal size,
written once with our WarcWriter by bench_process_workers.build_warcs (the records
bench_process.py writes) into bench/results/process_workers/warc-<pages>-<files>/ and
reused. Default: all 990 pages, ``--files 4``, which the rotation by size makes four files
of ~7 MB (191 to 308 pages) and a 0.4 MB fifth with the last pages (27.9 MB in all).

Two sides, interleaved (A then B, then B then A, ...), ``--repeat`` times, each on a fresh
campaign folder under bench/results/ingest/ (same campaign name, so the ``campaign`` column
is the same):

* **A, the anchor (crawl path)**: the files hard-linked into ``<campaign>/warc/w0/`` as if
  crawled; ``owd process --workers 1`` (everything in one process), timed.
* **B, the subject (ingest path)**: no crawl; an ``ingest:`` source of kind ``warc`` listing
  the files by absolute local path with their ``sha256:``. ``owd ingest`` (copies each file
  into ``<campaign>/ingest/<source>/`` and checks its SHA-256) and then ``owd process
  --workers 1`` are timed separately; **B ingest+process** is their sum.

Every timed command is its own subprocess started the same way (``python -m owd.cli ...``),
so each pays its imports and model loads. At the start the benchmark checks, on a 5-page
WARC, that ``python -m owd.cli process`` accepts a campaign whose only input is ingested
files (it refused one until the commit "owd process runs on a campaign whose only input is
ingested"; the runs in bench/README.md were made with a wrapper that skipped that check on
both sides). The JSON says which command ran (``process_command``).

Measured per run (MB = 2**20 bytes):

* **documents**: rows in ``docs/*.parquet``; **kept**: those without a drop reason;
  **records**: WARC records read, the ``warc/records`` counters of ``docs/*.stats.json``.
* **seconds**: wall time of the subprocess (start to exit); **CPU s**: its user + system
  time from ``os.wait4`` (reaped descendants included).
* **records/s per core**, **docs/s per core**: records or documents / CPU s. With one worker
  the run is one busy core, so this is the speed a core gives whatever else runs on the
  machine; **docs/s** (wall) is documents / seconds.
* **peak MB**: the largest peak RSS (``VmHWM``) of any process of the run's tree, and
  **tree MB** the largest sum of current RSS over the tree in one sample; both sampled from
  /proc every 0.2 s (bench_process_workers._TreeSampler). Not ``ru_maxrss``: Linux carries it
  across fork+exec, so a child would report this benchmark's own peak (kept in the JSON).
* **other cores**: CPU that other processes used meanwhile / wall (from /proc/stat); a run
  above 0.2 is marked DISTURBED. The ratios below pair each B run with the A run next to
  it, so load that lasts the whole benchmark affects both about alike.
* **ratios** B / A of docs/s per core and of docs/s (wall): B process alone and B
  ingest+process; the median over the repetitions and each.

Equivalence (the benchmark exits 1 when it fails): every A run must give the same docs/ files
byte for byte, and so must every B run; then the first A and B runs are compared document by
document, keyed by URL: the same URLs, kept documents, language counts, and every column
equal except these, which differ by design:

* ``source``, ``source_record``, ``source_labels``: null/empty on the crawl path; on the
  ingest path the source name, ``<file>@<offset>`` and ``{"source_file": <file>}``
  (extract/provenance.py ``with_source``);
* ``worker``: ``w0`` (the crawl's worker folder) against null (an ingested file has no
  crawler worker);
* ``id``, ``warc_file``: ``id`` hashes url, ``warc_file`` and offset (owd.core.schema
  ``document_id``), so it would differ if the two paths named the file differently; both
  name it by its base name, which the copy keeps, so in practice they are equal (measured:
  the report lists ignored columns that turned out equal);
* ``dup_cluster_id`` is a document id (the cluster's representative), so it is compared as
  the representative's URL instead.

    python bench/bench_ingest.py                 # 990 pages in 4(+1) files, 3 interleaved repetitions (~7 min)
    python bench/bench_ingest.py --repeat 5      # more pairs
    python bench/bench_ingest.py --quick         # smoke run: first 120 pages, 1 repetition (~30 s)

Other options: ``--pages N`` (first N pages of pages-A, 0: all), ``--files N``,
``--wait-quiet S`` (before each timed command, wait up to S s for other processes to use
less than 0.3 of a core; default 0: the pairing is what makes the ratios fair),
``--out`` (default bench/results/ingest.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = RESULTS / "ingest"
SOURCE = "pages-a"  # the ingest source's name in campaign B
DISTURBED = 0.2  # other processes' cores per second above which a run is marked
# columns that differ by design between the two paths (see the module docstring)
IGNORED = ("id", "warc_file", "worker", "source", "source_record", "source_labels")
CLI_REFUSAL = "no closed WARC files"


# --------------------------------------------------------------------------- the process driver (a child)


# --------------------------------------------------------------------------- campaigns and runs


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def ingest_campaign_file(warcs: list[Path], digests: dict[str, str], folder: Path) -> Path:
    """Campaign B: no crawl (an empty warc/w0/), one ``ingest:`` source of kind warc."""
    from bench_process_workers import make_campaign

    source = {"name": SOURCE, "kind": "warc", "files": [str(w) for w in warcs],
              "sha256": {w.name: digests[w.name] for w in warcs}}
    return make_campaign([], folder, f"ingest:\n  - {json.dumps(source)}\n")  # JSON is YAML


def timed(cmd: list[str], label: str, wait: float) -> dict[str, Any]:
    """Run ``cmd`` as a subprocess from the repository root: wall, CPU (wait4), memory of
    its process tree (sampled), other processes' load; SystemExit when it fails."""
    from bench_process_workers import _TreeSampler
    from machine_load import system_busy_s, wait_quiet

    if wait > 0:
        wait_quiet(wait)
    busy0, t0 = system_busy_s(), time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sampler = _TreeSampler(proc.pid)
    assert proc.stdout is not None
    out = proc.stdout.read()  # read in full before waiting (a full pipe would block the child)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    busy = system_busy_s() - busy0
    sampled = sampler.stop()
    peaks = [mb for _, mb in sampler.peak.values()]
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: keep Popen from waiting again
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed ({proc.returncode}): {' '.join(cmd)}\n{text[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"seconds": wall, "cpu_s": cpu, "peak_mb": max(peaks, default=0.0),
            "tree_mb": sampled["tree_rss_peak_mb"], "processes": len(sampler.peak),
            "ru_maxrss_mb": usage.ru_maxrss / 1024, "other_cores": max(0.0, busy - cpu) / wall,
            "last_line": text.strip().splitlines()[-1] if text.strip() else ""}


def cli_accepts_ingest_only(tiny: Path) -> tuple[bool, str]:
    """Does ``python -m owd.cli process`` run a campaign whose only input is ingested files?"""
    folder = WORK / "probe"
    config = ingest_campaign_file([tiny], {tiny.name: sha256_of(tiny)}, folder)
    subprocess.run([sys.executable, "-m", "owd.cli", "ingest", str(config)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    got = subprocess.run([sys.executable, "-m", "owd.cli", "process", str(config), "--workers", "1"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last = got.stdout.strip().splitlines()[-1] if got.stdout.strip() else ""
    if got.returncode != 0 and CLI_REFUSAL not in got.stdout:
        raise SystemExit(f"owd process failed on the probe campaign:\n{got.stdout[-3000:]}")
    return got.returncode == 0, last


# --------------------------------------------------------------------------- outputs


def campaign_root(folder: Path) -> Path:
    from bench_process_workers import CAMPAIGN

    return folder / "data" / CAMPAIGN


def read_outputs(root: Path) -> dict[str, Any]:
    """Counts of one run's docs/: documents, kept, languages of the kept, WARC records;
    and the sha256 of each docs/ file (for the same-side check)."""
    import pyarrow.parquet as pq

    from owd.core.schema import drop_kind

    docs = root / "docs"
    stats: Counter[str] = Counter()
    for path in sorted(docs.glob("*.stats.json")):
        stats.update({k: v for k, v in json.loads(path.read_text()).items() if isinstance(v, int)})
    tables = [pq.read_table(p, columns=["drop_reason", "lang"]) for p in sorted(docs.glob("*.parquet"))]
    rows = [r for t in tables for r in t.to_pylist()]
    kept = [r for r in rows if r["drop_reason"] is None]
    return {"documents": len(rows), "kept": len(kept), "records": stats["warc/records"],
            "extract_documents": stats["extract/documents"],
            "languages": dict(Counter(r["lang"] for r in kept).most_common()),
            "drop_reasons": dict(Counter(drop_kind(r["drop_reason"]) for r in rows
                                         if r["drop_reason"] is not None).most_common()),
            "files": {p.name: sha256_of(p) for p in sorted(docs.iterdir()) if p.is_file()}}


def compare_paths(root_a: Path, root_b: Path) -> dict[str, Any]:
    """Document by document, keyed by URL: which columns differ between the crawl path (A)
    and the ingest path (B), and how many documents each."""
    import pyarrow.parquet as pq

    def load(root: Path) -> dict[str, dict[str, Any]]:
        rows = [r for p in sorted((root / "docs").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
        by_url = {r["url"]: r for r in rows}
        if len(by_url) != len(rows):
            raise SystemExit(f"{root}: {len(rows) - len(by_url)} URL(s) twice; the comparison keys on URL")
        url_of = {r["id"]: r["url"] for r in rows}
        for r in rows:  # a cluster id is a document id: compare the representative's URL
            r["dup_cluster_id"] = url_of.get(r["dup_cluster_id"], r["dup_cluster_id"])
        return by_url

    a, b = load(root_a), load(root_b)
    common = a.keys() & b.keys()
    columns = sorted({c for r in a.values() for c in r} | {c for r in b.values() for c in r})
    differing: dict[str, int] = {}
    examples: dict[str, list[Any]] = {}
    for column in columns:
        diff = [u for u in sorted(common) if a[u].get(column) != b[u].get(column)]
        if diff:
            differing[column] = len(diff)
            u = diff[0]
            examples[column] = [u, repr(a[u].get(column))[:160], repr(b[u].get(column))[:160]]
    unexpected = {c: n for c, n in differing.items() if c not in IGNORED}
    same_text = sum(1 for u in common if a[u]["text"] == b[u]["text"])
    return {"urls_a": len(a), "urls_b": len(b), "only_a": sorted(a.keys() - b.keys())[:10],
            "only_b": sorted(b.keys() - a.keys())[:10], "same_text": same_text, "common": len(common),
            "differing_columns": differing, "unexpected_columns": unexpected, "examples": examples,
            "equivalent": not unexpected and a.keys() == b.keys()}


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=0, help="first N pages of pages-A (0: all 990)")
    ap.add_argument("--files", type=int, default=4, help="WARC files to split them into")
    ap.add_argument("--repeat", type=int, default=3, help="pairs of runs (A, B), order alternating")
    ap.add_argument("--quick", action="store_true", help="smoke run: 120 pages, 1 repetition")
    ap.add_argument("--wait-quiet", type=float, default=0.0, help="wait up to S s for a quiet machine per command")
    ap.add_argument("--out", type=Path, default=RESULTS / "ingest.json")
    args = ap.parse_args()
    if args.quick:
        args.pages, args.repeat = args.pages or 120, 1

    sys.path.insert(0, str(ROOT))
    from bench_process_workers import build_warcs, make_campaign

    from owd.shared_data import shared_data_dir

    started = time.perf_counter()
    data = shared_data_dir()
    if data is None:
        print("needs ../shared/data (pages-A)", file=sys.stderr)
        return 2
    warcs = build_warcs(data / "pages-A", args.pages, args.files)
    digests = {w.name: sha256_of(w) for w in warcs}
    mb = sum(w.stat().st_size for w in warcs) / 2**20
    print(f"{len(warcs)} WARC file(s), {mb:.1f} MB, in {warcs[0].parent.relative_to(ROOT)}", flush=True)

    (tiny,) = build_warcs(data / "pages-A", 5, 1)
    cli_ok, cli_said = cli_accepts_ingest_only(tiny)
    if not cli_ok:
        raise SystemExit(f"`python -m owd.cli process` refuses an ingest-only campaign: {cli_said}")
    process_cmd = [sys.executable, "-m", "owd.cli", "process", "{config}", "--workers", "1"]

    def process(config: Path, label: str) -> dict[str, Any]:
        return timed([str(config) if a == "{config}" else a for a in process_cmd], label, args.wait_quiet)

    runs: dict[str, list[dict[str, Any]]] = {"A": [], "B": []}
    for rep in range(args.repeat):
        for side in ("A", "B") if rep % 2 == 0 else ("B", "A"):
            folder = WORK / f"run-{side}{rep + 1}"
            if side == "A":
                config = make_campaign(warcs, folder)
                run: dict[str, Any] = {"process": process(config, f"A{rep + 1} process")}
            else:
                config = ingest_campaign_file(warcs, digests, folder)
                fetch = timed([sys.executable, "-m", "owd.cli", "ingest", str(config)], f"B{rep + 1} ingest",
                              args.wait_quiet)
                run = {"ingest": fetch, "process": process(config, f"B{rep + 1} process")}
                run["total"] = {"seconds": fetch["seconds"] + run["process"]["seconds"],
                                "cpu_s": fetch["cpu_s"] + run["process"]["cpu_s"],
                                "peak_mb": max(fetch["peak_mb"], run["process"]["peak_mb"]),
                                "tree_mb": max(fetch["tree_mb"], run["process"]["tree_mb"]),
                                "other_cores": (fetch["other_cores"] * fetch["seconds"] + run["process"]["other_cores"]
                                                * run["process"]["seconds"]) / (fetch["seconds"] + run["process"]["seconds"])}
            run["rep"], run["order"], run["folder"] = rep + 1, 1 if (side == "A") == (rep % 2 == 0) else 2, str(folder)
            out = read_outputs(campaign_root(folder))
            run["outputs"] = out
            for step in ("ingest", "process", "total"):
                if step in run:
                    r = run[step]
                    r["records_per_core_s"] = out["records"] / r["cpu_s"]
                    r["docs_per_core_s"] = out["documents"] / r["cpu_s"]
                    r["docs_per_s"] = out["documents"] / r["seconds"]
            runs[side].append(run)
            p = run["process"]
            extra = (f"; ingest {run['ingest']['seconds']:.1f} s, CPU {run['ingest']['cpu_s']:.1f} s"
                     if side == "B" else "")
            print(f"  {rep + 1}/{args.repeat} {side}: {out['documents']} docs ({out['kept']} kept), "
                  f"{out['records']} records; process {p['seconds']:.1f} s, CPU {p['cpu_s']:.1f} s, "
                  f"{p['docs_per_core_s']:.1f} docs/s per core, peak {p['peak_mb']:.0f} MB, "
                  f"other cores {p['other_cores']:.2f}{'  DISTURBED' if p['other_cores'] > DISTURBED else ''}"
                  f"{extra}", flush=True)

    # ---- equivalence: each side against itself byte for byte, then A against B by document
    same_side = {side: all(r["outputs"]["files"] == rs[0]["outputs"]["files"] for r in rs) for side, rs in runs.items()}
    comparison = compare_paths(campaign_root(Path(runs["A"][0]["folder"])), campaign_root(Path(runs["B"][0]["folder"])))
    oa, ob = runs["A"][0]["outputs"], runs["B"][0]["outputs"]
    counts_equal = {k: oa[k] == ob[k] for k in ("documents", "kept", "records", "extract_documents",
                                                "languages", "drop_reasons")}
    equivalent = comparison["equivalent"] and all(counts_equal.values()) and all(same_side.values())

    # ---- ratios, paired by repetition
    def ratio(step: str, key: str) -> list[float]:
        return [b[step][key] / a["process"][key] for a, b in zip(runs["A"], runs["B"])]

    ratios = {f"{step}_{key}": ratio(step, key) for step in ("process", "total")
              for key in ("docs_per_core_s", "docs_per_s")}

    def med(rows: list[dict[str, Any]], step: str, key: str) -> float:
        return statistics.median(r[step][key] for r in rows)

    def each(values: list[float], fmt: str = ".3f") -> str:
        return f"{statistics.median(values):{fmt}}" + (f" ({', '.join(f'{v:{fmt}}' for v in values)})"
                                                       if len(values) > 1 else "")

    lines = ["| side | step | documents | records | seconds | CPU s | records/s per core | docs/s per core "
             "| docs/s | peak MB | tree MB | other cores |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for side, step, label in (("A", "process", "A crawl path"), ("B", "ingest", "B ingest path"),
                              ("B", "process", "B ingest path"), ("B", "total", "B ingest path")):
        rows = runs[side]
        name = {"process": "`owd process`", "ingest": "`owd ingest` (copy + SHA-256)",
                "total": "ingest + process"}[step]
        lines.append(f"| {label} | {name} | {rows[0]['outputs']['documents']} | {rows[0]['outputs']['records']} "
                     f"| {med(rows, step, 'seconds'):.1f} | {med(rows, step, 'cpu_s'):.1f} "
                     f"| {med(rows, step, 'records_per_core_s'):.1f} | {med(rows, step, 'docs_per_core_s'):.1f} "
                     f"| {med(rows, step, 'docs_per_s'):.1f} | {med(rows, step, 'peak_mb'):.0f} "
                     f"| {med(rows, step, 'tree_mb'):.0f} | {med(rows, step, 'other_cores'):.2f} |")
    title = f"medians of {args.repeat} interleaved pairs" if args.repeat > 1 else "one pair"
    print(f"\n{len(warcs)} WARC files, {mb:.1f} MB, 1 worker; {title}\n")
    print("\n".join(lines))
    print("\nB / A, paired by repetition (median, then each):")
    print(f"  docs/s per core, process only:      {each(ratios['process_docs_per_core_s'])}")
    print(f"  docs/s per core, ingest + process:  {each(ratios['total_docs_per_core_s'])}")
    print(f"  docs/s (wall), process only:        {each(ratios['process_docs_per_s'])}")
    print(f"  docs/s (wall), ingest + process:    {each(ratios['total_docs_per_s'])}")
    print("\neach run (seconds / CPU s / docs/s per core / peak MB / other cores):")
    for rep in range(args.repeat):
        a, b = runs["A"][rep], runs["B"][rep]
        print(f"  rep {rep + 1} ({'A first' if a['order'] == 1 else 'B first'}): "
              f"A process {a['process']['seconds']:.1f} / {a['process']['cpu_s']:.1f} / "
              f"{a['process']['docs_per_core_s']:.1f} / {a['process']['peak_mb']:.0f} / {a['process']['other_cores']:.2f}; "
              f"B ingest {b['ingest']['seconds']:.1f} / {b['ingest']['cpu_s']:.1f} / - / "
              f"{b['ingest']['peak_mb']:.0f} / {b['ingest']['other_cores']:.2f}; "
              f"B process {b['process']['seconds']:.1f} / {b['process']['cpu_s']:.1f} / "
              f"{b['process']['docs_per_core_s']:.1f} / {b['process']['peak_mb']:.0f} / {b['process']['other_cores']:.2f}")
    disturbed = [f"{side}{r['rep']} {step}" for side, rs in runs.items() for r in rs
                 for step in ("ingest", "process") if step in r and r[step]["other_cores"] > DISTURBED]
    if disturbed:
        print(f"disturbed (other cores > {DISTURBED}): {', '.join(disturbed)}")

    print(f"\noutputs: each side's docs/ byte-identical across its runs: A {'yes' if same_side['A'] else 'NO'}, "
          f"B {'yes' if same_side['B'] else 'NO'}")
    print(f"  A vs B: documents {oa['documents']} / {ob['documents']}, kept {oa['kept']} / {ob['kept']}, "
          f"records {oa['records']} / {ob['records']}, languages (kept) "
          f"{'equal' if counts_equal['languages'] else 'DIFFER: ' + str(oa['languages']) + ' vs ' + str(ob['languages'])}, "
          f"same text for {comparison['same_text']} of {comparison['common']} URLs "
          f"({comparison['urls_a']} / {comparison['urls_b']} URLs)")
    expected = {c: n for c, n in comparison["differing_columns"].items() if c in IGNORED}
    print(f"  columns that differ by design (ignored): "
          f"{', '.join(f'{c} ({n} docs)' for c, n in expected.items()) or 'none'}; "
          f"equal although ignored: {', '.join(c for c in IGNORED if c not in expected) or 'none'}")
    if comparison["unexpected_columns"] or comparison["only_a"] or comparison["only_b"]:
        print(f"  UNEXPECTED differences: {comparison['unexpected_columns']}; only in A: {comparison['only_a']}; "
              f"only in B: {comparison['only_b']}")
        for column, example in comparison["examples"].items():
            if column not in IGNORED:
                print(f"    {column}: {example[0]}: A {example[1]} / B {example[2]}")
    print(f"  equivalent: {'yes' if equivalent else 'NO'}")

    total_s = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "bench": "ingest", "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "cpus": os.cpu_count(), "quick": args.quick,
        "warcs": [str(w.relative_to(ROOT)) for w in warcs], "warc_mb": round(mb, 1),
        "pages": args.pages or "all", "files": len(warcs), "repeat": args.repeat,
        "process_command": " ".join(process_cmd), "cli_accepts_ingest_only": cli_ok, "cli_probe_said": cli_said,
        "runs": runs, "table_markdown": "\n".join(lines),
        "ratios_b_over_a": {k: {"median": statistics.median(v), "each": v} for k, v in ratios.items()},
        "same_side_identical": same_side, "counts_equal": counts_equal, "comparison": comparison,
        "ignored_columns": list(IGNORED), "equivalent": equivalent, "benchmark_s": round(total_s, 1)}, indent=1))
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} "
          f"(benchmark {total_s:.0f} s)")
    return 0 if equivalent else 1


if __name__ == "__main__":
    sys.exit(main())
