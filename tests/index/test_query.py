"""The query language parser, on its own: syntax, filters, limits, and hostile input
(property-style: thousands of random strings from a seeded generator)."""

from __future__ import annotations

import datetime as dt
import random
import unicodedata

import pytest

from owd.index.base import MAX_QUERY_CHARS, Filters, QueryError, SearchQuery
from owd.index.query import MAX_TERMS, MAX_TOKEN_CHARS, AnyOf, Phrase, QueryAst, Word, parse

UTC = dt.timezone.utc


def ast(text: str) -> QueryAst:
    return parse(text).ast


@pytest.mark.parametrize("text,expected", [
    ("flood defences", QueryAst((Word("flood"), Word("defences")))),
    ('"flood defences"', QueryAst((Phrase(("flood", "defences")),))),
    ('"flood"', QueryAst((Word("flood"),))),
    ("flood -drought", QueryAst((Word("flood"),), (Word("drought"),))),
    ('flood -"dry season"', QueryAst((Word("flood"),), (Phrase(("dry", "season")),))),
    ("flood NOT drought", QueryAst((Word("flood"),), (Word("drought"),))),
    ("a OR b", QueryAst((AnyOf((Word("a"), Word("b"))),))),
    ("a OR b OR c d", QueryAst((AnyOf((Word("a"), Word("b"), Word("c"))), Word("d")))),
    ('a OR "b c"', QueryAst((AnyOf((Word("a"), Phrase(("b", "c")))),))),
    ("a or b", QueryAst((Word("a"), Word("or"), Word("b")))),  # only upper-case OR is an operator
    ("a AND b", QueryAst((Word("a"), Word("b")))),
    ("OR a", QueryAst((Word("a"),))),  # dangling operators are dropped
    ("a OR", QueryAst((Word("a"),))),
    ("a -b OR c", QueryAst((Word("a"), Word("c")), (Word("b"),))),  # OR does not join an exclusion
    ("e-mail", QueryAst((Phrase(("e", "mail")),))),
    ("covid-19", QueryAst((Phrase(("covid", "19")),))),
    ("a a a", QueryAst((Word("a"),))),
    ("+a", QueryAst((Word("a"),))),
    ("Zdravje ČAS ΥΓΕΊΑ Здравето", QueryAst((Word("Zdravje"), Word("ČAS"), Word("ΥΓΕΊΑ"), Word("Здравето")))),
    ("title:foo", QueryAst((Phrase(("title", "foo")),))),  # unknown fields are words
    ("*:*", QueryAst()),
    ("field:[* TO *]", QueryAst((Word("field"), Word("TO")))),
    ("a~2 b^3 c*", QueryAst((Phrase(("a", "2")), Phrase(("b", "3")), Word("c")))),  # no fuzzy/boost/wildcard
])
def test_syntax(text: str, expected: QueryAst) -> None:
    assert ast(text) == expected


def test_filters_in_text() -> None:
    p = parse("zdravje lang:sl,HR Language:de domain:.si site:gov.si pool:health media:images "
              "after:2026-11 before:2026-12-01")
    assert p.ast == QueryAst((Word("zdravje"),))
    assert p.filters == Filters(langs=["sl", "hr", "de"], domains=[".si", "gov.si"], pools=["health"],
                                media_kinds=["image"], date_from=dt.date(2026, 11, 1),
                                date_to=dt.date(2026, 12, 1))
    assert parse("after:2026-01-01 after:2026-03-01 before:2027 before:2026-06").filters == Filters(
        date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 6, 1))  # repeated bounds tighten


