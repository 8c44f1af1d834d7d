"""Quality signals, drop reasons and PII output equal a stored reference, document by document.

``quality_pii_reference.json`` was written by the implementation before the single-pass
rewrite (issue 14: the same signals and decisions at a fraction of the cost), on two sets
of texts that do not depend on any other stage, so the reference stays valid while the
extractor changes:

* ``pages-A``: every page of ../shared/data/pages-A as crude text (its first 100 kB of
  HTML, tags stripped with a few regexes, entities decoded, whitespace left as it is, cut
  at 8,000 characters), with the manifest's language: real web text with its
  boilerplate, scripts, odd line breaks and contact details;
* ``testweb``: the test web's generated articles (no shared data needed) in all 24 EU
  languages, each with a deterministic tail of boilerplate lines and PII-like values
  (real ones and look-alikes such as dates, prices and version numbers).

The file holds only hashes and counts, one line per document: the input text's hash, the
drop reason, a hash of every signal (:data:`SIGNALS` in order, each rounded to 10
significant digits, so a float that differs beyond ~1e-9 shows), the four PII counts and
the hash of the pseudonymised text and title. To see the values behind a differing hash,
run the old implementation: ``bench/bench_quality_pii.py`` shows how to load it from git
(and compares every value, on pages-A as the pipeline extracts it).
``python -m tests.extract.test_quality_pii_reference --write`` rewrites the file with the
code of the working tree (only after a deliberate change of a signal or a rule).
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import random
import re
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from owd.core.pii_config import PII_KINDS, PiiConfig
from owd.core.quality_config import QualityConfig
from owd.core.schema import Document
from owd.extract import pii, quality
from owd.shared_data import shared_data_dir
from owd.testweb import TestSite

FIXTURE = Path(__file__).with_name("quality_pii_reference.json")
# pages-A's pages are cut (145 kB of HTML and 20,000 characters of crude text on average):
# every rule is still exercised and the test stays within a few seconds.
MAX_HTML_BYTES = 100_000
MAX_CHARS = 8000
SALT = "owd-reference-salt"
SIGNALS = (
    "tokens", "words", "mean_word_len", "hash_ratio", "ellipsis_ratio", "bullet_lines_frac",
    "ellipsis_lines_frac", "alpha_words_frac", "stop_words",
    "dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac",
    "top_2_gram_char_frac", "top_3_gram_char_frac", "top_4_gram_char_frac",
    *(f"dup_{n}_gram_char_frac" for n in range(5, 11)),
    "c4_lines", "c4_terminal_punct_line_frac", "c4_kept_lines", "c4_kept_sentences", "c4_lorem_ipsum",
    "c4_curly_bracket", "c4_javascript_lines", "c4_policy_lines",
    "fw_line_punct_ratio", "fw_short_line_ratio", "fw_char_dup_ratio", "fw_list_ratio",
)

# (key, lang, title, text) of one input document.
Input = tuple[str, "str | None", str, str]

# --------------------------------------------------------------------------- pages-A as crude text

_DROP_RE = re.compile(r"<(script|style|noscript|template|svg)\b.*?</\1\s*>|<!--.*?-->", re.S | re.I)
_BLOCK_RE = re.compile(r"</?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|section|article|header|footer|nav|"
                       r"main|aside|blockquote|pre|dd|dt|form|option|figcaption)\b[^>]*>", re.I)
_TAG_RE = re.compile(r"<[^>]*>")
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title", re.S | re.I)


def crude_text(page: bytes) -> tuple[str, str]:
    """(title, text) of an HTML page without an extractor: frozen, because the reference
    depends on it (the extractor changes independently of the quality stage)."""
    source = page.decode("utf-8", errors="replace")
    title = _TITLE_RE.search(source)
    body = _TAG_RE.sub("", _BLOCK_RE.sub("\n", _DROP_RE.sub(" ", source)))
    return html.unescape(title.group(1)).strip() if title else "", html.unescape(body)


def pages_a_inputs(data: Path) -> Iterator[Input]:
    with open(data / "pages-A" / "manifest.jsonl", encoding="utf-8") as fh:
        for line in fh:
            entry = json.loads(line)
            page = gzip.decompress((data / "pages-A" / entry["html_path"]).read_bytes())[:MAX_HTML_BYTES]
            title, text = crude_text(page)
            yield entry["id"], entry.get("lang_auto"), title, text[:MAX_CHARS]


# --------------------------------------------------------------------------- test web

# Lines that trip one rule or another (bullets, ellipses, C4's javascript, policy,
# lorem ipsum and curly-bracket tests, hashes, short lines), mixed into the articles.
_BOILERPLATE = (
    "• Home", "- Kontakt", "► Weiterlesen", "Read more…", "Mehr lesen ...", "This website uses cookies.",
    "Please enable JavaScript to view this page correctly.", "Lorem ipsum dolor sit amet, consectetur.",
    "var x = {a: 1}; function f() { return x; }", "### Section ###", "#hashtag #news #eu", "Share",
    "Politique de confidentialité et utilise des cookies pour la mesure d'audience.", "\u2028", "  \t ",
    "Zurück | Weiter | Seite 1 von 3", "© 2026 Alle Rechte vorbehalten.", "«Il a dit: c'est l'homme!»",
    "Τι ώρα είναι;", "Il-kelb tal-ġar ta' Marija qiegħed fil-ġnien.", "dell'anno scorso l'altro giorno",
    "\r\n", "\x0c", "word_with_underscores __init__ and 1.234,56 € or 10:30 on 27/11/2026",
)


def _iban(rng: random.Random) -> str:
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    check = 98 - int(bban + "131400") % 97  # "DE" -> 13 14
    iban = f"DE{check:02d}{bban}"
    return " ".join(iban[i:i + 4] for i in range(0, 22, 4)) if rng.random() < 0.5 else iban


def _contact_lines(rng: random.Random, host: str) -> list[str]:
    def d(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    lines = [
        f"E-Mail: redaktion.{d(2)}@{host}", f"Tel. +49 30 {d(7)}", f"Telefon: 0{d(2)} {d(3)} {d(4)}",
        f"Fax (0{d(3)}) {d(3)}-{d(4)}", f"Server 192.0.2.{rng.randint(1, 254)} und 2001:db8::{d(2)}:1",
        f"IBAN {_iban(rng)}, BIC GENODEF1XYZ", f"tél. 01 {d(2)} {d(2)} {d(2)} {d(2)}",
        f"Bestellnummer {d(10)}, Rechnung Nr. 0{d(9)}", f"version 1.{d(1)}.{d(1)}.{d(1)}, Art. 1.2.3.4",
        f"am {rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2026 um 10:30:45, Preis {d(3)},{d(2)} EUR",
        f"00{d(12)} and +{d(3)}", "icon@2x.png loopback 127.0.0.1 and ::1", f"puh. {d(3)} {d(4)}",
    ]
    return rng.sample(lines, rng.randint(2, len(lines)))


def web_inputs() -> Iterator[Input]:
    site = TestSite(use_shared_data=False)  # generated text: the part that runs everywhere
    for host in site.hosts:
        if host.kind != "lang" or host.lang is None:
            continue
        for path in ["/", *site.page_paths(host)]:
            key = f"{host.name}{path}"
            rng = random.Random(key)
            paragraphs = site.paragraphs(host.lang, key)
            if rng.random() < 0.3:  # a repeated paragraph: the repetition rules
                paragraphs.append(paragraphs[0])
            lines = list(paragraphs)
            for _ in range(rng.randint(0, 8)):
                lines.insert(rng.randint(0, len(lines)), rng.choice(_BOILERPLATE))
            lines += _contact_lines(rng, host.name)
            sep = rng.choice(("\n", "\n\n", "\n \n"))
            # the home pages go unlabelled (a document langid could not place)
            lang = None if path == "/" else rng.choice((host.lang, host.lang.upper()))
            yield key, lang, paragraphs[0][:60], sep.join(lines)


# --------------------------------------------------------------------------- one record per document

def _sha(*parts: str) -> str:
    return hashlib.sha1("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _signal_text(signals: dict[str, float]) -> str:
    return ",".join("-" if signals.get(name) is None else f"{signals[name]:.10g}" for name in SIGNALS)


def record(key: str, lang: str | None, title: str, text: str) -> list[Any]:
    """[text hash, drop reason, signals hash, PII counts, pseudonymised hash] of one document."""
    doc = Document(id=key, url="https://example.invalid/", host="example.invalid", campaign="ref",
                   title=title, text=text, lang=lang)
    quality.annotate(doc, QualityConfig())
    extra = sorted(set(doc.quality) - set(SIGNALS))
    assert not extra, f"{key}: signals missing from SIGNALS: {extra}"
    signals = _sha(_signal_text(doc.quality))
    pii.annotate(doc, PiiConfig(salt=SALT))
    counts = [getattr(doc.pii, kind) for kind in PII_KINDS]
    return [_sha(text), doc.drop_reason, signals, counts, _sha(doc.text or "", doc.title or "")]


def _compare(part: str, inputs: Iterator[Input]) -> int:
    expected: dict[str, list[Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))[part]
    seen = 0
    problems: list[str] = []
    for key, lang, title, text in inputs:
        seen += 1
        want, got = expected[key], record(key, lang, title, text)
        assert got[0] == want[0], f"{part} {key}: the input text changed; the reference no longer applies"
        for name, g, w in zip(("drop reason", "signals", "PII counts", "pseudonymised text"), got[1:], want[1:]):
            if g != w:
                problems.append(f"{key}: {name} {g!r}, reference {w!r}")
    assert seen == len(expected), f"{part}: {seen} documents, the reference has {len(expected)}"
    assert not problems, f"{len(problems)} differences, first: " + "; ".join(problems[:10])
    return seen


def test_testweb_documents_match_the_reference() -> None:
    assert _compare("testweb", web_inputs()) > 300


@pytest.mark.shared_data
def test_pages_a_documents_match_the_reference(shared_data: Path) -> None:
    assert _compare("pages-A", pages_a_inputs(shared_data)) == 990


def write_reference() -> None:
    data = shared_data_dir()
    if data is None:
        raise SystemExit("../shared/data is absent: the pages-A part needs it")
    out: dict[str, Any] = {
        "about": "tests/extract/test_quality_pii_reference.py: per document [input text sha1, drop reason, "
                 "sha1 of the signals in 'signals' order, PII counts in 'pii_kinds' order, "
                 "sha1 of the pseudonymised text and title]",
        "signals": list(SIGNALS), "pii_kinds": list(PII_KINDS),
    }
    for part, inputs in (("testweb", web_inputs()), ("pages-A", pages_a_inputs(data))):
        out[part] = {key: record(key, lang, title, text) for key, lang, title, text in inputs}
    # One document per line: small diffs when a deliberate change touches a few documents.
    lines = [json.dumps({k: v}, ensure_ascii=False, separators=(",", ":"))[1:-1] for k, v in out.items()
             if not isinstance(v, dict)]
    for part in ("testweb", "pages-A"):
        docs = ",\n".join(json.dumps(k) + ":" + json.dumps(v, separators=(",", ":")) for k, v in out[part].items())
        lines.append(f'"{part}":{{\n{docs}}}')
    FIXTURE.write_text("{" + ",\n".join(lines) + "}\n", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python -m tests.extract.test_quality_pii_reference --write")
    write_reference()
