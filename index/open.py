"""Open a campaign's search index by backend name: one place for the CLI and ``owd serve``.

    with open_backend(cfg, "opensearch", url=None, index_name=None, create=False) as backend:
        backend.search(...)

``embedded``: the tantivy index under ``<campaign>/index/tantivy``. ``opensearch``: the
alias ``index_name`` (default: the campaign name) on the cluster at ``url`` (default:
``$OWD_OPENSEARCH_URL``, else ``http://127.0.0.1:9200``). Engine modules are imported
only when chosen, so the embedded path never needs opensearch-py and vice versa.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from owd.index.base import SearchBackend

if TYPE_CHECKING:
    from owd.core.config import CampaignConfig

__all__ = ["BACKENDS", "open_backend", "state_path", "default_url"]

BACKENDS: tuple[str, ...] = ("embedded", "opensearch")
BackendName = Literal["embedded", "opensearch"]


def default_url() -> str:
    """``$OWD_OPENSEARCH_URL`` when set, else a node on this machine's default port."""
    return os.environ.get("OWD_OPENSEARCH_URL", "").strip() or "http://127.0.0.1:9200"


def _index_name(cfg: CampaignConfig, index_name: str | None) -> str:
    return index_name or cfg.campaign


def open_backend(cfg: CampaignConfig, backend: str = "embedded", url: str | None = None,
                 index_name: str | None = None, create: bool = False) -> SearchBackend:
    """The campaign's index on ``backend``; ``create`` makes it when missing (else
    :class:`~index.base.BackendError` says it is not there)."""
    if backend == "embedded":
        from owd.index.embedded import EmbeddedBackend

        return EmbeddedBackend(cfg.campaign_dir / "index" / "tantivy", create=create)
    if backend == "opensearch":
        from owd.index.opensearch import OpenSearchBackend

        return OpenSearchBackend(url or default_url(), _index_name(cfg, index_name), create=create)
    raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")


def state_path(cfg: CampaignConfig, backend: str = "embedded", index_name: str | None = None) -> Path:
    """The incremental indexer's state file, one per backend (and per OpenSearch index):
    a shard indexed into one engine is not indexed into another."""
    if backend == "embedded":
        return cfg.campaign_dir / "index" / "state-embedded.json"
    return cfg.campaign_dir / "index" / f"state-{backend}-{_index_name(cfg, index_name)}.json"
