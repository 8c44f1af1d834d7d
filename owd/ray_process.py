"""``owd process --ray``: the same work as :func:`owd.process.process_campaign`, as Ray work.

The stages are not touched: this module only schedules the functions the local runner
calls, so the outputs are the same files, byte for byte (tests/test_ray_process.py
compares them). Four phases, each a barrier:

1. **Shards** (map): an actor pool, one one-CPU actor per cluster CPU (at most one per
   unfinished shard). Each actor builds one :class:`~owd.process.ShardProcessor`, so the
   fastText model is loaded once per worker, and runs
   :meth:`~owd.process.ShardProcessor.write_shard` for whichever WARC file comes next:
   ``docs/<stem>.parquet`` + ``.stats.json`` and ``dedup/signatures/<stem>.parquet``. A
   shard whose Parquet file exists is skipped, as locally. The actors are then killed,
   which hands their CPUs to the next phases.
2. **Band buckets as a shuffle**: the driver plans (numbers the documents from the
   signature files' metadata, no data read); one task per signature file runs
   :meth:`owd.dedup.steps.BucketStep.map_shard`, which writes every (lang, band, key, doc)
   entry to the row group of partition ``partition_of(key, band)``; after that barrier one
   task per partition runs :meth:`~dedup.steps.BucketStep.reduce_partition`, which reads
   its row group of every map file, groups buckets and writes star edges. A bucket never
   spans partitions, so no edge is lost or doubled. Partitions: the same 64 as the local
   runner (the count is part of the plan fingerprint stamped on every dedup file).
3. **Connected components**: one task runs :class:`owd.dedup.steps.ClusterStep` (a vectorised
   union-find over the edge files, read one file at a time). It holds O(M) memory for M
   documents that have any edge (~160 bytes each: 120 MB at 750k), independent of the
   corpus size, so a single task is enough well past the campaigns this service runs;
   a distributed connected-components pass would cost more shuffles than it saves here.
4. **Apply** (map): one task per shard runs :func:`owd.process.apply_clusters_to_shard`,
   which streams ``clusters.parquet`` and rewrites the shard; each returns its tally.

Data moves through the campaign directory, not the object store: tasks get paths and
return counts. On several nodes that directory must be a shared filesystem (see
:mod:`owd.ray_cluster`). Every phase is restartable file by file, so an interrupted run
resumes where the local runner would.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import ray

from owd.dedup.fetch_dates import FetchDatesStep
from owd.core.config import CampaignConfig
from owd.process import (
    ProcessSummary,
    ShardProcessor,
    apply_clusters_to_shard,
    campaign_warcs,
    prepare_campaign_dirs,
    quiet_libraries,
    shard_id_of,
)
from owd.ray_cluster import cluster_cpus, connect

__all__ = ["process_campaign_ray"]

log = logging.getLogger(__name__)


@ray.remote(num_cpus=1)
class ShardWorker:
    """One worker of the shard pool: one ShardProcessor (one fastText model) for its lifetime."""

    def __init__(self, cfg: CampaignConfig) -> None:
        quiet_libraries()  # a fresh worker process: its loggers are at their defaults
        self.processor = ShardProcessor(cfg)

    def write_shard(self, warc: Path, docs_dir: Path) -> tuple[Path, int, Counter[str], float]:
        t0 = time.time()
        n_docs, stats = self.processor.write_shard(warc, docs_dir)
        return warc, n_docs, stats, time.time() - t0


@ray.remote(num_cpus=1)
def _bucket_map(dedup_dir: Path, plan: Any, shard: Any) -> Path:
    from owd.dedup.steps import BucketStep

    return BucketStep(dedup_dir, plan.num_partitions).map_shard(plan, shard)


@ray.remote(num_cpus=1)
def _bucket_reduce(dedup_dir: Path, plan: Any, partition: int) -> Path:
    from owd.dedup.steps import BucketStep

    return BucketStep(dedup_dir, plan.num_partitions).reduce_partition(plan, partition)


@ray.remote(num_cpus=1)
def _cluster(dedup_dir: Path, keep: str) -> Path:
    from owd.dedup.steps import ClusterStep

    return ClusterStep(dedup_dir, keep=keep).run()  # type: ignore[arg-type]


@ray.remote(num_cpus=1)
def _apply(shard: Path, clusters: Path, fetch_dates: Path) -> ProcessSummary:
    return apply_clusters_to_shard(shard, clusters, fetch_dates)


def process_campaign_ray(cfg: CampaignConfig, force: bool = False,
                         progress: Callable[[str], None] = lambda line: log.info(line),
                         address: str | None = None) -> ProcessSummary:
    """Process every WARC file of the campaign on Ray; skip finished shards unless ``force``.

    ``address``: join that Ray cluster; None starts a local instance for the call (or uses
    the one this process is already connected to).
    """
    quiet_libraries()
    started = time.time()
    docs_dir, dedup_dir = prepare_campaign_dirs(cfg, force)
    summary = ProcessSummary()
    warcs = campaign_warcs(cfg)
    position = {warc: i for i, warc in enumerate(warcs, 1)}
    todo = [w for w in warcs if not (docs_dir / f"{shard_id_of(w)}.parquet").exists()]
    summary.shards_skipped = len(warcs) - len(todo)
    with connect(address):
        if todo:
            _run_shards(cfg, todo, docs_dir, summary, position, len(warcs), progress)
        if warcs:
            progress("process: dedup on Ray (band buckets as a shuffle, clusters)")
            clusters = _dedup(dedup_dir, cfg.process.dedup_keep, progress)
            # (on the driver: it reads the CDXJ indexes, a few hundred bytes per fetch)
            dates = FetchDatesStep(dedup_dir).run(warcs)
            shards = [docs_dir / f"{shard_id_of(w)}.parquet" for w in warcs]
            # ray.get keeps the list order: the tallies merge in shard order, as locally.
            for part in ray.get([_apply.remote(shard, clusters, dates) for shard in shards]):
                summary.merge(part)
    summary.seconds = time.time() - started
    return summary


def _run_shards(cfg: CampaignConfig, todo: list[Path], docs_dir: Path, summary: ProcessSummary,
                position: dict[Path, int], total: int, progress: Callable[[str], None]) -> None:
    n_workers = min(len(todo), cluster_cpus())
    progress(f"process: {len(todo)} shard(s) on {n_workers} Ray worker(s)")
    workers = [ShardWorker.remote(cfg) for _ in range(n_workers)]  # type: ignore[attr-defined]
    try:
        pool = ray.util.ActorPool(workers)
        done: dict[Path, Counter[str]] = {}
        for warc, n_docs, stats, seconds in pool.map_unordered(
                lambda worker, warc: worker.write_shard.remote(warc, docs_dir), todo):
            done[warc] = stats
            summary.shards_done += 1
            progress(f"process: shard {position[warc]}/{total} {warc.name}: {n_docs} documents in {seconds:.1f} s")
        for warc in todo:  # shard order, whatever order they finished in
            summary.stats.update(done[warc])
    finally:
        # The actors hold a CPU each for their lifetime: free them for the dedup tasks.
        for worker in workers:
            ray.kill(worker)


def _dedup(dedup_dir: Path, keep: str, progress: Callable[[str], None]) -> Path:
    from owd.dedup.steps import BucketStep

    plan = BucketStep(dedup_dir).plan()  # driver: reads only the signature files' metadata
    plan_ref = ray.put(plan)
    t0 = time.time()
    ray.get([_bucket_map.remote(dedup_dir, plan_ref, shard) for shard in plan.shards])
    ray.get([_bucket_reduce.remote(dedup_dir, plan_ref, k) for k in range(plan.num_partitions)])
    progress(f"process: band buckets: {len(plan.shards)} map + {plan.num_partitions} reduce task(s) "
             f"in {time.time() - t0:.1f} s")
    clusters: Path = ray.get(_cluster.remote(dedup_dir, keep))
    return clusters
