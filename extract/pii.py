"""PII pseudonymisation: e-mail addresses, phone numbers, IP addresses and IBANs.

:func:`find_pii` locates them, :func:`pseudonymise` replaces each with a stable
placeholder such as ``<EMAIL_3f2a1c9e>`` and counts them, :func:`annotate` does
both on a :class:`~owd.core.schema.Document`.

Placeholders are a short keyed hash (HMAC-SHA256 with the campaign's salt) of the
normalised value, not counters ("EMAIL_1", "EMAIL_2"): the same address gets the same
placeholder in every document, shard and worker, with no state to share or persist,
so reruns and parallel runs give identical output and a reader (or model) still sees
that two mentions are the same address. Without a secret salt, values from small
spaces (phone numbers, IPv4) could be recovered by hashing every candidate; a
campaign that publishes data must therefore set a salt and keep it private.

Precision comes before recall: a missed number is a small leak, but replacing dates,
prices, versions and order numbers damages ordinary text everywhere. So every
pattern is validated after matching (IBAN checksum and length, octet ranges, digit
counts, separator consistency), and bare digit strings count as phone numbers only
after a phone keyword ("Tel.", "phone", "puh.", "τηλ.", ...).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from owd.core.pii_config import PII_KINDS, PiiConfig, PiiKind
from owd.core.schema import Document, PiiCounts

__all__ = [
    "PII_KINDS", "PiiConfig", "PiiMatch", "annotate", "find_pii", "iban_valid", "placeholder", "pseudonymise",
]


# 8 hex digits = 32 bits: collisions (two values sharing a placeholder) stay rare within
# a site or a language pool, and the text stays short. A collision only merges two
# pseudonyms; it never reveals a value.
_HASH_HEX = 8


@dataclass(frozen=True)
class PiiMatch:
    """One PII value found in a text: ``text[start:end]`` and its normalised form."""

    kind: PiiKind
    start: int
    end: int
    value: str  # normalised: the input of the placeholder hash


def placeholder(kind: str, value: str, salt: str = "") -> str:
    """The placeholder for a normalised value, e.g. ``<EMAIL_3f2a1c9e>``."""
    digest = hmac.new(salt.encode("utf-8"), f"{kind}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()
    return f"<{kind.upper()}_{digest[:_HASH_HEX]}>"


# --------------------------------------------------------------------------- scanning

# Each pattern below starts with a lookbehind or a word boundary, so the regex engine
# cannot skip ahead to a likely start and tries every position of the text: most of
# the time of this module. So each pattern has a cheap "hint" that every match contains
# or starts with (a literal the engine finds fast, or a plain substring test); a text
# without it is skipped, and otherwise the pattern is tried only where a hint says a
# match can start. :func:`_scan` gives the very matches finditer() would: tried in text
# order, never inside the previous match, the lookbehind and \b seeing the whole text.


def _scan(pattern: re.Pattern[str], text: str, starts: Iterable[int]) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` when every match starts at one of ``starts`` (ascending)."""
    end = 0
    for pos in starts:
        if pos < end:
            continue
        m = pattern.match(text, pos)
        if m:
            yield m
            end = m.end()


def _hint_starts(hint: re.Pattern[str], text: str) -> Iterator[int]:
    return (m.start() for m in hint.finditer(text))


def _find_all(text: str, literals: Iterable[str]) -> list[int]:
    """Every position where one of ``literals`` starts (overlaps included), ascending.

    str.find() looks for a plain string far faster than the regex engine scans for a
    set of characters, so the hints that can be lists of strings are searched this way.
    """
    found = []
    for literal in literals:
        i = text.find(literal)
        while i >= 0:
            found.append(i)
            i = text.find(literal, i + 1)
    found.sort()
    return found


# --------------------------------------------------------------------------- e-mail

