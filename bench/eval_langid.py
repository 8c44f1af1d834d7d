"""Language-identification accuracy, the second opinion, the effect of page evidence, and speed.

1. Accuracy on langid-A (FLORES-200 devtest, 24 languages) and the three
   langid-C subsets (lingua: sentences, word pairs, single words; 23 languages),
   for the model alone, the default decision rules without the second opinion,
   and the default rules (with it). langid-C is lingua's own test data: it is
   reported, and settings are chosen on FLORES (the independent set) and the
   neighbours -- with one exception, ``SecondOpinionConfig.ascii_left_to_model``,
   which keeps Czech without diacritics (absent from FLORES) from turning Slovak. On
   these sets only the ``sh`` resolution and the second opinion can act (they
   carry no declared language or TLD). Also the neighbour set
   (tests/langid/data/neighbours.tsv: Serbian, Bosnian, Norwegian, Macedonian,
   Russian, Ukrainian), with how many of its texts got an EU label.
   Per-language table, macro accuracy, largest confusions.
2. The second-opinion sweep: when to ask lingua (fastText top probability
   below 0.5/0.7/0.9/always), high vs. low accuracy mode, with and without the
   Maltese-letter rule.
3. The evidence experiment: the sentences of the EU languages that sit in a
   confusion group, given a declared language and/or TLD that is right, wrong
   but inside the group (the nearest neighbour: hr sentence declared "sr"), or
   wrong outside it ("en"); swept over bonus sizes. Reports accuracy, how many
   model errors the evidence fixed, how many right answers it broke, and the
   highest model score a wrong declaration overrode.
4. Speed of ``identify`` on one core (sentences/s; 10k-char documents/s) with
   and without the second opinion; lingua's load time and resident memory.

    python bench/eval_langid.py                 # everything, JSON to bench/results/langid.json
    python bench/eval_langid.py --skip-sweep    # accuracy, neighbours and speed only
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

from owd.langid.evaluate import EVAL_SETS, EVIDENCE_PLAN, LangEval, evaluate, load_by_lang, load_tsv  # noqa: E402
from owd.langid.identify import (  # noqa: E402
    MAX_CHARS,
    NO_EVIDENCE,
    NO_SECOND_OPINION,
    EvidenceConfig,
    LanguageIdentifier,
    SecondOpinionConfig,
)
from owd.langid.langs import EU_LANGUAGES  # noqa: E402
from owd.langid.second_opinion import LINGUA_LANGUAGES, SecondOpinion  # noqa: E402
from owd.shared_data import shared_data_dir  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "langid.json"
NEIGHBOURS = Path(__file__).resolve().parent.parent / "tests" / "langid" / "data" / "neighbours.tsv"
# Rule sets of the accuracy tables: (evidence, second opinion).
RULES: dict[str, tuple[EvidenceConfig, SecondOpinionConfig]] = {
    "model": (NO_EVIDENCE, NO_SECOND_OPINION),
    "no_second_opinion": (EvidenceConfig(), NO_SECOND_OPINION),
    "default": (EvidenceConfig(), SecondOpinionConfig()),
}

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


class _CachedOpinion(SecondOpinion):
    """Memoises lingua's confidences so sweeps re-run only the decision rules."""

    def __init__(self, config: SecondOpinionConfig | None = None) -> None:
        super().__init__(config)
        self.cache: dict[tuple[frozenset[str], str], dict[str, float]] = {}

    def confidences(self, langs: frozenset[str], text: str) -> dict[str, float]:
        key = (langs, text)
        if key not in self.cache:
            self.cache[key] = super().confidences(langs, text)
        return dict(self.cache[key])


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


def load_sets(data_dir: Path) -> dict[str, dict[str, list[str]]]:
    sets = {name: load_by_lang(data_dir / folder) for name, folder in EVAL_SETS.items()}
    sets["neighbours"] = load_tsv(NEIGHBOURS)
    return sets


def accuracy_tables(sets: dict[str, dict[str, list[str]]], model: Any) -> dict[str, dict[str, LangEval]]:
    out: dict[str, dict[str, LangEval]] = {}
    for rules, (evidence, opinion) in RULES.items():
        ident = LanguageIdentifier(evidence=evidence, second_opinion=opinion, model=model)
        out[rules] = {name: evaluate(ident, data) for name, data in sets.items()}
    return out


