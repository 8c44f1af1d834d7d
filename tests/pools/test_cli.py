"""`owd pools build|list|show|pull` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from owd.pools.build import build_pools
from tests.conftest import run_owd
from tests.pools.conftest import PoolCampaign
from tests.pools.helpers import POOLS, docs_campaign, synthetic_documents


def test_build_list_show(pool_campaign: PoolCampaign) -> None:
    config = str(pool_campaign.config)
    built = run_owd("pools", "build", config)
    assert built.returncode == 0, built.stderr
    assert "built none" in built.stdout and "unchanged" in built.stdout  # the fixture built them already

    listed = run_owd("pools", "list", config)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert set(lines) == {p["name"] for p in POOLS}
    manifest = json.loads((pool_campaign.pools / "health-de-at" / "manifest.json").read_text())
    assert "up to date" in lines["health-de-at"] and f" {manifest['documents']} " in lines["health-de-at"]

    shown = run_owd("pools", "show", config, "everything")
    assert shown.returncode == 0, shown.stderr
    assert "policy exclude: excluded" in shown.stdout and "owd-bot" in shown.stdout and "top domains" in shown.stdout
    as_json = run_owd("pools", "show", config, "everything-incl", "--json")
    assert json.loads(as_json.stdout)["rights_reservations"]["policy"] == "include"


def test_pull_a_language_slice_and_print_how_to_load(pool_campaign: PoolCampaign, tmp_path: Path) -> None:
    config = str(pool_campaign.config)
    pulled = run_owd("pools", "pull", config, "everything", "--lang", "sl", "--lang", "de", "--to", str(tmp_path))
    assert pulled.returncode == 0, pulled.stderr
    folder = tmp_path / "everything"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["lang=de", "lang=sl"]
    assert {p.name for p in folder.iterdir() if p.is_file()} == {"croissant.json", "dcat.jsonld", "summary.json",
                                                                  "manifest.json"}
    source = pool_campaign.pools / "everything"
    for f in folder.glob("lang=*/*.parquet"):
        assert f.read_bytes() == (source / f.relative_to(folder)).read_bytes()
    for word in ("pyarrow", "duckdb", "polars", "load_dataset", "lang=sl"):
        assert word in pulled.stdout.lower()
    assert sum(pq.read_metadata(f).num_rows for f in folder.glob("lang=*/*.parquet")) > 0
    again = run_owd("pools", "pull", config, "everything", "--to", str(tmp_path))  # the whole pool replaces it
    assert again.returncode == 0, again.stderr
    assert len(list(folder.glob("lang=*"))) > 2 and not list(tmp_path.glob(".*"))


def test_pull_prints_examples_for_a_language_the_pool_holds(tmp_path: Path) -> None:
    pools = [{"name": "german", "languages": ["de"]}, {"name": "four", "languages": ["en", "fr", "sl", "fi"]},
             {"name": "irish", "languages": ["ga"]}]  # no synthetic document is Irish: an empty pool
    cfg = docs_campaign(tmp_path, synthetic_documents(), pools=pools)
    build_pools(cfg)
    config = str(cfg.source)

    german = run_owd("pools", "pull", config, "german", "--to", str(tmp_path / "out"))
    assert german.returncode == 0, german.stderr
    assert "ds.field('lang') == 'de'" in german.stdout and "lang=de/*.parquet" in german.stdout
    assert "'sl'" not in german.stdout and "lang=sl" not in german.stdout

    # several languages: the one with the most documents (en 6, sl 3, fi 2, fr 1), or the one pulled
    four = run_owd("pools", "pull", config, "four", "--to", str(tmp_path / "out"))
    assert four.returncode == 0, four.stderr
    assert "pl.col('lang') == 'en'" in four.stdout and "lang=en/*.parquet" in four.stdout
    fi = run_owd("pools", "pull", config, "four", "--lang", "fi", "--to", str(tmp_path / "out"))
    assert fi.returncode == 0, fi.stderr
    assert "== 'fi'" in fi.stdout and "'en'" not in fi.stdout

    irish = run_owd("pools", "pull", config, "irish", "--to", str(tmp_path / "out"))
    assert irish.returncode == 0, irish.stderr
    assert "lang') ==" not in irish.stdout and "lang=" not in irish.stdout, irish.stdout
    assert "read_parquet" in irish.stdout  # the examples without a language filter remain


def test_usage_errors_are_one_line_exit_2(pool_campaign: PoolCampaign, tmp_path: Path) -> None:
    config = str(pool_campaign.config)
    for args in (("show", config, "nope"), ("pull", config, "everything", "--lang", "xx", "--to", str(tmp_path))):
        result = run_owd("pools", *args)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("owd: error: pool ")
    bad = tmp_path / "bad.yaml"
    bad.write_text("campaign: t1\nseeds: {urls: ['http://a.eu/']}\npools:\n  - name: p\n"
                   "    domains: ['*.gv.at', 'a[b']\n")
    result = run_owd("pools", "build", str(bad))
    assert result.returncode == 2
    assert result.stderr == f"owd: error: {bad}: pools[0].domains[1]: bad glob 'a[b': '[' without a closing ']'\n"
    empty = tmp_path / "empty.yaml"
    empty.write_text(f"campaign: t2\nstorage_root: {tmp_path / 'data'}\nseeds: {{urls: ['http://a.eu/']}}\n"
                     "pools: [{name: p}]\n")
    result = run_owd("pools", "build", str(empty))
    assert result.returncode == 2 and "run `owd process" in result.stderr


def test_schema_validate_accepts_pool_files(pool_campaign: PoolCampaign, tmp_path: Path) -> None:
    files = sorted(str(p) for p in (pool_campaign.pools / "everything").glob("lang=*/*.parquet"))
    result = run_owd("schema", "validate", *files)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok, ") == len(files) > 20
    table = pq.read_table(files[0])
    broken = tmp_path / "broken.parquet"
    pq.write_table(table.drop_columns(["url"]), broken)  # keeps the pool-format metadata
    result = run_owd("schema", "validate", str(broken))
    assert result.returncode == 1 and "missing column 'url'" in result.stderr
