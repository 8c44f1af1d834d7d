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
   Russian, Ukrainian), with how many of its texts got an EU label, and langid-A-neighbours
   (FLORES-200 devtest in 25 non-EU neighbour languages): per language, the share of its
   sentences given an EU label. "model" is fastText alone (no rule of ours).
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
   and without the second opinion, against plain fastText (``predict(text, k=5)`` on the
   same model and texts) in alternating rounds of the same run, per second of wall time
   and of CPU time, with the ratio; lingua's load time and resident memory.

    python bench/eval_langid.py                 # everything, JSON to bench/results/langid.json
    python bench/eval_langid.py --skip-sweep    # accuracy, neighbours and speed only
    python bench/eval_langid.py --speed-only --out /tmp/langid-speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from owd.langid.evaluate import (  # noqa: E402
    EVAL_SETS,
    EVIDENCE_PLAN,
    NEIGHBOUR_SETS,
    LangEval,
    evaluate,
    load_by_lang,
    load_id_tsv,
    load_tsv,
)
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
# "model" is fastText's own answer (lowercased folded text, no rule of ours); the others
# keep the Irish cased re-prediction and the foreign-letters rule.
RULES: dict[str, tuple[EvidenceConfig, SecondOpinionConfig]] = {
    "model": (NO_EVIDENCE, NO_SECOND_OPINION),
    "no_second_opinion": (EvidenceConfig(), NO_SECOND_OPINION),
    "default": (EvidenceConfig(), SecondOpinionConfig()),
}
_MODEL_ALONE = {"foreign_letters": False, "irish_case": False}

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
    for name, path in NEIGHBOUR_SETS.items():
        sets[name] = load_id_tsv(data_dir / path)
    return sets


def _is_neighbour_set(name: str) -> bool:
    return name == "neighbours" or name in NEIGHBOUR_SETS


def accuracy_tables(sets: dict[str, dict[str, list[str]]], model: Any) -> dict[str, dict[str, LangEval]]:
    out: dict[str, dict[str, LangEval]] = {}
    for rules, (evidence, opinion) in RULES.items():
        ident = LanguageIdentifier(evidence=evidence, second_opinion=opinion, model=model,
                                   **(_MODEL_ALONE if rules == "model" else {}))
        out[rules] = {name: evaluate(ident, data) for name, data in sets.items()}
    return out


