"""SignatureStep -> BucketStep -> ClusterStep -> apply_clusters on small hand-made shards."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow.parquet as pq
import pytest

from owd.dedup import BucketStep, ClusterStep, MinhashConfig, SignatureStep, apply_clusters
from owd.dedup.minhash import shingles, signature, words
from owd.dedup.steps import CLUSTER_SCHEMA, _compress, _union
from owd.dedup.text import normalise
from owd.core.schema import Document
from tests.dedup.helpers import at, doc, edit, run_all, text


def clusters(path: Path) -> dict[str, tuple[str, int, bool]]:
    return {r["doc_id"]: (r["cluster_id"], r["cluster_size"], r["keep"]) for r in pq.read_table(path).to_pylist()}


def corpus() -> dict[str, list[Document]]:
    """Three shards: an exact pair, a near pair, a triple across all shards, a translation, fillers."""
    base, near_base, tri = text(300, 1), text(300, 2), text(250, 3)
    return {
        "shard-a": [doc("a1", base), doc("a2", near_base), doc("a3", tri), doc("a4", text(300, 10)),
                    doc("a5", base, lang="de")],
        "shard-b": [doc("b1", base.upper().replace(" ", ",  ")),  # exact after normalisation
                    doc("b2", edit(near_base, 0.01, 1)), doc("b3", edit(tri, 0.01, 2)), doc("b4", text(300, 11))],
        "shard-c": [doc("c1", edit(tri, 0.01, 3)), doc("c2", text(300, 12)), doc("c3", base, lang="fr")],
    }


def test_exact_and_near_duplicates_across_shards_cluster(tmp_path: Path) -> None:
    got = clusters(run_all(tmp_path, corpus()))
    assert got == {
        "a1": ("a1", 2, True), "b1": ("a1", 2, False),  # exact duplicates in two shards
        "a2": ("a2", 2, True), "b2": ("a2", 2, False),  # near duplicates
        "a3": ("a3", 3, True), "b3": ("a3", 3, False), "c1": ("a3", 3, False),
    }


def test_cross_language_documents_never_merge(tmp_path: Path) -> None:
    same = text(200, 5)
    shards = {"s1": [doc("en1", same, "en"), doc("de1", same, "de"), doc("x1", same, None)],
              "s2": [doc("en2", same, "en"), doc("fr1", same, "fr"), doc("x2", same, None)]}
    got = clusters(run_all(tmp_path, shards))
    assert got == {"en1": ("en1", 2, True), "en2": ("en1", 2, False),
                   "x1": ("x1", 2, True), "x2": ("x1", 2, False)}  # no language: "und", compared together


def test_restart_rebuilds_identical_bytes(tmp_path: Path) -> None:
    out = run_all(tmp_path, corpus())
    first = out.read_bytes()
    out.unlink()
    step = ClusterStep(tmp_path)
    assert step.run().read_bytes() == first
    # A complete file of the same plan and policy is kept as is.
    step2 = ClusterStep(tmp_path)
    step2.run()
    assert step2.stats["skipped_complete"] == 1
    # Losing edge files and the clusters file: BucketStep redoes just those.
    for p in (tmp_path / "buckets" / "edges").glob("part-0000[02].parquet"):
        p.unlink()
    out.unlink()
    bucket = BucketStep(tmp_path, num_partitions=4)
    bucket.run()
    assert bucket.stats["map_skipped_complete"] == 3 and bucket.stats["reduce_done"] == 2
    assert ClusterStep(tmp_path).run().read_bytes() == first


def test_signature_step_skips_a_complete_shard_without_reading_docs(tmp_path: Path) -> None:
    step = SignatureStep(tmp_path)
    path = step.run("s", [doc("a", text(50, 1))])
    before = path.read_bytes()

    def exploding() -> Iterator[Document]:
        raise AssertionError("documents of a complete shard were read")
        yield  # pragma: no cover

    assert step.run("s", exploding()) == path and path.read_bytes() == before
    assert step.stats["shards_skipped_complete"] == 1
    assert not list(path.parent.glob(".*.tmp"))
    # Another config makes the file stale: it is rebuilt.
    other = SignatureStep(tmp_path, MinhashConfig(seed=2))
    other.run("s", [doc("a", text(50, 1))])
    assert other.stats["shards_done"] == 1 and path.read_bytes() != before


def test_a_failing_input_leaves_no_partial_file(tmp_path: Path) -> None:
    def broken() -> Iterator[Document]:
        yield doc("a", text(50, 1))
        raise OSError("shard file truncated")

    step = SignatureStep(tmp_path)
    with pytest.raises(OSError, match="truncated"):
        step.run("s", broken())
    assert list((tmp_path / "signatures").iterdir()) == []


def test_pathological_documents_are_shingled_up_to_max_words(tmp_path: Path) -> None:
    cfg = MinhashConfig(max_words=100)
    long_a = text(100, 60) + " " + text(400, 61)
    long_b = text(100, 60) + " " + text(400, 62)  # same first 100 words only
    step = SignatureStep(tmp_path, cfg)
    step.run("s", [doc("a", long_a), doc("b", long_b)])
    assert step.stats["truncated_words"] == 2
    BucketStep(tmp_path).run()
    assert clusters(ClusterStep(tmp_path).run()) == {"a": ("a", 2, True), "b": ("a", 2, False)}


def test_same_result_whatever_the_shard_order_or_layout(tmp_path: Path) -> None:
    shards = corpus()
    forward = run_all(tmp_path / "fwd", shards).read_bytes()
    backward = run_all(tmp_path / "bwd", dict(reversed(list(shards.items())))).read_bytes()
    assert forward == backward
    # Same documents, other shards (names, sizes and order within shards).
    everything = [d for docs in shards.values() for d in docs]
    random.Random(1).shuffle(everything)
    relaid = {"z-0": everything[:4], "m-1": everything[4:5], "a-2": everything[5:]}
    other = pq.read_table(run_all(tmp_path / "relaid", relaid, num_partitions=7))
    assert other.equals(pq.read_table(tmp_path / "fwd" / "clusters.parquet"))


def test_keep_policies(tmp_path: Path) -> None:
    base = text(300, 20)
    longer = base + " " + " ".join(base.split()[:12])
    shards = {"s": [doc("c", base, fetch_time=at(5)), doc("a", base, fetch_time=None),
                    doc("b", longer, fetch_time=at(3)), doc("d", base, fetch_time=at(3))]}
    first = clusters(run_all(tmp_path / "first", shards, keep="first"))
    assert {k for k, v in first.items() if v[2]} == {"a"}
    assert {v[0] for v in first.values()} == {"a"} and {v[1] for v in first.values()} == {4}
    longest = clusters(run_all(tmp_path / "longest", shards, keep="longest"))
    assert {k for k, v in longest.items() if v[2]} == {"b"}
    earliest = clusters(run_all(tmp_path / "earliest", shards, keep="earliest"))
    assert {k for k, v in earliest.items() if v[2]} == {"b"}  # b and d at 03:00, b first by id
    with pytest.raises(ValueError, match="keep"):
        ClusterStep(tmp_path, keep="random")  # type: ignore[arg-type]


def test_apply_clusters_sets_fields_and_keeps_existing_drop_reasons(tmp_path: Path) -> None:
    shards = corpus()
    path = run_all(tmp_path, shards)
    b_docs = shards["shard-b"] + [doc("b9", text(40, 99), drop_reason="too_short")]
    b_docs[0].drop_reason = "pii"  # b1 is a duplicate too, but its first reason stays
    applied = {d.id: d for d in apply_clusters(b_docs, path)}
    assert (applied["b1"].dup_cluster_id, applied["b1"].dup_cluster_size, applied["b1"].drop_reason) == ("a1", 2, "pii")
    assert (applied["b2"].dup_cluster_id, applied["b2"].drop_reason) == ("a2", "duplicate")
    assert (applied["b4"].dup_cluster_id, applied["b4"].dup_cluster_size, applied["b4"].drop_reason) == ("b4", 1, None)
    assert applied["b9"].dup_cluster_id == "b9" and applied["b9"].drop_reason == "too_short"
    a = {d.id: d for d in apply_clusters(shards["shard-a"], path)}
    assert a["a1"].drop_reason is None and a["a1"].dup_cluster_size == 2
    assert b_docs[1].dup_cluster_id is None  # inputs are not mutated


def test_already_dropped_and_empty_documents_are_not_signed(tmp_path: Path) -> None:
    same = text(100, 30)
    step = SignatureStep(tmp_path)
    step.run("s", [doc("keep", same), doc("dropped", same, drop_reason="quality"), doc("empty", " -- "),
                   doc("none", None)])
    assert step.stats["signed"] == 1 and step.stats["skipped_dropped"] == 1 and step.stats["skipped_no_words"] == 2
    BucketStep(tmp_path).run()
    assert pq.read_table(ClusterStep(tmp_path).run()).num_rows == 0
    with_dropped = SignatureStep(tmp_path / "all", include_dropped=True)
    with_dropped.run("s", [doc("keep", same), doc("dropped", same, drop_reason="quality")])
    assert with_dropped.stats["signed"] == 2


def test_adding_a_shard_replans_and_reclusters(tmp_path: Path) -> None:
    base = text(200, 40)
    run_all(tmp_path, {"s1": [doc("a", base), doc("b", text(200, 41))]})
    assert clusters(tmp_path / "clusters.parquet") == {}
    out = run_all(tmp_path, {"s2": [doc("c", base)]})  # s1 is already signed
    assert clusters(out) == {"a": ("a", 2, True), "c": ("a", 2, False)}


def test_misuse_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="SignatureStep"):
        BucketStep(tmp_path).run()
    with pytest.raises(FileNotFoundError, match="BucketStep"):
        ClusterStep(tmp_path).run()
    with pytest.raises(ValueError, match="shard id"):
        SignatureStep(tmp_path).run("../evil", [])
    SignatureStep(tmp_path).run("s1", [doc("a", text(50, 1))])
    SignatureStep(tmp_path, MinhashConfig(seed=3)).run("s2", [doc("b", text(50, 1))])
    with pytest.raises(ValueError, match="different MinhashConfigs"):
        BucketStep(tmp_path).run()


def test_duplicate_doc_ids_are_rejected(tmp_path: Path) -> None:
    same = text(100, 50)
    with pytest.raises(ValueError, match="more than one"):
        run_all(tmp_path, {"s1": [doc("x", same)], "s2": [doc("x", same)]})


def test_partition_count_does_not_change_clusters(tmp_path: Path) -> None:
    one = pq.read_table(run_all(tmp_path / "p1", corpus(), num_partitions=1))
    many = pq.read_table(run_all(tmp_path / "p13", corpus(), num_partitions=13))
    assert one.equals(many) and one.schema.remove_metadata().equals(CLUSTER_SCHEMA)


def test_vectorised_union_find_matches_reference() -> None:
    rnd = np.random.default_rng(0)
    n = 2000
    u = rnd.integers(0, n, 1500)
    v = rnd.integers(0, n, 1500)
    chain = np.arange(n - 1)  # a long path as well: pointer jumping must not go quadratic
    u, v = np.concatenate([u, chain[::-1][:300]]), np.concatenate([v, chain[::-1][:300] + 1])
    parent = np.arange(n, dtype=np.int64)
    half = len(u) // 2
    _union(parent, u[:half], v[:half])  # two chunks, like two edge batches
    _union(parent, u[half:], v[half:])
    _compress(parent)
    ref = list(range(n))

    def find(x: int) -> int:
        while ref[x] != x:
            ref[x] = ref[ref[x]]
            x = ref[x]
        return x

    for a, b in zip(u.tolist(), v.tolist()):
        ra, rb = find(a), find(b)
        if ra != rb:
            ref[max(ra, rb)] = min(ra, rb)
    assert [find(x) for x in range(n)] == parent.tolist()


# --------------------------------------------------------------------------- verified clusters


def _jaccard(a: str, b: str) -> float:
    x, y = (set(shingles(words(normalise(t)), 5)) for t in (a, b))
    return len(x & y) / len(x | y)


def _chain(n: int, seed: int) -> list[str]:
    """``n`` texts, each with ~1.5 % of the previous one's words replaced (5-shingle J ~0.85 a step)."""
    texts = [text(400, seed)]
    for step in range(1, n):
        texts.append(edit(texts[-1], 0.015, seed * 100 + step))
    return texts


