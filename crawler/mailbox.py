"""Links for hosts another crawler owns travel through append-only inbox files.

Crawler ``a`` appends the frontier entries it found for crawler ``b``'s hosts to
``<campaign>/crawl/b/inbox/a.jsonl``; ``b`` reads each of its inbox files from
the byte offset it reached. Files rather than Ray messages because they are
durable and idempotent: a crawler killed and restarted reads its inbox again
from the start, and its seen-set (in its frontier store) drops what it had
already admitted, so a forwarded link is neither lost nor fetched twice. On
several nodes the campaign folder is shared storage, as the design asks.

Each file has one writer (the sender), which writes whole lines in one
``write`` + ``flush``; the reader takes only complete lines, so it never sees
half an entry. A sender flushes its batch before it records the page whose
links they are as done, so a kill between the two re-parses the page and
sends the batch again rather than losing it.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import IO, Any, Iterator

__all__ = ["Outbox", "Inbox", "inbox_dir"]

log = logging.getLogger(__name__)


def inbox_dir(crawl_root: Path, worker: str) -> Path:
    return crawl_root / worker / "inbox"


class Outbox:
    """Batches forwarded entries per receiving crawler."""

    def __init__(self, crawl_root: Path, sender: str) -> None:
        self.crawl_root = crawl_root
        self.sender = sender
        self._pending: dict[str, list[str]] = defaultdict(list)
        self._files: dict[str, IO[str]] = {}
        self.sent = 0  # entries written, this process

    def add(self, receiver: str, url: str, depth: int, via: str | None, score: float, kind: str) -> None:
        self._pending[receiver].append(json.dumps({"u": url, "d": depth, "v": via, "s": round(score, 4), "k": kind}))

    def __len__(self) -> int:
        return sum(len(v) for v in self._pending.values())

    def flush(self) -> int:
        """Write every pending batch (one write per receiver); return the entries written."""
        written = 0
        for receiver, lines in self._pending.items():
            if not lines:
                continue
            fh = self._files.get(receiver)
            if fh is None:
                folder = inbox_dir(self.crawl_root, receiver)
                folder.mkdir(parents=True, exist_ok=True)
                fh = self._files[receiver] = open(folder / f"{self.sender}.jsonl", "a", encoding="utf-8")
            fh.write("\n".join(lines) + "\n")
            fh.flush()
            written += len(lines)
        self._pending.clear()
        self.sent += written
        return written

    def close(self) -> None:
        self.flush()
        for fh in self._files.values():
            fh.close()
        self._files.clear()


class Inbox:
    """Reads a crawler's inbox files incrementally."""

    def __init__(self, crawl_root: Path, receiver: str) -> None:
        self.folder = inbox_dir(crawl_root, receiver)
        self.offsets: dict[str, int] = {}  # sender -> bytes consumed
        self.bad_lines = 0

    def poll(self) -> Iterator[dict[str, Any]]:
        """New complete entries since the last poll, from every sender."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("*.jsonl")):
            sender = path.stem
            start = self.offsets.get(sender, 0)
            try:
                with open(path, "rb") as fh:
                    fh.seek(start)
                    chunk = fh.read()
            except OSError as exc:
                log.warning("inbox %s unreadable: %s", path, exc)
                continue
            end = chunk.rfind(b"\n") + 1  # only complete lines; the rest is still being written
            if end == 0:
                continue
            self.offsets[sender] = start + end
            for line in chunk[:end].splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    self.bad_lines += 1
                    continue
                if isinstance(entry, dict) and isinstance(entry.get("u"), str):
                    yield entry
                else:
                    self.bad_lines += 1
