"""Crawl throughput: our crawler (with WARC writing) against plain Scrapy (no WARC), same test web.

Requirement: on a large local test web (>= 20,000 pages on 100 hosts, politeness
delays off, per-host concurrency 8) our crawler reaches at least 0.8 of plain
Scrapy's pages/s. Both crawlers run in one invocation, each in its own process,
each against a freshly started test web in yet another process (so the server
never shares the crawler's GIL and per-path hit counters start at zero).

* ours:  ``python -m owd crawl <campaign.yaml>`` (WARC + CDXJ written, robots per
  RFC 9309, scope, canonical-URL seen-set, address guard, ...).
* plain: a minimal ``scrapy.Spider`` defined below, run with ``CrawlerProcess`` in a
  subprocess: Scrapy's default middlewares (its own RobotsTxtMiddleware, default
  RFPDupeFilter, OffsiteMiddleware via ``allowed_domains``), ``response.follow`` on
  every ``a::attr(href)``, no WARC. Its settings are *derived from ours*
  (``owd.crawler.settings.scrapy_settings``) minus our components, so concurrency,
  delays, retries, timeouts, priority queue, user agent and cookies are identical.
  DNS: our ``GuardedResolver`` with the same static host table (cached either way).

Both are seeded with the bulk hosts' home pages only, scoped to the bulk hosts (``owdbulk<N>.net``), no
media, no sitemaps; each must fetch ``hosts * (pages + 1)`` HTML pages plus one
robots.txt per host. pages/s = HTML pages fetched / Scrapy's ``elapsed_time_seconds``.

    python bench/bench_crawl.py                       # 100 hosts x 200 pages, one pair
    python bench/bench_crawl.py --repeat 3            # three pairs, alternating order
    python bench/bench_crawl.py --quick               # 10 hosts x 50 pages smoke run
    python bench/bench_crawl.py --profile             # + one cProfile'd crawl of each, hotspot summary

Each run also reports the CPU seconds *other* processes used meanwhile: on a shared machine
pages/s swings widely, while the second ratio printed (pages per CPU second) barely moves.

Results: a table on stdout and JSON in ``bench/results/crawl.json`` (profiles in
``bench/results/crawl-*.prof``). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine_load import CLK_TCK, system_busy_s, wait_quiet
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
TARGET_RATIO = 0.8


# ---------------------------------------------------------------------------------------------
# Test web and campaign
# ---------------------------------------------------------------------------------------------
def make_site(port: int, hosts: int, pages: int):  # type: ignore[no-untyped-def]
    from owd.testweb import TestSite

    return TestSite(port=port, bulk_hosts=hosts, bulk_pages_per_host=pages)


def bulk_seeds(site) -> list[str]:  # type: ignore[no-untyped-def]
    return [site.url(h.name) for h in site.hosts if h.kind == "bulk"]


def bulk_domains(site) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.name for h in site.hosts if h.kind == "bulk"]


def write_campaign(folder: Path, port: int, args: argparse.Namespace) -> Path:
    """The campaign our crawler runs (the plain baseline derives its settings from it)."""
    from owd.testweb.campaign import write_testweb_campaign

    site = make_site(port, args.hosts, args.pages)
    return write_testweb_campaign(
        site, folder, name="bench",
        seeds={"urls": bulk_seeds(site), "files": [], "sitemaps": []},
        scope={"max_pages_per_host": 1000, "max_pages": 100000, "max_depth": 10, "domains": bulk_domains(site)},
        politeness={"delay": 0, "concurrency_per_host": args.per_host, "concurrency": args.concurrency,
                    "autothrottle": False, "obey_robots": True, "slow_host_factor": 0},  # delays off
        limits={"timeout": 30},
        media={"kinds": []},
        warc={"max_file_bytes": "1 GB"},
        network={"allow_networks": ["127.0.0.0/8"]},
    )


class Server:
    """The test web in its own process: ``owd testweb serve`` (default), or the same server
    with every bulk response rendered once up front (``--server cached``)."""

    def __init__(self, workdir: Path, args: argparse.Namespace) -> None:
        from owd.testweb import free_port

        self.port = free_port()
        self.ready = workdir / f"ready-{self.port}"
        self.log = workdir / f"testweb-{self.port}.log"
        self.stderr = open(workdir / f"testweb-{self.port}.err", "w")
        common = ["--port", str(self.port), "--bulk-hosts", str(args.hosts),
                  "--bulk-pages-per-host", str(args.pages), "--ready-file", str(self.ready)]
        if args.server_log:
            common += ["--log", str(self.log)]
        if args.server == "cached":
            cmd = [sys.executable, __file__, "_serve", *common]
        else:
            cmd = [sys.executable, "-m", "owd", "testweb", "serve", *common]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr, cwd=ROOT)
        deadline = time.time() + 300
        while not self.ready.exists():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"test web did not start: see {self.stderr.name}")
            time.sleep(0.05)
        self.rusage: Any = None

    def stop(self) -> dict[str, Any]:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, status, self.rusage = wait4(self.proc, 30)
        except TimeoutError:
            self.proc.kill()
            _, status, self.rusage = wait4(self.proc, 30)
        self.stderr.close()
        out = {"cpu_s": round(self.rusage.ru_utime + self.rusage.ru_stime, 2)}
        if self.log.exists():
            out["requests_logged"] = sum(1 for _ in open(self.log, encoding="utf-8"))
        return out


def wait4(proc: subprocess.Popen, timeout: float) -> tuple[int, int, Any]:
    """Reap ``proc`` with os.wait4 so we get *its* resource usage (CPU seconds, max RSS)."""
    deadline = time.time() + timeout
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return pid, proc.returncode, rusage
        if time.time() > deadline:
            raise TimeoutError(f"pid {proc.pid} still running after {timeout}s")
        time.sleep(0.05)






def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0




def serve_cached(argv: list[str]) -> int:
    """``_serve``: TestWebServer with each bulk-host response rendered once, before 'ready'.

    Same transport, same bytes (gzip included) as ``owd testweb serve``; only the per-request
    page generation (~0.25 ms of Python per page) is taken off the server's critical path, so
    on a small machine the benchmark measures the crawler, not the test web.
    """
    import copy

    import owd.testweb.server as server_mod
    from owd.testweb.render import respond

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bulk-hosts", type=int, required=True)
    ap.add_argument("--bulk-pages-per-host", type=int, required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--log")
    a = ap.parse_args(argv)
    site = make_site(a.port, a.bulk_hosts, a.bulk_pages_per_host)
    cache: dict[tuple[str, str, str, bool], Any] = {}

    def cached_respond(site_, host, path, query, accept_gzip, hits):  # type: ignore[no-untyped-def]
        if host.kind != "bulk":
            return respond(site_, host, path, query, accept_gzip, hits)
        key = (host.name, path, query, accept_gzip)
        resp = cache.get(key)
        if resp is None:
            resp = cache[key] = respond(site_, host, path, query, accept_gzip, hits)
        return copy.copy(resp)  # the server may set truncate_to (HEAD) on what it gets

    for host in site.hosts:
        if host.kind == "bulk":
            for path in ["/", "/robots.txt"] + site.page_paths(host):
                cached_respond(site, host, path, "", True, 1)
    server_mod.respond = cached_respond
    server_mod.serve_forever(site, Path(a.log) if a.log else None,
                             on_ready=lambda _server: Path(a.ready_file).write_text("ready\n"))
    return 0


# ---------------------------------------------------------------------------------------------
# The plain Scrapy baseline
# ---------------------------------------------------------------------------------------------
# Settings of ours the baseline keeps although they name our code: DNS (static host table, the
# address guard allowing loopback). Everything else that is ours is dropped (see plain_settings).
KEEP_OURS = {"TWISTED_DNS_RESOLVER", "OWD_HOSTS", "OWD_HOSTS_FILE", "OWD_STATIC_DNS_ONLY", "OWD_ALLOW_NETWORKS"}
COMPONENT_SETTINGS = {"DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS", "ITEM_PIPELINES",
                      "DUPEFILTER_CLASS", "DOWNLOAD_HANDLERS", "FEEDS"}


def plain_settings(campaign: Path) -> tuple[dict[str, Any], list[str]]:
    """Our crawler's Scrapy settings minus our components: (settings, dropped keys).

    Kept: every plain Scrapy setting (concurrency, delays, retries, timeouts, size limits,
    priority queue, cookies, user agent, ...) and our resolver (DNS is not what is measured).
    Dropped: component maps (middlewares, extensions, dupefilter), ``OWD_*`` settings and any
    setting whose value names a class in ``crawler.``.
    """
    from owd.crawler.settings import scrapy_settings
    from owd.core.config import load_campaign

    cfg = load_campaign(campaign)
    settings = scrapy_settings(cfg, Path(os.devnull))
    dropped = []
    for key in list(settings):
        value = settings[key]
        if key in KEEP_OURS:
            continue
        if key in COMPONENT_SETTINGS or key.startswith("OWD_") or \
                (isinstance(value, str) and value.startswith("crawler.")):
            dropped.append(key)
            del settings[key]
    settings["BOT_NAME"] = "plain"
    return settings, sorted(dropped)


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` (VALUE parsed as JSON when it parses, else a string)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def run_ours(argv: list[str]) -> int:
    """``_ours``: ``owd crawl`` with extra Scrapy settings (only used with ``--set``)."""
    from owd.crawler.run import run_crawl
    from owd.core.config import load_campaign

    ap = argparse.ArgumentParser()
    ap.add_argument("--campaign", required=True)
    ap.add_argument("--log-level", default="INFO")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args(argv)
    summary = run_crawl(load_campaign(a.campaign), log_level=a.log_level, extra_settings=parse_sets(a.set))
    print(f"crawl finished in {summary.seconds:.1f}s: {summary.pages} pages")
    return 0


def run_plain(argv: list[str]) -> int:
    """``_plain``: crawl with the plain spider in this process; write Scrapy's stats as JSON."""
    import logging

    import scrapy
    from scrapy.crawler import CrawlerProcess

    ap = argparse.ArgumentParser()
    ap.add_argument("--campaign", required=True)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--log-level", default="INFO")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args(argv)
    from owd.core.config import load_campaign

    cfg = load_campaign(a.campaign)

    class PlainSpider(scrapy.Spider):
        name = "plain"
        allowed_domains = list(cfg.scope.domains)

        async def start(self):  # type: ignore[no-untyped-def]
            for url in cfg.seeds.urls:
                yield scrapy.Request(url, callback=self.parse)

        def parse(self, response):  # type: ignore[no-untyped-def]
            self.crawler.stats.inc_value("pages/fetched")
            for href in response.css("a::attr(href)").getall():
                yield response.follow(href, callback=self.parse)

    settings, _ = plain_settings(Path(a.campaign))
    settings["LOG_LEVEL"] = a.log_level
    settings.update(parse_sets(a.set))
    process = CrawlerProcess(settings)
    if a.log_level == "NONE":
        logging.getLogger("scrapy").setLevel(logging.CRITICAL)
    crawler = process.create_crawler(PlainSpider)
    process.crawl(crawler)
    process.start()
    stats = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in crawler.stats.get_stats().items()}
    Path(a.stats).write_text(json.dumps(stats, indent=1, sort_keys=True, default=str))
    return 0


