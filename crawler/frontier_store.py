"""The crawl frontier on disk: one SQLite database (WAL) per crawler.

Everything a crawler knows about URLs lives here, not in memory: the seen-set (a
64-bit hash of every canonical URL met, admitted or refused), per-host queues ordered
by priority (focus relevance - depth, FIFO within a priority), and each URL's state and
fetch facts (status, time, payload digest, ETag, Last-Modified, failures). Memory holds
only what the scheduler keeps per active host (crawler/scheduler.py).

Why SQLite: ``bench/bench_frontier.py`` measures it against LMDB on the same workload
(see bench/README.md). SQLite's WAL with ``synchronous=NORMAL`` survives a SIGKILL with
every committed transaction, keeps its page cache small and fixed (the OS page cache
does the rest, and does not count against the process), and needs no extra package.

Crash safety by construction: writes go into one open transaction, committed every
``commit_every`` seconds and whenever the scheduler hands out a request. A page's "done" mark and the links found on it are written by
the same connection in order, so a commit holds both or neither: after a SIGKILL the
page is simply fetched again, and requests that were in flight are queued again on
open (:meth:`FrontierStore.requeue_in_flight`).
"""

from __future__ import annotations

import fnmatch
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

if TYPE_CHECKING:
    from owd.config import RevisitConfig

__all__ = ["FrontierStore", "FrontierEntry", "FetchFacts", "url_key", "FRONTIER_FILE", "KINDS", "QUEUED", "IN_FLIGHT", "DONE"]

