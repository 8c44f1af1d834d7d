"""index_campaign: every docs shard indexed once, changed shards again, resumable."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from owd.index.build import index_campaign
from owd.index.embedded import EmbeddedBackend
from owd.core.schema import write_parquet
from tests.index.corpus import kept, synthetic_corpus

DOCS = synthetic_corpus()


def _shards(docs_dir: Path, n: int = 3) -> list[Path]:
    size = len(DOCS) // n + 1
    return [write_parquet(DOCS[i * size:(i + 1) * size], docs_dir / f"shard-{i}.parquet") for i in range(n)]


def test_incremental(tmp_path: Path) -> None:
    docs_dir, state = tmp_path / "docs", tmp_path / "index" / "state.json"
    shards = _shards(docs_dir)
    (docs_dir / "shard-0.stats.json").write_text("{}")  # sidecar files are not shards
    (docs_dir / "shard-9.parquet.tmp").write_text("half-written")
    with EmbeddedBackend(tmp_path / "index" / "tantivy") as b:
        s = index_campaign(docs_dir, b, state)
        assert (s.shards_indexed, s.shards_skipped, s.shards_failed) == (3, 0, 0)
        assert s.documents_indexed == len(kept(DOCS)) == s.total == b.count()
        assert s.documents_dropped == len(DOCS) - len(kept(DOCS))
        recorded = json.loads(state.read_text())["shards"]
        assert sorted(recorded) == [p.name for p in shards]

        # a rerun does nothing
        s = index_campaign(docs_dir, b, state)
        assert (s.shards_indexed, s.shards_skipped) == (0, 3)

        # a touched but unchanged shard is hashed, not re-indexed
        os.utime(shards[1], ns=(1, 1))
        s = index_campaign(docs_dir, b, state)
        assert (s.shards_indexed, s.shards_skipped) == (0, 3)

        # a new shard is added; a rewritten shard (as after dedup) is indexed again
        extra = dataclasses.replace(DOCS[0], id="new-doc")
        write_parquet([extra], docs_dir / "shard-3.parquet")
        first = [d for d in DOCS[: len(DOCS) // 3 + 1]]
        victim = next(d for d in first if not d.drop_reason)
        rewritten = [dataclasses.replace(d, drop_reason="duplicate") if d.id == victim.id else d for d in first]
        write_parquet(rewritten, shards[0])
        s = index_campaign(docs_dir, b, state)
        assert s.shards_indexed == 2 and s.shards_skipped == 2
        assert b.get("new-doc") is not None
        assert b.get(victim.id) is None  # the rewrite dropped it: gone from the index
        assert s.total == len(kept(DOCS))  # +1 new, -1 dropped


def test_broken_shard_is_counted_and_retried(tmp_path: Path) -> None:
    docs_dir, state = tmp_path / "docs", tmp_path / "state.json"
    _shards(docs_dir, 2)
    (docs_dir / "broken.parquet").write_bytes(b"not parquet")
    with EmbeddedBackend(tmp_path / "ix") as b:
        s = index_campaign(docs_dir, b, state)
        assert (s.shards_indexed, s.shards_failed) == (2, 1)
        assert "broken.parquet" not in json.loads(state.read_text())["shards"]
        write_parquet(DOCS[:2], docs_dir / "broken.parquet")
        s = index_campaign(docs_dir, b, state)
        assert (s.shards_indexed, s.shards_failed, s.shards_skipped) == (1, 0, 2)


def test_lost_index_or_state_and_rebuild(tmp_path: Path) -> None:
    docs_dir, state = tmp_path / "docs", tmp_path / "state.json"
    _shards(docs_dir, 2)
    with EmbeddedBackend(tmp_path / "ix1") as b:
        index_campaign(docs_dir, b, state)
    # a new, empty index with the old state: the state is not trusted
    with EmbeddedBackend(tmp_path / "ix2") as b:
        s = index_campaign(docs_dir, b, state)
        assert s.shards_indexed == 2 and s.total == len(kept(DOCS))
        # a corrupt state costs a full (idempotent) re-index, nothing else
        state.write_text("{not json")
        s = index_campaign(docs_dir, b, state)
        assert s.shards_indexed == 2 and s.total == len(kept(DOCS))
        # rebuild clears the index first: a vanished shard's documents go too
        (docs_dir / "shard-1.parquet").unlink()
        s = index_campaign(docs_dir, b, state)
        assert s.shards_missing == 1 and s.total == len(kept(DOCS))  # left in place
        s = index_campaign(docs_dir, b, state, rebuild=True)
        assert s.shards_indexed == 1 and s.shards_missing == 0 and s.total < len(kept(DOCS))


def test_empty_docs_dir(tmp_path: Path) -> None:
    with EmbeddedBackend(tmp_path / "ix") as b:
        s = index_campaign(tmp_path / "nothing", b, tmp_path / "state.json")
        assert (s.shards_indexed, s.total) == (0, 0)
        assert (tmp_path / "state.json").exists()


def test_pool_membership_is_indexed_and_follows_rule_changes(tmp_path: Path) -> None:
    from owd.index.base import Filters, SearchQuery
    from owd.core.config import PoolConfig
    from owd.pools.rules import compile_pool, pool_membership

    docs_dir, state = tmp_path / "docs", tmp_path / "index" / "state.json"
    _shards(docs_dir)
    langs = sorted({d.lang for d in kept(DOCS) if d.lang})
    pools = [PoolConfig(name="first", languages=[langs[0]]), PoolConfig(name="all")]
    annotate, key = pool_membership(pools)
    with EmbeddedBackend(tmp_path / "index" / "tantivy") as b:
        index_campaign(docs_dir, b, state, annotate=annotate, annotate_key=key)
        # brute force: the same rules over every kept document
        rule = compile_pool(pools[0])
        want = sorted(d.id for d in kept(DOCS) if rule.matches(d))
        assert want and len(want) < len(kept(DOCS))
        got = b.search(SearchQuery(text="", filters=Filters(pools=["first"]), page_size=100))
        assert got.total == len(want) <= 100
        assert sorted(h.id for h in got.hits) == want
        assert b.count(Filters(pools=["first"])) == len(want)
        # a changed rule re-indexes every shard (the documents themselves did not change)
        pools[0] = PoolConfig(name="first", languages=[langs[1]])
        annotate, key2 = pool_membership(pools)
        assert key2 != key
        s = index_campaign(docs_dir, b, state, annotate=annotate, annotate_key=key2)
        assert s.shards_indexed == 3
        assert b.count(Filters(pools=["first"])) == sum(1 for d in kept(DOCS) if compile_pool(pools[0]).matches(d))
        s = index_campaign(docs_dir, b, state, annotate=annotate, annotate_key=key2)
        assert s.shards_indexed == 0
