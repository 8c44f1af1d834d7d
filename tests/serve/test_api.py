"""The HTTP API against a real server on 127.0.0.1 over a real tantivy index.
Expected numbers come from the corpus's brute-force reference, not from the engine."""

from __future__ import annotations

import datetime as dt
import math
import urllib.parse
from collections import Counter
from pathlib import Path

import pytest

from owd.index.base import MAX_PAGE, MAX_PAGE_SIZE, MAX_QUERY_CHARS, Filters
from owd.index.embedded import EmbeddedBackend
from owd.core.schema import Document
from owd.serve import create_app, safe_snippet
from tests.index.corpus import kept, matches_filters, words_of
from tests.serve.conftest import call, serving


def qs(**params: object) -> str:
    return urllib.parse.urlencode(params, doseq=True)


def with_word(docs: list[Document], word: str, f: Filters = Filters()) -> list[Document]:
    return [d for d in kept(docs) if word in words_of(d) and matches_filters(d, f)]


# ---------------------------------------------------------------------------- health, search, filters


def test_health_counts_the_indexed_documents(server: str, corpus: list[Document]) -> None:
    r = call(server, "/api/health")
    assert r.status == 200
    assert r.json() == {"status": "ok", "backend": "EmbeddedBackend", "documents": len(kept(corpus)), "vectors": True}


def test_search_finds_exactly_the_matching_documents(server: str, corpus: list[Document]) -> None:
    expected = {d.id for d in with_word(corpus, "zqalpha")}
    r = call(server, "/api/search?" + qs(q="zqalpha", size=MAX_PAGE_SIZE))
    assert r.status == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["total"] == len(expected) > 10
    assert {h["id"] for h in body["hits"]} == expected
    assert body["query"] == "zqalpha" and body["page"] == 1 and body["size"] == MAX_PAGE_SIZE
    assert all("<mark>zqalpha</mark>" in h["snippet"] for h in body["hits"])
    assert body["facets"] == {}  # only when asked


@pytest.mark.parametrize("params, filters", [
    ({"lang": "sl"}, Filters(langs=["sl"])),
    ({"lang": ["sl", "de"]}, Filters(langs=["sl", "de"])),  # values of one kind are OR-ed
    ({"domain": ".si"}, Filters(domains=[".si"])),
    # kinds are AND-ed
    ({"domain": "tagesschau.de", "lang": ["de", "fr"]}, Filters(domains=["tagesschau.de"], langs=["de", "fr"])),
    ({"pool": "health"}, Filters(pools=["health"])),
    ({"media": "image"}, Filters(media_kinds=["image"])),
    ({"after": "2026-11-01", "before": "2026-12-01"},
     Filters(date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 12, 1))),
])
def test_filter_parameters(server: str, corpus: list[Document], params: dict[str, object], filters: Filters) -> None:
    expected = {d.id for d in with_word(corpus, "zqalpha", filters)}
    body = call(server, "/api/search?" + qs(q="zqalpha", size=MAX_PAGE_SIZE, **params)).json()
    assert expected and {h["id"] for h in body["hits"]} == expected and body["total"] == len(expected)


def test_filters_in_the_query_text_equal_parameters(server: str) -> None:
    a = call(server, "/api/search?" + qs(q="zqbravo lang:sl,hr domain:.si", size=50)).json()
    b = call(server, "/api/search?" + qs(q="zqbravo", lang=["sl", "hr"], domain=".si", size=50)).json()
    assert a["total"] == b["total"] > 0 and [h["id"] for h in a["hits"]] == [h["id"] for h in b["hits"]]


def test_filters_alone_list_newest_first(server: str, corpus: list[Document]) -> None:
    f = Filters(langs=["fi"])
    expected = [d for d in kept(corpus) if matches_filters(d, f)]
    body = call(server, "/api/search?" + qs(lang="fi", size=50)).json()
    assert body["total"] == len(expected)
    times = [h["fetch_time"] for h in body["hits"] if h["fetch_time"]]
    assert times == sorted(times, reverse=True)


