"""The error vocabulary every package raises from: one base class, and what the CLI does with it.

``OwdError`` and its subclasses carry a message written for the user: the command line
prints ``str(err)`` as one line (never a traceback) and exits non-zero. Errors a step
meets in *data* (a broken record, page, WARC or media file) are not raised at all: the
step counts them with a reason in its stats and passes over them.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["OwdError", "ConfigError", "InputError"]


class OwdError(Exception):
    """Something the user can act on; ``str(err)`` is the whole message."""


class ConfigError(OwdError, ValueError):
    """A configuration is wrong: ``str(err)`` is ``<file>: <field>: <problem>``."""

    def __init__(self, file: str | Path | None, field: str, problem: str) -> None:
        self.file = str(file) if file else "<config>"
        self.field = field or "<top level>"
        self.problem = problem
        super().__init__(f"{self.file}: {self.field}: {problem}")


class InputError(OwdError, ValueError):
    """A file handed to owd as a whole is unusable (not a campaign's Parquet, two WARC
    files that would write one shard, ...), as opposed to one bad record inside it."""
