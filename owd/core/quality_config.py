"""The quality stage's configuration: which heuristic filters apply and their thresholds.

Here rather than in owd.extract.quality because the campaign config (owd.core.config)
and the data cards (owd.pools.cards) read it too, and neither may import a stage.
The filters themselves are in :mod:`owd.extract.quality`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from owd.core.languages import eu_code as normalise_lang

__all__ = ["QualityConfig", "FILTERS", "active_filters", "threshold_names"]


# FineWeb-2 per-language thresholds, from the FineWeb-2 repository's
# configs/<lang>_<script>.yml (values as published; Estonian is ekk_Latn and Latvian
# lvs_Latn there). FineWeb-2 derived each from statistics of reference data in that
# language; English has no entry and keeps the FineWeb (English) defaults.
# Columns: min/max mean word length, min alpha-word fraction, min line-punctuation
# ratio, max list (newline/word) ratio, max duplicate-line fraction,
# top 2/3/4-gram char fractions, duplicate 5..10-gram char fractions.
_FW2: dict[str, tuple[float, ...]] = {
    #     minwl maxwl alpha  lpunct list   dupln  top2   top3   top4   dup5   dup6   dup7   dup8   dup9   dup10
    "bg": (3, 9, 0.756, 0.273, 0.180, 0.350, 0.086, 0.109, 0.127, 0.205, 0.185, 0.165, 0.149, 0.136, 0.126),
    "cs": (3, 11, 0.781, 0.125, 0.233, 0.333, 0.095, 0.121, 0.144, 0.193, 0.175, 0.157, 0.144, 0.132, 0.121),
    "da": (3, 11, 0.798, 0.100, 0.182, 0.305, 0.367, 0.297, 0.232, 0.169, 0.158, 0.147, 0.134, 0.123, 0.112),
    "de": (0, 15, 0.774, 0.000, 0.152, 0.263, 0.169, 0.153, 0.137, 0.141, 0.134, 0.126, 0.117, 0.108, 0.098),
    "el": (3, 11, 0.809, 0.167, 0.116, 0.310, 0.194, 0.175, 0.156, 0.174, 0.163, 0.153, 0.142, 0.130, 0.119),
    "es": (4, 14, 0.825, 0.300, 0.171, 0.265, 0.077, 0.097, 0.112, 0.152, 0.137, 0.123, 0.114, 0.107, 0.099),
    "et": (3, 13, 0.722, 0.143, 0.213, 0.363, 0.345, 0.268, 0.215, 0.172, 0.161, 0.150, 0.139, 0.125, 0.113),
    "fi": (4, 13, 0.755, 0.250, 0.219, 0.333, 0.101, 0.132, 0.163, 0.171, 0.149, 0.131, 0.119, 0.106, 0.094),
    "fr": (2, 11, 0.812, 0.100, 0.185, 0.264, 0.161, 0.149, 0.134, 0.150, 0.141, 0.131, 0.121, 0.111, 0.100),
    "ga": (2, 11, 0.816, 0.000, 0.214, 0.395, 0.533, 0.421, 0.379, 0.203, 0.181, 0.181, 0.155, 0.145, 0.132),
    "hr": (3, 11, 0.751, 0.200, 0.260, 0.333, 0.097, 0.122, 0.147, 0.208, 0.188, 0.171, 0.157, 0.145, 0.134),
    "hu": (3, 15, 0.766, 0.067, 0.231, 0.322, 0.226, 0.198, 0.172, 0.169, 0.159, 0.148, 0.136, 0.124, 0.112),
    "it": (3, 21, 0.807, 0.025, 0.200, 0.246, 0.198, 0.156, 0.133, 0.144, 0.136, 0.127, 0.118, 0.109, 0.100),
    "lt": (3, 11, 0.688, 0.273, 0.250, 0.353, 0.098, 0.126, 0.152, 0.213, 0.190, 0.173, 0.159, 0.147, 0.136),
    "lv": (3, 13, 0.727, 0.200, 0.222, 0.364, 0.147, 0.162, 0.178, 0.199, 0.177, 0.157, 0.142, 0.124, 0.110),
    "mt": (4, 12, 0.823, 0.200, 0.207, 0.458, 0.533, 0.607, 0.596, 0.267, 0.232, 0.207, 0.189, 0.171, 0.149),
    "nl": (3, 16, 0.828, 0.238, 0.194, 0.333, 0.093, 0.117, 0.140, 0.177, 0.160, 0.145, 0.133, 0.123, 0.112),
    "pl": (3, 11, 0.726, 0.200, 0.209, 0.353, 0.096, 0.120, 0.144, 0.203, 0.182, 0.163, 0.150, 0.137, 0.126),
    "pt": (3, 13, 0.814, 0.154, 0.230, 0.325, 0.093, 0.117, 0.139, 0.190, 0.172, 0.154, 0.142, 0.131, 0.120),
    "ro": (1, 14, 0.779, 0.081, 0.207, 0.289, 0.161, 0.146, 0.131, 0.160, 0.149, 0.138, 0.127, 0.117, 0.106),
    "sk": (2, 11, 0.752, 0.000, 0.214, 0.319, 0.316, 0.218, 0.171, 0.176, 0.165, 0.152, 0.140, 0.127, 0.115),
    "sl": (2, 12, 0.781, 0.045, 0.273, 0.317, 0.262, 0.225, 0.189, 0.170, 0.158, 0.146, 0.135, 0.123, 0.111),
    "sv": (3, 12, 0.841, 0.200, 0.135, 0.292, 0.242, 0.195, 0.174, 0.156, 0.147, 0.136, 0.125, 0.116, 0.105),
}
_FW2_FIELDS = (
    "gopher_min_mean_word_len", "gopher_max_mean_word_len", "gopher_min_alpha_words_frac",
    "fw_min_line_punct_ratio", "fw_max_list_ratio", "rep_max_dup_line_frac",
    "rep_max_top_2_gram", "rep_max_top_3_gram", "rep_max_top_4_gram",
    "rep_max_dup_5_gram", "rep_max_dup_6_gram", "rep_max_dup_7_gram",
    "rep_max_dup_8_gram", "rep_max_dup_9_gram", "rep_max_dup_10_gram",
)
# Where we depart from the FineWeb-2 table above, and why:
_OUR_ADJUSTMENTS: dict[str, dict[str, float]] = {
    # FineWeb-2 publishes 21 for Italian, far above any other EU language (de/hu use 15
    # for their long compounds). Italian forms no long compounds; a mean word length
    # above 15 only happens in URL lists, identifiers or base64, so we cap it at 15.
    "it": {"gopher_max_mean_word_len": 15},
}


def _default_per_language() -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for lang, values in _FW2.items():
        overrides = {name: float(v) for name, v in zip(_FW2_FIELDS, values, strict=True)}
        # FineWeb-2 raised FineWeb's duplicated-line character ratio from 0.01 to 0.1
        # for every language ("we changed this from 0.01 in fineweb english").
        overrides["fw_max_char_dup_ratio"] = 0.1
        overrides.update(_OUR_ADJUSTMENTS.get(lang, {}))
        out[lang] = overrides
    return out


@dataclass
class QualityConfig:
    """Which heuristic filters apply, their thresholds, and per-language overrides.

    A threshold set to ``None`` switches that one rule off. ``per_language`` maps a
    language code to ``{threshold field: value}``; its default holds FineWeb-2's
    per-language values (see ``_FW2``). Setting ``per_language`` in a config replaces
    the whole default mapping, so start from ``QualityConfig().per_language`` to amend it.
    """

    gopher_quality: bool = True
    gopher_repetition: bool = True
    c4: bool = True
    fineweb: bool = True

    # Gopher quality (Rae et al. 2021, A.1.1; datatrove GopherQualityFilter defaults).
    gopher_min_words: float | None = 50  # "fewer than 50 ... words"
    gopher_max_words: float | None = 100_000  # "... or more than 100,000 words"
    gopher_min_mean_word_len: float | None = 3  # "mean word length outside 3 to 10 characters"
    gopher_max_mean_word_len: float | None = 10
    gopher_max_hash_ratio: float | None = 0.1  # "symbol-to-word ratio greater than 0.1" for #
    gopher_max_ellipsis_ratio: float | None = 0.1  # ... and for the ellipsis
    gopher_max_bullet_lines_frac: float | None = 0.9  # "more than 90% of lines starting with a bullet"
    gopher_max_ellipsis_lines_frac: float | None = 0.3  # "more than 30% ending with an ellipsis"
    gopher_min_alpha_words_frac: float | None = 0.8  # "80% of words ... at least one alphabetic character"
    gopher_min_stop_words: float | None = 2  # "at least two of the following English stop words"

    # Gopher repetition (Rae et al. 2021, Table A1; datatrove GopherRepetitionFilter defaults).
    rep_max_dup_line_frac: float | None = 0.30
    rep_max_dup_para_frac: float | None = 0.30
    rep_max_dup_line_char_frac: float | None = 0.20
    rep_max_dup_para_char_frac: float | None = 0.20
    rep_max_top_2_gram: float | None = 0.20
    rep_max_top_3_gram: float | None = 0.18
    rep_max_top_4_gram: float | None = 0.16
    rep_max_dup_5_gram: float | None = 0.15
    rep_max_dup_6_gram: float | None = 0.14
    rep_max_dup_7_gram: float | None = 0.13
    rep_max_dup_8_gram: float | None = 0.12
    rep_max_dup_9_gram: float | None = 0.11
    rep_max_dup_10_gram: float | None = 0.10

    # C4 (Raffel et al. 2020, 2.2; datatrove C4QualityFilter): the document-level rules.
    c4_min_sentences: float | None = 5  # "discarded any page with fewer than 5 sentences"
    c4_drop_lorem_ipsum: bool = True  # "removed any page where the phrase 'lorem ipsum' appeared"
    c4_drop_curly_bracket: bool = True  # "removed any pages that contained a curly bracket"

    # FineWeb (Penedo et al. 2024; datatrove FineWebQualityFilter defaults).
    fw_min_line_punct_ratio: float | None = 0.12  # lines ending in punctuation
    fw_max_short_line_ratio: float | None = 0.67  # lines of <= 30 characters
    fw_max_char_dup_ratio: float | None = 0.01  # characters in duplicated lines
    fw_max_list_ratio: float | None = 0.3  # newlines per word

    per_language: dict[str, dict[str, float]] = field(default_factory=_default_per_language)

    def check(self) -> None:
        """Raise ``ValueError("field: problem")`` for a threshold out of range or an unknown override."""
        names = threshold_names()
        for name in names:
            _check_value(name, getattr(self, name))
        for key in ("words", "mean_word_len"):
            lo, hi = getattr(self, f"gopher_min_{key}"), getattr(self, f"gopher_max_{key}")
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"gopher_min_{key}: {lo} is above gopher_max_{key} {hi}")
        for lang, overrides in self.per_language.items():
            if normalise_lang(lang) != lang:
                raise ValueError(f"per_language.{lang}: use a lower-case ISO 639-1 code such as 'de'")
            for name, value in overrides.items():
                if name not in names:
                    raise ValueError(
                        f"per_language.{lang}.{name}: unknown threshold (known: {', '.join(sorted(names))})"
                    )
                _check_value(f"per_language.{lang}.{name}", value)

    def thresholds(self, lang: str | None) -> dict[str, float | None]:
        """The effective thresholds for ``lang``: the fields, then its overrides."""
        out: dict[str, float | None] = {name: getattr(self, name) for name in threshold_names()}
        out.update(self.per_language.get(normalise_lang(lang) or "", {}))
        return out


# The four filters (the switches of QualityConfig, the prefixes of their drop reasons)
# and the field-name prefix of each one's thresholds.
FILTERS = ("gopher_quality", "gopher_repetition", "c4", "fineweb")
_FILTER_THRESHOLDS = {"gopher_quality": "gopher_m", "gopher_repetition": "rep_", "c4": "c4_min", "fineweb": "fw_"}


def active_filters(cfg: QualityConfig) -> list[str]:
    """The filters of :data:`FILTERS` that can drop a document under ``cfg``.

    A switched-on filter whose every rule is off (thresholds ``None`` for every
    language, C4's two drop switches false) drops nothing, so it is not active:
    the data cards must not claim it was applied.
    """
    names = threshold_names()
    active = []
    for name in FILTERS:
        if not getattr(cfg, name):
            continue
        rules = [n for n in names if n.startswith(_FILTER_THRESHOLDS[name])]
        live = any(getattr(cfg, n) is not None for n in rules) or any(
            overrides.get(n) is not None for overrides in cfg.per_language.values() for n in rules)
        if name == "c4":
            live = live or cfg.c4_drop_lorem_ipsum or cfg.c4_drop_curly_bracket
        if live:
            active.append(name)
    return active


def threshold_names() -> frozenset[str]:
    return frozenset(
        f.name for f in dataclasses.fields(QualityConfig) if f.name.startswith(("gopher_m", "rep_", "c4_min", "fw_"))
    )


def _check_value(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name}: must not be negative, got {value}")
    is_fraction = ("frac" in name or "ratio" in name or "_gram" in name)
    if is_fraction and value > 1 and not name.startswith("fw_max_list"):
        # A fraction above 1 can never fail a max rule (or always fail a min rule):
        # almost certainly a percentage typed by mistake.
        raise ValueError(f"{name}: is a fraction between 0 and 1, got {value}")
