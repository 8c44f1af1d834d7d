"""`owd pools build` on a processed test-web campaign: exact membership, layout, TDM, idempotence."""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from owd.core.schema import DOCUMENT_SCHEMA, validate_table
from owd.pools.build import POOL_SCHEMA, ROW_GROUP_MAX_ROWS, build_pools, to_canonical
from tests.pools.conftest import PoolCampaign, clone
from tests.pools.helpers import POOLS, reference_member


def pool_rows(pool_dir: Path) -> list[dict]:  # type: ignore[type-arg]
    rows = []
    for f in sorted(pool_dir.glob("lang=*/*.parquet")):
        for r in pq.read_table(f).to_pylist():
            rows.append({**r, "_dir_lang": f.parent.name.removeprefix("lang=")})
    return rows


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_membership_equals_brute_force_evaluation_of_every_rule(pool_campaign: PoolCampaign) -> None:
    records = pool_campaign.records
    assert len(records) > 250 and any(r["id"].startswith("synthetic-") for r in records)
    for pool in POOLS:
        expected = {r["id"] for r in records if reference_member(pool, r)}
        got = [r["id"] for r in pool_rows(pool_campaign.pools / pool["name"])]
        assert len(got) == len(set(got)), f"{pool['name']}: a document written twice"
        assert set(got) == expected, (pool["name"], sorted(set(got) ^ expected)[:10])
    sizes = {p["name"]: sum(reference_member(p, r) for r in records) for p in POOLS}
    # the fixture is only a test if every pool holds something and none holds everything
    assert all(0 < n < len(records) for n in sizes.values()), sizes


def test_pools_column_lists_every_pool_of_the_document(pool_campaign: PoolCampaign) -> None:
    expected: dict[str, list[str]] = defaultdict(list)
    for r in pool_campaign.records:
        for pool in POOLS:
            if reference_member(pool, r):
                expected[r["id"]].append(pool["name"])
    assert max(len(v) for v in expected.values()) >= 4  # one document, several pools
    for pool in POOLS:
        for row in pool_rows(pool_campaign.pools / pool["name"]):
            assert row["pools"] == expected[row["id"]]


def test_layout_schema_compression_and_row_groups(pool_campaign: PoolCampaign) -> None:
    folder = pool_campaign.pools / "everything"
    manifest = json.loads((folder / "manifest.json").read_text())
    files = sorted(folder.glob("lang=*/part-*.parquet"))
    assert [f["path"] for f in manifest["files"]] == [p.relative_to(folder).as_posix() for p in files]
    assert len({f.parent.name for f in files}) >= 20  # the test web has all 24 languages
    by_id = {r["id"]: r for r in pool_campaign.records}
    for f in files:
        table = pq.read_table(f)
        assert table.schema.equals(POOL_SCHEMA, check_metadata=False)
        canonical = to_canonical(table)
        validate_table(canonical)  # the canonical schema once `quality` is a map again
        assert canonical.schema.field("lang").type == DOCUMENT_SCHEMA.field("lang").type
        for row in canonical.to_pylist():  # every column as in docs/, except the filled `pools`
            source = dict(by_id[row["id"]], pools=row["pools"])
            assert row == source
        meta = pq.ParquetFile(f).metadata
        assert meta.row_group(0).column(0).compression == "ZSTD"
        assert all(meta.row_group(i).num_rows <= ROW_GROUP_MAX_ROWS for i in range(meta.num_row_groups))
        langs = set(pq.read_table(f, columns=["lang"]).column("lang").to_pylist())
        assert langs == {f.parent.name.removeprefix("lang=")}
    assert not list(pool_campaign.pools.glob(".*")), "staging or temporary folders left behind"
    assert not list(folder.rglob("*.tmp"))


def test_tdm_reserved_documents_only_where_the_pool_opts_in(pool_campaign: PoolCampaign) -> None:
    reserved = {r["id"] for r in pool_campaign.records if r["drop_reason"] is None and r["lang"]
                and (r["tdm_reservation"] is True or r["robots_noai"] is True)}
    hosts = {r["host"] for r in pool_campaign.records if r["id"] in reserved}
    # the test web reserves by tdmrep.json, header and meta, and says noai on another host
    assert {"tdm-header.owdtest.eu", "tdm-meta.owdtest.eu", "noai.owdtest.eu"} <= hosts, hosts
    excl = {r["id"] for r in pool_rows(pool_campaign.pools / "everything")}
    incl = {r["id"] for r in pool_rows(pool_campaign.pools / "everything-incl")}
    assert reserved.isdisjoint(excl)
    assert incl - excl == reserved
    s_excl = json.loads((pool_campaign.pools / "everything" / "summary.json").read_text())["rights_reservations"]
    s_incl = json.loads((pool_campaign.pools / "everything-incl" / "summary.json").read_text())["rights_reservations"]
    assert s_excl["policy"] == "exclude" and s_excl["treatment"].startswith("excluded")
    assert s_excl["excluded"]["documents"] == len(reserved) and s_excl["in_pool"]["documents"] == 0
    assert s_incl["policy"] == "include" and s_incl["treatment"].startswith("included")
    assert s_incl["in_pool"]["documents"] == len(reserved) and s_incl["excluded"]["documents"] == 0
    assert 0 < s_excl["share_of_matching_content"] == s_incl["share_of_matching_content"] < 1
    assert set(s_incl["by_signal"]) >= {"tdmrep:header", "tdmrep:meta", "robots-meta:noai"}
    dcat_text = (pool_campaign.pools / "everything-incl" / "dcat.jsonld").read_text()
    assert "are INCLUDED" in dcat_text


