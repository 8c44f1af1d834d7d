"""The command line: help for every subcommand, exit codes."""

from __future__ import annotations

import argparse

from owd.cli import build_parser
from tests.conftest import run_owd

EXPECTED = {"demo", "crawl", "process", "embed", "index", "search", "config", "testweb", "schema", "pools", "serve", "run", "status", "report", "ingest", "catalog"}


def _subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(prefix + (name,))
                found += _subcommands(sub, prefix + (name,))
    return found


def test_help_lists_subcommands() -> None:
    result = run_owd("--help", timeout=60)
    assert result.returncode == 0
    for name in EXPECTED:
        assert f"    {name} " in result.stdout, result.stdout


def test_every_subcommand_has_help() -> None:
    commands = _subcommands(build_parser())
    assert {c[0] for c in commands} == EXPECTED
    assert ("testweb", "serve") in commands and ("schema", "validate") in commands
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:  # one process each; they wait on imports, not on each other
        results = list(pool.map(lambda c: run_owd(*c, "--help", timeout=60), commands))
    for command, result in zip(commands, results):
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.startswith("usage: owd " + " ".join(command)), (command, result.stdout[:200])


def test_group_without_action_prints_help_and_exits_2() -> None:
    result = run_owd("testweb", timeout=60)
    assert result.returncode == 2
    assert "serve" in result.stdout


def test_unknown_command_exits_2() -> None:
    result = run_owd("fly", timeout=60)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
