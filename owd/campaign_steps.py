"""The campaign steps of ``owd process`` (owd.core.step.CampaignStep): dedup across shards.

After every shard is processed: band buckets (a shuffle) -> connected components ->
fetch dates -> cluster ids and dates written into every docs shard. Their task functions
live here, apart from the document steps, so that a worker process running a dedup
task imports the dedup package only (not trafilatura or fastText).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pyarrow.parquet as pq

from owd.core.config import CampaignConfig
from owd.core.done import parquet_made_from
from owd.core.schema import Document, DocumentWriter, drop_kind, iter_parquet
from owd.core.step import CampaignStep, Executor, Shard
from owd.dedup.fetch_dates import FetchDatesStep, apply_fetch_dates, fetch_date_rows
from owd.dedup.steps import BucketPlan, BucketStep, ClusterStep, KeepPolicy, ShardPlan, apply_clusters, cluster_rows

__all__ = ["CAMPAIGN_STEPS", "BandBuckets", "Clusters", "FetchDates", "ApplyClusters", "MediaClusters", "tally",
           "EmbedDocuments", "IndexDocuments", "BuildPools", "shard_indexer"]


def _dedup_dir(cfg: CampaignConfig) -> Path:
    return cfg.campaign_dir / "dedup"


def _bucket_map(args: tuple[Path, BucketPlan, ShardPlan]) -> Path:
    dedup_dir, plan, shard = args
    return BucketStep(dedup_dir, plan.num_partitions).map_shard(plan, shard)


def _bucket_reduce(args: tuple[Path, BucketPlan, int]) -> Path:
    dedup_dir, plan, partition = args
    return BucketStep(dedup_dir, plan.num_partitions).reduce_partition(plan, partition)


class BandBuckets(CampaignStep):
    """MinHash band buckets -> candidate edges, as a shuffle: one task per signature file
    scatters its entries into partitions, then one task per partition gathers them
    (:class:`owd.dedup.steps.BucketStep`). A bucket never spans partitions, so no edge is
    lost or doubled, whichever worker ran what."""

    name = "dedup/buckets"

    def run(self, cfg: CampaignConfig, shards: Sequence[Shard], executor: Executor) -> Counter[str]:
        dedup_dir = _dedup_dir(cfg)
        plan = BucketStep(dedup_dir).plan()  # reads only the signature files' metadata
        list(executor.map_unordered(_bucket_map, [(dedup_dir, plan, s) for s in plan.shards]))
        list(executor.map_unordered(_bucket_reduce, [(dedup_dir, plan, k) for k in range(plan.num_partitions)]))
        return Counter({"dedup/buckets/map_tasks": len(plan.shards), "dedup/buckets/partitions": plan.num_partitions})


def _cluster(args: tuple[Path, KeepPolicy]) -> Path:
    dedup_dir, keep = args
    return ClusterStep(dedup_dir, keep=keep).run()


class Clusters(CampaignStep):
    """Candidate edges -> verified near-duplicate clusters around representatives
    (:class:`owd.dedup.steps.ClusterStep`) -> ``dedup/clusters.parquet``: one task. Its
    memory grows with the documents that have a candidate edge (the components), not with
    the corpus, and the verification holds the MinHash values of one batch of components
    at a time (bench/bench_dedup.py: +152 MB above the baseline for 1M signatures with 20 %
    near copies), so one task goes well past the campaigns this service runs."""

    name = "dedup/clusters"

    def run(self, cfg: CampaignConfig, shards: Sequence[Shard], executor: Executor) -> Counter[str]:
        list(executor.map_unordered(_cluster, [(_dedup_dir(cfg), cfg.process.dedup_keep)]))
        return Counter()


class FetchDates(CampaignStep):
    """First and last time each page was fetched, from the crawl's CDXJ indexes (a few
    hundred bytes per fetch: done where the driver runs)."""

    name = "dedup/fetch_dates"

    def run(self, cfg: CampaignConfig, shards: Sequence[Shard], executor: Executor) -> Counter[str]:
        FetchDatesStep(_dedup_dir(cfg)).run([s.warc for s in shards])
        return Counter()


def _apply(args: tuple[Path, Path, Path]) -> Counter[str]:
    """A task: cluster ids and fetch dates into one docs shard, rewritten in batches (the
    shard's ids and its rows of the clusters and dates files are all it holds)."""
    shard, clusters, dates = args
    made_from = parquet_made_from(shard) or ""  # what the shard was made from stays recorded
    ids = pq.ParquetFile(shard).read(columns=["id"]).column("id").to_pylist()
    cluster_of, dates_of = cluster_rows(clusters, ids), fetch_date_rows(dates, ids)
    counts: Counter[str] = Counter()
    with DocumentWriter(shard, made_from) as out:  # (written beside the shard, renamed over it)
        for batch in iter_parquet(shard):
            done = apply_fetch_dates(apply_clusters(batch, cluster_of), dates_of)
            for doc in done:
                out.write(doc)
            counts.update(tally(done))
    return counts


def tally(docs: Sequence[Document]) -> Counter[str]:
    """The document counts the summary and the report show, for one shard."""
    out: Counter[str] = Counter()
    for doc in docs:
        out["documents"] += 1
        if doc.drop_reason:
            out[f"dropped/{drop_kind(doc.drop_reason)}"] += 1
        else:
            out["kept"] += 1
            out[f"lang/{doc.lang or '?'}"] += 1
        if doc.dup_cluster_size and doc.dup_cluster_size > 1:
            out["duplicates"] += 1
            if doc.dup_cluster_id == doc.id:
                out["clusters"] += 1
    return out


class ApplyClusters(CampaignStep):
    """Cluster ids and first/last-seen dates written into every docs shard: one task per
    shard; returns the campaign's document tally (kept, dropped by reason, languages,
    duplicates, clusters)."""

    name = "dedup/apply"

    def run(self, cfg: CampaignConfig, shards: Sequence[Shard], executor: Executor) -> Counter[str]:
        dedup_dir = _dedup_dir(cfg)
        clusters = ClusterStep(dedup_dir).output_path
        dates = FetchDatesStep(dedup_dir).output_path
        docs_dir = cfg.campaign_dir / "docs"
        total: Counter[str] = Counter()
        for _, part in executor.map_unordered(_apply, [(docs_dir / f"{s.id}.parquet", clusters, dates)
                                                       for s in shards]):
            total.update(part)  # a sum: the order parts arrive in does not matter
        return total


class MediaClusters(CampaignStep):
    """Exact and near-duplicate media across the campaign (owd.dedup.media_clusters): one
    task where the driver runs; it holds the hash columns only."""

    name = "dedup/media"

    def run(self, cfg: CampaignConfig, shards: Sequence[Shard], executor: Executor) -> Counter[str]:
        from owd.dedup.media_clusters import cluster_media

        return cluster_media(cfg.campaign_dir / "media")


CAMPAIGN_STEPS: tuple[type[CampaignStep], ...] = (BandBuckets, Clusters, FetchDates, ApplyClusters, MediaClusters)


# The steps after processing: each campaign step of `owd run` after `process`. Not in
# CAMPAIGN_STEPS (which is `owd process`); `owd run` and the CLI commands call them.

def _embed_batch(texts: list[str]) -> Any:
    """A task: passages -> their vectors (n x 384 float32), with this worker's one model
    (owd.index.embed.embedder: loaded by the worker's first task)."""
    from owd.index.embed import embedder

    return embedder().passages(texts)


class EmbedDocuments(CampaignStep):
    """A vector for every kept document (semantic and hybrid search; owd.index.vector_shards).
    Shard by shard: the driver plans a shard (what is current, what can be reused), the
    executor's workers embed its passages in batches (each worker holds one copy of the
    model), the driver writes the shard's vectors file. Resumable and incremental by shard."""

    name = "embed"

    def __init__(self, *, force: bool = False, progress: Callable[[str], None] = lambda line: None) -> None:
        self.force = force
        self.progress = progress

    def run(self, cfg: CampaignConfig, shards: Sequence[Shard], executor: Executor | None) -> Counter[str]:
        import time

        from owd.index.vector_shards import BATCH, plan_shard, write_shard

        docs = sorted((cfg.campaign_dir / "docs").glob("*.parquet"))
        total: Counter[str] = Counter({"embed/shards": len(docs)})
        for n, path in enumerate(docs, 1):
            started = time.monotonic()
            plan = plan_shard(path, chars=cfg.embeddings.passage_chars, force=self.force)
            if plan is None:
                total["embed/shards_skipped"] += 1
                self.progress(f"embed: shard {n}/{len(docs)} {path.name}: unchanged")
                continue
            batches = [plan.todo[i:i + BATCH] for i in range(0, len(plan.todo), BATCH)]
            tasks = [[plan.texts[i] for i in rows] for rows in batches]
            results = executor.map_unordered(_embed_batch, tasks) if executor is not None else \
                ((i, _embed_batch(t)) for i, t in enumerate(tasks))
            for done, (i, vectors) in enumerate(results, 1):
                plan.vectors[batches[i]] = vectors
                if done % 10 == 0 or done == len(batches):
                    rate = sum(len(b) for b in batches[:done]) / max(time.monotonic() - started, 1e-9)
                    self.progress(f"embed: shard {n}/{len(docs)} {path.name}: {min(done * BATCH, len(plan.todo))}/"
                                  f"{len(plan.todo)} passages ({rate:.1f}/s)")
            counts = write_shard(plan)
            total.update(counts)
            self.progress(f"embed: shard {n}/{len(docs)} {path.name}: {counts['embed/embedded']} embedded, "
                          f"{counts['embed/reused']} reused in {time.monotonic() - started:.1f} s")
        return total


class IndexDocuments(CampaignStep):
    """The kept documents into a search backend, incrementally by shard (owd.index.build);
    with a backend that takes many writers (OpenSearch), one executor task per shard."""

    name = "index"

    def __init__(self, backend: str = "embedded", url: str | None = None, index_name: str | None = None, *,
                 rebuild: bool = False, progress: Callable[[str], None] = lambda line: None) -> None:
        self.backend, self.url, self.index_name = backend, url, index_name
        self.rebuild = rebuild
        self.progress = progress

    def run(self, cfg: CampaignConfig, shards: Sequence[Shard], executor: Executor | None) -> Counter[str]:
        from owd.index.build import index_campaign
        from owd.index.open import open_backend, state_path
        from owd.pools.rules import pool_membership

        annotate, pools_key = pool_membership(cfg.pools)  # `pool:` filters and facets follow the pool rules
        parallel = shard_indexer(cfg, self.backend, self.url, self.index_name, executor) \
            if executor is not None and self.backend == "opensearch" else None
        with open_backend(cfg, self.backend, url=self.url, index_name=self.index_name, create=True) as target:
            summary = index_campaign(cfg.campaign_dir / "docs", target,
                                     state_path(cfg, self.backend, self.index_name), rebuild=self.rebuild,
                                     progress=self.progress, annotate=annotate, annotate_key=pools_key,
                                     shard_indexer=parallel)
        self.summary = summary
        return Counter({"index/shards_indexed": summary.shards_indexed, "index/shards_skipped": summary.shards_skipped,
                        "index/shards_failed": summary.shards_failed,
                        "index/documents_indexed": summary.documents_indexed,
                        "index/documents_dropped": summary.documents_dropped, "index/total": summary.total})


def _index_shard_task(args: tuple[str, str, str | None, str | None, Path]) -> tuple[Path, int, Any, float]:
    """A task: one docs shard into the campaign's index (pool membership included)."""
    from owd.core.config import load_campaign
    from owd.index.build import index_shard
    from owd.index.open import open_backend
    from owd.pools.rules import pool_membership

    config_path, backend, url, index_name, shard = args
    cfg = load_campaign(config_path)
    annotate, _ = pool_membership(cfg.pools)
    with open_backend(cfg, backend, url=url, index_name=index_name, create=False) as target:
        return index_shard(shard, target, annotate)


def shard_indexer(cfg: CampaignConfig, backend: str, url: str | None, index_name: str | None,
                  executor: Executor) -> Callable[[list[Path]], Iterator[Any]]:
    """Index docs shards as the executor's tasks (for a backend that takes many writers)."""
    source = str(Path(cfg.source).resolve()) if cfg.source else None
    if source is None:
        raise ValueError("indexing in parallel needs a campaign loaded from a file (the tasks read it)")

    def run(paths: list[Path]) -> Iterator[Any]:
        tasks = [(source, backend, url, index_name, path) for path in paths]
        for _, result in executor.map_unordered(_index_shard_task, tasks):
            yield result  # a backend failure (after its retries) ends the step here

    return run


class BuildPools(CampaignStep):
    """Every pool of the campaign (owd.pools.build); skipped when its fingerprint matches.
    Bound by reading Parquet, not by CPU: done where the driver runs."""

    name = "pools"

    def __init__(self, *, force: bool = False, progress: Callable[[str], None] = lambda line: None) -> None:
        self.force = force
        self.progress = progress

    def run(self, cfg: CampaignConfig, shards: Sequence[Shard], executor: Executor | None) -> Counter[str]:
        from owd.pools.build import build_pools

        summary = build_pools(cfg, force=self.force, progress=self.progress)
        self.summary = summary
        counts = Counter({"pools/built": len(summary.built), "pools/skipped": len(summary.skipped),
                          "pools/input_documents": summary.input_documents,
                          "pools/failed_shards": len(summary.failed_shards)})
        counts.update({f"pools/documents/{name}": n for name, n in summary.documents.items()})
        return counts
