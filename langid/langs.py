"""Language tables: label normalisation, declared-language parsing, TLDs, confusion groups.

Codes are ISO 639-1 where one exists, else the ISO 639-3 code the fastText
``lid.176`` label already is. Two labels are kept although they are not
individual languages: ``no`` (Norwegian, the macrolanguage; ``nb`` is folded
into it, ``nn`` stays separate as in the model) and ``sh`` (Serbo-Croatian, the
deprecated ISO 639-1 code of the model's label trained on sh.wikipedia).
"""

from __future__ import annotations

import re

from owd.core.languages import EU_LANGUAGES, ISO3_ALIASES

__all__ = [
    "EU_LANGUAGES",
    "CONFUSION_GROUPS",
    "TLD_LANG",
    "LANG_SCRIPTS",
    "normalise_label",
    "normalise_declared",
    "tld_language",
    "group_of",
    "script_compatible",
    "NEIGHBOURS",
    "FOREIGN_LETTERS",
    "GOIDELIC",
]


# lid.176 labels are Wikipedia language codes. All but one are ISO 639-1 or
# 639-3 codes of the same language; "als" is Alemannic Wikipedia, whereas the
# ISO 639-3 code "als" means Tosk Albanian, so it must become "gsw".
_LABEL_FIXES = {"als": "gsw"}

# Groups of languages the model confuses with each other (measured on FLORES-200
# and the lingua sentences, see bench/eval_langid.py) or that are close
# neighbours of an EU language. A language may sit in more than one group
# (sr: Latin with hr/bs, Cyrillic with mk/bg); re-ranking considers the union.
CONFUSION_GROUPS: dict[str, frozenset[str]] = {
    "bcms_sl": frozenset({"hr", "sr", "bs", "sh", "sl"}),
    "cyrillic_slavic": frozenset({"bg", "mk", "sr", "ru", "uk", "be"}),
    "czech_slovak": frozenset({"cs", "sk"}),
    "scandinavian": frozenset({"da", "no", "nn", "sv"}),
    "ibero_romance": frozenset({"es", "pt", "gl", "ca", "ast", "oc", "an"}),
    "finnic": frozenset({"et", "fi"}),
    "goidelic": frozenset({"ga", "gd", "gv"}),
    "upper_german": frozenset({"de", "lb", "gsw", "bar", "pfl", "nds"}),
    "low_franconian": frozenset({"nl", "af", "fy", "li", "vls"}),
    "italo_romance": frozenset({"it", "co", "vec", "nap", "scn", "lmo", "pms", "eml", "sc"}),
}

_GROUPS_BY_LANG: dict[str, frozenset[str]] = {}
for _members in CONFUSION_GROUPS.values():
    for _lang in _members:
        _GROUPS_BY_LANG[_lang] = _GROUPS_BY_LANG.get(_lang, frozenset()) | _members

# The Goidelic labels: lowercasing erases the capital of an Irish initial mutation
# ("i mBaile", "na hÉireann", "an tAcht"), a strong Irish feature of lid.176's cased
# training text, so text the lowercased prediction puts near them is predicted again cased.
GOIDELIC: frozenset[str] = CONFUSION_GROUPS["goidelic"]

# EU language -> the non-EU languages written close to it that lid.176 has a label for
# (close relatives, regional languages, the languages of neighbouring states). When text
# predicted as the EU language shows it is not (see FOREIGN_LETTERS), the answer is the
# most probable of these in the model's ranking. Silesian, Friulian, Ligurian and Faroese
# have no lid.176 label, so they cannot be named.
NEIGHBOURS: dict[str, frozenset[str]] = {
    "hr": frozenset({"bs", "sr", "sh"}), "sl": frozenset({"bs", "sr", "sh"}),
    "bg": frozenset({"mk", "sr", "ru"}),
    "cs": frozenset({"hsb", "dsb", "rue"}), "sk": frozenset({"rue", "hsb"}),
    "pl": frozenset({"hsb", "dsb", "rue"}),
    "da": frozenset({"no", "nn", "is"}), "sv": frozenset({"no", "nn", "is"}),
    "es": frozenset({"gl", "ca", "ast", "oc", "an", "eu", "mwl"}),
    "pt": frozenset({"gl", "mwl", "ast"}),
    "fr": frozenset({"oc", "ca", "wa", "br", "co", "frr"}),
    "it": frozenset({"vec", "scn", "sc", "nap", "lmo", "pms", "eml", "co", "rm"}),
    "nl": frozenset({"af", "li", "vls", "fy", "nds"}),
    "de": frozenset({"lb", "gsw", "bar", "pfl", "nds", "li"}),
    "ga": frozenset({"gd", "gv"}), "en": frozenset({"sco"}),
    "et": frozenset({"vep"}), "fi": frozenset({"vep"}),
}

# EU language -> letters that its own orthography does not use but the orthographies of
# its neighbours do: Silesian ō ô ŏ and Kashubian ã ë ò ù next to Polish; Friulian,
# Sicilian, Ligurian and Venetian â ê î ô û ç æ ḍ ł next to Italian; Asturian ḥ ḷ and
# Catalan/Occitan ç à è ò ï next to Spanish; Galician ñ next to Portuguese; Faroese and
# Icelandic ð þ next to the Scandinavian languages; Luxembourgish ë next to German;
# Afrikaans and Limburgish ê ô û ä next to Dutch. A text predicted as the EU language
# in which many words carry such letters is one of the neighbours (a name or loanword
# now and then does not count: see identify.FOREIGN_WORD_SHARE). Deliberately absent:
# letters that mis-decoded (mojibake) text of the language itself shows, such as
# Hungarian õ/û for ő/ű or Romanian ã/ş for ă/ș: that text is still the EU language.
FOREIGN_LETTERS: dict[str, frozenset[str]] = {
    "pl": frozenset("ōôŏõũůãëòù"),
    "it": frozenset("âêîôûçæḍłëñ"),
    "es": frozenset("ḥḷçàèòï·"),
    "pt": frozenset("ñ"),
    "da": frozenset("ðþ"), "sv": frozenset("ðþ"),
    "de": frozenset("ë"),
    "nl": frozenset("êôûä"),
}

