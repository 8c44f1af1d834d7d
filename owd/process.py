"""``owd process``: a campaign's WARC files -> clean, language-tagged, deduplicated documents.

The local runner. Per WARC file (the shard; ``.warc.gz`` as the crawler writes
them, or uncompressed ``.warc``): extract -> language ID -> quality signals -> PII
pseudonymisation -> MinHash signature, written as ``docs/<shard id>.parquet``
(:func:`shard_id_of`; temporary name, then rename: a finished shard is skipped on
rerun). Then the global dedup steps (band buckets -> clusters), and
the cluster ids are applied to every shard. The stages are plain code; the Ray
runner (issue 7) drives the same functions.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from owd.core.config import CampaignConfig
from owd.core.schema import Document, read_parquet, write_parquet

__all__ = ["ProcessSummary", "ShardProcessor", "process_campaign", "campaign_warcs", "shard_id_of", "warc_files",
           "open_warc_files", "prepare_campaign_dirs", "apply_clusters_to_shard", "quiet_libraries"]

log = logging.getLogger(__name__)

WARC_SUFFIX = ".warc.gz"  # what our crawler writes
PLAIN_WARC_SUFFIX = ".warc"  # uncompressed WARC (from elsewhere, or unpacked): FastWARC reads it too
OPEN_SUFFIX = ".open"  # a file still being written (or left by a crash until `owd crawl --resume`)


@dataclass
class ProcessSummary:
    shards_done: int = 0
    shards_skipped: int = 0
    documents: int = 0
    kept: int = 0
    languages: Counter[str] = field(default_factory=Counter)
    drop_reasons: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    clusters: int = 0
    stats: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def merge(self, other: "ProcessSummary") -> None:
        """Add another (partial) summary's counts; ``seconds`` is the caller's to set."""
        for name in ("shards_done", "shards_skipped", "documents", "kept", "duplicates", "clusters"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("languages", "drop_reasons", "stats"):
            getattr(self, name).update(getattr(other, name))


def warc_files(warc_root: Path) -> list[Path]:
    """Closed WARC files (``.warc.gz`` and uncompressed ``.warc``) in every worker folder
    under ``warc_root``, in a stable order. ``.open`` files are still being written.

    The one listing of a campaign's WARC files: processing, the report and ``owd
    status`` count the same files.
    """
    found = [p for p in warc_root.glob("*/*.warc*") if p.name.endswith((WARC_SUFFIX, PLAIN_WARC_SUFFIX))]
    return sorted(p for p in found if p.is_file())


def open_warc_files(warc_root: Path) -> list[Path]:
    """WARC files still being written (``*.warc.gz.open``, ``*.warc.open``) under ``warc_root``."""
    return sorted(p for p in warc_root.glob(f"*/*{OPEN_SUFFIX}")
                  if p.name.removesuffix(OPEN_SUFFIX).endswith((WARC_SUFFIX, PLAIN_WARC_SUFFIX)))


def campaign_warcs(cfg: CampaignConfig) -> list[Path]:
    """Closed WARC files of every worker, in a stable order (see :func:`warc_files`).

    Raises ``ValueError`` when two files would write the same docs shard (the same
    name in two worker folders): one would silently stand for both.
    """
    warcs = warc_files(cfg.campaign_dir / "warc")
    seen: dict[str, Path] = {}
    for warc in warcs:
        other = seen.setdefault(shard_id_of(warc), warc)
        if other != warc:
            raise ValueError(f"{other} and {warc} would both be docs shard {shard_id_of(warc)!r}; rename one")
    return warcs


def shard_id_of(warc: Path) -> str:
    """The docs shard name of a WARC file: ``x.warc.gz`` -> ``x`` (as always, so finished
    shards stay finished); an uncompressed ``x.warc`` keeps its whole name, ``x.warc``,
    so it never takes the shard of an ``x.warc.gz`` beside it."""
    if warc.name.endswith(WARC_SUFFIX):
        return warc.name[: -len(WARC_SUFFIX)]
    if warc.name.endswith(PLAIN_WARC_SUFFIX):
        return warc.name
    raise ValueError(f"not a WARC file name (.warc.gz or .warc): {warc.name}")


class ShardProcessor:
    """Runs the per-document stages over one shard; heavy objects (the fastText model)
    are built once per processor, i.e. once per worker."""

    def __init__(self, cfg: CampaignConfig) -> None:
        from owd.dedup.minhash import MinhashConfig
        from owd.dedup.steps import SignatureStep
        from owd.extract.html import ExtractLimits
        from owd.langid.identify import LanguageIdentifier

        p = cfg.process
        self.cfg = cfg
        self.limits = ExtractLimits(max_bytes=int(p.max_html_bytes), timeout_s=p.doc_timeout)
        self.identifier = LanguageIdentifier(k=p.langid_top_k)
        self.signatures = SignatureStep(cfg.campaign_dir / "dedup", MinhashConfig())

    def run(self, warc: Path, stats: Counter[str]) -> list[Document]:
        from owd.extract import pii, quality
        from owd.extract.shard import extract_warc

        # The language identifier counts into its own stats over the processor's life, the
        # signature step per shard: this shard's share goes into ``stats`` (its .stats.json).
        langid_before = Counter(self.identifier.stats)
        docs = extract_warc(warc, campaign=self.cfg.campaign, worker=warc.parent.name, stats=stats,
                            limits=self.limits)
        p = self.cfg.process
        # Each stage returns the annotated document (some return copies).
        docs = [pii.annotate(quality.annotate(self.identifier.annotate(doc), p.quality), p.pii) for doc in docs]
        docs.sort(key=lambda d: d.id)  # a shard's row order never depends on read order
        self.signatures.run(shard_id_of(warc), docs)
        stats.update(Counter(self.identifier.stats) - langid_before)
        stats.update({f"dedup/signatures/{k}": n for k, n in self.signatures.last_shard_stats.items()})
        return docs

    def write_shard(self, warc: Path, docs_dir: Path) -> tuple[int, Counter[str]]:
        """Run one shard and write ``docs/<stem>.parquet`` (+ ``.stats.json``); returns (documents, stats).

        The Parquet file is renamed into place last, so its presence means the shard is done.
        """
        shard_stats: Counter[str] = Counter()
        docs = self.run(warc, shard_stats)
        write_parquet(docs, docs_dir / f"{shard_id_of(warc)}.parquet")
        (docs_dir / f"{shard_id_of(warc)}.stats.json").write_text(json.dumps(dict(sorted(shard_stats.items())), indent=1))
        return len(docs), shard_stats


def prepare_campaign_dirs(cfg: CampaignConfig, force: bool) -> tuple[Path, Path]:
    """``docs/`` and ``dedup/`` of the campaign (emptied first with ``force``)."""
    root = cfg.campaign_dir
    docs_dir, dedup_dir = root / "docs", root / "dedup"
    if force:
        shutil.rmtree(docs_dir, ignore_errors=True)
        shutil.rmtree(dedup_dir, ignore_errors=True)
    docs_dir.mkdir(parents=True, exist_ok=True)
    return docs_dir, dedup_dir


def apply_clusters_to_shard(shard: Path, clusters: Path, fetch_dates: Path | None = None) -> ProcessSummary:
    """Rewrite one ``docs/`` shard with its cluster ids and first/last-seen dates
    (dedup/fetch_dates.py); returns that shard's document tally."""
    from owd.dedup.fetch_dates import apply_fetch_dates
    from owd.dedup.steps import apply_clusters

    docs = apply_fetch_dates(apply_clusters(read_parquet(shard), clusters), fetch_dates)
    write_parquet(docs, shard)
    part = ProcessSummary()
    _tally(part, docs)
    return part