def test_rerun_skips_and_forced_rebuild_writes_identical_bytes(pool_campaign: PoolCampaign) -> None:
    assert sorted(pool_campaign.first_build.built) == sorted(p["name"] for p in POOLS)
    before = snapshot(pool_campaign.pools)
    mtimes = {p: os.stat(pool_campaign.pools / p).st_mtime_ns for p in before}
    again = build_pools(pool_campaign.cfg)
    assert again.built == [] and sorted(again.skipped) == sorted(p["name"] for p in POOLS)
    assert {p: os.stat(pool_campaign.pools / p).st_mtime_ns for p in before} == mtimes  # nothing rewritten
    forced = build_pools(pool_campaign.cfg, force=True)
    assert sorted(forced.built) == sorted(p["name"] for p in POOLS)
    assert snapshot(pool_campaign.pools) == before


def test_changed_rules_rebuild_and_removed_pools_go(pool_campaign: PoolCampaign, tmp_path: Path) -> None:
    cfg = clone(pool_campaign, tmp_path / "a", pools=POOLS[:2])
    first = build_pools(cfg)
    assert sorted(first.built) == ["everything", "everything-incl"]
    docs = {r["id"]: r["pools"] for r in pool_rows(cfg.campaign_dir / "pools" / "everything")}
    assert all(p == ["everything", "everything-incl"] for p in docs.values())
    cfg2 = clone(pool_campaign, tmp_path / "b", pools=[POOLS[0], {"name": "de", "languages": ["de"]}])
    shutil.copytree(cfg.campaign_dir / "pools", cfg2.campaign_dir / "pools")
    second = build_pools(cfg2)
    assert sorted(second.built) == ["de", "everything"] and second.removed == ["everything-incl"]
    assert not (cfg2.campaign_dir / "pools" / "everything-incl").exists()
    rows = pool_rows(cfg2.campaign_dir / "pools" / "everything")
    assert {tuple(r["pools"]) for r in rows if r["lang"] == "de"} == {("everything", "de")}


def test_a_broken_shard_is_reported_not_fatal(pool_campaign: PoolCampaign, tmp_path: Path) -> None:
    cfg = clone(pool_campaign, tmp_path, pools=POOLS[:1])
    (cfg.campaign_dir / "docs" / "broken.parquet").write_bytes(b"PAR1 not really")
    summary = build_pools(cfg)
    assert list(summary.failed_shards) == ["broken.parquet"]
    assert summary.documents["everything"] == sum(reference_member(POOLS[0], r) for r in pool_campaign.records)
    assert build_pools(cfg).built == ["everything"]  # not marked up to date: a rerun tries again
    (cfg.campaign_dir / "docs" / "broken.parquet").unlink()
    assert build_pools(cfg).built == ["everything"] and build_pools(cfg).skipped == ["everything"]


@pytest.mark.parametrize("pool", ["everything", "health-de-at"])
def test_summary_counts_match_the_files(pool_campaign: PoolCampaign, pool: str) -> None:
    folder = pool_campaign.pools / pool
    s = json.loads((folder / "summary.json").read_text())
    rows = pool_rows(folder)
    g = s["general"]
    assert g["documents"] == len(rows)
    assert g["text_bytes"] == sum(len((r["text"] or "").encode()) for r in rows)
    assert g["approx_tokens"] == round(sum(len(r["text"] or "") for r in rows) / 4)
    assert {k: v["documents"] for k, v in g["languages"].items()} == {
        lang: sum(r["lang"] == lang for r in rows) for lang in {r["lang"] for r in rows}}
    period = s["crawled_sources"]["collection_period"]
    times = sorted(r["fetch_time"] for r in rows)
    assert period["start"].startswith(times[0].strftime("%Y-%m-%dT%H:%M:%S"))
    assert period["end"].startswith(times[-1].strftime("%Y-%m-%dT%H:%M:%S"))
    top = s["crawled_sources"]["top_domains"]
    by_domain: dict[str, int] = defaultdict(int)
    for r in rows:
        by_domain[r["domain"] or r["host"]] += len((r["text"] or "").encode())
    assert len(top) == max(1, -(-len(by_domain) // 10))
    assert top[0]["text_bytes"] == max(by_domain.values())
    assert s["crawled_sources"]["crawler"]["user_agent"] == pool_campaign.cfg.politeness.user_agent
    assert sum(s["licenses"].values()) == len(rows)
