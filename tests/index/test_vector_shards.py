"""The embedding stage (owd.index.vector_shards, `owd embed`): one vectors file per docs
shard, resumable, incremental, deterministic, and indexed with its documents."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from owd.core.schema import write_parquet
from owd.index.base import SearchQuery
from owd.index.build import index_campaign
from owd.index.embed import Embedder, passage_text
from owd.index.embedded import EmbeddedBackend
from owd.index.vector_shards import embed_shard, iter_vectors, read_vectors, vectors_path
from tests.index.corpus import kept, synthetic_corpus
from tests.vectors import cached_embedder

pytestmark = pytest.mark.semantic

DOCS = synthetic_corpus()[:24]


def _shard(tmp_path: Path, docs: list = DOCS) -> Path:
    return write_parquet(docs, tmp_path / "c" / "docs" / "shard-0.parquet")


def test_vectors_of_every_kept_document_in_shard_order(tmp_path: Path) -> None:
    shard = _shard(tmp_path)
    counts = embed_shard(shard, cached_embedder())
    ids, shas, vecs = read_vectors(vectors_path(shard))
    wanted = kept(DOCS)
    assert ids == [d.id for d in wanted] and counts["embed/documents"] == len(wanted) < len(DOCS)
    assert counts["embed/embedded"] == len(wanted) and counts["embed/reused"] == 0
    assert vecs.shape == (len(wanted), 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    # the passage is what the model saw: the same model call outside the stage gives the same vector
    direct = Embedder().passages([passage_text(wanted[2].title, wanted[2].text, wanted[2].description)])[0]
    assert np.array_equal(direct, vecs[2])
    assert len(set(shas)) > 1


def test_resumable_and_incremental(tmp_path: Path) -> None:
    shard = _shard(tmp_path)
    embed_shard(shard, cached_embedder())
    before = vectors_path(shard).read_bytes()
    assert embed_shard(shard, cached_embedder()) == {"embed/shards_skipped": 1}
    assert vectors_path(shard).read_bytes() == before
    # one document changes its text, one is dropped as a duplicate: one passage embedded again
    changed = [dataclasses.replace(d, text="A new lead paragraph about electricity prices.") if i == 0 else
               dataclasses.replace(d, drop_reason="duplicate") if i == 1 else d for i, d in enumerate(DOCS)]
    _shard(tmp_path, changed)

    class Counting(Embedder):
        calls = 0

        def passages(self, texts):  # type: ignore[no-untyped-def]
            Counting.calls += len(texts)
            return cached_embedder().passages(texts)

    counts = embed_shard(shard, Counting())
    assert counts["embed/embedded"] == Counting.calls == 1
    assert counts["embed/reused"] == len(kept(changed)) - 1
    ids, _, _ = read_vectors(vectors_path(shard))
    assert ids == [d.id for d in kept(changed)]


def test_stale_vectors_are_not_indexed_and_new_ones_reindex_the_shard(tmp_path: Path) -> None:
    shard = _shard(tmp_path)
    embed_shard(shard, cached_embedder())
    state = tmp_path / "c" / "index" / "state.json"
    with EmbeddedBackend(tmp_path / "c" / "index" / "tantivy", embedder=cached_embedder()) as b:
        s = index_campaign(shard.parent, b, state)
        assert s.shards_indexed == 1 and b.has_vectors()
        assert index_campaign(shard.parent, b, state).shards_skipped == 1
        # the docs shard changes after embedding: its vectors are stale, left out
        _shard(tmp_path, [dataclasses.replace(DOCS[0], text="Changed.")] + DOCS[1:])
        assert iter_vectors(shard) == {}
        assert index_campaign(shard.parent, b, state).shards_indexed == 1
        assert not b.has_vectors()
        # embedding again makes them current; the shard is indexed again with them
        embed_shard(shard, cached_embedder())
        assert index_campaign(shard.parent, b, state).shards_indexed == 1
        assert b.has_vectors()
        hits = b.search(SearchQuery("poplave", mode="semantic", page_size=3)).hits
        assert len(hits) == 3


def _owd(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command line in this process (these commands start no reactor): exit code, stdout, stderr."""
    import signal

    from owd.cli import main

    handler = signal.getsignal(signal.SIGTERM)
    try:
        code = main(list(args))
    finally:
        signal.signal(signal.SIGTERM, handler)  # main() installs its own
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_embed_then_index_then_search_by_meaning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"campaign": "c", "storage_root": str(tmp_path),
                                      "seeds": {"urls": ["http://127.0.0.1:9/"]}}))
    shard = _shard(tmp_path, DOCS[:8])
    code, _, err = _owd(capsys, "embed", str(config))
    assert code == 2 and "embeddings.enabled" in err and "Traceback" not in err
    code, out, err = _owd(capsys, "embed", str(config), "--force", "--workers", "1")
    assert code == 0, err
    assert f"{len(kept(DOCS[:8]))} documents embedded" in out
    assert vectors_path(shard).exists()
    assert _owd(capsys, "index", str(config))[0] == 0
    code, out, err = _owd(capsys, "search", "flood damage in the capital", "--config", str(config),
                          "--mode", "semantic", "--size", "3")
    assert code == 0, err
    assert f"{len(kept(DOCS[:8]))} result(s)" in out  # every document is ranked by meaning
    assert [line.split(".")[0].strip() for line in out.splitlines() if line[:5].strip().endswith(".")] == \
        ["1", "2", "3"]
    os.remove(vectors_path(shard))
    assert _owd(capsys, "index", str(config), "--rebuild")[0] == 0
    code, _, err = _owd(capsys, "search", "flood", "--config", str(config), "--mode", "hybrid")
    assert code == 2 and "owd embed" in err and "Traceback" not in err
