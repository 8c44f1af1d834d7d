"""Media duplicates across a campaign: ``dup_cluster_id`` / ``dup_cluster_size`` on every
row of ``media/*.parquet``.

Files are first grouped by sha256 (a byte-identical file under many URLs or on many
pages is one file). Images are then clustered by perceptual hash
(:func:`owd.dedup.image_hash.image_clusters`: bucketed candidates, verified by Hamming
distance, joined only to a cluster's representative), so a resized, re-encoded or
slightly cropped copy joins the original's cluster. Audio and video are clustered by
sha256 only. A cluster's id is its representative's sha256; its size counts distinct
files. Only the hash columns of every media table are held (~100 bytes per row), and
each table is then rewritten with the two columns set, under a temporary name.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from owd.core.media_schema import MEDIA_SCHEMA

__all__ = ["cluster_media"]


def _unique_files(paths: list[Path]) -> tuple[list[str], np.ndarray, list[str]]:
    """Distinct sha256 values (sorted), their perceptual hash (0 when none) and kind."""
    by_sha: dict[str, tuple[int, str]] = {}
    for path in paths:
        t = pq.read_table(path, columns=["sha256", "phash", "kind"])
        for sha, ph, kind in zip(t.column("sha256").to_pylist(), t.column("phash").to_pylist(),
                                 t.column("kind").to_pylist()):
            if sha is not None and sha not in by_sha:
                by_sha[sha] = (ph if ph is not None else -1, kind)
    shas = sorted(by_sha)
    phashes = np.array([by_sha[s][0] for s in shas], dtype=object)
    kinds = [by_sha[s][1] for s in shas]
    return shas, phashes, kinds


def _clusters(shas: list[str], phashes: np.ndarray, kinds: list[str]) -> dict[str, tuple[str, int]]:
    """sha256 -> (cluster id, cluster size in distinct files)."""
    from owd.dedup.image_hash import image_clusters

    out: dict[str, tuple[str, int]] = {sha: (sha, 1) for sha in shas}
    images = [i for i, (kind, ph) in enumerate(zip(kinds, phashes)) if kind == "image" and ph >= 0]
    if images:
        hashes = np.array([int(phashes[i]) for i in images], dtype=np.uint64)
        rep, size = image_clusters([shas[i] for i in images], hashes)
        for j, i in enumerate(images):
            out[shas[i]] = (shas[images[int(rep[j])]], int(size[j]))
    return out


def cluster_media(media_dir: Path) -> Counter[str]:
    """Set the cluster columns of every media table of a campaign; returns counts."""
    paths = sorted(Path(media_dir).glob("*.parquet"))
    counts: Counter[str] = Counter()
    if not paths:
        return counts
    shas, phashes, kinds = _unique_files(paths)
    clusters = _clusters(shas, phashes, kinds)
    counts["media/files"] = len(shas)
    counts["media/clusters"] = len({cid for cid, _ in clusters.values()})
    counts["media/near_duplicate_files"] = sum(1 for sha, (cid, size) in clusters.items() if size > 1 and cid != sha)
    for path in paths:
        table = pq.read_table(path, schema=MEDIA_SCHEMA)
        found = [clusters.get(sha) if sha is not None else None for sha in table.column("sha256").to_pylist()]
        table = table.set_column(MEDIA_SCHEMA.get_field_index("dup_cluster_id"), MEDIA_SCHEMA.field("dup_cluster_id"),
                                 pa.array([f[0] if f else None for f in found], pa.string()))
        table = table.set_column(MEDIA_SCHEMA.get_field_index("dup_cluster_size"),
                                 MEDIA_SCHEMA.field("dup_cluster_size"),
                                 pa.array([f[1] if f else None for f in found], pa.int32()))
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
    return counts