# Local part: RFC 5322 "atext" subset seen in practice, plus Unicode letters (EAI,
# RFC 6531); plus-addressing (user+tag@) included. Domain: dot-separated labels of
# Unicode letters/digits/hyphens (IDN, written as Unicode or as xn-- punycode).
_EMAIL_RE = re.compile(
    r"""
    (?<![\w.%+\-@])
    [\w%+\-]+(?:\.[\w%+\-]+)*          # local part, no leading/trailing/double dot
    @
    (?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+   # domain labels
    (?:[^\W\d_]{2,63}|xn--[a-z0-9\-]{2,59})  # top-level domain
    (?![\w\-]|\.[^\W_])
    """,
    re.VERBOSE | re.IGNORECASE,
)
# "icon@2x.png" and "photo@3x.jpg" are image names, not addresses.
_FILE_TLDS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "bmp", "ico", "tif", "tiff"})


def _emails(text: str) -> Iterable[PiiMatch]:
    if "@" not in text:
        return
    for m in _EMAIL_RE.finditer(text):
        tld = m.group(0).rsplit(".", 1)[1].lower()
        if tld in _FILE_TLDS:
            continue
        yield PiiMatch("email", m.start(), m.end(), m.group(0).casefold())


# --------------------------------------------------------------------------- IBAN

# IBAN length per country (ISO 13616 registry), for the EU/EEA and its neighbours.
_IBAN_LENGTHS = {
    "AD": 24, "AL": 28, "AT": 20, "BA": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24,
    "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22,
    "GI": 23, "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MT": 31, "NL": 18,
    "NO": 15, "PL": 28, "PT": 25, "RO": 24, "RS": 22, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "TR": 26, "UA": 29, "VA": 22, "XK": 20,
}
_IBAN_START_RE = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})\d{2}")
# Without the lookbehind: a start the hint's own matches hide is preceded by a letter or
# digit, which the lookbehind rejects anyway.
_IBAN_HINT_RE = re.compile(r"[A-Z]{2}\d{2}")


def iban_valid(iban: str) -> bool:
    """ISO 13616: known country, its exact length, and the mod-97 check equal to 1."""
    iban = iban.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum() or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _ibans(text: str) -> Iterable[PiiMatch]:
    for m in _scan(_IBAN_START_RE, text, _hint_starts(_IBAN_HINT_RE, text)):
        length = _IBAN_LENGTHS.get(m.group(1))
        if length is None:
            continue
        # Walk the exact country length, allowing single spaces between characters
        # (printed IBANs are grouped by four), then require the IBAN to end there.
        chars: list[str] = []
        i = m.start()
        while i < len(text) and len(chars) < length:
            ch = text[i]
            if ch.isascii() and (ch.isdigit() or ch.isupper()):
                chars.append(ch)
                i += 1
            elif ch == " " and chars and i + 1 < len(text) and text[i + 1].isascii() and text[i + 1].isalnum():
                # a single space inside the IBAN; what follows is checked on the next step
                i += 1
            else:
                break
        if len(chars) != length:
            continue
        if i < len(text) and text[i].isalnum():
            continue  # longer than the country's IBAN: some other code
        iban = "".join(chars)
        if iban_valid(iban):
            yield PiiMatch("iban", m.start(), i, iban.upper())


# --------------------------------------------------------------------------- IP addresses

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"  # 0-255, no leading zeros
_IPV4_RE = re.compile(rf"(?<![\w.:\-])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w\-]|\.\d)")
_IPV6_RE = re.compile(
    r"(?<![\w:.])(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\d)",
    re.IGNORECASE,
)
# Every IPv6 match holds two colons with at most 4 hex digits between them, and every
# IPv4 match a dot followed by three dotted numbers: texts without them are skipped.
_IPV6_HINT_RE = re.compile(r":[0-9a-f]{0,4}:", re.IGNORECASE)
_IPV4_HINT_RE = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d")
_COLONS_RE = re.compile(r":+")
# A dotted quad after one of these words is a version or section number
# ("version 1.2.3.4", "Art. 1.2.3.4"), not an address.
_NOT_IP_CONTEXT_RE = re.compile(
    r"(?:versions?|versión|versione|versie|verze|wersja|release|build|v\.|section|article|art\.|chapter|"
    r"§|clause|kapitel|abschnitt|punkt|point)\s*$",
    re.IGNORECASE,
)