def test_search_facets_count_the_whole_result(server: str, corpus: list[Document]) -> None:
    docs = with_word(corpus, "zqalpha")
    body = call(server, "/api/search?" + qs(q="zqalpha", size=1, facets=["lang", "domain"])).json()
    assert set(body["facets"]) == {"lang", "domain"}
    assert {f["value"]: f["count"] for f in body["facets"]["lang"]} == Counter(d.lang for d in docs if d.lang)
    counts = [f["count"] for f in body["facets"]["domain"]]
    assert counts == sorted(counts, reverse=True)
    assert {f["value"]: f["count"] for f in body["facets"]["domain"]} == Counter(d.domain for d in docs if d.domain)


def test_facets_endpoint(server: str, corpus: list[Document]) -> None:
    f = Filters(langs=["sl", "hr"])
    docs = with_word(corpus, "zqbravo", f)
    body = call(server, "/api/facets?" + qs(q="zqbravo", lang=["sl", "hr"])).json()
    assert body["total"] == len(docs) > 0
    assert set(body["facets"]) == {"lang", "domain", "pool", "media_kind"}  # all by default
    assert {x["value"]: x["count"] for x in body["facets"]["lang"]} == Counter(d.lang for d in docs)
    pools = Counter(p for d in docs for p in dict.fromkeys(d.pools))
    assert {x["value"]: x["count"] for x in body["facets"]["pool"]} == pools
    one = call(server, "/api/facets?" + qs(q="zqbravo", facets="media_kind", facet_size=1)).json()
    assert list(one["facets"]) == ["media_kind"] and len(one["facets"]["media_kind"]) == 1


def test_pagination(server: str, corpus: list[Document]) -> None:
    total = len(with_word(corpus, "zqalpha"))
    pages = [call(server, "/api/search?" + qs(q="zqalpha", size=4, page=p)).json() for p in (1, 2, 3)]
    ids = [h["id"] for page in pages for h in page["hits"]]
    assert len(ids) == 12 == len(set(ids))  # no page repeats another's hits
    assert all(p["pages"] == math.ceil(total / 4) and p["total"] == total for p in pages)
    last = call(server, "/api/search?" + qs(q="zqalpha", size=4, page=math.ceil(total / 4) + 1)).json()
    assert last["hits"] == [] and last["total"] == total


def test_snippet_html_is_escaped_except_mark(server: str) -> None:
    hit = call(server, "/api/search?" + qs(q="beware")).json()["hits"][0]
    assert hit["id"] == "doc-html"
    assert hit["snippet"].startswith("<mark>Beware</mark> &lt;script&gt;")
    assert "<script" not in hit["snippet"] and "<b>" not in hit["snippet"]


def test_safe_snippet_keeps_only_balanced_mark() -> None:
    assert safe_snippet("<mark>a</mark> &amp; b") == "<mark>a</mark> &amp; b"  # well-formed: unchanged
    assert safe_snippet('<mark>x</mark><script>alert("y")</script><b>z</b>') == (
        "<mark>x</mark>&lt;script&gt;alert(&quot;y&quot;)&lt;/script&gt;&lt;b&gt;z&lt;/b&gt;")
    assert safe_snippet("</mark>a<mark>b<mark>c") == "a<mark>bc</mark>"
    assert safe_snippet('<mark onclick="x">a</mark>') == "&lt;mark onclick=&quot;x&quot;&gt;a"


# ---------------------------------------------------------------------------- documents


def test_document_by_id(server: str, corpus: list[Document]) -> None:
    r = call(server, "/api/docs/doc-html")
    assert r.status == 200
    doc = r.json()
    source = next(d for d in corpus if d.id == "doc-html")
    assert doc["url"] == source.url and doc["text"] == source.text and doc["pools"] == ["floods"]
    assert doc["fetch_time"].startswith("2026-11-15T12:00:00")
    # ids are path segments: reserved characters arrive escaped and are looked up literally
    assert call(server, "/api/docs/" + urllib.parse.quote("doc-html/../x", safe="")).status == 404


