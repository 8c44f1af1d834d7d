"""The crawl frontier on disk: one RocksDB database per crawler (through ``rocksdict``).

Everything a crawler knows about URLs lives here, not in memory: the seen-set (a
64-bit hash of every canonical URL met, admitted or refused), per-host queues ordered
by priority (focus relevance - depth, FIFO within a priority), and each URL's state and
fetch facts (status, time, payload digest, ETag, Last-Modified, failures). Memory holds
the block cache, the write buffers and one small row per host (crawler/scheduler.py
keeps its own per active host).

Why RocksDB: ``bench/bench_frontier.py`` admitted 20 million URLs on 100k hosts at 54k
URLs/s into this store against 32k/s for the SQLite (WAL) store owd used first: every
admission inserts a random seen-set key and a key in a random host's queue, and a
B-tree rewrites a whole page for each, while an LSM tree appends to its log and sorts
later. It also takes 40% of the disk (65 vs 161 bytes per URL). LMDB was measured too
and keeps its pages in the process's RSS (bench/README.md).

Keys (big-endian, so that byte order is the order wanted):

* ``s`` + url hash -> URL id (8 bytes), or empty for a URL seen but refused
* ``u`` + id -> the URL's record (a MessagePack list, :data:`_FIELDS`); ids are admission order
* ``q`` + host id + priority + id -> empty: the host's queue, best first, FIFO on ties
* ``i`` + id -> empty: in flight (what a crash leaves to re-queue)
* ``f`` + fetch time (ms) + id -> empty: URLs whose content was fetched, oldest first (revisits)
* ``h`` + host id -> pages admitted, of which calendar-shaped, queued now; the host name
* ``m`` + name -> store facts (the seen count, ...)

Crash safety by construction: changes are atomic write batches in RocksDB's write-ahead
log (not fsynced: a killed process loses nothing written, a power cut may lose the last
writes, which then become refetches). A URL's seen mark and queue entry are in the same
batch. The URLs queued one by one (a page's links) share a batch that is written before
the store is next read, committed, or changed otherwise, so a page's "done" mark is
always written after the links found on it: after a SIGKILL the page is fetched again at
worst, and nothing seen is lost unqueued. Requests in flight are queued again on open
(:meth:`FrontierStore.requeue_in_flight`). What may lag by one commit (``commit_every``
seconds; the scheduler commits before each request it hands out) are the refused URLs'
seen marks (a loss refuses them again) and the per-host counts (a count that is off only
delays a host: the scheduler checks the queue itself before a crawl ends,
crawler/scheduler.py).
"""

from __future__ import annotations

import fnmatch
import shutil
import struct
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import msgpack
import xxhash
from rocksdict import AccessType, BlockBasedOptions, Cache, Options, ReadOptions, Rdict, WriteBatch, WriteOptions

if TYPE_CHECKING:
    from owd.core.config import RevisitConfig

__all__ = ["FrontierStore", "FrontierEntry", "FetchFacts", "url_key", "FRONTIER_FILE", "OLD_FRONTIER_FILE", "KINDS",
           "QUEUED", "IN_FLIGHT", "DONE"]

QUEUED, IN_FLIGHT, DONE = 0, 1, 2
FRONTIER_FILE = "frontier.rocks"  # a crawler's store (a folder), in crawl/<worker>/
OLD_FRONTIER_FILE = "frontier.sqlite"  # the SQLite store of earlier owd (crawler/frontier.py migrates it)
KINDS = ("page", "sitemap", "image", "audio", "video")
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}
PRIORITY_SCALE = 1000  # priorities are stored as integers: -round(priority * 1000), ascending = first
_PRIO_BIAS = 2**31  # signed priority -> unsigned, so that byte order is numeric order

# A URL record, as a MessagePack list in this order (6x faster than JSON to write, and smaller).
_FIELDS = ("state", "host", "prio", "depth", "kind", "score", "url", "via", "fetched", "status", "digest",
           "ref_date", "etag", "modified", "failures", "outcome")
