"""Text normalisation for deduplication, and the exact-duplicate hash.

:func:`normalise` maps texts that a reader would call "the same" to the same
string. It follows FineWeb's dedup normalisation (datatrove ``simplify_text``),
made language-neutral for the 24 EU languages:

1. Unicode NFKC (full-width forms, ligatures such as "ﬁ", superscripts and
   compatibility characters fold to their plain forms);
2. ``str.casefold`` (lowercase, plus "ß" -> "ss" and Greek final sigma -> "σ");
3. diacritics removed: NFD, drop combining marks (category ``Mn``), NFC again.
   This is what FineWeb does; it also unifies Romanian "ş"/"ș" (cedilla vs
   comma below) and pages typed with and without diacritics;
4. punctuation and symbols (categories ``P*`` and ``S*``) *deleted*, not
   replaced by a space, as FineWeb does: "e-mail" and "email", "don't" and
   "dont" become the same word. Invisible format characters (``Cf``: soft
   hyphens, zero-width joiners, direction marks), private-use glyphs (``Co``,
   icon fonts) and non-whitespace control characters go the same way, so a
   soft hyphen does not split a word;
5. every run of digits replaced by a single "0" (FineWeb's ``norm_numbers``),
   so pages differing only in dates, counters or prices still match;
6. whitespace runs (including control characters) collapsed to one space,
   and the ends stripped.

The result is a sequence of words separated by single spaces, which is what
:func:`owd.dedup.minhash.tokenise` splits. :func:`exact_hash` is a 128-bit BLAKE2b
digest of that string, so "exact duplicate" means "equal after normalisation".
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
import unicodedata

__all__ = ["normalise", "exact_hash", "exact_digest", "NORMALISATION_VERSION"]

#: Bumped whenever :func:`normalise` changes output; part of every signature fingerprint.
NORMALISATION_VERSION = f"2/unicode-{unicodedata.unidata_version}"

_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _char_class(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


@functools.cache
def _drop_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Regexes matching runs of the characters :func:`normalise` deletes: (BMP part, astral part).

    Built once per process from the running Python's Unicode database (~0.3 s).
    Split in two because ``re`` tests astral ranges one by one: one class with
    all 585 ranges made normalisation 15x slower than the BMP class alone, and
    astral characters (emoji, mostly) are rare enough to test for first.
    """
    ranges: list[tuple[int, int]] = []
    start: int | None = None
    for cp in range(sys.maxunicode + 1):
        cat = unicodedata.category(chr(cp))
        drop = cat[0] in "PS" or cat in ("Mn", "Cf", "Co") or (cat == "Cc" and not chr(cp).isspace())
        if drop and start is None:
            start = cp
        elif not drop and start is not None:
            ranges.append((start, cp - 1))
            start = None
    if start is not None:
        ranges.append((start, sys.maxunicode))
    bmp = [(a, min(b, 0xFFFF)) for a, b in ranges if a <= 0xFFFF]
    astral = [(max(a, 0x10000), b) for a, b in ranges if b > 0xFFFF]
    return re.compile(f"[{_char_class(bmp)}]+"), re.compile(f"[{_char_class(astral)}]+")


def normalise(text: str) -> str:
    """The dedup form of ``text``: folded, lowercased, without diacritics, punctuation or digits."""
    drop_bmp, drop_astral = _drop_patterns()
    text = unicodedata.normalize("NFKC", text).casefold()
    text = unicodedata.normalize("NFD", text)
    text = drop_bmp.sub("", text)
    if _ASTRAL.search(text):
        text = drop_astral.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = _DIGITS.sub("0", text)
    return _SPACES.sub(" ", text).strip()


def exact_hash(text: str) -> str:
    """Hex BLAKE2b-128 of :func:`normalise` (``text``): equal for exact duplicates."""
    return exact_digest(normalise(text)).hex()


def exact_digest(normalised: str) -> bytes:
    """The 16-byte digest behind :func:`exact_hash`, of an already normalised text."""
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=16).digest()