@pytest.mark.parametrize("text", [
    "lang:english", "lang:s", "domain:a/b", "domain:*.si", "pool:big!", "media:pdf", "after:yesterday",
    "after:2026-02-30", "before:0000-01-01", "-lang:en", "-domain:.si", "x" * (MAX_QUERY_CHARS + 1),
    " ".join("w%d" % i for i in range(MAX_TERMS + 1)),
    '"' + " ".join("w%d" % i for i in range(MAX_TERMS)) + '" extra',
    "lang:" + ",".join(f"l{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(33)),
])
def test_errors(text: str) -> None:
    with pytest.raises(QueryError):
        parse(text)


def test_match_all_and_match_none() -> None:
    assert parse("").match_all and not parse("").match_none
    assert parse("  lang:sl ").match_all
    assert parse("***").match_none and not parse("***").match_all
    assert parse("-spam").match_all and parse("-spam").ast.must_not == (Word("spam"),)  # all but spam
    assert not parse("-spam").match_none
    assert parse('""').match_all


def test_long_tokens_are_dropped() -> None:
    long = "a" * (MAX_TOKEN_CHARS + 1)
    assert ast(f"{long} b") == QueryAst((Word("b"),))
    assert ast("a" * MAX_TOKEN_CHARS) == QueryAst((Word("a" * MAX_TOKEN_CHARS),))
    assert parse(long).match_none


def test_control_and_format_characters() -> None:
    assert ast("a\u0000b") == QueryAst((Word("a"), Word("b")))
    assert ast("zaš\u00adčita") == QueryAst((Word("zaščita"),))  # soft hyphen joins
    assert ast("a\u200bb") == QueryAst((Word("ab"),))
    assert ast("\ud800x") == QueryAst((Word("x"),))  # a lone surrogate never reaches an engine
    assert ast("zas\u030cc\u030cita") == QueryAst((Word("zaščita"),))  # NFC


def test_search_query_validation() -> None:
    q = SearchQuery("poplave lang:sl", Filters(langs=["hr"]), facets=["lang", "lang"], page=2, page_size=20)
    assert q.facets == ("lang",) and q.offset == 20
    assert q.effective_filters.langs == ("hr", "sl")
    for bad in ({"page": 0}, {"page": 101}, {"page_size": 101}, {"facets": ["x"]}, {"filters": {"langs": ["sl"]}}):
        with pytest.raises(QueryError):
            SearchQuery("x", **bad)  # type: ignore[arg-type]


def test_filters_normalise_and_validate() -> None:
    f = Filters(langs=["SL", "sl", " hr "], domains=["GOV.SI.", ".Si"], media_kinds="image")
    assert f.langs == ("sl", "hr") and f.domains == ("gov.si", ".si") and f.media_kinds == ("image",)
    assert Filters(date_from=dt.date(2026, 1, 2)).date_from == dt.datetime(2026, 1, 2, tzinfo=UTC)
    cet = dt.timezone(dt.timedelta(hours=1))
    assert Filters(date_to=dt.datetime(2026, 1, 2, 1, tzinfo=cet)).date_to == dt.datetime(2026, 1, 2, tzinfo=UTC)
    assert Filters().empty and not f.empty
    with pytest.raises(QueryError):
        Filters(langs=[3])  # type: ignore[list-item]
    with pytest.raises(QueryError):
        Filters(date_from="2026-01-01")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- properties

_PIECES = (list(' "\'-+*?~^:()[]{}/\\!&|<>=@#%$.,;_\u0000\u00ad\u200b\ud800\t\n\u0301') +
           ["OR", "AND", "NOT", "TO", "lang:", "lang:sl", "domain:.si", "after:", "after:2026-11-01", "media:",
            "pool:x", "zdravje", "Flood", "č", "Ω", "Ж", "ß", "ﬁ", "İ", "a" * 41, "🙂"])


def _hostile(rng: random.Random) -> str:
    n = rng.choice((0, 1, 3, 10, 40, 200))
    return "".join(rng.choice(_PIECES) for _ in range(n))[:MAX_QUERY_CHARS]


def _leaves(a: QueryAst) -> list[Word | Phrase]:
    return a.positive_leaves() + list(a.must_not)


def test_property_hostile_input() -> None:
    """Any string either parses into a tree of plain alphanumeric tokens within the
    limits, or raises QueryError; nothing else."""
    rng = random.Random(5)
    parsed = 0
    for _ in range(5000):
        text = _hostile(rng)
        try:
            p = parse(text)
        except QueryError:
            continue
        parsed += 1
        tokens = [t for leaf in _leaves(p.ast) for t in ((leaf.token,) if isinstance(leaf, Word) else leaf.tokens)]
        assert len(tokens) <= MAX_TERMS
        for t in tokens:
            assert t and len(t) <= MAX_TOKEN_CHARS and all(ch.isalnum() for ch in t), (text, t)
            assert unicodedata.is_normalized("NFC", t)
        for leaf in _leaves(p.ast):
            assert isinstance(leaf, Word) or len(leaf.tokens) >= 2
        for clause in p.ast.must:
            assert not isinstance(clause, AnyOf) or len(clause.options) >= 2
        # the tree renders back to a query with the same tree
        assert parse(p.ast.render()).ast == p.ast, text
    assert parsed > 3000


def test_property_random_bytes_and_lengths() -> None:
    rng = random.Random(11)
    for _ in range(2000):
        n = rng.randint(0, 700)
        text = "".join(chr(rng.randint(0, 0x2FFFF)) for _ in range(n))
        try:
            p = parse(text)
        except QueryError as exc:
            assert len(text) > MAX_QUERY_CHARS or "words" in str(exc) or ":" in str(exc)
            continue
        assert len(text) <= MAX_QUERY_CHARS
        assert parse(p.ast.render()).ast == p.ast


def test_property_search_query_from_hostile_input() -> None:
    rng = random.Random(17)
    for _ in range(2000):
        kwargs = {"text": _hostile(rng), "page": rng.randint(-2, 103), "page_size": rng.randint(-2, 103)}
        try:
            q = SearchQuery(**kwargs)
        except QueryError:
            continue
        assert 1 <= q.page <= 100 and 1 <= q.page_size <= 100
