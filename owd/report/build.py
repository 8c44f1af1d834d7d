"""The campaign report as one JSON-ready dict, built from what the stages left on disk.

Sources (each optional: a missing one gives an empty section, never an error):

* ``warc/<worker>/*.warc.gz`` and ``*.warc`` (the files `owd process` reads, see
  :func:`owd.process.warc_files`): responses per site, day, host, HTTP status,
  bytes, and the TDM verdict of every page (the crawler's metadata records);
* ``crawl/<worker>/stats.json``: Scrapy stats, for what never reaches a WARC
  (robots.txt refusals, scope refusals, TDM skips, errors by reason);
* ``crawl/partition.json``: which AIF+A site each worker ran on (no file, or a
  worker on no site: ``"local"``);
* ``docs/*.parquet``: documents per language, drop reasons, duplicates, TDM;
* ``pools/<pool>/summary.json``: documents per pool (else the docs' ``pools`` column);
* ``run/state.json``: seconds and items per stage of ``owd run`` -> items/s.

"Pages" are 2xx responses to page requests (not robots.txt, sitemaps, TDMRep
files or media) as stored in the WARC; "responses" are all response records.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from owd.core.config import CampaignConfig
from owd.core.files import replace_text
from owd.core.schema import drop_kind
from owd.process import open_warc_files, warc_files
from owd.report.warcs import scan_warc

__all__ = ["FORMAT", "LOCAL_SITE", "build_report", "write_report"]

log = logging.getLogger(__name__)

FORMAT = "owd-campaign-report/1"
LOCAL_SITE = "local"  # the site of a crawler not placed on an AIF+A site (a one-machine crawl)
_DOC_COLUMNS = ["id", "lang", "drop_reason", "dup_cluster_id", "dup_cluster_size", "tdm_reservation", "tdm_source",
                "pools", "text"]


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _sorted_counts(counter: Counter[Any]) -> dict[str, int]:
    """Largest first, then by name: the order tables and plots show."""
    return {str(k): int(v) for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))}


def _read_json(path: Path) -> Any:
    """A JSON file, or None when absent or unreadable (counted by the caller as a missing source)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        if path.exists():
            log.warning("report: ignoring unreadable %s: %s", path, exc)
        return None


# --------------------------------------------------------------------------- crawl


def _worker_sites(root: Path, workers: list[str]) -> dict[str, str]:
    from owd.crawler.partition import Partition, PartitionError

    sites = {w: LOCAL_SITE for w in workers}
    path = root / "crawl" / "partition.json"
    if path.exists():
        try:
            partition = Partition.load(path)
        except PartitionError as exc:
            log.warning("report: %s; every worker counted as site %r", exc, LOCAL_SITE)
            return sites
        for w in set(workers) | set(partition.workers):
            sites[w] = (partition.site_of_worker(w) if w in partition.workers else "") or LOCAL_SITE
    return sites


