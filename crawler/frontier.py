"""Crawl state on disk, and the migration of the JSON-lines journal of earlier owd.

Since the disk frontier (crawler/frontier_store.py), a crawler's state is one SQLite
file, ``crawl/<worker>/frontier.sqlite``. Crawls started by earlier owd kept two
append-only journals instead (``frontier.jsonl``: every URL admitted; ``done.jsonl``:
every URL that reached an end). ``owd crawl --resume`` on such a crawl migrates them
into a store once (admitted minus done are queued again, the rest are seen and done;
a torn last line of a killed run is skipped and counted) and renames the journals to
``*.jsonl.migrated``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterator

from crawler.frontier_store import FRONTIER_FILE, FrontierEntry, FrontierStore

__all__ = ["has_crawl_state", "migrate_journal"]

log = logging.getLogger(__name__)

JOURNALS = ("frontier.jsonl", "done.jsonl")


def has_crawl_state(crawl_dir: Path, warc_dir: Path) -> bool:
    """Whether a crawl already ran here (a fresh `owd crawl` must not start over it)."""
    return ((crawl_dir / FRONTIER_FILE).exists() or (crawl_dir / "frontier.jsonl").exists()
            or any(warc_dir.glob("*.warc.gz*")))


def _read_jsonl(path: Path, torn: list[int]) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                yield json.loads(line)
            except ValueError:
                torn[0] += 1  # the last line of a killed run may be cut short


def migrate_journal(crawl_dir: Path, store: FrontierStore) -> dict[str, int]:
    """Move an old JSON-lines journal into ``store``; the facts, for the crawl's stats."""
    from crawler.scheduler import frontier_host
    from crawler.urls import canonical_url

    torn = [0]
    done = {e["u"] for e in _read_jsonl(crawl_dir / "done.jsonl", torn) if "u" in e}
    queued = finished = 0
    for entry in _read_jsonl(crawl_dir / "frontier.jsonl", torn):
        url = entry.get("u")
        if not url:
            continue
        try:
            url = canonical_url(url)
        except ValueError:
            continue
        if not store.see(url):
            continue
        store.queue(FrontierEntry(url=url, host=frontier_host(url), depth=int(entry.get("d", 0)), via=entry.get("v"),
                                  score=float(entry.get("s", 0.0)), kind=str(entry.get("k", "page"))))
        if url in done:
            store.done(url, "migrated")
            finished += 1
        else:
            queued += 1
    store.commit()
    for name in JOURNALS:
        if (crawl_dir / name).exists():
            (crawl_dir / name).rename(crawl_dir / f"{name}.migrated")
    log.warning("journal migrated to %s: %d queued, %d done, %d torn line(s)", FRONTIER_FILE, queued, finished, torn[0])
    return {"resume/journal_migrated": queued + finished, "resume/journal_torn_lines": torn[0]}
