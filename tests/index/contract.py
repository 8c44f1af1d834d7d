"""The search backend contract: the tests every :class:`owd.index.base.SearchBackend` passes.

A backend's test module provides one fixture and star-imports this module::

    @pytest.fixture(scope="module")
    def backend_factory(...):
        def make(name: str, **options) -> SearchBackend: ...  # open or create index `name`
        yield make
        ... close what was made ...

    from tests.index.contract import *  # noqa: F401,F403

``make(name)`` opens the index called ``name``, creating it empty when it does not
exist; ``options`` are passed to the backend (``include_dropped``). The tests only
use the public interface, so they run unchanged on the embedded index and on
OpenSearch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import itertools
import random
import re
import uuid
from typing import Any, Callable, Iterator

import pytest

from owd.index.base import (
    FACETS,
    SEMANTIC_DEPTH,
    NoVectorsError,
    rrf,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    MAX_QUERY_CHARS,
    Filters,
    QueryError,
    SearchBackend,
    SearchQuery,
    SearchResult,
    to_record,
)
from owd.index.query import MAX_TERMS, AnyOf, Phrase, Word, parse
from tests.index.corpus import (
    MARKERS,
    SHARED_LANGS,
    facet_counts,
    has_phrase,
    kept,
    matches_filters,
    shared_corpus,
    synthetic_corpus,
    top,
    words_of,
)

from tests.vectors import cached_embedder, passage_vectors

Factory = Callable[..., SearchBackend]
UTC = dt.timezone.utc
CORPUS = synthetic_corpus()
KEPT = kept(CORPUS)
BY_ID = {d.id: d for d in CORPUS}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def backend(backend_factory: Factory) -> Iterator[SearchBackend]:
    """A fresh, empty index."""
    b = backend_factory(_name("t"), embedder=cached_embedder())
    yield b
    b.close()


@pytest.fixture(scope="module")
def corpus_vectors() -> dict[str, Any]:
    """The real model's vectors of the synthetic corpus (tests/vectors.py caches them)."""
    return passage_vectors(KEPT)


@pytest.fixture(scope="module")
def corpus_backend(backend_factory: Factory, corpus_vectors: dict[str, Any]) -> Iterator[SearchBackend]:
    """The synthetic corpus with its vectors, indexed once per module; tests must not write to it."""
    b = backend_factory(_name("corpus"), embedder=cached_embedder())
    b.add(CORPUS, corpus_vectors)
    yield b
    b.close()


def ids(result: SearchResult) -> list[str]:
    return [h.id for h in result.hits]


def all_ids(b: SearchBackend, text: str = "", filters: Filters | None = None) -> list[str]:
    """Every hit of a query, page by page."""
    out: list[str] = []
    for page in range(1, MAX_PAGE + 1):
        r = b.search(SearchQuery(text, filters or Filters(), page=page, page_size=MAX_PAGE_SIZE, highlight=False))
        out.extend(ids(r))
        if len(out) >= r.total or not r.hits:
            break
    return out


# ---------------------------------------------------------------------------- add, count, get


