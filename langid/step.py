"""The language identification step (owd.core.step)."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

from owd.core.config import CampaignConfig
from owd.core.schema import Document
from owd.core.step import DocumentStep, Shard
from owd.langid.identify import LanguageIdentifier

__all__ = ["LanguageStep"]


class LanguageStep(DocumentStep):
    """lang, lang_score, lang_topk and script of every document (:class:`LanguageIdentifier`).

    The identifier keeps running totals over its life (a worker's); the shard's share
    goes into the shard's ``stats``, so every counter of the identifier reaches
    ``.stats.json``.
    """

    name = "langid"
    counters = ("langid/docs", "langid/texts", "langid/no_lang/empty_text", "langid/no_lang/no_letters")

    def __init__(self, identifier: LanguageIdentifier) -> None:
        self.identifier = identifier

    @classmethod
    def from_config(cls, cfg: CampaignConfig) -> "LanguageStep":
        return cls(LanguageIdentifier(k=cfg.process.langid_top_k))

    def run(self, docs: Iterable[Document], shard: Shard, stats: Counter[str]) -> Iterator[Document]:
        before = Counter(self.identifier.stats)
        try:
            for doc in docs:
                yield self.identifier.annotate(doc)
        finally:  # also when the consumer stops early: the counts so far are true
            stats.update(self.identifier.stats - before)
