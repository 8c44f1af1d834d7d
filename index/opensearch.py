"""The OpenSearch search backend: the same contract as the embedded index, on a cluster.

Layout on the cluster
---------------------
* One composable **index template** (:data:`TEMPLATE_NAME`, pattern ``*--owd1-*``)
  holds the analysis and the mapping of every owd index; owd never relies on dynamic
  mapping (``dynamic: strict``), so a document that does not fit is an error, not a
  silently widened field.
* An owd index called ``name`` is an **alias** ``name`` over one concrete index
  ``name--owd1-<utc time>-<random>``. Readers always go through the alias. ``clear()``
  and a rebuild (:meth:`OpenSearchBackend.rebuilding`) write into a *new* concrete
  index and then move the alias and delete the old index in one ``_aliases`` call, so
  a reader sees either the old documents or the new ones, never an empty or half-built
  index.

Analysis (mirrors :mod:`owd.index.embedded`)
----------------------------------------
* ``title``, ``text``, ``description``: exact fields, analysed like the query parser
  splits words (runs of letters and digits), lowercased, tokens over 40 characters
  dropped; positions for phrases. Exact matches, phrases, exclusions and highlights
  use only these.
* ``loose_<analyzer>``: recall fields, scored low (:data:`LOOSE_BOOST`). A document's
  title, text and description go to the one loose field of its language, analysed by
  OpenSearch's built-in analyzer for it (stemming, stop words, the language's own
  normalisation): 19 of the 24 EU languages have one (:data:`LANGUAGE_ANALYZERS`).
  hr, mt, pl, sk, sl (and pages without a language) share ``loose_plain``: standard
  tokenizer, lowercase, ASCII folding, so ``zascita`` still finds "zaščita". A query
  word is looked up in the loose fields of the languages it may be in (the ``lang:``
  filter, else all), each analysed by its own field's analyzer.

Writes go through ``helpers.streaming_bulk``, one request in flight on a sender thread
while the next batch is built; 429, 5xx and connection failures are retried with capped
exponential backoff (:class:`RetryPolicy`), per request and per rejected item; a
document OpenSearch refuses for good (a 4xx item) ends the add with an
:class:`IndexingError` that lists every failed id and why. Every other request (search,
count, get, index management) is retried by the same policy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence, TypeVar

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

from owd.index.base import (
    CUT_OFF_WINDOW,
    SNIPPET_CHARS,
    has_word,
    marked_snippet,
    excerpt,
    RECORD_FIELDS,
    BackendError,
    Filters,
    Hit,
    SearchBackend,
    SearchQuery,
    SearchResult,
    site_terms,
)
from owd.index.embed import DIM
from owd.index.query import AnyOf, Leaf, ParsedQuery, Word

if TYPE_CHECKING:
    import numpy as np

    from owd.index.embed import Embedder

__all__ = ["OpenSearchBackend", "RetryPolicy", "IndexingError", "LANGUAGE_ANALYZERS", "INDEX_FORMAT",
           "TEMPLATE_NAME", "index_template", "DEFAULT_URL"]

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:9200"
KNN_EF_SEARCH = 100  # candidates the HNSW search keeps (at least k)
INDEX_FORMAT = 2  # 2: the knn_vector field. Bump when the mapping or the analysis changes: old indexes must be rebuilt
_SEP = f"--owd{INDEX_FORMAT}-"  # alias name + _SEP + stamp = a concrete index
TEMPLATE_NAME = f"owd-index-v{INDEX_FORMAT}"
TEMPLATE_PRIORITY = 417  # composable templates with overlapping patterns must differ in priority

TITLE_BOOST = 2.0
DESCRIPTION_BOOST = 1.0
LOOSE_BOOST = 0.3  # stemmed/folded matches add recall but never outrank an exact match
FACET_SHARD_SIZE = 1000  # per-shard candidates for a terms facet; counts are exact on one shard
MAX_CHUNK_BYTES = 50 * 1024 * 1024  # under http.max_content_length (100 MB) even with 1 MB pages
_PRE, _POST = "\ue000", "\ue001"  # private-use marks from the highlighter; escaped and turned into <mark> here

# ISO 639-1 -> OpenSearch's built-in language analyzer (the analysis-common module).
LANGUAGE_ANALYZERS: dict[str, str] = {
    "bg": "bulgarian", "cs": "czech", "da": "danish", "de": "german", "el": "greek", "en": "english",
    "es": "spanish", "et": "estonian", "fi": "finnish", "fr": "french", "ga": "irish", "hu": "hungarian",
    "it": "italian", "lt": "lithuanian", "lv": "latvian", "nl": "dutch", "pt": "portuguese",
    "ro": "romanian", "sv": "swedish",
    # not EU languages, but crawled pages are in them too (the embedded index stems them as well)
    "ar": "arabic", "nb": "norwegian", "no": "norwegian", "ru": "russian", "tr": "turkish",
}
_PLAIN = "plain"
_LOOSE_KEYS = (_PLAIN, *sorted(set(LANGUAGE_ANALYZERS.values())))
_FACET_FIELDS = {"lang": "lang", "domain": "domain", "pool": "pools", "media_kind": "media_kinds"}
_EXACT_FIELDS = (("title", TITLE_BOOST), ("text", 1.0), ("description", DESCRIPTION_BOOST))
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_UTC = dt.timezone.utc
_T = TypeVar("_T")


def _loose_key(lang: str | None) -> str:
    return LANGUAGE_ANALYZERS.get((lang or "").split("-")[0], _PLAIN)


def index_template(shards: int = 1) -> dict[str, Any]:
    """The body of the composable index template every owd index is created from."""
    keyword = {"type": "keyword"}
    stored_only = {"type": "keyword", "index": False, "doc_values": False}
    exact = {"type": "text", "analyzer": "owd_exact"}
    properties: dict[str, Any] = {
        "id": keyword, "url": stored_only, "host": keyword, "domain": keyword, "site": keyword,
        "campaign": keyword, "lang": keyword,
        "title": exact,
        # offsets in the postings: the highlighter reads them instead of re-analysing the page
        "text": {**exact, "index_options": "offsets"},
        "description": {**exact, "index_options": "offsets"},
        "published": {"type": "date", "format": "strict_date"},
        "fetch_time": {"type": "date", "format": "strict_date_optional_time"},
        "pools": keyword, "media_kinds": keyword,
        "tdm_reservation": {"type": "boolean"},
        "dup_cluster_id": keyword, "dup_cluster_size": {"type": "integer"},
        # the document's passage vector (owd.index.embed): HNSW in Lucene, the one k-NN engine
        # the plugin's Maven Central zip can run (it carries no native faiss/nmslib libraries)
        "vector": {"type": "knn_vector", "dimension": DIM,
                   "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil",
                              "parameters": {"m": 16, "ef_construction": 128}}},
    }
    for key in _LOOSE_KEYS:
        # single words only (no phrases): frequencies, no positions
        properties[f"loose_{key}"] = {"type": "text", "analyzer": "owd_folded" if key == _PLAIN else key,
                                      "index_options": "freqs"}
    return {
        "index_patterns": [f"*{_SEP}*"],
        "priority": TEMPLATE_PRIORITY,
        "version": INDEX_FORMAT,
        "_meta": {"owd": "search index template", "format": INDEX_FORMAT},
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": shards,
                    "knn": True,  # the k-NN plugin (scripts/opensearch_node.py installs it)
                    # a replica wherever there is a second node to hold it: green on one node
                    # (a fixed replica would leave a single node yellow), redundant on a cluster
                    "auto_expand_replicas": "0-1",
                    # deep paging is capped by base.MAX_PAGE * MAX_PAGE_SIZE = 10,000, the default window
                    "max_result_window": 10_000,
                    # MAX_TEXT_CHARS of text must stay highlightable
                    "highlight": {"max_analyzed_offset": 1_100_000},
                },
                "analysis": {
                    "tokenizer": {
                        # the query parser's word rule (index.query: runs of letters and digits)
                        "owd_words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"},
                    },
                    "filter": {"owd_max_len": {"type": "length", "max": 40}},
                    "analyzer": {
                        "owd_exact": {"type": "custom", "tokenizer": "owd_words",
                                      "filter": ["lowercase", "owd_max_len"]},
                        # the fallback for languages without a built-in analyzer (hr mt pl sk sl)
                        "owd_folded": {"type": "custom", "tokenizer": "standard",
                                       "filter": ["lowercase", "asciifolding", "owd_max_len"]},
                    },
                },
            },
            "mappings": {
                "dynamic": "strict",
                "_meta": {"owd_format": INDEX_FORMAT},
                # derived fields are indexed, not stored: the source is the index record
                "_source": {"excludes": ["loose_*", "site"]},
                "properties": properties,
            },
        },
    }


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures (429, 5xx, connection errors) are retried: at most
    ``attempts`` tries in all, sleeping ``min(max_backoff, initial_backoff * 2**retry)``
    between them."""

    attempts: int = 6
    initial_backoff: float = 0.5
    max_backoff: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts: at least 1, got {self.attempts}")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff times must not be negative")

    def delay(self, retry: int) -> float:
        return min(self.max_backoff, self.initial_backoff * 2 ** retry)


