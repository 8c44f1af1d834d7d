"""Near-duplicate image clusters from perceptual hashes (:func:`owd.core.image_phash.phash`).

:func:`image_clusters` groups images: identical sha256 always; otherwise two
images are near duplicates when the Hamming distance of their hashes is at most
:data:`PHASH_THRESHOLD`. Candidate pairs come from bucket tables (combinations
of bit blocks, see :func:`_near_pairs`), so no all-pairs comparison is made,
and clusters are built as in the text dedup (:class:`owd.dedup.steps.ClusterStep`):
pivot clustering, every member within the threshold of its cluster's
representative, so chains of small edits do not merge distinct images.
"""

from __future__ import annotations

import itertools
import math
from typing import Sequence

import numpy as np

from owd.core.image_phash import HASH_SIZE, hamming, phash

__all__ = ["phash", "hamming", "image_clusters", "PHASH_THRESHOLD", "HASH_SIZE", "BUCKET_CAP"]

#: Maximum Hamming distance of two near-duplicate images, chosen with bench/eval_image_dedup.py
#: (its choose_threshold): the threshold with the best recall among those whose expected false
#: neighbours among 1M unrelated images stay below 0.1 per image (random 31-of-63-bit hashes:
#: 0.04 at 10, 0.77 at 12, 10 at 14) and whose dev-half precision holds one step further. On
#: its labelled set (1512 images) no distinct pair is within 10 bits (the closest, a site's
#: logo and its favicon, at 12): clustering precision 1.000, recall 0.962 (dev half 0.933,
#: held-out half 0.997); 12 would give recall 0.966 and precision 0.983.
PHASH_THRESHOLD = 10
#: In a bucket of more images, each is compared with the first this many only (see _bucket_pairs).
BUCKET_CAP = 32
#: Bits the bucket tables key on (all but the always-0 DC bit), and at most this many tables.
_HASHED_BITS = 63
_MAX_TABLES = 50_000


def _as_keys(sha256: Sequence[str]) -> np.ndarray:
    """sha256 digests as a numpy array that sorts and compares like the strings."""
    if isinstance(sha256, np.ndarray):
        return sha256
    try:
        return np.array(sha256, dtype=np.bytes_)  # 64 bytes per hex digest, not 256 as str_
    except UnicodeEncodeError:
        return np.array(sha256, dtype=np.str_)


def _blocks(blocks: int) -> list[tuple[int, int]]:
    """``blocks`` runs of contiguous bits, (lowest bit, width), that partition bits 0..62
    (widths differ by at most 1).

    Bit 63 (the DC term's) is 0 in every :func:`phash`, so it would only dilute a key; leaving
    it out of every block keeps the guarantee of :func:`_near_pairs` for any 64-bit values
    (a pair differing there differs in even fewer block bits).
    """
    edges = [round(i * _HASHED_BITS / blocks) for i in range(blocks + 1)]
    return [(lo, hi - lo) for lo, hi in zip(edges, edges[1:])]


def _table_keys(hashes: np.ndarray, runs: list[tuple[int, int]]) -> tuple[np.ndarray, int]:
    """The bits of ``runs`` of every hash, packed side by side into one key; and its width in bits."""
    keys = np.zeros(len(hashes), dtype=np.uint64)
    width = 0
    for lo, size in runs:
        keys |= ((hashes >> np.uint64(lo)) & np.uint64((1 << size) - 1)) << np.uint64(width)
        width += size
    return keys, width


