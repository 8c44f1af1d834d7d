"""``owd run``: a whole campaign on Ray, crawl -> process -> embed -> index -> pools -> report.

One Ray connection for all steps (a local instance, or ``--address`` to join a
cluster). Each step's state goes to ``<campaign>/run/state.json`` as it starts
and ends; running the command again resumes the campaign: finished steps are
skipped, and an interrupted step is run again in its own resumable way (the
crawl with ``--resume`` semantics, processing skips finished shards, indexing is
incremental, pool building is idempotent). ``owd status`` reads the same file, and
for a step it does not list (run with its own command), that step's outputs.

Where each step runs: the crawl on crawler actors (owd.ray_crawl); processing
and indexing are handed to the Ray executor (owd/ray_executor.py), the same pipeline
``owd process`` runs on local processes: the per-shard steps and the dedup shuffle as
Ray tasks, and with ``--backend opensearch`` one task per docs shard indexing it (this
process keeps the incremental state). The embedded index is filled by this process (a single
writer), and so are the pools (pool building is bound by reading Parquet, not by CPU).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from owd.core.config import CampaignConfig
from owd.core.files import replace_text
from owd.core.step import Executor

__all__ = ["STEPS", "RunOptions", "run_campaign", "load_state", "campaign_status", "step_on_disk"]

STEPS = ("crawl", "ingest", "process", "embed", "index", "pools", "report")


@dataclass
class RunOptions:
    address: str | None = None  # Ray cluster to join; None: a local instance
    crawlers: int | None = None  # crawler actors (default: the campaign's run.crawlers, or its sites)
    backend: str = "embedded"
    url: str | None = None  # OpenSearch URL with backend="opensearch"
    index_name: str | None = None  # OpenSearch index (alias) name; default: the campaign's name
    restart_from: str | None = None  # run this step and every later one again


def _state_path(cfg: CampaignConfig) -> Path:
    return cfg.campaign_dir / "run" / "state.json"


def load_state(cfg: CampaignConfig) -> dict[str, Any]:
    path = _state_path(cfg)
    if not path.exists():
        return {"campaign": cfg.campaign, "steps": {}}
    try:
        state = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path}: unreadable campaign state ({exc}); remove it to start the steps afresh") from None
    state.setdefault("steps", {})
    return state


def _save_state(cfg: CampaignConfig, state: dict[str, Any]) -> None:
    replace_text(_state_path(cfg), json.dumps(state, indent=1, sort_keys=True) + "\n")


def _crawl(cfg: CampaignConfig, opts: RunOptions, executor: Executor, resume: bool,
           say: Callable[[str], None]) -> tuple[int, str]:
    from owd.ray_crawl import run_distributed_crawl

    server = None
    if cfg.testweb is not None:  # a campaign on the local test web (configs/demo.yaml) brings it along
        from owd.testweb import TestSite, TestWebServer

        t = cfg.testweb
        site = TestSite(seed=t.seed, port=t.port, pages_per_host=t.pages_per_host, real_pages=t.real_pages)
        server = TestWebServer(site, cfg.campaign_dir / "testweb" / "requests.jsonl").start()
        say(f"test web: {len(site.hosts)} hosts on 127.0.1.x:{site.port}")
    try:
        # a crawl step that started before (and was interrupted) continues its journal
        summary = run_distributed_crawl(cfg, crawlers=opts.crawlers, address=opts.address, resume=resume,
                                        progress=say)
    finally:
        if server is not None:
            server.stop()
    return summary.pages, "pages"


def _ingest(cfg: CampaignConfig, opts: RunOptions, executor: Executor, resume: bool,
            say: Callable[[str], None]) -> tuple[int, str]:
    if not cfg.ingest:
        say("ingest: skipped (no ingest sources: the crawl is the only input)")
        return 0, "files"
    from owd.ingest import ingest_campaign

    counts = ingest_campaign(cfg, progress=say)
    failed = sum(v for k, v in counts.items() if k.startswith(("ingest/failed", "ingest/cdxj/failed")))
    if failed:
        raise RuntimeError(f"ingest: {failed} file(s) or record group(s) failed (see above); run again to retry them")
    from owd.process import ingest_inputs

    files = len(ingest_inputs(cfg))
    say(f"ingest: {files} file(s) from {len(cfg.ingest)} source(s) ready for processing")
    return files, "files"


def _process(cfg: CampaignConfig, opts: RunOptions, executor: Executor, resume: bool,
             say: Callable[[str], None]) -> tuple[int, str]:
    from owd.process import process_campaign

    summary = process_campaign(cfg, progress=say, executor=executor)
    say(f"process: {summary.documents} documents, {summary.kept} kept, {summary.duplicates} duplicates")
    return summary.documents, "documents"


def _embed(cfg: CampaignConfig, opts: RunOptions, executor: Executor, resume: bool,
           say: Callable[[str], None]) -> tuple[int, str]:
    if not cfg.embeddings.enabled:
        say("embed: skipped (embeddings.enabled is false: search by words only)")
        return 0, "documents"
    from owd.campaign_steps import EmbedDocuments

    # one task per docs shard, each worker holding one copy of the model
    counts = EmbedDocuments(progress=say).run(cfg, [], executor)
    say(f"embed: {counts['embed/documents']} documents have vectors ({counts['embed/embedded']} embedded now)")
    return counts["embed/documents"], "documents"


def _index(cfg: CampaignConfig, opts: RunOptions, executor: Executor, resume: bool,
           say: Callable[[str], None]) -> tuple[int, str]:
    from owd.campaign_steps import IndexDocuments

    # OpenSearch takes writes from many clients: one task per shard. The embedded index
    # has a single writer, so it is filled from here.
    step = IndexDocuments(opts.backend, opts.url, opts.index_name, progress=say)
    step.run(cfg, [], executor)
    if step.summary.shards_failed:
        raise RuntimeError(f"index: {step.summary.shards_failed} shard(s) failed (see the log); "
                           "run again to retry them")
    say(f"index: {step.summary.total} documents searchable ({opts.backend})")
    return step.summary.documents_indexed, "documents"


def _pools(cfg: CampaignConfig, opts: RunOptions, executor: Executor, resume: bool,
           say: Callable[[str], None]) -> tuple[int, str]:
    from owd.campaign_steps import BuildPools

    step = BuildPools(progress=say)
    step.run(cfg, [], executor)
    say("pools: " + (", ".join(f"{n} {c} docs" for n, c in step.summary.documents.items()) or "none built"))
    return step.summary.input_documents, "documents"


def _report(cfg: CampaignConfig, opts: RunOptions, executor: Executor, resume: bool,
            say: Callable[[str], None]) -> tuple[int, str]:
    from owd.report import write_report

    json_path, html_path = write_report(cfg)
    say(f"report: {html_path} (and {json_path.name})")
    return 1, "reports"


_RUNNERS: dict[str, Callable[[CampaignConfig, RunOptions, Executor, bool, Callable[[str], None]], tuple[int, str]]] = {
    "crawl": _crawl, "ingest": _ingest, "process": _process, "embed": _embed, "index": _index, "pools": _pools, "report": _report}


def _prefixed(progress: Callable[[str], None], step: str) -> Callable[[str], None]:
    return lambda line: progress(f"[{step}] {line}")


def run_campaign(cfg: CampaignConfig, opts: RunOptions | None = None,
                 progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) every step of the campaign; return the final state."""
    opts = opts or RunOptions()
    if opts.restart_from is not None and opts.restart_from not in STEPS:
        raise ValueError(f"--from: expected one of {', '.join(STEPS)}, got {opts.restart_from!r}")
    state = load_state(cfg)
    steps = state["steps"]
    if opts.restart_from is not None:
        for step in STEPS[STEPS.index(opts.restart_from):]:
            if steps.get(step, {}).get("status") == "done":
                steps[step]["status"] = "redo"
    from owd.ray_executor import RayExecutor

    with RayExecutor(opts.address) as executor:
        for step in STEPS:
            previous = steps.get(step, {})
            if previous.get("status") == "done":
                progress(f"[{step}] done before ({previous.get('items')} {previous.get('unit')}): skipped")
                continue
            resume = previous.get("status") in ("running", "failed", "redo")
            progress(f"[{step}] {'resuming' if resume else 'starting'}")
            started = time.time()
            steps[step] = {"status": "running", "started": started, "attempts": previous.get("attempts", 0) + 1}
            _save_state(cfg, state)
            try:
                items, unit = _RUNNERS[step](cfg, opts, executor, resume, _prefixed(progress, step))
            except BaseException as exc:
                steps[step].update(status="failed", error=f"{type(exc).__name__}: {exc}"[:2000],
                                   finished=time.time())
                _save_state(cfg, state)
                raise
            finished = time.time()
            steps[step].update(status="done", finished=finished, seconds=round(finished - started, 3),
                               items=items, unit=unit)
            _save_state(cfg, state)
            rate = items / max(finished - started, 1e-9)
            progress(f"[{step}] done in {finished - started:.1f} s: {items} {unit} ({rate:.1f}/s)")
    return state


