"""The search backend contract: typed requests and results, and one abstract class.

Every engine (the embedded tantivy index, OpenSearch) implements
:class:`SearchBackend`; callers build a :class:`SearchQuery` (validated when it is
built: a bad request raises :class:`QueryError` before it reaches an engine) and
get a :class:`SearchResult` back. The same contract test suite
(``tests/index/contract.py``) runs against every backend.

What a backend indexes is the *index record* of a document (:func:`to_record`):
a flat, engine-neutral view of :class:`owd.core.schema.Document`. :meth:`SearchBackend.get`
returns exactly that record, so both engines agree on what comes back.

Semantics every backend honours
-------------------------------
* ``add`` is idempotent by document id: re-adding an id replaces the document.
  Documents with a ``drop_reason`` are not indexed unless the backend was built
  with ``include_dropped=True``; adding a dropped document *removes* an earlier
  indexed version of it (a shard re-written after dedup drops its duplicates).
* Reads see writes: once ``add``/``delete``/``clear`` return, ``search``,
  ``count`` and ``get`` reflect them.
* Filters: values within one kind are OR-ed, kinds are AND-ed. ``domains`` match
  a registered domain or an exact host (``gov.si``, ``www.gov.si``); a value
  starting with a dot is a suffix at a label boundary (``.si`` matches every host
  under ``.si``). Dates filter on ``fetch_time`` (the crawl time, always present
  for crawled pages; ``published`` is a page's own claim, often missing or wrong),
  ``date_from`` inclusive and ``date_to`` exclusive, in UTC; a date filter
  excludes documents without a fetch time.
* Facets count the documents that match the whole query, filters included,
  over ``lang``, ``domain`` (registered domain), ``pool`` and ``media_kind``;
  each facet lists its top ``facet_size`` values by count (ties by value).
* Hits are ordered by score (ties in an engine-stable order); a query without
  words (filters only) is ordered by ``fetch_time``, newest first. Snippets are
  HTML: the text is escaped and query words are wrapped in ``<mark>``.

Modes (``SearchQuery.mode``)
----------------------------
* ``lexical`` (the default): the words, BM25, as above.
* ``semantic``: the documents whose vector (:mod:`owd.index.embed`) is nearest the
  query's meaning (its words and phrases embedded as one query), in every language
  unless ``lang:`` restricts it; filters and ``-exclusions`` apply, required words do
  not (meaning, not words). Score: cosine similarity.
* ``hybrid``: both lists fused by reciprocal rank fusion (:data:`RRF_K`); score: the
  fused score.
* Semantic and hybrid rank the nearest :data:`SEMANTIC_DEPTH` documents of each list (more
  when a later page needs them, up to :data:`MAX_RANKED`); ``total`` counts the ranked
  documents and facets count over them. A query without words is lexical in every mode.
  Documents added without a vector are found by lexical search only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import html
import re
import time
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from owd.core.schema import MEDIA_KINDS, Document
from owd.core.errors import OwdError

if TYPE_CHECKING:
    import numpy as np

    from owd.index.embed import Embedder
    from owd.index.query import ParsedQuery

__all__ = [
    "SearchBackend",
    "SNIPPET_CHARS",
    "excerpt",
    "SearchQuery",
    "Filters",
    "SearchResult",
    "Hit",
    "QueryError",
    "BackendError",
    "NoVectorsError",
    "FACETS",
    "MAX_PAGE",
    "MAX_PAGE_SIZE",
    "MAX_QUERY_CHARS",
    "MAX_FACET_SIZE",
    "MAX_FILTER_VALUES",
    "MAX_TEXT_CHARS",
    "RECORD_FIELDS",
    "to_record",
    "site_terms",
    "MODES",
    "SEMANTIC_DEPTH",
    "MAX_RANKED",
    "RRF_K",
    "rrf",
]

MAX_PAGE_SIZE = 100
MAX_PAGE = 100  # deep paging is a scraper's tool, not a reader's; 100 x 100 hits is plenty
MAX_QUERY_CHARS = 500
MAX_FACET_SIZE = 100
MAX_FILTER_VALUES = 32  # per filter kind
# A page's text is indexed and stored up to this many characters; the extract
# stage already caps HTML size, this only bounds a pathological document.
MAX_TEXT_CHARS = 1_000_000

FACETS: tuple[str, ...] = ("lang", "domain", "pool", "media_kind")
MODES: tuple[str, ...] = ("lexical", "semantic", "hybrid")
SEMANTIC_DEPTH = 100  # documents taken from each list before fusing
MAX_RANKED = 1000  # semantic/hybrid page through at most this many ranked documents
RRF_K = 60  # reciprocal rank fusion's constant (Cormack et al. 2009; the usual value)

RECORD_FIELDS: tuple[str, ...] = (
    "id", "url", "host", "domain", "campaign", "lang", "title", "text", "description", "published",
    "fetch_time", "pools", "media_kinds", "tdm_reservation", "dup_cluster_id", "dup_cluster_size",
)


class QueryError(OwdError, ValueError):
    """A search request is malformed or exceeds a limit; the message says which and why."""


class BackendError(OwdError, RuntimeError):
    """The index cannot be used (missing, incompatible format, locked by another writer)."""


class NoVectorsError(BackendError):
    """A semantic or hybrid search on an index whose documents have no vectors."""


# ---------------------------------------------------------------------------- filters

_LANG = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})?$")
_DOMAIN = re.compile(r"^\.?[\w-]+(?:\.[\w-]+)*$")
_POOL = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def _norm_values(kind: str, values: Iterable[str] | str | None, pattern: re.Pattern[str] | None,
                 allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for raw in values:
        if not isinstance(raw, str):
            raise QueryError(f"{kind}: expected strings, got {type(raw).__name__}")
        value = raw.strip().lower()
        if kind == "domains":
            value = value.rstrip(".")
        if allowed is not None and value not in allowed:
            raise QueryError(f"{kind}: {raw!r} is not one of {', '.join(allowed)}")
        if pattern is not None and (len(value) > 253 or not pattern.match(value)):
            raise QueryError(f"{kind}: {raw!r} is not a valid value")
        if value not in out:
            out.append(value)
    if len(out) > MAX_FILTER_VALUES:
        raise QueryError(f"{kind}: at most {MAX_FILTER_VALUES} values, got {len(out)}")
    return tuple(out)


def _norm_time(kind: str, value: dt.date | dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise QueryError(f"{kind}: a datetime must be timezone-aware (the index stores UTC)")
        return value.astimezone(dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    raise QueryError(f"{kind}: expected a date or datetime, got {type(value).__name__}")


@dataclass(frozen=True)
class Filters:
    """Restrict a search or a count. Empty tuples and ``None`` mean "no restriction".

    ``langs``: language codes (``sl``). ``domains``: registered domains or hosts
    (``gov.si``), or suffixes starting with a dot (``.si``, ``.gov.si``).
    ``pools``: pool names. ``media_kinds``: ``image``, ``audio``, ``video``.
    ``date_from`` (inclusive) / ``date_to`` (exclusive): on ``fetch_time``, a
    ``date`` means midnight UTC. Values are normalised (lowercase, deduplicated)
    and validated when the object is built.
    """

    langs: Sequence[str] = ()  # any sequence; stored as a normalised tuple
    domains: Sequence[str] = ()
    pools: Sequence[str] = ()
    media_kinds: Sequence[str] = ()
    date_from: dt.date | dt.datetime | None = None  # stored as an aware UTC datetime
    date_to: dt.date | dt.datetime | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "langs", _norm_values("langs", self.langs, _LANG))
        set_(self, "domains", _norm_values("domains", self.domains, _DOMAIN))
        set_(self, "pools", _norm_values("pools", self.pools, _POOL))
        set_(self, "media_kinds", _norm_values("media_kinds", self.media_kinds, None, MEDIA_KINDS))
        set_(self, "date_from", _norm_time("date_from", self.date_from))
        set_(self, "date_to", _norm_time("date_to", self.date_to))

    @property
    def empty(self) -> bool:
        return not (self.langs or self.domains or self.pools or self.media_kinds
                    or self.date_from or self.date_to)

    def merge(self, other: Filters) -> Filters:
        """Both restrictions at once: value lists are united, date bounds tightened."""
        def later(a: Any, b: Any) -> Any:
            return max(a, b) if a and b else a or b

        def earlier(a: Any, b: Any) -> Any:
            return min(a, b) if a and b else a or b

        return Filters(
            langs=(*self.langs, *other.langs), domains=(*self.domains, *other.domains),
            pools=(*self.pools, *other.pools), media_kinds=(*self.media_kinds, *other.media_kinds),
            date_from=later(self.date_from, other.date_from), date_to=earlier(self.date_to, other.date_to),
        )


# ---------------------------------------------------------------------------- queries and results


@dataclass(frozen=True)
class SearchQuery:
    """One search request. ``text`` is in the query language of :mod:`owd.index.query`
    (words, "phrases", ``-excluded``, ``OR``, ``lang:``/``domain:``/``pool:``/
    ``media:``/``after:``/``before:`` filters); its filters are merged with
    ``filters``. ``page`` is 1-based. Built requests are valid: limits and syntax
    are checked here and raise :class:`QueryError`."""

    text: str = ""
    filters: Filters = field(default_factory=Filters)
    facets: Sequence[str] = ()  # names from FACETS; stored as a tuple
    page: int = 1
    page_size: int = 10
    highlight: bool = True
    facet_size: int = 20
    mode: str = "lexical"  # one of MODES
    # Derived when built: what backends translate (see index.query).
    parsed: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from owd.index.query import parse  # query.py builds on this module's types

        if not isinstance(self.text, str):
            raise QueryError(f"text: expected a string, got {type(self.text).__name__}")
        if not isinstance(self.filters, Filters):
            raise QueryError("filters: expected a Filters object")
        for name, value, top in (("page", self.page, MAX_PAGE), ("page_size", self.page_size, MAX_PAGE_SIZE),
                                 ("facet_size", self.facet_size, MAX_FACET_SIZE)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise QueryError(f"{name}: must be an integer from 1 to {top}, got {value!r}")
        facets = (self.facets,) if isinstance(self.facets, str) else tuple(self.facets)
        unknown = [f for f in facets if f not in FACETS]
        if unknown:
            raise QueryError(f"facets: unknown facet {unknown[0]!r}; known: {', '.join(FACETS)}")
        object.__setattr__(self, "facets", tuple(dict.fromkeys(facets)))
        if self.mode not in MODES:
            raise QueryError(f"mode: expected one of {', '.join(MODES)}, got {self.mode!r}")
        object.__setattr__(self, "parsed", parse(self.text))

    @property
    def effective_filters(self) -> Filters:
        """``filters`` merged with the filters written in ``text``."""
        return self.filters.merge(self.parsed.filters)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass
class Hit:
    id: str
    url: str
    title: str | None
    lang: str | None
    domain: str | None
    score: float
    snippet: str  # HTML: escaped text, query words in <mark>; "" when the document has no text
    fetch_time: dt.datetime | None


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    took_ms: float = 0.0


# ---------------------------------------------------------------------------- the index record


def _nfc(text: str | None, limit: int | None = None) -> str | None:
    if text is None:
        return None
    if limit is not None and len(text) > limit:
        text = text[:limit]
    # Queries are NFC-normalised; documents must be too, or "č" typed by a user
    # would miss a page that spells it "c" + combining caron.
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def to_record(doc: Document) -> dict[str, Any]:
    """The engine-neutral index record of a document (keys :data:`RECORD_FIELDS`).

    Text fields are NFC-normalised and ``text`` is capped at :data:`MAX_TEXT_CHARS`;
    ``fetch_time`` is UTC with millisecond precision (the schema's), ``pools`` keep
    their order without repeats, ``media_kinds`` are the sorted distinct kinds.
    """
    fetch = doc.fetch_time
    if fetch is not None:
        fetch = fetch.astimezone(dt.timezone.utc)
        fetch = fetch.replace(microsecond=fetch.microsecond // 1000 * 1000)
    return {
        "id": doc.id,
        "url": doc.url,
        "host": doc.host,
        "domain": doc.domain,
        "campaign": doc.campaign,
        "lang": doc.lang,
        "title": _nfc(doc.title),
        "text": _nfc(doc.text, MAX_TEXT_CHARS),
        "description": _nfc(doc.description),
        "published": doc.published,
        "fetch_time": fetch,
        "pools": list(dict.fromkeys(doc.pools)),
        "media_kinds": sorted({m.kind for m in doc.media}),
        "tdm_reservation": doc.tdm_reservation,
        "dup_cluster_id": doc.dup_cluster_id,
        "dup_cluster_size": doc.dup_cluster_size,
    }


def _is_ip(host: str) -> bool:
    return host.replace(".", "").isdigit() or ":" in host or host.startswith("[")


def site_terms(host: str | None, domain: str | None) -> list[str]:
    """The terms the ``domains`` filter matches for a document: its registered domain,
    its host, and every dotted suffix of the host at a label boundary
    (``www.vlada.gov.si`` -> ``.vlada.gov.si``, ``.gov.si``, ``.si``)."""
    terms: list[str] = []
    for name in (domain, host):
        if name:
            name = name.lower().rstrip(".")
            if name not in terms:
                terms.append(name)
    if host and not _is_ip(host):
        labels = host.lower().rstrip(".").split(".")
        for i in range(1, len(labels)):
            suffix = "." + ".".join(labels[i:])
            if suffix not in terms:
                terms.append(suffix)
    return terms


# ---------------------------------------------------------------------------- the backend contract


#: characters in a snippet, in every backend (highlighted fragment or the text's start)
SNIPPET_CHARS = 200


def excerpt(text: str | None, limit: int = SNIPPET_CHARS) -> str:
    """The start of a text, cut at a word boundary, HTML-escaped: the snippet of a hit
    whose text has no highlighted words (a filter-only query), the same in every backend."""
    if not text:
        return ""
    text = " ".join(text[: limit * 2].split())
    if len(text) <= limit:
        return html.escape(text)
    cut = text[:limit]
    space = cut.rfind(" ")
    return html.escape(cut[: space if space > limit // 2 else limit]) + "…"


#: how far around a fragment to look for a cut-off word (characters or bytes)
CUT_OFF_WINDOW = 64


def has_word(text: str) -> bool:
    """Whether ``text`` holds part of a word: a fragment that ends before one was cut off there."""
    return any(ch.isalnum() for ch in text)


def marked_snippet(fragment: str, spans: Iterable[tuple[int, int]], *, before: bool, after: bool) -> str:
    """A highlighted fragment as every backend's snippet HTML: the text escaped, each
    ``(start, end)`` character span wrapped in ``<mark>`` (overlaps skipped), whitespace
    collapsed (newlines from the page text; tags hold none), and an ellipsis on a side
    where words were cut off (``before``/``after``), not after a final full stop."""
    out, pos = [], 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        out.append(html.escape(fragment[pos:start]))
        out.append("<mark>" + html.escape(fragment[start:end]) + "</mark>")
        pos = end
    out.append(html.escape(fragment[pos:]))
    body = " ".join("".join(out).split())
    return ("…" if before else "") + body + ("…" if after else "")


def rrf(lists: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: each id scores the sum of ``1 / (k + rank)`` over the lists
    it is in (rank from 1); best first, ties by id."""
    scores: dict[str, float] = {}
    for ranked in lists:
        for rank, doc_id in enumerate(ranked, 1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return sorted(((i, round(s, 9)) for i, s in scores.items()), key=lambda p: (-p[1], p[0]))


class SearchBackend(ABC):
    """One search index. Subclasses implement the engine-specific hooks; this class
    owns the add loop (drop filtering, de-duplication within a batch, batching) and the
    semantic and hybrid modes (the engines only find nearest vectors).

    A backend is a context manager; :meth:`close` releases the engine's resources
    (the embedded index's writer lock, a client's connections).
    """

    #: documents per engine write (an embedded writer batch, an OpenSearch bulk request)
    batch_size: int = 1000

    def __init__(self, *, include_dropped: bool = False, embedder: Embedder | None = None) -> None:
        self.include_dropped = include_dropped
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        """What embeds queries (the process's shared model unless one was given)."""
        if self._embedder is None:
            from owd.index.embed import embedder

            self._embedder = embedder()
        return self._embedder

    # -- writing

    def add(self, docs: Iterable[Document], vectors: Mapping[str, np.ndarray] | None = None) -> int:
        """Index documents, replacing any indexed document with the same id; return how
        many were indexed (documents with a ``drop_reason`` are skipped and their ids
        removed unless ``include_dropped``). ``vectors``: document id -> unit vector
        (:mod:`owd.index.embed`); a document without one is searchable by words only.
        Visible to reads when this returns."""
        indexed = 0
        wrote = False
        vectors = vectors or {}
        try:
            for records, removed in self._batches(docs):
                self._write(records, removed, [vectors.get(r["id"]) for r in records])
                indexed += len(records)
                wrote = True
        except BaseException:
            if wrote:
                self._rollback()  # a failed add leaves the index as it was (where the engine can)
            raise
        if wrote:
            self._commit()
        return indexed

    def _batches(self, docs: Iterable[Document]) -> Iterator[tuple[list[dict[str, Any]], list[str]]]:
        batch: dict[str, dict[str, Any] | None] = {}  # id -> record, or None: remove
        for doc in docs:
            keep = self.include_dropped or not doc.drop_reason
            # the last version of an id in a batch wins, as it would across batches
            batch.pop(doc.id, None)
            batch[doc.id] = to_record(doc) if keep else None
            if len(batch) >= self.batch_size:
                yield self._split(batch)
                batch = {}
        if batch:
            yield self._split(batch)

    @staticmethod
    def _split(batch: dict[str, dict[str, Any] | None]) -> tuple[list[dict[str, Any]], list[str]]:
        records = [r for r in batch.values() if r is not None]
        removed = [i for i, r in batch.items() if r is None]
        return records, removed

    @abstractmethod
    def _write(self, records: list[dict[str, Any]], removed_ids: list[str],
               vectors: list[np.ndarray | None]) -> None:
        """Upsert ``records`` (unique ids; replace by id) with their vectors (``None``: the
        document has none, and loses any it had) and delete ``removed_ids``."""

    def _commit(self) -> None:
        """Make the writes so far durable and visible to reads."""

    def _rollback(self) -> None:
        """Forget uncommitted writes (engines that write through, like OpenSearch, cannot)."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> None:
        """Remove documents by id (unknown ids are ignored). Visible when this returns."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every document."""

    @contextlib.contextmanager
    def rebuilding(self) -> Iterator[bool]:
        """Replace every document by the ones added inside the ``with`` block.

        Yields whether the replacement is atomic to readers: True when they keep seeing
        the old documents until the block ends successfully (OpenSearch: a new index and
        an alias swap; on an exception the old documents stay). This default clears
        first and yields False: readers see the index fill up again.
        """
        self.clear()
        yield False

    # -- reading

    @abstractmethod
    def count(self, filters: Filters | None = None) -> int:
        """Number of indexed documents that pass ``filters`` (all when ``None``)."""

    def search(self, query: SearchQuery) -> SearchResult:
        started = time.perf_counter()
        if query.mode == "lexical" or not query.parsed.meaning_text:
            result = self._search(query)
        else:
            result = self._ranked_search(query)
        result.took_ms = (time.perf_counter() - started) * 1000.0
        return result

    @abstractmethod
    def _search(self, query: SearchQuery) -> SearchResult:
        """Run a validated lexical query (``took_ms`` is filled in by :meth:`search`)."""

    # -- semantic and hybrid

    def has_vectors(self) -> bool:
        """Whether any document has a vector (semantic search can find something)."""
        return False

    def get_vector(self, doc_id: str) -> np.ndarray | None:
        """The stored vector of a document, or ``None``."""
        return None

    def _nearest(self, vector: np.ndarray, filters: Filters, parsed: ParsedQuery | None,
                 k: int) -> list[tuple[str, float]]:
        """The ``k`` documents nearest ``vector`` (cosine similarity, best first; ties by
        id) among those passing ``filters`` and not matching ``parsed``'s exclusions."""
        raise BackendError(f"{self!r} has no vector search")

    def _hits_for(self, doc_ids: list[str], query: SearchQuery) -> dict[str, Hit]:
        """Hits (snippets per ``query.highlight``) for indexed documents, by id."""
        raise BackendError(f"{self!r} has no vector search")

    def _facets_for(self, doc_ids: list[str], query: SearchQuery) -> dict[str, dict[str, int]]:
        """``query.facets`` counted over the given documents."""
        raise BackendError(f"{self!r} has no vector search")

    def _ranked_search(self, query: SearchQuery) -> SearchResult:
        if not self.has_vectors():
            raise NoVectorsError(f"{query.mode} search needs document vectors and this index has none: "
                               "set embeddings.enabled: true in the campaign, then run `owd embed` and `owd index`")
        depth = min(MAX_RANKED, max(SEMANTIC_DEPTH, query.offset + query.page_size))
        filters = query.effective_filters
        vector = self.embedder.query(query.parsed.meaning_text)
        nearest = self._nearest(vector, filters, query.parsed, depth)
        if query.mode == "semantic":
            ranked = nearest
        else:
            ranked = rrf([self._lexical_ids(query, depth), [doc_id for doc_id, _ in nearest]])
        page = ranked[query.offset: query.offset + query.page_size]
        hits = self._hits_for([doc_id for doc_id, _ in page], query)
        out = []
        for doc_id, score in page:
            hit = hits.get(doc_id)
            if hit is not None:  # removed between the two reads: left out
                hit.score = score
                out.append(hit)
        facets = self._facets_for([doc_id for doc_id, _ in ranked], query) if query.facets else {}
        return SearchResult(total=len(ranked), hits=out, facets=facets)

    def _lexical_ids(self, query: SearchQuery, depth: int) -> list[str]:
        out: list[str] = []
        page = 1
        while len(out) < depth:
            size = min(MAX_PAGE_SIZE, depth - len(out)) if page == 1 else MAX_PAGE_SIZE
            part = self._search(dataclasses.replace(query, mode="lexical", page=page, page_size=size,
                                                    highlight=False, facets=()))
            out.extend(h.id for h in part.hits)
            if len(part.hits) < size or page >= MAX_PAGE:
                break
            page += 1
        return out[:depth]

    def similar(self, doc_id: str, *, filters: Filters | None = None, page_size: int = 10) -> SearchResult | None:
        """The documents nearest a document's vector (itself left out): related pages and
        near-duplicates in any language. ``None`` when the document is not indexed; no hits
        when it has no vector."""
        started = time.perf_counter()
        if self.get(doc_id) is None:
            return None
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise QueryError(f"page_size: must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
        vector = self.get_vector(doc_id)
        if vector is None:
            return SearchResult(total=0, hits=[])
        nearest = [(i, s) for i, s in self._nearest(vector, filters or Filters(), None, page_size + 1)
                   if i != doc_id][:page_size]
        hits = self._hits_for([i for i, _ in nearest], SearchQuery("", highlight=False))
        out = []
        for i, score in nearest:
            if i in hits:
                hits[i].score = score
                out.append(hits[i])
        return SearchResult(total=len(out), hits=out, took_ms=(time.perf_counter() - started) * 1000.0)

    @abstractmethod
    def get(self, doc_id: str) -> dict[str, Any] | None:
        """The index record (:func:`to_record`) of a document, or ``None``."""

    # -- lifecycle

    @abstractmethod
    def close(self) -> None:
        """Release resources; the backend must not be used afterwards."""

    def __enter__(self) -> SearchBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
