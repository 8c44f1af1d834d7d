"""The federation endpoints of owd serve (owd/catalog_serve.py) against a real site:
content negotiation, dataset IRIs, pool files with ranges and ETags, and nothing
outside the pools reachable."""

from __future__ import annotations

import hashlib
import http.client
import json
from pathlib import Path
from typing import Iterator

import pytest
from rdflib import Graph
from rdflib.namespace import DCAT, RDF

from owd.catalog_serve import SiteCatalog
from owd.core.config import load_campaign
from owd.pools.catalog import pool_files
from owd.serve import create_catalog_app
from tests.federation import site_campaign
from tests.serve.conftest import serving


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("site")
    config = site_campaign(folder, "alpha", [{"name": "everything"}, {"name": "sl-only", "languages": ["sl"]}])
    cfg = load_campaign(config)
    (folder / "secret.txt").write_text("not for the web")
    (cfg.campaign_dir / "docs" / "x.txt").write_text("not a pool file")
    (cfg.campaign_dir / "report").mkdir()
    (cfg.campaign_dir / "report" / "report.json").write_text('{"campaign": "alpha"}')
    with serving(create_catalog_app(SiteCatalog([cfg]))) as base:
        yield base, cfg.campaign_dir / "pools"


def get(base: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """A raw request: the path goes out exactly as written (no normalisation of ``..``)."""
    host = base.removeprefix("http://")
    conn = http.client.HTTPConnection(host, timeout=20)
    try:
        conn.request(headers.pop("method", "GET"), path, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_catalogue_negotiates_json_ld_and_turtle_with_the_same_triples(site: tuple[str, Path]) -> None:
    base, _ = site
    status, headers, ttl = get(base, "/catalog", Accept="text/turtle")
    assert status == 200 and headers["content-type"].startswith("text/turtle") and "accept" in headers["vary"].lower()
    status, headers, jsonld = get(base, "/catalog", Accept="application/ld+json;q=0.9, text/turtle;q=0.5")
    assert status == 200 and headers["content-type"].startswith("application/ld+json")
    assert get(base, "/catalog?format=turtle", Accept="application/ld+json")[2] == ttl  # ?format= wins
    assert get(base, "/catalog.ttl")[2] == ttl and get(base, "/catalog.jsonld")[2] == jsonld
    assert get(base, "/catalog", Accept="image/png")[0] == 406
    a, b = Graph().parse(data=ttl, format="turtle"), Graph().parse(data=jsonld, format="json-ld")
    assert len(a) == len(b) > 100 and a.isomorphic(b)
    datasets = sorted(str(d) for d in a.subjects(RDF.type, DCAT.Dataset))
    assert datasets == [f"{base}/catalog/datasets/alpha/everything", f"{base}/catalog/datasets/alpha/sl-only"]


def test_dataset_iri_dereferences_to_its_description(site: tuple[str, Path]) -> None:
    base, _ = site
    iri = f"{base}/catalog/datasets/alpha/sl-only"
    status, _, body = get(base, "/catalog/datasets/alpha/sl-only", Accept="text/turtle")
    g = Graph().parse(data=body, format="turtle")
    assert status == 200 and [str(d) for d in g.subjects(RDF.type, DCAT.Dataset)] == [iri]
    urls = sorted(str(u) for u in g.objects(None, DCAT.downloadURL))
    assert f"{base}/pools/alpha/sl-only/lang=sl/part-00000.parquet" in urls and f"{base}/pools/alpha/sl-only/manifest.json" in urls
    assert get(base, "/catalog/datasets/alpha/nothing")[0] == 404
    assert get(base, "/catalog/datasets/alpha/..")[0] in (404, 422)


def test_pool_files_whole_ranged_conditional_and_head(site: tuple[str, Path]) -> None:
    base, pools = site
    entry = next(f for f in pool_files(pools / "everything") if f["path"].endswith(".parquet"))
    data = (pools / "everything" / entry["path"]).read_bytes()
    url = f"/pools/alpha/everything/{entry['path']}"
    status, headers, body = get(base, url)
    assert status == 200 and body == data and headers["etag"] == f'"{entry["sha256"]}"'
    assert hashlib.sha256(body).hexdigest() == entry["sha256"] and headers["accept-ranges"] == "bytes"
    status, headers, body = get(base, url, Range="bytes=10-99")
    assert status == 206 and body == data[10:100] and headers["content-range"] == f"bytes 10-99/{len(data)}"
    assert get(base, url, Range="bytes=-7")[2] == data[-7:]
    assert get(base, url, Range=f"bytes=5-{len(data) * 10}")[2] == data[5:]  # clamped to the end
    status, headers, _ = get(base, url, Range=f"bytes={len(data)}-")
    assert status == 416 and headers["content-range"] == f"bytes */{len(data)}"
    for bad in ("bytes=0-1,5-9", "bytes=9-2", "bytes=-0", "bytes=x-y", "bytes=" + "9" * 30 + "-"):
        assert get(base, url, Range=bad)[0] in (416, 422), bad
    assert get(base, url, Range="items=0-5")[0] == 200  # another unit: ignored (RFC 9110)
    assert get(base, url, Range="bytes=10-19", **{"If-Range": '"other"'})[0] == 200  # changed: whole file
    assert get(base, url, Range="bytes=10-19", **{"If-Range": f'"{entry["sha256"]}"'})[2] == data[10:20]
    assert get(base, url, **{"If-None-Match": f'"{entry["sha256"]}"'})[0] == 304
    status, headers, body = get(base, url, method="HEAD")
    assert status == 200 and body == b"" and headers["content-length"] == str(len(data))
    index = json.loads(get(base, "/pools/alpha/everything/")[2])
    assert {f["path"] for f in index["files"]} >= {entry["path"], "manifest.json", "croissant.json"}


@pytest.mark.parametrize("path", [
    "/pools/alpha/everything/../../docs/s0.parquet", "/pools/alpha/everything/%2e%2e/%2e%2e/docs/x.txt",
    "/pools/alpha/everything/..%2f..%2fdocs%2fx.txt", "/pools/alpha/everything//etc/passwd",
    "/pools/alpha/everything/%2fetc%2fpasswd", "/pools/alpha/everything/lang=sl/../../../../secret.txt",
    "/pools/alpha/everything/lang%3Dsl%2F..%2F..%2F..%2F..%2Fsecret.txt", "/pools/alpha/../../secret.txt",
    "/pools/../docs/x.txt/a/b", "/pools/alpha/everything/manifest.json%00.parquet",
    "/pools/alpha/everything/.", "/pools/alpha/everything/lang=sl", "/pools/beta/everything/manifest.json",
    "/pools/ALPHA/everything/manifest.json", "/pools/alpha/everything/manifest.json/",
])
def test_nothing_outside_the_pools_files_is_reachable(site: tuple[str, Path], path: str) -> None:
    base, _ = site
    status, _, body = get(base, path)
    assert 400 <= status < 500, (path, status)
    assert b"not for the web" not in body and b"not a pool file" not in body and b"PAR1" not in body


# Real names, so the operations are exercised beyond their 404s; everything else is generated.
ST_CONFIG = """
[[operations]]
include-path-regex = "^/(catalog/datasets/|pools/[{]campaign[}]/[{]pool[}]/$)"
parameters = { campaign = "alpha", pool = "everything" }

[[operations]]
include-path-regex = "^/pools/[{]campaign[}]/[{]pool[}]/[{]file[}]$"
parameters = { campaign = "alpha", pool = "everything", file = "lang=sl/part-00000.parquet" }

[[operations]]
include-name = "GET /reports/{campaign}/report.json"
parameters = { campaign = "alpha" }
"""


@pytest.mark.slow
def test_schemathesis_on_the_catalogue_and_file_operations(site: tuple[str, Path], tmp_path: Path) -> None:
    import subprocess
    import sys

    base, _ = site
    st = Path(sys.executable).with_name("st")
    assert st.exists(), f"{st} is missing: pip install -e '.[test]'"
    (tmp_path / "schemathesis.toml").write_text(ST_CONFIG)
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [str(st), "--config-file", str(tmp_path / "schemathesis.toml"), "run", f"{base}/openapi.json",
         "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--max-examples", "6",
         "--phases", "examples,coverage,fuzzing", "--request-timeout", "10", "--report", "json",
         "--report-json-path", str(report)], cwd=tmp_path, capture_output=True, text=True, timeout=180)
    out = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert report.exists(), out
    run = json.loads(report.read_text())
    print(f"schemathesis: {run['operations']['tested']} operations, {run['test_cases']['generated']} test cases")
    assert proc.returncode == 0 and run["exit_code"] == 0, out
    assert run["operations"]["tested"] == 8 and run["operations"]["errored"] == 0, out
    assert run["failures"] == [] and run["errors"] == [] and run["test_cases"]["with_failures"] == 0, out
    assert not run["warnings"]["missing_test_data"], out  # the real names were used


def test_pull_from_the_site_and_bad_iris_are_one_line_errors(site: tuple[str, Path], tmp_path: Path) -> None:
    import pyarrow.dataset as ds

    from owd.pools.build import read_manifest
    from owd.pools.remote import PullError, pull_remote
    from tests.http_files import FileServer

    base, pools = site
    nets = ["127.0.0.0/8"]
    folder, pool = pull_remote(f"{base}/catalog/datasets/alpha/sl-only", tmp_path / "copy", allow_networks=nets)
    origin = read_manifest(pools / "sl-only")
    assert origin is not None and pool.identifier == f"{base}/catalog/datasets/alpha/sl-only"
    assert ds.dataset(folder, format="parquet", partitioning="hive", exclude_invalid_files=True).count_rows() \
        == origin["documents"] > 0
    assert (folder / "remote.json").is_file() and not (tmp_path / ".copy.partial").exists()
    # the pool folder URL works too (its index names the dataset)
    assert pull_remote(f"{base}/pools/alpha/sl-only/", tmp_path / "again", allow_networks=nets)[1].dataset \
        == pool.dataset
    bad = {
        f"{base}/catalog/datasets/alpha/nothing": "404",
        f"{base}/catalog": "names 2 datasets",
        "ftp://127.0.0.1/x": r"not an http\(s\) URL",
        "http://127.0.0.1:1/catalog/datasets/a/b": "cannot read",
    }
    for iri, message in bad.items():
        with pytest.raises(PullError, match=message):
            pull_remote(iri, tmp_path / "bad", allow_networks=nets)
    with pytest.raises(PullError, match="cannot read"):  # loopback is refused unless allowed
        pull_remote(f"{base}/catalog/datasets/alpha/sl-only", tmp_path / "bad")
    # a description whose download URL would leave the pool folder is refused before any fetch
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    (hostile / "d.ttl").write_text(f"""
        @prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix spdx: <http://spdx.org/rdf/terms#> .
        <{base}/d> a dcat:Dataset ; dcat:distribution [ dcat:accessURL <{base}/pools/a/b/> ;
            dcat:downloadURL <{base}/pools/a/b/..%2F..%2Fetc/passwd> ;
            spdx:checksum [ spdx:algorithm <https://spdx.org/rdf/terms#checksumAlgorithm_sha256> ;
                            spdx:checksumValue "{'0' * 64}" ] ] .""")
    with FileServer(hostile) as server:
        with pytest.raises(PullError, match="outside the pool folder"):
            pull_remote(server.url + "d.ttl", tmp_path / "bad", allow_networks=nets)
    assert not (tmp_path / "bad").exists() and not list(tmp_path.glob("etc*"))