_F = {name: i for i, name in enumerate(_FIELDS)}
_ID = struct.Struct(">Q")
_HASH = struct.Struct(">q")
_HOST = struct.Struct(">I")
_QUEUE = struct.Struct(">IIQ")
_FETCHED = struct.Struct(">QQ")
_HOST_ROW = struct.Struct(">qqq")
_SEEN_COUNT = b"mseen"
_COUNTED = b"mcounted"  # the last URL id whose admission the host rows count


def url_key(canonical_url: str) -> int:
    """The seen-set key of a canonical URL: xxh3-64 as a signed 64-bit integer. Two URLs
    collide with probability ~n^2/2^65: 1 in 10^5 at 20M URLs."""
    value = xxhash.xxh3_64_intdigest(canonical_url.encode("utf-8", "surrogatepass"))
    return value - (1 << 64) if value >= 1 << 63 else value


def _skey(canonical_url: str) -> bytes:
    return b"s" + _HASH.pack(url_key(canonical_url))


def _ukey(uid: int) -> bytes:
    return b"u" + _ID.pack(uid)


def _qkey(hid: int, prio: int, uid: int) -> bytes:
    return b"q" + _QUEUE.pack(hid, prio + _PRIO_BIAS, uid)


def _fkey(fetched: float, uid: int) -> bytes:
    return b"f" + _FETCHED.pack(max(0, int(fetched * 1000)), uid)


def _after(prefix: bytes) -> bytes:
    """The smallest key above every key that starts with ``prefix``."""
    head = prefix.rstrip(b"\xff")
    return head[:-1] + bytes([head[-1] + 1])