# ---------------------------------------------------------------------------------------------
# One measured crawl
# ---------------------------------------------------------------------------------------------
def crawl_once(which: str, workdir: Path, args: argparse.Namespace, profile: Path | None = None) -> dict[str, Any]:
    server = Server(workdir, args)
    folder = workdir / f"{which}-{server.port}"
    campaign = write_campaign(folder, server.port, args)
    prof = ["-m", "cProfile", "-o", str(profile)] if profile else []
    sets = [x for kv in args.set for x in ("--set", kv)]
    if which == "ours":
        stats_path = folder / "data" / "bench" / "crawl" / "w0" / "stats.json"
        if sets:
            cmd = [sys.executable, *prof, __file__, "_ours", "--campaign", str(campaign),
                   "--log-level", args.log_level, *sets]
        else:  # exactly what an operator runs
            cmd = [sys.executable, *prof, "-m", "owd", "crawl", str(campaign), "--log-level", args.log_level]
    else:
        stats_path = folder / "plain-stats.json"
        cmd = [sys.executable, *prof, __file__, "_plain", "--campaign", str(campaign),
               "--stats", str(stats_path), "--log-level", args.log_level, *sets]
    log_path = workdir / f"{which}-{server.port}.log"
    try:
        with open(log_path, "w") as log:
            t0 = time.perf_counter()
            busy0, srv0 = system_busy_s(), process_cpu_s(server.proc.pid)
            env = {**os.environ, **dict(kv.split("=", 1) for kv in args.env)}
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
            try:
                _, rc, rusage = wait4(proc, args.timeout)
            except TimeoutError:
                proc.kill()
                wait4(proc, 30)
                raise
            wall = time.perf_counter() - t0
            busy1, srv1 = system_busy_s(), process_cpu_s(server.proc.pid)
    finally:
        server_info = server.stop()
    server_info["cpu_during_crawl_s"] = round(srv1 - srv0, 2)
    if rc != 0:
        raise RuntimeError(f"{which} crawl exited with {rc}; log: {log_path}\n" + log_path.read_text()[-3000:])
    stats = json.loads(stats_path.read_text())
    warc_dir = folder / "data" / "bench" / "warc" / "w0"
    warc_bytes = sum(p.stat().st_size for p in warc_dir.glob("*.warc.gz")) if warc_dir.is_dir() else 0
    cdxj_bytes = sum(p.stat().st_size for p in warc_dir.glob("*.cdxj")) if warc_dir.is_dir() else 0
    crawl_dir = folder / "data" / "bench" / "crawl" / "w0"
    state_bytes = sum(p.stat().st_size for p in crawl_dir.iterdir() if p.is_file() and p.name != "stats.json") \
        if crawl_dir.is_dir() else 0
    elapsed = float(stats.get("elapsed_time_seconds") or wall)
    pages = int(stats.get("pages/fetched", 0))
    responses = int(stats.get("downloader/response_count", 0))
    cpu = rusage.ru_utime + rusage.ru_stime
    # CPU the rest of the machine used meanwhile: other benchmarks, builds... (ours: crawler + server)
    other_cpu = max(0.0, (busy1 - busy0) - cpu - (srv1 - srv0))
    row = {
        "crawler": which,
        "pages": pages,
        "responses": responses,
        "requests": int(stats.get("downloader/request_count", 0)),
        "status_200": int(stats.get("downloader/response_status_count/200", 0)),
        "robots_responses": responses - pages,
        "errors": {k: v for k, v in stats.items() if k.startswith(("errors/", "downloader/exception_type_count/",
                                                                    "retry/", "robots/disallowed"))},
        "elapsed_s": round(elapsed, 3),
        "process_wall_s": round(wall, 3),
        "pages_per_s": round(pages / elapsed, 1) if elapsed else 0.0,
        "cpu_s": round(cpu, 2),
        "cpu_user_s": round(rusage.ru_utime, 2),
        "cpu_sys_s": round(rusage.ru_stime, 2),
        "cpu_ms_per_page": round(1000 * cpu / pages, 3) if pages else None,
        "cpu_utilisation": round(cpu / wall, 3) if wall else None,
        "other_cpu_s": round(other_cpu, 1),
        "contended": other_cpu > 0.1 * wall,
        "max_rss_mb": round(rusage.ru_maxrss / 1024, 1),
        "warc_bytes": warc_bytes,
        "cdxj_bytes": cdxj_bytes,
        "crawl_state_bytes": state_bytes,
        "warc_records": int(stats.get("warc/records", 0)),
        "server": server_info,
        "log": str(log_path) if args.keep else None,
    }
    if profile:
        row["profile"] = str(profile)
    return row