QUEUED, IN_FLIGHT, DONE = 0, 1, 2
FRONTIER_FILE = "frontier.sqlite"  # a crawler's store, in crawl/<worker>/
KINDS = ("page", "sitemap", "image", "audio", "video")
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}
PRIORITY_SCALE = 1000  # priorities are stored as integers: -round(priority * 1000), ascending = first

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hosts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    pages INTEGER NOT NULL DEFAULT 0,     -- pages ever admitted (the scope's per-host cap)
    calendar INTEGER NOT NULL DEFAULT 0,  -- of which calendar-shaped (the scope's trap cap)
    queued INTEGER NOT NULL DEFAULT 0     -- URLs queued now: the scheduler starts in O(hosts)
);
-- The seen-set: every canonical URL met, as a 64-bit hash. Narrow on purpose (about 20
-- bytes an entry), so that the random inserts of new hashes stay in the page cache;
-- admitted URLs point at their row in `urls`, refused ones have no row there.
CREATE TABLE IF NOT EXISTS seen (
    key INTEGER PRIMARY KEY,
    id INTEGER
);
-- Admitted URLs, in admission order (appends, not random inserts).
CREATE TABLE IF NOT EXISTS urls (
    id INTEGER PRIMARY KEY,    -- admission order: FIFO within a priority
    state INTEGER NOT NULL,    -- 0 queued, 1 in flight, 2 done
    host INTEGER NOT NULL,
    prio INTEGER NOT NULL,     -- -round(priority * 1000): ascending = best first
    depth INTEGER,
    kind INTEGER,
    score REAL,
    url TEXT NOT NULL,
    via TEXT,
    fetched REAL,              -- when it was last fetched (epoch seconds)
    status INTEGER,            -- HTTP status of that fetch
    digest TEXT,               -- payload digest (as in WARC-Payload-Digest)
    ref_date TEXT,             -- WARC-Date of the response record that holds that payload
    etag TEXT,
    modified TEXT,             -- Last-Modified
    failures INTEGER NOT NULL DEFAULT 0,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS queue ON urls(host, prio, id) WHERE state = 0;
-- what was in flight at a crash, found without reading the whole table (a few rows)
CREATE INDEX IF NOT EXISTS in_flight ON urls(id) WHERE state = 1;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
"""


def url_key(canonical_url: str) -> int:
    """The seen-set key of a canonical URL: xxh3-64, as a signed 64-bit integer (SQLite's
    INTEGER). Two URLs collide with probability ~n^2/2^65: 1 in 10^5 at 20M URLs."""
    value = xxhash.xxh3_64_intdigest(canonical_url.encode("utf-8", "surrogatepass"))
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(frozen=True, slots=True)
class FetchFacts:
    """What the last successful fetch of a URL left: a revisit asks the server whether it
    changed (ETag, Last-Modified) and compares the payload digest; the WARC revisit record
    refers to the record that holds the payload (its URL and ``ref_date``)."""

    digest: str | None = None
    ref_date: str | None = None
    etag: str | None = None
    modified: str | None = None


@dataclass(slots=True)
class FrontierEntry:
    """One admitted URL, as the spider needs it to build its request."""

    url: str
    host: str
    depth: int = 0
    via: str | None = None
    score: float = 0.0
    kind: str = "page"
    priority: float = 0.0  # the order within its host: higher first, FIFO on ties
    previous: FetchFacts | None = None  # set when this is a revisit of a fetched URL


class FrontierStore:
    """One crawler's frontier. Not thread-safe: the crawler's reactor thread owns it."""

    def __init__(self, path: Path | None, commit_every: float = 2.0, cache_mib: int = 512) -> None:
        """``path`` None: an in-memory store (unit tests, spiders without a campaign folder)."""
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.commit_every = commit_every
        self._db = sqlite3.connect(str(self.path) if self.path else ":memory:", isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL with WAL: a process crash loses nothing committed (a power cut may lose
        # the last commits, which the journal-before-done order turns into refetches).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA cache_size=-{cache_mib * 1024}")
        self._db.execute("PRAGMA mmap_size=0")  # pages in our cache only: RSS stays bounded
        # Each commit appends every page it dirtied to the WAL, and the random inserts of the
        # seen-set dirty many: commits every 2 s (not 0.25 s) and checkpoints every 64 MiB
        # (not 4) took admissions from 21k/s to 64k/s at 3M URLs (bench/bench_frontier.py).
        self._db.execute("PRAGMA wal_autocheckpoint=16000")
        self._db.executescript(_SCHEMA)
        self._upgrade()
        self._host_ids: dict[str, int] = dict(
            (name, hid) for hid, name in self._db.execute("SELECT id, name FROM hosts"))
        row = self._db.execute("SELECT MAX(id) FROM urls").fetchone()
        self._next_id = int(row[0] or 0) + 1
        self._in_tx = False
        self._last_commit = time.monotonic()
        # per-host changes to (pages, calendar, queued) since the last commit, written with
        # it (one UPDATE per host per commit, not one per admission)
        self._host_counts: dict[int, list[int]] = {}
        self.closed = False

    def _upgrade(self) -> None:
        """Bring a store written by an earlier version up to this schema."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(urls)")}
        if "ref_date" not in columns:  # before revisits
            self._db.execute("ALTER TABLE urls ADD COLUMN ref_date TEXT")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(hosts)")}
        missing = [name for name in ("pages", "calendar", "queued") if name not in columns]
        if missing:  # before the per-host counts: counted once, from the URLs
            from crawler.urls import host_of, trap_reason

            self._db.execute("BEGIN")
            for name in missing:
                self._db.execute(f"ALTER TABLE hosts ADD COLUMN {name} INTEGER NOT NULL DEFAULT 0")
            self._db.execute(f"UPDATE hosts SET pages = (SELECT COUNT(*) FROM urls WHERE urls.host = hosts.id "
                             f"AND kind = {_KIND_CODE['page']})")
            self._db.execute(f"UPDATE hosts SET queued = (SELECT COUNT(*) FROM urls WHERE urls.host = hosts.id "
                             f"AND state = {QUEUED})")
            calendar: dict[str, int] = {}
            for (url,) in self._db.execute(f"SELECT url FROM urls WHERE kind = {_KIND_CODE['page']} "
                                           "AND url GLOB '*/[12][0-9][0-9][0-9][/-]*'").fetchall():
                if trap_reason(url) == "calendar":
                    calendar[host_of(url)] = calendar.get(host_of(url), 0) + 1
            self._db.executemany("UPDATE hosts SET calendar = ? WHERE name = ?",
                                 [(n, name) for name, n in calendar.items()])
            self._db.execute("COMMIT")

    # ---- transactions ----------------------------------------------------------------------
    def _begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True

    def maybe_commit(self) -> None:
        """Commit if the last commit is older than ``commit_every`` seconds."""
        if self._in_tx and time.monotonic() - self._last_commit >= self.commit_every:
            self.commit()

    def commit(self) -> None:
        if self._in_tx:
            if self._host_counts:
                self._db.executemany(
                    "UPDATE hosts SET pages = pages + ?, calendar = calendar + ?, queued = queued + ? WHERE id = ?",
                    [(p, c, q, hid) for hid, (p, c, q) in self._host_counts.items()])
                self._host_counts.clear()
            self._db.execute("COMMIT")
            self._in_tx = False
        self._last_commit = time.monotonic()

    def close(self) -> None:
        if not self.closed:
            self.commit()
            self._db.close()
            self.closed = True

    # ---- hosts ----------------------------------------------------------------------------
    def host_id(self, name: str) -> int:
        hid = self._host_ids.get(name)
        if hid is None:
            self._begin()
            cur = self._db.execute("INSERT INTO hosts(name) VALUES (?)", (name,))
            hid = self._host_ids[name] = int(cur.lastrowid or 0)
        return hid

    def host_names(self) -> dict[int, str]:
        return {hid: name for name, hid in self._host_ids.items()}

    # ---- the seen-set and admission ---------------------------------------------------------
    def see(self, canonical_url: str) -> bool:
        """Add the URL to the seen-set; True if it was new. A URL seen but not admitted
        (out of scope, forwarded) is never admitted later."""
        self._begin()
        cur = self._db.execute("INSERT OR IGNORE INTO seen(key) VALUES (?)", (url_key(canonical_url),))
        return cur.rowcount == 1

    def seen(self, canonical_url: str) -> bool:
        return self._db.execute("SELECT 1 FROM seen WHERE key = ?", (url_key(canonical_url),)).fetchone() is not None

    def _row(self, e: FrontierEntry) -> tuple[Any, ...]:
        return (self._next_id, QUEUED, self.host_id(e.host), -round(e.priority * PRIORITY_SCALE), e.depth,
                _KIND_CODE.get(e.kind, 0), e.score, e.url, e.via)

    _INSERT_URL = ("INSERT INTO urls(id, state, host, prio, depth, kind, score, url, via) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")

    def _counts(self, hid: int) -> list[int]:
        counts = self._host_counts.get(hid)
        if counts is None:
            counts = self._host_counts[hid] = [0, 0, 0]
        return counts

    def _count(self, hid: int, kind: str, calendar: bool) -> None:
        """One more URL queued on host ``hid`` (and admitted, if a page)."""
        counts = self._counts(hid)
        counts[2] += 1
        if kind == "page":
            counts[0] += 1
            counts[1] += calendar

    def queue(self, entry: FrontierEntry, calendar: bool = False) -> None:
        """Queue a URL that :meth:`see` reported new (and the scope admitted); ``calendar``:
        the scope counted it as a calendar-shaped page (kept per host for a resumed crawl)."""
        self._begin()
        row = self._row(entry)
        self._count(row[2], entry.kind, calendar)
        self._db.execute(self._INSERT_URL, row)
        self._db.execute("UPDATE seen SET id = ? WHERE key = ?", (self._next_id, url_key(entry.url)))
        self._next_id += 1

    def admit_many(self, entries: Iterable[FrontierEntry]) -> int:
        """See and queue many URLs at once (the fast path); returns how many were new."""
        self._begin()
        execute = self._db.execute
        rows = []
        for e in entries:
            if execute("INSERT OR IGNORE INTO seen(key, id) VALUES (?, ?)",
                       (url_key(e.url), self._next_id)).rowcount == 1:
                row = self._row(e)
                self._count(row[2], e.kind, False)
                rows.append(row)
                self._next_id += 1
        self._db.executemany(self._INSERT_URL, rows)
        return len(rows)

    # ---- queues ---------------------------------------------------------------------------
    def pop(self, host: str, n: int = 1) -> list[FrontierEntry]:
        """Up to ``n`` best queued URLs of ``host``, marked in flight."""
        hid = self._host_ids.get(host)
        if hid is None:
            return []
        rows = self._db.execute(
            "SELECT id, url, depth, via, score, kind, prio, fetched, digest, ref_date, etag, modified "
            "FROM urls WHERE host = ? AND state = 0 ORDER BY prio, id LIMIT ?", (hid, n)).fetchall()
        if not rows:
            return []
        self._begin()
        self._db.executemany("UPDATE urls SET state = 1 WHERE id = ?", [(r[0],) for r in rows])
        self._counts(hid)[2] -= len(rows)
        return [FrontierEntry(url=r[1], host=host, depth=r[2], via=r[3], score=r[4], kind=KINDS[r[5]],
                              priority=-r[6] / PRIORITY_SCALE,
                              previous=FetchFacts(r[8], r[9], r[10], r[11]) if r[7] is not None else None)
                for r in rows]

    def _id(self, canonical_url: str) -> int | None:
        row = self._db.execute("SELECT id FROM seen WHERE key = ?", (url_key(canonical_url),)).fetchone()
        return row[0] if row else None

    def unpop(self, entries: Iterable[FrontierEntry]) -> None:
        """Put popped URLs back in their queues (they were not handed to the downloader)."""
        self._begin()
        for e in entries:
            uid = self._id(e.url)
            hid = self._host_ids.get(e.host)
            if uid is not None and hid is not None and self._db.execute(
                    "UPDATE urls SET state = 0 WHERE id = ? AND state = 1", (uid,)).rowcount:
                self._counts(hid)[2] += 1

    def done(self, canonical_url: str, outcome: str, status: int | None = None, digest: str | None = None,
             etag: str | None = None, modified: str | None = None, failed: bool = False,
             ref_date: str | None = None) -> None:
        """Record the outcome of a fetch (or a refusal after admission). Facts given as
        None keep their old value: a revisit that found the page unchanged passes no
        status, so the URL keeps the status of the fetch that holds its content."""
        uid = self._id(canonical_url)
        if uid is None:
            return
        self._begin()
        row = self._db.execute("SELECT state, host FROM urls WHERE id = ?", (uid,)).fetchone()
        if row is not None and row[0] == QUEUED:  # (done without being popped: a URL refused late)
            self._counts(row[1])[2] -= 1
        self._db.execute(
            "UPDATE urls SET state = 2, outcome = ?, fetched = ?, status = COALESCE(?, status), "
            "digest = COALESCE(?, digest), ref_date = COALESCE(?, ref_date), etag = COALESCE(?, etag), "
            "modified = COALESCE(?, modified), failures = failures + ? WHERE id = ?",
            (outcome, time.time(), status, digest, ref_date, etag, modified, int(failed), uid))

    def queue_revisits(self, policy: "RevisitConfig", now: float | None = None) -> int:
        """Queue the fetched URLs that are due for a revisit under ``policy`` (oldest fetch
        first, at most ``policy.max_per_run``); returns how many. A URL is due when its last
        fetch succeeded (2xx) and is at least its interval old: the first rule whose hosts
        or URL globs match it sets the interval, else ``policy.interval``.

        One pass over the URL table (no index on fetch time: it is run once per revisit run,
        and an index would cost every "done" a random write)."""
        now = time.time() if now is None else now
        cases, params = [], []
        for rule in policy.rules:
            ors = []
            host_ids = sorted(hid for name, hid in self._host_ids.items()
                              if any(fnmatch.fnmatchcase(name, g) for g in rule.hosts))
            if host_ids:
                ors.append(f"host IN ({','.join(str(h) for h in host_ids)})")
            for pattern in rule.urls:
                ors.append("url GLOB ?")
                params.append(pattern)
            if ors:
                cases.append(f"WHEN {' OR '.join(ors)} THEN {float(rule.interval)!r}")
        interval = f"CASE {' '.join(cases)} ELSE {float(policy.interval)!r} END" if cases else repr(float(policy.interval))
        kinds = ",".join(str(_KIND_CODE[k]) for k in policy.kinds)
        self._begin()
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS due(id INTEGER PRIMARY KEY, host INTEGER)")
        self._db.execute("DELETE FROM due")
        self._db.execute(
            f"INSERT INTO due SELECT id, host FROM urls WHERE state = {DONE} "
            f"AND kind IN ({kinds}) AND status BETWEEN 200 AND 299 AND fetched IS NOT NULL "
            f"AND fetched <= ? - ({interval}) ORDER BY fetched LIMIT ?",
            (now, *params, int(policy.max_per_run)))
        return self._requeue("SELECT id, host FROM due")

    def _requeue(self, select: str) -> int:
        """Queue again the URLs ``select`` gives as (id, host); commits; returns how many."""
        self._begin()
        per_host: dict[int, int] = {}
        ids = []
        for uid, hid in self._db.execute(select).fetchall():
            ids.append((uid,))
            per_host[hid] = per_host.get(hid, 0) + 1
        self._db.executemany(f"UPDATE urls SET state = {QUEUED} WHERE id = ?", ids)
        for hid, n in per_host.items():
            self._counts(hid)[2] += n
        self.commit()
        return len(ids)

    def requeue_in_flight(self) -> int:
        """After a crash: URLs that were in flight go back to their queues; how many."""
        return self._requeue(f"SELECT id, host FROM urls INDEXED BY in_flight WHERE state = {IN_FLIGHT}")

    # ---- reading ---------------------------------------------------------------------------
    def queued_by_host(self, exact: bool = False) -> Iterator[tuple[str, int]]:
        """(host, URLs queued) of the hosts with a queue: from the per-host counts, in
        O(hosts); ``exact`` counts the queue index instead, in O(queued URLs)."""
        names = self.host_names()
        if exact:
            for hid, n in self._db.execute("SELECT host, COUNT(*) FROM urls WHERE state = 0 GROUP BY host"):
                yield names[hid], n
            return
        for hid, n in self._db.execute("SELECT id, queued FROM hosts"):
            n += self._host_counts.get(hid, (0, 0, 0))[2]
            if n > 0:
                yield names[hid], n

    def host_counts(self) -> dict[str, tuple[int, int]]:
        """Per host: (pages ever admitted, of which calendar-shaped), read from the hosts
        table: a resumed crawl restores its scope caps in O(hosts), not O(URLs)."""
        out = {}
        for hid, name, pages, calendar in self._db.execute("SELECT id, name, pages, calendar FROM hosts"):
            pending = self._host_counts.get(hid, (0, 0, 0))
            out[name] = (pages + pending[0], calendar + pending[1])
        return out

    def queued(self) -> int:
        """How many URLs are queued (reads the queue index only)."""
        return int(self._db.execute("SELECT COUNT(*) FROM urls INDEXED BY queue WHERE state = 0").fetchone()[0])

    def counts(self) -> dict[str, int]:
        names = {QUEUED: "queued", IN_FLIGHT: "in_flight", DONE: "done"}
        out = {v: 0 for v in names.values()}
        for state, n in self._db.execute("SELECT state, COUNT(*) FROM urls GROUP BY state"):
            out[names[state]] = n
        seen = self._db.execute("SELECT COUNT(*) FROM seen").fetchone()[0]
        out["refused"] = seen - sum(out.values())
        out["hosts"] = len(self._host_ids)
        return out

    def get_meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        self._begin()
        self._db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", (name, value))
