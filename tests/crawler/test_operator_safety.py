"""Operator mistakes and stops end with one clear line (issue 11, findings 3, 4 and 6).

Each test here failed on the code before the fix:
* SIGTERM to a crawl waiting out a long delay logged "Closing spider (shutdown)" and kept
  running until the delay was over (with `delay: .inf`, for ever);
* a crawl whose every seed the address guard refused exited 0 with "0 pages";
* an IP-literal seed with `static_dns_only: true` failed with "DNS lookup failed";
* Scrapy's remote-control extension listened on a loopback port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from owd.testweb import TestSite, TestWebServer, free_port, read_request_log
from owd.testweb.campaign import write_testweb_campaign
from tests.conftest import REPO, run_owd


def _manners_campaign(tmp: Path, site: TestSite, **overrides: object) -> Path:
    host = site.by_name["delay2.owdtest.eu"]
    overrides.setdefault("politeness", {"delay": 0.0, "autothrottle": False})
    return write_testweb_campaign(site, tmp, seed_urls=[site.url(host.name)], seeds={"sitemaps": []},
                                  scope={"domains": [host.name]}, media={"kinds": []}, **overrides)


def _start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "owd.cli", "crawl", str(config), "--log-level", "INFO"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(log: Path, what: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and any(e.path == what for e in read_request_log(log)):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError(f"{what} was never requested")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_a_crawl_that_must_wait_and_it_resumes(tmp_path: Path, signum: int) -> None:
    # A 60 s delay: after robots.txt the crawl has nothing it may send for a minute.
    site = TestSite(port=free_port(), manners=True, real_pages=0)
    config = _manners_campaign(tmp_path, site, politeness={"delay": 60.0, "autothrottle": False})
    log = tmp_path / "requests.jsonl"
    with TestWebServer(site, log):
        proc = _start(config)
        _wait_for(log, "/robots.txt", proc)
        time.sleep(1.0)
        sent = time.monotonic()
        os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=40)
        took = time.monotonic() - sent
        assert took < 15, (took, err[-2000:])
        assert proc.returncode == 128 + signum, (proc.returncode, err[-2000:])
        assert "Traceback" not in err
        assert f"{signal.Signals(signum).name}: stopping" in err
        assert "--resume" in out
        before = {e.path for e in read_request_log(log)}
        assert "/" not in before  # it was still waiting for its turn
        if signum != signal.SIGTERM:
            return  # (resuming is the same after either signal: checked once)
        # The frontier kept what was not sent: a resumed crawl (now without the long delay) fetches it.
        write_testweb_campaign(site, tmp_path, seed_urls=[site.url("delay2.owdtest.eu")], seeds={"sitemaps": []},
                               scope={"domains": ["delay2.owdtest.eu"]}, media={"kinds": []},
                               politeness={"delay": 0.0, "autothrottle": False})
        resumed = run_owd("crawl", str(config), "--resume", "--log-level", "WARNING", timeout=120)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        fetched = {e.path for e in read_request_log(log) if e.status == 200}
    assert {"/", "/m/1.html", "/m/2.html", "/m/3.html"} <= fetched


def test_second_signal_forces_the_stop(tmp_path: Path) -> None:
    site = TestSite(port=free_port(), manners=True, real_pages=0)
    # The slow host: a request is on the wire for a second at a time, so the graceful stop
    # has something to wait for; the second signal does not wait.
    host = site.by_name["slow.owdtest.eu"]
    config = write_testweb_campaign(site, tmp_path, seed_urls=[site.url(host.name)], seeds={"sitemaps": []},
                                    scope={"domains": [host.name]}, media={"kinds": []},
                                    politeness={"delay": 0.0, "autothrottle": False, "slow_host_factor": 0.0})
    log = tmp_path / "requests.jsonl"
    with TestWebServer(site, log):
        proc = _start(config)
        _wait_for(log, "/robots.txt", proc)
        os.kill(proc.pid, signal.SIGINT)
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGINT, err[-2000:]
    assert "forced stop" in err and "Traceback" not in err


def test_crawl_with_every_seed_refused_by_the_guard_fails_with_the_fix(tmp_path: Path) -> None:
    site = TestSite(port=free_port(), manners=True, real_pages=0)
    # The test web's addresses are not allow-listed: the guard refuses every seed.
    config = _manners_campaign(tmp_path, site, network={"allow_networks": []})
    with TestWebServer(site, tmp_path / "requests.jsonl"):
        result = run_owd("crawl", str(config), "--log-level", "WARNING", timeout=120)
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("owd: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    ip = site.by_name["delay2.owdtest.eu"].ip
    assert "crawl fetched nothing" in lines[0] and "address guard" in lines[0]
    assert f"add {ip}/32 to network.allow_networks" in lines[0]


def test_crawl_of_unresolvable_names_fails_naming_dns(tmp_path: Path) -> None:
    site = TestSite(port=free_port(), manners=True, real_pages=0)
    config = _manners_campaign(tmp_path, site, network={"hosts_file": None, "hosts": {}})
    result = run_owd("crawl", str(config), "--log-level", "WARNING", timeout=120)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "did not resolve" in result.stderr and "network.hosts" in result.stderr
    assert "Traceback" not in result.stderr


def test_ip_literal_seed_works_with_static_dns_only(tmp_path: Path) -> None:
    site = TestSite(port=free_port(), manners=True, real_pages=0)
    host = site.by_name["delay2.owdtest.eu"]
    seed = f"http://{host.ip}:{site.port}/"
    config = write_testweb_campaign(site, tmp_path, seed_urls=[seed], seeds={"sitemaps": []},
                                    scope={"domains": [host.ip], "max_pages": 1}, media={"kinds": []},
                                    politeness={"delay": 0.0, "autothrottle": False})
    assert "static_dns_only: true" in config.read_text()
    with TestWebServer(site, tmp_path / "requests.jsonl"):
        result = run_owd("crawl", str(config), "--log-level", "WARNING", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    stats = json.loads((tmp_path / "data/tw/crawl/w0/stats.json").read_text())
    assert stats.get("pages/fetched", 0) >= 1, stats
    assert not any("DNSLookupError" in k or "CannotResolveHost" in k for k in stats), stats


def _listening_inodes(pid: int) -> set[str]:
    """Inodes of the process's listening TCP sockets (from /proc, no extra package)."""
    fds = Path(f"/proc/{pid}/fd")
    owned = set()
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            owned.add(target[len("socket:["):-1])
    listening = set()
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in owned:  # state 0A = LISTEN
                listening.add(fields[9])
    return listening


def test_crawler_process_has_no_listening_socket(tmp_path: Path) -> None:
    site = TestSite(port=free_port(), manners=True, real_pages=0)
    config = _manners_campaign(tmp_path, site)
    log = tmp_path / "requests.jsonl"
    with TestWebServer(site, log):
        proc = _start(config)
        try:
            _wait_for(log, "/", proc)
            assert _listening_inodes(proc.pid) == set()
        finally:
            proc.kill()
            proc.communicate()
