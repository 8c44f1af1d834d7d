"""Shared fixtures: the shared third-party data, a running test web, campaign files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from owd.shared_data import shared_data_dir
from owd.testweb import TestSite, TestWebServer, free_port
from owd.testweb.campaign import write_testweb_campaign

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or a clean skip where this machine does not have it."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is absent (third-party test data is not part of the project)")
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests marked shared_data skip cleanly without the data, even if they do not use the fixture.
    if shared_data_dir() is None:
        skip = pytest.mark.skip(reason="../shared/data is absent")
        for item in items:
            if "shared_data" in item.keywords:
                item.add_marker(skip)


_PREFETCH: dict[str, subprocess.Popen[bytes]] = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    # Semantic tests need a few thousand vectors from the real model (~13 a CPU-second):
    # compute them in the background, at low priority, while the earlier tests run
    # (tests/vectors.py). Tests compute whatever is not there yet themselves.
    if os.environ.get("OWD_TEST_VECTORS_PREFETCH", "1") == "0" or session.config.option.collectonly:
        return
    if any("semantic" in item.keywords for item in session.items):
        _PREFETCH["p"] = subprocess.Popen([sys.executable, "-m", "tests.vectors"], cwd=REPO,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    proc = _PREFETCH.pop("p", None)
    if proc is not None and proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def testweb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestWebServer]:
    """A running test web (default site) with its request log, one per test module."""
    site = TestSite(port=free_port())
    log = tmp_path_factory.mktemp("testweb") / "requests.jsonl"
    with TestWebServer(site, log) as server:
        yield server


def run_owd(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run the ``owd`` command line in a fresh process (Twisted's reactor starts once per process)."""
    return subprocess.run(
        [sys.executable, "-m", "owd.cli", *args], cwd=cwd or REPO, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})},
    )


def crawl_testweb(site: TestSite, folder: Path, *crawl_args: str, timeout: float = 400,
                  env: dict[str, str] | None = None, **campaign: Any
                  ) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Write a campaign crawling ``site`` into ``folder`` (``campaign`` overrides its sections),
    serve the test web with its request log in ``folder/requests.jsonl``, run ``owd crawl``
    (``crawl_args``, default ``--log-level WARNING``) and check it succeeded; return the
    campaign file and the finished command."""
    config = write_testweb_campaign(site, folder, **campaign)
    with TestWebServer(site, folder / "requests.jsonl"):
        result = run_owd("crawl", str(config), *(crawl_args or ("--log-level", "WARNING")), timeout=timeout, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return config, result
