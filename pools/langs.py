"""Language codes a pool rule may name, and their EU authority URIs for DCAT-AP cards."""

from __future__ import annotations

from owd.core.languages import KNOWN_LANGUAGES, LANGUAGES

__all__ = ["KNOWN_LANGUAGES", "EU_LANGUAGE_AUTHORITY", "language_uri"]

# ISO 639-1 -> the Publications Office "language" authority table code, for dct:language.
EU_LANGUAGE_AUTHORITY: dict[str, str] = {code: lang.iso3.upper() for code, lang in LANGUAGES.items()}
_AUTHORITY = "http://publications.europa.eu/resource/authority/language/"
_LOC_639_1 = "http://id.loc.gov/vocabulary/iso639-1/"
_LOC_639_3 = "http://id.loc.gov/vocabulary/iso639-3/"  # lid.176 labels without a two-letter code


def language_uri(code: str) -> str:
    """The URI DCAT-AP expects for a language: the EU authority table where it has one."""
    if code in EU_LANGUAGE_AUTHORITY:
        return _AUTHORITY + EU_LANGUAGE_AUTHORITY[code]
    return (_LOC_639_1 if len(code) == 2 else _LOC_639_3) + code
