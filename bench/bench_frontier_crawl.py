"""End to end: `owd crawl` on a web that never ends, until N URLs are admitted; then a
SIGKILL and `--resume`.

The test web serves ``--hosts`` endless hosts (``owd testweb serve --endless-hosts``):
every page links to 40 pages never linked before, spread over all hosts, so the
frontier only grows. The crawler's RSS is sampled every ``--sample`` seconds with the
number of URLs admitted (read from its frontier store, opened read-only). Reported:

* the RSS curve, and bytes of RSS per admitted URL after warm-up (target < 100 B);
* per-host concurrency from the test web's request log (never above the campaign's);
* with ``--kill-at N``: the crawl is SIGKILLed once N URLs are admitted, then resumed:
  seconds from starting `owd crawl --resume` to its first request on the test web
  (target < 10 s); URLs fetched twice with status 200 against the resume's count of
  in-flight re-queued URLs; and "nothing admitted is lost": every page recorded done in
  the store has all of its 40 links in the seen-set.

    python bench/bench_frontier_crawl.py                              # 2M admitted, kill at 1M
    python bench/bench_frontier_crawl.py --admit 200000 --kill-at 100000   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from owd.crawler.frontier_store import DONE, FRONTIER_FILE, FrontierStore  # noqa: E402
from owd.testweb import TestSite, free_port  # noqa: E402
from owd.testweb.campaign import write_testweb_campaign  # noqa: E402
from owd.testweb.content import endless_host_name, endless_links  # noqa: E402


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def admitted(store: Path) -> int:
    """URLs admitted so far, from the crawler's store opened read-only (it is being written)."""
    if not store.exists():
        return 0
    try:
        frontier = FrontierStore(store, read_only=True, cache_mib=8)
    except Exception:  # (RocksDB says "not ready" as a plain Exception: the crawler is creating it)
        return 0
    try:
        return frontier.admitted()
    finally:
        frontier.close()


def crawl_until(config: Path, store: Path, target: int, sample: float, resume: bool, log: Path,
                stop: signal.Signals) -> tuple[list[dict[str, Any]], float | None]:
    """Run `owd crawl` until ``target`` URLs are admitted, then send ``stop``; the RSS
    curve and (with ``resume``) seconds to the first request on the test web."""
    lines_before = sum(1 for _ in open(log)) if log.exists() else 0
    cmd = [sys.executable, "-m", "owd", "crawl", str(config), "--log-level", "WARNING"] + (["--resume"] if resume else [])
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_request = None
    curve: list[dict[str, Any]] = []
    next_sample = started
    try:
        while proc.poll() is None:
            now = time.monotonic()
            if resume and first_request is None and log.exists() and sum(1 for _ in open(log)) > lines_before:
                first_request = now - started
            if now >= next_sample:
                n = admitted(store)
                curve.append({"seconds": round(now - started, 1), "admitted": n, "rss_mb": round(rss_mb(proc.pid), 1)})
                print(f"  {curve[-1]['seconds']:7.1f} s  {n:>10,} admitted  RSS {curve[-1]['rss_mb']:7.1f} MB", flush=True)
                next_sample += sample
                if n >= target:
                    break
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.send_signal(stop)
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return curve, first_request


def per_url_bytes(curve: list[dict[str, Any]], warmup: int) -> float | None:
    """Bytes of RSS per admitted URL once warmed up: from the first sample with at least
    ``warmup`` URLs admitted and RSS within 2% of the run's last (the store's fixed page
    cache full), to the end of the run."""
    if not curve:
        return None
    last = curve[-1]["rss_mb"]
    after = [p for p in curve if p["admitted"] >= warmup and p["rss_mb"] >= 0.98 * last]
    if len(after) < 2 or after[-1]["admitted"] == after[0]["admitted"]:
        return None
    return round((after[-1]["rss_mb"] - after[0]["rss_mb"]) * 2**20 / (after[-1]["admitted"] - after[0]["admitted"]), 1)


def request_log_checks(log: Path, per_host: int) -> dict[str, Any]:
    by_host: dict[str, list[tuple[float, float]]] = defaultdict(list)
    fetched: Counter[str] = Counter()
    with open(log, encoding="utf-8") as fh:
        for line in fh:
            e = json.loads(line)
            by_host[e["host"]].append((e["t"], e["t_end"]))
            if e["status"] == 200 and e["path"].startswith("/e/"):
                fetched[f"{e['host']}{e['path']}"] += 1
    peak = 0
    for spans in by_host.values():
        events = sorted([(t, 1) for t, _ in spans] + [(t, -1) for _, t in spans])
        level = 0
        for _, step in events:
            level += step
            peak = max(peak, level)
    return {"requests": sum(len(v) for v in by_host.values()), "hosts": len(by_host),
            "peak_in_flight_per_host": peak, "per_host_limit": per_host,
            "pages_fetched_twice": sum(1 for n in fetched.values() if n > 1)}


