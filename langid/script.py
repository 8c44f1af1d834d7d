"""Dominant writing system of a text, as an ISO 15924 code (``Latn``, ``Cyrl``, ``Grek`` ...).

Only letters count (``str.isalpha``): digits, punctuation and symbols are shared by
all scripts. Long texts are sampled in evenly spaced windows, so the cost is
bounded whatever the document size.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from functools import lru_cache

__all__ = ["detect_script", "script_of_char", "SAMPLE_CHARS"]

# Letters looked at, at most; beyond that the text is sampled in windows.
SAMPLE_CHARS = 4000
_WINDOWS = 8

# (first, last, ISO 15924) for the blocks that hold letters of living scripts.
# Letters outside every range count as "Zzzz" (unknown/uncoded).
_RANGES: list[tuple[int, int, str]] = sorted([
    (0x0041, 0x005A, "Latn"), (0x0061, 0x007A, "Latn"), (0x00AA, 0x00AA, "Latn"),
    (0x00BA, 0x00BA, "Latn"), (0x00C0, 0x024F, "Latn"), (0x0250, 0x02AF, "Latn"),
    (0x1D00, 0x1D7F, "Latn"), (0x1E00, 0x1EFF, "Latn"), (0x2C60, 0x2C7F, "Latn"),
    (0xA720, 0xA7FF, "Latn"), (0xAB30, 0xAB6F, "Latn"), (0xFB00, 0xFB06, "Latn"),
    (0xFF21, 0xFF3A, "Latn"), (0xFF41, 0xFF5A, "Latn"),
    (0x0370, 0x03FF, "Grek"), (0x1F00, 0x1FFF, "Grek"),
    (0x0400, 0x052F, "Cyrl"), (0x1C80, 0x1C8F, "Cyrl"), (0x2DE0, 0x2DFF, "Cyrl"),
    (0xA640, 0xA69F, "Cyrl"),
    (0x0530, 0x058F, "Armn"), (0xFB13, 0xFB17, "Armn"),
    (0x0590, 0x05FF, "Hebr"), (0xFB1D, 0xFB4F, "Hebr"),
    (0x0600, 0x06FF, "Arab"), (0x0750, 0x077F, "Arab"), (0x08A0, 0x08FF, "Arab"),
    (0xFB50, 0xFDFF, "Arab"), (0xFE70, 0xFEFF, "Arab"),
    (0x0700, 0x074F, "Syrc"), (0x0780, 0x07BF, "Thaa"), (0x07C0, 0x07FF, "Nkoo"),
    (0x0900, 0x097F, "Deva"), (0xA8E0, 0xA8FF, "Deva"), (0x0980, 0x09FF, "Beng"),
    (0x0A00, 0x0A7F, "Guru"), (0x0A80, 0x0AFF, "Gujr"), (0x0B00, 0x0B7F, "Orya"),
    (0x0B80, 0x0BFF, "Taml"), (0x0C00, 0x0C7F, "Telu"), (0x0C80, 0x0CFF, "Knda"),
    (0x0D00, 0x0D7F, "Mlym"), (0x0D80, 0x0DFF, "Sinh"), (0x0E00, 0x0E7F, "Thai"),
    (0x0E80, 0x0EFF, "Laoo"), (0x0F00, 0x0FFF, "Tibt"), (0x1000, 0x109F, "Mymr"),
    (0x10A0, 0x10FF, "Geor"), (0x1C90, 0x1CBF, "Geor"), (0x2D00, 0x2D2F, "Geor"),
    (0x1100, 0x11FF, "Hang"), (0x3130, 0x318F, "Hang"), (0xA960, 0xA97F, "Hang"),
    (0xAC00, 0xD7AF, "Hang"), (0xD7B0, 0xD7FF, "Hang"), (0xFFA0, 0xFFDC, "Hang"),
    (0x1200, 0x139F, "Ethi"), (0x2D80, 0x2DDF, "Ethi"), (0x13A0, 0x13FF, "Cher"),
    (0x1400, 0x167F, "Cans"), (0x1680, 0x169F, "Ogam"), (0x16A0, 0x16FF, "Runr"),
    (0x1780, 0x17FF, "Khmr"), (0x1800, 0x18AF, "Mong"), (0x2D30, 0x2D7F, "Tfng"),
    (0x3040, 0x309F, "Hira"), (0x30A0, 0x30FF, "Kana"), (0x31F0, 0x31FF, "Kana"),
    (0xFF66, 0xFF9F, "Kana"), (0x3100, 0x312F, "Bopo"), (0x31A0, 0x31BF, "Bopo"),
    (0x3005, 0x3007, "Hani"), (0x3400, 0x4DBF, "Hani"), (0x4E00, 0x9FFF, "Hani"),
    (0xF900, 0xFAFF, "Hani"), (0x20000, 0x3134F, "Hani"),
    (0xA000, 0xA4CF, "Yiii"),
])
_STARTS = [r[0] for r in _RANGES]

# Character -> its script, or None for a non-letter (detect_script's memo).
_CHAR_SCRIPT: dict[str, str | None] = {}
_CACHE_MAX = 1 << 16
# Any character that is not below U+02B0 (where every letter is Latin: ASCII, Latin-1,
# Latin Extended-A/B, IPA), general punctuation (typographic quotes, dashes) or a currency
# sign -- those blocks hold no letters; the micro sign (U+00B5, a letter outside every
# range here) is also counted the slow way. And any letter below U+02B0.
_BEYOND_LATIN = re.compile("[^\x00-\xb4\xb6-\u02af\u2000-\u206f\u20a0-\u20cf]")
_LATIN_LETTER = re.compile("[A-Za-z\u00aa\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02af]")


@lru_cache(maxsize=1 << 16)
def script_of_char(char: str) -> str:
    """ISO 15924 code of one character's block ("Zzzz" when not covered)."""
    cp = ord(char)
    i = bisect_right(_STARTS, cp) - 1
    if i >= 0 and cp <= _RANGES[i][1]:
        return _RANGES[i][2]
    return "Zzzz"


