"""Cheap page metadata (``owd.extract.metadata.page_metadata``) against today's full
extraction, per field, on pages-A and the real WARC samples of shared/data/warc.

Reference ("today"): ``bare_extraction(tree, url=..., with_metadata=True, ...)`` with
the date parameters of ``extract_page`` (fetch date as max_date), its fields cleaned
as ``extract_page`` cleans them. Pages where it finds no main text are skipped: the
pipeline drops them, their metadata is never used.

Per field and variant: how often the value equals today's (both absent counts as
equal), how often each side has a value, and on how many pages the variant found one
today did not find or lost one today found.

Timing: one process; per page, today's metadata (trafilatura's ``extract_metadata``
with the same arguments ``bare_extraction`` passes, which is what
``with_metadata=True`` adds) and every variant are timed with ``process_time``, in an
order that rotates from page to page, so machine load hits all of them alike.
dateparser's one-off regex compilation is paid up front (``warm_up``) and reported
separately. The script also checks that ``page_metadata`` leaves the tree unchanged.

    python bench/eval_metadata.py [--limit N] [--variants none/none markup/full ...] [--sets pages-A warc]

Writes bench/results/eval_metadata.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trafilatura  # noqa: E402
from lxml import etree  # noqa: E402
from trafilatura import bare_extraction  # noqa: E402
from trafilatura.metadata import extract_metadata  # noqa: E402
from trafilatura.settings import Document as TrafilaturaDocument  # noqa: E402
from trafilatura.utils import load_html  # noqa: E402

from owd.extract.encoding import decode_html  # noqa: E402
from owd.extract.metadata import date_params, page_metadata, warm_up  # noqa: E402
from owd.extract.snippet_eval import EVAL_FETCH_TIME, load_pages, page_record  # noqa: E402
from owd.extract.warc_reader import read_warc  # noqa: E402
from owd.shared_data import shared_data_dir  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "eval_metadata.json"
FIELDS = ("title", "description", "author", "published", "site_name")
# name (author search / date search) -> page_metadata keyword arguments
VARIANTS: dict[str, dict[str, str]] = {
    "none/none": {"author": "none", "date": "none"},
    "markup/fast": {"author": "markup", "date": "fast"},
    "markup/full": {"author": "markup", "date": "full"},
    "full/full": {"author": "full", "date": "full"},
}


@dataclass
class Doc:
    source: str
    url: str
    fetch_time: dt.datetime | None
    tree: Any


def _clean(value: Any) -> str | None:
    import unicodedata

    return unicodedata.normalize("NFC", value).strip() or None if isinstance(value, str) else None


def _title_element(tree: Any) -> str | None:
    for el in tree.iter("title"):
        return _clean(" ".join(el.text_content().split()))
    return None


def _published(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def reference(doc: Doc) -> dict[str, Any] | None:
    """Today's fields, as extract_page computes them; None when there is no main text."""
    # as_dict=False (the default): a trafilatura Document or None
    result = cast("TrafilaturaDocument | None", bare_extraction(doc.tree, url=doc.url, with_metadata=True, deduplicate=False, include_comments=False,
                             include_tables=True, date_extraction_params=date_params(doc.fetch_time)))
    if result is None or not _clean(getattr(result, "text", None)):
        return None
    return {"title": _clean(result.title) or _title_element(doc.tree), "description": _clean(result.description),
            "author": _clean(result.author), "published": _published(result.date),
            "site_name": _clean(result.sitename)}


def pages_a_docs(data: Path, limit: int) -> Iterator[Doc]:
    pages = load_pages(data / "pages-A")
    for page in pages[:limit] if limit else pages:
        rec = page_record(page)
        tree = load_html(decode_html(rec.body, rec.content_type, Counter()))
        if tree is not None:
            yield Doc("pages-A", rec.url, EVAL_FETCH_TIME, tree)


def warc_docs(data: Path, limit: int, files: Counter[str]) -> Iterator[Doc]:
    n = 0
    for path in sorted((data / "warc").iterdir()):
        if path.name.startswith("manifest") or not path.is_file():
            continue
        stats: Counter[str] = Counter()
        files["files"] += 1
        html_here = 0
        for rec in read_warc(path, stats):  # never raises: damage is counted in stats
            if rec.record_type != "response" or rec.http_status != 200 or rec.mime not in ("text/html",
                                                                                           "application/xhtml+xml"):
                continue
            tree = load_html(decode_html(rec.body, rec.content_type, Counter()))
            if tree is None:
                continue
            html_here += 1
            n += 1
            yield Doc("warc", rec.url, rec.fetch_time, tree)
            if limit and n >= limit:
                return
        if any(k.startswith("warc/bad/") for k in stats):
            files["malformed_or_damaged"] += 1
        if html_here:
            files["with_html"] += 1


