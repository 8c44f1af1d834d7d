"""The embedded (tantivy) backend: the contract suite, plus what only it promises
(stemming and folding, the on-disk format, the writer lock)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from owd.index.base import MAX_TEXT_CHARS, BackendError, Filters, SearchBackend, SearchQuery
from owd.index.embedded import INDEX_FORMAT, EmbeddedBackend
from owd.core.schema import Document
from tests.index.contract import *  # noqa: F401,F403  (the contract suite runs here)
from tests.index.contract import ids

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def backend_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., SearchBackend]]:
    root = tmp_path_factory.mktemp("indexes")
    made: list[EmbeddedBackend] = []

    def make(name: str, **options: Any) -> SearchBackend:
        b = EmbeddedBackend(root / name, **options)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def _doc(i: str, lang: str | None, title: str, text: str, **kw: Any) -> Document:
    return Document(id=i, url=f"https://example.org/{i}", host="example.org", domain="example.org",
                    campaign="t", lang=lang, title=title, text=text,
                    fetch_time=dt.datetime(2026, 11, 2, tzinfo=UTC), **kw)


def test_stemming_in_the_documents_language(tmp_path: Path) -> None:
    with EmbeddedBackend(tmp_path / "ix") as b:
        b.add([
            _doc("en", "en", "Rivers", "The flooding of the river was severe."),
            _doc("de", "de", "Flüsse", "Die Überschwemmungen waren schwer."),
            _doc("fr", "fr", "Rivières", "Les inondations étaient graves."),
            _doc("sl", "sl", "Reke", "Poplave so bile hude."),
        ])
        assert ids(b.search(SearchQuery("floods"))) == ["en"]  # flood(s|ing) -> flood, English pages only
        assert ids(b.search(SearchQuery("überschwemmung"))) == ["de"]
        assert ids(b.search(SearchQuery("inondation lang:fr"))) == ["fr"]
        assert ids(b.search(SearchQuery("inondation lang:de"))) == []
        # Slovenian has no stemmer in tantivy: exact words only
        assert ids(b.search(SearchQuery("poplava"))) == []
        assert ids(b.search(SearchQuery("poplave"))) == ["sl"]


def test_folding_finds_words_typed_without_diacritics(tmp_path: Path) -> None:
    with EmbeddedBackend(tmp_path / "ix") as b:
        b.add([_doc("sl", "sl", "Zaščita", "Protipoplavna zaščita je nujna."),
               _doc("de", "de", "Schön", "Das Wetter ist schön."),
               _doc("xx", None, "Škoda", "Škoda je velika.")])
        assert ids(b.search(SearchQuery("zascita"))) == ["sl"]
        assert ids(b.search(SearchQuery("schon"))) == ["de"]
        assert ids(b.search(SearchQuery("skoda"))) == ["xx"]  # no language: folded only


def test_exact_match_outranks_stem_and_fold(tmp_path: Path) -> None:
    with EmbeddedBackend(tmp_path / "ix") as b:
        b.add([_doc("stem", "en", "Report", "The flooding report."),
               _doc("exact", "en", "Report", "The floods report.")])
        assert ids(b.search(SearchQuery("floods"))) == ["exact", "stem"]
        # stem matches are found but not highlighted (snippets mark exact words)
        hit = b.search(SearchQuery("floods")).hits[1]
        assert "<mark>" not in hit.snippet and "flooding" in hit.snippet


def test_format_marker_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    with pytest.raises(BackendError, match="no search index"):
        EmbeddedBackend(path, create=False)
    with EmbeddedBackend(path) as b:
        b.add([_doc("a", "en", "A", "alpha")])
    marker = json.loads((path / "owd-index.json").read_text())
    assert marker["format"] == INDEX_FORMAT == 2  # 2: the vector key field (vkey)
    with EmbeddedBackend(path, create=False) as b:
        assert b.count() == 1
    (path / "owd-index.json").write_text(json.dumps({"format": 0}))
    with pytest.raises(BackendError, match="rebuild"):
        EmbeddedBackend(path)


def test_one_writer_many_readers(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    writer = EmbeddedBackend(path)
    writer.add([_doc("a", "en", "A", "alpha")])
    reader = EmbeddedBackend(path)  # reading needs no lock
    assert reader.count() == 1
    with pytest.raises(BackendError, match="another process"):
        reader.add([_doc("b", "en", "B", "beta")])
    writer.close()
    reader.add([_doc("b", "en", "B", "beta")])  # the lock is free again
    assert reader.count() == 2
    reader.close()
    with pytest.raises(BackendError, match="closed"):
        reader.count()


def test_large_batch_and_long_text(tmp_path: Path) -> None:
    with EmbeddedBackend(tmp_path / "ix") as b:
        b.batch_size = 50
        long_text = ("word " * 150_000) + "zqneedle " + "word " * 100_000 + "zqbeyond"
        docs = [_doc(f"d{i}", "en", f"Title {i}", f"text number {i}") for i in range(230)]
        docs.append(_doc("long", "en", "Long", long_text))
        assert b.add(docs) == 231
        assert b.count() == 231
        r = b.search(SearchQuery("zqneedle"))
        assert ids(r) == ["long"] and "<mark>zqneedle</mark>" in r.hits[0].snippet
        # text past MAX_TEXT_CHARS is neither indexed nor stored
        assert b.search(SearchQuery("zqbeyond")).total == 0
        assert len((b.get("long") or {})["text"]) == MAX_TEXT_CHARS
        assert b.count(Filters(langs=["en"])) == 231


def test_search_is_fast(tmp_path: Path) -> None:
    """A smoke budget (the benchmark measures properly): 2k pages, queries in milliseconds."""
    with EmbeddedBackend(tmp_path / "ix") as b:
        words = "poplave zdravje voda reka mesto vlada načrt zaščita bolnica šola".split()
        docs = [_doc(f"d{i}", "sl", f"{words[i % 10]} {words[(i * 7) % 10]}",
                     " ".join(words[(i * k) % 10] for k in range(1, 60)),
                     pools=["p" + str(i % 5)]) for i in range(2000)]
        b.add(docs)
        q = SearchQuery("poplave zdravje lang:sl", facets=("lang", "domain", "pool", "media_kind"))
        b.search(q)
        took = sorted(b.search(q).took_ms for _ in range(20))
        assert took[10] < 50, took


def test_replaced_document_leaves_no_trace_in_facets(tmp_path: Path) -> None:
    with EmbeddedBackend(tmp_path / "ix") as b:
        d = _doc("a", "en", "A", "alpha", pools=["old"])
        b.add([d])
        b.add([dataclasses.replace(d, pools=["new"], lang="de")])
        r = b.search(SearchQuery("", facets=("pool", "lang")))
        assert r.facets == {"pool": {"new": 1}, "lang": {"de": 1}}


def test_failed_add_is_rolled_back(tmp_path: Path) -> None:
    with EmbeddedBackend(tmp_path / "ix") as b:
        b.batch_size = 2
        b.add([_doc("keep", "en", "Keep", "kept")])

        def docs() -> Iterator[Document]:
            for i in range(5):
                yield _doc(f"d{i}", "en", "T", "t")
            raise RuntimeError("shard broke")

        with pytest.raises(RuntimeError, match="shard broke"):
            b.add(docs())
        assert b.count() == 1
        b.add([_doc("after", "en", "After", "after")])  # the writer still works
        assert b.count() == 2 and b.get("d0") is None
