"""Two sites on two loopback ports, each a real `owd serve` with its own campaign: their
catalogues merge into one federated catalogue (also served by `owd serve --catalog-only`),
and a pool of one site is pulled to the other over HTTP, resuming after the origin's
server is killed midway, checksums verified, loading with pyarrow and DuckDB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import duckdb
import pyarrow.dataset as ds
import pytest
import yaml
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

from owd.cli import main
from owd.core.config import load_campaign
from owd.pools.access import list_pools
from owd.pools.build import pools_dir, read_manifest
from owd.pools.remote import PullError, pull_remote
from owd.testweb import free_port
from tests.conftest import REPO
from tests.federation import shacl_violations, site_campaign

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]
LOOPBACK = "127.0.0.0/8"


class Server:
    """`owd serve` in its own process on a fixed port (so it can be killed and restarted)."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> "Server":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "owd.cli", "serve", *self.args, "--port", str(self.port)], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        return self

    def wait(self) -> "Server":
        """Until the ready line (a warning, e.g. that the campaign has no index yet, may come first)."""
        assert self.proc is not None and self.proc.stdout is not None
        seen = []
        for line in self.proc.stdout:  # ends when the server exits
            seen.append(line)
            if f"{self.url}/" in line:
                return self
        raise AssertionError("owd serve did not start: " + "".join(seen)[-2000:])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server | Path]]:
    tmp = tmp_path_factory.mktemp("federation")
    alpha = site_campaign(tmp / "a", "alpha", [{"name": "everything"}, {"name": "sl-only", "languages": ["sl"]}])
    beta = site_campaign(tmp / "b", "beta", [{"name": "gov-glob", "domains": ["*.gv.at", "sl.owdtest.si",
                                                                             "owdtest.hr"], "tdm": "include"},
                                             {"name": "all-beta"}])
    a, b = Server("--config", str(alpha)), Server("--config", str(beta))
    fed_file = tmp / "federation.yaml"
    fed_file.write_text(yaml.safe_dump({
        "campaign": "federation", "seeds": {"urls": ["https://example.test/"]}, "storage_root": str(tmp / "f"),
        "network": {"allow_networks": [LOOPBACK]}, "publisher": {"name": "the federation"},
        "sites": [{"name": "a", "url": a.url + "/"}, {"name": "b", "url": b.url + "/"}]}))
    fed = Server("--config", str(fed_file), "--catalog-only")
    servers = [a.start(), b.start(), fed.start()]  # they start side by side
    try:
        for s in servers:
            s.wait()
        yield {"a": a, "b": b, "fed": fed, "alpha": alpha, "beta": beta, "tmp": tmp, "fed_file": fed_file}
    finally:
        for s in servers:
            s.kill()


def _datasets(path: Path) -> dict[str, Graph]:
    g = Graph().parse(path, format="turtle")
    return {str(d): g for d in g.subjects(RDF.type, DCAT.Dataset)}


def test_merge_pull_resume_and_federated_catalogue(sites: dict, capsys: pytest.CaptureFixture[str]) -> None:
    a, b, fed = sites["a"], sites["b"], sites["fed"]
    alpha, beta = load_campaign(sites["alpha"]), load_campaign(sites["beta"])
    out = sites["tmp"] / "merged"

    # 1. the federated catalogue of both sites lists every pool of both, and validates
    assert main(["catalog", "merge", a.url, b.url, "--out", str(out), "--allow-network", LOOPBACK]) == 0
    merged = Graph().parse(out / "catalog.ttl", format="turtle")
    expected = {f"{s.url}/catalog/datasets/{cfg.campaign}/{p.name}" for s, cfg in ((a, alpha), (b, beta))
                for p in cfg.pools}
    assert {str(d) for d in merged.subjects(RDF.type, DCAT.Dataset)} == expected and len(expected) == 4
    assert shacl_violations(merged) == []
    assert Graph().parse(out / "catalog.jsonld", format="json-ld").isomorphic(merged)

    # 2. pull beta's gov-glob into alpha; kill beta's server after the first file
    iri = f"{b.url}/catalog/datasets/beta/gov-glob"
    dest = pools_dir(alpha) / "gov-glob"
    finished: list[str] = []

    def kill_after_first_file(path: str, done: int, total: int | None) -> None:
        if total is not None and done == total and path not in finished:
            finished.append(path)
            b.kill()

    with pytest.raises(PullError, match="run the same pull again to resume"):
        pull_remote(iri, dest, allow_networks=[LOOPBACK], progress=kill_after_first_file)
    partial = dest.with_name(".gov-glob.partial")
    kept = {f: f.stat().st_mtime_ns for f in partial.rglob("*") if f.is_file() and not f.name.endswith(".part.json")}
    assert finished and not dest.exists() and any(str(f).endswith(finished[0]) for f in kept)

    b.start().wait()  # the origin is back: the same command resumes
    capsys.readouterr()
    assert main(["pools", "pull", iri, "--into", str(sites["alpha"]), "--allow-network", LOOPBACK]) == 0
    assert "SHA-256 verified" in capsys.readouterr().out
    for f, mtime in kept.items():  # what was fetched before the kill was not fetched again
        moved = dest / f.relative_to(partial)
        if moved.exists():
            assert moved.stat().st_mtime_ns == mtime, moved
    origin = read_manifest(pools_dir(beta) / "gov-glob")
    assert origin is not None and origin["documents"] > 0
    table = ds.dataset(dest, format="parquet", partitioning="hive", exclude_invalid_files=True)
    assert table.count_rows() == origin["documents"]
    rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{dest}/lang=*/*.parquet', hive_partitioning=true)")
    assert rows.fetchall() == [(origin["documents"],)]
    info = {i.name: i for i in list_pools(alpha)}["gov-glob"]
    assert info.status.startswith("remote (from site of beta") and info.documents == origin["documents"]

    # 3. alpha now lists the copy; merged again, it counts once and keeps beta as publisher
    assert main(["catalog", "merge", a.url, b.url, "--out", str(out), "--allow-network", LOOPBACK]) == 0
    assert "1 duplicate(s) counted once" in capsys.readouterr().out
    merged = Graph().parse(out / "catalog.ttl", format="turtle")
    assert {str(d) for d in merged.subjects(RDF.type, DCAT.Dataset)} == expected
    publisher = next(merged.objects(URIRef(iri), DCTERMS.publisher))
    assert str(next(merged.objects(publisher, FOAF.name))) == "site of beta"
    assert shacl_violations(merged) == []

    # 4. `owd serve --catalog-only` serves the same federation (members: the sites: urls)
    import urllib.request

    with urllib.request.urlopen(fed.url + "/catalog?format=turtle", timeout=30) as r:
        served = Graph().parse(data=r.read(), format="turtle")
    assert {str(d) for d in served.subjects(RDF.type, DCAT.Dataset)} == expected
    assert shacl_violations(served) == []
