"""Two AIF+A sites simulated by two Ray nodes on this machine (`ray start`, each with
its own ``site:<name>`` resource): hosts pinned to a site are crawled only by
crawler actors placed on that site's node."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import pytest

from owd.crawler.partition import Partition
from owd.testweb import TestSite, free_port, read_request_log
from tests.conftest import crawl_testweb

pytestmark = pytest.mark.slow

RAY = Path(sys.executable).with_name("ray")
SITES = [{"name": "lux", "tlds": ["de", "at", "fr"]}, {"name": "ita", "tlds": ["it", "es", "pt"], "crawlers": 1}]
# Token authentication would need the token passed to every process; the nodes listen on loopback only.
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


def _processes_of(*markers: str) -> set[int]:
    """PIDs of the cluster's processes (their command lines name its temp dir or GCS port)
    and their descendants; never this process or its ancestors."""
    parents: dict[int, int] = {}
    roots = set()
    spared = {os.getpid(), os.getppid()}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in spared:
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if "ray" in cmdline and any(m in cmdline for m in markers):
            roots.add(int(proc.name))
    found, frontier = set(roots), set(roots)
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier and pid not in found}
        found |= frontier
    return found


def _stop_cluster(*markers: str) -> None:
    # Not `ray stop`: it stops every Ray instance on the machine, other tests' too.
    # SIGTERM gets 3 s (some Ray daemons never exit on it: the teardown used to wait 10 s for them)
    for sig, grace in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
        pids = _processes_of(*markers)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            pids = {p for p in pids if Path(f"/proc/{p}").exists()
                    and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"}
            time.sleep(0.2)


@pytest.fixture(scope="module")
def two_site_cluster() -> Iterator[str]:
    temp_dir = tempfile.mkdtemp(prefix="owdray-", dir="/tmp")  # short: Ray's socket paths must fit
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    try:
        for args in (["--head", f"--port={port}", f"--temp-dir={temp_dir}", "--include-dashboard=false",
                      '--resources={"site:lux": 1}'],
                     [f"--address={address}", '--resources={"site:ita": 1}']):
            started = subprocess.run([str(RAY), "start", *args, *common], env=ENV, capture_output=True, text=True,
                                     timeout=180)
            assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        yield address
    finally:
        _stop_cluster(temp_dir, f":{port} ")


def test_pinned_hosts_are_crawled_only_on_their_site(tmp_path: Path, two_site_cluster: str) -> None:
    site = TestSite(port=free_port(), pages_per_host=4, real_pages=8)
    crawl_testweb(site, tmp_path, "--ray", "--address", two_site_cluster, env=ENV, sites=SITES)
    crawl = tmp_path / "data" / "tw" / "crawl"
    partition = Partition.load(crawl / "partition.json")
    actors = {w: json.loads((crawl / w / "actor.json").read_text()) for w in partition.workers}
    # each actor ran on a node of its own site (the two nodes carry different site resources)
    assert {w: a["node_sites"] for w, a in actors.items()} == {"w0": ["lux"], "w1": ["ita"]}
    assert actors["w0"]["node_id"] != actors["w1"]["node_id"]
    crawlers_of_host: dict[str, set[str]] = defaultdict(set)
    for entry in read_request_log(tmp_path / "requests.jsonl"):
        crawlers_of_host[entry.host].add(entry.crawler.split("/")[-1])
    pinned = {"lux": 0, "ita": 0}
    for host, crawlers in crawlers_of_host.items():
        assert len(crawlers) == 1, (host, crawlers)
        tld = host.rsplit(".", 1)[-1]
        want = "lux" if tld in ("de", "at", "fr") else "ita" if tld in ("it", "es", "pt") else None
        if want:
            (worker,) = crawlers
            assert actors[worker]["node_sites"] == [want], (host, worker)
            pinned[want] += 1
    assert pinned["lux"] >= 3 and pinned["ita"] >= 3, pinned  # the pins were exercised
