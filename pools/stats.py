"""What a pool holds, counted while it is built: the numbers behind the data cards."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["PoolStats", "CHARS_PER_TOKEN"]

# Rule of thumb for BPE tokenizers on European-language web text (GPT-style
# vocabularies give 3.5-4.5 characters per token on Latin scripts, fewer on Greek and
# Cyrillic); the AI Act template asks for an order of magnitude, not an exact count.
CHARS_PER_TOKEN = 4.0


@dataclass
class PoolStats:
    documents: int = 0
    text_bytes: int = 0  # UTF-8 bytes of `text`: the "content size" domains are ranked by
    chars: int = 0
    by_lang_docs: Counter[str] = field(default_factory=Counter)
    by_lang_bytes: Counter[str] = field(default_factory=Counter)
    by_domain_bytes: Counter[str] = field(default_factory=Counter)
    by_domain_docs: Counter[str] = field(default_factory=Counter)
    licenses: Counter[str] = field(default_factory=Counter)
    media_kinds: Counter[str] = field(default_factory=Counter)
    workers: set[str] = field(default_factory=set)
    first_fetch: dt.datetime | None = None
    last_fetch: dt.datetime | None = None
    # Reserved documents (TDMRep or noai) that matched every other rule: in the pool
    # (tdm: include) or left out (tdm: exclude).
    reserved_in_pool_docs: int = 0
    reserved_in_pool_bytes: int = 0
    reserved_excluded_docs: int = 0
    reserved_excluded_bytes: int = 0
    reserved_sources: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)  # campaign documents left out, by first failed rule
    # What `owd process` left on the documents, for the cards' processing statements.
    # Every pool sees every campaign document, so the campaign counts are the same in each.
    campaign_documents: int = 0
    campaign_drops: Counter[str] = field(default_factory=Counter)  # by drop-reason stage ("c4", "duplicate", ...)
    campaign_deduplicated: int = 0  # documents with a duplicate cluster id: dedup ran over them
    pii_replacements: Counter[str] = field(default_factory=Counter)  # in the pool's documents, by kind

    def observe(self, record: Mapping[str, Any]) -> None:
        """Count one campaign document's processing marks (call once per document, in or out)."""
        self.campaign_documents += 1
        reason = record.get("drop_reason")
        if reason:
            self.campaign_drops[reason.split(":", 1)[0]] += 1
        if record.get("dup_cluster_id") is not None:
            self.campaign_deduplicated += 1

    def add(self, record: Mapping[str, Any], text_bytes: int, reserved: bool) -> None:
        """Count one document of the pool."""
        self.documents += 1
        self.text_bytes += text_bytes
        self.chars += len(record.get("text") or "")
        lang = record["lang"]
        self.by_lang_docs[lang] += 1
        self.by_lang_bytes[lang] += text_bytes
        site = record.get("domain") or record["host"]
        self.by_domain_bytes[site] += text_bytes
        self.by_domain_docs[site] += 1
        self.licenses[record.get("license_url") or "none"] += 1
        for kind in {m["kind"] for m in record.get("media") or ()}:
            self.media_kinds[kind] += 1
        if record.get("worker"):
            self.workers.add(record["worker"])
        for kind, n in (record.get("pii") or {}).items():
            if n:
                self.pii_replacements[kind] += n
        t = record.get("fetch_time")
        if t is not None:
            self.first_fetch = t if self.first_fetch is None else min(self.first_fetch, t)
            self.last_fetch = t if self.last_fetch is None else max(self.last_fetch, t)
        if reserved:
            self.reserved_in_pool_docs += 1
            self.reserved_in_pool_bytes += text_bytes
            self.reserved_sources[_source(record)] += 1

    def reject(self, record: Mapping[str, Any], reason: str, text_bytes: int) -> None:
        """Count one campaign document the pool left out."""
        self.rejected[reason] += 1
        if reason == "tdm":
            self.reserved_excluded_docs += 1
            self.reserved_excluded_bytes += text_bytes
            self.reserved_sources[_source(record)] += 1

    @property
    def approx_tokens(self) -> int:
        return round(self.chars / CHARS_PER_TOKEN)


def _source(record: Mapping[str, Any]) -> str:
    if record.get("tdm_reservation") is True:
        return f"tdmrep:{record.get('tdm_source') or 'unknown'}"
    return "robots-meta:noai"