def tables_json(tables: dict[str, dict[str, LangEval]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rules, sets in tables.items():
        out[rules] = {}
        for name, ev in sets.items():
            out[rules][name] = ev.to_json()
            if name == "neighbours":
                out[rules][name]["eu_labelled"] = ev.labelled_as(EU_LANGUAGES)
    return out


def print_tables(tables: dict[str, dict[str, LangEval]]) -> None:
    names = list(tables["default"])
    langs = sorted({lang for ev in tables["default"].values() for lang in ev.accuracy})
    print("\nPer-language accuracy: default rules (with the second opinion); without it in brackets where different")
    print(f"{'lang':6}" + "".join(f"{n:>22}" for n in names))
    for lang in langs:
        cells = []
        for n in names:
            d, m = tables["default"][n].accuracy.get(lang), tables["no_second_opinion"][n].accuracy.get(lang)
            if d is None or m is None:
                cells.append(f"{'-':>22}")
            else:
                cells.append(f"{d:>14.4f}" + (f" ({m:.4f})" if abs(d - m) > 5e-5 else " " * 9))
        print(f"{lang:6}" + "".join(cells))
    for rules in RULES:
        print(f"{'macro':6}" + "".join(f"{tables[rules][n].macro:>14.4f}{'':8}" for n in names) + f"  ({rules})")
    print("neighbour texts given an EU label: "
          + ", ".join(f"{rules} {tables[rules]['neighbours'].labelled_as(EU_LANGUAGES)}" for rules in RULES)
          + f" (of {sum(tables['default']['neighbours'].n.values())})")
    for n in names:
        conf = ", ".join(f"{t}->{p}:{c}" for t, p, c in tables["default"][n].top_confusions(12))
        print(f"\n{n} confusions (true->pred:count): {conf}")


def opinion_sweep(sets: dict[str, dict[str, list[str]]], cached: Any) -> list[dict[str, Any]]:
    """The second opinion under other settings (FLORES chooses; langid-C is lingua's own data)."""
    modes = {"default": SecondOpinionConfig().high_accuracy_for, "high": frozenset(LINGUA_LANGUAGES),
             "low": frozenset()}
    configs: list[tuple[str, str, SecondOpinionConfig]] = [
        ("Maltese letters only", "default", SecondOpinionConfig(lingua=False)),
        ("below 0.9 default, no Maltese rule", "default", SecondOpinionConfig(maltese_letters=False))]
    for mode, high in modes.items():
        for below in (0.5, 0.7, 0.9, 1.0):
            configs.append((f"below {below} {mode}", mode, SecondOpinionConfig(below=below, high_accuracy_for=high)))
    opinions = {mode: _CachedOpinion(SecondOpinionConfig(high_accuracy_for=high)) for mode, high in modes.items()}
    rows = []
    for label, mode, cfg in configs:
        shared = opinions[mode]
        shared.config = cfg
        ident = LanguageIdentifier(second_opinion=shared, model=cached)
        row: dict[str, Any] = {"setting": label, "below": cfg.below, "accuracy_mode": mode,
                               "lingua": cfg.lingua, "maltese_letters": cfg.maltese_letters}
        for name, data in sets.items():
            ev = evaluate(ident, data)
            row[name] = round(ev.macro, 4)
            if name == "neighbours":
                row["neighbours_eu_labelled"] = ev.labelled_as(EU_LANGUAGES)
        row["asked"] = ident.stats["langid/second_opinion/asked"]
        rows.append(row)
    return rows


def print_opinion_sweep(rows: list[dict[str, Any]]) -> None:
    names = [n for n in rows[0] if n in EVAL_SETS or n == "neighbours"]
    print("\nSecond-opinion sweep: macro accuracy (neighbours: and texts given an EU label)")
    print(f"{'setting':34}" + "".join(f"{n:>16}" for n in names) + f"{'asked':>9}")
    for row in rows:
        print(f"{row['setting']:34}" + "".join(f"{row[n]:>16.4f}" for n in names[:-1])
              + f"{row['neighbours']:>10.4f} /{row['neighbours_eu_labelled']:>3}" + f"{row['asked']:>9}")


def evidence_experiment(data_dir: Path, bonuses: list[float], others: dict[str, LangEval]) -> dict[str, Any]:
    """Accuracy under each evidence condition for a sweep of bonus sizes.

    ``macro_all`` is the macro accuracy over every language of the set, taking
    the languages outside the experiment (in no group: evidence cannot act on
    them) from ``others``, the default-rules evaluation.
    """
    langs = sorted(EVIDENCE_PLAN)
    sets = {name: {lang: lines for lang, lines in load_by_lang(data_dir / EVAL_SETS[name]).items() if lang in langs}
            for name in ("A-flores", "C-sentences")}
    cached = _CachedModel(LanguageIdentifier(second_opinion=NO_SECOND_OPINION).model)
    opinion = _CachedOpinion()
    base = LanguageIdentifier(model=cached, second_opinion=opinion)
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
        ident = LanguageIdentifier(evidence=cfg, model=cached, second_opinion=opinion)
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


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def speed(data_dir: Path, seconds: float = 5.0) -> dict[str, float | None]:
    """identify() throughput on one core (FLORES sentences, 10k-character documents),
    without and with the second opinion; lingua's load time and resident memory.

    The sentences are all 24 languages interleaved (1 in 24 per language), so the
    share that asks lingua is FLORES's, not a web crawl's.
    """
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    out: dict[str, float | None] = {"rss_mb_start": _rss_mb()}
    plain = LanguageIdentifier(second_opinion=NO_SECOND_OPINION)
    out["rss_mb_with_fasttext"] = _rss_mb()
    start = time.perf_counter()
    opinion = SecondOpinion()
    opinion.preload()
    out["lingua_load_s"] = round(time.perf_counter() - start, 2)
    out["rss_mb_with_lingua"] = _rss_mb()
    with_opinion = LanguageIdentifier(second_opinion=opinion, model=plain.model)
    data = load_by_lang(data_dir / EVAL_SETS["A-flores"])
    # Round-robin over the languages, so that the first 2000 hold every language.
    sentences = [line for group in zip(*data.values()) for line in group]
    chunks = []
    for lines in data.values():
        text = " ".join(lines)
        chunks.append([text[i: i + MAX_CHARS] for i in range(0, len(text) - MAX_CHARS, MAX_CHARS)])
    docs = [doc for group in zip(*chunks) for doc in group]
    # Short alternating rounds, best of each: the two settings see the same machine load.
    best: dict[str, float] = {}
    rounds = 5
    for _ in range(rounds):
        for suffix, ident in (("", plain), ("_second_opinion", with_opinion)):
            for name, texts in (("sentences_per_s", sentences[:2000]), ("docs_10k_chars_per_s", docs[:240])):
                n, start = 0, time.perf_counter()
                while time.perf_counter() - start < seconds / rounds:
                    for text in texts:
                        ident.identify(text)
                    n += len(texts)
                rate = n / (time.perf_counter() - start)
                best[name + suffix] = max(best.get(name + suffix, 0.0), rate)
    out.update({k: round(v, 1) for k, v in best.items()})
    for suffix, ident in (("", plain), ("_second_opinion", with_opinion)):
        out["asked_share" + suffix] = round(ident.stats["langid/second_opinion/asked"] / ident.stats["langid/texts"], 4)
    out["rss_mb_end"] = _rss_mb()
    model = plain.model
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for text in sentences[:2000]:
            model.predict(text.replace("\n", " "), k=5)
        n += 2000
    out["raw_fasttext_predict_per_s"] = round(n / (time.perf_counter() - start), 1)
    return out


def _lingua_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lingua-language-detector")
    except PackageNotFoundError:
        return None


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

    # First, in a fresh process: load time and memory are lingua's own.
    speed_one_core = speed(data_dir, args.speed_seconds)
    sets = load_sets(data_dir)
    cached = _CachedModel(LanguageIdentifier(second_opinion=NO_SECOND_OPINION).model)
    tables = accuracy_tables(sets, cached)
    print_tables(tables)
    result: dict[str, Any] = {
        "bench": "langid", "python": platform.python_version(), "machine": platform.machine(),
        "eu_languages": list(EU_LANGUAGES), "lingua": _lingua_version(),
        "accuracy": tables_json(tables),
    }
    if not args.skip_sweep:
        sweep = opinion_sweep(sets, cached)
        print_opinion_sweep(sweep)
        result["second_opinion_sweep"] = sweep
        exp = evidence_experiment(data_dir, args.bonuses, tables["default"])
        print_evidence(exp)
        result["evidence"] = exp
    result["speed_one_core"] = speed_one_core
    print(f"\nSpeed on one core: {result['speed_one_core']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
