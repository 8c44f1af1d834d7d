"""`owd run`: a whole campaign on a local Ray instance, killed midway and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from owd.schema import read_parquet
from owd.testweb import TestSite, TestWebServer, free_port
from owd.testweb.campaign import write_testweb_campaign
from tests.conftest import REPO, run_owd

pytestmark = pytest.mark.slow

CAMPAIGN = {"politeness": {"delay": 0.02, "concurrency_per_host": 2, "concurrency": 32, "autothrottle": False},
            "limits": {"timeout": 3}, "run": {"crawlers": 2},
            "pools": [{"name": "all-eu", "description": "everything"},
                      {"name": "health-de", "description": "German health", "languages": ["de"],
                       "keywords": ["Gesundheit"]}]}


def _state(data: Path) -> dict:
    path = data / "run" / "state.json"
    return json.loads(path.read_text()) if path.exists() else {"steps": {}}


def test_run_killed_in_processing_resumes_from_the_last_completed_step(tmp_path: Path) -> None:
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
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[crawl] done before" in result.stdout and "[process] resuming" in result.stdout
    steps = _state(data)["steps"]
    assert {s: steps[s]["status"] for s in steps} == {s: "done" for s in ("crawl", "process", "index", "pools",
                                                                          "report")}
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
    assert again.returncode == 0 and again.stdout.count("done before") == 5
