"""The dedup package's per-shard step (owd.core.step): MinHash signatures."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

from owd.core.config import CampaignConfig
from owd.core.schema import Document
from owd.core.step import DocumentStep, Shard
from owd.dedup.minhash import MinhashConfig
from owd.dedup.steps import SignatureStep

__all__ = ["SignatureShardStep"]

_PREFIX = "dedup/signatures/"


class SignatureShardStep(DocumentStep):
    """Writes ``dedup/signatures/<shard>.parquet`` (:class:`SignatureStep`) and passes the
    documents on unchanged. Counts ``dedup/signatures/{docs,signed,skipped_dropped,
    skipped_no_words}``; a shard already signed from the same documents (same MinHash config,
    same ``shard.made_from``) is not signed again and its counts are read back from the file."""

    name = "dedup"
    counters = tuple(f"{_PREFIX}{what}" for what in ("docs", "signed", "skipped_dropped", "skipped_no_words"))

    def __init__(self, signatures: SignatureStep) -> None:
        self.signatures = signatures

    @classmethod
    def from_config(cls, cfg: CampaignConfig) -> "SignatureShardStep":
        return cls(SignatureStep(cfg.campaign_dir / "dedup", MinhashConfig()))

    def run(self, docs: Iterable[Document], shard: Shard, stats: Counter[str]) -> Iterator[Document]:
        if self.signatures.is_signed(shard.id, shard.made_from):
            yield from docs
        else:  # signed as they pass; the file is put in place after the last one
            yield from self.signatures.signed(shard.id, docs, shard.made_from)
        stats.update({f"{_PREFIX}{k}": n for k, n in self.signatures.last_shard_stats.items()})