def _content(record: list[Any]) -> bool:
    """Whether the URL's last good fetch is content (what a revisit may fetch again)."""
    status = record[_F["status"]]
    return record[_F["fetched"]] is not None and status is not None and 200 <= status < 300


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
    """One crawler's frontier. Not thread-safe: the crawler's reactor thread owns it.

    ``read_only``: open a store another process is writing (``owd status``, benchmarks);
    it sees what was written when it opened."""

    def __init__(self, path: Path | None, commit_every: float = 2.0, cache_mib: int = 256,
                 read_only: bool = False) -> None:
        """``path`` None: a store in a temporary folder, removed on close (unit tests,
        spiders without a campaign folder)."""
        self._temporary = path is None
        self.path = Path(tempfile.mkdtemp(prefix="owd-frontier-")) / FRONTIER_FILE if path is None else Path(path)
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.commit_every = commit_every
        options = Options(raw_mode=True)
        options.create_if_missing(not read_only)
        options.set_write_buffer_size(64 << 20)
        options.set_max_write_buffer_number(3)
        options.increase_parallelism(2)  # flushes and compactions in the background
        table = BlockBasedOptions()
        table.set_bloom_filter(10, False)  # a new URL's seen-set lookup mostly stops here
        table.set_block_cache(Cache(cache_mib << 20))
        # Index and filter blocks stay outside the cache (about 1.5 bytes a key, 100 MB at
        # 20M URLs): put in the cache, they made admissions 3x slower by 3M URLs here.
        options.set_block_based_table_factory(table)
        access = AccessType.read_only() if read_only else AccessType.read_write()
        self._db = Rdict(str(self.path), options=options, access_type=access)
        self._write_options = WriteOptions()
        self._write_options.sync = False  # in the OS by return: a killed process loses nothing
        # URLs queued one by one (a page's links) wait in one batch until the store is
        # read or committed: one write per page instead of one per link
        self._queued_batch: WriteBatch | None = None
        self._queued_keys: set[bytes] = set()
        self._host_ids: dict[str, int] = {}
        self._hosts: dict[int, list[Any]] = {}  # host id -> [name, pages, calendar, queued]
        for key, value in self._scan(b"h"):
            hid = _HOST.unpack(key[1:])[0]
            pages, calendar, queued = _HOST_ROW.unpack(value[:_HOST_ROW.size])
            name = value[_HOST_ROW.size:].decode("utf-8")
            self._host_ids[name] = hid
            self._hosts[hid] = [name, pages, calendar, queued]
        last = self._last_key(b"u")
        self._next_id = _ID.unpack(last[1:])[0] + 1 if last is not None else 1
        seen = self._db.get(_SEEN_COUNT)
        self._seen_count = int(seen) if seen else 0
        self._pending_seen: dict[bytes, bytes] = {}  # refused URLs' keys, written at the next commit
        self._dirty_hosts: set[int] = set()  # host rows changed since the last commit
        self._last_commit = time.monotonic()
        self.closed = False
        if not read_only:
            self._recount_since_commit()

    def _recount_since_commit(self) -> None:
        """After a crash: the host rows lack what the URLs admitted since the last commit
        added (pages, calendar pages, queued). Those URLs are the ones above the last
        commit's mark, a few at most; count them in, so the scope's caps hold exactly."""
        from owd.core.urls import trap_reason

        raw = self._db.get(_COUNTED)
        counted = _ID.unpack(raw)[0] if raw else 0
        if counted >= self._next_id - 1:
            return
        for _, value in self._scan(_ukey(counted + 1), upper=b"v"):
            r = msgpack.unpackb(value)
            row = self._hosts.get(r[1])
            if row is None:  # (cannot happen: a host's row is written with its first URL)
                continue
            row[3] += r[0] == QUEUED  # in flight or done: its +1 and -1 were both lost
            if r[4] == _KIND_CODE["page"]:
                row[1] += 1
                row[2] += trap_reason(r[6]) == "calendar"
            self._dirty_hosts.add(r[1])
        self.commit()

    # ---- plumbing ------------------------------------------------------------------------
    def _scan(self, prefix: bytes, upper: bytes | None = None, limit: int | None = None) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of the keys from ``prefix`` on, below ``upper`` (default: the
        keys that start with ``prefix``)."""
        self._flush()
        options = ReadOptions()
        options.set_iterate_upper_bound(upper if upper is not None else _after(prefix))
        it = self._db.iter(options)
        try:
            it.seek(prefix)
            n = 0
            while it.valid() and (limit is None or n < limit):
                yield it.key(), it.value()
                n += 1
                it.next()
        finally:
            del it  # an iterator left alive keeps the database from closing

    def _last_key(self, prefix: bytes) -> bytes | None:
        it = self._db.iter(ReadOptions())  # (no lower bound: rocksdict 0.3 mishandles it with seek_for_prev)
        try:
            it.seek_for_prev(_after(prefix))
            return it.key() if it.valid() and it.key().startswith(prefix) else None
        finally:
            del it

    @staticmethod
    def _batch() -> WriteBatch:
        return WriteBatch(raw_mode=True)

    def _write(self, batch: WriteBatch) -> None:
        self._flush()
        self._db.write(batch, self._write_options)

    def _flush(self) -> None:
        """Write the URLs queued since the last write (before any read that may need them)."""
        if self._queued_batch is not None:
            batch, self._queued_batch = self._queued_batch, None
            self._db.write(batch, self._write_options)
            self._queued_keys.clear()

    def _host_row(self, hid: int) -> tuple[bytes, bytes]:
        """The key and value of host ``hid``'s row (its counts and name)."""
        name, pages, calendar, queued = self._hosts[hid]
        return b"h" + _HOST.pack(hid), _HOST_ROW.pack(pages, calendar, queued) + name.encode("utf-8")

    def _record(self, uid: int) -> list[Any] | None:
        self._flush()
        raw = self._db.get(_ukey(uid))
        return msgpack.unpackb(raw) if raw is not None else None

    @staticmethod
    def _put_record(batch: WriteBatch, uid: int, record: list[Any]) -> None:
        batch.put(_ukey(uid), msgpack.packb(record))

    def _id(self, canonical_url: str) -> int | None:
        self._flush()
        raw = self._db.get(_skey(canonical_url))
        return _ID.unpack(raw)[0] if raw else None

    def _get_many(self, keys: list[bytes]) -> list[bytes | None]:
        """The values of ``keys`` in one read, None for a missing key."""
        # rocksdict's stub takes an invariant List of every key type, and types the result of
        # a list of keys as one value: given a list, Rdict.get returns a list of values.
        return cast("list[bytes | None]", self._db.get(keys))  # type: ignore[arg-type]  # stub: see above

    # ---- transactions (kept for the callers: every change is already durable) -----------------
    def maybe_commit(self) -> None:
        """:meth:`commit` if the last one is ``commit_every`` seconds old."""
        if time.monotonic() - self._last_commit >= self.commit_every:
            self.commit()

    def commit(self) -> None:
        """Write what may lag (queued URLs, refused URLs' seen marks, per-host counts)."""
        self._flush()
        if (self._pending_seen or self._dirty_hosts) and not self.read_only:
            batch = self._batch()
            for key, value in self._pending_seen.items():
                batch.put(key, value)
            for hid in self._dirty_hosts:
                batch.put(*self._host_row(hid))
            batch.put(_SEEN_COUNT, str(self._seen_count).encode())
            batch.put(_COUNTED, _ID.pack(self._next_id - 1))  # host rows count every URL up to here
            self._write(batch)
            self._pending_seen.clear()
            self._dirty_hosts.clear()
        self._last_commit = time.monotonic()

    def close(self) -> None:
        if not self.closed:
            self.commit()
            self._db.close()
            self.closed = True
            if self._temporary:
                shutil.rmtree(self.path.parent, ignore_errors=True)

    # ---- hosts ----------------------------------------------------------------------------
    def host_id(self, name: str, batch: WriteBatch | None = None) -> int:
        """The id of host ``name``; a new host's row goes into ``batch`` (or is written
        now), so that no URL record ever names a host the store does not know."""
        hid = self._host_ids.get(name)
        if hid is None:
            hid = self._host_ids[name] = len(self._hosts) + 1
            self._hosts[hid] = [name, 0, 0, 0]
            row = self._host_row(hid)
            if batch is not None:
                batch.put(*row)
            else:
                self._flush()
                self._db.write(self._one(*row), self._write_options)
            self._dirty_hosts.add(hid)
        return hid

    def _one(self, key: bytes, value: bytes) -> WriteBatch:
        batch = self._batch()
        batch.put(key, value)
        return batch

    def host_names(self) -> dict[int, str]:
        return {hid: row[0] for hid, row in self._hosts.items()}

    # ---- the seen-set and admission ---------------------------------------------------------
    def see(self, canonical_url: str) -> bool:
        """Add the URL to the seen-set; True if it was new. A URL seen but not admitted
        (out of scope, forwarded) is never admitted later. The mark is written with the
        URL's queue entry (:meth:`queue`, same batch) or, for a refused URL, at the next
        commit: a crash in between forgets only refusals."""
        key = _skey(canonical_url)
        if key in self._pending_seen or key in self._queued_keys or self._db.get(key) is not None:
            return False
        self._pending_seen[key] = b""
        self._seen_count += 1
        return True

    def seen(self, canonical_url: str) -> bool:
        key = _skey(canonical_url)
        return key in self._pending_seen or key in self._queued_keys or self._db.get(key) is not None

    def _admit(self, batch: WriteBatch, key: bytes, e: FrontierEntry, calendar: bool) -> None:
        uid = self._next_id
        self._next_id += 1
        hid = self.host_id(e.host, batch)
        prio = -round(e.priority * PRIORITY_SCALE)
        batch.put(key, _ID.pack(uid))
        self._put_record(batch, uid, [QUEUED, hid, prio, e.depth, _KIND_CODE.get(e.kind, 0), e.score, e.url, e.via,
                                      None, None, None, None, None, None, 0, None])
        batch.put(_qkey(hid, prio, uid), b"")
        row = self._hosts[hid]
        row[3] += 1
        if e.kind == "page":
            row[1] += 1
            row[2] += calendar
        self._dirty_hosts.add(hid)

    def queue(self, entry: FrontierEntry, calendar: bool = False) -> None:
        """Queue a URL that :meth:`see` reported new (and the scope admitted); ``calendar``:
        the scope counted it as a calendar-shaped page (kept per host for a resumed crawl)."""
        key = _skey(entry.url)
        self._pending_seen.pop(key, None)
        if self._queued_batch is None:
            self._queued_batch = self._batch()
        self._admit(self._queued_batch, key, entry, calendar)
        self._queued_keys.add(key)
        if len(self._queued_keys) >= 10_000:  # (a sitemap's URLs)
            self._flush()

    def admit_many(self, entries: Iterable[FrontierEntry]) -> int:
        """See and queue many URLs in one batch (the fast path); returns how many were new."""
        entries = list(entries)
        self._flush()
        keys = [_skey(e.url) for e in entries]
        found = self._get_many(keys)
        batch = self._batch()
        fresh: set[bytes] = set()
        for key, value, e in zip(keys, found, entries):
            if value is not None or key in fresh or key in self._pending_seen:
                continue
            fresh.add(key)
            self._admit(batch, key, e, False)
        self._seen_count += len(fresh)
        self._write(batch)
        return len(fresh)

    def import_url(self, url: str, host: str, *, state: int, prio: int, depth: int, kind: str, score: float,
                   via: str | None, facts: dict[str, Any], calendar: bool = False) -> None:
        """Take over a URL from another store (crawler/frontier.py migrates the SQLite store
        of earlier owd): queued or in flight, it is queued; done, it keeps its fetch facts."""
        key = _skey(url)
        self._flush()
        if self._db.get(key) is not None:
            return
        batch = self._batch()
        uid = self._next_id
        self._next_id += 1
        hid = self.host_id(host, batch)
        record: list[Any] = [QUEUED, hid, prio, depth, _KIND_CODE.get(kind, 0), score, url, via] + [
            facts.get(name) for name in _FIELDS[8:]]
        record[_F["failures"]] = int(record[_F["failures"]] or 0)
        batch.put(key, _ID.pack(uid))
        row = self._hosts[hid]
        if state == DONE:
            record[0] = DONE
            if _content(record):
                batch.put(_fkey(record[8], uid), b"")
        else:
            batch.put(_qkey(hid, prio, uid), b"")
            row[3] += 1
        if kind == "page":
            row[1] += 1
            row[2] += calendar
        self._put_record(batch, uid, record)
        self._dirty_hosts.add(hid)
        self._seen_count += 1
        self._write(batch)

    def import_refused(self, key: int) -> None:
        """Take over a seen-set key of a URL that was refused (no record)."""
        raw = _HASH.pack(key)
        if self._db.get(b"s" + raw) is None:
            self._pending_seen[b"s" + raw] = b""
            self._seen_count += 1

    # ---- queues ---------------------------------------------------------------------------
    def pop(self, host: str, n: int = 1) -> list[FrontierEntry]:
        """Up to ``n`` best queued URLs of ``host``, marked in flight."""
        hid = self._host_ids.get(host)
        if hid is None:
            return []
        qkeys = [key for key, _ in self._scan(b"q" + _HOST.pack(hid), limit=n)]
        if not qkeys:
            return []
        uids = [_QUEUE.unpack(k[1:])[2] for k in qkeys]
        raws = self._get_many([_ukey(u) for u in uids])
        batch = self._batch()
        out = []
        for qkey, uid, raw in zip(qkeys, uids, raws):
            batch.delete(qkey)
            if raw is None:  # (cannot happen: the queue key and the record are written together)
                continue
            r = msgpack.unpackb(raw)
            r[_F["state"]] = IN_FLIGHT
            self._put_record(batch, uid, r)
            batch.put(b"i" + _ID.pack(uid), b"")
            out.append(FrontierEntry(
                url=r[6], host=host, depth=r[3], via=r[7], score=r[5], kind=KINDS[r[4]], priority=-r[2] / PRIORITY_SCALE,
                previous=FetchFacts(r[10], r[11], r[12], r[13]) if r[8] is not None else None))
        self._hosts[hid][3] -= len(qkeys)
        self._dirty_hosts.add(hid)
        self._write(batch)
        return out

    def _to_queue(self, batch: WriteBatch, uid: int, r: list[Any]) -> None:
        """Put a URL that is not queued back in its host's queue."""
        if r[0] == IN_FLIGHT:
            batch.delete(b"i" + _ID.pack(uid))
        r[0] = QUEUED
        self._put_record(batch, uid, r)
        batch.put(_qkey(r[1], r[2], uid), b"")
        self._hosts[r[1]][3] += 1
        self._dirty_hosts.add(r[1])

    def unpop(self, entries: Iterable[FrontierEntry]) -> None:
        """Put popped URLs back in their queues (they were not handed to the downloader)."""
        batch = self._batch()
        for e in entries:
            uid = self._id(e.url)
            r = self._record(uid) if uid is not None else None
            if uid is not None and r is not None and r[0] == IN_FLIGHT:
                self._to_queue(batch, uid, r)
        self._write(batch)

    def done(self, canonical_url: str, outcome: str, status: int | None = None, digest: str | None = None,
             etag: str | None = None, modified: str | None = None, failed: bool = False,
             ref_date: str | None = None, when: float | None = None) -> None:
        """Record the outcome of a fetch (or a refusal after admission), ended at ``when``
        (default now). Facts given as None keep their old value: a revisit that found the
        page unchanged passes no status, so the URL keeps the status of the fetch that
        holds its content."""
        uid = self._id(canonical_url)
        r = self._record(uid) if uid is not None else None
        if uid is None or r is None:
            return
        batch = self._batch()
        if r[0] == QUEUED:  # done without being popped (a URL refused late)
            batch.delete(_qkey(r[1], r[2], uid))
            self._hosts[r[1]][3] -= 1
            self._dirty_hosts.add(r[1])
        elif r[0] == IN_FLIGHT:
            batch.delete(b"i" + _ID.pack(uid))
        if _content(r):
            batch.delete(_fkey(r[8], uid))
        r[0] = DONE
        r[8] = time.time() if when is None else when
        for name, value in (("status", status), ("digest", digest), ("ref_date", ref_date), ("etag", etag),
                            ("modified", modified)):
            if value is not None:
                r[_F[name]] = value
        r[_F["failures"]] += int(failed)
        r[_F["outcome"]] = outcome
        if _content(r):
            batch.put(_fkey(r[8], uid), b"")
        self._put_record(batch, uid, r)
        self._write(batch)

    def facts(self, canonical_url: str) -> dict[str, Any] | None:
        """Everything the store keeps about one URL (None if it was never admitted)."""
        uid = self._id(canonical_url)
        r = self._record(uid) if uid is not None else None
        if r is None:
            return None
        out = dict(zip(_FIELDS, r))
        out["host"] = self._hosts[r[1]][0]
        out["kind"] = KINDS[r[4]]
        out["id"] = uid
        return out

    def queue_revisits(self, policy: "RevisitConfig", now: float | None = None) -> int:
        """Queue the fetched URLs that are due for a revisit under ``policy`` (oldest fetch
        first, at most ``policy.max_per_run``); returns how many. A URL is due when its last
        fetch succeeded (2xx) and is at least its interval old: the first rule whose hosts
        or URL globs match it sets the interval, else ``policy.interval``.

        Reads the URLs in order of their last fetch (the ``f`` keys), and stops at the
        first one that no interval can make due yet."""
        now = time.time() if now is None else now
        rules = [(float(rule.interval), list(rule.hosts), list(rule.urls)) for rule in policy.rules]
        shortest = min([float(policy.interval)] + [r[0] for r in rules])
        kinds = {_KIND_CODE[k] for k in policy.kinds}

        def interval(host: str, url: str) -> float:
            for seconds, hosts, urls in rules:
                if any(fnmatch.fnmatchcase(host, g) for g in hosts) or any(fnmatch.fnmatchcase(url, g) for g in urls):
                    return seconds
            return float(policy.interval)

        upper = b"f" + _FETCHED.pack(max(0, int((now - shortest) * 1000)) + 1, 0)
        queued = 0
        batch = self._batch()
        for key, _ in self._scan(b"f", upper=upper):
            if queued >= policy.max_per_run:
                break
            uid = _FETCHED.unpack(key[1:])[1]
            r = self._record(uid)
            if r is None or r[0] != DONE or r[4] not in kinds or not _content(r):
                continue
            if r[8] <= now - interval(self._hosts[r[1]][0], r[6]):
                self._to_queue(batch, uid, r)
                queued += 1
        self._write(batch)
        return queued

    def requeue_in_flight(self) -> int:
        """After a crash: URLs that were in flight go back to their queues; how many."""
        uids = [_ID.unpack(key[1:])[0] for key, _ in self._scan(b"i")]
        batch = self._batch()
        for uid in uids:
            r = self._record(uid)
            if r is not None:
                self._to_queue(batch, uid, r)
            else:
                batch.delete(b"i" + _ID.pack(uid))
        self._write(batch)
        return len(uids)

    # ---- reading ---------------------------------------------------------------------------
    def queued_by_host(self, exact: bool = False) -> Iterator[tuple[str, int]]:
        """(host, URLs queued) of the hosts with a queue: from the per-host counts, in
        O(hosts); ``exact`` counts the queue keys instead, in O(queued URLs)."""
        if not exact:
            for name, _, _, queued in list(self._hosts.values()):
                if queued > 0:
                    yield name, queued
            return
        counts: dict[int, int] = {}
        for key, _ in self._scan(b"q"):
            hid = _HOST.unpack(key[1:5])[0]
            counts[hid] = counts.get(hid, 0) + 1
        for hid, n in counts.items():
            yield self._hosts[hid][0], n

    def host_counts(self) -> dict[str, tuple[int, int]]:
        """Per host: (pages ever admitted, of which calendar-shaped): a resumed crawl
        restores its scope caps in O(hosts), not O(URLs)."""
        return {name: (pages, calendar) for name, pages, calendar, _ in self._hosts.values()}

    def queued(self, exact: bool = False) -> int:
        """How many URLs are queued: the per-host counts' sum, or (``exact``) the queue keys counted."""
        if exact:
            return sum(1 for _ in self._scan(b"q"))
        return sum(row[3] for row in self._hosts.values())

    def admitted(self) -> int:
        return self._next_id - 1

    def counts(self) -> dict[str, int]:
        """queued, in flight, done, refused (seen, not admitted) and hosts; O(hosts + in flight)."""
        queued = self.queued()
        in_flight = sum(1 for _ in self._scan(b"i"))
        admitted = self.admitted()
        return {"queued": queued, "in_flight": in_flight, "done": admitted - queued - in_flight,
                "refused": self._seen_count - admitted, "hosts": len(self._hosts)}

    def urls(self) -> Iterator[tuple[str, int]]:
        """(URL, state) of every admitted URL, in admission order (a full read: checks, tools)."""
        for _, raw in self._scan(b"u"):
            r = msgpack.unpackb(raw)
            yield r[6], r[0]

    def next_queued(self) -> str | None:
        """The URL at the head of the first host's queue (for `owd status`)."""
        for key, _ in self._scan(b"q", limit=1):
            r = self._record(_QUEUE.unpack(key[1:])[2])
            return r[6] if r is not None else None
        return None

    def stalest_fetch(self) -> float | None:
        """When the longest-unvisited content was fetched (epoch seconds), if any."""
        for key, _ in self._scan(b"f", limit=1):
            return _FETCHED.unpack(key[1:])[0] / 1000
        return None

    def get_meta(self, name: str) -> str | None:
        raw = self._db.get(b"m" + name.encode("utf-8"))
        return raw.decode("utf-8") if raw is not None else None

    def set_meta(self, name: str, value: str) -> None:
        batch = self._batch()
        batch.put(b"m" + name.encode("utf-8"), value.encode("utf-8"))
        self._write(batch)
