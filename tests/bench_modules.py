"""Import a benchmark script of bench/ as a module (tests reuse the labelled sets the
evaluation scripts build, so a floor and its report measure the same thing)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load_bench_module(name: str) -> ModuleType:
    """``bench/<name>.py`` as the module ``name`` (registered in sys.modules: dataclasses
    look their module up there)."""
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