def test_unknown_and_dropped_documents_are_404(server: str, corpus: list[Document]) -> None:
    r = call(server, "/api/docs/no-such-doc")
    assert r.status == 404 and r.json() == {"detail": "no document with id 'no-such-doc'"}
    dropped = next(d for d in corpus if d.drop_reason)
    assert call(server, f"/api/docs/{dropped.id}").status == 404


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("params, words", [
    ({"size": MAX_PAGE_SIZE + 1}, ["size", str(MAX_PAGE_SIZE)]),
    ({"size": 0}, ["size"]),
    ({"page": MAX_PAGE + 1}, ["page", str(MAX_PAGE)]),
    ({"page": "two"}, ["page", "integer"]),
    ({"q": "a" * (MAX_QUERY_CHARS + 1)}, ["q", str(MAX_QUERY_CHARS)]),
    ({"q": " ".join(f"w{i}" for i in range(33))}, ["at most 32 words"]),
    ({"q": "flood lang:x1"}, ["langs", "x1"]),
    ({"lang": "slovenian"}, ["lang"]),
    ({"domain": "bad domain"}, ["domain"]),
    ({"media": "pdf"}, ["media"]),
    ({"facets": "colour"}, ["facets"]),
    ({"after": "2026-02-30"}, ["after", "2026-02-30"]),
    ({"before": "0"}, ["before"]),  # not a unix time: days only
    ({"lang": ["sl"] * 33}, ["lang"]),
])
def test_bad_parameters_are_422_with_a_message(server: str, params: dict[str, object], words: list[str]) -> None:
    r = call(server, "/api/search?" + qs(**params))
    assert r.status == 422, r.body
    detail = r.json()["detail"]
    assert isinstance(detail, str) and all(w in detail for w in words), detail


def test_facets_and_documents_refuse_bad_parameters(server: str) -> None:
    assert call(server, "/api/facets?" + qs(facet_size=1000)).status == 422
    assert call(server, "/api/facets?" + qs(q="x" * 501)).status == 422
    assert call(server, "/api/docs/" + "x" * 600).status == 422


