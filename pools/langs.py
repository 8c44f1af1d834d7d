"""Language codes a pool rule may name, and their EU authority URIs for DCAT-AP cards."""

from __future__ import annotations

__all__ = ["KNOWN_LANGUAGES", "EU_LANGUAGE_AUTHORITY", "language_uri"]

# Every code `owd process` can write to `lang`: the labels of the fastText lid.176
# model after langid.langs.normalise_label (dumped once from the model, so that
# validating a config needs no 900 kB model load), plus the 24 EU languages.
_LID176 = (
    "af am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb ckb co cs "
    "cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom gsw gu gv he hi "
    "hif hr hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw ky la lb lez li "
    "lmo lo lrc lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl my myv mzn nah nap nds ne new nl nn no "
    "oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru rue sa sah sc scn sco sd sh si sk sl so sq sr su "
    "sv sw ta te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls vo wa war wuu xal xmf yi yo yue zh"
)
KNOWN_LANGUAGES: frozenset[str] = frozenset(_LID176.split())

# ISO 639-1 -> the Publications Office "language" authority table code, for dct:language.
EU_LANGUAGE_AUTHORITY: dict[str, str] = {
    "bg": "BUL", "cs": "CES", "da": "DAN", "de": "DEU", "el": "ELL", "en": "ENG", "es": "SPA",
    "et": "EST", "fi": "FIN", "fr": "FRA", "ga": "GLE", "hr": "HRV", "hu": "HUN", "it": "ITA",
    "lt": "LIT", "lv": "LAV", "mt": "MLT", "nl": "NLD", "pl": "POL", "pt": "POR", "ro": "RON",
    "sk": "SLK", "sl": "SLV", "sv": "SWE",
}
_AUTHORITY = "http://publications.europa.eu/resource/authority/language/"
_LOC_639_1 = "http://id.loc.gov/vocabulary/iso639-1/"
_LOC_639_3 = "http://id.loc.gov/vocabulary/iso639-3/"  # lid.176 labels without a two-letter code


def language_uri(code: str) -> str:
    """The URI DCAT-AP expects for a language: the EU authority table where it has one."""
    if code in EU_LANGUAGE_AUTHORITY:
        return _AUTHORITY + EU_LANGUAGE_AUTHORITY[code]
    return (_LOC_639_1 if len(code) == 2 else _LOC_639_3) + code
