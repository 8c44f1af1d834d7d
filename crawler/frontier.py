"""Crawl state on disk, and the migration of the crawl state of earlier owd.

A crawler's state is its frontier store, ``crawl/<worker>/frontier.rocks``
(crawler/frontier_store.py). Earlier owd kept it in a SQLite file,
``frontier.sqlite``, and before that in two append-only journals (``frontier.jsonl``:
every URL admitted; ``done.jsonl``: every URL that reached an end). ``owd crawl
--resume`` on such a crawl migrates it into the store once: journals (admitted minus
done are queued again, the rest are seen and done; a torn last line of a killed run is
skipped and counted) are renamed ``*.jsonl.migrated``, a SQLite store (every URL with
its state and fetch facts, every refused URL's seen-set key)
``frontier.sqlite.migrated``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterator

from owd.crawler.frontier_store import DONE, FRONTIER_FILE, KINDS, OLD_FRONTIER_FILE, FrontierEntry, FrontierStore

__all__ = ["has_crawl_state", "migrate_journal", "migrate_sqlite"]

log = logging.getLogger(__name__)

JOURNALS = ("frontier.jsonl", "done.jsonl")


def has_crawl_state(crawl_dir: Path, warc_dir: Path) -> bool:
    """Whether a crawl already ran here (a fresh `owd crawl` must not start over it)."""
    return ((crawl_dir / FRONTIER_FILE).exists() or (crawl_dir / OLD_FRONTIER_FILE).exists()
            or (crawl_dir / "frontier.jsonl").exists() or any(warc_dir.glob("*.warc.gz*")))


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
    from owd.crawler.scheduler import frontier_host
    from owd.core.urls import canonical_url

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


_SQLITE_FACTS = ("fetched", "status", "digest", "ref_date", "etag", "modified", "failures", "outcome")


def migrate_sqlite(crawl_dir: Path, store: FrontierStore) -> dict[str, int]:
    """Move the SQLite frontier store of earlier owd into ``store``; the facts, for the stats."""
    import sqlite3

    from owd.core.urls import trap_reason

    path = crawl_dir / OLD_FRONTIER_FILE
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = dict(db.execute("SELECT id, name FROM hosts"))
        columns = {row[1] for row in db.execute("PRAGMA table_info(urls)")}
        facts_sql = ", ".join(c if c in columns else "NULL" for c in _SQLITE_FACTS)
        urls = 0
        for row in db.execute(f"SELECT state, host, prio, depth, kind, score, url, via, {facts_sql} "
                              "FROM urls ORDER BY id"):
            state, host, prio, depth, kind, score, url, via = row[:8]
            kind_name = KINDS[kind] if isinstance(kind, int) and 0 <= kind < len(KINDS) else "page"
            store.import_url(url, names[host], state=DONE if state == DONE else 0, prio=int(prio),
                             depth=int(depth or 0), kind=kind_name, score=float(score or 0.0), via=via,
                             facts=dict(zip(_SQLITE_FACTS, row[8:])),
                             calendar=kind_name == "page" and trap_reason(url) == "calendar")
            urls += 1
        refused = 0
        for (key,) in db.execute("SELECT key FROM seen WHERE id IS NULL"):
            store.import_refused(int(key))
            refused += 1
    finally:
        db.close()
    store.commit()
    path.rename(crawl_dir / f"{OLD_FRONTIER_FILE}.migrated")
    for extra in ("-wal", "-shm"):
        (crawl_dir / f"{OLD_FRONTIER_FILE}{extra}").unlink(missing_ok=True)
    log.warning("SQLite frontier migrated to %s: %d URLs, %d refused", FRONTIER_FILE, urls, refused)
    return {"resume/sqlite_migrated": urls, "resume/sqlite_refused_migrated": refused}
