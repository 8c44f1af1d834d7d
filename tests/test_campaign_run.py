"""`owd run`: a whole campaign on a local Ray instance, killed midway and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from owd.index.build import index_campaign
from owd.index.open import open_backend, state_path
from owd.campaign_run import STEPS, campaign_status
from owd.core.config import CampaignConfig, load_campaign
from owd.process import process_campaign
from owd.report import write_report
from owd.core.schema import read_parquet
from owd.testweb import TestSite, TestWebServer, free_port
from owd.testweb.campaign import write_testweb_campaign
from owd.pools.build import build_pools
from tests.conftest import REPO, run_owd
from tests.index.opensearch_fixture import opensearch_node  # noqa: F401  (the fixture)
from tests.small_campaign import uncompressed_copy, write_small_campaign

pytestmark = pytest.mark.slow

CAMPAIGN = {"politeness": {"delay": 0.02, "concurrency_per_host": 2, "concurrency": 32, "autothrottle": False},
            "limits": {"timeout": 3}, "run": {"crawlers": 2},
            "pools": [{"name": "all-eu", "description": "everything"},
                      {"name": "health-de", "description": "German health", "languages": ["de"],
                       "keywords": ["Gesundheit"]}]}


def _state(data: Path) -> dict:
    path = data / "run" / "state.json"
    return json.loads(path.read_text()) if path.exists() else {"steps": {}}


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """A campaign whose `owd run` was killed during processing, then run again."""
    tmp_path = tmp_path_factory.mktemp("run")
    site = TestSite(port=free_port(), pages_per_host=3, real_pages=4)
    config = write_testweb_campaign(site, tmp_path, **CAMPAIGN)
    data = tmp_path / "data" / "tw"
    with TestWebServer(site, tmp_path / "requests.jsonl"):
        proc = subprocess.Popen([sys.executable, "-m", "owd.cli", "run", str(config)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while _state(data)["steps"].get("process", {}).get("status") != "running":
                assert proc.poll() is None, proc.communicate()[0][-3000:]
                assert time.monotonic() < deadline, "the process step never started"
                time.sleep(0.1)
            # the whole session: the driver and the local Ray instance it started
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        assert _state(data)["steps"]["crawl"]["status"] == "done"
        assert _state(data)["steps"]["process"]["status"] == "running"  # interrupted
        status = run_owd("status", str(config))
        assert status.returncode == 0 and "process  running" in status.stdout, status.stdout

        result = run_owd("run", str(config), timeout=600)
    return config, data, result


def test_run_killed_in_processing_resumes_from_the_last_completed_step(
        resumed_run: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    config, data, result = resumed_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[crawl] done before" in result.stdout and "[process] resuming" in result.stdout
    steps = _state(data)["steps"]
    assert {s: steps[s]["status"] for s in steps} == {s: "done" for s in ("crawl", "ingest", "process", "embed",
                                                                          "index", "pools", "report")}
    assert "[embed] embed: skipped (embeddings.enabled is false" in result.stdout
    assert "[ingest] done before (0 files)" in result.stdout  # no sources: done in the first run
    assert steps["process"]["attempts"] == 2 and steps["crawl"]["attempts"] == 1
    docs = [d for shard in sorted((data / "docs").glob("*.parquet")) for d in read_parquet(shard)]
    assert len(docs) == steps["process"]["items"] > 50
    assert {p.name for p in (data / "warc").iterdir()} == {"w0", "w1"}  # two crawler actors wrote WARCs
    assert (data / "report" / "report.html").exists() and list((data / "pools" / "all-eu").glob("lang=*"))
    status = run_owd("status", str(config))
    assert all(f"{s:8} done" in status.stdout for s in ("crawl", "process", "index", "pools", "report")), status.stdout
    search = run_owd("search", "the", "--config", str(config), "--json")
    assert search.returncode == 0 and json.loads(search.stdout)["total"] > 0
    again = run_owd("run", str(config))  # nothing left to do
    assert again.returncode == 0 and again.stdout.count("done before") == 7


def test_run_indexes_into_opensearch_with_one_ray_task_per_shard(
        resumed_run: tuple[Path, Path, subprocess.CompletedProcess[str]], opensearch_node: Any) -> None:
    config, data, first = resumed_run
    assert first.returncode == 0
    index = f"owdtest-run-{os.getpid()}"
    target = ("--backend", "opensearch", "--url", opensearch_node.url, "--index-name", index)
    try:
        result = run_owd("run", str(config), "--from", "index", *target, timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        shards = sorted((data / "docs").glob("*.parquet"))
        assert len(shards) >= 2 and result.stdout.count("[index] index: shard ") == len(shards)
        kept = sum(1 for shard in shards for d in read_parquet(shard) if not d.drop_reason)
        assert opensearch_node.client().count(index=index)["count"] == kept  # every shard task's documents
        search = run_owd("search", "the", "--config", str(config), *target, "--json")
        assert search.returncode == 0 and json.loads(search.stdout)["total"] > 0, search.stderr
        state = json.loads((data / "index" / f"state-opensearch-{index}.json").read_text())
        assert sorted(state["shards"]) == [s.name for s in shards]
        again = run_owd("run", str(config), "--from", "index", *target)
        assert again.returncode == 0 and "[index] index: shard " not in again.stdout  # incremental
    finally:
        client = opensearch_node.client()
        concrete = list(client.indices.get_alias(index=index, ignore_unavailable=True) or {})
        for name in concrete:
            client.indices.delete(index=name, ignore_unavailable=True)


def _status(cfg: CampaignConfig) -> dict[str, str]:
    """`owd status` lines by step (the rest of each line)."""
    lines = campaign_status(cfg)
    return {line.split()[0]: line.strip().split(None, 1)[1] for line in lines[1:] if line.split()[0] in STEPS}


def test_status_of_a_campaign_run_command_by_command(tmp_path: Path) -> None:
    """`owd crawl`, `owd process`, `owd index`, `owd pools build`, `owd report` write no
    run/state.json: status reads what each left on disk (here the real stage functions)."""
    config, warc = write_small_campaign(tmp_path, pools=[{"name": "all"}, {"name": "german", "languages": ["de"]}])
    cfg = load_campaign(config)
    crawl_dir = cfg.campaign_dir / "crawl" / "w0"
    crawl_dir.mkdir(parents=True)
    still_open = warc.with_name("w0-next.warc.gz.open")
    still_open.write_bytes(b"")  # the crawler is writing its next file
    status = _status(cfg)
    assert status["crawl"].startswith("partial  (owd crawl): 1 WARC file(s), 1 still open"), status
    assert all(status[s] == "not started" for s in ("process", "index", "pools", "report")), status

    still_open.unlink()
    (crawl_dir / "stats.json").write_text(json.dumps({"pages/fetched": 3}))  # what `owd crawl` writes at its end
    status = _status(cfg)
    assert status["crawl"] == "done     (owd crawl): 3 pages, 1 WARC file(s)", status
    assert "nothing run yet" not in "\n".join(campaign_status(cfg))

    processed = process_campaign(cfg, progress=lambda line: None)
    assert _status(cfg)["process"] == (f"done     (owd process): 1 shard(s), {processed.documents} documents, "
                                       f"{processed.kept} kept")

    with open_backend(cfg, "embedded", create=True) as backend:
        indexed = index_campaign(cfg.campaign_dir / "docs", backend, state_path(cfg), progress=lambda line: None)
    assert _status(cfg)["index"] == (f"done     (owd index): embedded 1 shard(s), {indexed.documents_indexed} "
                                     "documents indexed")

    pools = build_pools(cfg)
    assert _status(cfg)["pools"] == (f"done     (owd pools build): 2 pool(s): all {pools.documents['all']} documents, "
                                     f"german {pools.documents['german']} documents")

    json_path, html_path = write_report(cfg)
    generated = json.loads(json_path.read_text())["generated"]
    assert _status(cfg)["report"] == f"done     (owd report): {html_path}, generated {generated}"

    # A WARC file arrives after processing (an uncompressed one: the same listing as `owd process`).
    uncompressed_copy(warc, "w0-later.warc")
    status = _status(cfg)
    assert status["crawl"].startswith("done     (owd crawl): 3 pages, 2 WARC file(s)"), status
    assert status["process"].startswith("partial  (owd process): 1 of 2 WARC file(s) processed"), status