def nothing_lost(store: Path, port: int, hosts: int) -> dict[str, int]:
    """Every page the store records as done has all of its links in the seen-set."""
    frontier = FrontierStore(store, read_only=True, cache_mib=64)
    done = missing = 0
    try:
        for url, state in frontier.urls():
            if state != DONE or "/e/" not in url:
                continue
            n = int(url.rsplit("/", 1)[1][:-5])
            done += 1
            for h, m in endless_links(n, hosts):
                if not frontier.seen(f"http://{endless_host_name(h)}:{port}/e/{m}.html"):
                    missing += 1
    finally:
        frontier.close()
    return {"pages_done": done, "links_missing": missing}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--admit", type=int, default=2_000_000, help="stop once this many URLs are admitted")
    parser.add_argument("--kill-at", type=int, default=1_000_000, help="SIGKILL at this many, then resume (0: no)")
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--sample", type=float, default=10.0)
    parser.add_argument("--warmup", type=int, default=200_000, help="admitted URLs before the RSS slope is taken")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "frontier-crawl.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="owd-bench-frontier-crawl-"))
    port = free_port()
    site = TestSite(port=port, endless_hosts=args.hosts, real_pages=0, use_shared_data=False)
    hosts = [endless_host_name(i) for i in range(args.hosts)]
    config = write_testweb_campaign(
        site, work, name="endless", seed_urls=[site.url(h) for h in hosts], seeds={"sitemaps": []},
        scope={"domains": hosts, "max_depth": 1000, "max_pages_per_host": 10**9, "max_pages": 10**9},
        politeness={"delay": 0, "concurrency_per_host": args.per_host, "concurrency": args.concurrency,
                    "autothrottle": False, "slow_host_factor": 0},
        media={"kinds": []}, warc={"max_file_bytes": "1 GB"})
    log = work / "requests.jsonl"
    ready = work / "ready"
    server = subprocess.Popen([sys.executable, "-m", "owd", "testweb", "serve", "--port", str(port), "--endless-hosts",
                               str(args.hosts), "--log", str(log), "--ready-file", str(ready)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = work / "data" / "endless" / "crawl" / "w0" / FRONTIER_FILE
    result: dict[str, Any] = {"hosts": args.hosts, "work": str(work)}
    try:
        while not ready.exists():
            if server.poll() is not None:
                raise SystemExit("the test web did not start")
            time.sleep(0.1)
        first_target = args.kill_at or args.admit
        print(f"crawl until {first_target:,} admitted" + (" (then SIGKILL)" if args.kill_at else ""))
        curve, _ = crawl_until(config, store, first_target, args.sample, False, log,
                               signal.SIGKILL if args.kill_at else signal.SIGTERM)
        result["curve"] = curve
        if args.kill_at:
            before = admitted(store)
            print(f"SIGKILLed at {before:,} admitted; resume until {args.admit:,}")
            curve2, first = crawl_until(config, store, args.admit, args.sample, True, log, signal.SIGTERM)
            stats = json.loads((store.parent / "stats.json").read_text())
            result.update({"admitted_at_kill": before, "resume_curve": curve2,
                           "resume_first_request_s": round(first, 2) if first is not None else None,
                           "resume_requeued_in_flight": stats.get("resume/refetch_in_flight"),
                           "resume_pending": stats.get("resume/pending")})
            curve = curve + curve2
        result["admitted"] = admitted(store)
        result["rss_bytes_per_url_after_warmup"] = per_url_bytes(result["curve"], args.warmup)
        if "resume_curve" in result:  # the resumed process warms its cache up again
            result["resume_rss_bytes_per_url_after_warmup"] = per_url_bytes(result["resume_curve"], args.warmup)
        result["peak_rss_mb"] = max(p["rss_mb"] for p in curve)
        result.update(request_log_checks(log, args.per_host))
        result.update(nothing_lost(store, port, args.hosts))
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:  # a server busy closing thousands of connections
            server.kill()
            server.wait()
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("curve")}, indent=1))
    print(f"results: {out} (crawl data kept in {work}; remove it when done)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
