"""The host partition, the inbox files and the end-of-crawl rule (no Ray needed)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from owd.crawler.coordination import STATUS_FILE
from owd.crawler.mailbox import Inbox, Outbox
from owd.crawler.partition import Partition, PartitionError, SitePin, plan_partition, stable_hash
from owd.core.config import load_campaign
from owd.ray_crawl import crawl_is_over
from owd.testweb import TestSite

SITE = TestSite(port=8631)
URLS = [SITE.url(h.name, "/") for h in SITE.hosts]


def test_owner_is_stable_and_per_registered_domain() -> None:
    p = Partition(("w0", "w1", "w2"))
    owners = {u: p.owner(u) for u in URLS}
    assert owners == {u: Partition(("w0", "w1", "w2")).owner(u) for u in URLS}  # a new process agrees
    assert p.owner("http://a.example.si/x") == p.owner("http://b.example.si/y?q=1") == p.owner("https://example.si/")
    assert set(owners.values()) == {"w0", "w1", "w2"}
    # spread: no crawler gets nothing or nearly everything of the 39 test-web hosts
    assert max(Counter(owners.values()).values()) < len(URLS) * 0.6
    assert stable_hash("example.si") == stable_hash("example.si") != stable_hash("example.sk")


def test_pinned_hosts_go_to_their_site_only() -> None:
    p = Partition(("w0", "w1", "w2", "w3"), ("lux", "lux", "ita", ""),
                  (SitePin("lux", tlds=("lu", "be")), SitePin("ita", domains=("example.eu",))))
    for i in range(200):
        assert p.owner(f"http://h{i}.example{i}.lu/") in ("w0", "w1")
        assert p.owner(f"http://h{i}.example{i}.be/") in ("w0", "w1")
        assert p.owner(f"http://h{i}.example.eu/") == "w2"
    assert {p.owner(f"http://h{i}.example{i}.lu/") for i in range(200)} == {"w0", "w1"}
    unpinned = {p.owner(f"http://x{i}.other{i}.de/") for i in range(200)}
    assert unpinned == {"w0", "w1", "w2", "w3"}  # unpinned hosts may go anywhere


def test_bad_partitions_are_refused() -> None:
    with pytest.raises(PartitionError, match="no crawler"):
        Partition(("w0",), ("lux",), (SitePin("ita", tlds=("it",)),))
    with pytest.raises(PartitionError, match="unique"):
        Partition(("w0", "w0"))
    with pytest.raises(PartitionError):
        Partition(())


def test_plan_from_config_and_round_trip(tmp_path: Path) -> None:
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text("campaign: c\nseeds: {urls: ['http://a.example.si/']}\n"
                        "sites:\n  - {name: lux, tlds: [lu], crawlers: 2}\n  - {name: ita, domains: [example.it]}\n")
    plan = plan_partition(load_campaign(cfg_path))
    assert plan.workers == ("w0", "w1", "w2") and plan.worker_sites == ("lux", "lux", "ita")
    plan.save(tmp_path / "partition.json")
    assert Partition.load(tmp_path / "partition.json") == plan
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(PartitionError, match="bad.json"):
        Partition.load(tmp_path / "bad.json")
    cfg_path.write_text("campaign: c\nseeds: {urls: ['http://a.example.si/']}\nrun: {crawlers: 3}\n")
    assert plan_partition(load_campaign(cfg_path)).workers == ("w0", "w1", "w2")
    assert plan_partition(load_campaign(cfg_path), crawlers=2).workers == ("w0", "w1")


def test_inbox_reads_complete_lines_once_and_again_after_restart(tmp_path: Path) -> None:
    out_a, out_b = Outbox(tmp_path, "w1"), Outbox(tmp_path, "w2")
    out_a.add("w0", "http://x.si/1", 2, "http://y.si/", 0.5, "page")
    out_a.add("w0", "http://x.si/2", 3, None, 0.0, "image")
    assert len(out_a) == 2 and not (tmp_path / "w0" / "inbox").exists()  # batched until flushed
    assert out_a.flush() == 2
    out_b.add("w0", "http://z.si/", 1, "seed", 0.0, "page")
    out_b.flush()
    inbox = Inbox(tmp_path, "w0")
    got = list(inbox.poll())
    assert sorted(e["u"] for e in got) == ["http://x.si/1", "http://x.si/2", "http://z.si/"]
    assert {e["u"]: (e["d"], e["k"]) for e in got}["http://x.si/2"] == (3, "image")
    assert list(inbox.poll()) == []  # nothing new
    # a sender caught mid-write: the partial line waits until it is complete
    with open(tmp_path / "w0" / "inbox" / "w1.jsonl", "a") as fh:
        fh.write('{"u": "http://x.si/3", "d": 1')
    assert list(inbox.poll()) == []
    with open(tmp_path / "w0" / "inbox" / "w1.jsonl", "a") as fh:
        fh.write(', "k": "page"}\nnot json\n')
    assert [e["u"] for e in inbox.poll()] == ["http://x.si/3"] and inbox.bad_lines == 1
    assert inbox.offsets == {"w1": (tmp_path / "w0/inbox/w1.jsonl").stat().st_size,
                             "w2": (tmp_path / "w0/inbox/w2.jsonl").stat().st_size}
    # a restarted crawler reads everything again (its seen-set drops what it admitted)
    assert len(list(Inbox(tmp_path, "w0").poll())) == 4
    out_a.close()
    out_b.close()


def _status(root: Path, worker: str, idle: bool, offsets: dict[str, int], age: float = 0.0,
            closed: str | None = None) -> None:
    (root / worker).mkdir(parents=True, exist_ok=True)
    (root / worker / STATUS_FILE).write_text(json.dumps(
        {"worker": worker, "idle": idle, "offsets": offsets, "time": time.time() - age, "closed": closed,
         "pages": 1}))


def test_crawl_is_over_only_when_all_idle_and_every_inbox_read(tmp_path: Path) -> None:
    workers = ["w0", "w1"]
    assert crawl_is_over(tmp_path, workers, set()) is None  # no status yet
    out = Outbox(tmp_path, "w1")
    out.add("w0", "http://x.si/", 1, None, 0.0, "page")
    out.flush()
    size = (tmp_path / "w0/inbox/w1.jsonl").stat().st_size
    _status(tmp_path, "w0", True, {})
    _status(tmp_path, "w1", True, {})
    assert crawl_is_over(tmp_path, workers, set()) is None  # w0 has not read what w1 sent
    _status(tmp_path, "w0", True, {"w1": size})
    snap = crawl_is_over(tmp_path, workers, set())
    assert snap is not None and snap == crawl_is_over(tmp_path, workers, set())
    _status(tmp_path, "w1", False, {})
    assert crawl_is_over(tmp_path, workers, set()) is None  # w1 busy
    _status(tmp_path, "w1", True, {}, age=60)
    assert crawl_is_over(tmp_path, workers, set()) is None  # w1's status is stale: dead or stalled
    assert crawl_is_over(tmp_path, workers, {"w1"}) is not None  # ... unless its run has ended
    out.add("w0", "http://x.si/2", 1, None, 0.0, "page")
    out.flush()
    _status(tmp_path, "w1", True, {})
    assert crawl_is_over(tmp_path, workers, set()) is None  # new bytes for w0
    out.close()