def _numbers(stats: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric values of a stats mapping (booleans and texts left out), keys from ``prefix``."""
    return {k: v for k, v in stats.items()
            if k.startswith(prefix) and isinstance(v, (int, float)) and not isinstance(v, bool)}


def _merge_stats(root: Path) -> tuple[dict[str, dict[str, Any]], Counter[str]]:
    """Per-worker Scrapy stats and their sum (numbers only)."""
    per_worker: dict[str, dict[str, Any]] = {}
    total: Counter[str] = Counter()
    for path in sorted((root / "crawl").glob("*/stats.json")):
        stats = _read_json(path)
        if not isinstance(stats, dict):
            continue
        per_worker[path.parent.name] = stats
        total.update(_numbers(stats))
    return per_worker, total


def _revisits(root: Path) -> dict[str, Any]:
    """Revisit outcomes summed over every crawl run of every crawler (crawl/*/runs.jsonl:
    stats.json holds only a crawler's last run)."""
    total: Counter[str] = Counter()
    runs = 0
    for path in sorted((root / "crawl").glob("*/runs.jsonl")):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                run = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash
            stats = run.get("stats") if isinstance(run, dict) else None
            if not isinstance(stats, dict) or run.get("mode") != "revisit":
                continue
            runs += 1
            total.update({k: int(v) for k, v in _numbers(stats, "revisit/").items()})
    unchanged = _by_prefix(total, "revisit/unchanged/")
    failed = _by_prefix(total, "revisit/failed/")
    return {"runs": runs, "queued": total["revisit/queued"], "requested": total["revisit/requested"],
            "unchanged": sum(unchanged.values()), "unchanged_by_profile": unchanged,
            "changed": total["revisit/changed"], "gone": total["revisit/gone"],
            "failed": sum(failed.values()), "failed_by_reason": failed}


def _by_prefix(stats: Counter[str], prefix: str) -> dict[str, int]:
    return _sorted_counts(Counter({k[len(prefix):]: int(v) for k, v in stats.items() if k.startswith(prefix)}))


def _crawl_section(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(crawl section, sources) from the WARC files, crawl stats and the partition."""
    warcs = warc_files(root / "warc")
    stats_by_worker, stats = _merge_stats(root)
    workers = sorted({p.parent.name for p in warcs} | set(stats_by_worker))
    sites = _worker_sites(root, workers)

    blank = {"responses": 0, "pages": 0, "bytes": 0}
    by_worker: dict[str, dict[str, Any]] = {w: {"site": sites[w], **blank, "warc_files": 0} for w in workers}
    by_site: dict[str, dict[str, Any]] = {}
    by_day: dict[str, dict[str, int]] = {}
    by_site_day: dict[tuple[str, str], dict[str, int]] = {}
    hosts: dict[str, dict[str, int]] = {}
    status: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    tdm_sources: Counter[str] = Counter()
    pages_reserved = broken = 0
    # Counted file by file, so a campaign's fetches are never all in memory at once.
    for path in warcs:
        worker, site = path.parent.name, sites.get(path.parent.name, LOCAL_SITE)
        by_worker[worker]["warc_files"] += 1
        scan = scan_warc(path)
        broken += scan.broken
        for f in scan.fetches:
            page = f.kind == "page" and 200 <= f.status < 300
            by_site.setdefault(site, {"workers": sorted(w for w in workers if sites[w] == site), **blank})
            for row in (by_worker[worker], by_site[site], by_day.setdefault(f.day, dict(blank)),
                        by_site_day.setdefault((site, f.day), dict(blank)), hosts.setdefault(f.host, dict(blank))):
                row["responses"] += 1
                row["pages"] += page
                row["bytes"] += f.bytes
            status[f.status] += 1
            kinds[f.kind] += 1
            if page and f.tdm_reservation:
                pages_reserved += 1
                tdm_sources[f.tdm_source or "?"] += 1

    pages = sum(r["pages"] for r in by_site.values())
    # With politeness.tdm "skip" reserved pages are never fetched; they still count as reserved.
    skipped = int(sum(v for k, v in stats.items() if k.startswith("tdm/skipped/")))
    robots = _by_prefix(stats, "robots/disallowed/")
    crawl = {
        "responses": sum(r["responses"] for r in by_site.values()),
        "pages": pages,
        "bytes": sum(r["bytes"] for r in by_site.values()),
        "hosts_total": len(hosts),
        "by_site": dict(sorted(by_site.items())),
        "by_worker": by_worker,
        "by_day": dict(sorted(by_day.items())),
        "by_site_day": [{"site": s, "day": d, **row} for (s, d), row in sorted(by_site_day.items())],
        "hosts": dict(sorted(hosts.items(), key=lambda kv: (-kv[1]["responses"], kv[0]))),
        "status": {str(k): v for k, v in sorted(status.items())},
        "by_kind": _sorted_counts(kinds),
        "robots_refusals": {"total": int(stats.get("robots/disallowed", sum(robots.values()))),
                            "by_reason": robots},
        "tdm": {
            "pages_reserved": pages_reserved,
            "skipped_unfetched": skipped,
            "reservation_rate": _rate(pages_reserved + skipped, pages + skipped),
            "by_source": _sorted_counts(tdm_sources),
        },
        "scope_refusals": _by_prefix(stats, "scope/refused/"),
        "errors": _by_prefix(stats, "errors/"),
        "errors_total": int(sum(v for k, v in stats.items() if k.startswith("errors/"))),
        "warc_broken_records": broken,
        "revisits": _revisits(root),
    }
    # Files still being written (or left by a crash, until `owd crawl --resume` repairs them) are not read.
    sources = {"warc_files": len(warcs), "warc_files_open": len(open_warc_files(root / "warc")),
               "crawl_stats": sorted(stats_by_worker),
               "partition": (root / "crawl" / "partition.json").exists()}
    return crawl, sources


# --------------------------------------------------------------------------- documents


def _docs_section(root: Path) -> tuple[dict[str, Any], Counter[str], dict[str, Any]]:
    """(documents section, documents per pool from the ``pools`` column, sources)."""
    total = kept = reserved = with_signal = clustered = clusters = text_bytes = 0
    langs_kept: Counter[str] = Counter()
    langs_all: Counter[str] = Counter()
    drops: Counter[str] = Counter()
    drop_details: Counter[str] = Counter()
    pools: Counter[str] = Counter()
    shards = sorted((root / "docs").glob("*.parquet"))
    broken = 0
    for shard in shards:
        try:
            # Only the columns counted here: text is the heavy one, needed for bytes.
            table = pq.read_table(shard, columns=_DOC_COLUMNS)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("report: skipping unreadable %s: %s", shard, exc)
            broken += 1
            continue
        cols = table.to_pydict()
        tb = pc.binary_length(pc.cast(table.column("text"), "binary")).to_pylist() if table.num_rows else []
        for i in range(table.num_rows):
            lang, drop = cols["lang"][i] or "?", cols["drop_reason"][i]
            total += 1
            langs_all[lang] += 1
            if drop:
                drops[drop_kind(drop)] += 1
                drop_details[drop] += 1
            else:
                kept += 1
                langs_kept[lang] += 1
                text_bytes += tb[i] or 0
            if (cols["dup_cluster_size"][i] or 1) > 1:
                clustered += 1
                clusters += cols["dup_cluster_id"][i] == cols["id"][i]  # a cluster is named after one member
            if cols["tdm_reservation"][i] is not None:
                with_signal += 1
                reserved += bool(cols["tdm_reservation"][i])
            for pool in cols["pools"][i] or ():
                pools[pool] += 1
    duplicates = drops.get("duplicate", 0)
    docs = {
        "total": total,
        "kept": kept,
        "dropped": total - kept,
        "kept_text_bytes": text_bytes,
        "languages": _sorted_counts(langs_kept),
        "languages_all": _sorted_counts(langs_all),
        "drop_reasons": _sorted_counts(drops),
        "drop_reasons_detail": _sorted_counts(drop_details),
        "duplicates": {
            "dropped": duplicates,
            "in_clusters": clustered,
            "clusters": clusters,
            # Of the documents that passed the quality filters, the share dropped as a copy.
            "rate": _rate(duplicates, kept + duplicates),
        },
        "tdm": {"with_signal": with_signal, "reserved": reserved, "reservation_rate": _rate(reserved, total)},
    }
    docs["counters"] = _stage_counters(root / "docs")
    return docs, pools, {"doc_shards": len(shards), "doc_shards_unreadable": broken}


def _stage_counters(docs_dir: Path) -> dict[str, int]:
    """Every per-shard stage counter (docs/<shard>.stats.json: extraction, language ID,
    signatures, ...), summed over the shards."""
    total: Counter[str] = Counter()
    for path in sorted(docs_dir.glob("*.stats.json")):
        stats = _read_json(path)
        if isinstance(stats, dict):
            total.update({k: int(v) for k, v in _numbers(stats).items()})
    return dict(sorted(total.items()))


# --------------------------------------------------------------------------- pools, run


def _pool_documents(summary: Any) -> int | None:
    """The document count of a pool's summary.json, wherever this version keeps it."""
    if not isinstance(summary, dict):
        return None
    for candidate in (summary.get("documents"), (summary.get("general") or {}).get("documents")):
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            return candidate
    return None


def _pools_section(root: Path, from_docs: Counter[str]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for path in sorted((root / "pools").glob("*/summary.json")):
        n = _pool_documents(_read_json(path))
        if n is None:  # the manifest has the same number, if the summary changed shape
            n = _pool_documents(_read_json(path.with_name("manifest.json")))
        if n is not None:
            counts[path.parent.name] = n
    if counts:
        return {"source": "summary.json", "documents": _sorted_counts(Counter(counts))}
    return {"source": "docs" if from_docs else "", "documents": _sorted_counts(from_docs)}


def _throughput_section(root: Path) -> dict[str, Any]:
    state = _read_json(root / "run" / "state.json")
    steps = state.get("steps") if isinstance(state, dict) else None
    out: dict[str, Any] = {}
    for name, step in (steps or {}).items():
        if not isinstance(step, dict):
            continue
        seconds = step.get("seconds")
        if not isinstance(seconds, (int, float)) and isinstance(step.get("started"), (int, float)) \
                and isinstance(step.get("finished"), (int, float)):
            seconds = step["finished"] - step["started"]
        items = step.get("items")
        seconds = float(seconds) if isinstance(seconds, (int, float)) else None
        items = int(items) if isinstance(items, (int, float)) and not isinstance(items, bool) else None
        out[str(name)] = {
            "status": str(step.get("status", "")),
            "seconds": round(seconds, 3) if seconds is not None else None,
            "items": items,
            "unit": str(step.get("unit", "")),
            "items_per_second": round(items / seconds, 3) if items is not None and seconds else None,
        }
    return out


# --------------------------------------------------------------------------- report


def build_report(cfg: CampaignConfig) -> dict[str, Any]:
    """Every KPI of the campaign report, as plain JSON types."""
    root = cfg.campaign_dir
    crawl, crawl_sources = _crawl_section(root)
    docs, pools_from_docs, doc_sources = _docs_section(root)
    pools = _pools_section(root, pools_from_docs)
    throughput = _throughput_section(root)
    headline = {
        "pages_total": crawl["pages"],
        "responses_total": crawl["responses"],
        "bytes_total": crawl["bytes"],
        "hosts_total": crawl["hosts_total"],
        "sites_total": len(crawl["by_site"]),
        "workers_total": len(crawl["by_worker"]),
        "days_total": len(crawl["by_day"]),
        "robots_refusals": crawl["robots_refusals"]["total"],
        "errors_total": crawl["errors_total"],
        "tdm_reservation_rate": crawl["tdm"]["reservation_rate"],
        "documents_total": docs["total"],
        "documents_kept": docs["kept"],
        "languages_total": len(docs["languages"]),
        "duplicate_rate": docs["duplicates"]["rate"],
        "pools_total": len(pools["documents"]),
    }
    return {
        "format": FORMAT,
        "campaign": cfg.campaign,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "headline": headline,
        "crawl": crawl,
        "documents": docs,
        "pools": pools,
        "throughput": throughput,
        "sources": {**crawl_sources, **doc_sources, "pool_summaries": pools["source"] == "summary.json",
                    "run_state": (root / "run" / "state.json").exists()},
    }


def write_report(cfg: CampaignConfig) -> tuple[Path, Path]:
    """Write ``<campaign>/report/report.json`` and the HTML page rendered from it."""
    from owd.report.html import render_html

    report = build_report(cfg)
    folder = cfg.campaign_dir / "report"
    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / "report.json", folder / "report.html"
    for path, text in ((json_path, json.dumps(report, indent=1, ensure_ascii=False) + "\n"),
                       (html_path, render_html(report))):
        replace_text(path, text)
    return json_path, html_path
