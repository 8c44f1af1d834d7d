"""The owd query language: what users type, parsed into a small, safe tree.

Users never send engine syntax. A query string is parsed here into a
:class:`QueryAst` of words and phrases plus :class:`~index.base.Filters`; each
backend translates the tree into its own engine's query objects (never into a
query *string* that an engine parser would read again).

Syntax
------
=========================  ==================================================
``flood defences``         both words (AND is the default)
``"flood defences"``       the exact phrase (words adjacent, in this order)
``-drought``               exclude pages with the word (``-"a phrase"`` too;
                           ``NOT drought`` is the same)
``flood OR poplave``       either word; ``OR`` (upper case) joins the words or
                           phrases on each side: ``a b OR c d`` = a (b|c) d
``lang:sl``                language code; ``lang:sl,hr`` or repeating means either
``domain:gov.si``          registered domain or exact host (``site:`` too);
``domain:.si``             a leading dot: every host under that suffix
``pool:health-de-at``      a data pool
``media:image``            pages with images (``audio``, ``video``)
``after:2026-11-01``       fetched on or after that day (UTC);
``before:2026-12-01``      fetched before that day; ``YYYY-MM`` and ``YYYY`` work
=========================  ==================================================

Everything else is text: punctuation separates words (``e-mail`` is the phrase
"e mail", ``*:*`` is nothing), ``AND`` is ignored, unknown ``name:value`` pairs
are plain words. A query with no words (only filters) lists all matching
pages, newest first; a query whose words are all punctuation matches nothing.

Why it cannot be expensive
--------------------------
Leaves hold only runs of letters and digits (no wildcard, regex, fuzzy, range or
field syntax survives the lexer); the input is at most 500 characters, at most
:data:`MAX_TERMS` words in all, words longer than :data:`MAX_TOKEN_CHARS` are
dropped (an engine would not have indexed them), and control characters are
removed before anything else.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Union

from owd.index.base import MAX_QUERY_CHARS, Filters, QueryError

__all__ = ["Word", "Phrase", "AnyOf", "QueryAst", "ParsedQuery", "parse", "MAX_TERMS", "MAX_TOKEN_CHARS",
           "FILTER_FIELDS"]

MAX_TERMS = 32
# tantivy's default tokenizer drops longer tokens (RemoveLongFilter(40)); a longer
# query word could never match, so the parser drops it instead of sending it.
MAX_TOKEN_CHARS = 40

FILTER_FIELDS = {
    "lang": "langs", "language": "langs",
    "domain": "domains", "site": "domains",
    "pool": "pools",
    "media": "media_kinds",
    "after": "date_from", "before": "date_to",
}


@dataclass(frozen=True)
class Word:
    """One word: a run of letters/digits as typed (NFC; engines lowercase it)."""

    token: str

    def render(self) -> str:
        return f'"{self.token}"' if self.token in _OPERATORS else self.token


@dataclass(frozen=True)
class Phrase:
    """Adjacent words in order (at least two)."""

    tokens: tuple[str, ...]

    def render(self) -> str:
        return '"' + " ".join(self.tokens) + '"'


Leaf = Union[Word, Phrase]


@dataclass(frozen=True)
class AnyOf:
    """At least one of two or more leaves."""

    options: tuple[Leaf, ...]

    def render(self) -> str:
        return " OR ".join(o.render() for o in self.options)


Clause = Union[Leaf, AnyOf]


@dataclass(frozen=True)
class QueryAst:
    """Every ``must`` clause matches and no ``must_not`` leaf does."""

    must: tuple[Clause, ...] = ()
    must_not: tuple[Leaf, ...] = ()

    def positive_leaves(self) -> list[Leaf]:
        """The leaves a match can contain (what highlighting marks)."""
        out: list[Leaf] = []
        for clause in self.must:
            out.extend(clause.options if isinstance(clause, AnyOf) else (clause,))
        return out

    def render(self) -> str:
        """The tree back in the query language: ``parse(ast.render()).ast == ast``."""
        parts = [c.render() for c in self.must] + ["-" + leaf.render() for leaf in self.must_not]
        return " ".join(parts)


@dataclass(frozen=True)
class ParsedQuery:
    ast: QueryAst = field(default_factory=QueryAst)
    filters: Filters = field(default_factory=Filters)
    #: the text asked for words, but none was searchable ("***", "?!"): match nothing
    match_none: bool = False

    @property
    def match_all(self) -> bool:
        """No word clauses: every document passing the filters (and the exclusions)."""
        return not self.ast.must and not self.match_none

    @property
    def meaning_text(self) -> str:
        """The words a semantic search embeds: every positive word and phrase, in order
        (no operators, exclusions or filters)."""
        words: list[str] = []
        for leaf in self.ast.positive_leaves():
            words.extend((leaf.token,) if isinstance(leaf, Word) else leaf.tokens)
        return " ".join(words)


_OPERATORS = frozenset({"OR", "AND", "NOT"})
_LEX = re.compile(r'(?P<neg>-?)"(?P<phrase>[^"]*)"?|(?P<chunk>[^\s"]+)')
_TOKEN = re.compile(r"[^\W_]+")
_FIELD = re.compile(r"^(?P<name>[A-Za-z]+):(?P<value>.+)$")
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
# removed before lexing: controls, surrogates, private use, unassigned; format
# characters (soft hyphen, zero-width space) are dropped inside words
_DROP_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})


def _clean(text: str) -> str:
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in _DROP_CATEGORIES:
            out.append(" ")
        elif cat != "Cf":
            out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text) if len(t) <= MAX_TOKEN_CHARS]


def _leaf(tokens: list[str]) -> Leaf | None:
    if not tokens:
        return None
    return Word(tokens[0]) if len(tokens) == 1 else Phrase(tuple(tokens))


def _parse_date(name: str, value: str) -> dt.date:
    m = _DATE.match(value)
    try:
        if not m:
            raise ValueError
        return dt.date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError:
        raise QueryError(f"{name}: expected a date YYYY-MM-DD (or YYYY-MM, YYYY), got {value!r}") from None


def parse(text: str) -> ParsedQuery:
    """Parse a query string; raise :class:`QueryError` on a limit or a bad filter value."""
    if not isinstance(text, str):
        raise QueryError(f"query: expected a string, got {type(text).__name__}")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query: at most {MAX_QUERY_CHARS} characters, got {len(text)}")
    text = _clean(text)

    groups: list[list[Leaf]] = []  # positive clauses; an OR group has several leaves
    excluded: list[Leaf] = []
    values: dict[str, list[str]] = {"langs": [], "domains": [], "pools": [], "media_kinds": []}
    dates: dict[str, dt.date] = {}
    wants_words = False
    joins_last = False  # an OR follows a positive clause: the next positive leaf joins it
    last_positive = False
    negate_next = False

    for m in _LEX.finditer(text):
        negate = negate_next
        negate_next = False
        if m.group("chunk") is None:  # a quoted phrase
            negate = negate or bool(m.group("neg"))
            tokens = _tokens(m.group("phrase"))
            wants_words = wants_words or bool(m.group("phrase").strip())
        else:
            chunk = m.group("chunk")
            if chunk == "OR":
                joins_last = last_positive
                continue
            if chunk == "AND":
                continue
            if chunk == "NOT":
                negate_next = True
                continue
            stripped = chunk.lstrip("-+")
            negate = negate or chunk[: len(chunk) - len(stripped)].count("-") > 0
            fm = _FIELD.match(stripped)
            if fm and fm.group("name").lower() in FILTER_FIELDS:
                name, key = fm.group("name").lower(), FILTER_FIELDS[fm.group("name").lower()]
                if negate:
                    raise QueryError(f"-{name}: excluding by a filter is not supported; filter on what to keep")
                value = fm.group("value")
                if key.startswith("date"):
                    day = _parse_date(name, value)
                    prev = dates.get(key)
                    # repeated bounds: keep the tighter one
                    dates[key] = day if prev is None else (max(prev, day) if key == "date_from" else min(prev, day))
                else:
                    parts = [v for v in value.split(",") if v]
                    if key == "media_kinds":  # "media:images" reads naturally
                        parts = [p[:-1] if p.lower() in ("images", "videos") else p for p in parts]
                    values[key].extend(parts)
                joins_last = last_positive = False
                continue
            tokens = _tokens(stripped)
            wants_words = wants_words or bool(stripped)
        leaf = _leaf(tokens)
        if leaf is None:
            continue
        if negate:
            if leaf not in excluded:
                excluded.append(leaf)
            joins_last = last_positive = False
            continue
        if joins_last and groups:
            if leaf not in groups[-1]:
                groups[-1].append(leaf)
        else:
            groups.append([leaf])
        joins_last, last_positive = False, True

    must: list[Clause] = []
    for group in groups:
        clause: Clause = group[0] if len(group) == 1 else AnyOf(tuple(group))
        if clause not in must:
            must.append(clause)
    ast = QueryAst(tuple(must), tuple(excluded))
    n_terms = sum(1 if isinstance(leaf, Word) else len(leaf.tokens)
                  for leaf in ast.positive_leaves() + list(ast.must_not))
    if n_terms > MAX_TERMS:
        raise QueryError(f"query: at most {MAX_TERMS} words, got {n_terms}")
    filters = Filters(langs=tuple(values["langs"]), domains=tuple(values["domains"]),
                      pools=tuple(values["pools"]), media_kinds=tuple(values["media_kinds"]),
                      date_from=dates.get("date_from"), date_to=dates.get("date_to"))
    match_none = wants_words and not ast.must and not ast.must_not
    return ParsedQuery(ast=ast, filters=filters, match_none=match_none)
