"""Cross-lingual retrieval on FLORES-200 (../shared/data/langid-A), on the embedded index.

The same evaluation as ``python bench/eval_crosslingual.py`` (which reports the whole 24x24
table on 200 sentences a language), on 12 sentences of each of the 24 EU languages: 288
documents, every sentence searched with ``lang:<b>`` for each of 4 target languages b
(Latin with and without diacritics, Greek, Cyrillic; all 24 would take ~30 s of searching
here, the benchmark does them all). Floors (only ever raised): the issue's 0.9 macro recall@10 for semantic and
hybrid, per query language 0.8, and lexical far below (words do not cross languages,
which is why the semantic modes exist).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from owd.index.embedded import EmbeddedBackend
from tests.bench_modules import load_bench_module
from tests.vectors import CROSSLINGUAL_SENTENCES, cached_embedder, passage_vectors

pytestmark = [pytest.mark.shared_data, pytest.mark.semantic]
TARGETS = ("bg", "el", "en", "pl")


@pytest.fixture(scope="module")
def flores_result(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Any]:
    flores = load_bench_module("eval_crosslingual")
    sample = flores.crosslingual_sample(shared_data, CROSSLINGUAL_SENTENCES)
    docs = flores.documents(sample)
    with EmbeddedBackend(tmp_path_factory.mktemp("flores") / "ix", embedder=cached_embedder()) as backend:
        backend.add(docs, passage_vectors(docs))
        result = flores.evaluate(backend, sample, ("semantic", "hybrid"), targets=TARGETS)
        # words alone: one target is enough to show they do not cross languages
        result.update(flores.evaluate(backend, sample, ("lexical",), targets=("en",)))
        return result, sample


def test_every_eu_language_is_in_the_sample(flores_result: tuple[dict[str, Any], Any]) -> None:
    result, sample = flores_result
    assert len(sample) == 24 and all(len(v) == CROSSLINGUAL_SENTENCES for v in sample.values())
    for mode in ("semantic", "hybrid"):
        table = result[mode]["r10"]
        assert set(table) == set(sample)
        assert all(set(row) == set(TARGETS) - {a} for a, row in table.items())


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_macro_recall_at_10_reaches_the_target(flores_result: tuple[dict[str, Any], Any], mode: str) -> None:
    result, _ = flores_result
    macro = result[mode]["macro"]
    assert macro["r10"] >= 0.9, macro
    assert macro["r1"] >= 0.8, macro
    worst = min(result[mode]["per_lang"].items(), key=lambda kv: kv[1]["r10"])
    assert worst[1]["r10"] >= 0.8, worst


def test_words_alone_do_not_cross_languages(flores_result: tuple[dict[str, Any], Any]) -> None:
    result, _ = flores_result
    assert result["lexical"]["macro"]["r10"] < 0.5 * result["semantic"]["macro"]["r10"]
