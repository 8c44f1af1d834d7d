"""The embedded search backend (the default): a tantivy index in a directory.

One index per campaign, under ``<campaign>/index/``. Reads need no lock, so a
search process can run beside an indexing one; the first write of a backend
takes tantivy's writer lock (one writer per index directory, across processes)
and :meth:`EmbeddedBackend.close` releases it.

Tokenisation
------------
* ``title``, ``text``, ``description``: tantivy's ``default`` analyzer (split on
  anything not a letter or digit, drop tokens over 40 characters, lowercase),
  with positions for phrases. It is language-neutral and right for all 24 EU
  languages (Latin, Greek and Cyrillic scripts); these fields give exact-word
  matches, phrases, exclusions and highlights.
* ``loose_<stemmer>``: recall fields, scored low. A document's title, text and
  description go to the one loose field of its language, analysed by tantivy in
  the indexing threads: lowercase, the Snowball stemmer where tantivy has one
  (13 of the EU languages: da de el en es fi fr hu it nl pt ro sv), then ASCII
  folding; languages without a stemmer (and pages without a language) share
  ``loose_plain`` (lowercase + folding). A query word is analysed the same way
  for each language it may be in (the ``lang:`` filter when given, all of them
  otherwise) and looked up in that language's field only, so a stem never
  matches a page of another language. So ``floods`` finds "flooding" in English
  pages, and ``zascita`` finds "zaščita" in any language, while exact matches
  still rank first. Stem matches are not highlighted (snippets mark exact words),
  and exclusions (``-word``) and phrases use the exact fields only.

Scoring is BM25 summed over fields; title matches weigh :data:`TITLE_BOOST`.

Vectors
-------
Document vectors live in a usearch graph beside the tantivy files
(``<index>/owd-vectors/``, :mod:`owd.index.vector_index`; tantivy only ever deletes the
files it made). tantivy indexes each document's vector key (``vkey``), so nearest keys
become documents, and filters and exclusions are applied by tantivy: a restriction that
leaves at most :data:`EXACT_SUBSET` documents is searched exactly over their vectors (their
keys come from tantivy's fast field, the vectors from usearch, the scores from one matrix
product); a
wider one searches the graph for more neighbours than asked, keeps those that pass, and
asks for more until it has enough.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import tantivy
from tantivy import FieldType, Filter, Occur, Query, SnippetGenerator, TextAnalyzer, TextAnalyzerBuilder, Tokenizer

from owd.index.base import (
    CUT_OFF_WINDOW,
    SNIPPET_CHARS,
    has_word,
    marked_snippet,
    excerpt,
    BackendError,
    Filters,
    Hit,
    SearchBackend,
    SearchQuery,
    SearchResult,
    site_terms,
)
from owd.index.query import AnyOf, Leaf, ParsedQuery, Word
from owd.index.vector_index import VectorIndex, key_text, vector_key

if TYPE_CHECKING:
    import numpy as np

    from owd.index.embed import Embedder

__all__ = ["EmbeddedBackend", "INDEX_FORMAT", "STEM_LANGUAGES"]

log = logging.getLogger(__name__)

INDEX_FORMAT = 2  # bump when the schema or the analysis changes: old indexes must be rebuilt
_MARKER = "owd-index.json"
_VECTORS = "owd-vectors"
EXACT_SUBSET = 20_000  # a filtered semantic search over at most this many documents is exact

TITLE_BOOST = 2.0
DESCRIPTION_BOOST = 1.0
LOOSE_BOOST = 0.3  # stemmed/folded matches add recall but never outrank an exact match
# Terms aggregation: per-segment candidate buckets before the global top-N merge.
# Large enough that counts stay exact unless a segment has this many distinct values.
FACET_SEGMENT_SIZE = 10_000

# ISO 639-1 -> tantivy (Snowball) stemmer; every other language is folded only.
STEM_LANGUAGES = {
    "da": "danish", "de": "german", "el": "greek", "en": "english", "es": "spanish", "fi": "finnish",
    "fr": "french", "hu": "hungarian", "it": "italian", "nl": "dutch", "pt": "portuguese", "ro": "romanian",
    "sv": "swedish",
    # not EU languages, but crawled pages are in them too
    "ar": "arabic", "nb": "norwegian", "no": "norwegian", "ru": "russian", "tr": "turkish",
}
_EXACT_FIELDS = ("title", "text", "description")
_FACET_FIELDS = {"lang": "lang", "domain": "domain", "pool": "pool", "media_kind": "media_kind"}
_UTC = dt.timezone.utc


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    raw = "raw"
    sb.add_text_field("id", stored=True, tokenizer_name=raw)
    # vector_index.key_text(vector_key(id)); a fast field, so filtered vector searches read keys
    # through an aggregation instead of opening stored documents
    sb.add_text_field("vkey", fast=True, tokenizer_name=raw, index_option="basic")
    sb.add_text_field("url", stored=True, tokenizer_name=raw)
    sb.add_text_field("host", stored=True, tokenizer_name=raw)
    sb.add_text_field("domain", stored=True, fast=True, tokenizer_name=raw)
    sb.add_text_field("site", tokenizer_name=raw, index_option="basic")  # site_terms(): the domains filter
    sb.add_text_field("campaign", stored=True, tokenizer_name=raw)
    sb.add_text_field("lang", stored=True, fast=True, tokenizer_name=raw)
    sb.add_text_field("title", stored=True)
    sb.add_text_field("text", stored=True)
    sb.add_text_field("description", stored=True)
    for key in _LOOSE_KEYS:
        sb.add_text_field(f"loose_{key}", tokenizer_name=f"owd_loose_{key}", index_option="freq")
    sb.add_text_field("pool", stored=True, fast=True, tokenizer_name=raw)
    sb.add_text_field("media_kind", stored=True, fast=True, tokenizer_name=raw)
    sb.add_date_field("fetch_time", stored=True, indexed=True, fast=True)
    sb.add_date_field("published", stored=True, indexed=True, fast=True)
    sb.add_boolean_field("tdm_reservation", stored=True, indexed=True)
    sb.add_text_field("dup_cluster_id", stored=True, tokenizer_name=raw)
    sb.add_integer_field("dup_cluster_size", stored=True)
    return sb.build()


def _analyzer(stemmer: str | None) -> TextAnalyzer:
    b = TextAnalyzerBuilder(Tokenizer.simple()).filter(Filter.remove_long(40)).filter(Filter.lowercase())
    if stemmer:
        # stem before folding: the Snowball stemmers expect their language's letters
        b = b.filter(Filter.stemmer(stemmer))
    return b.filter(Filter.ascii_fold()).build()


_PLAIN = "plain"
_LOOSE_KEYS = (_PLAIN, *sorted(set(STEM_LANGUAGES.values())))


def _loose_key(lang: str | None) -> str:
    return STEM_LANGUAGES.get((lang or "").split("-")[0], _PLAIN)


class _Analysis:
    """The analyzers, built once: exact (= tantivy's ``default``) and one loose per stemmer."""

    def __init__(self) -> None:
        self.exact = TextAnalyzerBuilder(Tokenizer.simple()).filter(Filter.remove_long(40)).filter(
            Filter.lowercase()).build()
        self.loose = {key: _analyzer(None if key == _PLAIN else key) for key in _LOOSE_KEYS}

    def register(self, index: tantivy.Index) -> None:
        # Custom tokenizers are not stored in the index: register them on every open.
        for key, analyzer in self.loose.items():
            index.register_tokenizer(f"owd_loose_{key}", analyzer)

    def loose_terms(self, token: str, langs: Sequence[str]) -> list[tuple[str, str]]:
        """(field, term) pairs a query word matches in the loose fields, for documents
        in ``langs`` (all languages when empty)."""
        keys = sorted({_loose_key(lang) for lang in langs}) if langs else _LOOSE_KEYS
        return sorted({(f"loose_{key}", t) for key in keys for t in self.loose[key].analyze(token)})


def _to_utc(value: dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):  # Filters stores datetimes; a date is midnight UTC
        value = dt.datetime(value.year, value.month, value.day, tzinfo=_UTC)
    # tantivy dates are i64 nanoseconds: clamp what a user may type (after:0001-01-01)
    return min(max(value, tantivy.MIN_DATETIME), tantivy.MAX_DATETIME)


class EmbeddedBackend(SearchBackend):
    """A tantivy index stored in ``path`` (created when missing unless ``create=False``)."""

    def __init__(self, path: Path | str, *, create: bool = True, include_dropped: bool = False,
                 writer_heap_bytes: int = 128_000_000, writer_threads: int | None = None,
                 embedder: Embedder | None = None) -> None:
        super().__init__(include_dropped=include_dropped, embedder=embedder)
        self.path = Path(path)
        self._schema = _schema()
        self._analysis = _Analysis()
        self._writer: Any = None
        self._lock = threading.Lock()
        self._closed = False
        threads = writer_threads or min(4, os.cpu_count() or 1)
        # tantivy needs at least 15 MB of indexing heap per thread
        self._writer_args = (max(writer_heap_bytes, threads * 20_000_000), threads)
        marker = self.path / _MARKER
        if self.path.is_dir() and tantivy.Index.exists(str(self.path)):
            fmt = json.loads(marker.read_text()).get("format") if marker.exists() else None
            if fmt != INDEX_FORMAT:
                raise BackendError(f"{self.path}: index format {fmt!r}, this owd reads format {INDEX_FORMAT}; "
                                   "rebuild the index (delete the directory and index the campaign again)")
            self._index = tantivy.Index.open(str(self.path))
            self._schema = self._index.schema  # queries must use the field ids on disk
            self._analysis.register(self._index)
        elif not create:
            raise BackendError(f"{self.path}: no search index here")
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self._index = tantivy.Index(self._schema, path=str(self.path), reuse=False)
            self._analysis.register(self._index)
            marker.write_text(json.dumps({"format": INDEX_FORMAT, "engine": "tantivy",
                                          "tantivy": getattr(tantivy, "__version__", "?")}) + "\n")
        self._vectors = VectorIndex(self.path / _VECTORS)

    def __repr__(self) -> str:
        return f"EmbeddedBackend({str(self.path)!r})"

    # ------------------------------------------------------------------ writing

    def _writer_(self) -> Any:
        self._check_open()
        if self._writer is None:
            try:
                self._writer = self._index.writer(heap_size=self._writer_args[0], num_threads=self._writer_args[1])
            except ValueError as exc:
                if "LockBusy" in str(exc):
                    raise BackendError(f"{self.path}: another process is writing this index") from exc
                raise
        return self._writer

    def _document(self, record: dict[str, Any]) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_text("vkey", key_text(vector_key(record["id"])))
        for name in ("id", "url", "host", "domain", "campaign", "lang", "title", "text", "description",
                     "dup_cluster_id"):
            if record[name] is not None:
                doc.add_text(name, record[name])
        for term in site_terms(record["host"], record["domain"]):
            doc.add_text("site", term)
        loose = f"loose_{_loose_key(record['lang'])}"
        for name in ("title", "text", "description"):
            if record[name]:
                doc.add_text(loose, record[name])
        for pool in record["pools"]:
            doc.add_text("pool", pool)
        for kind in record["media_kinds"]:
            doc.add_text("media_kind", kind)
        if record["fetch_time"] is not None:
            doc.add_date("fetch_time", record["fetch_time"])
        if record["published"] is not None:
            p = record["published"]
            doc.add_date("published", dt.datetime(p.year, p.month, p.day, tzinfo=_UTC))
        if record["tdm_reservation"] is not None:
            doc.add_boolean("tdm_reservation", record["tdm_reservation"])
        if record["dup_cluster_size"] is not None:
            doc.add_integer("dup_cluster_size", record["dup_cluster_size"])
        return doc

    def _write(self, records: list[dict[str, Any]], removed_ids: list[str],
               vectors: list[np.ndarray | None]) -> None:
        docs = [self._document(r) for r in records]  # built outside the lock
        with self._lock:
            writer = self._writer_()
            # A delete applies to documents added before it (by opstamp), so
            # delete-then-add replaces an id, even within one commit.
            for doc_id in removed_ids:
                writer.delete_documents_by_term("id", doc_id)
            for record, doc in zip(records, docs):
                writer.delete_documents_by_term("id", record["id"])
                writer.add_document(doc)
        with_vector = [(vector_key(r["id"]), v) for r, v in zip(records, vectors) if v is not None]
        self._vectors.remove([vector_key(i) for i in removed_ids] +
                             [vector_key(r["id"]) for r, v in zip(records, vectors) if v is None])
        if with_vector:
            import numpy as np

            self._vectors.upsert([k for k, _ in with_vector], np.stack([v for _, v in with_vector]))

    def _commit(self) -> None:
        with self._lock:
            # vectors first: a vector without its document is never returned (keys are
            # resolved through tantivy), a document without its vector is lexical only
            self._vectors.save()
            self._writer_().commit()
            self._index.reload()

    def _rollback(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.rollback()
            self._vectors.rollback()

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if not ids:
            return
        with self._lock:
            writer = self._writer_()
            for doc_id in ids:
                writer.delete_documents_by_term("id", doc_id)
        self._vectors.remove(vector_key(i) for i in ids)
        self._commit()

    def clear(self) -> None:
        with self._lock:
            self._writer_().delete_all_documents()
        self._vectors.clear()
        self._commit()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._writer is not None:
                writer, self._writer = self._writer, None
                self._vectors.save()
                writer.commit()
                writer.wait_merging_threads()  # consumes the writer and releases the lock

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError(f"{self!r} is closed")

    # ------------------------------------------------------------------ query translation

    def _filter_query(self, filters: Filters) -> list[Query]:
        s = self._schema
        out = []
        for field, values in (("lang", filters.langs), ("site", filters.domains), ("pool", filters.pools),
                              ("media_kind", filters.media_kinds)):
            if values:
                out.append(Query.term_set_query(s, field, list(values)))
        if filters.date_from or filters.date_to:
            lo = _to_utc(filters.date_from) if filters.date_from else None
            hi = _to_utc(filters.date_to) if filters.date_to else None
            out.append(Query.range_query(s, "fetch_time", FieldType.Date, lo, hi,
                                         include_lower=True, include_upper=hi is None))
        return out

    def _tokens(self, leaf: Leaf) -> list[str]:
        words = (leaf.token,) if isinstance(leaf, Word) else leaf.tokens
        return [t for w in words for t in self._analysis.exact.analyze(w)]

    def _exact(self, field: str, tokens: list[str]) -> Query:
        if len(tokens) == 1:
            return Query.term_query(self._schema, field, tokens[0])
        words: list[str | tuple[int, str]] = list(tokens)
        return Query.phrase_query(self._schema, field, words)

    def _leaf_query(self, leaf: Leaf, langs: Sequence[str], for_field: str | None = None) -> Query | None:
        """A leaf as a scored query over the text fields (or one field, for highlighting)."""
        tokens = self._tokens(leaf)
        if not tokens:
            return None
        if for_field:
            return self._exact(for_field, tokens)
        should = [
            (Occur.Should, Query.boost_query(self._exact("title", tokens), TITLE_BOOST)),
            (Occur.Should, self._exact("text", tokens)),
            (Occur.Should, Query.boost_query(self._exact("description", tokens), DESCRIPTION_BOOST)),
        ]
        if isinstance(leaf, Word) and len(tokens) == 1:
            loose = Query.boolean_query([(Occur.Should, Query.term_query(self._schema, field, term))
                                         for field, term in self._analysis.loose_terms(leaf.token, langs)])
            should.append((Occur.Should, Query.boost_query(loose, LOOSE_BOOST)))
        return Query.boolean_query(should)

    def _exclusion(self, leaf: Leaf) -> Query | None:
        tokens = self._tokens(leaf)
        if not tokens:
            return None
        return Query.boolean_query([(Occur.Should, self._exact(f, tokens)) for f in _EXACT_FIELDS])

    def _query(self, parsed: ParsedQuery, filters: Filters) -> Query:
        if parsed.match_none:
            return Query.empty_query()
        clauses: list[tuple[Occur, Query]] = []
        for clause in parsed.ast.must:
            leaves = clause.options if isinstance(clause, AnyOf) else (clause,)
            options = [q for q in (self._leaf_query(leaf, filters.langs) for leaf in leaves) if q is not None]
            if not options:
                continue
            clauses.append((Occur.Must, options[0] if len(options) == 1
                            else Query.boolean_query([(Occur.Should, q) for q in options])))
        if not clauses:
            if parsed.ast.must:  # words that the analyzer reduced to nothing
                return Query.empty_query()
            clauses.append((Occur.Must, Query.all_query()))
        for leaf in parsed.ast.must_not:
            q = self._exclusion(leaf)
            if q is not None:
                clauses.append((Occur.MustNot, q))
        for q in self._filter_query(filters):
            clauses.append((Occur.Must, Query.const_score_query(q, 0.0)))
        return Query.boolean_query(clauses)

    def _highlight_query(self, parsed: ParsedQuery, field: str) -> Query | None:
        qs = [q for q in (self._leaf_query(leaf, (), for_field=field) for leaf in parsed.ast.positive_leaves())
              if q is not None]
        return Query.boolean_query([(Occur.Should, q) for q in qs]) if qs else None

    # ------------------------------------------------------------------ reading

    def count(self, filters: Filters | None = None) -> int:
        self._check_open()
        searcher = self._index.searcher()
        clauses = [(Occur.Must, q) for q in self._filter_query(filters or Filters())]
        query = Query.boolean_query([(Occur.Must, Query.all_query()), *clauses]) if clauses else Query.all_query()
        return int(searcher.search(query, limit=1, count=True).count)  # type: ignore[attr-defined]

    def _search(self, query: SearchQuery) -> SearchResult:
        self._check_open()
        parsed = query.parsed
        filters = query.effective_filters
        searcher = self._index.searcher()
        q = self._query(parsed, filters)
        if parsed.match_all:
            # no words to rank by: newest first (documents without a fetch time last)
            found = searcher.search(q, limit=query.page_size, offset=query.offset, count=True,
                                    order_by_field="fetch_time", order=tantivy.Order.Desc)
        else:
            found = searcher.search(q, limit=query.page_size, offset=query.offset, count=True)
        snippets = _Snippets(searcher, self._schema, parsed, self) if query.highlight else None
        hits = [_hit(searcher.doc(address), 0.0 if parsed.match_all else float(score), snippets)
                for score, address in found.hits]
        return SearchResult(total=int(found.count), hits=hits,  # type: ignore[attr-defined]
                            facets=self._facets(searcher, q, query) if query.facets else {})

    def _facets(self, searcher: Any, q: Query, query: SearchQuery) -> dict[str, dict[str, int]]:
        aggs = {name: {"terms": {"field": _FACET_FIELDS[name], "size": query.facet_size,
                                 "segment_size": max(FACET_SEGMENT_SIZE, query.facet_size)}}
                for name in query.facets}
        result = searcher.aggregate(q, aggs)
        out: dict[str, dict[str, int]] = {}
        for name in query.facets:
            buckets = sorted(((b["key"], int(b["doc_count"])) for b in result[name]["buckets"]),
                             key=lambda kv: (-kv[1], kv[0]))
            out[name] = dict(buckets[: query.facet_size])
        return out

    def get(self, doc_id: str) -> dict[str, Any] | None:
        self._check_open()
        searcher = self._index.searcher()
        found = searcher.search(Query.term_query(self._schema, "id", doc_id), limit=1)
        if not found.hits:
            return None
        d = searcher.doc(found.hits[0][1])
        first = d.get_first
        published = first("published")
        return {
            "id": first("id"), "url": first("url"), "host": first("host"), "domain": first("domain"),
            "campaign": first("campaign"), "lang": first("lang"), "title": first("title"),
            "text": first("text"), "description": first("description"),
            "published": published.date() if published is not None else None,
            "fetch_time": _utc(first("fetch_time")),
            "pools": d.get_all("pool"), "media_kinds": d.get_all("media_kind"),
            "tdm_reservation": first("tdm_reservation"),
            "dup_cluster_id": first("dup_cluster_id"), "dup_cluster_size": first("dup_cluster_size"),
        }


    # ------------------------------------------------------------------ vectors

    def has_vectors(self) -> bool:
        self._check_open()
        self._vectors.refresh()
        return len(self._vectors) > 0

    def get_vector(self, doc_id: str) -> np.ndarray | None:
        self._check_open()
        self._vectors.refresh()
        return self._vectors.get(vector_key(doc_id)) if self.get(doc_id) is not None else None

    def _restriction(self, filters: Filters, parsed: ParsedQuery | None) -> list[tuple[Occur, Query]]:
        clauses = [(Occur.Must, q) for q in self._filter_query(filters)]
        for leaf in parsed.ast.must_not if parsed is not None else ():
            q = self._exclusion(leaf)
            if q is not None:
                clauses.append((Occur.MustNot, q))
        return clauses

    def _keys_passing(self, searcher: Any, clauses: list[tuple[Occur, Query]], within: list[int] | None,
                      limit: int) -> list[int]:
        """Vector keys of the documents that pass ``clauses`` (among the keys ``within``), read
        from the ``vkey`` fast field by a terms aggregation: no stored document is opened."""
        scope = Query.all_query() if within is None else \
            Query.term_set_query(self._schema, "vkey", [key_text(key) for key in within])
        q = Query.boolean_query([(Occur.Must, scope), *clauses])
        size = max(1, limit)
        found = searcher.aggregate(q, {"k": {"terms": {"field": "vkey", "size": size, "segment_size": size}}})
        return [int(b["key"], 16) for b in found["k"]["buckets"]]

    def _top(self, searcher: Any, scored: list[tuple[int, float]], k: int) -> list[tuple[str, float]]:
        """The best ``k`` of (key, similarity) as (document id, similarity), ties by id: every key
        tied with the k-th is resolved to its id before the cut."""
        order = sorted(scored, key=lambda p: (-p[1], p[0]))
        if len(order) > k:
            cutoff = order[k - 1][1]
            order = [p for p in order if p[1] >= cutoff]
        if not order:
            return []
        found = searcher.search(Query.term_set_query(self._schema, "vkey", [key_text(key) for key, _ in order]),
                                limit=len(order))
        ids = {}
        for _, address in found.hits:
            doc_id = str(searcher.doc(address).get_first("id"))
            ids[vector_key(doc_id)] = doc_id
        pairs = [(ids[key], sim) for key, sim in order if key in ids]
        return sorted(pairs, key=lambda p: (-p[1], p[0]))[:k]

    def _exact_nearest(self, searcher: Any, vector: np.ndarray, keys: list[int], k: int) -> list[tuple[str, float]]:
        import numpy as np

        present, vecs = self._vectors.get_many(keys)
        sims = np.round(vecs @ np.asarray(vector, dtype=np.float32), 6)
        if len(sims) > 4 * k:  # only the best few (and their ties) need sorting in Python
            cutoff = np.partition(sims, len(sims) - k)[len(sims) - k]
            mask = sims >= cutoff
            present, sims = present[mask], sims[mask]
        return self._top(searcher, [(int(key), float(sim)) for key, sim in zip(present, sims)], k)

    def _nearest(self, vector: np.ndarray, filters: Filters, parsed: ParsedQuery | None,
                 k: int) -> list[tuple[str, float]]:
        self._check_open()
        self._vectors.refresh()
        n = len(self._vectors)
        if n == 0:
            return []
        searcher = self._index.searcher()
        clauses = self._restriction(filters, parsed)
        if not clauses and n <= EXACT_SUBSET:
            # a small index: the same exact scoring as a narrow restriction
            return self._exact_nearest(searcher, vector, self._vectors.keys(), k)
        fetch = min(n, k)
        if clauses:
            passing = int(searcher.search(Query.boolean_query([(Occur.Must, Query.all_query()), *clauses]),
                                          limit=1, count=True).count)  # type: ignore[attr-defined]
            if passing == 0:
                return []
            if passing <= EXACT_SUBSET:
                # few enough pass: score each of them exactly
                return self._exact_nearest(searcher, vector, self._keys_passing(searcher, clauses, None, passing), k)
            # a wide restriction: ask the graph for more than k, keep those that pass
            fetch = min(n, math.ceil(k * 2 * n / passing))
        while True:
            found = self._vectors.search(vector, fetch)
            if clauses:
                keep = set(self._keys_passing(searcher, clauses, [key for key, _ in found], len(found)))
                found = [p for p in found if p[0] in keep]
            if len(found) >= k or fetch >= n:
                return self._top(searcher, found, k)
            fetch = min(n, fetch * 4)

    def _hits_for(self, doc_ids: list[str], query: SearchQuery) -> dict[str, Hit]:
        self._check_open()
        if not doc_ids:
            return {}
        searcher = self._index.searcher()
        snippets = _Snippets(searcher, self._schema, query.parsed, self) if query.highlight else None
        found = searcher.search(Query.term_set_query(self._schema, "id", list(doc_ids)), limit=len(doc_ids))
        hits = {}
        for _, address in found.hits:
            hit = _hit(searcher.doc(address), 0.0, snippets)
            hits[hit.id] = hit
        return hits

    def _facets_for(self, doc_ids: list[str], query: SearchQuery) -> dict[str, dict[str, int]]:
        self._check_open()
        searcher = self._index.searcher()
        q = Query.term_set_query(self._schema, "id", list(doc_ids)) if doc_ids else Query.empty_query()
        return self._facets(searcher, q, query)


def _hit(doc: tantivy.Document, score: float, snippets: _Snippets | None) -> Hit:
    return Hit(
        id=str(doc.get_first("id")), url=str(doc.get_first("url")), title=doc.get_first("title"),
        lang=doc.get_first("lang"), domain=doc.get_first("domain"), score=score,
        snippet=snippets.html(doc) if snippets else excerpt(doc.get_first("text") or doc.get_first("description")),
        fetch_time=_utc(doc.get_first("fetch_time")),
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)


def _char_spans(data: bytes, ranges: list[Any]) -> list[tuple[int, int]]:
    """tantivy's highlighted byte ranges of a UTF-8 fragment as character spans."""
    def chars(n: int) -> int:
        return len(data[:n].decode("utf-8", "replace"))
    return [(chars(r.start), chars(r.end)) for r in ranges]


class _Snippets:
    """Highlighted snippets for one search: the text field, else the description,
    else the start of the text."""

    def __init__(self, searcher: Any, schema: tantivy.Schema, parsed: ParsedQuery, backend: EmbeddedBackend) -> None:
        self.generators = []
        for field in ("text", "description"):
            q = backend._highlight_query(parsed, field)
            if q is not None:
                gen = SnippetGenerator.create(searcher, q, schema, field)
                gen.set_max_num_chars(SNIPPET_CHARS)
                self.generators.append((field, gen))

    def html(self, doc: tantivy.Document) -> str:
        for field, gen in self.generators:
            value = doc.get_first(field)
            if not value:
                continue
            snippet = gen.snippet_from_doc(doc)
            ranges = snippet.highlighted()
            if ranges:
                span = snippet.fragment_range()
                data = value.encode("utf-8")
                fragment = snippet.fragment()
                around_before = data[max(0, span.start - CUT_OFF_WINDOW):span.start].decode("utf-8", "ignore")
                around_after = data[span.end:span.end + CUT_OFF_WINDOW].decode("utf-8", "ignore")
                return marked_snippet(fragment, _char_spans(fragment.encode("utf-8"), ranges),
                                      before=has_word(around_before), after=has_word(around_after))
        return excerpt(doc.get_first("text") or doc.get_first("description"))