def campaign_status(cfg: CampaignConfig) -> list[str]:
    """Lines that say where a campaign stands (steps, and crawlers while crawling).

    A step ``owd run`` recorded in run/state.json is shown as recorded. A step it did
    not record (the campaign was run command by command: ``owd crawl``, ``owd process``,
    ...) is read from the outputs that command leaves on disk (:func:`step_on_disk`).
    """
    state = load_state(cfg)
    lines = [f"campaign {cfg.campaign} in {cfg.campaign_dir}"]
    seen_on_disk = False
    for step in STEPS:
        info = state["steps"].get(step)
        if step == "ingest" and not cfg.ingest and info is None:
            lines.append(f"  {step:8} {'none':8} (no ingest: sources; the crawl is the only input)")
            continue
        if info is None:
            found = step_on_disk(cfg, step)
            seen_on_disk = seen_on_disk or found is not None
            status, detail = found or ("not started", "")
            lines.append(f"  {step:8} {status:8} {detail}".rstrip())
            continue
        status = info.get("status", "?")
        detail = ""
        if status == "done":
            detail = f"{info.get('items')} {info.get('unit')} in {info.get('seconds', 0):.1f} s"
        elif status == "failed":
            detail = info.get("error", "")
        elif status == "running":
            detail = f"since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(info.get('started', 0)))}"
        lines.append(f"  {step:8} {status:8} {detail}".rstrip())
    from owd.ray_crawl import read_crawler_status

    crawlers = [s for s in map(read_crawler_status, sorted((cfg.campaign_dir / "crawl").glob("w*/"))) if s]
    for s in crawlers:
        state_word = s.get("closed") or ("idle" if s.get("idle") else "crawling")
        lines.append(f"  crawler {s.get('worker')}: {state_word}, {s.get('pages', 0)} pages, "
                     f"{s.get('received', 0)} links received, {s.get('sent', 0)} sent")
    lines += frontier_status(cfg)
    if not state["steps"] and not crawlers and not seen_on_disk:
        lines.append("  nothing run yet: owd run <campaign>")
    return lines