# Scripts a language is written in, for the members of the confusion groups
# whose scripts differ (everything else is taken to fit any script). Croatian,
# Slovene and the West/North Germanic languages are never Cyrillic; Bulgarian,
# Macedonian and the East Slavic languages are never Latin here; Serbian,
# Bosnian and Serbo-Croatian are written in both.
LANG_SCRIPTS: dict[str, frozenset[str]] = {
    **{lang: frozenset({"Latn"}) for lang in ("hr", "sl", "cs", "sk", "da", "no", "nn", "sv")},
    **{lang: frozenset({"Cyrl"}) for lang in ("bg", "mk", "ru", "uk", "be")},
    **{lang: frozenset({"Latn", "Cyrl"}) for lang in ("sr", "bs", "sh")},
}

# Country-code TLD -> the language a page there most likely is in. Only used as
# evidence inside a confusion group, so a multilingual country's TLD (.be, .ch,
# .lu, .es with ca/gl/eu, .ca) is deliberately absent: it would push Catalan
# towards Spanish. .fi -> fi (Finland-Swedish pages are sv, which is not in the
# finnic group, so this cannot hurt them).
TLD_LANG: dict[str, str] = {
    "at": "de", "de": "de", "li": "de",
    "bg": "bg", "cz": "cs", "dk": "da", "ee": "et", "fi": "fi", "fr": "fr",
    "gr": "el", "hr": "hr", "hu": "hu", "ie": "ga", "it": "it", "lt": "lt",
    "lv": "lv", "mt": "mt", "nl": "nl", "pl": "pl", "pt": "pt", "br": "pt",
    "ro": "ro", "md": "ro", "sk": "sk", "si": "sl", "se": "sv", "uk": "en",
    "rs": "sr", "срб": "sr", "ba": "bs", "mk": "mk", "ru": "ru", "рф": "ru",
    "ua": "uk", "by": "be", "no": "no", "is": "is", "al": "sq",
    "cat": "ca", "gal": "gl", "eus": "eu", "scot": "gd", "cymru": "cy",
    # Internationalised ccTLDs, as written and in the punycode a host carries.
    "бг": "bg", "xn--90ae": "bg", "ελ": "el", "xn--qxam": "el",
    "xn--90a3ac": "sr", "xn--p1ai": "ru",
}

# Legacy or three-letter codes seen in lang="" attributes and HTTP headers.
_DECLARED_ALIASES = {
    **ISO3_ALIASES,  # the EU languages' three-letter codes (owd.core.languages)
    "nb": "no", "nob": "no", "nor": "no", "nno": "nn",
    "iw": "he", "in": "id", "ji": "yi", "mo": "ro",
    "srp": "sr", "bos": "bs", "hbs": "sh",
    "cat": "ca", "glg": "gl", "eus": "eu", "baq": "eu", "ltz": "lb", "rus": "ru",
    "ukr": "uk", "mkd": "mk", "mac": "mk", "bel": "be",
}
# Codes that say "no particular language".
_DECLARED_NONE = {"und", "mul", "zxx", "mis", "x", "i"}
_PRIMARY = re.compile(r"^[a-z]{2,3}$")


def normalise_label(label: str) -> str:
    """``__label__sr`` -> ``sr``; fixes the one lid.176 label that is not its ISO code."""
    code = label.removeprefix("__label__")
    return _LABEL_FIXES.get(code, code)


def normalise_declared(declared: str | None) -> str | None:
    """A page's declared language as a model code: ``de-AT`` -> ``de``, ``nb`` -> ``no``.

    Takes the first entry of a list (``"en, de"``), the primary subtag of a
    BCP 47 tag, and maps three-letter and legacy codes. Returns None for
    nothing usable (empty, ``x-default``, ``und``, not a language subtag).
    """
    if not declared:
        return None
    first = re.split(r"[,;\s]+", declared.strip().lower(), maxsplit=1)[0]
    primary = re.split(r"[-_]", first, maxsplit=1)[0]
    if not _PRIMARY.match(primary) or primary in _DECLARED_NONE:
        return None
    return _DECLARED_ALIASES.get(primary, primary)


def tld_language(tld_or_host: str | None) -> str | None:
    """The language a country-code TLD suggests (``hr``, ``.hr``, ``www.x.hr`` -> ``hr``)."""
    if not tld_or_host:
        return None
    last = tld_or_host.strip().rstrip(".").rsplit(".", 1)[-1].lower()
    return TLD_LANG.get(last)


def group_of(lang: str) -> frozenset[str]:
    """Every language sharing a confusion group with ``lang`` (itself included); empty if none."""
    return _GROUPS_BY_LANG.get(lang, frozenset())


def script_compatible(lang: str, script: str | None) -> bool:
    """Whether ``lang`` can be written in ``script`` (True when either is unknown)."""
    if script is None or lang not in LANG_SCRIPTS:
        return True
    return script in LANG_SCRIPTS[lang]
