"""Language-identification accuracy, the effect of page evidence, and predict speed.

1. Accuracy on langid-A (FLORES-200 devtest, 24 languages) and the three
   langid-C subsets (lingua: sentences, word pairs, single words; 23 languages),
   for the model alone and with the default decision rules (on these sets only
   the ``sh`` macrolanguage resolution can act: they carry no declared language
   or TLD). Per-language table, macro accuracy, largest confusions.
2. The evidence experiment: the sentences of the EU languages that sit in a
   confusion group, given a declared language and/or TLD that is right, wrong
   but inside the group (the nearest neighbour: hr sentence declared "sr"), or
   wrong outside it ("en"); swept over bonus sizes. Reports accuracy, how many
   model errors the evidence fixed, how many right answers it broke, and the
   highest model score a wrong declaration overrode.
3. Speed of ``identify`` on one core (sentences/s; 10k-char documents/s).

    python bench/eval_langid.py                 # everything, JSON to bench/results/langid.json
    python bench/eval_langid.py --skip-sweep    # accuracy and speed only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langid.evaluate import EVAL_SETS, EVIDENCE_PLAN, LangEval, evaluate, load_by_lang  # noqa: E402
from langid.identify import MAX_CHARS, NO_EVIDENCE, EvidenceConfig, LanguageIdentifier  # noqa: E402
from langid.langs import EU_LANGUAGES  # noqa: E402
from owd.shared_data import shared_data_dir  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "langid.json"

Condition = Callable[[str, int], tuple[str | None, str | None]]
CONDITIONS: dict[str, Condition] = {
    "none": lambda lang, i: (None, None),
    "declared right": lambda lang, i: (lang, None),
    "tld right": lambda lang, i: (None, EVIDENCE_PLAN[lang][0]),
    "declared+tld right": lambda lang, i: (lang, EVIDENCE_PLAN[lang][0]),
    "declared wrong (in group)": lambda lang, i: (EVIDENCE_PLAN[lang][1], None),
    "tld wrong (in group)": lambda lang, i: (None, EVIDENCE_PLAN[lang][2]),
    "declared+tld wrong": lambda lang, i: (EVIDENCE_PLAN[lang][1], EVIDENCE_PLAN[lang][2]),
    "declared wrong, tld right": lambda lang, i: (EVIDENCE_PLAN[lang][1], EVIDENCE_PLAN[lang][0]),
    "declared en (out of group)": lambda lang, i: ("en-GB", None),
}


class _CachedModel:
    """Memoises fastText predictions so the sweep re-runs only the decision rules."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.cache: dict[tuple[str, int], Any] = {}

    def get_labels(self) -> Any:
        return self.model.get_labels()

    def predict(self, text: str, k: int = 1) -> Any:
        key = (text, k)
        if key not in self.cache:
            self.cache[key] = self.model.predict(text, k=k)
        return self.cache[key]


