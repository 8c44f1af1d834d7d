"""Where one page's extraction time goes: ms/doc of each phase, same pages, one process.

The phases of ``owd.extract.html.extract_page`` measured apart on the pages of the
bench_process WARC (pages-A), each with ``time.process_time``: decoding, the one lxml
parse, the page facts (head: base URL, declared language, licence, canonical URL;
outlinks; media references), each main-text extractor (trafilatura's full cascade,
``fast=True``, resiliparse) and the metadata (``owd.extract.metadata.page_metadata``).
dateparser's one-off compile is paid first and reported apart (``warm-up s``).

``gate`` is the share of pages where the fast text is under half of resiliparse's (the
pages a "fast, full cascade where it looks incomplete" profile would send to the full
cascade; tried for trafilatura-fast and dropped, see owd/extract/extractors.py).

    python bench/bench_extract_phases.py               # first 400 pages (~1 min)
    python bench/bench_extract_phases.py --pages 990

Writes bench/results/extract-phases.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=400)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "extract-phases.json")
    args = ap.parse_args()

    from bench_process import build_warc  # the same WARC bench_process.py measures
    from trafilatura.utils import load_html

    from owd.extract import extractors
    from owd.extract.encoding import decode_html
    from owd.extract.metadata import page_metadata, warm_up
    from owd.extract.page import (base_url, canonical_url, declared_language, license_url, media_items, outlinks,
                                  page_media_refs)
    from owd.extract.warc_reader import read_warc
    from owd.shared_data import shared_data_dir

    data = shared_data_dir()
    if data is None:
        print("shared/data is absent: nothing to measure", file=sys.stderr)
        return 2
    warc = build_warc(data / "pages-A", 0)
    records = [r for r in read_warc(warc, Counter()) if r.record_type == "response"][:args.pages]
    warm = warm_up()
    spent: dict[str, float] = defaultdict(float)
    pages = gated = 0
    options = extractors.TextOptions()

    def clock(name: str, t0: float) -> float:
        now = time.process_time()
        spent[name] += now - t0
        return now

    for rec in records:
        t = time.process_time()
        html = decode_html(rec.body, rec.content_type, Counter())
        t = clock("decode", t)
        tree = load_html(html)
        t = clock("parse", t)
        if tree is None:
            continue
        pages += 1
        stats: Counter[str] = Counter()
        base = base_url(tree, rec.url)
        declared_language(tree, rec.http_headers, stats)
        license_url(tree, base, stats)
        canonical_url(tree, base)
        t = clock("facts: head", t)
        outlinks(tree, rec.url, 2000, stats)
        t = clock("facts: outlinks", t)
        media_items(page_media_refs(tree, rec.url, stats), 500, stats)
        t = clock("facts: media", t)
        extractors.main_text("trafilatura", tree, html, rec.url, options)
        t = clock("text: trafilatura (full)", t)
        fast = extractors.main_text("trafilatura-fast", tree, html, rec.url, options)
        t = clock("text: trafilatura-fast", t)
        estimate = extractors.main_text("resiliparse", tree, html, rec.url, options)
        t = clock("text: resiliparse", t)
        page_metadata(tree, rec.url, rec.fetch_time)
        clock("metadata", t)
        if estimate and len(fast or "") < 0.5 * len(estimate):
            gated += 1
    rows = {name: 1000 * s / pages for name, s in spent.items()}
    for name, ms in rows.items():
        print(f"{name:28} {ms:7.2f} ms/doc")
    print(f"{'warm-up s (dateparser)':28} {warm:7.2f}\npages {pages}; gate {gated / pages:.3f} "
          f"(fast text < 0.5 x resiliparse's)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"pages": pages, "ms_per_doc": rows, "warm_up_s": warm,
                                    "gate_share": gated / pages, "date": time.strftime("%Y-%m-%d %H:%M")}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
