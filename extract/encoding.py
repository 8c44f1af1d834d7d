"""Bytes of an HTML page -> text, surviving wrong charset declarations.

Order (WHATWG's, plus a check that a declaration fits the bytes):

1. a byte order mark decides;
2. pure ASCII needs no decision;
3. declared charsets, HTTP ``Content-Type`` first, then ``<meta charset>`` /
   ``http-equiv`` in the first 16 KiB: used when the bytes decode cleanly with it.
   A single-byte declaration (latin-1, windows-125x, ...) over bytes that are valid
   UTF-8 with non-ASCII in them loses to UTF-8: random legacy text is almost never
   valid UTF-8, while UTF-8 pages labelled latin-1 are common (CMS templates);
4. UTF-8 when the bytes are valid UTF-8, or nearly so (at most 1 bad sequence per
   20 good multi-byte ones: a few stray bytes in a UTF-8 page);
5. detection with charset-normalizer (on the first 64 KiB; windows-1252 wins ties);
6. windows-1252 with replacement characters.

How each page was decoded is counted under ``extract/encoding/<how>``.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter

import charset_normalizer

__all__ = ["decode_html", "normalise_charset"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
META_SCAN_BYTES = 16 * 1024
DETECT_BYTES = 64 * 1024
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.I)
_HTTP_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.I)
# WHATWG Encoding Standard label mapping, for the labels that matter: browsers decode
# these as the superset, and pages labelled with them rely on it.
_SUPERSETS = {
    "latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254",
    "iso8859-11": "cp874", "tis-620": "cp874", "gb2312": "gb18030", "gbk": "gb18030",
    "shift_jis": "cp932", "euc_kr": "cp949", "utf-16": "utf-8", "utf-16-le": "utf-8", "utf-16-be": "utf-8",
}
_ALIASES = {"utf8mb4": "utf-8", "x-sjis": "shift_jis", "unicode": "utf-8", "utf-8n": "utf-8"}


def normalise_charset(label: str | None) -> str | None:
    """A charset label as a Python codec name, with WHATWG's supersets; None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # A UTF-16 label on a page without a BOM is a lie (WHATWG treats it as UTF-8 too).
    return _SUPERSETS.get(name, name)


def _single_byte(codec: str) -> bool:
    return codec.startswith(("cp12", "cp874", "iso8859", "latin", "koi8", "mac-", "cp437", "cp85"))


def _mostly_utf8(body: bytes) -> bool:
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return good > 0 and bad * 20 <= good


def _detect(sample: bytes) -> str | None:
    matches = list(charset_normalizer.from_bytes(sample))
    if not matches:
        return None
    best = matches[0]
    # Single-byte Latin code pages often tie exactly (German text is the same bytes in
    # windows-1250, -1252 and -1257); among equals take windows-1252, WHATWG's legacy
    # default, instead of whichever charset-normalizer happened to list first.
    tied = [normalise_charset(m.encoding) for m in matches
            if m.chaos == best.chaos and m.coherence == best.coherence]
    return "cp1252" if "cp1252" in tied else normalise_charset(best.encoding)


def _declared(body: bytes, content_type: str | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    http = _HTTP_CHARSET.search(content_type or "")
    if http:
        out.append(("http", http.group(1)))
    meta = _META_CHARSET.search(body, 0, META_SCAN_BYTES)
    if meta:
        out.append(("meta", meta.group(1).decode("ascii", "replace")))
    return out


def decode_html(body: bytes, content_type: str | None, stats: Counter[str]) -> str:
    """Decode an HTML body (see the module docstring for the order of evidence)."""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            stats["extract/encoding/bom"] += 1
            return body[len(bom):].decode(bom_codec, "replace")
    if body.isascii():
        stats["extract/encoding/ascii"] += 1
        return body.decode("ascii")
    for source, label in _declared(body, content_type):
        codec = normalise_charset(label)
        if codec is None:
            stats["extract/encoding/unknown_label"] += 1
            continue
        if codec != "utf-8" and _single_byte(codec):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                pass  # not UTF-8: the single-byte declaration stands
            else:
                stats["extract/encoding/declared_single_byte_but_utf8"] += 1
                return text
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            stats[f"extract/encoding/declared_wrong/{source}"] += 1
            continue
        stats[f"extract/encoding/declared/{source}"] += 1
        return text
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        if _mostly_utf8(body):
            stats["extract/encoding/utf8_with_errors"] += 1
            return body.decode("utf-8", "replace")
    else:
        stats["extract/encoding/utf8_undeclared"] += 1
        return text
    codec = _detect(body[:DETECT_BYTES])
    if codec is not None:
        stats["extract/encoding/detected"] += 1
        return body.decode(codec, "replace")
    stats["extract/encoding/fallback_cp1252"] += 1
    return body.decode("cp1252", "replace")