def accuracy_tables(data_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rules, cfg in (("model", NO_EVIDENCE), ("default", EvidenceConfig())):
        ident = LanguageIdentifier(evidence=cfg)
        out[rules] = {name: evaluate(ident, load_by_lang(data_dir / folder)) for name, folder in EVAL_SETS.items()}
    return out


def print_tables(tables: dict[str, dict[str, LangEval]]) -> None:
    names = list(EVAL_SETS)
    langs = sorted({lang for ev in tables["default"].values() for lang in ev.accuracy})
    print("\nPer-language accuracy (default rules; model alone in brackets where different)")
    print(f"{'lang':6}" + "".join(f"{n:>22}" for n in names))
    for lang in langs:
        cells = []
        for n in names:
            d, m = tables["default"][n].accuracy.get(lang), tables["model"][n].accuracy.get(lang)
            if d is None or m is None:
                cells.append(f"{'-':>22}")
            else:
                cells.append(f"{d:>14.4f}" + (f" ({m:.4f})" if abs(d - m) > 5e-5 else " " * 9))
        print(f"{lang:6}" + "".join(cells))
    for rules in ("default", "model"):
        print(f"{'macro':6}" + "".join(f"{tables[rules][n].macro:>14.4f}{'':8}" for n in names) + f"  ({rules})")
    for n in names:
        conf = ", ".join(f"{t}->{p}:{c}" for t, p, c in tables["default"][n].top_confusions(12))
        print(f"\n{n} confusions (true->pred:count): {conf}")


def evidence_experiment(data_dir: Path, bonuses: list[float], others: dict[str, LangEval]) -> dict[str, Any]:
    """Accuracy under each evidence condition for a sweep of bonus sizes.

    ``macro_all`` is the macro accuracy over every language of the set, taking
    the languages outside the experiment (in no group: evidence cannot act on
    them) from ``others``, the default-rules evaluation.
    """
    langs = sorted(EVIDENCE_PLAN)
    sets = {name: {lang: lines for lang, lines in load_by_lang(data_dir / EVAL_SETS[name]).items() if lang in langs}
            for name in ("A-flores", "C-sentences")}
    cached = _CachedModel(LanguageIdentifier().model)
    base = LanguageIdentifier(model=cached)
    baseline: dict[str, dict[tuple[str, int], tuple[str | None, float]]] = {}
    for name, data in sets.items():
        baseline[name] = {}
        for lang, lines in data.items():
            for i, line in enumerate(lines):
                r = base.identify(line)
                # The model's own probability of the label (not the sh-resolved mass).
                baseline[name][(lang, i)] = (r.lang, dict(r.topk).get(r.lang, 0.0) if r.lang else 0.0)

    results: list[dict[str, Any]] = []
    # TLD evidence is weaker than a declaration (a .ba or .cz host often serves
    # Croatian or Slovak; a lang attribute describes the page itself): half the bonus.
    configs = [EvidenceConfig(declared_bonus=b, tld_bonus=round(b / 2, 3)) for b in bonuses]
    # The default bonuses without the confidence cap, to show what the cap does.
    default = EvidenceConfig()
    configs.append(EvidenceConfig(declared_bonus=default.declared_bonus, tld_bonus=default.tld_bonus, confident=1.0))
    for cfg in configs:
        ident = LanguageIdentifier(evidence=cfg, model=cached)
        for cond_name, cond in CONDITIONS.items():
            row: dict[str, Any] = {"declared_bonus": cfg.declared_bonus, "tld_bonus": cfg.tld_bonus,
                                   "confident": cfg.confident, "condition": cond_name}
            for name, data in sets.items():
                fixed = broken = correct = total = 0
                max_overridden = 0.0
                per_lang: dict[str, float] = {}
                for lang, lines in data.items():
                    ok = 0
                    for i, line in enumerate(lines):
                        declared, tld = cond(lang, i)
                        r = ident.identify(line, declared, tld)
                        was_lang, was_score = baseline[name][(lang, i)]
                        ok += r.lang == lang
                        if r.lang != was_lang:
                            fixed += r.lang == lang
                            broken += was_lang == lang
                            if was_lang == lang:
                                max_overridden = max(max_overridden, was_score)
                    per_lang[lang] = ok / len(lines)
                    correct += ok
                    total += len(lines)
                every = {**others[name].accuracy, **per_lang}
                row[name] = {"macro": round(sum(per_lang.values()) / len(per_lang), 4),
                             "macro_all": round(sum(every.values()) / len(every), 4), "fixed": fixed,
                             "broken": broken, "max_score_overridden": round(max_overridden, 3),
                             "accuracy": {k: round(v, 4) for k, v in per_lang.items()}}
            results.append(row)
    return {"languages": langs, "plan": EVIDENCE_PLAN, "rows": results}


def print_evidence(exp: dict[str, Any]) -> None:
    print(f"\nEvidence experiment on {', '.join(exp['languages'])}: macro accuracy over these languages,"
          " over all languages of the set, sentences fixed (+) and broken (-) vs. no evidence,"
          " and the highest model score a wrong piece of evidence overrode (<)")
    print(f"{'decl/tld/cap':>15} {'condition':30} {'A-flores  group / all':>34} {'C-sentences  group / all':>34}")
    for row in exp["rows"]:
        cells = "".join(
            f"{row[n]['macro']:>10.4f} /{row[n]['macro_all']:.4f} +{row[n]['fixed']:<4d}-{row[n]['broken']:<4d}"
            f"<{row[n]['max_score_overridden']:.2f}" for n in ("A-flores", "C-sentences"))
        print(f"{row['declared_bonus']:>5.2f}/{row['tld_bonus']:.2f}/{row['confident']:.1f} {row['condition']:30} {cells}")


def speed(data_dir: Path, seconds: float = 5.0) -> dict[str, float]:
    """identify() throughput on one core: FLORES sentences, and 10k-character documents."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    ident = LanguageIdentifier()
    data = load_by_lang(data_dir / EVAL_SETS["A-flores"])
    sentences = [line for lines in data.values() for line in lines]
    docs: list[str] = []
    for lines in data.values():
        text = " ".join(lines)
        docs.extend(text[i: i + MAX_CHARS] for i in range(0, len(text) - MAX_CHARS, MAX_CHARS))
    out = {}
    for name, texts in (("sentences_per_s", sentences), ("docs_10k_chars_per_s", docs)):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for text in texts[:2000]:
                ident.identify(text)
            n += min(len(texts), 2000)
        out[name] = round(n / (time.perf_counter() - start), 1)
    model = ident.model
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for text in sentences[:2000]:
            model.predict(text.replace("\n", " "), k=5)
        n += 2000
    out["raw_fasttext_predict_per_s"] = round(n / (time.perf_counter() - start), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--skip-sweep", action="store_true", help="no evidence experiment")
    parser.add_argument("--bonuses", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5])
    parser.add_argument("--speed-seconds", type=float, default=5.0)
    args = parser.parse_args()
    data_dir = shared_data_dir()
    if data_dir is None:
        sys.exit("../shared/data is absent: the langid evaluation sets live there")

    tables = accuracy_tables(data_dir)
    print_tables(tables)
    result: dict[str, Any] = {
        "bench": "langid", "python": platform.python_version(), "machine": platform.machine(),
        "eu_languages": list(EU_LANGUAGES),
        "accuracy": {rules: {n: ev.to_json() for n, ev in sets.items()} for rules, sets in tables.items()},
    }
    if not args.skip_sweep:
        exp = evidence_experiment(data_dir, args.bonuses, tables["default"])
        print_evidence(exp)
        result["evidence"] = exp
    result["speed_one_core"] = speed(data_dir, args.speed_seconds)
    print(f"\nSpeed on one core: {result['speed_one_core']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
