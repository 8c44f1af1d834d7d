"""Decoding HTML bytes: BOM, declarations that lie, no declaration at all."""

from __future__ import annotations

import codecs
from collections import Counter

import pytest

from owd.extract.encoding import decode_html, normalise_charset

TEXT = "Grüße aus Köln – «straße» naïve façade, čšž ŁÓDŹ"
LATIN = "Grüße aus Köln: schöne Straße, naïve Façade, Übermut und Ärger"


def page(text: str, meta: str = "") -> str:
    return f"<html><head>{meta}<title>t</title></head><body><p>{text}</p></body></html>"


def decoded(body: bytes, content_type: str | None = "text/html") -> tuple[str, Counter[str]]:
    stats: Counter[str] = Counter()
    return decode_html(body, content_type, stats), stats


@pytest.mark.parametrize("bom,codec", [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                                       (codecs.BOM_UTF16_BE, "utf-16-be")])
def test_bom_wins_over_any_declaration(bom: bytes, codec: str) -> None:
    body = bom + page(TEXT, '<meta charset="iso-8859-1">').encode(codec)
    text, stats = decoded(body, "text/html; charset=windows-1252")
    assert TEXT in text and not text.startswith("\ufeff") and stats == {"extract/encoding/bom": 1}


def test_correct_declarations_are_used() -> None:
    text, stats = decoded(page(LATIN).encode("cp1252"), "text/html; charset=windows-1252")
    assert LATIN in text and stats == {"extract/encoding/declared/http": 1}
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-2">'
    body = page("Zażółć gęślą jaźń", meta)
    text, stats = decoded(body.encode("iso-8859-2"), "text/html")
    assert "Zażółć gęślą jaźń" in text and stats == {"extract/encoding/declared/meta": 1}


def test_latin1_bytes_labelled_utf8() -> None:
    """The classic lie: a legacy page behind a server that says UTF-8."""
    text, stats = decoded(page(LATIN).encode("latin-1"), "text/html; charset=utf-8")
    assert LATIN in text
    assert stats["extract/encoding/declared_wrong/http"] == 1 and stats["extract/encoding/detected"] == 1


def test_utf8_bytes_labelled_latin1() -> None:
    """The other lie: a UTF-8 CMS template that still says ISO-8859-1."""
    body = page(TEXT, '<meta charset="iso-8859-1">').encode("utf-8")
    text, stats = decoded(body, "text/html; charset=ISO-8859-1")
    assert TEXT in text and stats == {"extract/encoding/declared_single_byte_but_utf8": 1}


def test_wrong_meta_then_right_http() -> None:
    body = page(LATIN, '<meta charset="utf-8">').encode("cp1252")
    text, stats = decoded(body, "text/html; charset=windows-1252")
    assert LATIN in text and stats == {"extract/encoding/declared/http": 1}


def test_no_declaration() -> None:
    text, stats = decoded(page(TEXT).encode("utf-8"), None)
    assert TEXT in text and stats == {"extract/encoding/utf8_undeclared": 1}
    text, stats = decoded(page(LATIN * 3).encode("cp1252"), None)
    assert LATIN in text and stats == {"extract/encoding/detected": 1}


def test_utf8_page_with_a_few_stray_bytes_stays_utf8() -> None:
    body = page(TEXT * 20).encode("utf-8") + b"<p>caf\xe9</p>"
    text, stats = decoded(body, "text/html; charset=utf-8")
    assert TEXT in text and "caf\ufffd" in text
    assert stats["extract/encoding/utf8_with_errors"] == 1


def test_unknown_label_is_counted_and_ignored() -> None:
    text, stats = decoded(page(TEXT).encode("utf-8"), "text/html; charset=x-no-such-thing")
    assert TEXT in text and stats["extract/encoding/unknown_label"] == 1


def test_ascii_needs_no_decision() -> None:
    assert decoded(b"<p>plain</p>", "text/html; charset=utf-16")[1] == {"extract/encoding/ascii": 1}


def test_label_normalisation() -> None:
    assert normalise_charset("ISO-8859-1") == "cp1252"  # WHATWG: latin-1 means windows-1252
    assert normalise_charset("utf8") == "utf-8"
    assert normalise_charset('"Shift_JIS"') == "cp932"
    assert normalise_charset("gb2312") == "gb18030"
    assert normalise_charset("bogus") is None and normalise_charset(None) is None
