"""The shape of the project: layers, packaging, types.

* Imports: owd.core imports no other owd package; a stage package (owd.crawler,
  owd.extract, owd.langid, owd.dedup, owd.index, owd.pools) imports only owd.core, its
  own modules and third-party libraries; no module uses the old global names (``import
  langid``); no cycles between packages.
* Packaging: pyproject names every package folder; the wheel installs one top-level
  name, ``owd``, so it installs beside the PyPI package ``langid`` and both import.
* Types: mypy runs clean (scripts/typecheck.py).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from tests.conftest import REPO

STAGES = ("crawler", "extract", "langid", "dedup", "index", "pools")
OLD_GLOBAL_NAMES = set(STAGES)


def _module_files() -> dict[str, Path]:
    """Every module of the installed ``owd`` package -> its file in the repository."""
    mapped = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    roots = {"owd": REPO / "owd", **{package: REPO / folder for package, folder in mapped.items()}}
    modules: dict[str, Path] = {}
    for package, folder in roots.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts))
            modules[name.removesuffix(".__init__")] = path
    return modules


def _package_of(module: str) -> str | None:
    """The layer a module belongs to: owd.core, owd.<stage>, or owd (orchestration)."""
    parts = module.split(".")
    if parts[0] != "owd":
        return None
    if len(parts) > 1 and parts[1] in (*STAGES, "core"):
        return f"owd.{parts[1]}"
    return "owd"


def _imports(path: Path) -> list[tuple[str, int]]:
    """Absolute module names a file imports (at any depth: function bodies, TYPE_CHECKING)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


def test_packages_import_only_what_their_layer_allows() -> None:
    modules = _module_files()
    assert len(modules) > 90 and "owd.core.schema" in modules and "owd.crawler.spider" in modules
    offenders = []
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        here = _package_of(module)
        assert here is not None
        for imported, line in _imports(path):
            where = f"{path.relative_to(REPO)}:{line}: {imported}"
            if imported.split(".")[0] in OLD_GLOBAL_NAMES:
                offenders.append(f"{where} (the stage packages are owd.<stage>)")
                continue
            there = _package_of(imported)
            if there is None or there == here:
                continue
            graph[here].add(there)
            if here == "owd.core":
                offenders.append(f"{where} (owd.core imports no other owd package)")
            elif here != "owd" and there != "owd.core":
                offenders.append(f"{where} (a stage imports only owd.core and itself)")
    assert not offenders, "\n".join(offenders)
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle between packages: {exc.args[1]}")
    assert order[0] == "owd.core" and order[-1] == "owd"
    assert graph["owd"] >= {f"owd.{stage}" for stage in STAGES}  # the orchestration sees every stage


def test_pyproject_names_every_package_folder() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {name for name, path in _module_files().items() if path.name == "__init__.py"}
    assert listed == found


@pytest.mark.slow
def test_types_check_clean() -> None:
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "typecheck.py")], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "Success: no issues found" in result.stdout


@pytest.mark.slow
def test_wheel_installs_beside_the_pypi_langid(tmp_path: Path) -> None:
    """The built wheel claims only ``owd``: with PyPI's ``langid`` in the same environment,
    ``import langid`` is PyPI's and ``owd.langid`` is ours, and both work.

    Uses the package registry (pip builds the wheel with its build backend and fetches
    langid), as `make install` does. The fresh environment borrows the project's
    third-party dependencies from the test environment through a .pth line rather than
    downloading them again; owd itself and langid are installed into it for real.
    """
    # From a copy of the sources: setuptools builds in a build/ folder beside them.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "owd-data", "build", "*.egg-info", "__pycache__", ".pytest_cache", "results"))
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(source)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("owd-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        top_level = {name.split("/")[0] for name in archive.namelist()}
        assert "owd/langid/identify.py" in archive.namelist() and "owd/core/step.py" in archive.namelist()
    assert top_level == {"owd", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    ours = Path(subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "borrowed_dependencies.pth").write_text(f"{ours}\n")  # appended after the fresh site-packages
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "langid==1.1.6"],
                             capture_output=True, text=True, timeout=600, env=env)
    assert install.returncode == 0, install.stderr[-3000:]
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
                             capture_output=True, text=True, timeout=600, env=env)
    assert install.returncode == 0, install.stderr[-3000:]
    script = (
        "import langid, owd.langid, owd.core\n"
        "from owd.langid.identify import LanguageIdentifier\n"
        "print(langid.__file__)\n"
        "print(owd.langid.__file__)\n"
        "print(langid.classify('This is a plain English sentence about the weather today.')[0])\n"
        "print(LanguageIdentifier().identify('Das ist ein ganz gewöhnlicher deutscher Satz über das Wetter.').lang)\n")
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    pypi_file, ours_file, pypi_lang, our_lang = result.stdout.split()
    assert Path(pypi_file).parent == site / "langid"
    assert Path(ours_file).parent == site / "owd" / "langid"
    assert (pypi_lang, our_lang) == ("en", "de")


def test_only_the_ray_modules_import_ray() -> None:
    """Ray: the cluster connection, the Ray executor and the crawler actors (owd/ray_*.py)."""
    importers = {module for module, path in _module_files().items()
                 if any(name == "ray" or name.startswith("ray.") for name, _ in _imports(path))}
    assert "owd.ray_cluster" in importers and all(module.startswith("owd.ray_") for module in importers)
