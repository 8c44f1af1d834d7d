"""The rules that let langid say "not an EU language", Irish case, and asking lingua only
when fastText is unsure inside a group. Real lid.176 model and real lingua; no shared data.

The Silesian, Friulian and Irish sentences are written for this test (not copied from a
corpus); each is checked to be what the rule needs on lid.176 before the rule is asserted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from owd.core.languages import EU_LANGUAGES, KNOWN_LANGUAGES
from owd.langid.evaluate import load_tsv
from owd.langid.identify import (
    FOREIGN_MIN_WORDS,
    FOREIGN_WORD_SHARE,
    LanguageIdentifier,
    _prepare,
    _prepare_cased,
    foreign_word_share,
)
from owd.langid.langs import FOREIGN_LETTERS, NEIGHBOURS
from owd.langid.second_opinion import SecondOpinion, SecondOpinionConfig

# Silesian (Ślabikōrz spelling: ō, ô are not Polish letters); lid.176 has no Silesian label.
SILESIAN = "Mōmy teroz nowy dōm we Katowicach, kaj mōj ôjciec robiōł przez trzydziyści lŏt na grubie."
# Polish with one foreign name carrying ô: a name is not a neighbour orthography.
POLISH_WITH_NAME = "Prezydent Wybrzeża Kości Słoniowej przyjechał wczoraj z Côte d'Ivoire do Warszawy na rozmowy."
# Irish with initial mutations ("i mBaile", "na hÉireann", "an tAire").
IRISH = "Dúirt an tAire go mbeidh an tAcht i bhfeidhm i mBaile Átha Cliath agus ar fud na hÉireann."


def _model_top(lid: LanguageIdentifier, prepared: str) -> str:
    labels, _ = lid.model.predict(prepared, k=1)
    return str(labels[0]).removeprefix("__label__")


def test_foreign_letters_are_not_the_eu_languages_own() -> None:
    # Each EU language's own letters must never count against it.
    own = {"pl": "ąćęłńóśźż", "it": "àèéìíîòóù", "es": "áéíóúüñ", "pt": "áâãàçéêíóôõú", "da": "æøå",
           "sv": "åäö", "de": "äöüß", "nl": "éèëïöü"}
    for lang, letters in FOREIGN_LETTERS.items():
        assert lang in EU_LANGUAGES and lang in NEIGHBOURS
        assert not (FOREIGN_LETTERS[lang] - {"î"}) & set(own[lang]), lang
    assert all(code in KNOWN_LANGUAGES and code not in EU_LANGUAGES
               for near in NEIGHBOURS.values() for code in near)


def test_foreign_word_share_counts_words_not_letters() -> None:
    share, marked = foreign_word_share(SILESIAN, "pl")
    assert marked >= 4 and share >= FOREIGN_WORD_SHARE
    share, marked = foreign_word_share(POLISH_WITH_NAME, "pl")
    assert marked == 1 and marked < FOREIGN_MIN_WORDS
    assert foreign_word_share(SILESIAN, "hu") == (0.0, 0)  # no foreign-letter table for Hungarian
    assert foreign_word_share("plain ascii text only", "pl") == (0.0, 0)


def test_silesian_is_not_given_an_eu_label(lid: LanguageIdentifier) -> None:
    # The model alone calls it Polish, confidently: that is what the rule is for.
    assert _model_top(lid, _prepare(SILESIAN)) == "pl"
    for text in (SILESIAN,):
        result = lid.identify(text)
        assert result.lang not in EU_LANGUAGES and result.lang in KNOWN_LANGUAGES
        assert result.evidence == "foreign-letters"
        assert result.score is not None and 0.0 < result.score <= 1.0
        assert result.lang in dict(result.topk)  # a promoted label is listed in top-k


def test_an_eu_text_with_a_foreign_name_keeps_its_label(lid: LanguageIdentifier) -> None:
    assert lid.identify(POLISH_WITH_NAME).lang == "pl"


def test_irish_is_predicted_on_its_cased_text(lid: LanguageIdentifier) -> None:
    before = lid.stats["langid/cased_recheck"]
    result = lid.identify(IRISH)
    assert lid.stats["langid/cased_recheck"] == before + 1
    assert result.lang == "ga"
    # The ranking reported is the cased text's, not the lowercased text's.
    labels, probs = lid.model.predict(_prepare_cased(IRISH), k=lid.k)
    assert [lang for lang, _ in result.topk[: len(labels)]] == [str(x).removeprefix("__label__") for x in labels]
    assert result.topk[0][1] == pytest.approx(min(1.0, float(probs[0])))
    # Text nowhere near Irish is predicted once, lowercased.
    lid.identify("Der Gemeinderat hat am Montag beschlossen, die alte Brücke zu renovieren.")
    assert lid.stats["langid/cased_recheck"] == before + 1


def test_lowercasing_is_kept_where_it_helps(lid: LanguageIdentifier) -> None:
    assert _prepare("Ein „Test“ – A\u00a0B\nC") == "ein \"test\" – a b c"
    assert _prepare_cased("Ein „Test“\nC") == "Ein \"Test\" C"


class _WrapperOnly:
    """The real model behind fastText's Python predict() only (no compiled ``f`` to reach)."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def predict(self, text: str, k: int = 1) -> Any:
        return self._model.predict(text, k=k)

    def get_labels(self) -> Any:
        return self._model.get_labels()


