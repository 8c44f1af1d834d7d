"""Type-check owd with mypy, as installed: ``python scripts/typecheck.py``.

The stage folders at the top of the repository install as ``owd.crawler``,
``owd.extract``, ... (pyproject's package-dir), which an editable install maps with an
import hook that mypy cannot follow. So this builds the installed layout out of
symbolic links in a temporary folder (``owd/`` with ``owd/crawler`` -> ``crawler/``
and so on, nothing copied) and runs mypy on it, with the settings in pyproject.toml.
Reported paths are mapped back to the repository's. Exit status: mypy's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def stage_tree(dest: Path) -> dict[str, str]:
    """Build ``dest/owd`` as the wheel lays it out; returns {staged prefix: repo prefix}."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped: dict[str, str] = config.get("package-dir", {})
    top = dest / "owd"
    top.mkdir()
    for entry in (REPO / "owd").iterdir():
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry)
    prefixes = {f"{top}/": "owd/"}
    for package, folder in mapped.items():
        name = package.split(".", 1)[1]
        (top / name).symlink_to(REPO / folder)
        prefixes[f"{top}/{name}/"] = f"{folder}/"
    return prefixes


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="owd-typecheck-") as tmp:
        prefixes = stage_tree(Path(tmp))
        cmd = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), "-p", "owd"]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True,
                              env={**os.environ, "MYPYPATH": tmp})
        longest_first = sorted(prefixes.items(), key=lambda kv: -len(kv[0]))
        for line in (proc.stdout + proc.stderr).splitlines():
            for staged, repo in longest_first:
                for form in (staged, staged.removeprefix(f"{tmp}/")):
                    if line.startswith(form):
                        line = repo + line[len(form):]
                        break
                else:
                    continue
                break
            print(line)
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
