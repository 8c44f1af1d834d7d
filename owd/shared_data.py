"""Where the third-party data in ``../shared/data`` lives.

That data (real pages, sentences, WARC and robots samples) is never copied into
the project; code reads it in place and falls back to generated content, and
tests that need it are marked ``shared_data`` and skip when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def repo_root() -> Path:
    """The checkout this package runs from (configs/ and bench/ live there)."""
    return _REPO_ROOT


def shared_data_dir() -> Path | None:
    """The shared data folder, or None when this machine does not have it.

    ``OWD_SHARED_DATA`` overrides the default ``<repo>/../shared/data``; setting it
    to an empty string forces the fallback (used to test the generated content).
    """
    override = os.environ.get("OWD_SHARED_DATA")
    if override is not None:
        path = Path(override) if override else None
    else:
        path = _REPO_ROOT.parent / "shared" / "data"
    if path is not None and path.is_dir():
        return path
    return None
