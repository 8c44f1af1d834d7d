"""A campaign crawl spread over Ray: N crawler actors, one Scrapy process each.

Each actor supervises one ``owd crawl --worker wN --partition ...`` process (a
Twisted reactor starts once per process, so a fresh process per crawl is the
robust way to run Scrapy under Ray). Hosts are split between crawlers by
crawler.partition; links for hosts another crawler owns are forwarded through
inbox files (crawler.mailbox). The driver here decides when the crawl is over:
every crawler idle, every inbox read to its end, twice in a row, with fresh
status files. Then it drops a ``stop`` file for each crawler.

Faults: an actor is restarted by Ray (``max_restarts``) and its ``run`` retried
(``max_task_retries``); the new process resumes the worker's journal
(``--resume``: WARC files repaired, unfinished URLs requested again). A crawler
process whose actor died exits by itself (it watches its parent), so two
processes never write one worker's WARC files.

Sites: an actor for site ``s`` asks for a sliver of the custom resource
``site:s``, so Ray places it on a node started with that resource.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from owd.crawler.coordination import STATUS_FILE, STOP_FILE
from owd.crawler.mailbox import inbox_dir
from owd.crawler.partition import Partition, PartitionError, plan_partition
from owd.crawler.run import CrawlStateExists
from owd.core.config import CampaignConfig

__all__ = ["CrawlFailed", "DistributedCrawlSummary", "run_distributed_crawl", "site_resource", "crawl_is_over",
           "read_crawler_status"]

log = logging.getLogger(__name__)

SITE_RESOURCE_SHARE = 0.001  # an actor needs the site's resource, not a real amount of it
STATUS_MAX_AGE = 5.0  # seconds; an older status is a crawler that died or is stalled


class CrawlFailed(RuntimeError):
    """A crawler process failed for good (not killed: that is restarted and resumed)."""


def site_resource(site: str) -> str:
    return f"site:{site}"


@dataclass
class DistributedCrawlSummary:
    partition: Partition
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)  # worker -> actor facts + stats
    seconds: float = 0.0

    @property
    def pages(self) -> int:
        return sum(int(w.get("stats", {}).get("pages/fetched", 0)) for w in self.workers.values())

    @property
    def responses(self) -> int:
        return sum(int(w.get("stats", {}).get("downloader/response_count", 0)) for w in self.workers.values())

    @property
    def warc_files(self) -> list[Path]:
        return sorted(Path(p) for w in self.workers.values() for p in w.get("warc_files", []))


def _has_state(crawl_dir: Path, warc_dir: Path) -> bool:
    from owd.crawler.frontier import has_crawl_state

    return has_crawl_state(crawl_dir, warc_dir)


class CrawlerActorImpl:
    """One crawler: runs and, after a restart, resumes one worker's Scrapy process."""

    def __init__(self, config_path: str, campaign_dir: str, worker: str, partition_path: str, site: str,
                 log_level: str = "WARNING", revisit: bool = False) -> None:
        self.config_path, self.worker, self.site = config_path, worker, site
        self.revisit = revisit
        self.partition_path, self.log_level = partition_path, log_level
        self.crawl_dir = Path(campaign_dir) / "crawl" / worker
        self.warc_dir = Path(campaign_dir) / "warc" / worker
        self.crawl_dir.mkdir(parents=True, exist_ok=True)
        self.child: subprocess.Popen[bytes] | None = None
        import ray

        node_id = ray.get_runtime_context().get_node_id()
        resources: dict[str, float] = next((n.get("Resources", {}) for n in ray.nodes() if n.get("NodeID") == node_id), {})
        facts = {"worker": worker, "site": site, "pid": os.getpid(), "node_id": node_id,
                 "node_sites": sorted(k.split(":", 1)[1] for k in resources if k.startswith("site:")),
                 "started": time.time()}
        # Read by tests and `owd status`: which process and node run this crawler now.
        (self.crawl_dir / "actor.json").write_text(json.dumps(facts))

    def pid(self) -> int:
        return os.getpid()

    def run(self) -> dict[str, Any]:
        resume = _has_state(self.crawl_dir, self.warc_dir)
        previous = read_crawler_status(self.crawl_dir)
        if previous and not previous.get("closed"):
            _wait_gone(int(previous.get("pid", 0)))
        (self.crawl_dir / STATUS_FILE).unlink(missing_ok=True)  # a dead predecessor's status is stale
        cmd = [sys.executable, "-m", "owd.cli", "crawl", self.config_path, "--worker", self.worker,
               "--partition", self.partition_path, "--log-level", self.log_level]
        if self.revisit and resume:
            # (a restarted actor queues due URLs again: those fetched in this run are not due)
            cmd.append("--revisit")
        elif resume:
            cmd.append("--resume")
        env = {**os.environ, "OWD_PARENT_PID": str(os.getpid())}
        with open(self.crawl_dir / "crawler.log", "ab") as logf:
            logf.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(cmd)}\n".encode())
            logf.flush()
            self.child = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env)
            rc = self.child.wait()
        if rc != 0:
            tail = (self.crawl_dir / "crawler.log").read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"crawler {self.worker} exited with {rc}:\n" + "\n".join(tail))
        stats_path = self.crawl_dir / "stats.json"
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
        facts = json.loads((self.crawl_dir / "actor.json").read_text())
        return {**facts, "resumed": resume, "stats": stats,
                "warc_files": [str(p) for p in sorted(self.warc_dir.glob("*.warc.gz"))]}