def frontier_status(cfg: CampaignConfig) -> list[str]:
    """One line per crawler frontier: its store's counts (opened read-only: safe while the
    crawler writes it) and, while it runs, the scheduler's live state (crawl/<worker>/frontier.json)."""
    from owd.crawler.frontier_store import FRONTIER_FILE, FrontierStore

    lines = []
    for path in sorted((cfg.campaign_dir / "crawl").glob(f"*/{FRONTIER_FILE}")):
        try:
            store = FrontierStore(path, read_only=True, cache_mib=8)
            try:
                counts, admitted = store.counts(), store.admitted()
                head, stalest = store.next_queued(), store.stalest_fetch()
            finally:
                store.close()
        except Exception as exc:  # RocksDB reports a damaged or locked store as a plain Exception
            lines.append(f"  frontier {path.parent.name}: unreadable ({str(exc).splitlines()[0] if str(exc) else exc!r})")
            continue
        line = (f"  frontier {path.parent.name}: {admitted} admitted ({counts['queued']} queued, "
                f"{counts['in_flight']} in flight, {counts['done']} done), {admitted + counts['refused']} seen, "
                f"{counts['hosts']} hosts")
        live = _read_json(path.parent / "frontier.json")
        if isinstance(live, dict) and time.time() - float(live.get("time", 0)) < 60:
            due = live.get("next_due_in_s")
            line += (f"; live: {live.get('ready_hosts', 0)} hosts ready, {live.get('waiting_hosts', 0)} waiting"
                     + (f" (next in {due:.1f} s)" if isinstance(due, (int, float)) else ""))
        if head:
            line += f"; next queued {head}"
        if stalest is not None:
            line += f"; content last fetched up to {(time.time() - stalest) / 86400:.1f} days ago"
        lines.append(line)
    return lines


