"""The extract package's steps (owd.core.step): read + extract, quality signals, PII."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

from owd.core.config import CampaignConfig
from owd.core.pii_config import PII_KINDS, PiiConfig
from owd.core.quality_config import QualityConfig
from owd.core.schema import Document, drop_kind
from owd.core.step import DocumentStep, MapStep, Shard
from owd.extract import pii, quality
from owd.extract.html import ExtractLimits
from owd.extract.collections import collection_format, iter_collection_documents
from owd.extract.provenance import read_origins, with_source
from owd.extract.shard import iter_documents

__all__ = ["ExtractStep", "QualityStep", "PiiStep"]


class ExtractStep(DocumentStep):
    """The reader: every HTML page of the shard's WARC file as a document, media joined
    (:func:`owd.extract.shard.iter_documents`), in file order, one at a time."""

    name = "extract"
    counters = ("warc/records", "extract/documents")

    def __init__(self, limits: ExtractLimits) -> None:
        self.limits = limits

    @classmethod
    def from_config(cls, cfg: CampaignConfig) -> "ExtractStep":
        p = cfg.process
        return cls(ExtractLimits(max_bytes=int(p.max_html_bytes), timeout_s=p.doc_timeout, extractor=p.extractor))

    def run(self, docs: Iterable[Document], shard: Shard, stats: Counter[str]) -> Iterator[Document]:
        source = shard.source
        if source is None:
            yield from iter_documents(shard.warc, campaign=shard.campaign, worker=shard.worker, stats=stats,
                                      limits=self.limits)
        elif collection_format(shard.warc) is not None:  # extracted by others: mapped, not extracted again
            yield from iter_collection_documents(shard.warc, source=source, campaign=shard.campaign, stats=stats)
        else:  # WARC records of another collection: extracted like our own, provenance added
            origins = read_origins(shard.warc)
            for doc in iter_documents(shard.warc, campaign=shard.campaign, worker=None, stats=stats,
                                      limits=self.limits):
                yield with_source(doc, source, origins.get(doc.warc_offset or 0))


class QualityStep(MapStep):
    """Gopher, C4 and FineWeb signals and the first failing rule (:mod:`owd.extract.quality`);
    counts ``quality/dropped/<filter>`` for the documents this step gives a drop reason."""

    name = "quality"
    counters = ("quality/docs", "quality/dropped")

    def __init__(self, cfg: QualityConfig) -> None:
        self.cfg = cfg

    @classmethod
    def from_config(cls, cfg: CampaignConfig) -> "QualityStep":
        return cls(cfg.process.quality)

    def apply(self, doc: Document, stats: Counter[str]) -> None:
        stats["quality/docs"] += 1
        before = doc.drop_reason
        quality.annotate(doc, self.cfg)
        if doc.drop_reason is not None and doc.drop_reason != before:
            stats["quality/dropped"] += 1
            stats[f"quality/dropped/{drop_kind(doc.drop_reason)}"] += 1


class PiiStep(MapStep):
    """Pseudonymised e-mail addresses, phone numbers, IPs and IBANs (:mod:`owd.extract.pii`);
    counts ``pii/replaced/<kind>``."""

    name = "pii"
    counters = ("pii/docs", *(f"pii/replaced/{kind}" for kind in PII_KINDS))

    def __init__(self, cfg: PiiConfig) -> None:
        self.cfg = cfg

    @classmethod
    def from_config(cls, cfg: CampaignConfig) -> "PiiStep":
        return cls(cfg.process.pii)

    def apply(self, doc: Document, stats: Counter[str]) -> None:
        stats["pii/docs"] += 1
        pii.annotate(doc, self.cfg)
        if doc.pii is not None:
            for kind in PII_KINDS:
                stats[f"pii/replaced/{kind}"] += getattr(doc.pii, kind)