def _wait_gone(pid: int, timeout: float = 15.0) -> None:
    """Wait for the crawler process of a dead actor to exit (it checks its parent every
    poll), so that the resume never repairs WARC files that are still being written."""
    if pid <= 0 or pid == os.getpid():
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:  # a pid reused by another user's process: not ours
            return
        try:  # an exited child nobody reaped yet (a zombie) is gone too
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except (OSError, IndexError):
            return
        time.sleep(0.1)
    log.warning("crawler process %d is still running after %.0f s; resuming anyway", pid, timeout)


def read_crawler_status(folder: Path) -> dict[str, Any] | None:
    """A crawler's last status.json (crawler.coordination), or None when absent or torn."""
    try:
        return json.loads((folder / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None


def crawl_is_over(crawl_root: Path, workers: list[str], finished: set[str], now: float | None = None) -> tuple | None:
    """A snapshot of the crawl if every running crawler is idle and has read every
    byte sent to it, else ``None``. The caller ends the crawl when two snapshots
    taken one poll apart are equal (nothing moved in between)."""
    now = time.time() if now is None else now
    snapshot = []
    for worker in workers:
        if worker in finished:
            continue
        status = read_crawler_status(crawl_root / worker)
        if status is None or not status.get("idle"):
            return None
        if not status.get("closed") and now - float(status.get("time", 0)) > STATUS_MAX_AGE:
            return None
        offsets = status.get("offsets", {})
        folder = inbox_dir(crawl_root, worker)
        sizes = {p.stem: p.stat().st_size for p in folder.glob("*.jsonl")} if folder.is_dir() else {}
        if any(offsets.get(sender, 0) != size for sender, size in sizes.items()):
            return None
        snapshot.append((worker, tuple(sorted(sizes.items())), status.get("pages", 0)))
    return tuple(snapshot)


def run_distributed_crawl(cfg: CampaignConfig, *, crawlers: int | None = None, address: str | None = None,
                          resume: bool = False, revisit: bool = False, log_level: str = "WARNING", poll: float = 0.5,
                          progress: Callable[[str], None] = lambda line: log.info(line)) -> DistributedCrawlSummary:
    """Crawl ``cfg`` with crawler actors on Ray (a local instance unless ``address``).
    ``revisit``: every crawler revisits its due URLs (``owd crawl --revisit``) and goes on."""
    resume = resume or revisit
    if cfg.source is None:
        raise ValueError("a distributed crawl needs a campaign loaded from a file (actors read it)")
    partition = plan_partition(cfg, crawlers)
    crawl_root = cfg.campaign_dir / "crawl"
    partition_path = crawl_root / "partition.json"
    if partition_path.exists():
        previous = Partition.load(partition_path)
        if not resume:
            raise CrawlStateExists(f"{cfg.campaign_dir} already holds a crawl of campaign {cfg.campaign!r}; "
                                   "use --resume to continue it, or remove that folder to start afresh")
        if previous != partition:
            raise PartitionError(f"{partition_path}: the campaign was started with crawlers "
                                 f"{list(previous.workers)} on sites {list(previous.worker_sites)}; "
                                 "resume it with the same plan")
    elif any(_has_state(crawl_root / w, cfg.campaign_dir / "warc" / w) for w in partition.workers):
        raise CrawlStateExists(f"{cfg.campaign_dir} already holds a single-process crawl; remove that folder "
                               "to crawl it distributed")
    partition.save(partition_path)
    for worker in partition.workers:
        (crawl_root / worker / STOP_FILE).unlink(missing_ok=True)

    from owd.ray_cluster import connect

    started = time.time()
    summary = DistributedCrawlSummary(partition)
    with connect(address):
        import ray

        actor_cls = ray.remote(CrawlerActorImpl)
        # The handles' methods (run.remote) are looked up at run time: ray types a handle as
        # ActorHandle | type[CrawlerActorImpl], which only works with @ray.method methods.
        actors: dict[str, Any] = {}
        runs: dict[str, ray.ObjectRef[dict[str, Any]]] = {}  # worker -> the result of its run()
        for worker in partition.workers:
            site = partition.site_of_worker(worker)
            options: dict[str, Any] = {"max_restarts": -1, "max_task_retries": -1, "max_concurrency": 2,
                                       "num_cpus": 0, "name": f"owd-crawler-{cfg.campaign}-{worker}"}
            if site:
                options["resources"] = {site_resource(site): SITE_RESOURCE_SHARE}
            actors[worker] = actor_cls.options(**options).remote(
                str(Path(cfg.source).resolve()), str(cfg.campaign_dir), worker, str(partition_path), site, log_level,
                revisit)
            runs[worker] = actors[worker].run.remote()
        progress(f"crawl: {len(actors)} crawler actor(s) started: "
                 + ", ".join(f"{w}@{partition.site_of_worker(w) or 'any'}" for w in partition.workers))
        ref_worker = {ref: w for w, ref in runs.items()}
        finished: set[str] = set()
        previous_snapshot = None
        stopped = False
        last_progress = 0.0
        while len(finished) < len(runs):
            pending = [r for r, w in ref_worker.items() if w not in finished]
            done, _ = ray.wait(pending, num_returns=len(pending), timeout=poll)
            for ref in done:
                worker = ref_worker[ref]
                try:
                    summary.workers[worker] = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # the crawler process exited with an error
                    cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
                    raise CrawlFailed(f"{cause} (log: {crawl_root / worker / 'crawler.log'})") from None
                finished.add(worker)
            if stopped:
                continue
            snapshot = crawl_is_over(crawl_root, list(partition.workers), finished)
            if snapshot is not None and snapshot == previous_snapshot:
                for worker in partition.workers:
                    (crawl_root / worker / STOP_FILE).touch()
                stopped = True
                progress("crawl: every crawler idle with its inbox read: stopping")
            previous_snapshot = snapshot
            if time.time() - last_progress > 10:
                last_progress = time.time()
                pages = {w: (read_crawler_status(crawl_root / w) or {}).get("pages", 0) for w in partition.workers}
                progress("crawl: pages " + ", ".join(f"{w} {n}" for w, n in pages.items()))
        for actor in actors.values():
            ray.kill(actor)
    summary.seconds = time.time() - started
    (crawl_root / "distributed-summary.json").write_text(json.dumps(
        {"seconds": summary.seconds, "workers": summary.workers, "partition": partition.to_json()},
        indent=1, default=str))
    return summary