def _sample(text: str) -> str:
    if len(text) <= SAMPLE_CHARS:
        return text
    # Evenly spaced windows rather than the head: a page can open with a
    # navigation or a citation in another script.
    width = SAMPLE_CHARS // _WINDOWS
    step = (len(text) - width) // (_WINDOWS - 1)
    return "".join(text[i * step: i * step + width] for i in range(_WINDOWS))


def detect_script(text: str) -> str | None:
    """The script with the most letters in ``text``; None when it has no letters.

    Japanese (kana with or without Han) is reported as ``Jpan`` and Korean with
    Han (Hangul dominant) as ``Kore``, as ISO 15924 does for these mixed writing systems.
    """
    if _BEYOND_LATIN.search(text) is None:
        # Every character is below U+02B0, where all letters are Latin (most European
        # text): one regex scan in C instead of counting characters.
        return "Latn" if _LATIN_LETTER.search(text) is not None else None
    # Counter over characters runs in C; the per-character lookup then runs only
    # over the distinct characters (a few hundred at most), through a plain dict:
    # this runs on every text, and a dict hit costs a fraction of an lru_cache call.
    counts: Counter[str] = Counter()
    cache = _CHAR_SCRIPT
    for char, n in Counter(_sample(text)).items():
        script = cache.get(char, "")
        if script == "":
            script = script_of_char(char) if char.isalpha() else None
            if len(cache) < _CACHE_MAX:  # bounded: a stream of rare characters cannot grow it for ever
                cache[char] = script
        if script is not None:
            counts[script] += n
    if not counts:
        return None
    kana = counts["Hira"] + counts["Kana"]
    if kana:
        japanese = kana + counts["Hani"]
        if all(japanese >= n for s, n in counts.items() if s not in ("Hira", "Kana", "Hani")):
            return "Jpan"
    best = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
    if best == "Hang" and counts["Hani"]:
        return "Kore"
    return best