class IndexingError(BackendError):
    """OpenSearch refused documents for good (4xx items). ``failures`` maps each failed
    document id to the reason OpenSearch gave."""

    def __init__(self, index: str, failures: dict[str, str]) -> None:
        self.index = index
        self.failures = dict(failures)
        shown = list(self.failures.items())[:20]
        more = len(self.failures) - len(shown)
        lines = "; ".join(f"{doc_id}: {reason}" for doc_id, reason in shown)
        super().__init__(f"OpenSearch index {index!r} rejected {len(self.failures)} document(s): {lines}"
                         + (f"; and {more} more" if more else ""))


def _status(exc: TransportError) -> int | str:
    return exc.status_code


def _retryable(status: Any) -> bool:
    # "N/A": no HTTP answer at all (refused, reset, timed out)
    if status == "N/A":
        return True
    return isinstance(status, int) and (status == 429 or (status >= 500 and status not in (501, 505)))


def _iso(t: dt.datetime) -> str:
    t = t.astimezone(_UTC)
    # strftime does not zero-pad years before 1000; OpenSearch's strict formats need four digits
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}."
            f"{t.microsecond // 1000:03d}Z")


def _bound(value: dt.date) -> str:
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=_UTC)
    return _iso(value)


def _reason(info: dict[str, Any]) -> str:
    err = info.get("error")
    if isinstance(err, dict):
        text = f"{err.get('type', 'error')}: {err.get('reason', '')}"
        cause = err.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            text += f" ({cause.get('type', '')}: {cause['reason']})"
    else:
        text = str(err)
    return f"HTTP {info.get('status')} {text}"[:500]