# --------------------------------------------------------------------------- steps from their outputs
# Each reader returns (status, detail) from what the step's own command writes, or None
# when that step left nothing. "partial": outputs of a step that has not finished, or
# that is behind the step before it (the command picks up from there when run again).


def step_on_disk(cfg: CampaignConfig, step: str) -> tuple[str, str] | None:
    """(status, detail) of ``step`` read from its outputs under the campaign folder, or None."""
    return _DISK_READERS[step](cfg)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _crawl_on_disk(cfg: CampaignConfig) -> tuple[str, str] | None:
    from owd.process import open_warc_files, warc_files

    root = cfg.campaign_dir
    warcs, still_open = warc_files(root / "warc"), open_warc_files(root / "warc")
    # `owd crawl` writes crawl/<worker>/stats.json when its crawler ends.
    stats = {p.parent.name: _read_json(p) for p in sorted((root / "crawl").glob("*/stats.json"))}
    stats = {w: s for w, s in stats.items() if isinstance(s, dict)}
    if not warcs and not still_open and not stats:
        return None
    pages = sum(int(s.get("pages/fetched", 0)) for s in stats.values())
    detail = f"(owd crawl): {pages} pages, {len(warcs)} WARC file(s)"
    if len(stats) > 1:
        detail += f" from {len(stats)} crawlers"
    unfinished = sorted({p.parent.name for p in [*warcs, *still_open]} - set(stats))
    if not still_open and not unfinished:
        return "done", detail
    detail = f"(owd crawl): {len(warcs)} WARC file(s)" + (f", {len(still_open)} still open" if still_open else "")
    if unfinished:
        detail += f"; no crawl stats yet from {', '.join(unfinished)}"
    return "partial", detail + "; crawling, or stopped (`owd crawl --resume` continues it)"


def _docs_shards(cfg: CampaignConfig) -> list[Path]:
    return sorted((cfg.campaign_dir / "docs").glob("*.parquet"))


def _ingest_on_disk(cfg: CampaignConfig) -> tuple[str, str] | None:
    if not cfg.ingest:
        return None
    from owd.process import ingest_inputs

    files = ingest_inputs(cfg)
    have = {f.parent.name for f in files}
    if not files:
        return None
    missing = [s.name for s in cfg.ingest if s.name not in have]
    detail = f"(owd ingest): {len(files)} file(s) from {len(have)} source(s)"
    return ("partial", detail + f"; nothing yet from {', '.join(missing)}") if missing else ("done", detail)


