"""A pool loads unchanged with pyarrow.dataset, DuckDB, Polars and HF datasets; its cards validate."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from owd.core.schema import DOCUMENT_SCHEMA
from tests.pools.conftest import PoolCampaign

POOL = "everything-incl"  # the largest pool: every language, reserved documents too


@pytest.fixture(scope="module")
def pool_dir(pool_campaign: PoolCampaign) -> Path:
    return pool_campaign.pools / POOL


@pytest.fixture(scope="module")
def manifest(pool_dir: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((pool_dir / "manifest.json").read_text())


def test_four_readers_same_rows_same_lang_counts(pool_dir: Path, manifest: dict, tmp_path: Path,  # type: ignore[type-arg]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb
    import polars as pl

    n = manifest["documents"]
    per_lang: dict[str, int] = {}
    for f in manifest["files"]:
        per_lang[f["lang"]] = per_lang.get(f["lang"], 0) + f["rows"]
    assert n > 200 and len(per_lang) >= 20

    # pyarrow: hive partitioning merges the partition key with the file's own `lang` column;
    # exclude_invalid_files skips the JSON cards that live beside the Parquet folders
    with pytest.raises(Exception, match="croissant.json|dcat.jsonld|manifest.json|summary.json"):
        ds.dataset(pool_dir, format="parquet", partitioning="hive")
    dataset = ds.dataset(pool_dir, format="parquet", partitioning="hive", exclude_invalid_files=True)
    table = dataset.to_table()
    assert table.num_rows == n
    assert table.schema.names.count("lang") == 1 and set(table.schema.names) == set(DOCUMENT_SCHEMA.names)
    counts = table.group_by("lang").aggregate([("id", "count")]).to_pydict()
    assert dict(zip(counts["lang"], counts["id_count"])) == per_lang
    for lang, rows in per_lang.items():
        assert dataset.count_rows(filter=ds.field("lang") == lang) == rows

    glob = f"{pool_dir.as_posix()}/**/*.parquet"
    duck = dict(duckdb.sql(f"SELECT lang, count(*) FROM read_parquet('{glob}', hive_partitioning=true) "
                           "GROUP BY lang").fetchall())
    assert duck == per_lang
    cols = [d[0] for d in duckdb.sql(f"SELECT * FROM read_parquet('{glob}', hive_partitioning=true) LIMIT 1").description]
    assert cols.count("lang") == 1

    pdf = pl.scan_parquet(glob).collect()
    assert pdf.height == n and pdf.columns.count("lang") == 1
    assert dict(pdf.group_by("lang").len().iter_rows()) == per_lang
    assert pl.scan_parquet(glob).filter(pl.col("lang") == "sl").collect().height == per_lang["sl"]

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    from datasets import load_dataset

    hf = load_dataset("parquet", data_files=glob, split="train", cache_dir=str(tmp_path / "hf"))
    assert hf.num_rows == n and hf.column_names.count("lang") == 1
    assert sum(1 for x in hf["lang"] if x == "de") == per_lang["de"]
    sl = load_dataset("parquet", data_files=f"{pool_dir.as_posix()}/lang=sl/*.parquet", split="train",
                      cache_dir=str(tmp_path / "hf"))
    assert sl.num_rows == per_lang["sl"]
    # the same documents in every reader, not only the same count
    assert sorted(hf["id"]) == sorted(table.column("id").to_pylist()) == sorted(pdf["id"].to_list())


def test_croissant_validates_and_its_records_load(pool_dir: Path, manifest: dict) -> None:  # type: ignore[type-arg]
    import mlcroissant as mlc

    dataset = mlc.Dataset(jsonld=str(pool_dir / "croissant.json"))
    issues = dataset.metadata.issues
    assert not issues.errors, issues.report()
    assert not issues.warnings, issues.report()
    records = list(dataset.records("documents"))
    assert len(records) == manifest["documents"]
    ids = {r["documents/id"].decode() for r in records}
    table = ds.dataset(pool_dir, format="parquet", partitioning="hive", exclude_invalid_files=True).to_table(
        columns=["id", "lang", "pools"])
    assert ids == set(table.column("id").to_pylist())
    first = records[0]
    assert isinstance(first["documents/lang"], bytes) and first["documents/fetch_time"] is not None
    assert all(POOL in [p.decode() for p in r["documents/pools"]] for r in records)


DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"


def test_dcat_ap_parses_as_rdf_with_mandatory_and_recommended_properties(pool_dir: Path,  # type: ignore[type-arg]
                                                                         manifest: dict) -> None:
    import rdflib

    g = rdflib.Graph().parse(pool_dir / "dcat.jsonld", format="json-ld")
    ns = {"dcat": rdflib.Namespace(DCAT), "dct": rdflib.Namespace(DCT)}
    datasets = list(g.query("SELECT ?d ?t ?desc WHERE { ?d a dcat:Dataset ; dct:title ?t ; dct:description ?desc }",
                            initNs=ns))
    assert len(datasets) == 1
    dataset = datasets[0][0]
    dists = list(g.query("SELECT ?x ?u WHERE { ?d dcat:distribution ?x . ?x a dcat:Distribution ; dcat:accessURL ?u }",
                         initNs=ns, initBindings={"d": dataset}))
    assert len(dists) == 1
    dist, access = dists[0]
    assert isinstance(access, rdflib.URIRef) and Path(access.removeprefix("file://")).resolve() == pool_dir.resolve()
    # recommended properties we can fill
    for prop in ("dcat:keyword", "dct:language", "dct:publisher", "dct:temporal", "dcat:contactPoint"):
        assert g.value(dataset, rdflib.URIRef(prop.replace("dcat:", DCAT).replace("dct:", DCT))) is not None, prop
    langs = {str(o) for o in g.objects(dataset, rdflib.URIRef(DCT + "language"))}
    assert "http://publications.europa.eu/resource/authority/language/SLV" in langs and len(langs) >= 20
    assert int(g.value(dist, rdflib.URIRef(DCAT + "byteSize"))) == manifest["bytes"]
    assert str(g.value(dist, rdflib.URIRef(DCT + "format"))).endswith("/file-type/PARQUET")
    downloads = {Path(str(u).removeprefix("file://")) for u in g.objects(dist, rdflib.URIRef(DCAT + "downloadURL"))}
    assert downloads == {(pool_dir / f["path"]).resolve() for f in manifest["files"]}
    assert all(p.is_file() for p in downloads)
    period = g.value(dataset, rdflib.URIRef(DCT + "temporal"))
    assert g.value(period, rdflib.URIRef(DCAT + "startDate")) <= g.value(period, rdflib.URIRef(DCAT + "endDate"))
