"""The crawl journal: what was admitted to the frontier and what reached an end.

Two append-only JSON-lines files per worker, flushed line by line so that a
SIGKILL loses at most a torn last line:

- ``frontier.jsonl``: every URL admitted (url, depth, discovery path, score, kind);
- ``done.jsonl``: every URL whose request ended (parsed, or failed for good).

Resume = admitted minus done. A URL whose response reached the WARC but whose
callback never ran (it was in flight at the kill) is fetched again and counted,
because its links were never followed; everything parsed before the kill is
never refetched.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["Journal", "ResumeState", "load_resume_state"]

log = logging.getLogger(__name__)


class Journal:
    """Appends frontier and done entries for one worker."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._frontier: IO[str] = open(folder / "frontier.jsonl", "a", encoding="utf-8")
        self._done: IO[str] = open(folder / "done.jsonl", "a", encoding="utf-8")

    def admitted(self, url: str, depth: int, via: str | None, score: float, kind: str) -> None:
        self._frontier.write(json.dumps({"u": url, "d": depth, "v": via, "s": round(score, 4), "k": kind}) + "\n")
        self._frontier.flush()

    def done(self, url: str, outcome: str) -> None:
        self._done.write(json.dumps({"u": url, "o": outcome}) + "\n")
        self._done.flush()

    def close(self) -> None:
        self._frontier.close()
        self._done.close()


@dataclass
class ResumeState:
    """What a resumed crawl starts from."""

    pending: list[dict[str, Any]] = field(default_factory=list)  # entries to request again
    seen: set[str] = field(default_factory=set)  # every URL admitted before (never admitted twice)
    admitted_pages: list[str] = field(default_factory=list)  # for the scope's caps (Scope.restore)
    done: int = 0
    refetch_in_flight: int = 0  # pending URLs whose response already reached a WARC
    torn_lines: int = 0


def _read_jsonl(path: Path, state: ResumeState) -> list[dict[str, Any]]:
    entries = []
    if not path.exists():
        return entries
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                entries.append(json.loads(line))
            except ValueError:
                state.torn_lines += 1  # the last line of a killed run may be cut short
    return entries


def load_resume_state(folder: Path, fetched_urls: set[str]) -> ResumeState:
    """Rebuild the frontier from the journal; ``fetched_urls`` are the responses in the
    (repaired) WARC files, used to count in-flight refetches."""
    from crawler.urls import canonical_url

    state = ResumeState()
    done = {e["u"] for e in _read_jsonl(folder / "done.jsonl", state) if "u" in e}
    fetched = set()
    for url in fetched_urls:
        try:
            fetched.add(canonical_url(url))
        except ValueError:
            continue
    for entry in _read_jsonl(folder / "frontier.jsonl", state):
        url = entry.get("u")
        if not url or url in state.seen:
            continue
        state.seen.add(url)
        if entry.get("k", "page") == "page":
            state.admitted_pages.append(url)
        if url in done:
            state.done += 1
            continue
        if url in fetched:
            state.refetch_in_flight += 1
        state.pending.append({"url": url, "depth": entry.get("d", 0), "via": entry.get("v"),
                              "score": entry.get("s", 0.0), "kind": entry.get("k", "page")})
    if state.torn_lines:
        log.warning("journal: %d torn line(s) ignored (a killed run)", state.torn_lines)
    return state