def test_add_count_get(backend: SearchBackend) -> None:
    assert backend.count() == 0
    assert backend.add(CORPUS) == len(KEPT)
    assert backend.count() == len(KEPT)
    for doc in KEPT[:: max(1, len(KEPT) // 12)] + [BY_ID["doc-html"], BY_ID["doc-empty"]]:
        assert backend.get(doc.id) == to_record(doc)
    assert backend.get("no-such-id") is None
    dropped = [d for d in CORPUS if d.drop_reason]
    assert dropped and all(backend.get(d.id) is None for d in dropped)


def test_add_empty_and_generator(backend: SearchBackend) -> None:
    assert backend.add([]) == 0
    assert backend.add(d for d in KEPT[:5]) == 5
    assert backend.count() == 5


def test_include_dropped(backend_factory: Factory) -> None:
    with backend_factory(_name("dropped"), include_dropped=True) as b:
        assert b.add(CORPUS) == len(CORPUS)
        assert b.count() == len(CORPUS)
        dropped = next(d for d in CORPUS if d.drop_reason)
        assert b.get(dropped.id) == to_record(dropped)


def test_readd_is_idempotent_and_replaces(backend: SearchBackend) -> None:
    backend.add(CORPUS)
    backend.add(CORPUS)
    assert backend.count() == len(KEPT)
    old = KEPT[3]
    new = dataclasses.replace(old, title="Zqreplaced title", text="Completely zqnewword content.",
                              pools=["replaced"])
    assert backend.add([new]) == 1
    assert backend.count() == len(KEPT)
    assert backend.get(old.id) == to_record(new)
    assert ids(backend.search(SearchQuery("zqnewword"))) == [old.id]
    assert ids(backend.search(SearchQuery("zqreplaced"))) == [old.id]
    assert backend.count(Filters(pools=["replaced"])) == 1
    first_old_word = (old.text or "").split()[0].strip(".,")
    assert old.id not in all_ids(backend, f'"{first_old_word}"')


def test_same_id_twice_in_one_add_keeps_the_last(backend: SearchBackend) -> None:
    a = KEPT[0]
    b = dataclasses.replace(a, title="Second version")
    assert backend.add([a, b]) == 1
    assert backend.count() == 1
    assert (backend.get(a.id) or {}).get("title") == "Second version"


def test_readding_as_dropped_removes(backend: SearchBackend) -> None:
    backend.add(KEPT[:10])
    now_dup = dataclasses.replace(KEPT[2], drop_reason="duplicate")
    assert backend.add([now_dup]) == 0
    assert backend.count() == 9
    assert backend.get(now_dup.id) is None


def test_delete(backend: SearchBackend) -> None:
    backend.add(CORPUS)
    gone = [KEPT[0].id, KEPT[5].id]
    backend.delete(gone + ["no-such-id"])
    assert backend.count() == len(KEPT) - 2
    assert all(backend.get(i) is None for i in gone)
    assert not set(gone) & set(all_ids(backend))
    backend.delete([])
    assert backend.count() == len(KEPT) - 2


def test_clear(backend: SearchBackend) -> None:
    backend.add(KEPT[:10])
    backend.clear()
    assert backend.count() == 0
    assert backend.search(SearchQuery("")).total == 0
    backend.add(KEPT[:3])
    assert backend.count() == 3


def test_reopen_keeps_documents(backend_factory: Factory) -> None:
    name = _name("reopen")
    with backend_factory(name) as b:
        b.add(KEPT[:7])
    with backend_factory(name) as b:
        assert b.count() == 7
        assert b.get(KEPT[0].id) == to_record(KEPT[0])


# ---------------------------------------------------------------------------- filters


FILTER_CASES = [
    Filters(),
    Filters(langs=["sl"]),
    Filters(langs=["sl", "HR"]),
    Filters(langs=["xx"]),
    Filters(domains=[".si"]),
    Filters(domains=["rtvslo.si"]),
    Filters(domains=["novice.rtvslo.si"]),  # an exact host
    Filters(domains=[".rtvslo.si"]),  # subdomains only
    Filters(domains=[".co.uk", ".fi"]),
    Filters(domains=["intranet"]),
    Filters(domains=["127.0.0.5"]),
    Filters(domains=[".si."]),  # trailing dot normalised
    Filters(pools=["health"]),
    Filters(pools=["health", "floods"]),
    Filters(pools=["health-de-at"]),
    Filters(media_kinds=["image"]),
    Filters(media_kinds=["audio", "video"]),
    Filters(date_from=dt.date(2026, 11, 1)),
    Filters(date_to=dt.date(2026, 11, 1)),
    Filters(date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 12, 1)),
    Filters(date_from=dt.datetime(2026, 11, 5, 12, tzinfo=UTC), date_to=dt.datetime(2026, 12, 9, tzinfo=UTC)),
    Filters(date_from=dt.date(1, 1, 1), date_to=dt.date(9999, 12, 31)),
    Filters(langs=["sl", "de"], domains=[".si", ".at"], pools=["health"], media_kinds=["image"],
            date_from=dt.date(2026, 10, 1)),
]


@pytest.mark.parametrize("filters", FILTER_CASES, ids=lambda f: repr(f)[8:60])
def test_filters_count_and_search(corpus_backend: SearchBackend, filters: Filters) -> None:
    expected = {d.id for d in KEPT if matches_filters(d, filters)}
    assert corpus_backend.count(filters) == len(expected)
    assert sorted(all_ids(corpus_backend, "", filters)) == sorted(expected)
    # with words: the filter restricts the word matches
    word = MARKERS[0]
    expected_word = {d.id for d in KEPT if matches_filters(d, filters) and word in words_of(d)}
    assert sorted(all_ids(corpus_backend, word, filters)) == sorted(expected_word)


def test_filters_written_in_the_query(corpus_backend: SearchBackend) -> None:
    cases = {
        "lang:sl": Filters(langs=["sl"]),
        "lang:sl,hr": Filters(langs=["sl", "hr"]),
        "lang:sl lang:hr": Filters(langs=["sl", "hr"]),
        "domain:.si": Filters(domains=[".si"]),
        "site:rtvslo.si pool:health": Filters(domains=["rtvslo.si"], pools=["health"]),
        "media:image": Filters(media_kinds=["image"]),
        "media:images": Filters(media_kinds=["image"]),
        "after:2026-11-01 before:2026-12-01": Filters(date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 12, 1)),
        "after:2026-11": Filters(date_from=dt.date(2026, 11, 1)),
        "before:2027": Filters(date_to=dt.date(2027, 1, 1)),
    }
    for text, filters in cases.items():
        expected = sorted(d.id for d in KEPT if matches_filters(d, filters))
        assert sorted(all_ids(corpus_backend, text)) == expected, text
    # the query's filters and the request's are combined (lists united, dates tightened)
    combined = SearchQuery("lang:sl", Filters(langs=["hr"], date_from=dt.date(2026, 11, 1)), page_size=100)
    expected = sorted(d.id for d in KEPT if matches_filters(d, Filters(langs=["sl", "hr"],
                                                                         date_from=dt.date(2026, 11, 1))))
    assert sorted(ids(corpus_backend.search(combined))) == expected


