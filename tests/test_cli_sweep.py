"""Every `owd` command, misused: bad arguments, bad or missing campaign files, paths that
cannot be written, and a reader that went away (`owd search ... | head`). Whatever
happens the user gets a line, never a traceback; 2 for usage and config mistakes, 1
otherwise (issue 11, finding 5: before the fix an unwritable storage_root crashed
`owd crawl` with FileNotFoundError, `owd pools pull --to` an unwritable path and
`owd search | head` / `owd pools list | head` ended in tracebacks)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from owd.cli import build_parser
from owd.testweb import free_port
from tests.conftest import REPO, run_owd
from tests.small_campaign import write_small_campaign
from tests.test_cli import _subcommands

UNWRITABLE = "/proc/owd-cannot-write-here"  # even root cannot create anything under /proc
GROUPS = {("config",), ("pools",), ("testweb",), ("schema",), ("catalog",)}
SAMPLES = REPO / "tests" / "data" / "ingest"


@dataclass
class Campaign:
    config: Path
    folder: Path


def command_args(cmd: tuple[str, ...], config: str, folder: Path) -> list[str]:
    """Arguments that make ``cmd`` do its real work on ``config``."""
    table: dict[tuple[str, ...], list[str]] = {
        ("demo",): ["--config", config],
        ("crawl",): [config],
        ("run",): [config],
        ("status",): [config],
        ("ingest",): [config],
        ("process",): [config],
        ("embed",): [config, "--force", "--workers", "1"],
        ("index",): [config],
        ("search",): ["page", "--config", config],
        ("serve",): ["--config", config, "--port", "0"],
        ("config", "check"): [config],
        ("pools", "build"): [config],
        ("pools", "list"): [config],
        ("pools", "show"): [config, "everything"],
        ("pools", "pull"): [config, "everything", "--to", str(folder / "pulled")],
        ("report",): [config],
        ("catalog", "build"): [config, "--base-url", "http://127.0.0.1:9/", "--out", str(folder / "catalog")],
        ("catalog", "merge"): ["--config", config, str(folder / "catalog" / "catalog.ttl"), "--out",
                               str(folder / "merged")],
        ("testweb", "serve"): ["--port", str(free_port()), "--log", f"{UNWRITABLE}/requests.jsonl"],
        ("testweb", "hosts"): [],
        ("testweb", "seeds"): [],
        ("schema", "show"): [],
        ("schema", "validate"): [str(folder / "data" / "small" / "docs")],
    }
    return [*cmd, *table[cmd]]


COMMANDS = [c for c in _subcommands(build_parser()) if c not in GROUPS]
WITH_CONFIG = [c for c in COMMANDS if "CONFIG" in " ".join(command_args(c, "CONFIG", Path("/x")))]


def owd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_owd(*args, timeout=timeout)


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stdout, result.stdout[-3000:]


def run_all(argvs: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda a: owd(*a), argvs))


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    """A processed, indexed campaign with one pool: every read command has output."""
    folder = tmp_path_factory.mktemp("sweep")
    config, _ = write_small_campaign(folder, pools=[{"name": "everything"}], ingest=[
        {"name": "fw", "kind": "fineweb2", "files": [str(SAMPLES / "fineweb2-sample.parquet")]}])
    for step in (["process"], ["index"], ["pools", "build"]):
        result = owd(*step, str(config), timeout=300)
        assert result.returncode == 0, (step, result.stderr[-2000:])
    from owd.cli import main  # in this process: it only reads the pools (a second import costs ~2 s)

    assert main(["catalog", "build", str(config), "--base-url", "http://127.0.0.1:9/", "--out",
                 str(folder / "catalog")]) == 0
    return Campaign(config, folder)


def test_the_sweep_knows_every_command() -> None:
    table_keys = {c for c in COMMANDS if command_args(c, "c", Path("/x")) is not None}
    assert table_keys == set(COMMANDS)


def test_bad_arguments_exit_2_without_traceback() -> None:
    argvs = [[*cmd, "--no-such-option"] for cmd in COMMANDS] + [[*g, "no-such-action"] for g in sorted(GROUPS)]
    for argv, result in zip(argvs, run_all(argvs)):
        assert result.returncode == 2, (argv, result.returncode, result.stderr[-500:])
        no_traceback(result)


def test_missing_and_broken_campaign_files_exit_2_naming_file_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"campaign": "b", "seeds": {"urls": ["http://a.eu/"]},
                                      "storage_root": str(tmp_path / "data"), "politeness": {"delay": float("nan")}}))
    missing = str(tmp_path / "missing.yaml")
    argvs = [command_args(c, missing, tmp_path) for c in WITH_CONFIG]
    argvs += [command_args(c, str(broken), tmp_path) for c in WITH_CONFIG]
    for argv, result in zip(argvs, run_all(argvs)):
        assert result.returncode == 2, (argv, result.returncode, result.stderr[-500:])
        no_traceback(result)
        line = result.stderr.strip().splitlines()[-1]
        if "missing.yaml" in " ".join(argv):
            assert "missing.yaml: <top level>: no such file" in line, (argv, line)
        else:
            assert "broken.yaml: politeness.delay: expected a finite number" in line, (argv, line)


def test_unwritable_storage_root_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "unwritable.yaml"
    config.write_text(yaml.safe_dump({"campaign": "u", "seeds": {"urls": ["http://a.eu/"]}, "storage_root": UNWRITABLE,
                                      "testweb": {"port": free_port()}}))
    # (status and pools list only read: a campaign nobody could have run is "nothing run
    # yet" / an empty list, exit 0)
    # (the catalogue commands write only to their --out, which is writable here)
    read_only = {("serve",), ("status",), ("pools", "list"), ("catalog", "build"), ("catalog", "merge")}
    argvs = [command_args(c, str(config), tmp_path) for c in WITH_CONFIG if c not in read_only]
    for argv, result in zip(argvs, run_all(argvs)):
        assert result.returncode in (1, 2), (argv, result.returncode, result.stderr[-500:])
        no_traceback(result)
        assert result.stderr.strip().startswith("owd: error:"), (argv, result.stderr[-500:])
        if argv[0] in ("crawl", "run", "demo", "config"):  # the commands that create the campaign folder
            assert result.returncode == 2 and "storage_root: cannot create or write" in result.stderr, argv


def test_unwritable_output_paths_are_one_line(campaign: Campaign) -> None:
    argvs = [
        ["pools", "pull", str(campaign.config), "everything", "--to", f"{UNWRITABLE}/pulled"],
        command_args(("testweb", "serve"), "", campaign.folder),  # its --log is unwritable
        ["schema", "validate", f"{UNWRITABLE}/x.parquet"],
    ]
    for argv, result in zip(argvs, run_all(argvs)):
        assert result.returncode in (1, 2), (argv, result.returncode, result.stderr[-500:])
        no_traceback(result)
        assert UNWRITABLE in result.stderr, (argv, result.stderr[-500:])


def _with_closed_stdout(argv: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen([sys.executable, "-m", "owd.cli", *argv], cwd=REPO, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the command writes its first byte
    err = proc.stderr.read() if proc.stderr else ""
    proc.wait(timeout=120)
    return subprocess.CompletedProcess(argv, proc.returncode, "", err)


def test_closed_stdout_exits_1_without_traceback(campaign: Campaign) -> None:
    config = str(campaign.config)
    printing = [c for c in COMMANDS if c not in {("demo",), ("crawl",), ("run",), ("serve",), ("testweb", "serve")}]
    argvs = [command_args(c, config, campaign.folder) for c in printing] + [["--help"], ["search", "--help"]]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(_with_closed_stdout, argvs))
    for argv, result in zip(argvs, results):
        assert result.returncode == 1, (argv, result.returncode, result.stderr[-1000:])
        no_traceback(result)


def test_sigterm_stops_a_command_with_one_line(campaign: Campaign) -> None:
    # `owd index` against an OpenSearch that does not answer sits in its retry back-off:
    # SIGTERM must end it at once (before the fix, Python's default: killed, no word).
    import os
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "owd.cli", "index", str(campaign.config), "--backend",
                             "opensearch", "--url", "http://127.0.0.1:1"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the first retry notice: the command is busy waiting
    assert "retry" in first, first
    sent = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5
    assert proc.returncode == 128 + signal.SIGTERM, (proc.returncode, err[-1000:])
    assert "owd: stopped by SIGTERM" in err and "Traceback" not in err