def _members(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for doc_id, (cluster_id, _, _) in sorted(clusters(path).items()):
        out.setdefault(cluster_id, []).append(doc_id)
    return out


def test_a_chain_of_near_duplicates_does_not_join_its_distinct_ends(tmp_path: Path) -> None:
    texts = _chain(6, 70)
    # The premise: every step a near duplicate, the ends distinct (the ends are three or more steps apart).
    assert all(_jaccard(a, b) >= 0.8 for a, b in zip(texts, texts[1:]))
    assert _jaccard(texts[0], texts[-1]) < 0.6
    shards = {"s1": [doc(f"c{i}", t) for i, t in enumerate(texts) if i % 2 == 0],
              "s2": [doc(f"c{i}", t) for i, t in enumerate(texts) if i % 2 == 1]}
    components = _members(run_all(tmp_path / "cc", shards, method="components"))
    assert list(components.values()) == [[f"c{i}" for i in range(6)]]  # FineWeb's recipe: one cluster
    got = _members(run_all(tmp_path / "rep", shards))
    assert got  # the near duplicates still cluster
    by_id = dict(zip((f"c{i}" for i in range(6)), texts))
    for members in got.values():
        for a in members:
            for b in members:
                assert _jaccard(by_id[a], by_id[b]) >= 0.6, (a, b, members)


def test_every_dropped_document_is_close_to_a_representative_of_its_cluster(tmp_path: Path) -> None:
    # A base, a copy and variants from J 1.0 down to 0.6 (siblings down to ~0.5 from each other).
    base = text(400, 80)
    rates = (0.0, 0.005, 0.01, 0.02, 0.03, 0.035, 0.04, 0.045)
    docs = [doc("base", base), doc("copy", base.upper())] + \
        [doc(f"v{i}", edit(base, rate, 80 + i)) for i, rate in enumerate(rates)]
    by_id = {d.id: d.text or "" for d in docs}
    chained = _members(run_all(tmp_path / "cc", {"s": docs}, method="components"))
    assert min(_jaccard(by_id[a], by_id[b]) for m in chained.values() for a in m for b in m) < 0.6  # the premise
    path = run_all(tmp_path / "rep", {"s": docs})
    got, table = _members(path), clusters(path)
    assert max(len(m) for m in got.values()) >= 5
    for members in got.values():
        assert sum(table[m][2] for m in members) == 1
        # No two members of one cluster are distinct documents.
        assert all(_jaccard(by_id[a], by_id[b]) >= 0.6 for a in members for b in members)
    assert table["copy"][0] == table["base"][0]  # equal after normalisation: always together


def test_same_verified_clusters_whatever_the_layout_partitions_or_batch(tmp_path: Path) -> None:
    docs = [doc(f"c{s}-{i}", t) for s in range(3) for i, t in enumerate(_chain(5, 90 + s))]
    base = text(300, 95)
    docs += [doc(f"v{i}", edit(base, 0.01 * i, 95 + i)) for i in range(8)]
    first = run_all(tmp_path / "a", {"s1": docs[:9], "s2": docs[9:]}).read_bytes()
    shuffled = list(docs)
    random.Random(3).shuffle(shuffled)
    relaid = {"x": shuffled[:2], "b": shuffled[2:15], "m": shuffled[15:]}
    other = run_all(tmp_path / "b", relaid, num_partitions=5, verify_batch=3)
    assert pq.read_table(other).equals(pq.read_table(tmp_path / "a" / "clusters.parquet"))
    assert len(_members(other)) >= 4  # the test is about real clusters, not an empty file
    # A rerun of the clustering alone (a killed run, resumed) writes the same bytes.
    (tmp_path / "a" / "clusters.parquet").unlink()
    assert ClusterStep(tmp_path / "a").run().read_bytes() == first


def test_signature_files_carry_the_low_16_bits_of_the_minhash(tmp_path: Path) -> None:
    t = text(100, 3)
    path = SignatureStep(tmp_path).run("s", [doc("a", t)])
    cell = pq.read_table(path, columns=["minhash"]).column("minhash")[0].as_py()
    sig = signature(t)
    assert sig is not None
    assert np.array_equal(np.frombuffer(cell, dtype="<u2"), (sig & 0xFFFF).astype(np.uint16))


def test_signature_files_without_minhash_values_are_refused_with_the_fix(tmp_path: Path) -> None:
    same = text(100, 4)
    run_all(tmp_path, {"s": [doc("a", same), doc("b", same)]})
    path = tmp_path / "signatures" / "s.parquet"
    meta = pq.ParquetFile(path).metadata.metadata
    old = pq.read_table(path).drop_columns(["minhash"])
    # A file as signing wrote it before the column existed: stamped with the MinHash config alone.
    pq.write_table(old.replace_schema_metadata({**meta, b"owd.dedup.config": MinhashConfig().fingerprint().encode()}),
                   path)
    (tmp_path / "clusters.parquet").unlink()
    with pytest.raises(ValueError, match="re-sign"):
        ClusterStep(tmp_path).run()
    # The signature step itself no longer accepts such a file as complete: it signs the shard again.
    step = SignatureStep(tmp_path)
    step.run("s", [doc("a", same), doc("b", same)])
    assert step.stats["shards_done"] == 1
    with pytest.raises(ValueError, match="method"):
        ClusterStep(tmp_path, method="chains")  # type: ignore[arg-type]