def test_date_bounds_inclusive_from_exclusive_to(corpus_backend: SearchBackend) -> None:
    doc = next(d for d in KEPT if d.fetch_time is not None)
    t = to_record(doc)["fetch_time"]
    assert doc.id in all_ids(corpus_backend, "", Filters(date_from=t, date_to=t + dt.timedelta(milliseconds=1)))
    assert doc.id not in all_ids(corpus_backend, "", Filters(date_to=t))
    assert doc.id not in all_ids(corpus_backend, "", Filters(date_from=t + dt.timedelta(milliseconds=1)))
    no_time = [d.id for d in KEPT if d.fetch_time is None]
    assert no_time and not set(no_time) & set(all_ids(corpus_backend, "", Filters(date_to=dt.date(9999, 1, 1))))


# ---------------------------------------------------------------------------- facets


FACET_CASES = [
    ("", Filters()),
    ("", Filters(langs=["sl", "hr"])),
    ("", Filters(domains=[".si"], media_kinds=["image"])),
    (MARKERS[0], Filters()),
    (MARKERS[1], Filters(date_from=dt.date(2026, 11, 1))),
    (f"{MARKERS[0]} {MARKERS[1]}", Filters()),
    (f"{MARKERS[0]} OR {MARKERS[2]}", Filters(pools=["health"])),
    (f"-{MARKERS[0]}", Filters()),
    ("zqnothing", Filters()),
]


def _word(leaf: Word | Phrase) -> str:
    assert isinstance(leaf, Word), "facet cases use single words"
    return leaf.token.lower()


def _brute(text: str, filters: Filters) -> list[str]:
    """Reference matching for queries of marker words (AND, OR, -): the parser's tree
    (tested on its own in test_query.py), evaluated over each document's words."""
    ast = parse(text).ast
    out = []
    for d in KEPT:
        words = set(words_of(d))
        ok = matches_filters(d, filters) and all(
            any(_word(leaf) in words for leaf in (c.options if isinstance(c, AnyOf) else (c,))) for c in ast.must
        ) and not any(_word(leaf) in words for leaf in ast.must_not)
        if ok:
            out.append(d.id)
    return out


@pytest.mark.parametrize("text,filters", FACET_CASES, ids=[f"{t!r}-{i}" for i, (t, _) in enumerate(FACET_CASES)])
def test_facets_are_exact(corpus_backend: SearchBackend, text: str, filters: Filters) -> None:
    expected_ids = _brute(text, filters)
    r = corpus_backend.search(SearchQuery(text, filters, facets=FACETS, facet_size=100, page_size=5))
    assert r.total == len(expected_ids)
    counts = facet_counts(BY_ID[i] for i in expected_ids)
    assert set(r.facets) == set(FACETS)
    for name in FACETS:
        assert r.facets[name] == top(counts[name], 100), name


def test_facet_size_keeps_the_largest(corpus_backend: SearchBackend) -> None:
    r = corpus_backend.search(SearchQuery("", facets=("domain", "lang"), facet_size=3))
    counts = facet_counts(KEPT)
    for name in ("domain", "lang"):
        assert len(r.facets[name]) == 3
        assert r.facets[name] == top(counts[name], 3)
        assert list(r.facets[name].values()) == sorted(r.facets[name].values(), reverse=True)


def test_no_facets_unless_asked(corpus_backend: SearchBackend) -> None:
    assert corpus_backend.search(SearchQuery("")).facets == {}
    r = corpus_backend.search(SearchQuery("", facets=["pool"]))
    assert set(r.facets) == {"pool"}


# ---------------------------------------------------------------------------- pagination and order