def test_the_fast_predict_path_gives_the_wrappers_answers(lid: LanguageIdentifier) -> None:
    slow = LanguageIdentifier(model=_WrapperOnly(lid.model), second_opinion=lid.second_opinion)
    texts = [SILESIAN, POLISH_WITH_NAME, IRISH, "Hello there, how are you?", "Byrådet besluttede mandag."]
    for text in texts:
        assert slow.identify(text) == lid.identify(text)


def test_lingua_is_asked_only_when_a_rival_in_the_group_is_probable() -> None:
    opinion = SecondOpinion(SecondOpinionConfig())
    text = "Gradsko vijeće odlučilo je u ponedjeljak da će stari most obnoviti."
    # hr unsure, but its doubt is English, outside the group: lingua is not asked.
    assert opinion.ask("hr", 0.6, "Latn", text, {"hr": 0.6, "en": 0.3, "sr": 0.01}) is None
    # hr unsure between hr and sr (Latin: lingua's "bs" stands in for sr): asked.
    asked = opinion.ask("hr", 0.6, "Latn", text, {"hr": 0.6, "sr": 0.3})
    assert asked is not None and {"hr", "bs"} <= set(asked)
    # Without the model's scores the old rule holds: an unsure top is enough.
    assert opinion.ask("hr", 0.6, "Latn", text) is not None


def test_every_label_is_one_the_schema_and_pools_accept(lid: LanguageIdentifier) -> None:
    data = load_tsv(Path(__file__).parent / "data" / "neighbours.tsv")
    labels = {lid.identify(text).lang for lines in data.values() for text in lines}
    labels |= {lid.identify(text).lang for text in (SILESIAN, IRISH)}
    assert None not in labels and labels <= KNOWN_LANGUAGES
    assert labels - set(EU_LANGUAGES)  # non-EU codes flow through as themselves


def test_on_a_sentence_a_small_rival_is_no_doubt_but_on_two_words_it_is() -> None:
    opinion = SecondOpinion(SecondOpinionConfig())
    sentence = "Gradsko vijeće odlučilo je u ponedjeljak da će stari most obnoviti."
    # 0.05 is under rival_ratio (0.2) x 0.6 on a sentence: not asked.
    assert opinion.ask("hr", 0.6, "Latn", sentence, {"hr": 0.6, "sr": 0.05}) is None
    assert opinion.ask("hr", 0.6, "Latn", sentence, {"hr": 0.6, "sr": 0.15}) is not None
    # On two words fastText's probabilities are flat: rival_min alone decides.
    assert opinion.ask("hr", 0.6, "Latn", "stari most", {"hr": 0.6, "sr": 0.05}) is not None


def test_dutch_and_afrikaans_are_settled_on_sentences_only(lid: LanguageIdentifier) -> None:
    opinion = SecondOpinion(SecondOpinionConfig())
    scores = {"nl": 0.5, "af": 0.4}
    assert opinion.ask("nl", 0.5, "Latn", "mooie huis", scores) is None  # too short: the model's answer
    asked = opinion.ask("nl", 0.5, "Latn", "Die mense het gesê dat hulle nie meer kan wag nie.", scores)
    assert asked is not None and set(asked) == {"nl", "af"} and max(asked, key=asked.__getitem__) == "af"
