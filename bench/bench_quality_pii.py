"""ms per document of the quality signals and of PII pseudonymisation, new against old, on pages-A.

The texts are what the pipeline hands these steps: each page of shared/data/pages-A extracted
by ``owd.extract.html.extract_document`` (text, title, description), labelled with the
manifest's language (``lang_auto``; ``und`` -> none). The old implementation is read from git
(``--old-ref``, default the last commit before the single-pass rewrite of issue 14) into a
temporary folder and imported from there, so the repository keeps one implementation.

In one process, ``--repeat`` rounds over all documents. The two implementations are
interleaved document by document (which one goes first alternates), so both see the same
machine load, which on a shared machine changes from second to second: per document,
``quality.annotate`` of each, then ``pii.annotate`` of each on its own fresh copy. Each call
is timed in CPU time of this thread (``time.thread_time``: waiting for the CPU is not
counted) and in wall time. The table shows the median over rounds of ms/doc and the
ratio old/new. Every document's outputs are compared: signals (floats to 1e-9 relative),
drop reason, PII counts and the pseudonymised text, title and description. Writes
bench/results/bench_quality_pii.json.

    python bench/bench_quality_pii.py [--repeat 5] [--limit N] [--jobs 2] [--old-ref REV]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine_load import system_busy_s  # noqa: E402

from owd.core.pii_config import PII_KINDS, PiiConfig  # noqa: E402
from owd.core.quality_config import QualityConfig  # noqa: E402
from owd.core.schema import Document  # noqa: E402
from owd.extract import pii as new_pii  # noqa: E402
from owd.extract import quality as new_quality  # noqa: E402
from owd.extract.html import ExtractLimits, extract_document  # noqa: E402
from owd.extract.snippet_eval import EvalPage, load_pages, page_record  # noqa: E402
from owd.shared_data import shared_data_dir  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "bench_quality_pii.json"
# The last commit with the implementation before the single-pass rewrite (issue 14).
OLD_REF = "7f2522144325795d0c8f9f135114543e49ee9b43"


def _extract(page: EvalPage) -> Document | None:
    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # one warning per page without text
    doc = extract_document(page_record(page), campaign="bench", worker=None, stats=Counter(), limits=ExtractLimits())
    if doc is not None:
        doc.lang = None if page.lang == "und" else page.lang
        doc.id = page.id
    return doc


def load_old(ref: str, folder: Path) -> tuple[ModuleType, ModuleType]:
    """The quality and PII modules as they were at ``ref``, imported under other names."""
    modules = []
    for name in ("quality", "pii"):
        source = subprocess.run(["git", "show", f"{ref}:extract/{name}.py"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
        path = folder / f"old_{name}.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(f"old_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
        modules.append(module)
    return modules[0], modules[1]


def timed(fn: Any, doc: Document, cfg: Any) -> tuple[float, float]:
    """(CPU s, wall s) of one call."""
    c0, w0 = time.thread_time(), time.perf_counter()
    fn(doc, cfg)
    return time.thread_time() - c0, time.perf_counter() - w0


def differences(old: Document, new: Document) -> list[str]:
    out = []
    if old.drop_reason != new.drop_reason:
        out.append(f"drop_reason {old.drop_reason!r} -> {new.drop_reason!r}")
    if set(old.quality) != set(new.quality):
        out.append(f"signal names {sorted(set(old.quality) ^ set(new.quality))}")
    for key in sorted(set(old.quality) & set(new.quality)):
        a, b = old.quality[key], new.quality[key]
        if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
            out.append(f"{key} {a!r} -> {b!r}")
    for name in ("text", "title", "description"):
        if getattr(old, name) != getattr(new, name):
            out.append(f"pseudonymised {name} differs")
    if [getattr(old.pii, k) for k in PII_KINDS] != [getattr(new.pii, k) for k in PII_KINDS]:
        out.append(f"PII counts {old.pii} -> {new.pii}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--limit", type=int, default=0, help="only the first N pages")
    ap.add_argument("--jobs", type=int, default=2, help="processes for the extraction (not timed)")
    ap.add_argument("--old-ref", default=OLD_REF)
    args = ap.parse_args()

    data = shared_data_dir()
    if data is None:
        raise SystemExit("shared/data is absent: this benchmark needs pages-A")
    pages = load_pages(data / "pages-A")[: args.limit or None]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max(1, args.jobs)) as pool:
        docs = [d for d in pool.map(_extract, pages, chunksize=10) if d is not None and d.text]
    print(f"{len(docs)} documents with text from {len(pages)} pages, extracted in {time.perf_counter() - t0:.0f} s",
          flush=True)

    q_cfg, p_cfg = QualityConfig(), PiiConfig(salt="bench-salt")
    with tempfile.TemporaryDirectory() as tmp:
        old_quality, old_pii = load_old(args.old_ref, Path(tmp))
    impls = {"old": (old_quality, old_pii), "new": (new_quality, new_pii)}
    clocks = ("cpu", "wall")
    # times[clock][impl][step] = ms/doc of each round
    times: dict[str, dict[str, dict[str, list[float]]]] = {
        c: {name: {"quality": [], "pii": []} for name in impls} for c in clocks}
    outputs: dict[str, list[Document]] = {}
    busy0, wall0 = system_busy_s(), time.perf_counter()
    for r in range(args.repeat):
        # PII rewrites the text: every round starts from the extracted documents
        copies = {name: copy.deepcopy(docs) for name in impls}
        total = {(c, name, step): 0.0 for c in clocks for name in impls for step in ("quality", "pii")}
        for i in range(len(docs)):
            order = ("old", "new") if (i + r) % 2 == 0 else ("new", "old")
            for step, cfg in (("quality", q_cfg), ("pii", p_cfg)):
                for name in order:
                    fn = impls[name][0 if step == "quality" else 1].annotate
                    cpu, wall = timed(fn, copies[name][i], cfg)
                    total["cpu", name, step] += cpu
                    total["wall", name, step] += wall
        for (c, name, step), seconds in total.items():
            times[c][name][step].append(seconds * 1000 / len(docs))
        outputs = copies
        print(f"round {r + 1} (CPU ms/doc): " + "  ".join(
            f"{n} quality {times['cpu'][n]['quality'][-1]:.3f} pii {times['cpu'][n]['pii'][-1]:.3f}" for n in impls),
            flush=True)
    load = (system_busy_s() - busy0) / (time.perf_counter() - wall0)

    diffs = {old.id: d for old, new in zip(outputs["old"], outputs["new"], strict=True) if (d := differences(old, new))}
    med = {c: {name: {step: statistics.median(v) for step, v in steps.items()} for name, steps in times[c].items()}
           for c in clocks}
    ratio = {c: {step: med[c]["old"][step] / med[c]["new"][step] for step in ("quality", "pii")} for c in clocks}
    print(f"\n{'step':<9}{'clock':<6}{'old ms/doc':>12}{'new ms/doc':>12}{'old/new':>9}")
    for step in ("quality", "pii"):
        for c in clocks:
            print(f"{step:<9}{c:<6}{med[c]['old'][step]:>12.3f}{med[c]['new'][step]:>12.3f}{ratio[c][step]:>8.2f}x")
    print(f"identical outputs: {len(docs) - len(diffs)} of {len(docs)} documents")
    for doc_id, d in list(diffs.items())[:10]:
        print(f"  {doc_id}: {'; '.join(d[:5])}")
    print(f"machine load during the rounds: {load:.2f} cores busy of {os.cpu_count()} (this process included)")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "documents": len(docs), "pages": len(pages), "repeat": args.repeat, "old_ref": args.old_ref,
        "ms_per_doc_median": med, "ms_per_doc_rounds": times, "ratio_old_new": ratio,
        "identical": len(docs) - len(diffs), "differences": diffs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "busy_cores": round(load, 2)},
        "mean_text_chars": statistics.mean(len(d.text or "") for d in docs),
    }, indent=1))
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    if diffs:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