def _ips(text: str) -> Iterable[PiiMatch]:
    # IPv6 first: an IPv4-mapped address (::ffff:192.0.2.128) is one IPv6 address.
    for m in _IPV6_RE.finditer(text) if _IPV6_HINT_RE.search(text) else ():
        cand = m.group(0)
        groups = [g for g in _COLONS_RE.split(cand) if g]
        # A real address has 8 groups or a "::"; demanding a digit and two groups keeps
        # times (10:30:45), MAC addresses and C++ names (dead::beef) out.
        if ("::" not in cand and cand.count(":") != 7) or len(groups) < 2 or not any(c.isdigit() for c in cand):
            continue
        try:
            addr6 = ipaddress.IPv6Address(cand)
        except ValueError:
            continue
        if addr6.is_loopback or addr6.is_unspecified:
            continue
        yield PiiMatch("ip", m.start(), m.end(), addr6.compressed)
    for m in _IPV4_RE.finditer(text) if _IPV4_HINT_RE.search(text) else ():
        if _NOT_IP_CONTEXT_RE.search(text[max(0, m.start() - 20) : m.start()]):
            continue
        addr = ipaddress.IPv4Address(m.group(0))
        # Loopback and "any" addresses identify no one; keep tutorials readable.
        if addr.is_loopback or addr.is_unspecified:
            continue
        yield PiiMatch("ip", m.start(), m.end(), str(addr))


# --------------------------------------------------------------------------- phone numbers

# E.164: at most 15 digits with the country code; below 8 a "+"-number is a score or offset.
_INTL_MIN_DIGITS, _INTL_MAX_DIGITS = 8, 15
# National numbers with a trunk prefix 0 (DE, FR, NL, BE, AT, IT, IE, UK, SI, HR, FI, SE,
# HU 06, ...) have 9 to 12 digits including the 0; dates (01.12.2026, 8 digits) fall below.
_NAT_MIN_DIGITS, _NAT_MAX_DIGITS = 9, 12
# After a phone keyword a bare number may lack the trunk 0 (ES, PT, PL, CZ, DK, GR, ...):
# 7 digits (Estonian landlines) to 15.
_KW_MIN_DIGITS, _KW_MAX_DIGITS = 7, 15

