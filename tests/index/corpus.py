"""Test documents for the search contract, and a brute-force reference to check results.

``synthetic_corpus()`` needs nothing but this file: short hand-written sentences
in ten EU languages (Latin, Greek and Cyrillic scripts), spread over domains,
pools, media kinds and fetch times, with marker words whose matches are known
exactly. ``shared_corpus(path)`` builds pages from the real sentences in
``<shared>/langid-A/by-lang/<lang>.txt``.

The reference (``matches_filters``, ``words_of``) implements the documented
semantics in plain Python so every backend is checked against the same truth.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

from owd.index.base import Filters, site_terms, to_record
from owd.core.schema import Document, MediaItem

UTC = dt.timezone.utc

SENTENCES: dict[str, list[str]] = {
    "sl": ["Poplave so prizadele Ljubljano in okolico.",
           "Zdravje prebivalcev je ogroženo zaradi onesnažene vode.",
           "Vlada je sprejela načrt protipoplavne zaščite.",
           "Zdravstveni dom bo odprt tudi med prazniki."],
    "hr": ["Poplave su pogodile Zagreb i okolicu.",
           "Zdravlje građana ugroženo je zbog onečišćene vode.",
           "Gradska bolnica otvara novi odjel."],
    "de": ["Das Hochwasser hat die Altstadt überflutet.",
           "Die Gesundheit der Bevölkerung ist gefährdet.",
           "Der Deich schützt die Stadt vor Überschwemmungen."],
    "en": ["Flood defences protect the old town.",
           "The health of residents is at risk after the floods.",
           "New hospitals open across the region."],
    "fr": ["Les inondations ont touché la vieille ville.",
           "La santé des habitants est menacée.",
           "Le nouvel hôpital ouvre ses portes."],
    "el": ["Οι πλημμύρες έπληξαν την παλιά πόλη.",
           "Η υγεία των κατοίκων κινδυνεύει.",
           "Νέο νοσοκομείο ανοίγει στην περιοχή."],
    "bg": ["Наводненията засегнаха стария град.",
           "Здравето на жителите е застрашено.",
           "Нова болница отваря врати в региона."],
    "pl": ["Powódź zalała stare miasto.",
           "Zdrowie mieszkańców jest zagrożone.",
           "Nowy szpital otwiera się w regionie."],
    "fi": ["Tulvat koettelivat vanhaa kaupunkia.",
           "Asukkaiden terveys on vaarassa.",
           "Uusi sairaala avataan alueella."],
    "cs": ["Povodně zasáhly staré město.",
           "Zdraví obyvatel je ohroženo.",
           "Nová nemocnice otevírá své brány."],
}

# (host, registered domain) per language; several per language so domain filters bite
HOSTS: dict[str, list[tuple[str, str | None]]] = {
    "sl": [("www.gov.si", "gov.si"), ("novice.rtvslo.si", "rtvslo.si"), ("rtvslo.si", "rtvslo.si")],
    "hr": [("www.zagreb.hr", "zagreb.hr"), ("vijesti.hrt.hr", "hrt.hr")],
    "de": [("www.tagesschau.de", "tagesschau.de"), ("wien.orf.at", "orf.at")],
    "en": [("news.example.co.uk", "example.co.uk"), ("127.0.0.5", "127.0.0.5")],
    "fr": [("www.lemonde.fr", "lemonde.fr")],
    "el": [("www.kathimerini.gr", "kathimerini.gr")],
    "bg": [("bnr.bg", "bnr.bg")],
    "pl": [("wiadomosci.onet.pl", "onet.pl")],
    "fi": [("yle.fi", "yle.fi"), ("intranet", None)],
    "cs": [("www.ceskatelevize.cz", "ceskatelevize.cz")],
}

POOLS = [["health"], ["floods"], ["health", "floods"], [], ["health-de-at"]]
MARKERS = ("zqalpha", "zqbravo", "zqcharlie")  # marker words: not words in any language, stem-invariant


def _media(i: int) -> list[MediaItem]:
    kinds = [[], ["image"], ["image", "video"], ["audio"], [], ["image", "image"]][i % 6]
    return [MediaItem(url=f"https://media.example/{i}/{n}", kind=k) for n, k in enumerate(kinds)]


def _fetch(i: int) -> dt.datetime | None:
    if i % 17 == 16:
        return None
    month = (10, 11, 12)[i % 3]
    return dt.datetime(2026, month, 1 + i % 28, i % 24, (7 * i) % 60, 0, 1000 * (i % 1000), tzinfo=UTC)


def markers_for(i: int) -> list[str]:
    return [m for m, k in zip(MARKERS, (2, 3, 5)) if i % k == 0]


def synthetic_corpus() -> list[Document]:
    """About 70 documents; every 11th carries a drop_reason."""
    docs: list[Document] = []
    i = 0
    for lang, sentences in SENTENCES.items():
        for j in range(len(sentences) * 2):
            title = sentences[j % len(sentences)].rstrip(".")
            body = " ".join(sentences[(j + k) % len(sentences)] for k in range(len(sentences)))
            body += " " + " ".join(markers_for(i))
            host, domain = HOSTS[lang][j % len(HOSTS[lang])]
            docs.append(Document(
                id=f"doc-{i:03d}", url=f"https://{host}/{lang}/{j}", host=host, domain=domain, campaign="test",
                lang=lang, title=title if j < len(sentences) else f"{title} ({j})",
                text=body, description=(f"{lang} page {j}" if i % 4 == 0 else None),
                fetch_time=_fetch(i), published=dt.date(2026, 1 + i % 12, 1 + i % 27) if i % 5 == 0 else None,
                pools=list(POOLS[i % len(POOLS)]), media=_media(i),
                tdm_reservation=(None, True, False)[i % 3],
                drop_reason="duplicate" if i % 11 == 10 else None,
                dup_cluster_id=f"doc-{i - 1:03d}" if i % 11 == 10 else None,
                dup_cluster_size=2 if i % 11 == 10 else None,
            ))
            i += 1
    # pages whose text needs escaping, and a page without text
    docs.append(Document(
        id="doc-html", url="https://www.gov.si/html", host="www.gov.si", domain="gov.si", campaign="test",
        lang="en", title="Markup & entities", text='Beware <script>alert("x")</script> & floods in <b>bold</b> here.',
        fetch_time=dt.datetime(2026, 11, 15, 12, tzinfo=UTC), pools=["floods"]))
    docs.append(Document(
        id="doc-empty", url="https://yle.fi/empty", host="yle.fi", domain="yle.fi", campaign="test",
        lang=None, title=None, text=None, fetch_time=dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)))
    return docs


def kept(docs: Iterable[Document]) -> list[Document]:
    return [d for d in docs if not d.drop_reason]


# ---------------------------------------------------------------------------- reference semantics

_WORD = re.compile(r"[^\W_]+")


def words_of(doc: Document) -> list[str]:
    """The lowercase word sequence of a document's title, text and description (in that
    order, fields separated so that phrases never span them)."""
    out: list[str] = []
    for text in (doc.title, doc.text, doc.description):
        out.extend(w.lower() for w in _WORD.findall(text or ""))
        out.append("\x00")
    return out


def has_phrase(doc: Document, phrase: list[str]) -> bool:
    words, n = words_of(doc), len(phrase)
    return any(words[k:k + n] == phrase for k in range(len(words) - n + 1))


def matches_filters(doc: Document, f: Filters) -> bool:
    rec = to_record(doc)
    if f.langs and rec["lang"] not in f.langs:
        return False
    if f.domains and not set(site_terms(rec["host"], rec["domain"])) & set(f.domains):
        return False
    if f.pools and not set(rec["pools"]) & set(f.pools):
        return False
    if f.media_kinds and not set(rec["media_kinds"]) & set(f.media_kinds):
        return False
    if f.date_from or f.date_to:
        t = rec["fetch_time"]
        if t is None or (f.date_from and t < f.date_from) or (f.date_to and t >= f.date_to):
            return False
    return True


def facet_counts(docs: Iterable[Document]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {"lang": Counter(), "domain": Counter(), "pool": Counter(),
                                       "media_kind": Counter()}
    for doc in docs:
        rec = to_record(doc)
        if rec["lang"]:
            counts["lang"][rec["lang"]] += 1
        if rec["domain"]:
            counts["domain"][rec["domain"]] += 1
        counts["pool"].update(rec["pools"])
        counts["media_kind"].update(rec["media_kinds"])
    return counts


def top(counter: Counter[str], n: int) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


# ---------------------------------------------------------------------------- real sentences

SHARED_LANGS = ("sl", "hr", "de", "en", "fr", "el", "bg", "pl", "fi", "hu", "et", "ga")


def shared_corpus(shared: Path, langs: Iterable[str] = SHARED_LANGS, per_lang: int = 40) -> list[Document]:
    """Pages made of consecutive real sentences: a title sentence, then the next four
    as the text. The sentence files are parallel translations, so the same story
    exists in every language."""
    docs = []
    for lang in langs:
        path = shared / "langid-A" / "by-lang" / f"{lang}.txt"
        if not path.exists():
            continue
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        for j in range(per_lang):
            start = j * 5
            if start + 5 > len(lines):
                break
            docs.append(Document(
                id=f"{lang}-{j:03d}", url=f"https://news.example.{lang}/{j}", host=f"news.example.{lang}",
                domain=f"example.{lang}", campaign="shared", lang=lang,
                title=lines[start], text=" ".join(lines[start + 1:start + 5]),
                fetch_time=dt.datetime(2026, 11, 1 + j % 28, tzinfo=UTC), pools=["all-eu"]))
    return docs
