"""owd stage package: index -- search over a campaign's documents.

One contract (:class:`SearchBackend`, :mod:`owd.index.base`) with typed requests and
results, a safe query language (:mod:`owd.index.query`), the embedded tantivy backend
(:class:`~index.embedded.EmbeddedBackend`, the default; imported lazily), the
OpenSearch backend (:class:`~index.opensearch.OpenSearchBackend`; imported lazily),
semantic and hybrid modes over document vectors (:mod:`owd.index.embed`,
:mod:`owd.index.vector_shards`, :mod:`owd.index.vector_index`),
:func:`~index.open.open_backend` to open either by name, and the incremental campaign
indexer (:func:`~index.build.index_campaign`).
"""

from owd.index.base import (
    FACETS,
    MODES,
    BackendError,
    NoVectorsError,
    Filters,
    Hit,
    QueryError,
    SearchBackend,
    SearchQuery,
    SearchResult,
    to_record,
)
from owd.index.build import IndexSummary, index_campaign
from owd.index.open import BACKENDS, open_backend, state_path
from owd.index.query import parse

__all__ = [
    "SearchBackend",
    "SearchQuery",
    "Filters",
    "SearchResult",
    "Hit",
    "QueryError",
    "BackendError",
    "NoVectorsError",
    "FACETS",
    "MODES",
    "to_record",
    "parse",
    "IndexSummary",
    "index_campaign",
    "BACKENDS",
    "open_backend",
    "state_path",
]
