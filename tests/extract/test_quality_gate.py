"""Extraction quality gate: snippet precision/recall/F1 on shared/data/pages-A must
not fall below the floors in extract_baseline.json (overall and per language).

Scoring: extract/snippet_eval.py (trafilatura's convention). Full numbers, and
plain trafilatura for comparison: ``python bench/eval_extract.py``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest

from owd.executors import LocalExecutor, available_cpus
from owd.extract.snippet_eval import EvalPage, evaluate, load_pages, owd_extractor

BASELINE = Path(__file__).with_name("extract_baseline.json")
CHUNK = 50  # pages per task


def _extract(pages: list[EvalPage]) -> tuple[list[str | None], Counter[str]]:
    """A task: the extracted text of each page (each page is extracted on its own, so the
    result does not depend on which process or in which order)."""
    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # one warning per page without text
    stats: Counter[str] = Counter()
    extract = owd_extractor(stats=stats)
    return [extract(page) for page in pages], stats


@pytest.mark.shared_data
@pytest.mark.slow
def test_extraction_quality_floors(shared_data: Path) -> None:
    floors = json.loads(BASELINE.read_text())["floors"]
    pages = load_pages(shared_data / "pages-A")
    chunks = [pages[i:i + CHUNK] for i in range(0, len(pages), CHUNK)]
    stats: Counter[str] = Counter()
    texts: dict[int, list[str | None]] = {}
    with LocalExecutor(min(2, available_cpus())) as executor:  # the suite's time budget: use the cores
        for i, (chunk_texts, chunk_stats) in executor.map_unordered(_extract, chunks):
            texts[i] = chunk_texts
            stats.update(chunk_stats)
    extracted = [text for i in range(len(chunks)) for text in texts[i]]
    result = evaluate(zip(pages, extracted, strict=True))
    assert not [k for k in stats if k.startswith("extract/dropped/timeout")], stats
    problems = []
    for lang, floor in floors.items():
        score = result.overall if lang == "overall" else result.by_lang.get(lang)
        assert score is not None and score.pages == floor["n"], f"{lang}: the page set changed, re-measure"
        for metric in ("precision", "recall", "f1"):
            value = getattr(score, metric)
            if value < floor[metric]:
                problems.append(f"{lang} {metric} {value:.4f} < floor {floor[metric]}")
    assert not problems, "; ".join(problems)
