"""The 24 official languages of the EU: one table for every package.

Codes are ISO 639-1 (what documents, pools and the query language use). Each language
carries its ISO 639-3 code (also the Publications Office language authority code used
in the DCAT-AP cards), its script (ISO 15924) and its English name. :func:`eu_code`
folds the spellings other tools hand us (``DE``, ``de-AT``, ``deu``, ``ger``,
``deu_Latn``, ``ekk_Latn``) onto the table's code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Language", "LANGUAGES", "EU_LANGUAGES", "ISO3_ALIASES", "KNOWN_LANGUAGES", "eu_code"]


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1
    iso3: str  # ISO 639-3 (= the EU language authority code, lower case)
    script: str  # ISO 15924
    name: str  # English name


LANGUAGES: dict[str, Language] = {lang.code: lang for lang in (
    Language("bg", "bul", "Cyrl", "Bulgarian"),
    Language("cs", "ces", "Latn", "Czech"),
    Language("da", "dan", "Latn", "Danish"),
    Language("de", "deu", "Latn", "German"),
    Language("el", "ell", "Grek", "Greek"),
    Language("en", "eng", "Latn", "English"),
    Language("es", "spa", "Latn", "Spanish"),
    Language("et", "est", "Latn", "Estonian"),
    Language("fi", "fin", "Latn", "Finnish"),
    Language("fr", "fra", "Latn", "French"),
    Language("ga", "gle", "Latn", "Irish"),
    Language("hr", "hrv", "Latn", "Croatian"),
    Language("hu", "hun", "Latn", "Hungarian"),
    Language("it", "ita", "Latn", "Italian"),
    Language("lt", "lit", "Latn", "Lithuanian"),
    Language("lv", "lav", "Latn", "Latvian"),
    Language("mt", "mlt", "Latn", "Maltese"),
    Language("nl", "nld", "Latn", "Dutch"),
    Language("pl", "pol", "Latn", "Polish"),
    Language("pt", "por", "Latn", "Portuguese"),
    Language("ro", "ron", "Latn", "Romanian"),
    Language("sk", "slk", "Latn", "Slovak"),
    Language("sl", "slv", "Latn", "Slovenian"),
    Language("sv", "swe", "Latn", "Swedish"),
)}

EU_LANGUAGES: tuple[str, ...] = tuple(sorted(LANGUAGES))

# Three-letter codes -> the table's code: each language's ISO 639-3 code, the ISO 639-2/B
# bibliographic codes still seen in lang attributes (ger, fre, ...), and the individual
# languages FLORES-200 and GlotLID label Estonian and Latvian text with (ekk, lvs).
ISO3_ALIASES: dict[str, str] = {
    **{lang.iso3: lang.code for lang in LANGUAGES.values()},
    "cze": "cs", "ger": "de", "gre": "el", "fre": "fr", "dut": "nl", "rum": "ro", "slo": "sk",
    "ekk": "et", "lvs": "lv",
}

# Every code `owd process` can write to `lang`: the labels of the fastText lid.176
# model after owd.langid.langs.normalise_label (dumped once from the model, so that
# validating a config needs no 900 kB model load), plus the 24 EU languages.
_LID176 = (
    "af am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb ckb co cs "
    "cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom gsw gu gv he hi "
    "hif hr hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw ky la lb lez li "
    "lmo lo lrc lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl my myv mzn nah nap nds ne new nl nn no "
    "oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru rue sa sah sc scn sco sd sh si sk sl so sq sr su "
    "sv sw ta te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls vo wa war wuu xal xmf yi yo yue zh"
)
KNOWN_LANGUAGES: frozenset[str] = frozenset(_LID176.split()) | frozenset(LANGUAGES)


def eu_code(label: str | None) -> str | None:
    """``"de"``, ``"DE"``, ``"de-AT"``, ``"deu"`` and ``"deu_Latn"`` all give ``"de"``.

    Codes outside the table come back lower-cased and without subtags (``"sr-Latn"`` ->
    ``"sr"``); None for an empty label.
    """
    if not label:
        return None
    base = re.split(r"[-_]", label.strip().lower(), maxsplit=1)[0]
    return ISO3_ALIASES.get(base, base) or None
