"""Small files written whole: state, stats, reports, status."""

from __future__ import annotations

from pathlib import Path

__all__ = ["replace_text"]


def replace_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` under a temporary name and rename it into place:
    a reader, or a rerun after a kill, sees the old file or the whole new one, never half.
    (No heavy imports here: the crawler writes its status and report with it.)"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
