"""Script detection and the language tables (no model needed)."""

from __future__ import annotations

import pytest

from owd.langid.langs import (
    CONFUSION_GROUPS,
    EU_LANGUAGES,
    group_of,
    normalise_declared,
    normalise_label,
    script_compatible,
    tld_language,
)
from owd.langid.script import SAMPLE_CHARS, detect_script, script_of_char


@pytest.mark.parametrize("text, script", [
    ("Η Ελλάδα είναι χώρα της νοτιοανατολικής Ευρώπης.", "Grek"),
    ("България е държава в Югоизточна Европа.", "Cyrl"),
    ("Чешская Республика — государство в Центральной Европе.", "Cyrl"),
    ("Malta hija pajjiż fin-Nofsinhar tal-Ewropa; ħafna nies jitkellmu l-Malti.", "Latn"),
    ("Ísland er eyríki í Norður-Atlantshafi.", "Latn"),
    ("Ireland: Tá Éire ina tír san Eoraip.", "Latn"),
    ("العربية لغة سامية", "Arab"),
    ("עברית היא שפה שמית", "Hebr"),
    ("中华人民共和国", "Hani"),
    ("日本語のテキストです", "Jpan"),
    ("한국어 문장입니다", "Hang"),
    ("대한民國 헌법", "Kore"),
    ("ქართული ენა", "Geor"),
    ("हिन्दी भाषा", "Deva"),
])
def test_detects_the_script_of_sentences(text: str, script: str) -> None:
    assert detect_script(text) == script


def test_only_letters_count() -> None:
    # Digits, punctuation and symbols are shared; three Greek letters decide.
    assert detect_script("2024-11-27, 12:00 — 42 € … «» (1/2) αβγ") == "Grek"
    assert detect_script("12345 !!! — €") is None
    assert detect_script("") is None


def test_majority_wins_in_mixed_text() -> None:
    text = "Sofia (София) is the capital of Bulgaria (България) and its largest city."
    assert detect_script(text) == "Latn"


def test_long_texts_are_sampled_across_the_whole_text() -> None:
    # A Latin head followed by a much longer Cyrillic body: the sample sees the body.
    text = "Navigation Home About Contact " * 20 + "Това е дълъг български текст за проба. " * 5000
    assert len(text) > 10 * SAMPLE_CHARS
    assert detect_script(text) == "Cyrl"


def test_script_of_char_boundaries() -> None:
    assert script_of_char("a") == "Latn" and script_of_char("ž") == "Latn" and script_of_char("ħ") == "Latn"
    assert script_of_char("ж") == "Cyrl" and script_of_char("ђ") == "Cyrl"
    assert script_of_char("ω") == "Grek" and script_of_char("ἀ") == "Grek"
    assert script_of_char("ᚁ") == "Ogam"
    assert script_of_char("\U0001F600") == "Zzzz"


@pytest.mark.parametrize("label, code", [
    ("__label__sr", "sr"), ("__label__hr", "hr"), ("__label__no", "no"), ("__label__als", "gsw"),
    ("__label__ceb", "ceb"), ("en", "en"),
])
def test_normalise_label(label: str, code: str) -> None:
    assert normalise_label(label) == code


@pytest.mark.parametrize("declared, code", [
    ("de-AT", "de"), ("DE_at", "de"), ("nb", "no"), ("nb-NO", "no"), ("nn", "nn"), ("no", "no"),
    ("sr-Latn", "sr"), ("sr-Cyrl-RS", "sr"), ("pt_BR", "pt"), ("EN-gb", "en"), ("en, de", "en"),
    ("deu", "de"), ("hrv", "hr"), ("slo", "sk"), ("iw", "he"), (" fr ", "fr"),
    ("x-default", None), ("und", None), ("", None), (None, None), ("*", None), ("english", None),
])
def test_normalise_declared(declared: str | None, code: str | None) -> None:
    assert normalise_declared(declared) == code


@pytest.mark.parametrize("tld, lang", [
    ("hr", "hr"), (".hr", "hr"), ("www.example.hr", "hr"), ("example.hr.", "hr"), ("rs", "sr"),
    ("ba", "bs"), ("cz", "cs"), ("sk", "sk"), ("dk", "da"), ("no", "no"), ("se", "sv"), ("si", "sl"),
    ("bbc.co.uk", "en"), ("xn--90a3ac", "sr"), ("example.com", None), ("example.eu", None),
    ("example.es", None), ("127.0.0.1", None), ("localhost", None), (None, None), ("", None),
])
def test_tld_language(tld: str | None, lang: str | None) -> None:
    assert tld_language(tld) == lang


def test_confusion_groups_cover_the_known_confusions() -> None:
    for a, b in [("hr", "sr"), ("hr", "bs"), ("sl", "hr"), ("cs", "sk"), ("da", "no"), ("no", "sv"),
                 ("bg", "mk"), ("bg", "ru"), ("es", "ca"), ("es", "gl"), ("pt", "gl"), ("et", "fi"),
                 ("de", "lb"), ("sr", "mk")]:
        assert b in group_of(a) and a in group_of(b)
    assert group_of("en") == frozenset() and group_of("mt") == frozenset()
    assert "bg" not in group_of("hr")  # groups only overlap through a shared member (sr)
    eu_in_groups = {lang for members in CONFUSION_GROUPS.values() for lang in members} & set(EU_LANGUAGES)
    assert {"hr", "sl", "cs", "sk", "da", "sv", "bg", "es", "pt", "et", "fi", "ga", "de", "nl", "it"} == eu_in_groups


def test_script_compatibility() -> None:
    assert not script_compatible("hr", "Cyrl") and script_compatible("sr", "Cyrl") and script_compatible("sr", "Latn")
    assert not script_compatible("bg", "Latn") and script_compatible("bg", "Cyrl")
    assert script_compatible("de", "Cyrl")  # languages outside the table are not constrained
    assert script_compatible("hr", None)