# ---------------------------------------------------------------------------------------------
# Profile summary
# ---------------------------------------------------------------------------------------------
def _bucket(filename: str) -> str:
    f = filename.replace("\\", "/")
    if "/crawler/" in f and "site-packages" not in f:
        return "ours: crawler/"
    if "/owd/" in f and "site-packages" not in f:
        return "ours: owd/"
    if "bench_crawl" in f:
        return "bench"
    for name in ("scrapy", "twisted", "warcio", "fastwarc", "lxml", "parsel", "w3lib", "tldextract",
                 "protego", "cssselect", "urllib", "logging", "gzip", "zlib", "json", "ipaddress", "hashlib",
                 "asyncio", "re/", "idna", "email", "http"):
        if f"/{name}" in f or f"{name}/" in f:
            return name.rstrip("/")
    if f.startswith("~") or f == "<built-in>":
        return "builtins (C)"
    return "other"


def summarize_profile(path: Path, top: int = 25) -> dict[str, Any]:
    st = pstats.Stats(str(path))
    raw = st.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())  # tottime sum = profiled CPU
    buckets: dict[str, float] = {}
    rows = []
    for (filename, line, func), (cc, nc, tt, ct, callers) in raw.items():
        buckets[_bucket(filename)] = buckets.get(_bucket(filename), 0.0) + tt
        short = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        rows.append({"func": f"{short}:{line}({func})", "calls": nc, "tottime": round(tt, 3),
                     "cumtime": round(ct, 3), "ours": _bucket(filename).startswith("ours")})
    by_tt = sorted(rows, key=lambda r: -r["tottime"])[:top]
    ours_cum = sorted((r for r in rows if r["ours"]), key=lambda r: -r["cumtime"])[:top]
    return {"file": str(path), "total_tottime_s": round(total, 2),
            "by_package_s": {k: round(v, 2) for k, v in sorted(buckets.items(), key=lambda kv: -kv[1])},
            "top_tottime": by_tt, "ours_top_cumtime": ours_cum}


