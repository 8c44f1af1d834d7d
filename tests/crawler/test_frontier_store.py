"""The disk frontier's store: seen-set, per-host priority queues, states, crash safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from owd.crawler.frontier import migrate_journal
from owd.crawler.frontier_store import FrontierEntry, FrontierStore
from tests.conftest import REPO


def entry(url: str, priority: float = 0.0, depth: int = 0, kind: str = "page") -> FrontierEntry:
    return FrontierEntry(url=url, host=url.split("/")[2], depth=depth, priority=priority, kind=kind,
                         via="https://a.eu/")


def test_seen_set_says_new_once(tmp_path: Path) -> None:
    store = FrontierStore(tmp_path / "frontier.rocks")
    assert store.see("https://a.eu/1") is True
    assert store.see("https://a.eu/1") is False
    assert store.seen("https://a.eu/1") and not store.seen("https://a.eu/2")
    store.close()


def test_queue_order_is_priority_then_fifo_per_host(tmp_path: Path) -> None:
    store = FrontierStore(tmp_path / "frontier.rocks")
    urls = [("https://a.eu/low-1", -2.0), ("https://a.eu/high", 3.0), ("https://a.eu/low-2", -2.0),
            ("https://a.eu/mid", 0.5), ("https://b.eu/other", 9.0)]
    for url, prio in urls:
        assert store.see(url)
        store.queue(entry(url, prio))
    popped = [e.url for e in store.pop("a.eu", 10)]
    assert popped == ["https://a.eu/high", "https://a.eu/mid", "https://a.eu/low-1", "https://a.eu/low-2"]
    assert store.pop("a.eu", 10) == []  # in flight now
    assert [e.url for e in store.pop("b.eu")] == ["https://b.eu/other"]
    store.close()


def test_admit_many_counts_only_new_urls(tmp_path: Path) -> None:
    store = FrontierStore(tmp_path / "frontier.rocks")
    assert store.admit_many([entry(f"https://a.eu/{i}") for i in range(10)]) == 10
    assert store.admit_many([entry(f"https://a.eu/{i}") for i in range(5, 15)]) == 5
    assert store.counts()["queued"] == 15
    store.close()


def test_states_and_fetch_facts_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "frontier.rocks"
    store = FrontierStore(path)
    for i in range(4):
        store.see(f"https://a.eu/{i}")
        store.queue(entry(f"https://a.eu/{i}"))
    got = store.pop("a.eu", 3)
    store.done(got[0].url, "parsed", status=200, etag='"x1"', modified="Sun, 06 Dec 2026 05:00:00 GMT")
    store.done(got[1].url, "failed:Timeout", failed=True)
    store.close()
    again = FrontierStore(path)
    assert again.counts() == {"queued": 1, "in_flight": 1, "done": 2, "refused": 0, "hosts": 1}
    assert again.requeue_in_flight() == 1
    assert [e.url for e in again.pop("a.eu", 10)] == [got[2].url, "https://a.eu/3"]
    assert not again.see(got[0].url)  # done URLs stay seen: never admitted twice
    facts = again.facts(got[0].url)
    assert facts is not None
    assert (facts["status"], facts["etag"], facts["modified"], facts["failures"], facts["outcome"]) == (
        200, '"x1"', "Sun, 06 Dec 2026 05:00:00 GMT", 0, "parsed")
    assert again.facts(got[1].url)["failures"] == 1 and again.facts("https://a.eu/none") is None
    again.close()


def test_sigkill_keeps_every_committed_admission(tmp_path: Path) -> None:
    # A child process admits in a loop; SIGKILL it mid-stream. Everything it reported
    # admitted must be in the store, which opens cleanly (RocksDB replays its log).
    path = tmp_path / "frontier.rocks"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from owd.crawler.frontier_store import FrontierEntry, FrontierStore
        store = FrontierStore({str(path)!r}, commit_every=3600.0)  # no commits: only what each call writes
        i = 0
        while True:
            # a new host every 100 URLs: its row must be in the store before any URL of it
            store.admit_many([FrontierEntry(url=f"https://h{{j // 100}}.eu/{{j}}", host=f"h{{j // 100}}.eu")
                              for j in range(i, i + 100)])
            i += 100
            print(i, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    committed = 0
    for line in proc.stdout:
        committed = int(line)
        if committed >= 20_000:
            break
    os.kill(proc.pid, 9)
    proc.wait()
    store = FrontierStore(path)
    assert store.admitted() >= committed
    assert store.seen(f"https://h{(committed - 1) // 100}.eu/{committed - 1}")
    exact = dict(store.queued_by_host(exact=True))  # every URL's host is known to the store
    assert sum(exact.values()) == store.admitted() and len(exact) >= committed // 100
    # the per-host counts lost with the kill are counted in again on open (the scope's caps)
    assert dict(store.queued_by_host()) == exact
    assert {h: pages for h, (pages, _) in store.host_counts().items()} == exact
    assert len(store.pop(f"h{(committed - 1) // 100}.eu", 500)) == 100
    store.close()


def test_old_json_lines_journal_is_migrated(tmp_path: Path) -> None:
    lines = [{"u": f"https://a.eu/{i}", "d": 1, "v": "seed", "s": 0.0, "k": "page"} for i in range(5)]
    (tmp_path / "frontier.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"u": "https://a.e')
    (tmp_path / "done.jsonl").write_text("".join(json.dumps({"u": f"https://a.eu/{i}", "o": "parsed"}) + "\n"
                                                 for i in range(2)))
    store = FrontierStore(tmp_path / "frontier.rocks")
    facts = migrate_journal(tmp_path, store)
    assert facts == {"resume/journal_migrated": 5, "resume/journal_torn_lines": 1}
    assert store.counts()["queued"] == 3 and store.counts()["done"] == 2
    assert not (tmp_path / "frontier.jsonl").exists() and (tmp_path / "frontier.jsonl.migrated").exists()
    store.close()


def test_owd_status_reads_each_crawlers_frontier(tmp_path: Path) -> None:
    from owd.campaign_run import frontier_status
    from owd.core.config import parse_campaign

    cfg = parse_campaign({"campaign": "c", "seeds": {"urls": ["https://a.eu/"]}, "storage_root": str(tmp_path)})
    store = FrontierStore(tmp_path / "c" / "crawl" / "w0" / "frontier.rocks")
    for i in range(3):
        store.see(f"https://a.eu/{i}")
        store.queue(entry(f"https://a.eu/{i}"))
    store.see("https://elsewhere.eu/")  # seen, refused by the scope
    store.pop("a.eu", 1)
    store.close()
    (tmp_path / "c" / "crawl" / "w0" / "frontier.json").write_text(json.dumps(
        {"time": __import__("time").time(), "ready_hosts": 1, "waiting_hosts": 2, "next_due_in_s": 1.5}))
    [line] = frontier_status(cfg)
    assert line == ("  frontier w0: 3 admitted (2 queued, 1 in flight, 0 done), 4 seen, 1 hosts; live: 1 hosts ready, "
                    "2 waiting (next in 1.5 s); next queued https://a.eu/1")


def _fetched(store: FrontierStore, url: str, when: float, status: int = 200, kind: str = "page") -> None:
    assert store.see(url)
    store.queue(entry(url, kind=kind))
    store.pop(url.split("/")[2], 100)
    store.done(url, "parsed", status=status, digest="sha1:X", etag='"e"', ref_date="2026-10-01T08:00:00Z", when=when)


def test_revisit_policy_rules_cap_and_order(tmp_path: Path) -> None:
    from owd.core.config import RevisitConfig, RevisitRule

    store = FrontierStore(tmp_path / "frontier.rocks")
    day = 86400.0
    now = 100 * day
    _fetched(store, "https://news.si/a", now - 2 * day)  # news rule: 1 day -> due
    _fetched(store, "https://news.si/b", now - 0.5 * day)  # not due under the 1-day rule
    _fetched(store, "https://www.a.eu/news/1", now - 3 * day)  # URL rule: 2 days -> due
    _fetched(store, "https://www.a.eu/about", now - 4 * day)  # default 30 days -> not due
    _fetched(store, "https://www.a.eu/old", now - 40 * day)  # default -> due, and the stalest
    _fetched(store, "https://www.a.eu/404", now - 40 * day, status=404)  # never content: not revisited
    _fetched(store, "https://www.a.eu/x.jpg", now - 40 * day, kind="image")  # kind not in policy
    store.commit()
    policy = RevisitConfig(interval=30 * day, rules=[RevisitRule(interval=day, hosts=["*.si"]),
                                                      RevisitRule(interval=2 * day, urls=["*/news/*"])])
    assert store.queue_revisits(policy, now=now) == 3
    assert dict(store.queued_by_host()) == dict(store.queued_by_host(exact=True)) == {"news.si": 1, "www.a.eu": 2}
    revisits = [e for host in ("news.si", "www.a.eu") for e in store.pop(host, 10)]
    assert sorted(e.url for e in revisits) == ["https://news.si/a", "https://www.a.eu/news/1", "https://www.a.eu/old"]
    assert all(e.previous is not None and e.previous.etag == '"e"' and e.previous.digest == "sha1:X"
               and e.previous.ref_date == "2026-10-01T08:00:00Z" for e in revisits)
    for e in revisits:  # fetched again, at their old times, so all are due again below
        store.done(e.url, "unchanged", when=store.facts(e.url)["fetched"])
    # a cap takes the longest-unvisited first
    assert store.queue_revisits(RevisitConfig(interval=0, max_per_run=2), now=now) == 2
    assert {e.url for host in ("news.si", "www.a.eu") for e in store.pop(host, 10)} == {
        "https://www.a.eu/old", "https://www.a.eu/about"}
    store.close()


def test_per_host_counts_survive_reopen_and_are_backfilled_in_old_stores(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "frontier.rocks"
    store = FrontierStore(path)
    for url in ["https://a.eu/calendar/2026/11.html", "https://a.eu/p1", "https://a.eu/p2",
                "https://b.eu/p", "https://b.eu/i.png"]:
        assert store.see(url)
        kind = "image" if url.endswith(".png") else "page"
        store.queue(entry(url, kind=kind), calendar="/calendar/" in url)
    assert store.host_counts() == {"a.eu": (3, 1), "b.eu": (1, 0)}  # before the commit too
    store.close()
    store = FrontierStore(path)
    assert store.host_counts() == {"a.eu": (3, 1), "b.eu": (1, 0)}
    assert dict(store.queued_by_host()) == dict(store.queued_by_host(exact=True)) == {"a.eu": 3, "b.eu": 2}
    store.close()


def test_per_host_queue_counts_follow_every_state_change(tmp_path: Path) -> None:
    path = tmp_path / "frontier.rocks"
    store = FrontierStore(path)
    urls = [f"https://{h}.eu/{i}" for h in "abc" for i in range(4)]
    assert store.admit_many(entry(u) for u in urls) == 12

    def consistent() -> dict[str, int]:
        counted, exact = dict(store.queued_by_host()), dict(store.queued_by_host(exact=True))
        assert counted == exact
        return counted

    assert consistent() == {"a.eu": 4, "b.eu": 4, "c.eu": 4}
    popped = store.pop("a.eu", 3) + store.pop("b.eu", 4)
    assert consistent() == {"a.eu": 1, "c.eu": 4}
    store.unpop(popped[:1])
    store.done(popped[1].url, "parsed", status=200)
    store.done("https://c.eu/0", "failed:AddressRefused", failed=True)  # refused before it was popped
    assert consistent() == {"a.eu": 2, "c.eu": 3}
    store.close()  # the rest "in flight" at a crash
    store = FrontierStore(path)
    assert store.requeue_in_flight() == 5
    assert consistent() == {"a.eu": 3, "b.eu": 4, "c.eu": 3}
    store.close()


def test_sqlite_store_of_earlier_owd_is_migrated(tmp_path: Path) -> None:
    # The SQLite layout owd wrote before the RocksDB store (its tables, as they were).
    import sqlite3

    from owd.crawler.frontier import has_crawl_state, migrate_sqlite
    from owd.crawler.frontier_store import url_key

    old = tmp_path / "frontier.sqlite"
    db = sqlite3.connect(old)
    db.executescript("""
        CREATE TABLE hosts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE seen (key INTEGER PRIMARY KEY, id INTEGER);
        CREATE TABLE urls (id INTEGER PRIMARY KEY, state INTEGER NOT NULL, host INTEGER NOT NULL,
            prio INTEGER NOT NULL, depth INTEGER, kind INTEGER, score REAL, url TEXT NOT NULL, via TEXT,
            fetched REAL, status INTEGER, digest TEXT, etag TEXT, modified TEXT,
            failures INTEGER NOT NULL DEFAULT 0, outcome TEXT);
        INSERT INTO hosts VALUES (1, 'a.eu');
    """)
    rows = [(1, 2, 1, 0, 0, 0, 0.0, "https://a.eu/", "seed", 1e9, 200, "sha1:D", '"e"', None, 0, "parsed"),
            (2, 0, 1, -500, 1, 0, 0.5, "https://a.eu/calendar/2026/11.html", "https://a.eu/", None, None, None,
             None, None, 0, None),
            (3, 1, 1, 0, 1, 0, 0.0, "https://a.eu/b", "https://a.eu/", None, None, None, None, None, 0, None)]
    db.executemany("INSERT INTO urls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO seen VALUES (?, ?)", [(url_key(r[7]), r[0]) for r in rows]
                   + [(url_key("https://refused.eu/"), None)])
    db.commit()
    db.close()
    assert has_crawl_state(tmp_path, tmp_path / "no-warc")
    store = FrontierStore(tmp_path / "frontier.rocks")
    facts = migrate_sqlite(tmp_path, store)
    assert facts == {"resume/sqlite_migrated": 3, "resume/sqlite_refused_migrated": 1}
    assert not old.exists() and (tmp_path / "frontier.sqlite.migrated").exists()
    assert store.counts() == {"queued": 2, "in_flight": 0, "done": 1, "refused": 1, "hosts": 1}
    assert store.host_counts() == {"a.eu": (3, 1)}
    assert store.seen("https://refused.eu/") and not store.see("https://a.eu/b")
    # queue order kept (priority, then admission); the done URL keeps its fetch facts
    assert [e.url for e in store.pop("a.eu", 5)] == ["https://a.eu/calendar/2026/11.html", "https://a.eu/b"]
    home = store.facts("https://a.eu/")
    assert home is not None and (home["status"], home["etag"], home["digest"], home["fetched"]) == (200, '"e"', "sha1:D", 1e9)
    assert store.stalest_fetch() == 1e9
    store.close()
