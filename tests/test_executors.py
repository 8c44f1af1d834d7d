"""The executor seam: `owd process` in one process, on a pool of local processes and on Ray
gives byte-identical files; a toy step added in a few lines runs under each; stages free of Ray."""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq
import pytest

from collections import Counter

from owd.core.config import load_campaign
from owd.core.schema import Document, read_parquet
from owd.core.step import MapStep
from owd.executors import LocalExecutor
from owd.pipeline import DOCUMENT_STEPS
from owd.process import ProcessSummary, campaign_warcs, process_campaign, shard_id_of
from owd.testweb import free_port
from tests.conftest import REPO, run_owd
from tests.small_campaign import write_sharded_campaign
from tests.test_process import clone_campaign

STAGE_PACKAGES = ("crawler", "extract", "langid", "dedup", "index", "pools")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A campaign of several WARC files with exact and near duplicates across them (written
    directly: the executors are under test here, not the crawler)."""
    config = write_sharded_campaign(tmp_path_factory.mktemp("executors"))
    assert len(list((config.parent / "data/multi/warc/w0").glob("*.warc.gz"))) >= 4
    return config


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    """One local Ray instance for the module (start-up costs 3-5 s); the runner nests into it."""
    from owd.ray_cluster import connect

    with connect(None) as ray:
        yield ray


def campaign_files(config: Path) -> dict[str, bytes]:
    """Every file under docs/ and dedup/ of the campaign, by relative path."""
    root = load_campaign(config).campaign_dir
    return {str(p.relative_to(root)): p.read_bytes()
            for sub in ("docs", "dedup") for p in sorted((root / sub).rglob("*")) if p.is_file()}


def summary_counts(s: ProcessSummary) -> dict[str, Any]:
    return {"documents": s.documents, "kept": s.kept, "duplicates": s.duplicates, "clusters": s.clusters,
            "languages": dict(s.languages), "drop_reasons": dict(s.drop_reasons), "stats": dict(s.stats)}


@pytest.fixture(scope="module")
def local_run(crawled: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ProcessSummary]:
    """The reference: every task in this process (one worker)."""
    config = clone_campaign(crawled, tmp_path_factory.mktemp("local") / "c")
    with LocalExecutor(1) as executor:
        return config, process_campaign(load_campaign(config), executor=executor)


def test_two_local_workers_write_byte_identical_outputs(local_run: tuple[Path, ProcessSummary], crawled: Path,
                                                        tmp_path: Path) -> None:
    local_config, local_summary = local_run
    config = clone_campaign(crawled, tmp_path / "pool")
    lines: list[str] = []
    with LocalExecutor(2) as executor:
        summary = process_campaign(load_campaign(config), progress=lines.append, executor=executor)
    assert any("on 2 worker(s)" in line for line in lines), lines
    expected, got = campaign_files(local_config), campaign_files(config)
    assert sorted(got) == sorted(expected)
    assert not [name for name in expected if got[name] != expected[name]]
    assert summary_counts(summary) == summary_counts(local_summary)
    assert summary.duplicates > 0 and summary.kept > 0


def test_ray_executor_writes_byte_identical_outputs(local_run: tuple[Path, ProcessSummary], crawled: Path,
                                                    ray_instance: Any, tmp_path: Path) -> None:
    from owd.ray_executor import RayExecutor

    def process_campaign_ray(cfg: Any, **kwargs: Any) -> ProcessSummary:
        with RayExecutor(None) as executor:
            return process_campaign(cfg, executor=executor, **kwargs)

    local_config, local_summary = local_run
    config = clone_campaign(crawled, tmp_path / "ray")
    lines: list[str] = []
    summary = process_campaign_ray(load_campaign(config), progress=lines.append)
    n_warcs = len(list((load_campaign(config).campaign_dir / "warc" / "w0").glob("*.warc.gz")))
    assert summary.shards_done == n_warcs and summary.shards_skipped == 0
    assert any("on 2 worker(s)" in line for line in lines), lines
    expected = campaign_files(local_config)
    got = campaign_files(config)
    # Everything the local runner writes: documents, per-shard stats, signatures, bucket
    # plan, map and edge files, clusters.
    assert sum(name.startswith("docs/") and name.endswith(".parquet") for name in got) == n_warcs
    assert {"dedup/clusters.parquet", "dedup/buckets/plan.json"} <= set(got)
    assert sorted(got) == sorted(expected)
    different = [name for name in expected if got[name] != expected[name]]
    assert not different, different
    assert summary_counts(summary) == summary_counts(local_summary)
    assert summary.duplicates > 0 and summary.kept > 0  # the comparison covered real clusters

    # Rerun: every shard is skipped, nothing changes.
    again = process_campaign_ray(load_campaign(config))
    assert again.shards_done == 0 and again.shards_skipped == n_warcs
    assert campaign_files(config) == expected

    # Resume: a shard lost (as if the run was killed before writing it) is redone alone.
    docs_dir = load_campaign(config).campaign_dir / "docs"
    lost = sorted(docs_dir.glob("*.parquet"))[1]
    lost.unlink()
    lost.with_suffix(".stats.json").unlink()
    resumed = process_campaign_ray(load_campaign(config))
    assert resumed.shards_done == 1 and resumed.shards_skipped == n_warcs - 1
    assert campaign_files(config) == expected


def test_cli_process_ray_force(local_run: tuple[Path, ProcessSummary], crawled: Path, tmp_path: Path) -> None:
    """`owd process --ray --force` starts its own local Ray instance and redoes every shard."""
    config = clone_campaign(crawled, tmp_path / "cli")
    docs_dir = load_campaign(config).campaign_dir / "docs"
    docs_dir.mkdir(parents=True)
    stale = docs_dir / f"{shard_id_of(campaign_warcs(load_campaign(config))[0])}.parquet"
    stale.write_bytes(b"not a shard")  # without --force this shard would count as done
    result = run_owd("process", str(config), "--ray", "--force", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "worker(s)" in result.stdout and " 0 already done" in result.stdout
    assert campaign_files(config) == campaign_files(local_run[0])


def test_cli_process_workers(local_run: tuple[Path, ProcessSummary], crawled: Path, tmp_path: Path) -> None:
    config = clone_campaign(crawled, tmp_path / "cli-workers")
    result = run_owd("process", str(config), "--workers", "2", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "on 2 worker(s)" in result.stdout
    assert campaign_files(config) == campaign_files(local_run[0])
    bad = run_owd("process", str(config), "--workers", "2", "--ray", timeout=60)
    assert bad.returncode == 2 and "--workers" in bad.stderr


class WordCountStep(MapStep):
    """The toy stage of the issue: a new stage is a class like this and one entry in a list."""

    name = "words"
    counters = ("words/docs", "words/total")

    def apply(self, doc: Document, stats: Counter[str]) -> None:
        stats["words/docs"] += 1
        stats["words/total"] += len((doc.text or "").split())


def test_a_toy_step_runs_under_every_executor(local_run: tuple[Path, ProcessSummary], crawled: Path,
                                              ray_instance: Any, tmp_path: Path) -> None:
    from owd.ray_executor import RayExecutor

    steps = (*DOCUMENT_STEPS, WordCountStep)
    runs = {}
    for name, executor in (("local", LocalExecutor(2)), ("ray", RayExecutor(None))):
        config = clone_campaign(crawled, tmp_path / name)
        with executor:
            summary = process_campaign(load_campaign(config), executor=executor, steps=steps)
        runs[name] = (config, summary)
    files = {name: campaign_files(config) for name, (config, _) in runs.items()}
    assert files["local"] == files["ray"]
    # The step counts and changes nothing else: the documents and the clusters are the default
    # pipeline's (their files differ only in the recorded fingerprint, which names the steps).
    reference = load_campaign(local_run[0]).campaign_dir
    toy = load_campaign(runs["local"][0]).campaign_dir
    tables = sorted(p.relative_to(reference) for p in (reference / "docs").glob("*.parquet"))
    assert tables and sorted(p.relative_to(toy) for p in (toy / "docs").glob("*.parquet")) == tables
    for name in [*tables, Path("dedup/clusters.parquet")]:
        assert pq.read_table(toy / name).to_pylist() == pq.read_table(reference / name).to_pylist(), name
    docs_dir = load_campaign(runs["local"][0]).campaign_dir / "docs"
    for stats_file in sorted(docs_dir.glob("*.stats.json")):
        stats = json.loads(stats_file.read_text())
        docs = read_parquet(stats_file.with_name(stats_file.name.replace(".stats.json", ".parquet")))
        assert stats["words/docs"] == len(docs)
        assert stats["words/total"] == sum(len((d.text or "").split()) for d in docs)
    assert runs["local"][1].stats["words/total"] == runs["ray"][1].stats["words/total"] > 0


def test_join_an_existing_cluster() -> None:
    """connect(address) joins a cluster started with `ray start` (custom site resource visible)."""
    port = free_port()
    # Ray's socket paths live under the temp dir and must stay below 108 bytes (AF_UNIX).
    temp_dir = Path(tempfile.mkdtemp(prefix="owdray-"))
    ray_bin = Path(sys.executable).parent / "ray"
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
         "--num-cpus=1", "--include-dashboard=false", "--resources", json.dumps({"site_a": 1}),
         f"--temp-dir={temp_dir}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        script = (
            "from owd.ray_cluster import connect, cluster_cpus\n"
            f"with connect('127.0.0.1:{port}') as ray:\n"
            "    print(ray.cluster_resources().get('site_a'), cluster_cpus())\n"
            "    print(ray.get(ray.remote(lambda: 'ok').remote()))\n")
        deadline = time.monotonic() + 60
        while True:  # the head takes a few seconds to listen; a driver that comes too early waits long
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert head.poll() is None and time.monotonic() < deadline, head.stdout.read() if head.stdout else ""
            time.sleep(0.2)
        while True:
            result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                                    timeout=60)
            if result.returncode == 0 or time.monotonic() > deadline or head.poll() is not None:
                break
            time.sleep(1)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.split() == ["1.0", "1", "ok"]
    finally:
        # Only the head this test started (its own session): never `ray stop`, which ends
        # every Ray instance on the machine.
        for sig in (signal.SIGTERM, signal.SIGKILL):  # its GCS can outlive `ray start --block` on SIGTERM
            try:
                os.killpg(head.pid, sig)
            except ProcessLookupError:
                break
            try:
                head.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        head.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _stage_modules() -> list[Path]:
    return sorted(p for pkg in STAGE_PACKAGES for p in (REPO / pkg).rglob("*.py"))


@pytest.mark.parametrize("check", ["source", "import"])
def test_stage_packages_do_not_import_ray(check: str) -> None:
    if check == "source":
        # Also catches an `import ray` inside a function that the import check cannot reach.
        offenders = []
        for path in _stage_modules():
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                offenders += [f"{path.relative_to(REPO)}:{node.lineno}" for n in names
                              if n == "ray" or n.startswith("ray.")]
        assert not offenders
        return
    modules = ["owd." + ".".join(p.relative_to(REPO).with_suffix("").parts) for p in _stage_modules()]
    modules = [m[: -len(".__init__")] if m.endswith(".__init__") else m for m in modules]
    script = ("import importlib, json, sys\n"
              f"for name in {modules!r}:\n"
              "    importlib.import_module(name)\n"
              "print(json.dumps(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.'))))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(modules) > 20 and json.loads(result.stdout) == []


def _timer_armed(_: object) -> bool:
    from owd.extract.guard import time_limit

    with time_limit(5) as armed:
        return armed


def test_tasks_run_where_the_extraction_timer_works(ray_instance: Any) -> None:
    """The per-document time limit needs the main thread (SIGALRM): every executor's tasks get it."""
    from owd.ray_executor import RayExecutor

    for executor in (LocalExecutor(2), RayExecutor(None)):
        with executor:
            assert [armed for _, armed in executor.map_unordered(_timer_armed, [1, 2])] == [True, True]