def print_profile(name: str, summary: dict[str, Any], top: int) -> None:
    print(f"\nprofile of {name}: {summary['file']} ({summary['total_tottime_s']} s of profiled CPU)")
    print("  by package (self time): " + ", ".join(f"{k} {v:.1f}s" for k, v in summary["by_package_s"].items()
                                                   if v >= 0.05))
    print(f"  top {top} by self time:")
    for r in summary["top_tottime"][:top]:
        print(f"    {r['tottime']:8.2f}s self {r['cumtime']:8.2f}s cum {r['calls']:>9} calls  {r['func']}")
    print(f"  our functions by cumulative time:")
    for r in summary["ours_top_cumtime"][:top]:
        print(f"    {r['cumtime']:8.2f}s cum {r['tottime']:8.2f}s self {r['calls']:>9} calls  {r['func']}")


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
def fmt_table(runs: list[dict[str, Any]]) -> str:
    head = f"{'pair':>4} {'crawler':<6} {'pages':>7} {'resp':>7} {'time s':>7} {'pages/s':>8} " \
           f"{'CPU s':>7} {'CPU ms/pg':>9} {'RSS MB':>7} {'WARC MB':>8} {'srv CPU s':>9} {'other CPU s':>11}"
    lines = [head, "-" * len(head)]
    for run in runs:
        for which in run["order"]:
            r = run[which]
            lines.append(f"{run['pair']:>4} {which:<6} {r['pages']:>7} {r['responses']:>7} {r['elapsed_s']:>7.1f} "
                         f"{r['pages_per_s']:>8.1f} {r['cpu_s']:>7.1f} {r['cpu_ms_per_page'] or 0:>9.3f} "
                         f"{r['max_rss_mb']:>7.0f} {r['warc_bytes'] / 1e6:>8.1f} {r['server']['cpu_s']:>9.1f} "
                         f"{r['other_cpu_s']:>11.1f}{'  CONTENDED' if r['contended'] else ''}")
        lines.append(f"{'':>4} ratio ours/plain = {run['ratio']:.3f} (pages/s), {run['cpu_efficiency_ratio']:.3f} "
                     f"(pages per CPU s){'' if run['same_pages'] else '   PAGE COUNTS DIFFER'}")
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_plain":
        return run_plain(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        return serve_cached(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "_ours":
        return run_ours(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=100, help="bulk hosts (default 100)")
    ap.add_argument("--pages", type=int, default=200, help="pages per bulk host (default 200)")
    ap.add_argument("--repeat", type=int, default=1, help="pairs to run, alternating which goes first")
    ap.add_argument("--quick", action="store_true", help="smoke run: 10 hosts x 50 pages")
    ap.add_argument("--concurrency", type=int, default=64, help="CONCURRENT_REQUESTS for both (default 64)")
    ap.add_argument("--per-host", type=int, default=8, help="CONCURRENT_REQUESTS_PER_DOMAIN (default 8)")
    ap.add_argument("--server", choices=["owd", "cached"], default="owd",
                    help="owd: `owd testweb serve` (default); cached: the same server with the bulk "
                         "pages rendered once up front (for machines where page generation competes)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra Scrapy setting for BOTH crawlers (try a tuning before coding it); repeatable")
    ap.add_argument("--server-log", action="store_true", help="let the test web write its request log")
    ap.add_argument("--log-level", default="INFO", help="crawler log level (both crawlers)")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="environment variable for BOTH crawler processes (e.g. MALLOC_TRIM_THRESHOLD_=67108864)")
    ap.add_argument("--wait-quiet", type=float, default=300, metavar="S",
                    help="before each crawl wait up to S seconds for other processes to go quiet (0: don't)")
    ap.add_argument("--only", choices=["ours", "plain"], help="run one crawler only (experiments; no ratio)")
    ap.add_argument("--profile", action="store_true",
                    help="after the timed pairs, run each crawler once more under cProfile and summarise")
    ap.add_argument("--profile-only", action="store_true", help="only the profiled runs (no timed pairs)")
    ap.add_argument("--top", type=int, default=20, help="rows in the profile summary")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds one crawl may take")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (WARCs, logs, campaigns)")
    ap.add_argument("--out", default=str(RESULTS / "crawl.json"), help="JSON results file")
    args = ap.parse_args()
    if args.quick:
        args.hosts, args.pages = 10, 50
    RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="owd-bench-crawl-"))
    expected_pages = args.hosts * (args.pages + 1)
    print(f"crawl benchmark: {args.hosts} hosts x {args.pages} pages (+ home) = {expected_pages} pages, "
          f"CONCURRENT_REQUESTS={args.concurrency}, per host {args.per_host}, delay 0, server={args.server}, "
          f"{os.cpu_count()} CPUs; work folder {workdir}", flush=True)
    result: dict[str, Any] = {
        "benchmark": "crawl", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "params": {"hosts": args.hosts, "pages_per_host": args.pages, "expected_pages": expected_pages,
                   "concurrency": args.concurrency, "per_host": args.per_host, "server": args.server,
                   "log_level": args.log_level, "extra_settings": parse_sets(args.set),
                   "crawler_env": dict(kv.split("=", 1) for kv in args.env)},
        "target_ratio": TARGET_RATIO, "runs": [],
    }
    try:
        import scrapy

        result["machine"]["scrapy"] = scrapy.__version__
        kept, dropped = plain_settings(write_campaign(workdir / "probe", 8631, args))
        result["baseline_settings"] = {"kept": {k: v for k, v in kept.items() if not k.startswith("OWD_HOSTS")},
                                       "dropped_from_ours": dropped}
        print(f"baseline = ours minus {', '.join(dropped)}; plus --set {parse_sets(args.set) or '-'}", flush=True)
        if not args.profile_only:
            for i in range(args.repeat):
                order = ["ours", "plain"] if i % 2 == 0 else ["plain", "ours"]
                if args.only:
                    order = [args.only]
                run: dict[str, Any] = {"pair": i + 1, "order": order}
                for which in order:
                    if args.wait_quiet > 0:
                        wait_quiet(args.wait_quiet)
                    print(f"pair {i + 1}: {which} ...", flush=True)
                    run[which] = crawl_once(which, workdir, args)
                    r = run[which]
                    print(f"  {r['pages']} pages, {r['responses']} responses in {r['elapsed_s']:.1f}s = "
                          f"{r['pages_per_s']:.1f} pages/s, CPU {r['cpu_s']:.1f}s, WARC {r['warc_bytes'] / 1e6:.1f} MB",
                          flush=True)
                if args.only:
                    result["runs"].append(run)
                    continue
                ours, plain = run["ours"], run["plain"]
                run["ratio"] = round(ours["pages_per_s"] / plain["pages_per_s"], 3) if plain["pages_per_s"] else 0.0
                run["cpu_ratio"] = round((ours["cpu_ms_per_page"] or 0) / (plain["cpu_ms_per_page"] or 1), 3)
                # pages per CPU-second, ours / plain: what the ratio would be with a core each to itself
                run["cpu_efficiency_ratio"] = round(1 / run["cpu_ratio"], 3) if run["cpu_ratio"] else 0.0
                run["same_pages"] = ours["pages"] == plain["pages"] == expected_pages
                result["runs"].append(run)
            if not args.only:
                ratios = [r["ratio"] for r in result["runs"]]
                result["median_ratio"] = round(statistics.median(ratios), 3)
                result["median_cpu_efficiency_ratio"] = round(
                    statistics.median(r["cpu_efficiency_ratio"] for r in result["runs"]), 3)
                result["target_met"] = (result["median_ratio"] >= TARGET_RATIO
                                        and all(r["same_pages"] for r in result["runs"]))
                print()
                print(fmt_table(result["runs"]))
                print(f"\nmedian ratio ours/plain: {result['median_ratio']:.3f} over {len(ratios)} pair(s); "
                      f"target >= {TARGET_RATIO}: {'MET' if result['target_met'] else 'NOT MET'}")
                contended = [f"{r['pair']}/{w}" for r in result["runs"] for w in r["order"] if r[w]["contended"]]
                result["contended_runs"] = contended
                print(f"median CPU efficiency ours/plain (pages per CPU second): "
                      f"{result['median_cpu_efficiency_ratio']:.3f}")
                if contended:
                    print(f"WARNING: other processes used > 10% of a core during {', '.join(contended)}: "
                          "those pages/s are not trustworthy (the CPU efficiency ratio is less affected); "
                          "rerun on a quiet machine")
        if args.profile or args.profile_only:
            result["profiles"] = {}
            for which in [args.only] if args.only else ["ours", "plain"]:
                prof = RESULTS / f"crawl-{which}.prof"
                print(f"\nprofiling {which} (cProfile: slower than the timed runs) ...", flush=True)
                row = crawl_once(which, workdir, args, profile=prof)
                summary = summarize_profile(prof, top=max(args.top, 25))
                summary["run"] = row
                result["profiles"][which] = summary
                print_profile(which, summary, args.top)
    finally:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
        print(f"\nresults: {args.out}")
        if args.keep:
            print(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