_END = r"(?![\w@]|[.,:/\-]\d)"  # not followed by more number (e.g. "030 1234567.5")
# "+49 (0)30 1234567", "+386 1 234 56 78", "+1 (555) 123-4567", "0049 30 1234567".
_INTL_RE = re.compile(
    r"(?<![\w+\-./,])(?P<prefix>\+|00)(?P<cc>[1-9]\d{0,2})"
    r"(?P<rest>(?:[ .\-/]?\(0\))?(?:[ .\-/]?\(?\d{1,5}\)?){1,7})" + _END
)
# "030 1234567", "(01) 234-5678", "01 23 45 67 89", "06-12345678", "030/123 45 67":
# an area code with the trunk 0, then subscriber groups that all use one separator.
_NATIONAL_RE = re.compile(
    r"(?<![\w+\-./,])(?P<area>\(0[1-9]\d{0,3}\)|0[1-9]\d{0,3})"
    r"(?P<sep1>[ \-/.])?(?P<first>\d{1,5})(?P<sep>[ \-.]?)(?P<tail>\d{1,5}(?:(?P=sep)\d{1,5}){0,4})?" + _END
)
_PHONE_KEYWORD_RE = re.compile(
    r"(?:\b(?:tel|tél|telefon\w*|telefono|teléfono|telefone|telefoon|telephone|téléphone|telefonas|phone|mobile|"
    r"mobil|mob|gsm|fax|tfn|tlf|puh|puhelin|τηλ|τηλέφωνο|тел|телефон|tālr|tālrunis)\b\.?(?:\s*(?:nr|no|n°)\.?)?"
    r"|[☎📞])\s*[:.]?\s*",
    re.IGNORECASE,
)
_KW_NUMBER_RE = re.compile(r"\+?\(?\d[\d \-./()]{5,22}\d" + _END)
# The number right after one of these words (optionally "no."/"Nr."/"number") is an
# identifier, not a phone number.
_NOT_PHONE_CONTEXT_RE = re.compile(
    r"\b(?:isbn|issn|doi|vat|btw|tva|iva|mwst|ust-?id|nip|regon|kbo|siren|siret|iban|bic|account|konto|"
    r"order|invoice|rechnung|bestell\w*|kunden\w*|customer|artikel\w*|article|item|sku|ref\w*|ticket|case|"
    r"id|serial|serien\w*|model\w*|modell\w*|tracking|sendung\w*|commande|pedido|ordine|bestelling|zamówienie|faktura)"
    r"\.?(?:\s*(?:nr|no|n°|nº|number|nummer|num)\.?)?\W{0,4}$",
    re.IGNORECASE,
)
# Digits that continue an IBAN-like code ("DE89 3704 0044 ...") whose checksum failed.
_IBAN_PREFIX_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4})* ?$")
# Belgian enterprise (VAT) numbers 0xxx.xxx.xxx are printed on every Belgian site.
_BE_ENTERPRISE_RE = re.compile(r"^0\d{3}\.\d{3}\.\d{3}$")
_PHONE_SEPARATOR_RE = re.compile(r"[ .\-/()]")
_DIGIT_RUN_RE = re.compile(r"\d+")

# Hints. International: "+" or "00". National: "0" and a digit, the start itself or one
# after "(" (a start the hint's own matches hide follows a digit, which the lookbehind
# rejects). Keyword: the start of every keyword, searched in text.lower(): the same
# positions, since lower() keeps every character's length but İ's.
_INTL_HINTS = ("+", "00")
_NATIONAL_HINT_RE = re.compile(r"0[1-9]")
_KEYWORD_HINTS = ("tel", "tél", "phone", "mob", "gsm", "fax", "tfn", "tlf", "puh", "τηλ", "тел", "tālr", "☎", "📞")
# İ, and the characters IGNORECASE matches with a letter of those keyword starts although
# lower() does not give that letter (ſ ~ s, ᲄ ᲅ ~ т, ...): a text holding one gets the
# plain scan. tests/extract/test_pii.py checks the list against the regex engine.
_CASE_ODD = "İıſϕᲂᲄᲅ"


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def _phone_context_ok(text: str, start: int) -> bool:
    before = text[max(0, start - 40) : start]
    return not (_NOT_PHONE_CONTEXT_RE.search(before) or _IBAN_PREFIX_RE.search(before))


def _national_starts(text: str) -> Iterator[int]:
    for m in _NATIONAL_HINT_RE.finditer(text):
        start = m.start()
        if start and text[start - 1] == "(":
            yield start - 1
        yield start


def _keyword_matches(text: str) -> Iterator[re.Match[str]]:
    if any(ch in text for ch in _CASE_ODD):
        return _PHONE_KEYWORD_RE.finditer(text)
    return _scan(_PHONE_KEYWORD_RE, text, _find_all(text.lower(), _KEYWORD_HINTS))


