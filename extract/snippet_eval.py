"""Main-text quality against gold snippets (trafilatura's evaluation convention).

Each gold page lists ``with`` snippets (must appear in the extracted main text)
and ``without`` snippets (boilerplate that must not). Per snippet, by plain
substring test on the extracted text:

* ``with`` present: true positive; absent: false negative;
* ``without`` present: false positive; absent: true negative;
* no text extracted: every ``with`` is a false negative, every ``without`` a true
  negative.

Precision = TP / (TP + FP) (how much of what we matched is wanted: the
``without`` snippets kept out), recall = TP / (TP + FN) (the ``with`` snippets
found), F1 their harmonic mean; counts are summed over pages (micro average),
overall and per language (``lang_auto`` of the manifest, ``und`` when unknown).
This is what trafilatura's ``tests/comparison.py`` computes.

Used by ``bench/eval_extract.py`` and ``tests/extract/test_quality_gate.py``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from owd.extract.html import ExtractLimits, extract_document
from owd.extract.warc_reader import FetchRecord

__all__ = ["EvalPage", "Score", "evaluate", "load_pages", "owd_extractor", "page_record", "score_page"]

# pages-A has no fetch dates; a fixed one keeps the date extractor's bound stable.
EVAL_FETCH_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class EvalPage:
    id: str
    url: str
    lang: str
    html_path: Path
    with_: tuple[str, ...]
    without: tuple[str, ...]

    def html(self) -> bytes:
        return gzip.decompress(self.html_path.read_bytes())


@dataclass
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    pages: int = 0
    no_text: int = 0

    def add(self, other: "Score") -> None:
        self.tp += other.tp
        self.fn += other.fn
        self.fp += other.fp
        self.tn += other.tn
        self.pages += other.pages
        self.no_text += other.no_text

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def accuracy(self) -> float:
        total = self.tp + self.fn + self.fp + self.tn
        return (self.tp + self.tn) / total if total else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"n": self.pages, "precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4), "accuracy": round(self.accuracy, 4), "no_text": self.no_text,
                "tp": self.tp, "fn": self.fn, "fp": self.fp, "tn": self.tn}


@dataclass
class EvalResult:
    overall: Score = field(default_factory=Score)
    by_lang: dict[str, Score] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        langs = sorted(self.by_lang.items(), key=lambda kv: (-kv[1].pages, kv[0]))
        return {"overall": self.overall.as_dict(), "by_lang": {k: v.as_dict() for k, v in langs}}


def load_pages(pages_dir: Path) -> list[EvalPage]:
    """The gold pages of a ``pages-A``-style folder (manifest.jsonl + html/ + gold/)."""
    pages = []
    with open(pages_dir / "manifest.jsonl", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            entry = json.loads(line)
            gold = json.loads((pages_dir / entry["gold_path"]).read_text(encoding="utf-8"))
            pages.append(EvalPage(entry["id"], entry["url"], entry.get("lang_auto") or "und",
                                  pages_dir / entry["html_path"], tuple(gold.get("with") or ()),
                                  tuple(gold.get("without") or ())))
    return pages


def score_page(text: str | None, page: EvalPage) -> Score:
    """Snippet counts of one page's extracted text (see the module docstring)."""
    if not text:
        return Score(fn=len(page.with_), tn=len(page.without), pages=1, no_text=1)
    tp = sum(1 for s in page.with_ if s in text)
    fp = sum(1 for s in page.without if s in text)
    return Score(tp=tp, fn=len(page.with_) - tp, fp=fp, tn=len(page.without) - fp, pages=1)


def page_record(page: EvalPage) -> FetchRecord:
    """The gold page as the FetchRecord a crawl would have produced (no HTTP headers:
    the files carry none, so the charset comes from the page itself). Some gold
    "URLs" are labels (``hard::site.com-x.html``); they get an https URL under the
    reserved ``.invalid`` domain, since a fetched page always has a host."""
    url = page.url
    if not urlsplit(url).hostname:
        url = "https://pages-a.invalid/" + quote(url, safe="")
    return FetchRecord(url=url, fetch_time=EVAL_FETCH_TIME, record_type="response", http_status=200,
                       http_headers=[], content_type="text/html", body=page.html(),
                       warc_file="pages-A", warc_offset=0, warc_length=0, payload_digest=None, ip=None)


def owd_extractor(limits: ExtractLimits | None = None, stats: Counter[str] | None = None
                  ) -> Callable[[EvalPage], str | None]:
    """Our extraction, as a page -> main text function."""
    lim = limits or ExtractLimits()
    counter = stats if stats is not None else Counter()

    def run(page: EvalPage) -> str | None:
        doc = extract_document(page_record(page), campaign="eval", worker=None, stats=counter, limits=lim)
        return doc.text if doc is not None else None
    return run


def evaluate(results: Iterable[tuple[EvalPage, str | None]]) -> EvalResult:
    """Sum page scores overall and per language."""
    out = EvalResult()
    for page, text in results:
        s = score_page(text, page)
        out.overall.add(s)
        out.by_lang.setdefault(page.lang, Score()).add(s)
    return out