def _digest(tree: Any) -> str:
    return hashlib.sha1(etree.tostring(tree, encoding="unicode").encode()).hexdigest()


def _as_fields(md: Any) -> dict[str, Any]:
    return {f: getattr(md, f) for f in FIELDS}


def evaluate(docs: Iterator[Doc], variants: list[str]) -> dict[str, Any]:
    agree: dict[str, Counter[str]] = {v: Counter() for v in variants}
    has: dict[str, Counter[str]] = {v: Counter() for v in ["today", *variants]}
    gained: dict[str, Counter[str]] = {v: Counter() for v in variants}
    lost: dict[str, Counter[str]] = {v: Counter() for v in variants}
    cpu: dict[str, float] = {}
    counts: Counter[str] = Counter()
    runners: dict[str, Callable[[Doc], Any]] = {
        "today": lambda d: extract_metadata(d.tree, d.url, date_params(d.fetch_time), False, set()),
        **{v: (lambda d, kw=VARIANTS[v]: page_metadata(d.tree, d.url, d.fetch_time, **kw))  # type: ignore[misc]
           for v in variants},
    }
    order = list(runners)
    for i, doc in enumerate(docs):
        before = _digest(doc.tree)
        ref = reference(doc)
        if ref is None:
            counts["no_main_text"] += 1
            continue
        counts["pages"] += 1
        results: dict[str, Any] = {}
        rotated = order[i % len(order):] + order[: i % len(order)]
        for name in rotated:
            t0 = time.process_time()
            results[name] = runners[name](doc)
            cpu[name] = cpu.get(name, 0.0) + time.process_time() - t0
        if _digest(doc.tree) != before:
            counts["tree_modified"] += 1
        for f in FIELDS:
            has["today"][f] += ref[f] is not None
        for v in variants:
            got = _as_fields(results[v])
            for f in FIELDS:
                agree[v][f] += got[f] == ref[f]
                has[v][f] += got[f] is not None
                gained[v][f] += got[f] is not None and ref[f] is None
                lost[v][f] += got[f] is None and ref[f] is not None
    n = counts["pages"]
    return {"pages": n, "skipped_no_main_text": counts["no_main_text"], "tree_modified": counts["tree_modified"],
            "ms_per_doc": {k: round(1000 * s / max(n, 1), 2) for k, s in cpu.items()},
            "has_value": {k: dict(c) for k, c in has.items()},
            "agree": {k: dict(c) for k, c in agree.items()},
            "gained": {k: dict(c) for k, c in gained.items()}, "lost": {k: dict(c) for k, c in lost.items()}}


def print_table(name: str, r: dict[str, Any], variants: list[str]) -> None:
    n = r["pages"]
    print(f"\n{name}: {n} pages (skipped without main text: {r['skipped_no_main_text']}; "
          f"tree modified by page_metadata: {r['tree_modified']})")
    ms = r["ms_per_doc"]
    print(f"{'variant':16} {'ms/doc':>7} " + " ".join(f"{f:>22}" for f in FIELDS))
    print(f"{'today':16} {ms['today']:7.2f} " + " ".join(f"{'has ' + str(r['has_value']['today'].get(f, 0)):>22}"
                                                         for f in FIELDS))
    for v in variants:
        cells = [f"{r['agree'][v].get(f, 0)}/{n} has {r['has_value'][v].get(f, 0)} "
                 f"+{r['gained'][v].get(f, 0)}-{r['lost'][v].get(f, 0)}" for f in FIELDS]
        print(f"{v:16} {ms[v]:7.2f} " + " ".join(f"{c:>22}" for c in cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N pages of each set (0: all)")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--sets", nargs="+", default=["pages-A", "warc"], choices=["pages-A", "warc"])
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    data = shared_data_dir()
    if data is None:
        sys.exit("shared/data is not available here")
    # trafilatura/htmldate log a warning for every page without main text or date
    logging.disable(logging.WARNING)
    warm_s = warm_up()
    print(f"dateparser warm-up (once per process): {warm_s:.2f} s")
    report: dict[str, Any] = {"bench": "eval_metadata", "python": platform.python_version(),
                              "trafilatura": trafilatura.__version__, "variants": {v: VARIANTS[v] for v in args.variants},
                              "dateparser_warm_up_s": round(warm_s, 2), "sets": {}}
    t0 = time.perf_counter()
    for name in args.sets:
        files: Counter[str] = Counter()
        docs = pages_a_docs(data, args.limit) if name == "pages-A" else warc_docs(data, args.limit, files)
        r = evaluate(docs, args.variants)
        if name == "warc":
            r["warc_files"] = dict(files)
            print(f"\nWARC files: {dict(files)}")
        report["sets"][name] = r
        print_table(name, r, args.variants)
    print("\ncells: equal to today / pages, has a value, +found where today has none -lost where today has one")
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {args.out} ({report['wall_s']} s)")


if __name__ == "__main__":
    main()