def _table_plan(n: int, threshold: int, cap: int) -> tuple[int, int]:
    """(blocks, blocks per key) for :func:`_near_pairs`: the cheapest plan for ``n`` hashes
    whose buckets stay well under the cap.

    A table keyed on m of b blocks of the 63 hashed bits keys on about 63*m/b bits, so a
    uniform hash shares its bucket with n / 2**(63*m/b) others on average. Plans where that
    exceeds cap/4 are not used (the cap would bind on ordinary data, not only on true
    near-duplicate crowds); among the rest, cost per table ~ n * (sort + partners), the
    sort of one row costing about 6 verified candidates (measured, 1M rows).
    """
    sort_cost = 6.0
    best: tuple[float, int, int] | None = None
    fallback: tuple[float, int, int, int] | None = None  # (partners, tables, b, m): most selective
    for blocks in range(threshold + 1, _HASHED_BITS + 1):
        for per_key in range(1, blocks - threshold + 1):
            tables = math.comb(blocks, per_key)
            if tables > _MAX_TABLES:
                continue
            partners = max(n - 1, 0) / 2.0 ** (_HASHED_BITS * per_key / blocks)
            cost = tables * (sort_cost + partners)
            if partners <= cap / 4 and (best is None or cost < best[0]):
                best = (cost, blocks, per_key)
            if fallback is None or (partners, tables) < fallback[:2]:
                fallback = (partners, tables, blocks, per_key)
    if best is not None:
        return best[1], best[2]
    if fallback is None:
        raise ValueError(f"threshold {threshold} is too large for a bucketed search of 64-bit hashes")
    return fallback[2], fallback[3]


