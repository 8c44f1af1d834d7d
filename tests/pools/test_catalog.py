"""The site catalogue (pools/catalog.py, `owd catalog build`) of a crawled campaign's pools:
valid DCAT-AP 3.0.1, and every pool file in it with its size and SHA-256."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS

from owd.cli import main
from owd.pools.build import read_manifest
from owd.pools.catalog import SPDX
from tests.federation import shacl_violations
from tests.pools.conftest import PoolCampaign

BASE = "https://owd.example-aif.eu/"


@pytest.mark.shared_data
def test_site_catalogue_is_valid_dcat_ap_and_lists_every_file_with_its_checksum(
        pool_campaign: PoolCampaign, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "build", str(pool_campaign.config), "--base-url", BASE, "--out", str(tmp_path)]) == 0
    built = sorted(p for p in pool_campaign.pools.iterdir() if read_manifest(p) is not None)
    assert len(built) >= 8 and f"catalogue of {len(built)} dataset(s)" in capsys.readouterr().out
    g = Graph().parse(tmp_path / "catalog.ttl", format="turtle")
    assert Graph().parse(tmp_path / "catalog.jsonld", format="json-ld").isomorphic(g)
    assert shacl_violations(g) == []
    catalog = URIRef(BASE + "catalog")
    assert len(list(g.objects(catalog, DCAT.dataset))) == len(built)
    for pool in built:
        dataset = URIRef(f"{BASE}catalog/datasets/tw/{pool.name}")
        assert (catalog, DCAT.dataset, dataset) in g
        assert str(next(g.objects(dataset, DCTERMS.identifier))) == str(dataset)
        assert next(g.objects(dataset, DCTERMS.provenance), None) is not None
        policy = next(g.objects(dataset, URIRef("http://www.w3.org/ns/odrl/2/hasPolicy")))
        assert "text-and-data mining" in str(next(g.objects(policy, URIRef("http://www.w3.org/2000/01/rdf-schema#comment"))))
        listed = {}
        for dist in g.objects(dataset, DCAT.distribution):
            url = str(next(g.objects(dist, DCAT.downloadURL)))
            checksum = next(g.objects(dist, SPDX.checksum))
            listed[url.removeprefix(f"{BASE}pools/tw/{pool.name}/")] = (
                int(next(g.objects(dist, DCAT.byteSize))), str(next(g.objects(checksum, SPDX.checksumValue))))
        manifest = read_manifest(pool)
        assert manifest is not None
        for f in manifest["files"]:
            assert listed[f["path"]] == (f["bytes"], f["sha256"]), (pool.name, f["path"])
        assert {"manifest.json", "croissant.json", "dcat.jsonld", "summary.json"} <= set(listed)
        langs = {str(lang) for lang in g.objects(dataset, DCTERMS.language)}
        assert len(langs) == len({f["lang"] for f in manifest["files"]})


def test_catalog_build_needs_an_http_base_url(pool_campaign: PoolCampaign, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "build", str(pool_campaign.config), "--base-url", "ftp://x/"]) == 2
    assert "--base-url: expected an http(s) URL" in capsys.readouterr().err
