"""The same HTTP API over the OpenSearch backend, on the real node of
tests/index/opensearch_fixture.py (skips with its reason without java/mvn)."""

from __future__ import annotations

import urllib.parse
from collections import Counter
from typing import Iterator

import pytest

from owd.index.opensearch import OpenSearchBackend, RetryPolicy
from owd.core.schema import Document
from owd.serve import create_app
from tests.index.corpus import kept, words_of
from tests.index.opensearch_fixture import OpenSearchNode, opensearch_node  # noqa: F401  (a fixture)
from tests.serve.conftest import call, serving

INDEX = "owdtest-serve"


@pytest.fixture(scope="module")
def os_server(opensearch_node: OpenSearchNode, corpus: list[Document]) -> Iterator[str]:  # noqa: F811
    with OpenSearchBackend(opensearch_node.url, INDEX) as b:
        b.clear()
        b.add(corpus)
    try:
        with serving(create_app(lambda: OpenSearchBackend(opensearch_node.url, INDEX, create=False))) as base:
            yield base
    finally:
        with OpenSearchBackend(opensearch_node.url, INDEX, create=False) as b:
            b.drop()


def test_search_facets_and_documents_over_opensearch(os_server: str, corpus: list[Document]) -> None:
    docs = [d for d in kept(corpus) if "zqalpha" in words_of(d)]
    health = call(os_server, "/api/health").json()
    assert health["backend"] == "OpenSearchBackend" and health["documents"] == len(kept(corpus))
    body = call(os_server, "/api/search?" + urllib.parse.urlencode(
        {"q": "zqalpha", "size": 100, "facets": "lang"})).json()
    assert {h["id"] for h in body["hits"]} == {d.id for d in docs} and body["total"] == len(docs)
    assert {f["value"]: f["count"] for f in body["facets"]["lang"]} == Counter(d.lang for d in docs if d.lang)
    sl = call(os_server, "/api/search?q=zqalpha&lang=sl&size=100").json()
    assert {h["id"] for h in sl["hits"]} == {d.id for d in docs if d.lang == "sl"}
    hit = call(os_server, "/api/search?q=beware").json()["hits"][0]
    assert hit["id"] == "doc-html" and "<mark>" in hit["snippet"] and "<script" not in hit["snippet"]
    assert call(os_server, "/api/docs/doc-html").json()["pools"] == ["floods"]
    assert call(os_server, "/api/docs/nope").status == 404
    assert call(os_server, "/api/search?size=101").status == 422


def test_unreachable_opensearch_is_503() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    factory = lambda: OpenSearchBackend(url, INDEX, create=False, retry=RetryPolicy(attempts=1))  # noqa: E731
    with serving(create_app(factory)) as base:
        r = call(base, "/api/search?q=flood")
        assert r.status == 503 and r.json()["detail"].startswith("index unavailable: OpenSearch at " + url)