def _bucket_pairs(keys: np.ndarray, key_bits: int, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (row numbers) of rows with equal keys.

    Rows are numbered in the stable tie-break order and sorted by (key, row), so in a
    bucket of more than ``cap`` + 1 rows each row is paired only with the first ``cap``
    rows of the bucket (the same ones whatever the input order): this bounds a table's
    candidates by n * cap when thousands of near-identical images share a key, at the
    price of the guarantee of :func:`_near_pairs` for pairs that are both past the cap in
    every table they share (the first ``cap`` rows of a big bucket become its hubs, and
    pivot clustering still gathers the bucket around them).
    """
    n = len(keys)
    row_bits = max(1, (n - 1).bit_length())
    if key_bits + row_bits <= 64:
        # (key, row) packed in one uint64 and sorted as values: ~2x faster than a stable argsort.
        packed = np.sort((keys << np.uint64(row_bits)) | np.arange(n, dtype=np.uint64))
        by = (packed & np.uint64((1 << row_bits) - 1)).astype(np.int64)
        sorted_keys = packed >> np.uint64(row_bits)
        del packed
    else:
        by = np.argsort(keys, kind="stable")
        sorted_keys = keys[by]
    new = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    pos = np.arange(n) - start
    rows = np.flatnonzero(pos > 0)
    counts = np.minimum(pos[rows], cap)
    later = np.repeat(rows, counts)
    offsets = np.arange(len(later)) - np.repeat(np.cumsum(counts) - counts, counts)
    earlier = start[later] + offsets
    return by[earlier], by[later]


def _near_pairs(hashes: np.ndarray, threshold: int, cap: int = BUCKET_CAP) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (u < v) of rows of ``hashes`` (uint64, distinct values) within ``threshold`` bits.

    Bucket tables, as Manku et al.'s simhash tables: bits 0..62 are split into b blocks
    and each table keys on one combination of m blocks (their bits), m <= b - threshold.

    Guarantee (pigeonhole): if hamming(x, y) = d <= threshold, the differing bits lie in at
    most d blocks, so at least b - d >= b - threshold >= m blocks are identical in x and y.
    Any m of those identical blocks are one of the C(b, m) combinations, and in that table
    x and y have the same key: they share a bucket. Every candidate is then verified with the
    true Hamming distance, so no pair beyond the threshold is returned. (Only the bucket
    cap of :func:`_bucket_pairs` can lose a pair.)
    """
    n = len(hashes)
    if n < 2 or threshold < 1:  # distinct values are >= 1 bit apart
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    blocks, per_key = _table_plan(n, threshold, cap)
    runs = _blocks(blocks)
    found: list[np.ndarray] = []
    pending = 0
    for combination in itertools.combinations(runs, per_key):
        keys, key_bits = _table_keys(hashes, list(combination))
        u, v = _bucket_pairs(keys, key_bits, cap)
        del keys
        close = np.bitwise_count(hashes[u] ^ hashes[v]) <= threshold
        u, v = u[close], v[close]
        # One pair shows up in many tables: keep each once (code u * n + v), merging as we go.
        found.append(np.minimum(u, v) * n + np.maximum(u, v))
        pending += len(u)
        if pending > 4_000_000:
            found = [np.unique(np.concatenate(found))]
            pending = len(found[0])
    codes = np.unique(np.concatenate(found))
    return codes // n, codes % n


def _pivot(n: int, u: np.ndarray, v: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Representative node of every node: pivot clustering over the edges (u, v).

    Nodes are numbered in tie-break order. The node with the most images within the
    threshold (its own copies included) goes first and takes every neighbour not yet
    taken, then the next: the representative then sits in the middle of its near
    duplicates, and every member is within the threshold of it.
    """
    degree = weight - 1 + np.bincount(u, weights=weight[v], minlength=n).astype(np.int64) \
        + np.bincount(v, weights=weight[u], minlength=n).astype(np.int64)
    ends_a, ends_b = np.concatenate([u, v]), np.concatenate([v, u])
    by = np.argsort(ends_a, kind="stable")
    neighbours = ends_b[by]
    offsets = np.r_[0, np.cumsum(np.bincount(ends_a, minlength=n))]
    rep = np.arange(n, dtype=np.int64)
    taken = np.zeros(n, dtype=bool)
    linked = offsets[1:] > offsets[:-1]
    # Nodes without an edge are their own cluster; only linked ones need the loop.
    visit = np.flatnonzero(linked)
    visit = visit[np.lexsort((visit, -degree[visit]))]
    for r in visit.tolist():
        if taken[r]:
            continue
        taken[r] = True
        near = neighbours[offsets[r]:offsets[r + 1]]
        near = near[~taken[near]]
        taken[near] = True
        rep[near] = r
    return rep


def image_clusters(sha256: Sequence[str], hashes: np.ndarray, threshold: int = PHASH_THRESHOLD
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Near-duplicate clusters of images: (representative index, cluster size), one per image.

    ``sha256``: the content digest of each image (images with equal digests are always
    one cluster); ``hashes``: their :func:`phash` values (uint64). Images whose hashes are
    within ``threshold`` bits of a cluster's representative join it: pivot clustering
    (:func:`_pivot`) over the verified pairs of the bucket tables (:func:`_near_pairs`).
    The representative's index is the cluster id; singletons are their own
    representative with size 1.

    The result depends on the images, not their order: ties are broken by sha256, and
    among copies with one sha256 the first index represents them. Memory is O(n) numpy
    arrays (about 0.7 GB peak for 1M images with their sha256 strings, ~2 min on one
    core at threshold 10) plus the verified pairs.
    """
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64).reshape(-1)
    n = len(hashes)
    if len(sha256) != n:
        raise ValueError(f"{len(sha256)} sha256 values for {n} hashes")
    if not 0 <= threshold < 64:
        raise ValueError(f"threshold must be in 0..63, got {threshold}")
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    # Exact duplicates: one group per sha256 (rank = position in sorted digests); the
    # first image of a group is its leader, and the leader's hash stands for the group.
    _, sha_rank = np.unique(_as_keys(sha256), return_inverse=True)
    sha_rank = sha_rank.reshape(-1)
    order = np.lexsort((np.arange(n), sha_rank))
    leader = order[np.r_[True, sha_rank[order][1:] != sha_rank[order][:-1]]]  # per rank
    # Equal hashes are 0 bits apart: one node. Nodes are numbered by their smallest
    # sha rank, which is the stable tie-break order everywhere below.
    node_values, node_of_rank = np.unique(hashes[leader], return_inverse=True)
    _, first_rank = np.unique(node_of_rank, return_index=True)
    renumber = np.empty(len(node_values), dtype=np.int64)
    renumber[np.argsort(first_rank, kind="stable")] = np.arange(len(node_values))
    node_of_rank = renumber[node_of_rank.reshape(-1)]
    node_hash = np.empty_like(node_values)
    node_hash[renumber] = node_values
    node_leader = np.empty(len(node_values), dtype=np.int64)
    node_leader[renumber] = leader[first_rank]
    image_node = node_of_rank[sha_rank]
    weight = np.bincount(image_node, minlength=len(node_hash)).astype(np.int64)
    u, v = _near_pairs(node_hash, threshold)
    node_rep = _pivot(len(node_hash), u, v, weight)
    rep = node_leader[node_rep[image_node]]
    size = np.bincount(rep, minlength=n)[rep]
    return rep.astype(np.int64), size.astype(np.int64)
