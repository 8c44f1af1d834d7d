"""A second opinion where fastText ``lid.176`` is known to hesitate between close languages.

Two pieces, both measured in ``bench/eval_langid.py`` (FLORES-200 devtest macro
accuracy 0.9784 -> 0.9914 with both; see the numbers in ``tests/langid/langid_baseline.json``):

* **lingua inside a confusion group.** When fastText's top label is one of
  :data:`DEFAULT_TRIGGERS` (hr/sr/bs/sh/sl, bg/mk/ru/uk/be, cs/sk, da/no/nn/sv,
  et/fi, nl/af) with a probability below :attr:`SecondOpinionConfig.below`, and fastText
  is unsure *inside* the group (another member has at least
  :attr:`SecondOpinionConfig.rival_min`, and on a text of five words or more at least
  :attr:`SecondOpinionConfig.rival_ratio` of the top's probability), the
  ``lingua-language-detector`` package (character n-gram models shipped inside
  its wheel; nothing is downloaded) is asked, restricted to the members of that
  group it knows and that can be written in the text's script. Its answer is
  taken. lingua models Serbian in Cyrillic only and Bosnian in Latin only, so
  on Latin text its "bs" stands for "Bosnian or Latin-script Serbian", which
  fastText then splits (whichever of sr/bs it scores higher).
* **Maltese letters.** ħ, ġ and ċ are written in Maltese and in no other
  language we meet (none in 100k FLORES/lingua sentences of 24 other languages);
  fastText still labels ~9 % of Maltese sentences pl/it/hu/en. When the text
  has one of them and fastText gives Maltese at least
  :attr:`SecondOpinionConfig.maltese_min_prob` (an English sentence naming
  "Ħamrun" gets 0.002), the answer is Maltese. lingua has no Maltese model.

:class:`SecondOpinion` holds the lingua detectors: built on first need, one per
set of candidate languages; lingua loads each language's models once per
process (about 415 MB resident for all 17 with the default accuracy modes,
loaded in 2-4 s; see :attr:`SecondOpinionConfig.high_accuracy_for`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from owd.langid.langs import group_of, script_compatible

__all__ = [
    "SecondOpinionConfig",
    "SecondOpinion",
    "NO_SECOND_OPINION",
    "DEFAULT_TRIGGERS",
    "LINGUA_LANGUAGES",
    "MALTESE_LETTERS",
    "LINGUA_INSTALL_HINT",
]

LINGUA_INSTALL_HINT = "pip install lingua-language-detector==2.1.1"

# Our code -> lingua's Language name, for the members of the confusion groups a second
# opinion is asked about (lingua knows no Macedonian-Latin, Serbo-Croatian, gl, lb, mt ...).
LINGUA_LANGUAGES: dict[str, str] = {
    "hr": "CROATIAN", "sr": "SERBIAN", "bs": "BOSNIAN", "sl": "SLOVENE",
    "bg": "BULGARIAN", "mk": "MACEDONIAN", "ru": "RUSSIAN", "uk": "UKRAINIAN", "be": "BELARUSIAN",
    "cs": "CZECH", "sk": "SLOVAK",
    "da": "DANISH", "no": "BOKMAL", "nn": "NYNORSK", "sv": "SWEDISH",
    "et": "ESTONIAN", "fi": "FINNISH",
    "nl": "DUTCH", "af": "AFRIKAANS",
}
# lingua's model of these covers one script only (its Serbian is Cyrillic, its Bosnian Latin).
_LINGUA_SCRIPT = {"sr": "Cyrl", "bs": "Latn"}

# fastText top labels that trigger the second opinion: the groups whose confusions cost
# most on FLORES (hr->sr/bs, sk->cs, da->no, sl->hr/sr, et->fi, bg->ru). Measured and
# left out: es/pt/ca (+0.0002 macro on FLORES, Spanish -0.012 on the lingua sentences)
# and nl/af (no gain).
DEFAULT_TRIGGERS: frozenset[str] = frozenset({
    "hr", "sr", "bs", "sh", "sl",
    "bg", "mk", "ru", "uk", "be",
    "cs", "sk",
    "da", "no", "nn", "sv",
    "et", "fi",
    "nl", "af",
})

# "sh" (the model's Serbo-Croatian label) is resolved among its individual languages only.
_MACROLANGUAGES = {"sh": frozenset({"hr", "sr", "bs"})}

MALTESE_LETTERS = frozenset("ħġċĦĠĊ")


@dataclass(frozen=True)
class SecondOpinionConfig:
    """When to ask lingua, and the Maltese-letter rule. Defaults are the measured ones."""

    # Ask lingua inside a confusion group.
    lingua: bool = True
    # ... when fastText's top probability is below this (1.0: whenever the top is a trigger
    # and the rival rule below lets it).
    below: float = 0.9
    triggers: frozenset[str] = DEFAULT_TRIGGERS
    # ... and only when fastText is unsure *inside* the group: another candidate lingua would
    # choose from has at least this model probability (0.0: ask whatever the runner-up).
    # A low top probability alone often means short or mixed text whose doubt lies outside
    # the group; asking lingua there costs ~1 ms a text and changes nothing.
    rival_min: float = 0.02
    # On a text of at least rival_words words a rival must also have rival_ratio times the
    # top's probability: with a sentence's worth of n-grams a rival at a few percent of the
    # top is no doubt (FLORES, each half: lingua asked for half the sentences it was,
    # 1-2 sentences of ~12k answered differently), whereas on one or two words fastText's
    # probabilities are flat and a small rival is real doubt (word pairs lose 3x as many).
    rival_ratio: float = 0.2
    rival_words: int = 5
    # Not asked, for these fastText tops, about a text of fewer than rival_words words: one
    # or two Dutch words are mostly spelt alike in Afrikaans, and lingua then turns a tenth of
    # the Dutch single words of the lingua set Afrikaans (0.45 -> 0.42); on sentences it
    # separates the two (FLORES Afrikaans given "nl": 24 % -> 4 %, Dutch unchanged).
    short_left_to_model: frozenset[str] = frozenset({"nl", "af"})
    # Not asked, for these fastText tops, about text without a single non-ASCII character
    # ("Diky zmene casu byla noc o hodinu delsi"): lingua's models lean on diacritics and take
    # such Czech for Slovak (13 of the 19 Czech sentences of the lingua set it turned Slovak;
    # FLORES has no such text). On the other groups it does not hurt, and asking helps.
    ascii_left_to_model: frozenset[str] = frozenset({"cs", "sk"})
    # lingua's high-accuracy mode (1- to 5-gram models, ~27 MB resident per language) for the
    # candidate sets holding one of these languages, its low-accuracy mode (trigrams only, ~4 MB
    # per language, ~3x faster) for the others. Measured (FLORES macro, resident MB for lingua):
    # all low 0.9878 / 63, all high 0.9914 / 465. Low costs FLORES 0.0018 on hr/bs/sl, 0.0014 on
    # da/no/sv and nothing on et/fi; on cs/sk and the Cyrillic group it costs the lingua sentences
    # (Czech) and the neighbours (a Serbian sentence turns mk, a Russian one be).
    high_accuracy_for: frozenset[str] = frozenset(set(LINGUA_LANGUAGES) - {"et", "fi"})
    # Characters given to lingua, at most (its cost grows faster than linearly with length;
    # on FLORES documents 2000 loses nothing, 500 does).
    max_chars: int = 2000
    # ħ/ġ/ċ in the text and fastText's Maltese probability at least maltese_min_prob -> "mt".
    maltese_letters: bool = True
    maltese_min_prob: float = 0.01

    def __post_init__(self) -> None:
        for name in ("below", "maltese_min_prob", "rival_min", "rival_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be at least 1, got {self.max_chars}")
        object.__setattr__(self, "triggers", frozenset(self.triggers))
        object.__setattr__(self, "high_accuracy_for", frozenset(self.high_accuracy_for))
        object.__setattr__(self, "ascii_left_to_model", frozenset(self.ascii_left_to_model))
        object.__setattr__(self, "short_left_to_model", frozenset(self.short_left_to_model))

    @property
    def enabled(self) -> bool:
        return self.lingua or self.maltese_letters


NO_SECOND_OPINION = SecondOpinionConfig(lingua=False, maltese_letters=False)


class SecondOpinion:
    """lingua detectors restricted to confusion groups (built lazily), and the Maltese rule."""

    def __init__(self, config: SecondOpinionConfig | None = None) -> None:
        self.config = config if config is not None else SecondOpinionConfig()
        self._lingua: Any = None
        self._detectors: dict[frozenset[str], Any] = {}
        if self.config.lingua and importlib.util.find_spec("lingua") is None:
            # Fail when the identifier is built, not hours into a job at the first hesitant page.
            raise ImportError(f"the langid second opinion needs lingua: {LINGUA_INSTALL_HINT} "
                              f"(or pass second_opinion=NO_SECOND_OPINION)")

    # --- Maltese ----------------------------------------------------------------------------

    def maltese(self, text: str, scores: dict[str, float]) -> bool:
        """Whether ``text`` is Maltese by its letters (ħ/ġ/ċ) and fastText does not rule Maltese out."""
        cfg = self.config
        return (cfg.maltese_letters and scores.get("mt", 0.0) >= cfg.maltese_min_prob
                and not MALTESE_LETTERS.isdisjoint(text))

    # --- lingua -----------------------------------------------------------------------------

    def candidates(self, top: str, script: str | None) -> frozenset[str] | None:
        """The languages lingua is asked to choose between for fastText's ``top`` (None: not asked)."""
        return _candidates(self.config, top, script)

    def ask(self, top: str, top_prob: float, script: str | None, text: str,
            scores: dict[str, float] | None = None) -> dict[str, float] | None:
        """lingua's confidence for each candidate of ``top``'s group; None when it is not asked.

        ``scores`` (fastText's probabilities of the labels it ranked) limits asking to
        texts where fastText is unsure inside the group: another candidate has at least
        :attr:`SecondOpinionConfig.rival_min`, and on a text of
        :attr:`SecondOpinionConfig.rival_words` words or more at least
        :attr:`SecondOpinionConfig.rival_ratio` times the top's probability (without
        ``scores``, a top below :attr:`SecondOpinionConfig.below` is enough).

        On Latin text lingua's Bosnian confidence also goes to Serbian (a member of the
        group), which lingua cannot recognise in that script; ties are broken by the caller
        on fastText's scores.
        """
        if top_prob >= self.config.below:
            return None
        langs = self.candidates(top, script)
        if langs is None:
            return None
        if top in self.config.short_left_to_model and not _has_words(text, self.config.rival_words):
            return None
        if scores is not None:
            # lingua's stand-in for each label: on Latin text its "bs" is Bosnian, Latin
            # Serbian and Serbo-Croatian alike.
            def proxy(lang: str) -> str:
                return "bs" if script == "Latn" and lang in ("sr", "sh", "bs") else lang

            least = self.config.rival_min
            if self.config.rival_ratio > 0.0 and _has_words(text, self.config.rival_words):
                least = max(least, self.config.rival_ratio * top_prob)
            rivals = {proxy(lang) for lang, p in scores.items() if p >= least and lang != top} & langs
            if not rivals - {proxy(top)}:
                return None
        text = text[: self.config.max_chars]
        if top in self.config.ascii_left_to_model and text.isascii():
            return None
        conf = self.confidences(langs, text)
        if not conf:
            return None
        group = _MACROLANGUAGES.get(top) or group_of(top)
        if script == "Latn" and "bs" in conf and "sr" in group:
            conf["sr"] = conf["bs"]
        return conf

    def confidences(self, langs: frozenset[str], text: str) -> dict[str, float]:
        """lingua's confidence values (summing to about 1) for ``langs`` on ``text``.

        Rounded to 6 decimals: lingua sums in an order that changes from process to
        process (last-bit differences, up to 5e-14 measured), and the pipeline's outputs
        must not depend on the process that computed them.
        """
        detector = self._detector(langs)
        lang_of = self._codes
        return {lang_of[c.language]: round(c.value, 6) for c in detector.compute_language_confidence_values(text)}

    def _detector(self, langs: frozenset[str]) -> Any:
        detector = self._detectors.get(langs)
        if detector is None:
            lingua = self._import()
            builder = lingua.LanguageDetectorBuilder.from_languages(
                *(getattr(lingua.Language, LINGUA_LANGUAGES[lang]) for lang in sorted(langs)))
            if not langs & self.config.high_accuracy_for:
                builder = builder.with_low_accuracy_mode()
            detector = self._detectors[langs] = builder.build()
        return detector

    def _import(self) -> Any:
        if self._lingua is None:
            try:
                import lingua
            except ImportError as exc:
                raise ImportError(f"the langid second opinion needs lingua: {LINGUA_INSTALL_HINT}") from exc
            if not hasattr(lingua, "LanguageDetectorBuilder"):
                raise ImportError(f"the installed 'lingua' module is not lingua-language-detector: "
                                  f"{LINGUA_INSTALL_HINT}")
            self._codes = {getattr(lingua.Language, name): code for code, name in LINGUA_LANGUAGES.items()}
            self._lingua = lingua
        return self._lingua

    def preload(self, groups: Iterable[frozenset[str]] | None = None) -> None:
        """Build the detectors and load lingua's models now (e.g. before timing a run)."""
        lingua = self._import()
        if groups is None:
            groups = {langs for top in self.config.triggers for script in ("Latn", "Cyrl")
                      if (langs := _candidates(self.config, top, script)) is not None}
        for langs in groups:
            detector = self._detector(langs)
            for lang in langs:
                # A word in the language's own script makes lingua load its models.
                detector.compute_language_confidence(_SAMPLE_WORD[LINGUA_LANGUAGES[lang]],
                                                     getattr(lingua.Language, LINGUA_LANGUAGES[lang]))


# Words long enough for every n-gram order (lingua loads a model when a text needs it).
_SAMPLE_WORD = {name: ("мостови" if name in ("BULGARIAN", "MACEDONIAN", "SERBIAN", "RUSSIAN", "UKRAINIAN",
                                             "BELARUSIAN") else "mostovi") for name in LINGUA_LANGUAGES.values()}


def _has_words(text: str, n: int) -> bool:
    """Whether ``text`` has at least ``n`` whitespace-separated words (reads no further)."""
    return len(text.split(maxsplit=n)) >= n


def _candidates(cfg: SecondOpinionConfig, top: str, script: str | None) -> frozenset[str] | None:
    if not cfg.lingua or top not in cfg.triggers:
        return None
    group = _MACROLANGUAGES.get(top) or group_of(top)
    langs = frozenset(lang for lang in group if lang in LINGUA_LANGUAGES and script_compatible(lang, script)
                      and _LINGUA_SCRIPT.get(lang, script) == script)
    return langs if len(langs) >= 2 else None