class OpenSearchBackend(SearchBackend):
    """An owd index called ``index`` (an alias) on the OpenSearch cluster at ``url``.

    Created (template, concrete index, alias) when missing unless ``create=False``.
    ``retry`` governs every request; ``shards`` applies to indexes this backend
    creates (one shard keeps facet counts and BM25 statistics exact; use more only
    for very large campaigns). ``client`` replaces the client built from ``url``.
    """

    def __init__(self, url: str | Sequence[str] = DEFAULT_URL, index: str = "owd", *, create: bool = True,
                 include_dropped: bool = False, retry: RetryPolicy | None = None, batch_size: int = 1000,
                 timeout: float = 60.0, shards: int = 1, client: OpenSearch | None = None,
                 embedder: Embedder | None = None) -> None:
        super().__init__(include_dropped=include_dropped, embedder=embedder)
        if not isinstance(index, str) or not _NAME.match(index) or _SEP in index:
            raise BackendError(f"index name {index!r}: use 1-100 lowercase letters, digits, '-' or '_'")
        self.index = index
        self.urls = [url] if isinstance(url, str) else list(url)
        self.url = ", ".join(self.urls)
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.shards = shards
        # The transport's own retries are off: one policy (ours) for every request.
        self._owns_client = client is None
        self._client = client or OpenSearch(hosts=self.urls, timeout=timeout, max_retries=0,
                                            retry_on_timeout=False)
        self._target = index  # where writes go: the alias, or a new index while rebuilding
        self._closed = False
        # One bulk request in flight while the next batch is prepared (see _write).
        self._sender: ThreadPoolExecutor | None = None
        self._in_flight: Future[None] | None = None
        try:
            concrete = self._concrete()
            if not concrete:
                if not create:
                    raise BackendError(f"OpenSearch at {self.url} has no owd index {index!r}")
                self._create_first()
            else:
                self._check_format(concrete)
        except BaseException:
            if self._owns_client:
                self._client.close()
            raise

    def __repr__(self) -> str:
        return f"OpenSearchBackend({self.url!r}, {self.index!r})"

    # ------------------------------------------------------------------ requests

    def _call(self, what: str, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run one request, retrying transient failures; anything else becomes a BackendError
        (except NotFoundError, which callers handle)."""
        self._check_open()
        started = time.monotonic()
        for attempt in range(self.retry.attempts):
            try:
                return fn(*args, **kwargs)
            except NotFoundError:
                raise
            except TransportError as exc:
                if not _retryable(_status(exc)):
                    raise BackendError(f"OpenSearch at {self.url}: {what} failed: {exc}") from exc
                last: TransportError = exc
            if attempt + 1 < self.retry.attempts:
                delay = self.retry.delay(attempt)
                log.warning("OpenSearch at %s: %s failed (%s); retry %d/%d in %.1f s", self.url, what,
                            _short(last), attempt + 1, self.retry.attempts - 1, delay)
                time.sleep(delay)
        raise BackendError(self._unavailable(what, started, _short(last))) from last

    def _unavailable(self, what: str, started: float, error: str) -> str:
        return (f"OpenSearch at {self.url} is unavailable: {what} failed {self.retry.attempts} times "
                f"over {time.monotonic() - started:.1f} s (connection errors, 429 and 5xx are retried with "
                f"backoff); last error: {error}")

    def _concrete(self) -> list[str]:
        """The concrete indexes behind the alias (none when the alias does not exist)."""
        # ignore=404: a missing alias is an answer here, not a failure to log
        found = self._call("reading the alias", self._client.indices.get_alias, name=self.index, ignore=404)
        if found.get("status") == 404 and "error" in found:
            return []
        return sorted(found)

    def _check_format(self, concrete: list[str]) -> None:
        mappings = self._call("reading the mapping", self._client.indices.get_mapping, index=concrete[0])
        meta = (mappings.get(concrete[0], {}).get("mappings", {}).get("_meta") or {})
        fmt = meta.get("owd_format")
        if fmt != INDEX_FORMAT:
            raise BackendError(f"OpenSearch index {self.index!r} ({concrete[0]}) has owd format {fmt!r}, this owd "
                               f"reads format {INDEX_FORMAT}; rebuild it (owd index --rebuild)")

    def _new_index(self, **settings: Any) -> str:
        """Create an empty concrete index from the template (not yet behind the alias)."""
        self._call("writing the index template", self._client.indices.put_index_template, name=TEMPLATE_NAME,
                   body=index_template())
        stamp = dt.datetime.now(_UTC).strftime("%Y%m%d%H%M%S")
        name = f"{self.index}{_SEP}{stamp}-{uuid.uuid4().hex[:6]}"
        body: dict[str, Any] = {"settings": {"index": {"number_of_shards": self.shards, **settings}}}
        self._call("creating an index", self._client.indices.create, index=name, body=body)
        return name

    def _create_first(self) -> None:
        name = self._new_index()
        try:
            self._call("creating the alias", self._client.indices.update_aliases,
                       body={"actions": [{"add": {"index": name, "alias": self.index}}]})
        except BackendError:
            # a concurrent creator won, or the name is taken by a plain index: leave no orphan
            self._call("deleting an index", self._client.indices.delete, index=name, ignore_unavailable=True)
            if not self._concrete():
                raise
            log.info("OpenSearch index %r was created concurrently; using it", self.index)

    def _swap(self, new: str) -> None:
        """Point the alias at ``new`` and delete the old index, in one atomic ``_aliases`` call."""
        old = [name for name in self._concrete() if name != new]
        actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": self.index}}]
        actions += [{"remove_index": {"index": name}} for name in old]
        self._call("moving the alias", self._client.indices.update_aliases, body={"actions": actions})

    # ------------------------------------------------------------------ writing

    def _document(self, record: dict[str, Any]) -> dict[str, Any]:
        doc = dict(record)
        if doc["fetch_time"] is not None:
            doc["fetch_time"] = _iso(doc["fetch_time"])
        if doc["published"] is not None:
            p = doc["published"]
            doc["published"] = f"{p.year:04d}-{p.month:02d}-{p.day:02d}"
        doc["site"] = site_terms(record["host"], record["domain"])
        loose = [record[name] for name in ("title", "text", "description") if record[name]]
        if loose:
            doc[f"loose_{_loose_key(record['lang'])}"] = loose
        return doc

    def _write(self, records: list[dict[str, Any]], removed_ids: list[str],
               vectors: list[np.ndarray | None]) -> None:
        records = [r if v is None else {**r, "vector": [round(float(x), 7) for x in v]}
                   for r, v in zip(records, vectors)]
        # Sources are serialised here (streaming_bulk passes strings through), and the request
        # goes out on a sender thread: while OpenSearch indexes batch k, this thread builds
        # batch k+1. At most one request is in flight; its error surfaces at the next write
        # or at the commit, so add() still fails on the batch that failed.
        dumps = json.dumps
        actions = [{"_op_type": "index", "_index": self._target, "_id": r["id"],
                    "_source": dumps(self._document(r), ensure_ascii=False, separators=(",", ":"),
                                     default=str)}
                   for r in records]
        actions += [{"_op_type": "delete", "_index": self._target, "_id": i} for i in removed_ids]
        self._drain()
        if self._sender is None:
            self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="owd-opensearch-bulk")
        self._in_flight = self._sender.submit(self._bulk, actions)

    def _drain(self) -> None:
        """Wait for the request in flight; raise its error."""
        fut, self._in_flight = self._in_flight, None
        if fut is not None:
            fut.result()

    def _rollback(self) -> None:
        # Nothing to undo (OpenSearch writes through), but the request in flight must end
        # before add() raises; its own error, if any, is secondary to the one being raised.
        with contextlib.suppress(Exception):
            self._drain()

    def _bulk(self, actions: list[dict[str, Any]]) -> None:
        """Send actions with streaming_bulk; retry transient failures (whole requests and single
        items) with backoff; raise IndexingError listing the items refused for good."""
        self._check_open()
        if not actions:
            return
        by_id = {a["_id"]: a for a in actions}
        failed: dict[str, str] = {}
        pending = actions
        started = time.monotonic()
        # Writing through the alias must not auto-create a plain index of that name if the
        # alias was deleted meanwhile; a rebuild writes to its concrete index by name.
        require_alias = self._target == self.index
        last_error = ""
        for attempt in range(self.retry.attempts):
            if attempt:
                delay = self.retry.delay(attempt - 1)
                log.warning("OpenSearch at %s: %d bulk action(s) failed transiently (%s); retry %d/%d in %.1f s",
                            self.url, len(pending), last_error, attempt, self.retry.attempts - 1, delay)
                time.sleep(delay)
            retry: list[dict[str, Any]] = []
            last_error = ""
            for ok, item in helpers.streaming_bulk(
                    self._client, pending, chunk_size=max(1, len(pending)), max_chunk_bytes=MAX_CHUNK_BYTES,
                    raise_on_error=False, raise_on_exception=False, max_retries=0, yield_ok=False,
                    require_alias=require_alias,
                    # only what the item loop reads: less JSON to parse per 1000-item response
                    filter_path="items.*._id,items.*.status,items.*.error"):
                if ok:
                    continue
                op, info = next(iter(item.items()))
                status = info.get("status")
                if op == "delete" and status == 404:  # deleting an unknown id is fine
                    continue
                if _retryable(status):
                    retry.append(by_id[info["_id"]])
                    last_error = _short(info.get("exception")) if info.get("exception") else _reason(info)
                else:
                    failed[info["_id"]] = _reason(info)
            if not retry:
                break
            pending = retry
        else:
            raise BackendError(self._unavailable(f"indexing {len(pending)} document(s)", started, last_error))
        if failed:
            # nothing to roll back (OpenSearch writes through): make the accepted ones visible
            with contextlib.suppress(BackendError):
                self._refresh()
            raise IndexingError(self._target, failed)

    def _refresh(self, index: str | None = None) -> None:
        self._call("refreshing", self._client.indices.refresh, index=index or self._target)

    def _commit(self) -> None:
        self._drain()
        self._refresh()

    def delete(self, ids: Iterable[str]) -> None:
        self._drain()
        ids = list(dict.fromkeys(ids))
        for start in range(0, len(ids), self.batch_size):
            self._bulk([{"_op_type": "delete", "_index": self._target, "_id": i}
                        for i in ids[start:start + self.batch_size]])
        if ids:
            self._refresh()

    def clear(self) -> None:
        """Swap in an empty index: readers see all the old documents until they see none."""
        if self._target != self.index:
            raise BackendError("clear() inside rebuilding(): the rebuild already starts empty")
        self._drain()
        self._swap(self._new_index())

    @contextlib.contextmanager
    def rebuilding(self) -> Iterator[bool]:
        """Write everything added inside the block into a new index; when the block ends,
        the alias moves to it atomically and the old index is deleted. Readers see the old
        documents until then. On an exception the new index is deleted and the old one
        stays. Yields True: the swap is atomic."""
        if self._target != self.index:
            raise BackendError("already rebuilding")
        # no periodic refresh while nobody reads the new index; one refresh before the swap
        new = self._new_index(refresh_interval="-1")
        self._target = new
        try:
            yield True
            self._call("restoring the refresh interval", self._client.indices.put_settings, index=new,
                       body={"index": {"refresh_interval": None}})
            self._refresh(new)
            self._swap(new)
        except BaseException:
            with contextlib.suppress(Exception):
                self._client.indices.delete(index=new, ignore_unavailable=True)
            raise
        finally:
            self._target = self.index

    def drop(self) -> None:
        """Delete the index: every concrete index behind the alias, and with them the alias."""
        for name in self._concrete():
            self._call("deleting an index", self._client.indices.delete, index=name, ignore_unavailable=True)

    def close(self) -> None:
        if not self._closed:
            with contextlib.suppress(Exception):
                self._drain()
            if self._sender is not None:
                self._sender.shutdown(wait=True)
            self._closed = True
            if self._owns_client:
                self._client.close()

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError(f"{self!r} is closed")

    # ------------------------------------------------------------------ query translation

    @staticmethod
    def _filter_clauses(filters: Filters) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for field, values in (("lang", filters.langs), ("site", filters.domains), ("pools", filters.pools),
                              ("media_kinds", filters.media_kinds)):
            if values:
                out.append({"terms": {field: list(values)}})
        if filters.date_from or filters.date_to:
            bounds: dict[str, str] = {}
            if filters.date_from:
                bounds["gte"] = _bound(filters.date_from)
            if filters.date_to:
                bounds["lt"] = _bound(filters.date_to)
            out.append({"range": {"fetch_time": bounds}})
        return out

    @staticmethod
    def _text(leaf: Leaf) -> str:
        return leaf.token if isinstance(leaf, Word) else " ".join(leaf.tokens)

    def _exact(self, field: str, leaf: Leaf, boost: float = 1.0) -> dict[str, Any]:
        # match_phrase: one token is a term query, several must be adjacent (a Word the
        # analyzer splits behaves like the embedded index's phrase of its tokens)
        body: dict[str, Any] = {"query": self._text(leaf)}
        if boost != 1.0:
            body["boost"] = boost
        return {"match_phrase": {field: body}}

    def _leaf_query(self, leaf: Leaf, langs: Sequence[str]) -> dict[str, Any]:
        should = [self._exact(field, leaf, boost) for field, boost in _EXACT_FIELDS]
        if isinstance(leaf, Word):
            keys = sorted({_loose_key(lang) for lang in langs}) if langs else _LOOSE_KEYS
            # each loose field analyses the word with its own language's analyzer
            should.append({"multi_match": {"query": leaf.token, "type": "most_fields", "operator": "and",
                                           "fields": [f"loose_{k}" for k in keys], "boost": LOOSE_BOOST}})
        return {"bool": {"should": should, "minimum_should_match": 1}}

    def _exclusion(self, leaf: Leaf) -> dict[str, Any]:
        return {"bool": {"should": [self._exact(field, leaf) for field, _ in _EXACT_FIELDS],
                         "minimum_should_match": 1}}

    def _query(self, parsed: ParsedQuery, filters: Filters) -> dict[str, Any]:
        if parsed.match_none:
            return {"match_none": {}}
        must: list[dict[str, Any]] = []
        for clause in parsed.ast.must:
            leaves: Sequence[Leaf] = clause.options if isinstance(clause, AnyOf) else (clause,)
            options = [self._leaf_query(leaf, filters.langs) for leaf in leaves]
            must.append(options[0] if len(options) == 1 else {"bool": {"should": options,
                                                                        "minimum_should_match": 1}})
        query: dict[str, Any] = {"must": must or [{"match_all": {}}]}
        if parsed.ast.must_not:
            query["must_not"] = [self._exclusion(leaf) for leaf in parsed.ast.must_not]
        filter_clauses = self._filter_clauses(filters)
        if filter_clauses:
            query["filter"] = filter_clauses  # no score, as the embedded index's 0-weight filters
        return {"bool": query}

    def _highlight(self, parsed: ParsedQuery) -> dict[str, Any] | None:
        leaves = parsed.ast.positive_leaves()
        if not leaves:
            return None
        # Only exact words of the positive clauses are marked (no stems, no exclusions).
        hq = {"bool": {"should": [self._exact(field, leaf) for leaf in leaves for field in ("text", "description")]}}
        return {"type": "unified", "pre_tags": [_PRE], "post_tags": [_POST], "fragment_size": SNIPPET_CHARS,
                "number_of_fragments": 1, "highlight_query": hq, "fields": {"text": {}, "description": {}}}

    # ------------------------------------------------------------------ reading

    def count(self, filters: Filters | None = None) -> int:
        clauses = self._filter_clauses(filters or Filters())
        body = {"query": {"bool": {"filter": clauses}} if clauses else {"match_all": {}}}
        try:
            found = self._call("counting", self._client.count, index=self.index, body=body)
        except NotFoundError as exc:
            raise BackendError(f"OpenSearch at {self.url} has no owd index {self.index!r}") from exc
        return int(found["count"])

    def _search(self, query: SearchQuery) -> SearchResult:
        parsed = query.parsed
        filters = query.effective_filters
        body: dict[str, Any] = {
            "query": self._query(parsed, filters),
            "from": query.offset, "size": query.page_size,
            "track_total_hits": True,
            "_source": {"includes": list(_HIT_SOURCE)},
        }
        if parsed.match_all:
            # no words to rank by: newest first (documents without a fetch time last)
            body["sort"] = [{"fetch_time": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
        else:
            # the id breaks score ties, so pages never overlap and the order is stable
            body["sort"] = [{"_score": "desc"}, {"id": "asc"}]
            body["track_scores"] = True
        highlight = self._highlight(parsed) if query.highlight else None
        if highlight:
            body["highlight"] = highlight
        if query.facets:
            body["aggs"] = _aggs(query)
        try:
            found = self._call("searching", self._client.search, index=self.index, body=body)
        except NotFoundError as exc:
            raise BackendError(f"OpenSearch at {self.url} has no owd index {self.index!r}") from exc
        hits = [_hit(h, 0.0 if parsed.match_all else float(h.get("_score") or 0.0), bool(highlight))
                for h in found["hits"]["hits"]]
        return SearchResult(total=int(found["hits"]["total"]["value"]), hits=hits,
                            facets=_facet_counts(found, query.facets))

    def get(self, doc_id: str) -> dict[str, Any] | None:
        # ignore=404: an unknown id is an answer, not a failure to log
        found = self._call("getting a document", self._client.get, index=self.index, id=doc_id, ignore=404)
        if "error" in found:
            raise BackendError(f"OpenSearch at {self.url} has no owd index {self.index!r}")
        if not found.get("found"):
            return None
        src = found.get("_source") or {}
        record = {name: src.get(name) for name in RECORD_FIELDS}
        record["fetch_time"] = _parse_time(record["fetch_time"])
        if record["published"] is not None:
            record["published"] = dt.date.fromisoformat(record["published"])
        record["pools"] = list(record["pools"] or [])
        record["media_kinds"] = list(record["media_kinds"] or [])
        return record

    # ------------------------------------------------------------------ vectors (the k-NN plugin)

    def _search_body(self, what: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._call(what, self._client.search, index=self.index, body=body)
        except NotFoundError as exc:
            raise BackendError(f"OpenSearch at {self.url} has no owd index {self.index!r}") from exc

    def has_vectors(self) -> bool:
        body = {"query": {"exists": {"field": "vector"}}}
        try:
            found = self._call("counting vectors", self._client.count, index=self.index, body=body)
        except NotFoundError as exc:
            raise BackendError(f"OpenSearch at {self.url} has no owd index {self.index!r}") from exc
        return int(found["count"]) > 0

    def get_vector(self, doc_id: str) -> np.ndarray | None:
        import numpy as np

        found = self._call("getting a vector", self._client.get, index=self.index, id=doc_id,
                           _source_includes="vector", ignore=404)
        vec = (found.get("_source") or {}).get("vector") if found.get("found") else None
        return None if vec is None else np.asarray(vec, dtype=np.float32)

    def _nearest(self, vector: np.ndarray, filters: Filters, parsed: ParsedQuery | None,
                 k: int) -> list[tuple[str, float]]:
        knn: dict[str, Any] = {"vector": [float(x) for x in vector], "k": k,
                               # the Lucene engine explores about k candidates by default, which
                               # loses neighbours (recall@10 0.65-0.72 on random vectors, measured)
                               "method_parameters": {"ef_search": max(KNN_EF_SEARCH, k)}}
        restrict: dict[str, Any] = {}
        clauses = self._filter_clauses(filters)
        if clauses:
            restrict["filter"] = clauses
        if parsed is not None and parsed.ast.must_not:
            restrict["must_not"] = [self._exclusion(leaf) for leaf in parsed.ast.must_not]
        if restrict:
            # inside the knn clause: applied during the graph search, so k neighbours that
            # pass come back (a bool filter beside it would filter the k found afterwards)
            knn["filter"] = {"bool": restrict}
        body = {"size": k, "query": {"knn": {"vector": knn}}, "_source": ["id"],
                "sort": [{"_score": "desc"}, {"id": "asc"}], "track_scores": True}
        found = self._search_body("searching vectors", body)
        # the plugin's cosine score is (1 + cos) / 2
        pairs = [(h["_source"]["id"], round(2.0 * float(h["_score"]) - 1.0, 6)) for h in found["hits"]["hits"]]
        return sorted(pairs, key=lambda p: (-p[1], p[0]))

    def _hits_for(self, doc_ids: list[str], query: SearchQuery) -> dict[str, Hit]:
        if not doc_ids:
            return {}
        body: dict[str, Any] = {"size": len(doc_ids), "query": {"ids": {"values": list(doc_ids)}},
                                "_source": {"includes": list(_HIT_SOURCE)}}
        highlight = self._highlight(query.parsed) if query.highlight else None
        if highlight:
            body["highlight"] = highlight
        found = self._search_body("reading hits", body)
        hits = [_hit(h, 0.0, bool(highlight)) for h in found["hits"]["hits"]]
        return {h.id: h for h in hits}

    def _facets_for(self, doc_ids: list[str], query: SearchQuery) -> dict[str, dict[str, int]]:
        body = {"size": 0, "query": {"ids": {"values": list(doc_ids)}}, "aggs": _aggs(query)}
        return _facet_counts(self._search_body("counting facets", body), query.facets)


_HIT_SOURCE = ("id", "url", "title", "lang", "domain", "fetch_time", "text", "description")


def _hit(h: dict[str, Any], score: float, highlighted: bool) -> Hit:
    src = h.get("_source", {})
    return Hit(id=src["id"], url=src["url"], title=src.get("title"), lang=src.get("lang"), domain=src.get("domain"),
               score=score, snippet=_snippet(src, h.get("highlight", {})) if highlighted else
               excerpt(src.get("text") or src.get("description")),
               fetch_time=_parse_time(src.get("fetch_time")))


def _aggs(query: SearchQuery) -> dict[str, Any]:
    return {name: {"terms": {"field": _FACET_FIELDS[name], "size": query.facet_size,
                             "shard_size": max(FACET_SHARD_SIZE, query.facet_size),
                             "order": [{"_count": "desc"}, {"_key": "asc"}]}}
            for name in query.facets}


def _facet_counts(found: dict[str, Any], names: Sequence[str]) -> dict[str, dict[str, int]]:
    facets = {}
    for name in names:
        buckets = found.get("aggregations", {}).get(name, {}).get("buckets", [])
        facets[name] = {str(b["key"]): int(b["doc_count"]) for b in buckets}
    return facets


def _short(exc: Any) -> str:
    if isinstance(exc, OSConnectionError) and exc.info is not None:
        # the transport's own text repeats the cause twice; the cause alone says it
        text = f"{type(exc).__name__}: {exc.info}"
    elif isinstance(exc, BaseException):
        text = f"{type(exc).__name__}: {exc}"
    else:
        text = str(exc)
    return text if len(text) <= 300 else text[:300] + "…"


def _parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    t = dt.datetime.fromisoformat(value)
    return t.replace(tzinfo=_UTC) if t.tzinfo is None else t.astimezone(_UTC)


_MARKED = re.compile(f"{_PRE}(.*?){_POST}", re.S)


def _snippet(src: dict[str, Any], highlight: dict[str, list[str]]) -> str:
    """The highlighted fragment of the text (else of the description) as HTML: escaped, the
    highlighter's marks turned into <mark>, an ellipsis where words were cut off; the start
    of the text when nothing was highlighted."""
    for field in ("text", "description"):
        fragments = highlight.get(field)
        value = src.get(field)
        if not fragments or not value:
            continue
        fragment = fragments[0]
        plain, spans, pos = [], [], 0
        for m in _MARKED.finditer(fragment):  # the highlighter's markers -> character spans
            plain.append(fragment[pos:m.start()])
            start = sum(map(len, plain))
            plain.append(m.group(1))
            spans.append((start, start + len(m.group(1))))
            pos = m.end()
        plain.append(fragment[pos:])
        text = "".join(plain)
        stripped = text.strip()
        at = value.find(stripped)
        end = at + len(stripped)
        return marked_snippet(text, spans, before=at > 0 and has_word(value[max(0, at - CUT_OFF_WINDOW):at]),
                              after=at >= 0 and has_word(value[end:end + CUT_OFF_WINDOW]))
    return excerpt(src.get("text") or src.get("description"))
