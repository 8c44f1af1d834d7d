"""Main-text extractors: the one choice of ``process.extractor`` in a campaign.

Every extractor gets the page twice, as the lxml tree owd parsed once (links, media and
metadata are read from it by the caller, whatever the extractor) and as the decoded HTML
string, and returns the main text or None. None of them modifies the tree.

* ``trafilatura`` (default): trafilatura's full cascade (its main extractor, the
  readability/justext comparison, the baseline rescue and the recall escalation), the
  text owd has always had.
* ``trafilatura-fast``: trafilatura with ``fast=True``: its main extractor, baseline
  rescue and recall escalation, without the comparison with readability and justext
  (13.5 against 19.8 ms a page in bench/bench_extract_phases.py; F1 0.918 against 0.924 on pages-A).
* ``resiliparse``: resiliparse's ``extract_plain_text(main_content=True)`` (DCLM's
  choice for its speed): 1.9x datatrove's documents/s end to end, F1 0.847 on pages-A.

The numbers are in bench/README.md (bench_process.py, results of 2026-12-06); rerun them
with ``python bench/bench_process.py`` (every profile) or ``--extractors NAME ...``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, cast, get_args

from trafilatura import bare_extraction
from trafilatura.settings import Document as TrafilaturaDocument

from owd.core.config import ExtractorName

__all__ = ["EXTRACTORS", "ExtractorName", "TextOptions", "clean_text", "main_text"]

EXTRACTORS: tuple[str, ...] = get_args(ExtractorName)

@dataclass(frozen=True)
class TextOptions:
    include_comments: bool = False
    include_tables: bool = True


def clean_text(value: Any) -> str | None:
    """NFC and stripped, None when empty (as trafilatura.extract() normalises its output;
    bare_extraction does not): gold data and downstream matching expect one normal form."""
    return unicodedata.normalize("NFC", value).strip() or None if isinstance(value, str) else None


def _trafilatura(tree: Any, url: str, options: TextOptions, *, fast: bool) -> str | None:
    # as_dict=False (the default): a trafilatura Document, or None when nothing was extracted;
    # deduplicate off: its process-wide LRU would make a page's text depend on the pages before
    result = cast("TrafilaturaDocument | None", bare_extraction(
        tree, url=url, fast=fast, with_metadata=False, deduplicate=False,
        include_comments=options.include_comments, include_tables=options.include_tables,
    ))
    return clean_text(result.text) if result is not None else None


def _resiliparse(html: str) -> str | None:
    from resiliparse.extract.html2text import extract_plain_text

    return clean_text(extract_plain_text(html, main_content=True, alt_texts=False, links=False,
                                         form_fields=False, noscript=False))


def _full(tree: Any, html: str, url: str, options: TextOptions) -> str | None:
    return _trafilatura(tree, url, options, fast=False)


def _fast(tree: Any, html: str, url: str, options: TextOptions) -> str | None:
    # (Tried: the full cascade only where the fast text is under half of resiliparse's
    # estimate. bench/bench_extract_phases.py: that sends 12.8 % of pages-A to the full
    # cascade and the estimate costs 2.2 ms, so 13.5 + 2.2 + 0.128 x 19.8 = 18.2 ms a page
    # against 19.8 for the full cascade: ~1.6 ms saved for a second extractor on every page.)
    return _trafilatura(tree, url, options, fast=True)


def _resiliparse_only(tree: Any, html: str, url: str, options: TextOptions) -> str | None:
    return _resiliparse(html)


_BY_NAME: dict[str, Callable[[Any, str, str, TextOptions], str | None]] = {
    "trafilatura": _full, "trafilatura-fast": _fast, "resiliparse": _resiliparse_only,
}


def main_text(name: str, tree: Any, html: str, url: str, options: TextOptions) -> str | None:
    """The page's main text by the extractor ``name`` (one of :data:`EXTRACTORS`)."""
    try:
        extract = _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown extractor {name!r}: use one of {', '.join(EXTRACTORS)}") from None
    return extract(tree, html, url, options)
