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