def _process_on_disk(cfg: CampaignConfig) -> tuple[str, str] | None:
    import pyarrow.parquet as pq

    from owd.process import ingest_inputs, ingest_shard_id, shard_id_of, warc_files

    shards = _docs_shards(cfg)
    if not shards:
        return None
    done = {p.name.removesuffix(".parquet") for p in shards}
    expected = {shard_id_of(w) for w in warc_files(cfg.campaign_dir / "warc")}
    expected |= {ingest_shard_id(f) for f in ingest_inputs(cfg)}
    # The dedup steps run after every shard; their clusters file marks a finished run.
    deduplicated = (cfg.campaign_dir / "dedup" / "clusters.parquet").exists()
    if expected - done or not deduplicated:
        kind = "WARC/ingested" if cfg.ingest else "WARC"
        detail = f"(owd process): {len(expected & done)} of {len(expected)} {kind} file(s) processed"
        return "partial", detail + ("" if deduplicated else ", dedup not run") + "; `owd process` continues"
    documents = kept = 0
    for shard in shards:
        column = pq.read_table(shard, columns=["drop_reason"]).column("drop_reason")
        documents += len(column)
        kept += column.null_count
    return "done", f"(owd process): {len(shards)} shard(s), {documents} documents, {kept} kept"


def _embed_on_disk(cfg: CampaignConfig) -> tuple[str, str] | None:
    from owd.index.vector_shards import vectors_path

    shards = _docs_shards(cfg)
    have = [s for s in shards if vectors_path(s).exists()]
    if not have:
        return None
    if len(have) == len(shards):
        return "done", f"(owd embed): vectors for {len(have)} docs shard(s)"
    return "partial", f"(owd embed): vectors for {len(have)} of {len(shards)} docs shard(s)"


def _index_on_disk(cfg: CampaignConfig) -> tuple[str, str] | None:
    # One state file per backend (index.open.state_path): state-embedded.json,
    # state-opensearch-<index>.json; each lists the docs shards indexed into it.
    shards = {p.name: p.stat() for p in _docs_shards(cfg)}
    parts, behind = [], False
    for path in sorted((cfg.campaign_dir / "index").glob("state-*.json")):
        state = _read_json(path)
        if not isinstance(state, dict) or not isinstance(state.get("shards"), dict):
            continue
        known = state["shards"]
        current = [n for n, st in shards.items() if isinstance(known.get(n), dict)
                   and known[n].get("size") == st.st_size and known[n].get("mtime_ns") == st.st_mtime_ns]
        indexed = sum(int(v.get("indexed", 0)) for v in known.values() if isinstance(v, dict))
        name = path.stem.removeprefix("state-").replace("-", " ", 1)
        if len(current) == len(shards):
            parts.append(f"{name} {len(current)} shard(s), {indexed} documents indexed")
        else:
            behind = True
            parts.append(f"{name} {len(current)} of {len(shards)} docs shard(s) indexed, {indexed} documents")
    if not parts:
        return None
    detail = "(owd index): " + "; ".join(parts)
    return ("partial", detail + "; `owd index` catches up") if behind else ("done", detail)


def _pools_on_disk(cfg: CampaignConfig) -> tuple[str, str] | None:
    folder = cfg.campaign_dir / "pools"
    names = [p.name for p in cfg.pools] or sorted(p.parent.name for p in folder.glob("*/summary.json"))
    built = {n: _read_json(folder / n / "summary.json") for n in names}
    built = {n: s for n, s in built.items() if isinstance(s, dict)}
    if not built:
        return None
    sizes = ", ".join(f"{n} {s.get('general', {}).get('documents', '?')} documents" for n, s in built.items())
    if len(built) == len(names):
        return "done", f"(owd pools build): {len(built)} pool(s): {sizes}"
    missing = ", ".join(n for n in names if n not in built)
    return "partial", f"(owd pools build): {len(built)} of {len(names)} pool(s) built ({sizes}); not built: {missing}"


def _report_on_disk(cfg: CampaignConfig) -> tuple[str, str] | None:
    folder = cfg.campaign_dir / "report"
    report = _read_json(folder / "report.json")
    if not isinstance(report, dict):
        return None
    return "done", f"(owd report): {folder / 'report.html'}, generated {report.get('generated', '?')}"


_DISK_READERS: dict[str, Callable[[CampaignConfig], tuple[str, str] | None]] = {
    "crawl": _crawl_on_disk, "ingest": _ingest_on_disk, "process": _process_on_disk, "embed": _embed_on_disk, "index": _index_on_disk, "pools": _pools_on_disk,
    "report": _report_on_disk}