@pytest.mark.parametrize("text", ["", MARKERS[0], "poplave OR flood OR zdravje OR health"])
def test_pagination_no_overlap_stable_order(corpus_backend: SearchBackend, text: str) -> None:
    size = 7
    first = corpus_backend.search(SearchQuery(text, page_size=size))
    pages = [ids(corpus_backend.search(SearchQuery(text, page=p, page_size=size)))
             for p in range(1, first.total // size + 3)]
    flat = list(itertools.chain.from_iterable(pages))
    assert len(flat) == len(set(flat)) == first.total > size
    assert pages[0] == ids(first)
    assert all(len(p) == size for p in pages[: first.total // size])
    assert pages[-1] == []  # past the end: empty, not an error
    # stable: the same request gives the same order; one big page is the concatenation
    assert flat == ids(corpus_backend.search(SearchQuery(text, page_size=100)))[: len(flat)]
    assert pages[1] == ids(corpus_backend.search(SearchQuery(text, page=2, page_size=size)))


def test_scores_descend(corpus_backend: SearchBackend) -> None:
    r = corpus_backend.search(SearchQuery("poplave OR zdravje OR flood", page_size=50))
    scores = [h.score for h in r.hits]
    assert r.total > 3 and scores == sorted(scores, reverse=True) and scores[0] > 0


def test_no_words_lists_newest_first(corpus_backend: SearchBackend) -> None:
    r = corpus_backend.search(SearchQuery("lang:sl", page_size=100))
    times = [h.fetch_time for h in r.hits]
    known = [t for t in times if t is not None]
    assert known == sorted(known, reverse=True)
    assert times[: len(known)] == known  # documents without a fetch time come last


def test_hit_fields(corpus_backend: SearchBackend) -> None:
    r = corpus_backend.search(SearchQuery("poplave lang:sl"))
    assert r.hits and r.took_ms >= 0
    for h in r.hits:
        rec = to_record(BY_ID[h.id])
        assert (h.url, h.title, h.lang, h.domain, h.fetch_time) == (
            rec["url"], rec["title"], rec["lang"], rec["domain"], rec["fetch_time"])
        assert isinstance(h.score, float)


# ---------------------------------------------------------------------------- highlights

_TAG = re.compile(r"<[^>]*>")


def _only_mark_tags(snippet: str) -> bool:
    return all(tag in ("<mark>", "</mark>") for tag in _TAG.findall(snippet))


def test_highlight_marks_query_words(corpus_backend: SearchBackend) -> None:
    r = corpus_backend.search(SearchQuery("zdravje lang:sl", page_size=20))
    assert r.hits
    for h in r.hits:
        marked = re.findall(r"<mark>(.*?)</mark>", h.snippet)
        assert marked and {m.lower() for m in marked} == {"zdravje"}, h.snippet
        assert _only_mark_tags(h.snippet)
    r = corpus_backend.search(SearchQuery('"flood defences"'))
    # a phrase is marked word by word or as one span, as the engine's highlighter does it
    assert r.hits and all(re.search(r"<mark>Flood</mark> <mark>defences</mark>|<mark>Flood defences</mark>",
                                    h.snippet) for h in r.hits)


def test_highlight_escapes_html(corpus_backend: SearchBackend) -> None:
    r = corpus_backend.search(SearchQuery("script floods"))
    hit = next(h for h in r.hits if h.id == "doc-html")
    assert "<script>" not in hit.snippet and "<b>" not in hit.snippet
    assert "&lt;" in hit.snippet and "&amp;" in hit.snippet
    assert _only_mark_tags(hit.snippet)
    assert "<mark>floods</mark>" in hit.snippet
    # unescaping the snippet and removing the marks gives back a piece of the text
    plain = html.unescape(hit.snippet.replace("<mark>", "").replace("</mark>", "")).strip("…")
    assert plain and plain in (BY_ID["doc-html"].text or "")


def test_highlight_off_and_empty_text(corpus_backend: SearchBackend) -> None:
    r = corpus_backend.search(SearchQuery("zdravje", highlight=False))
    assert r.hits and all("<mark>" not in h.snippet for h in r.hits)
    r = corpus_backend.search(SearchQuery("domain:yle.fi after:2026-11-30"))
    empty = next(h for h in r.hits if h.id == "doc-empty")
    assert empty.snippet == "" and empty.title is None and empty.lang is None


# ---------------------------------------------------------------------------- limits


@pytest.mark.parametrize("kwargs", [
    {"page_size": MAX_PAGE_SIZE + 1}, {"page_size": 0}, {"page": 0}, {"page": MAX_PAGE + 1}, {"page": -1},
    {"page_size": 2.5}, {"page": True}, {"facet_size": 0}, {"facet_size": 101},
    {"text": "x" * (MAX_QUERY_CHARS + 1)}, {"text": " ".join(f"w{i}" for i in range(MAX_TERMS + 1))},
    {"text": '"' + " ".join(f"w{i}" for i in range(MAX_TERMS + 1)) + '"'},
    {"facets": ["nope"]}, {"text": "lang:%%%"}, {"text": "after:2026-13-01"}, {"text": "media:pdf"},
    {"text": "-lang:en"}, {"text": 42},
])
def test_limits_raise_query_error(corpus_backend: SearchBackend, kwargs: dict[str, Any]) -> None:
    with pytest.raises(QueryError):
        corpus_backend.search(SearchQuery(**kwargs))


def test_limits_at_the_edge_are_fine(corpus_backend: SearchBackend) -> None:
    corpus_backend.search(SearchQuery("x" * MAX_QUERY_CHARS, page=MAX_PAGE, page_size=MAX_PAGE_SIZE))
    corpus_backend.search(SearchQuery(" ".join(f"w{i}" for i in range(MAX_TERMS))))
    with pytest.raises(QueryError):
        Filters(langs=["not a language"])
    with pytest.raises(QueryError):
        Filters(date_from=dt.datetime(2026, 1, 1))  # naive


# ---------------------------------------------------------------------------- query language

LANGUAGE_CASES = [
    # (query, predicate over the document's word list)
    (f"{MARKERS[0]} {MARKERS[1]}", lambda w: MARKERS[0] in w and MARKERS[1] in w),
    (f"{MARKERS[0]} AND {MARKERS[1]}", lambda w: MARKERS[0] in w and MARKERS[1] in w),
    (f"{MARKERS[0]} OR {MARKERS[1]}", lambda w: MARKERS[0] in w or MARKERS[1] in w),
    (f"{MARKERS[0]} -{MARKERS[1]}", lambda w: MARKERS[0] in w and MARKERS[1] not in w),
    (f"{MARKERS[0]} NOT {MARKERS[1]}", lambda w: MARKERS[0] in w and MARKERS[1] not in w),
    (f"-{MARKERS[2]}", lambda w: MARKERS[2] not in w),
    (f"{MARKERS[0]} OR {MARKERS[1]} {MARKERS[2]}",
     lambda w: (MARKERS[0] in w or MARKERS[1] in w) and MARKERS[2] in w),
    (f"{MARKERS[0].upper()}", lambda w: MARKERS[0] in w),
    (f"({MARKERS[0]})", lambda w: MARKERS[0] in w),
    (f"{MARKERS[0]}!!! ???", lambda w: MARKERS[0] in w),
]


@pytest.mark.parametrize("text,pred", LANGUAGE_CASES, ids=[c[0] for c in LANGUAGE_CASES])
def test_query_language_boolean(corpus_backend: SearchBackend, text: str, pred: Callable[[list[str]], bool]) -> None:
    expected = sorted(d.id for d in KEPT if pred(words_of(d)))
    assert sorted(all_ids(corpus_backend, text)) == expected


def test_query_language_phrases(corpus_backend: SearchBackend) -> None:
    phrase = ["flood", "defences", "protect"]
    expected = sorted(d.id for d in KEPT if has_phrase(d, phrase))
    assert expected and sorted(all_ids(corpus_backend, '"Flood defences protect"')) == expected
    # the same words, not adjacent in this order: no phrase match
    assert all_ids(corpus_backend, '"protect flood defences"') == []
    assert sorted(all_ids(corpus_backend, "protect flood defences")) == expected
    excluded = all_ids(corpus_backend, 'lang:en -"flood defences"')
    assert excluded and not set(excluded) & set(expected)
    # punctuation inside a word makes a phrase: "old-town" is "old town"
    assert sorted(all_ids(corpus_backend, "old-town lang:en")) == sorted(
        d.id for d in KEPT if d.lang == "en" and has_phrase(d, ["old", "town"]))


def test_query_of_only_punctuation_matches_nothing(corpus_backend: SearchBackend) -> None:
    for text in ("***", "?", "!!! ...", '""', "- -- ---"):
        assert corpus_backend.search(SearchQuery(text)).total in (0, len(KEPT)), text
    assert corpus_backend.search(SearchQuery("***")).total == 0
    assert corpus_backend.search(SearchQuery("   ")).total == len(KEPT)


# ---------------------------------------------------------------------------- languages and scripts


@pytest.mark.parametrize("text,lang", [
    ("zdravje", "sl"), ("ZDRAVJE", "sl"), ("Zdravje", "sl"), ("ogroženo", "sl"), ("zaščite", "sl"),
    ("građana", "hr"), ("Gesundheit", "de"), ("überflutet", "de"), ("ÜBERFLUTET", "de"),
    ("santé", "fr"), ("hôpital", "fr"),
    ("υγεία", "el"), ("ΥΓΕΊΑ", "el"), ("πλημμύρες", "el"),
    ("Здравето", "bg"), ("здравето", "bg"), ("наводненията", "bg"),
    ("zdrowie", "pl"), ("Powódź", "pl"), ("terveys", "fi"), ("nemocnice", "cs"), ("Povodně", "cs"),
])
def test_unicode_words_find_their_language(corpus_backend: SearchBackend, text: str, lang: str) -> None:
    found = all_ids(corpus_backend, text)
    expected = {d.id for d in KEPT if d.lang == lang and text.lower() in words_of(d)}
    assert expected and expected <= set(found)
    top_hits = corpus_backend.search(SearchQuery(text, page_size=len(expected)))
    assert {h.lang for h in top_hits.hits} == {lang}  # exact-word matches rank first


def test_unicode_decomposed_query_is_normalised(corpus_backend: SearchBackend) -> None:
    decomposed = "zas\u030cc\u030cite"  # "zaščite" typed with combining carons
    assert set(all_ids(corpus_backend, decomposed)) >= set(all_ids(corpus_backend, "zaščite")) != set()


# ---------------------------------------------------------------------------- hostile input

HOSTILE = [
    "*:*", "*", "?", "field:[* TO *]", "text:[a TO z]", "title:/.*/", "/.*/", "a~2", "a^100", "a*",
    "\u0000", "a\u0000b", "\ufeff", "\ud800", "\U0010ffff", "((((((((((a))))))))))", "a AND OR NOT b",
    'OR', 'NOT', 'AND', 'OR OR OR', '"', '"""', '"a', 'a"', "-", "--a", "-\"\"", "+a -b", "a:b:c",
    "lang:", "domain:", ":", "::", "\\", "\\*", "{!lucene}x", "_exists_:title", "id:doc-001",
    "<script>alert(1)</script>", "' OR 1=1 --", "${jndi:ldap://x}", "%00", "\r\n\t", "😀 flood",
    "a" * 40, "a" * 41, "a" * 500, "Ω" * 500, " " * 500, "-" * 500, '"' * 500, "a " * 32,
]


def _random_hostile(rng: random.Random) -> str:
    alphabet = (list(' "\'-+*?~^:()[]{}/\\!&|<>=@#%$.,;\u0000\u00ad\u200b\ud800\t\n') +
                ["OR", "AND", "NOT", "lang:", "domain:", "after:", "TO", "zdravje", "flood", "č", "Ω", "Ж"])
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))[:MAX_QUERY_CHARS]


def _safe_search(b: SearchBackend, text: str) -> None:
    try:
        q = SearchQuery(text, facets=FACETS)
    except QueryError:
        return
    r = b.search(q)
    assert 0 <= r.total <= len(KEPT)
    assert all(_only_mark_tags(h.snippet) for h in r.hits)


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_are_safe(corpus_backend: SearchBackend, text: str) -> None:
    _safe_search(corpus_backend, text)


def test_random_hostile_queries_are_safe(corpus_backend: SearchBackend) -> None:
    rng = random.Random(20261101)
    for _ in range(300):
        _safe_search(corpus_backend, _random_hostile(rng))


def test_syntax_is_not_interpreted(corpus_backend: SearchBackend) -> None:
    # engine syntax is words (or nothing), never a match-all or a field query
    assert corpus_backend.search(SearchQuery("*:*")).total == 0
    assert corpus_backend.search(SearchQuery("id:doc-001")).total == 0
    assert corpus_backend.search(SearchQuery(f"{MARKERS[0][:4]}*")).total == 0  # no wildcards


# ---------------------------------------------------------------------------- relevance


@pytest.mark.semantic
@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_relevance_title_query_ranks_the_page_top3(corpus_backend: SearchBackend, mode: str) -> None:
    checked = 0
    for doc in KEPT:
        if not doc.title or "(" in doc.title:
            continue
        r = corpus_backend.search(SearchQuery(doc.title, page_size=3, mode=mode))
        assert doc.id in ids(r), (doc.title, ids(r))
        checked += 1
    assert checked >= 20


def test_relevance_title_outranks_body(backend: SearchBackend) -> None:
    base = KEPT[0]
    in_title = dataclasses.replace(base, id="t", title="Zqsolar panels", text="Report on energy.")
    in_body = dataclasses.replace(base, id="b", title="Energy report", text="Report on zqsolar panels and energy.")
    backend.add([in_body, in_title])
    assert ids(backend.search(SearchQuery("zqsolar"))) == ["t", "b"]


# ---------------------------------------------------------------------------- real sentences


@pytest.fixture(scope="module")
def shared_backend(backend_factory: Factory, shared_data: Any) -> Iterator[tuple[SearchBackend, list[Any]]]:
    docs = shared_corpus(shared_data)
    b = backend_factory(_name("shared"), embedder=cached_embedder())
    b.add(docs, passage_vectors(docs))
    yield b, docs
    b.close()


@pytest.mark.shared_data
@pytest.mark.semantic
@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_shared_relevance_title_top3(shared_backend: tuple[SearchBackend, list[Any]], mode: str) -> None:
    b, docs = shared_backend
    assert b.count() == len(docs) >= 200
    assert len({d.lang for d in docs}) >= 8
    misses = []
    rng = random.Random(7)
    sample = rng.sample(docs, 120)
    for doc in sample:
        words = re.findall(r"[^\W_]+", doc.title)[:10]
        r = b.search(SearchQuery(" ".join(words), page_size=3, mode=mode))
        if doc.id not in ids(r):
            misses.append((doc.id, doc.title, ids(r)))
    assert not misses, misses[:5]


@pytest.mark.shared_data
def test_shared_word_finds_every_language(shared_backend: tuple[SearchBackend, list[Any]]) -> None:
    b, docs = shared_backend
    for lang in SHARED_LANGS:
        mine = [d for d in docs if d.lang == lang]
        if not mine:
            continue
        # the longest word of a page's title finds that page, in its language's facet
        word = max(re.findall(r"[^\W_]+", mine[3].title), key=len)
        r = b.search(SearchQuery(f'"{word}"', facets=("lang",), page_size=100))
        assert mine[3].id in ids(r), (lang, word)
        assert r.facets["lang"].get(lang, 0) >= 1
        filtered = b.search(SearchQuery(f'"{word}" lang:{lang}', page_size=100))
        assert {h.lang for h in filtered.hits} == {lang}

# ---------------------------------------------------------------------------- vectors: semantic, hybrid, similar


def _brute_force(b: SearchBackend, query_vector: Any, allowed: set[str], k: int) -> list[str]:
    """The exact nearest documents (cosine, ties by id) among ``allowed``, from the vectors
    the backend stored (the embedded index keeps them at half precision)."""
    import numpy as np

    q = np.asarray(query_vector, dtype=np.float32)
    scored = []
    for i in allowed:
        v = b.get_vector(i)
        if v is not None:
            scored.append((-round(float(np.dot(v, q)), 6), i))
    return [i for _, i in sorted(scored)[:k]]


def _passing(filters: Filters) -> set[str]:
    return {d.id for d in KEPT if matches_filters(d, filters)}


SEMANTIC_QUERIES = ["flood protection", "zdravje otrok", "energy prices in winter", "poplave"]
SEMANTIC_FILTERS = [Filters(), Filters(langs=["sl"]), Filters(langs=["de", "en"], pools=["health"]),
                    Filters(domains=[".si"]), Filters(date_from=dt.date(2026, 11, 5))]


@pytest.mark.semantic
@pytest.mark.parametrize("text", SEMANTIC_QUERIES)
def test_semantic_is_exact_nearest_neighbours_under_filters(corpus_backend: SearchBackend, corpus_vectors: dict[str, Any],
                                                            text: str) -> None:
    qv = cached_embedder().query(parse(text).meaning_text)
    for filters in SEMANTIC_FILTERS:
        r = corpus_backend.search(SearchQuery(text, filters, mode="semantic", page_size=10))
        allowed = _passing(filters)
        assert ids(r) == _brute_force(corpus_backend, qv, allowed, 10), (text, filters)
        assert r.total == min(len(allowed & set(corpus_vectors)), 100)
        scores = [h.score for h in r.hits]
        assert scores == sorted(scores, reverse=True) and all(-1.0 <= x <= 1.0 for x in scores)


@pytest.mark.semantic
def test_semantic_exclusions_and_facets(corpus_backend: SearchBackend, corpus_vectors: dict[str, Any]) -> None:
    word = MARKERS[0]
    r = corpus_backend.search(SearchQuery(f"health -{word}", mode="semantic", page_size=100, facets=FACETS))
    excluded = {d.id for d in KEPT if word in words_of(d)}
    assert excluded and not excluded & set(ids(r))
    assert r.total == len(set(corpus_vectors) - excluded)
    ranked = [d for d in KEPT if d.id in set(ids(r))]
    counts = facet_counts(ranked)
    for name in FACETS:
        assert r.facets[name] == top(counts[name], 20), name


@pytest.mark.semantic
@pytest.mark.parametrize("text", ["zqalpha", "flood protection", "poplave lang:sl"])
def test_hybrid_is_reciprocal_rank_fusion_of_both_lists(corpus_backend: SearchBackend, text: str) -> None:
    lexical = all_ids(corpus_backend, text)[:SEMANTIC_DEPTH]
    semantic = ids(corpus_backend.search(SearchQuery(text, mode="semantic", page_size=100)))
    fused = rrf([lexical, semantic])
    r = corpus_backend.search(SearchQuery(text, mode="hybrid", page_size=10))
    assert ids(r) == [i for i, _ in fused[:10]]
    assert [h.score for h in r.hits] == pytest.approx([s for _, s in fused[:10]])
    assert r.total == len(fused)
    # paging walks the same fused list
    pages = [ids(corpus_backend.search(SearchQuery(text, mode="hybrid", page=p, page_size=7))) for p in (1, 2, 3)]
    assert sum(pages, []) == [i for i, _ in fused[:21]]


@pytest.mark.semantic
def test_semantic_crosses_languages_and_lang_restricts(backend: SearchBackend) -> None:
    base = KEPT[0]
    docs = [dataclasses.replace(base, id=i, lang=lang, title=t, text=x, pools=[]) for i, lang, t, x in [
        ("en", "en", "Flood protection", "The river flooded the town; new dams were built to stop it."),
        ("de", "de", "Hochwasserschutz", "Der Fluss überschwemmte die Stadt; neue Dämme wurden gebaut."),
        ("sl", "sl", "Zaščita pred poplavami", "Reka je poplavila mesto; zgradili so nove nasipe."),
        ("fr", "fr", "Recette de tarte", "Une tarte aux pommes avec de la cannelle et du beurre."),
        ("it", "it", "Calcio", "La squadra ha vinto la partita di campionato ieri sera."),
    ]]
    backend.add(docs, passage_vectors(docs))
    assert ids(backend.search(SearchQuery("poplave", mode="lexical"))) == []
    assert set(ids(backend.search(SearchQuery("poplave", mode="semantic", page_size=3)))) == {"en", "de", "sl"}
    assert set(ids(backend.search(SearchQuery("Überschwemmung", mode="hybrid", page_size=3)))) == {"en", "de", "sl"}
    assert ids(backend.search(SearchQuery("poplave lang:de", mode="semantic"))) == ["de"]
    assert ids(backend.search(SearchQuery("flood", Filters(langs=["fr", "it"]), mode="hybrid")))[0] in {"fr", "it"}
    # a query without words is lexical in every mode: newest first, no ranking by meaning
    assert backend.search(SearchQuery("lang:sl", mode="semantic")).total == 1


@pytest.mark.semantic
def test_vectors_follow_their_documents(backend: SearchBackend) -> None:
    docs = [dataclasses.replace(KEPT[0], id=f"v{i}", title=f"Flood report {i}", text="Rivers rose.", pools=[])
            for i in range(3)]
    vectors = passage_vectors(docs)
    backend.add(docs, vectors)
    assert backend.has_vectors()
    assert set(ids(backend.search(SearchQuery("flood", mode="semantic")))) == {"v0", "v1", "v2"}
    # re-added without a vector: found by words only
    backend.add([docs[0]])
    assert set(ids(backend.search(SearchQuery("flood", mode="semantic")))) == {"v1", "v2"}
    assert backend.get_vector("v0") is None
    # dropped: gone from both lists
    backend.add([dataclasses.replace(docs[1], drop_reason="duplicate")], {"v1": vectors["v1"]})
    assert ids(backend.search(SearchQuery("flood", mode="semantic"))) == ["v2"]
    backend.delete(["v2"])
    assert not backend.has_vectors()
    with pytest.raises(NoVectorsError):
        backend.search(SearchQuery("flood", mode="semantic"))
    import numpy as np

    backend.add([docs[2]], {"v2": vectors["v2"]})
    got = backend.get_vector("v2")
    assert got is not None and float(np.dot(got, vectors["v2"])) > 0.999  # stored at half precision


def test_semantic_without_vectors_says_so(backend: SearchBackend) -> None:
    backend.add(KEPT[:3])
    assert not backend.has_vectors()
    for mode in ("semantic", "hybrid"):
        with pytest.raises(NoVectorsError, match="owd embed"):
            backend.search(SearchQuery("flood", mode=mode))
    assert backend.search(SearchQuery("lang:sl", mode="semantic")).total == backend.count(Filters(langs=["sl"]))


def test_mode_is_validated() -> None:
    with pytest.raises(QueryError, match="mode"):
        SearchQuery("x", mode="fuzzy")


@pytest.mark.semantic
def test_similar_documents(corpus_backend: SearchBackend, corpus_vectors: dict[str, Any]) -> None:
    doc = next(d for d in KEPT if d.id in corpus_vectors)
    r = corpus_backend.similar(doc.id, page_size=5)
    assert r is not None
    expected = _brute_force(corpus_backend, corpus_backend.get_vector(doc.id), set(corpus_vectors) - {doc.id}, 5)
    assert ids(r) == expected and r.total == 5
    sl = corpus_backend.similar(doc.id, filters=Filters(langs=["sl"]), page_size=100)
    assert sl is not None and {h.lang for h in sl.hits} <= {"sl"} and doc.id not in ids(sl)
    assert corpus_backend.similar("no-such-id") is None
    with pytest.raises(QueryError):
        corpus_backend.similar(doc.id, page_size=0)



__all__ = [name for name in dir() if name.startswith("test_")] + ["backend", "corpus_vectors", "corpus_backend",
                                                                  "shared_backend"]
