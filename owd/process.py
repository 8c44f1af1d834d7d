"""``owd process``: a campaign's WARC files -> clean, language-tagged, deduplicated documents.

Per WARC file (the shard; ``.warc.gz`` as the crawler writes them, or uncompressed
``.warc``) the document steps of owd/pipeline.py run (extract -> language ID -> quality
signals -> PII pseudonymisation -> MinHash signature) and write its ``.stats.json`` and
then ``docs/<shard id>.parquet`` (:func:`shard_id_of`; temporary name, then rename).
Then the campaign steps (band buckets -> clusters -> fetch dates -> cluster ids applied
to every shard). A shard is finished when its Parquet file records the fingerprint of
what it was made from (the WARC file, the steps, the settings: owd.core.done), so a rerun
redoes exactly the shards whose inputs or settings changed.

Which executor runs the work is the caller's choice and nothing else changes: this
process, a pool of local processes (the default: all CPUs, at most one per shard and per
4 MiB of WARC) or Ray (owd/ray_executor.py). The files are the same, byte for byte
(tests/test_executors.py).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from owd.campaign_steps import ApplyClusters
from owd.core.config import CampaignConfig
from owd.core.done import parquet_made_from
from owd.core.step import CampaignStep, DocumentStep, Executor, Shard
from owd.executors import LocalExecutor, available_cpus, quiet_libraries
from owd.pipeline import CAMPAIGN_STEPS, DOCUMENT_STEPS, ShardResult, ShardTask, process_shard, shard_made_from

__all__ = ["ProcessSummary", "process_campaign", "campaign_warcs", "campaign_shards", "default_workers",
           "ingest_inputs", "ingest_shard_id",
           "shard_id_of", "warc_files",
           "open_warc_files", "prepare_campaign_dirs", "quiet_libraries"]

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

    def add_tally(self, tally: Counter[str]) -> None:
        """Add a document tally (:func:`owd.campaign_steps.tally`) to the document counts."""
        self.documents += tally["documents"]
        self.kept += tally["kept"]
        self.duplicates += tally["duplicates"]
        self.clusters += tally["clusters"]
        for key, n in tally.items():
            kind, _, value = key.partition("/")
            if kind == "lang":
                self.languages[value] += n
            elif kind == "dropped":
                self.drop_reasons[value] += n


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


def ingest_inputs(cfg: CampaignConfig) -> list[Path]:
    """Files fetched by ``owd ingest`` (owd/ingest.py) that processing reads: WARC/WET files
    and collections (FineWeb-2 Parquet, HPLT JSONL) under ``<campaign>/ingest/<source>/``.
    Partial downloads, files being written and sidecars are not inputs."""
    from owd.extract.collections import COLLECTION_SUFFIXES

    root = cfg.campaign_dir / "ingest"
    suffixes = (WARC_SUFFIX, PLAIN_WARC_SUFFIX, *COLLECTION_SUFFIXES)
    return sorted(p for p in root.glob("*/*") if p.is_file() and p.name.endswith(suffixes)
                  and not p.name.endswith(INGEST_SIDECARS))


# beside an ingested file: where each record came from (owd.crawler.ingest)
INGEST_SIDECARS = (".origin.jsonl",)


def ingest_shard_id(path: Path) -> str:
    """The docs shard of an ingested file: ``ingest-<source>-<file name>`` (never the
    name of a crawl shard, whose WARC files are named by the crawler)."""
    return f"ingest-{path.parent.name}-{path.name}"


def campaign_shards(cfg: CampaignConfig, steps: Sequence[type[DocumentStep]] = DOCUMENT_STEPS) -> list[Shard]:
    """Every shard of the campaign (one per closed WARC file, then one per ingested file),
    in a stable order, each with the fingerprint of what its documents are made from
    (:func:`owd.pipeline.shard_made_from`)."""
    crawled = [Shard(shard_id_of(w), w, cfg.campaign, cfg.campaign_dir, shard_made_from(cfg, w, steps))
               for w in campaign_warcs(cfg)]
    ingested = [Shard(ingest_shard_id(f), f, cfg.campaign, cfg.campaign_dir, shard_made_from(cfg, f, steps))
                for f in ingest_inputs(cfg)]
    return crawled + ingested


def prepare_campaign_dirs(cfg: CampaignConfig, force: bool) -> tuple[Path, Path]:
    """``docs/`` and ``dedup/`` of the campaign (emptied first with ``force``, and ``media/``)."""
    root = cfg.campaign_dir
    docs_dir, dedup_dir = root / "docs", root / "dedup"
    if force:
        shutil.rmtree(docs_dir, ignore_errors=True)
        shutil.rmtree(dedup_dir, ignore_errors=True)
        shutil.rmtree(root / "media", ignore_errors=True)
    docs_dir.mkdir(parents=True, exist_ok=True)
    return docs_dir, dedup_dir


def process_campaign(cfg: CampaignConfig, force: bool = False,
                     progress: Callable[[str], None] = lambda line: log.info(line), *,
                     executor: Executor | None = None,
                     steps: Sequence[type[DocumentStep]] = DOCUMENT_STEPS,
                     campaign_steps: Sequence[type[CampaignStep]] = CAMPAIGN_STEPS) -> ProcessSummary:
    """Process every WARC file of the campaign; skip finished shards unless ``force``.

    ``executor``: who runs the tasks (default: a :class:`~owd.executors.LocalExecutor` with
    :func:`default_workers` processes). ``steps``: the document steps
    (default: :data:`owd.pipeline.DOCUMENT_STEPS`; a test adds a toy step this way).
    """
    quiet_libraries()
    started = time.time()
    docs_dir, _ = prepare_campaign_dirs(cfg, force)
    summary = ProcessSummary()
    shards = campaign_shards(cfg, steps)
    # finished: the docs shard records that it was made from this WARC file with these
    # steps and settings (owd.core.done); a changed setting redoes every shard it touches
    todo = [s for s in shards if parquet_made_from(docs_dir / f"{s.id}.parquet") != s.made_from]
    summary.shards_skipped = len(shards) - len(todo)
    own = executor is None
    runner: Executor = executor or LocalExecutor(default_workers(todo))
    try:
        if todo:
            _run_shards(cfg, runner, todo, tuple(steps), docs_dir, summary, shards, progress)
        if shards:
            progress("process: dedup (band buckets, clusters, fetch dates, cluster ids, media clusters)")
            for step in campaign_steps:
                counts = step().run(cfg, shards, runner)
                if step is ApplyClusters:
                    summary.add_tally(counts)
    finally:
        if own:
            runner.close()
    summary.seconds = time.time() - started
    return summary


# A pool worker costs ~3 s before its first document (spawn, imports, the fastText model):
# the time one worker needs for ~1.3 MB of WARC (measured: 14 docs/s, ~30 kB per page).
# Below this much WARC per extra worker, one process finishes first.
WARC_BYTES_PER_WORKER = 4 * 2**20


def default_workers(todo: Sequence[Shard]) -> int:
    """Local workers for ``todo`` when the caller chose none: one per CPU, at most one per
    shard, and no more than the WARC bytes justify (:data:`WARC_BYTES_PER_WORKER`)."""
    size = sum(shard.warc.stat().st_size for shard in todo)
    return max(1, min(available_cpus(), len(todo), size // WARC_BYTES_PER_WORKER))


def _run_shards(cfg: CampaignConfig, executor: Executor, todo: list[Shard], steps: tuple[type[DocumentStep], ...],
                docs_dir: Path, summary: ProcessSummary, shards: list[Shard],
                progress: Callable[[str], None]) -> None:
    position = {shard.id: i for i, shard in enumerate(shards, 1)}
    progress(f"process: {len(todo)} shard(s) on {min(executor.workers, len(todo))} worker(s)")
    results: dict[int, ShardResult] = {}
    tasks = [ShardTask(cfg, shard, docs_dir, steps) for shard in todo]
    for i, result in executor.map_unordered(process_shard, tasks):
        results[i] = result
        summary.shards_done += 1
        progress(f"process: shard {position[result.shard_id]}/{len(shards)} {todo[i].warc.name}: "
                 f"{result.documents} documents in {result.seconds:.1f} s")
    for i in range(len(todo)):  # shard order, whatever order they finished in
        summary.stats.update(results[i].stats)