@pytest.mark.parametrize("path", ["/api/search", "/api/facets", "/api/docs/doc-html", "/api/health", "/"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_read_only(server: str, path: str, method: str) -> None:
    r = call(server, path, method)
    assert r.status == 405 and r.headers["allow"] == "GET"
    assert r.json() == {"detail": "Method Not Allowed"}
    assert call(server, "/api/docs/doc-html").status == 200  # still there


def test_openapi_spec_lists_only_reads(server: str) -> None:
    spec = call(server, "/openapi.json").json()
    assert set(spec["paths"]) == {"/api/search", "/api/facets", "/api/docs/{doc_id}", "/api/docs/{doc_id}/similar",
                                  "/api/health"}
    assert all(set(ops) == {"get"} for ops in spec["paths"].values())
    size = next(p for p in spec["paths"]["/api/search"]["get"]["parameters"] if p["name"] == "size")
    assert size["schema"]["maximum"] == MAX_PAGE_SIZE
    # no Swagger UI: it would load scripts from a CDN
    assert call(server, "/docs").status == 404 and call(server, "/redoc").status == 404


def test_unknown_paths_are_404(server: str) -> None:
    assert call(server, "/api/nothing").status == 404
    assert call(server, "/static/../serve.py").status == 404
    assert call(server, "/static/serve.py").status == 404


# ---------------------------------------------------------------------------- an unusable index


def test_missing_index_is_503_until_it_exists(tmp_path: Path, corpus: list[Document]) -> None:
    path = tmp_path / "tantivy"
    with serving(create_app(lambda: EmbeddedBackend(path, create=False))) as base:
        for endpoint in ("/api/health", "/api/search?q=flood", "/api/facets", "/api/docs/doc-html"):
            r = call(base, endpoint)
            assert r.status == 503, endpoint
            assert "no search index" in r.json()["detail"]
        with EmbeddedBackend(path) as backend:  # `owd index` runs meanwhile
            backend.add(corpus[:5])
        r = call(base, "/api/health")
        assert r.status == 200 and r.json()["documents"] == len(kept(corpus[:5]))


def test_incompatible_index_is_503(tmp_path: Path) -> None:
    path = tmp_path / "tantivy"
    EmbeddedBackend(path).close()
    (path / "owd-index.json").write_text('{"format": 999}')
    with serving(create_app(lambda: EmbeddedBackend(path, create=False))) as base:
        r = call(base, "/api/search?q=x")
        assert r.status == 503 and "index format 999" in r.json()["detail"]


# ---------------------------------------------------------------------------- the page's files


def test_page_is_self_contained(server: str) -> None:
    r = call(server, "/")
    assert r.status == 200 and r.headers["content-type"].startswith("text/html")
    html = r.body.decode()
    assert "//" not in html.replace("<!doctype html>", "").split("<body>")[0]  # no external stylesheet/script
    assert 'src="/static/app.js"' in html and 'href="/static/style.css"' in html
    assert "default-src 'none'" in r.headers["content-security-policy"]
    js = call(server, "/static/app.js")
    assert js.status == 200 and "javascript" in js.headers["content-type"]
    assert "innerHTML" not in js.body.decode().split("\n", 3)[3]  # rendering builds DOM nodes only
    assert "http" not in js.body.decode().replace("https:", "").replace("http:", "")


# ---------------------------------------------------------------------------- modes and similar pages


@pytest.mark.semantic
def test_search_modes(server: str, corpus: list[Document]) -> None:
    lexical = call(server, "/api/search?" + qs(q="poplave", size=100)).json()
    semantic = call(server, "/api/search?" + qs(q="poplave", mode="semantic", size=100)).json()
    hybrid = call(server, "/api/search?" + qs(q="poplave", mode="hybrid", size=100)).json()
    with_text = [d for d in kept(corpus) if d.title or d.text or d.description]
    assert 0 < lexical["total"] < semantic["total"] == len(with_text)  # meaning ranks every document
    assert {h["id"] for h in lexical["hits"]} <= {h["id"] for h in hybrid["hits"]}
    assert {h["lang"] for h in semantic["hits"][:5]} != {"sl"} or semantic["hits"][0]["lang"] == "sl"
    sl = call(server, "/api/search?" + qs(q="poplave", mode="semantic", lang="de", size=100)).json()
    assert sl["hits"] and {h["lang"] for h in sl["hits"]} == {"de"}
    facets = call(server, "/api/facets?" + qs(q="poplave", mode="hybrid", facets="lang")).json()
    assert sum(f["count"] for f in facets["facets"]["lang"]) == hybrid["total"]
    assert call(server, "/api/search?" + qs(q="x", mode="fuzzy")).status == 422


@pytest.mark.semantic
def test_similar_pages(server: str, corpus: list[Document]) -> None:
    r = call(server, "/api/docs/doc-000/similar?" + qs(size=5))
    assert r.status == 200, r.body
    body = r.json()
    assert body["id"] == "doc-000" and body["total"] == len(body["hits"]) == 5
    assert "doc-000" not in [h["id"] for h in body["hits"]]
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)
    de = call(server, "/api/docs/doc-000/similar?" + qs(lang="de")).json()
    assert de["hits"] and {h["lang"] for h in de["hits"]} == {"de"}
    assert call(server, "/api/docs/no-such-doc/similar").status == 404
    assert call(server, "/api/docs/doc-000/similar?size=0").status == 422


def test_semantic_on_an_index_without_vectors_is_409(tmp_path: Path, corpus: list[Document]) -> None:
    with EmbeddedBackend(tmp_path / "ix") as b:
        b.add(corpus[:5])
    with serving(create_app(lambda: EmbeddedBackend(tmp_path / "ix", create=False))) as base:
        assert call(base, "/api/health").json()["vectors"] is False
        r = call(base, "/api/search?" + qs(q="flood", mode="hybrid"))
        assert r.status == 409 and "owd embed" in r.json()["detail"]
        assert call(base, "/api/search?" + qs(q="flood")).status == 200
        doc = next(d for d in corpus[:5] if not d.drop_reason)
        r = call(base, f"/api/docs/{doc.id}/similar")
        assert r.status == 200 and r.json()["hits"] == []
