"""Frontier store benchmark: admit N synthetic canonical URLs on H hosts, then pop M.

Measures the real frontier API (crawler.frontier_store.FrontierStore): admissions/s and
pops/s, timed inside the API (one core: the crawler's reactor thread is the only user;
the benchmark's own link generator is timed apart), disk bytes per
admitted URL, and RSS (peak, and sampled as the frontier grows). Admission comes in
batches of 40 links, as link extraction delivers them; a third of the links are
repeats of URLs already admitted (the seen-set must say no). Pops go round-robin over
hosts, a few URLs at a time, as the scheduler does.

``--store sqlite`` runs the same workload on the SQLite layout of owd's first disk
frontier, ``--store lmdb`` on a minimal LMDB layout (seen-set keys and per-host queue
keys, ``pip install lmdb`` first): the store comparison in bench/README.md. Neither is
a frontier owd uses.

    python bench/bench_frontier.py                       # 20M admitted, 1M popped, 100k hosts
    python bench/bench_frontier.py --urls 2000000 --pops 200000   # a quicker run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from owd.crawler.frontier_store import FRONTIER_FILE, FrontierEntry, FrontierStore, url_key  # noqa: E402

BATCH = 40


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_links(n: int, hosts: int, seed: int = 7):  # noqa: ANN201 -- a generator of batches
    """Batches of (url, host, depth, priority): fresh URLs, with a third repeats."""
    rng = random.Random(seed)
    made = 0
    while made < n:
        batch = []
        for _ in range(BATCH):
            if made and rng.random() < 1 / 3:
                i = rng.randrange(made)  # a link to a page admitted before
            else:
                i = made
                made += 1
            host = i % hosts
            batch.append((f"https://www.site{host:06d}.example.eu/section/{i // hosts}/page-{i}.html",
                          f"www.site{host:06d}.example.eu", i % 7, rng.random()))
        yield batch


class OwdFrontier:
    name = "owd (RocksDB)"

    def __init__(self, folder: Path) -> None:
        self.store = FrontierStore(folder / FRONTIER_FILE)
        self.folder = folder

    def admit(self, batch: list[tuple[str, str, int, float]]) -> int:
        new = self.store.admit_many(FrontierEntry(url=u, host=h, depth=d, via="https://www.example.eu/",
                                                  priority=p - d) for u, h, d, p in batch)
        self.store.maybe_commit()
        return new

    def pop(self, host: str, n: int) -> int:
        got = len(self.store.pop(host, n))
        self.store.maybe_commit()
        return got

    def close(self) -> None:
        self.store.close()


class SqliteFrontier:
    """The same workload on the SQLite layout owd's first disk frontier used (until
    2026-12-06): WAL, synchronous=NORMAL, 512 MiB cache, no mmap, commits every 2 s; a
    seen-set table of 64-bit hashes, URLs in admission order, a partial index
    (host, priority, id) over queued URLs as the per-host queues."""

    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        import sqlite3

        self.db = sqlite3.connect(str(folder / "frontier.sqlite"), isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-524288", "mmap_size=0",
                       "wal_autocheckpoint=16000"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.executescript("""
            CREATE TABLE hosts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            CREATE TABLE seen (key INTEGER PRIMARY KEY, id INTEGER);
            CREATE TABLE urls (id INTEGER PRIMARY KEY, state INTEGER NOT NULL, host INTEGER NOT NULL,
                               prio INTEGER NOT NULL, depth INTEGER, url TEXT NOT NULL, via TEXT);
            CREATE INDEX queue ON urls(host, prio, id) WHERE state = 0;
        """)
        self.hosts: dict[str, int] = {}
        self.next_id = 1
        self.last = time.monotonic()
        self.db.execute("BEGIN")

    def _commit(self) -> None:
        if time.monotonic() - self.last >= 2.0:
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")
            self.last = time.monotonic()

    def _host(self, name: str) -> int:
        hid = self.hosts.get(name)
        if hid is None:
            hid = self.hosts[name] = int(self.db.execute("INSERT INTO hosts(name) VALUES (?)", (name,)).lastrowid or 0)
        return hid

    def admit(self, batch: list[tuple[str, str, int, float]]) -> int:
        rows = []
        for url, host, depth, prio in batch:
            if self.db.execute("INSERT OR IGNORE INTO seen(key, id) VALUES (?, ?)",
                               (url_key(url), self.next_id)).rowcount == 1:
                rows.append((self.next_id, 0, self._host(host), -round((prio - depth) * 1000), depth, url,
                             "https://www.example.eu/"))
                self.next_id += 1
        self.db.executemany("INSERT INTO urls VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self._commit()
        return len(rows)

    def pop(self, host: str, n: int) -> int:
        hid = self.hosts.get(host)
        if hid is None:
            return 0
        ids = [(r[0],) for r in self.db.execute("SELECT id FROM urls WHERE host = ? AND state = 0 "
                                                 "ORDER BY prio, id LIMIT ?", (hid, n))]
        self.db.executemany("UPDATE urls SET state = 1 WHERE id = ?", ids)
        self._commit()
        return len(ids)

    def close(self) -> None:
        self.db.execute("COMMIT")
        self.db.close()


class LmdbFrontier:
    """The same workload on LMDB: key 's'+hash -> entry, key 'q'+host+prio+seq -> hash."""

    name = "lmdb"

    def __init__(self, folder: Path) -> None:
        import lmdb  # not an owd dependency: `pip install lmdb` for this comparison

        self.env = lmdb.open(str(folder / "frontier.lmdb"), map_size=256 * 2**30, writemap=False,
                             sync=False, metasync=False)
        self.txn = self.env.begin(write=True)
        self.last = time.monotonic()
        self.seq = 0
        self.hosts: dict[str, int] = {}

    def _commit(self) -> None:
        if time.monotonic() - self.last > 0.25:
            self.txn.commit()
            self.txn = self.env.begin(write=True)
            self.last = time.monotonic()

    def admit(self, batch: list[tuple[str, str, int, float]]) -> int:
        new = 0
        for url, host, depth, prio in batch:
            key = struct.pack(">q", url_key(url))
            value = json.dumps([url, host, depth, "https://www.example.eu/"]).encode()
            if self.txn.put(b"s" + key, value, overwrite=False):
                new += 1
                self.seq += 1
                hid = self.hosts.setdefault(host, len(self.hosts))
                qkey = b"q" + struct.pack(">IiQ", hid, -round((prio - depth) * 1000), self.seq)
                self.txn.put(qkey, key)
        self._commit()
        return new

    def pop(self, host: str, n: int) -> int:
        hid = self.hosts.get(host)
        if hid is None:
            return 0
        prefix = b"q" + struct.pack(">I", hid)
        cursor = self.txn.cursor()
        got = 0
        if cursor.set_range(prefix):
            while got < n and cursor.key().startswith(prefix):
                cursor.delete()
                got += 1
        self._commit()
        return got

    def close(self) -> None:
        self.txn.commit()
        self.env.close()


def run(store_cls: Callable[[Path], Any], args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="owd-bench-frontier-", dir=args.dir))
    try:
        store = store_cls(folder)
        curve = []
        admitted = offered = 0
        started = time.perf_counter()
        cpu0 = time.process_time()
        next_sample = 0
        in_store = 0.0  # time inside the frontier API: the synthetic link generator is not the frontier's cost
        for batch in synthetic_links(args.urls, args.hosts):
            offered += len(batch)
            t0 = time.perf_counter()
            admitted += store.admit(batch)
            in_store += time.perf_counter() - t0
            if admitted >= next_sample:
                curve.append({"admitted": admitted, "rss_mb": round(rss_mb(), 1),
                              "seconds": round(time.perf_counter() - started, 1)})
                print(f"  {store.name}: {admitted:>11,} admitted, RSS {curve[-1]['rss_mb']:7.1f} MB, "
                      f"{curve[-1]['seconds']:7.1f} s", flush=True)
                next_sample += args.sample_every
        admit_s = time.perf_counter() - started
        admit_cpu = time.process_time() - cpu0
        names = [f"www.site{h:06d}.example.eu" for h in range(args.hosts)]
        popped = 0
        started = time.perf_counter()
        cpu0 = time.process_time()
        i = 0
        while popped < args.pops:
            popped += store.pop(names[i % len(names)], 4)
            i += 1
        pop_s = time.perf_counter() - started
        pop_cpu = time.process_time() - cpu0
        store.close()
        disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        return {
            "store": store.name, "urls_offered": offered, "admitted": admitted, "hosts": args.hosts,
            "admit_seconds": round(admit_s, 2), "admit_seconds_in_frontier": round(in_store, 2),
            "admissions_per_s": round(admitted / in_store),
            "admissions_per_s_with_link_generation": round(admitted / admit_s),
            "admissions_per_cpu_s_with_link_generation": round(admitted / max(admit_cpu, 1e-9)),
            "links_checked_per_s": round(offered / in_store),
            "popped": popped, "pop_seconds": round(pop_s, 2), "pops_per_s": round(popped / pop_s),
            "pops_per_cpu_s": round(popped / max(pop_cpu, 1e-9)),
            "disk_bytes": disk, "disk_bytes_per_url": round(disk / max(admitted, 1), 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "rss_curve": curve,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--urls", type=int, default=20_000_000, help="URLs to admit (new ones)")
    parser.add_argument("--pops", type=int, default=1_000_000)
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--store", choices=["owd", "sqlite", "lmdb"], default="owd",
                        help="owd: the frontier store itself; sqlite, lmdb: other layouts, for the comparison")
    parser.add_argument("--sample-every", type=int, default=1_000_000)
    parser.add_argument("--dir", default=None, help="where the store is written (default: the temp folder)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    cls = {"owd": OwdFrontier, "sqlite": SqliteFrontier, "lmdb": LmdbFrontier}[args.store]
    result = run(cls, args)
    print()
    print(f"{'store':8} {'admitted':>11} {'adm/s':>9} {'links/s':>9} {'pops/s':>8} {'B/URL':>7} {'peak RSS MB':>12}")
    print(f"{result['store']:8} {result['admitted']:>11,} {result['admissions_per_s']:>9,} "
          f"{result['links_checked_per_s']:>9,} {result['pops_per_s']:>8,} {result['disk_bytes_per_url']:>7} "
          f"{result['peak_rss_mb']:>12}")
    print("(adm/s and links/s: time inside the frontier API; the synthetic link generator's time is left out)")
    target = result["peak_rss_mb"] < 1024 and result["admissions_per_s"] >= 50_000
    print(f"target (peak RSS < 1 GB, >= 50,000 admissions/s): {'MET' if target else 'NOT MET'}")
    out = Path(args.out) if args.out else Path(__file__).parent / "results" / f"frontier-{args.store}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