def quiet_libraries() -> None:
    # trafilatura logs every unusable page at ERROR; the extract stage already counts
    # each one with its reason, so the log line is noise in a pipeline run.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def process_campaign(cfg: CampaignConfig, force: bool = False,
                     progress: Callable[[str], None] = lambda line: log.info(line)) -> ProcessSummary:
    """Process every WARC file of the campaign; skip finished shards unless ``force``."""
    from owd.dedup.fetch_dates import FetchDatesStep
    from owd.dedup.steps import BucketStep, ClusterStep

    quiet_libraries()
    started = time.time()
    docs_dir, dedup_dir = prepare_campaign_dirs(cfg, force)
    summary = ProcessSummary()
    warcs = campaign_warcs(cfg)
    processor: ShardProcessor | None = None
    for i, warc in enumerate(warcs, 1):
        out = docs_dir / f"{shard_id_of(warc)}.parquet"
        if out.exists():
            summary.shards_skipped += 1
            continue
        processor = processor or ShardProcessor(cfg)
        t0 = time.time()
        n_docs, shard_stats = processor.write_shard(warc, docs_dir)
        summary.shards_done += 1
        summary.stats.update(shard_stats)
        progress(f"process: shard {i}/{len(warcs)} {warc.name}: {n_docs} documents in {time.time() - t0:.1f} s")

    shards = [docs_dir / f"{shard_id_of(w)}.parquet" for w in warcs]
    if shards:
        progress("process: dedup (band buckets, clusters, fetch dates)")
        BucketStep(dedup_dir).run()
        clusters = ClusterStep(dedup_dir, keep=cfg.process.dedup_keep).run()
        dates = FetchDatesStep(dedup_dir).run(warcs)
        for shard in shards:
            summary.merge(apply_clusters_to_shard(shard, clusters, dates))
    summary.seconds = time.time() - started
    return summary


def _tally(summary: ProcessSummary, docs: list[Document]) -> None:
    for doc in docs:
        summary.documents += 1
        if doc.drop_reason:
            summary.drop_reasons[doc.drop_reason.split(":")[0]] += 1
        else:
            summary.kept += 1
            summary.languages[doc.lang or "?"] += 1
        if doc.dup_cluster_size and doc.dup_cluster_size > 1:
            summary.duplicates += 1
            if doc.dup_cluster_id == doc.id:
                summary.clusters += 1
