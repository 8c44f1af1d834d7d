"""Accuracy of a :class:`LanguageIdentifier` on labelled sentence sets (``by-lang/<iso>.txt``).

Shared by ``bench/eval_langid.py`` (tables, JSON, the evidence experiment) and
``tests/langid/test_accuracy.py`` (pinned floors). A prediction counts as
correct only when it is exactly the true code; a label outside the 24 EU
languages (``sr`` for a Croatian sentence) is wrong and shows in the confusions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from owd.langid.identify import LanguageIdentifier
from owd.langid.langs import group_of

__all__ = ["load_by_lang", "load_tsv", "load_id_tsv", "LangEval", "evaluate", "EVAL_SETS", "NEIGHBOUR_SETS",
           "EVIDENCE_PLAN"]

# Name -> folder under the shared data dir holding by-lang/<iso>.txt.
EVAL_SETS: dict[str, str] = {
    "A-flores": "langid-A/by-lang",
    "C-sentences": "langid-C/sentences/by-lang",
    "C-word-pairs": "langid-C/word-pairs/by-lang",
    "C-single-words": "langid-C/single-words/by-lang",
}

# Name -> data.tsv (id, lang, text) of non-EU neighbour languages under the shared data dir:
# FLORES-200 devtest in 25 languages next to the EU's (bs, sr, nb, nn, gl, ca, ...), the
# same sentences as langid-A. None of them should get an EU label.
NEIGHBOUR_SETS: dict[str, str] = {
    "A-neighbours": "langid-A-neighbours/data.tsv",
}

# The evidence experiment (bench/eval_langid.py, tests/langid/test_accuracy.py).
# For each EU language in a confusion group: its own ccTLD, and the in-group
# neighbour the model confuses it with most (used as the *wrong* declaration)
# with that neighbour's ccTLD (the wrong TLD). Spanish has no TLD of its own here
# (.es is multilingual); de/nl/it neighbours have none either.
EVIDENCE_PLAN: dict[str, tuple[str | None, str, str | None]] = {
    "bg": ("bg", "ru", "ru"), "cs": ("cz", "sk", "sk"), "da": ("dk", "no", "no"),
    "de": ("de", "lb", None), "es": (None, "ca", "cat"), "et": ("ee", "fi", "fi"),
    "fi": ("fi", "et", "ee"), "ga": ("ie", "gd", "scot"), "hr": ("hr", "sr", "rs"),
    "it": ("it", "vec", None), "nl": ("nl", "af", None), "pt": ("pt", "gl", "gal"),
    "sk": ("sk", "cs", "cz"), "sl": ("si", "hr", "hr"), "sv": ("se", "no", "no"),
}
assert all(group_of(lang) and wrong in group_of(lang) for lang, (_, wrong, _) in EVIDENCE_PLAN.items())


def load_by_lang(folder: Path) -> dict[str, list[str]]:
    """``{iso: [line, ...]}`` from ``folder/<iso>.txt`` (blank lines skipped)."""
    data: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.txt")):
        with path.open(encoding="utf-8") as fh:
            data[path.stem] = [line.rstrip("\n") for line in fh if line.strip()]
    if not data:
        raise FileNotFoundError(f"no <iso>.txt files in {folder}")
    return data


def load_tsv(path: Path) -> dict[str, list[str]]:
    """``{lang: [sentence, ...]}`` from ``lang<TAB>source<TAB>sentence`` lines (``#`` comments skipped)."""
    data: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip() or line.startswith("#"):
                continue
            lang, _source, text = line.rstrip("\n").split("\t")
            data.setdefault(lang, []).append(text)
    return data


def load_id_tsv(path: Path) -> dict[str, list[str]]:
    """``{lang: [sentence, ...]}`` from a ``id<TAB>lang<TAB>text`` file with a header line."""
    data: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        if header != ["id", "lang", "text"]:
            raise ValueError(f"{path}: expected the header id, lang, text; got {header}")
        for line in fh:
            if line.strip():
                _id, lang, text = line.rstrip("\n").split("\t", 2)
                data.setdefault(lang, []).append(text)
    return data


@dataclass
class LangEval:
    """Per-language accuracy, macro accuracy and (true, predicted) confusion counts."""

    accuracy: dict[str, float]
    n: dict[str, int]
    confusions: Counter[tuple[str, str | None]] = field(default_factory=Counter)

    @property
    def macro(self) -> float:
        return sum(self.accuracy.values()) / len(self.accuracy)

    def labelled_as(self, langs: Iterable[str]) -> int:
        """How many texts were wrongly given one of ``langs`` (e.g. neighbour text labelled EU)."""
        wanted = set(langs)
        return sum(c for (_, pred), c in self.confusions.items() if pred in wanted)

    def labelled_share(self, langs: Iterable[str]) -> dict[str, float]:
        """Per true language, the share of its texts given one of ``langs`` (e.g. an EU label)."""
        wanted = set(langs)
        given: Counter[str] = Counter()
        for (true, pred), c in self.confusions.items():
            if pred in wanted:
                given[true] += c
        return {lang: given[lang] / n for lang, n in self.n.items()}

    def top_confusions(self, n: int = 15) -> list[tuple[str, str | None, int]]:
        return [(t, p, c) for (t, p), c in self.confusions.most_common(n)]

    def to_json(self) -> dict[str, object]:
        return {
            "macro": round(self.macro, 4),
            "accuracy": {k: round(v, 4) for k, v in sorted(self.accuracy.items())},
            "n": dict(sorted(self.n.items())),
            "confusions": [{"true": t, "pred": p, "count": c} for t, p, c in self.top_confusions(40)],
        }


Evidence = Callable[[str, int], tuple[str | None, str | None]]


def evaluate(identifier: LanguageIdentifier, data: dict[str, list[str]],
             evidence: Evidence | None = None) -> LangEval:
    """Run ``identifier.identify`` over every sentence.

    ``evidence(true_lang, index)`` may return ``(declared_lang, tld)`` to pass
    along with sentence ``index`` of ``true_lang`` (the evidence experiment).
    """
    accuracy: dict[str, float] = {}
    n: dict[str, int] = {}
    confusions: Counter[tuple[str, str | None]] = Counter()
    for lang, lines in sorted(data.items()):
        correct = 0
        for i, line in enumerate(lines):
            declared, tld = evidence(lang, i) if evidence else (None, None)
            pred = identifier.identify(line, declared, tld).lang
            if pred == lang:
                correct += 1
            else:
                confusions[(lang, pred)] += 1
        accuracy[lang] = correct / len(lines)
        n[lang] = len(lines)
    return LangEval(accuracy, n, confusions)