def tables_json(tables: dict[str, dict[str, LangEval]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rules, sets in tables.items():
        out[rules] = {}
        for name, ev in sets.items():
            out[rules][name] = ev.to_json()
            if _is_neighbour_set(name):
                out[rules][name]["eu_labelled"] = ev.labelled_as(EU_LANGUAGES)
                out[rules][name]["eu_labelled_share"] = round(ev.labelled_as(EU_LANGUAGES) / sum(ev.n.values()), 4)
                out[rules][name]["eu_labelled_share_per_lang"] = {
                    lang: round(v, 4) for lang, v in sorted(ev.labelled_share(EU_LANGUAGES).items())}
    return out


def print_neighbour_tables(tables: dict[str, dict[str, LangEval]]) -> None:
    """Per neighbour language, the share of its texts given an EU label, for every rule set."""
    for name in [n for n in tables["default"] if n in NEIGHBOUR_SETS]:
        print(f"\n{name}: share of each non-EU language's sentences given an EU label (lower is better)")
        print(f"{'lang':6}" + "".join(f"{rules:>20}" for rules in RULES) + "   default's labels")
        shares = {rules: tables[rules][name].labelled_share(EU_LANGUAGES) for rules in RULES}
        for lang in sorted(shares["default"], key=lambda lang: -shares["default"][lang]):
            labels = Counter({p: c for (t, p), c in tables["default"][name].confusions.items() if t == lang})
            top = ", ".join(f"{p}:{c}" for p, c in labels.most_common(4))
            print(f"{lang:6}" + "".join(f"{shares[rules][lang]:>20.4f}" for rules in RULES) + f"   {top}")
        totals = {rules: tables[rules][name].labelled_as(EU_LANGUAGES) / sum(tables[rules][name].n.values())
                  for rules in RULES}
        print(f"{'all':6}" + "".join(f"{totals[rules]:>20.4f}" for rules in RULES))


def print_tables(tables: dict[str, dict[str, LangEval]]) -> None:
    names = [n for n in tables["default"] if n not in NEIGHBOUR_SETS]
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
    print_neighbour_tables(tables)
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
            if name in NEIGHBOUR_SETS:
                row[name + "_eu_share"] = round(ev.labelled_as(EU_LANGUAGES) / sum(ev.n.values()), 4)
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
    model = plain.model

    class _PlainFastText:
        """fastText alone, as a user of lid.176 calls it: the text on one line, top 5."""

        @staticmethod
        def identify(text: str) -> Any:
            return model.predict(text.replace("\n", " "), k=5)

    # Short alternating rounds, best of each: plain fastText, the identifier without and
    # with the second opinion see the same machine load (the ratio is what compares).
    best: dict[str, float] = {}
    rounds = 5
    runners: tuple[tuple[str, Any], ...] = (("_plain_fasttext", _PlainFastText), ("", plain),
                                            ("_second_opinion", with_opinion))
    # Rates per second of wall time and per second of this process's CPU time: on a shared
    # machine the wall-time rates swing with the other processes, the CPU-time ones much less.
    best_cpu: dict[str, float] = {}
    for _ in range(rounds):
        for suffix, ident in runners:
            for name, texts in (("sentences_per_s", sentences[:2000]), ("docs_10k_chars_per_s", docs[:240])):
                n, start, cpu_start = 0, time.perf_counter(), time.process_time()
                while time.perf_counter() - start < seconds / rounds:
                    for text in texts:
                        ident.identify(text)
                    n += len(texts)
                rate = n / (time.perf_counter() - start)
                best[name + suffix] = max(best.get(name + suffix, 0.0), rate)
                cpu_rate = n / max(time.process_time() - cpu_start, 1e-9)
                best_cpu[name + suffix] = max(best_cpu.get(name + suffix, 0.0), cpu_rate)
    out.update({k: round(v, 1) for k, v in best.items()})
    out.update({k.replace("_per_s", "_per_cpu_s"): round(v, 1) for k, v in best_cpu.items()})
    for suffix, ident in runners[1:]:
        out["asked_share" + suffix] = round(ident.stats["langid/second_opinion/asked"] / ident.stats["langid/texts"], 4)
    for name in ("sentences_per_s", "docs_10k_chars_per_s"):
        out[name.replace("_per_s", "_ratio_to_plain_fasttext")] = round(
            best[name + "_second_opinion"] / best[name + "_plain_fasttext"], 3)
        out[name.replace("_per_s", "_cpu_ratio_to_plain_fasttext")] = round(
            best_cpu[name + "_second_opinion"] / best_cpu[name + "_plain_fasttext"], 3)
    out["rss_mb_end"] = _rss_mb()
    return out


def print_speed(sp: dict[str, float | None]) -> None:
    print("\nSpeed on one core (best of 5 alternating rounds; the machine may be shared: compare the ratio)")
    print(f"{'':34}{'sentences/s':>14}{'10k-char docs/s':>18}")
    for label, suffix in (("plain fastText (predict, k=5)", "_plain_fasttext"), ("identify, no second opinion", ""),
                          ("identify, default", "_second_opinion")):
        print(f"{label:34}{sp['sentences_per_s' + suffix]:>14.0f}{sp['docs_10k_chars_per_s' + suffix]:>18.1f}")
    print(f"{'default / plain fastText':34}{sp['sentences_ratio_to_plain_fasttext']:>14.3f}"
          f"{sp['docs_10k_chars_ratio_to_plain_fasttext']:>18.3f}")
    print("per second of CPU time:")
    for label, suffix in (("plain fastText (predict, k=5)", "_plain_fasttext"), ("identify, no second opinion", ""),
                          ("identify, default", "_second_opinion")):
        print(f"{label:34}{sp['sentences_per_cpu_s' + suffix]:>14.0f}{sp['docs_10k_chars_per_cpu_s' + suffix]:>18.1f}")
    print(f"{'default / plain fastText':34}{sp['sentences_cpu_ratio_to_plain_fasttext']:>14.3f}"
          f"{sp['docs_10k_chars_cpu_ratio_to_plain_fasttext']:>18.3f}")
    print(f"second opinion asked for {sp['asked_share_second_opinion']:.1%} of the sentences and documents; "
          f"lingua loaded in {sp['lingua_load_s']} s, resident {sp['rss_mb_with_lingua']} MB")


def _lingua_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lingua-language-detector")
    except PackageNotFoundError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--skip-sweep", action="store_true", help="no second-opinion sweep, no evidence experiment")
    parser.add_argument("--speed-only", action="store_true", help="only the speed table (JSON to --out)")
    parser.add_argument("--bonuses", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5])
    parser.add_argument("--speed-seconds", type=float, default=5.0)
    args = parser.parse_args()
    data_dir = shared_data_dir()
    if data_dir is None:
        sys.exit("../shared/data is absent: the langid evaluation sets live there")

    # First, in a fresh process: load time and memory are lingua's own.
    speed_one_core = speed(data_dir, args.speed_seconds)
    if args.speed_only:
        print_speed(speed_one_core)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"bench": "langid", "speed_one_core": speed_one_core}, indent=1) + "\n",
                            encoding="utf-8")
        print(f"wrote {args.out}")
        return
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
    print_speed(speed_one_core)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