def _phones(text: str) -> Iterable[PiiMatch]:
    for m in _scan(_INTL_RE, text, _find_all(text, _INTL_HINTS)):
        rest = m.group("rest").replace("(0)", "")
        digits = m.group("cc") + _digits(rest)
        if not _INTL_MIN_DIGITS <= len(digits) <= _INTL_MAX_DIGITS:
            continue
        # "00" followed by a run of digits is more often an order number than a phone.
        if m.group("prefix") == "00" and not _PHONE_SEPARATOR_RE.search(m.group(0)):
            continue
        if not _phone_context_ok(text, m.start()):
            continue
        yield PiiMatch("phone", m.start(), m.end(), "+" + digits)
    for kw in _keyword_matches(text):
        num = _KW_NUMBER_RE.match(text, kw.end())
        if not num:
            continue
        raw = num.group(0)
        digits = _digits(raw)
        if not _KW_MIN_DIGITS <= len(digits) <= _KW_MAX_DIGITS:
            continue
        value = "+" + digits if raw.startswith("+") else digits
        yield PiiMatch("phone", num.start(), num.end(), value)
    for m in _scan(_NATIONAL_RE, text, _national_starts(text)):
        raw = m.group(0)
        digits = _digits(raw)
        if not _NAT_MIN_DIGITS <= len(digits) <= _NAT_MAX_DIGITS:
            continue
        # A run of digits without any separator or bracket is an identifier unless a
        # phone keyword precedes it (that case is matched above).
        if raw.isdigit() or _BE_ENTERPRISE_RE.match(raw):
            continue
        # Numbers written in pairs are phones only in the 5-pair French/Belgian/Dutch
        # shape (01 23 45 67 89); six pairs are lottery draws or numbered lists.
        groups = _DIGIT_RUN_RE.findall(raw)
        if all(len(g) == 2 for g in groups) and len(groups) != 5:
            continue
        if not _phone_context_ok(text, m.start()):
            continue
        yield PiiMatch("phone", m.start(), m.end(), digits)


# --------------------------------------------------------------------------- API

# Order matters where patterns overlap: an e-mail may contain digits and an IBAN
# contains "0044 ..." runs that look like phone numbers, so those win first.
_FINDERS = (("email", _emails), ("iban", _ibans), ("ip", _ips), ("phone", _phones))


def find_pii(text: str, kinds: Iterable[str] = PII_KINDS) -> list[PiiMatch]:
    """All non-overlapping PII matches of the given kinds, in text order."""
    wanted = set(kinds)
    unknown = wanted - set(PII_KINDS)
    if unknown:
        raise ValueError(f"unknown PII kinds {sorted(unknown)}; known: {', '.join(PII_KINDS)}")
    taken: list[PiiMatch] = []
    used = bytearray(len(text))  # 1 where an earlier (higher-priority) match sits
    for kind, finder in _FINDERS:
        if kind not in wanted:
            continue
        for match in finder(text):
            if not any(used[match.start : match.end]):
                taken.append(match)
                used[match.start : match.end] = b"\x01" * (match.end - match.start)
    return sorted(taken, key=lambda m: m.start)


def pseudonymise(text: str, *, salt: str = "", kinds: Iterable[str] = PII_KINDS) -> tuple[str, PiiCounts]:
    """Replace PII with stable placeholders; return the new text and per-kind counts.

    The same normalised value gives the same placeholder for the same ``salt``.
    Placeholders are never matched again, so the function is idempotent.
    """
    counts = PiiCounts()
    if not text:
        return text, counts
    out: list[str] = []
    pos = 0
    for match in find_pii(text, kinds):
        out.append(text[pos : match.start])
        out.append(placeholder(match.kind, match.value, salt))
        setattr(counts, match.kind, getattr(counts, match.kind) + 1)
        pos = match.end
    out.append(text[pos:])
    return "".join(out), counts


def annotate(doc: Document, cfg: PiiConfig) -> Document:
    """Pseudonymise ``doc.text``, ``doc.title`` and ``doc.description``; set ``doc.pii``.

    Title and description are rewritten too, since an address left there would undo
    the rewrite of the text; ``doc.pii`` counts the replacements in all three.
    """
    if not cfg.enabled:
        return doc
    total = PiiCounts()
    for name in ("text", "title", "description"):
        value = getattr(doc, name)
        if not value:
            continue
        new, counts = pseudonymise(value, salt=cfg.salt, kinds=cfg.kinds)
        setattr(doc, name, new)
        for kind in PII_KINDS:
            setattr(total, kind, getattr(total, kind) + getattr(counts, kind))
    doc.pii = total
    return doc
