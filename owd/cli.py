"""The ``owd`` command line: thin wrappers that parse arguments and report errors.

Misuse (a bad config, a missing file) ends with one message and exit code 2;
bad input met while working is counted, never fatal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from owd.core.config import ConfigError, check_storage_root, load_campaign
from owd.core.errors import OwdError
from owd.shared_data import repo_root

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

    from owd.core.config import CampaignConfig
    from owd.index.base import SearchBackend
    from owd.testweb import TestSite

__all__ = ["main"]

EXIT_MISUSE = 2


class UsageError(Exception):
    """A problem the user must fix; printed as one line, exit code 2."""


def _cmd_demo(args: argparse.Namespace) -> int:
    from owd.demo import run_demo

    return run_demo(Path(args.config), keep=args.keep)


def _cmd_crawl(args: argparse.Namespace) -> int:
    cfg = load_campaign(args.config)
    check_storage_root(cfg)
    if args.ray:
        return _crawl_distributed(cfg, args)
    from owd.crawler.run import CrawlStateExists, NothingToRevisit, run_crawl

    try:
        partition = None
        if args.partition:
            from owd.crawler.partition import Partition, PartitionError

            try:
                partition = Partition.load(Path(args.partition))
            except PartitionError as exc:
                raise UsageError(str(exc)) from None
        summary = run_crawl(cfg, worker=args.worker, log_level=args.log_level, resume=args.resume,
                            partition=partition, revisit=args.revisit)
    except (CrawlStateExists, NothingToRevisit) as exc:
        raise UsageError(str(exc)) from None
    line = (f"{summary.responses} responses, {summary.pages} pages, {summary.bytes / 1e6:.1f} MB, "
            f"{len(summary.warc_files)} WARC file(s) in {summary.warc_files[0].parent if summary.warc_files else '-'}")
    if summary.stopped_by is not None:
        print(f"crawl stopped by {signal.Signals(summary.stopped_by).name} after {summary.seconds:.1f}s: {line}; "
              f"continue with `owd crawl {args.config} --resume`")
        return 128 + summary.stopped_by
    from owd.crawler.outcome import nothing_fetched

    # One crawler of a distributed crawl may own no host with work; the driver judges the whole.
    if not args.partition and (problem := nothing_fetched(summary.stats)) is not None:
        print(f"owd: error: {problem} (details in {cfg.campaign_dir / 'crawl' / args.worker / 'stats.json'})",
              file=sys.stderr)
        return 1
    print(f"crawl finished in {summary.seconds:.1f}s: {line}; log in "
          f"{cfg.campaign_dir / 'crawl' / args.worker / 'crawl.log'}")
    return 0


def _crawl_distributed(cfg: CampaignConfig, args: argparse.Namespace) -> int:
    from owd.crawler.partition import PartitionError
    from owd.crawler.run import CrawlStateExists
    from owd.ray_crawl import CrawlFailed, run_distributed_crawl

    try:
        summary = run_distributed_crawl(cfg, crawlers=args.crawlers, address=args.address, resume=args.resume,
                                        revisit=args.revisit,
                                        log_level=args.log_level if args.log_level != "INFO" else "WARNING",
                                        progress=lambda line: print(line, flush=True))
    except (CrawlStateExists, PartitionError) as exc:
        raise UsageError(str(exc)) from None
    except CrawlFailed as exc:
        print(f"owd: crawl failed: {exc}", file=sys.stderr)
        return 1
    from owd.crawler.outcome import merged_stats, nothing_fetched

    if (problem := nothing_fetched(merged_stats(f.get("stats", {}) for f in summary.workers.values()))) is not None:
        print(f"owd: error: {problem} (details in {cfg.campaign_dir / 'crawl'}/w*/stats.json)", file=sys.stderr)
        return 1
    per_worker = ", ".join(f"{w} {int(f.get('stats', {}).get('pages/fetched', 0))} pages"
                           for w, f in sorted(summary.workers.items()))
    print(f"crawl finished in {summary.seconds:.1f}s on {len(summary.workers)} crawler(s): {summary.responses} "
          f"responses, {summary.pages} pages ({per_worker}), {len(summary.warc_files)} WARC file(s) "
          f"under {cfg.campaign_dir / 'warc'}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = load_campaign(args.config)
    check_storage_root(cfg)
    from owd.crawler.partition import PartitionError
    from owd.crawler.run import CrawlStateExists
    from owd.campaign_run import RunOptions, run_campaign

    opts = RunOptions(address=args.address, crawlers=args.crawlers, backend=args.backend, url=args.url,
                      index_name=args.index_name, restart_from=args.restart_from)
    try:
        run_campaign(cfg, opts, progress=lambda line: print(line, flush=True))
    except (CrawlStateExists, PartitionError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    print(f"campaign {cfg.campaign} complete: `owd status {args.config}`, report in "
          f"{cfg.campaign_dir / 'report' / 'report.html'}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    cfg = load_campaign(args.config)
    from owd.campaign_run import campaign_status

    try:
        lines = campaign_status(cfg)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print("\n".join(lines))
    return 0


def _executor(args: argparse.Namespace) -> Any:
    """The executor the command line asks for: Ray with --ray/--address, else local processes."""
    if getattr(args, "ray", False) or getattr(args, "address", None):
        if getattr(args, "workers", None):
            raise UsageError("--workers is for the local executor; on Ray the cluster's CPUs decide")
        from owd.ray_executor import RayExecutor

        return RayExecutor(args.address)
    if getattr(args, "workers", None):
        from owd.executors import LocalExecutor

        return LocalExecutor(args.workers)
    return contextlib.nullcontext()  # the command's own default: one process per CPU, at most one per shard


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _cmd_ingest(args: argparse.Namespace) -> int:
    from owd.ingest import ingest_campaign
    from owd.process import ingest_inputs

    cfg = load_campaign(args.config)
    if not cfg.ingest:
        raise UsageError(f"{args.config}: no ingest: sources in the campaign")
    try:
        counts = ingest_campaign(cfg, only=args.source, progress=lambda line: print(line, flush=True))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    failed = {k: v for k, v in sorted(counts.items()) if "/failed" in k and k.startswith("ingest/")}
    for key, n in failed.items():
        print(f"  {key}: {n}", file=sys.stderr)
    print(f"ingest: {len(ingest_inputs(cfg))} file(s) ready for `owd process`; fetched now: "
          f"{counts['ingest/files']} file(s), {counts['ingest/cdxj/records']} CDXJ record(s); "
          f"{counts['ingest/cdxj/mismatch']} record(s) not matching their index line left out")
    return 1 if failed else 0


def _cmd_process(args: argparse.Namespace) -> int:
    cfg = load_campaign(args.config)
    from owd.process import campaign_warcs, ingest_inputs, process_campaign

    if not campaign_warcs(cfg) and not ingest_inputs(cfg):
        hint = f"`owd crawl {args.config}`" + (f" or `owd ingest {args.config}`" if cfg.ingest else "")
        raise UsageError(f"no closed WARC files under {cfg.campaign_dir / 'warc'} and nothing ingested: run {hint} first")
    with _executor(args) as executor:
        summary = process_campaign(cfg, force=args.force, progress=lambda line: print(line, flush=True),
                                   executor=executor)
    print(f"process finished in {summary.seconds:.1f}s: {summary.shards_done} shard(s) processed, "
          f"{summary.shards_skipped} already done; {summary.documents} documents, {summary.kept} kept, "
          f"{summary.duplicates} in {summary.clusters} duplicate clusters; "
          f"dropped {dict(summary.drop_reasons.most_common())}; output in {cfg.campaign_dir / 'docs'}")
    return 0


def _embedded_backend(cfg: CampaignConfig, create: bool) -> SearchBackend:
    from owd.index.open import open_backend

    return open_backend(cfg, "embedded", create=create)


def _search_backend(cfg: CampaignConfig, args: argparse.Namespace, create: bool) -> SearchBackend:
    """The index chosen by --backend/--url/--index-name (see _add_backend_args)."""
    from owd.index.open import open_backend

    return open_backend(cfg, args.backend, url=args.url, index_name=args.index_name, create=create)


def _add_backend_args(p: argparse.ArgumentParser) -> None:
    from owd.index.open import BACKENDS, default_url

    p.add_argument("--backend", choices=BACKENDS, default="embedded",
                   help="search engine: the embedded index under the campaign folder (default) or OpenSearch")
    p.add_argument("--url", default=None, help=f"OpenSearch URL (default $OWD_OPENSEARCH_URL, now {default_url()})")
    p.add_argument("--index-name", default=None, help="OpenSearch index (an alias) name (default: the campaign name)")


def _cmd_index(args: argparse.Namespace) -> int:
    cfg = load_campaign(args.config)

    docs_dir = cfg.campaign_dir / "docs"
    if not any(docs_dir.glob("*.parquet")):
        raise UsageError(f"no documents under {docs_dir}: run `owd process {args.config}` first")
    from owd.campaign_steps import IndexDocuments
    from owd.index.base import BackendError

    try:
        with _executor(args) as executor:
            if executor is not None and args.backend != "opensearch":
                raise UsageError("--workers and --ray index in parallel, which needs --backend opensearch "
                                 "(the embedded index has a single writer)")
            step = IndexDocuments(args.backend, args.url, args.index_name, rebuild=args.rebuild,
                                  progress=lambda line: print(line, flush=True))
            step.run(cfg, [], executor)
            summary = step.summary
    except BackendError as exc:
        # the engine failed (OpenSearch down after retries, documents refused): the shards done so
        # far are recorded, so a rerun continues from there
        print(f"owd: error: index failed: {exc}", file=sys.stderr)
        return 1
    print(f"index finished in {summary.seconds:.1f}s: {summary.shards_indexed} shard(s) indexed, "
          f"{summary.shards_skipped} unchanged, {summary.shards_failed} failed; {summary.documents_indexed} "
          f"documents added, {summary.documents_dropped} dropped ones left out; {summary.total} in the index")
    return 1 if summary.shards_failed else 0


def _cmd_embed(args: argparse.Namespace) -> int:
    cfg = load_campaign(args.config)
    docs_dir = cfg.campaign_dir / "docs"
    if not any(docs_dir.glob("*.parquet")):
        raise UsageError(f"no documents under {docs_dir}: run `owd process {args.config}` first")
    if not cfg.embeddings.enabled and not args.force:
        raise UsageError(f"{args.config}: embeddings.enabled is false; set it to true (or pass --force "
                         "to embed once anyway)")
    import time

    from owd.campaign_steps import EmbedDocuments
    from owd.executors import LocalExecutor, available_cpus
    from owd.index.embed import EmbedderError

    workers = args.workers or cfg.embeddings.workers or available_cpus()
    started = time.monotonic()
    step = EmbedDocuments(force=args.redo, progress=lambda line: print(line, flush=True))
    try:
        if workers > 1:
            with LocalExecutor(workers) as executor:
                counts = step.run(cfg, [], executor)
        else:
            counts = step.run(cfg, [], None)
    except EmbedderError as exc:
        print(f"owd: error: {exc}", file=sys.stderr)
        return 1
    print(f"embed finished in {time.monotonic() - started:.1f}s: {counts['embed/shards']} shard(s), "
          f"{counts['embed/shards_skipped']} unchanged; {counts['embed/embedded']} documents embedded, "
          f"{counts['embed/reused']} reused; vectors in {cfg.campaign_dir / 'vectors'}; "
          f"run `owd index {args.config}` to search them")
    return 0


def _plain_snippet(snippet: str) -> str:
    import html

    return html.unescape(snippet.replace("<mark>", "[").replace("</mark>", "]"))


def _cmd_search(args: argparse.Namespace) -> int:
    cfg = load_campaign(args.config)
    from owd.index.base import BackendError, Filters, QueryError, SearchQuery
    from owd.index.embed import EmbedderError

    try:
        query = SearchQuery(
            text=args.query,
            filters=Filters(langs=args.lang or (), domains=args.domain or (), pools=args.pool or (),
                            media_kinds=args.media or ()),
            facets=("lang", "domain") if args.facets else (), page=args.page, page_size=args.size,
            mode=args.mode)
        with _search_backend(cfg, args, create=False) as backend:
            result = backend.search(query)
    except QueryError as exc:
        raise UsageError(f"bad query: {exc}") from None
    except EmbedderError as exc:
        raise UsageError(str(exc)) from None
    except BackendError as exc:
        missing = "no search index" in str(exc) or "no owd index" in str(exc)
        raise UsageError(f"{exc} (run `owd index {args.config}` first?)" if missing else str(exc)) from None
    if args.json:
        import dataclasses

        print(json.dumps(dataclasses.asdict(result), default=str, ensure_ascii=False, indent=1))
        return 0
    print(f"{result.total} result(s) in {result.took_ms:.1f} ms")
    for i, hit in enumerate(result.hits, (args.page - 1) * args.size + 1):
        print(f"{i:3}. {hit.title or '(no title)'}  [{hit.lang or '?'}] {hit.domain or ''}")
        print(f"     {hit.url}")
        if hit.snippet:
            print(f"     {_plain_snippet(hit.snippet)[:300]}")
    for name, counts in result.facets.items():
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _allow_networks(args: argparse.Namespace, cfg: "CampaignConfig | None" = None) -> list[str]:
    """Networks a pull or a merge may reach although private or loopback: the campaign's
    network.allow_networks and every --allow-network (the crawler's rule, owd.core.networks)."""
    import ipaddress

    nets = list(cfg.network.allow_networks) if cfg is not None else []
    for net in args.allow_network or []:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise UsageError(f"--allow-network: expected a network such as 127.0.0.0/8, got {net!r}") from None
        nets.append(net)
    return nets


def _members(args: argparse.Namespace, cfg: "CampaignConfig | None") -> list[str]:
    members = list(args.members or [])
    if not members and cfg is not None:
        members = [site.url for site in cfg.sites if site.url]
    if not members:
        raise UsageError("no catalogue members: name site URLs or catalogue files, or give a campaign file "
                         "whose sites: have a url")
    return members


def _serve_catalog_only(args: argparse.Namespace) -> int:
    from owd.catalog_serve import FederatedCatalog
    from owd.serve import run_server

    cfg = load_campaign(args.config) if args.config else None
    members = _members(args, cfg)
    publisher = (cfg.publisher.name if cfg and cfg.publisher.name else None) or "owd federation"
    catalog = FederatedCatalog(members, publisher, _allow_networks(args, cfg), refresh=args.refresh,
                               public_url=args.public_url, base_dir=Path.cwd(),
                               log=lambda line: print(line, file=sys.stderr, flush=True))

    def ready(url: str) -> None:
        print(f"owd serve: {url}/catalog (federated catalogue of {len(members)} member(s)); Ctrl-C stops", flush=True)

    try:
        run_server(None, host=args.host, port=args.port, on_ready=ready, catalog=catalog)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    except KeyboardInterrupt:
        print("owd serve: stopped", flush=True)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    if args.catalog_only:
        return _serve_catalog_only(args)
    args.config = args.config or str(repo_root() / "configs" / "demo.yaml")
    cfg = load_campaign(args.config)
    from owd.catalog_serve import SiteCatalog
    from owd.index.base import BackendError
    from owd.serve import run_server

    site = SiteCatalog([cfg, *[load_campaign(c) for c in args.site_config or []]], public_url=args.public_url)

    try:  # open once up front only to warn; the server retries on each request until the index exists
        _search_backend(cfg, args, create=False).close()
    except BackendError as exc:
        print(f"owd serve: warning: {exc}; /api/health answers 503 until `owd index {args.config}` has run",
              file=sys.stderr, flush=True)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        print(f"owd serve: warning: listening on {args.host}: the API has no authentication", file=sys.stderr)

    def ready(url: str) -> None:
        print(f"owd serve: {url}/ (search page), {url}/api/search?q=..., {url}/catalog, {url}/openapi.json; "
              "Ctrl-C stops", flush=True)

    try:
        run_server(lambda: _search_backend(cfg, args, create=False), host=args.host, port=args.port, on_ready=ready,
                   catalog=site)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its clean shutdown: the normal way to stop
        print("owd serve: stopped", flush=True)
    return 0


def _cmd_config_check(args: argparse.Namespace) -> int:
    for path in args.configs:
        cfg = load_campaign(path)
        check_storage_root(cfg, keep=False)
        print(f"{path}: ok (campaign {cfg.campaign!r}, {len(cfg.seeds.urls)} seed URLs, "
              f"{len(cfg.seeds.files)} seed files, {len(cfg.seeds.sitemaps)} sitemaps, {len(cfg.pools)} pools)")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from owd.report import write_report

    json_path, html_path = write_report(load_campaign(args.config))
    h = json.loads(json_path.read_text(encoding="utf-8"))["headline"]
    print(f"report: {json_path}\nreport: {html_path}")
    print(f"{h['pages_total']} pages, {h['bytes_total'] / 1e6:.1f} MB from {h['hosts_total']} hosts on "
          f"{h['sites_total']} site(s); {h['documents_kept']}/{h['documents_total']} documents kept in "
          f"{h['languages_total']} languages; duplicate rate {h['duplicate_rate']:.1%}, "
          f"TDM reservation rate {h['tdm_reservation_rate']:.1%}, {h['robots_refusals']} robots.txt refusals")
    return 0


def _cmd_pools_build(args: argparse.Namespace) -> int:
    cfg = load_campaign(args.config)
    from owd.pools.build import build_pools

    if not cfg.pools:
        raise UsageError(f"{args.config}: no pools defined (add a `pools:` section)")
    if not any((cfg.campaign_dir / "docs").glob("*.parquet")):
        raise UsageError(f"no documents under {cfg.campaign_dir / 'docs'}: run `owd process {args.config}` first")
    s = build_pools(cfg, force=args.force, progress=lambda line: print(line, flush=True))
    for shard, problem in s.failed_shards.items():
        print(f"owd: pools: skipped shard {shard}: {problem}", file=sys.stderr)
    print(f"pools finished in {s.seconds:.1f}s: built {', '.join(f'{n} ({s.documents[n]} docs)' for n in s.built) or 'none'}; "
          f"unchanged {', '.join(s.skipped) or 'none'}" + (f"; removed {', '.join(s.removed)}" if s.removed else "")
          + f"; read {s.input_documents} documents, {s.input_bytes / 1e6:.1f} MB; output in {cfg.campaign_dir / 'pools'}")
    return 1 if s.failed_shards else 0


def _cmd_pools_list(args: argparse.Namespace) -> int:
    from owd.pools.access import list_pools

    cfg = load_campaign(args.config)
    print(f"{'pool':24} {'status':11} {'documents':>9} {'MB':>9}  languages")
    for info in list_pools(cfg):
        langs = " ".join(f"{k}:{v}" for k, v in (info.languages or {}).items()) if info.kind == "documents" \
            else f"({info.kind} pool: rows are media items)"
        print(f"{info.name:24} {info.status:11} {info.documents:9} {info.bytes / 1e6:9.2f}  {langs}"
              + ("" if info.configured else "  (no longer in the campaign)"))
    return 0


def _cmd_pools_show(args: argparse.Namespace) -> int:
    from owd.pools.access import PoolError, format_summary, load_summary

    cfg = load_campaign(args.config)
    try:
        summary = load_summary(cfg, args.pool)
    except PoolError as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps(summary, indent=1, ensure_ascii=False) if args.json else format_summary(summary))
    if not args.json:
        folder = cfg.campaign_dir / "pools" / args.pool
        print(f"  cards        {folder}/{{croissant.json,dcat.jsonld,summary.json}}")
        if summary.get("kind") == "image-text":
            from owd.pools.media_pools import pool_tables
            from owd.pools.media_output import contact_sheet

            sheet = contact_sheet(pool_tables(folder), folder / "contact-sheet.html", f"owd pool {args.pool}")
            print(f"  look         {sheet} (thumbnails and captions; loads nothing from the network)")
    return 0


def _cmd_catalog_build(args: argparse.Namespace) -> int:
    from owd.pools.catalog import catalog_graph, datasets_of, write_catalog

    cfgs = [load_campaign(c) for c in args.configs]
    if not args.base_url.startswith(("http://", "https://")):
        raise UsageError(f"--base-url: expected an http(s) URL, got {args.base_url!r}")
    graph = catalog_graph(cfgs, args.base_url)
    out = Path(args.out) if args.out else cfgs[0].campaign_dir.parent / "catalog"
    files = write_catalog(graph, out)
    print(f"catalogue of {len(datasets_of(graph))} dataset(s) from {len(cfgs)} campaign(s): "
          + ", ".join(str(f) for f in files))
    return 0


def _cmd_catalog_merge(args: argparse.Namespace) -> int:
    from owd.pools.catalog import CatalogError, write_catalog
    from owd.pools.catalog_merge import merge_catalogs, read_catalog

    cfg = load_campaign(args.config) if args.config else None
    members = _members(args, cfg)
    nets = _allow_networks(args, cfg)
    read = []
    failed = 0
    for member in members:
        try:
            read.append((member, read_catalog(member, allow_networks=nets)))
        except CatalogError as exc:
            failed += 1
            print(f"owd catalog merge: left out: {exc}", file=sys.stderr)
    if not read:
        raise UsageError("no member catalogue could be read")
    publisher = (cfg.publisher.name if cfg and cfg.publisher.name else None) or "owd federation"
    result = merge_catalogs(read, base=args.base_url, publisher=publisher)
    files = write_catalog(result.graph, Path(args.out))
    print(f"federated catalogue: {result.datasets} dataset(s) from {len(read)} member(s), "
          f"{result.duplicates} duplicate(s) counted once, {failed} member(s) left out: "
          + ", ".join(str(f) for f in files))
    return 1 if failed else 0


def _pull_remote(args: argparse.Namespace) -> int:
    from owd.pools.build import pools_dir
    from owd.pools.remote import PullError, pull_remote

    cfg = load_campaign(args.into) if args.into else None
    if cfg is None and not args.to:
        raise UsageError("pulling from another site needs --to FOLDER or --into CAMPAIGN.yaml")
    if args.lang or args.pool:
        raise UsageError("a pull from another site takes the whole pool: no pool name or --lang")
    name = args.name or args.config.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    import re

    from owd.core.config import NAME_PATTERN

    if not re.fullmatch(NAME_PATTERN, name):
        raise UsageError(f"cannot name the pool {name!r}: give --name")
    if cfg is not None and any(p.name == name for p in cfg.pools):
        raise UsageError(f"campaign {cfg.campaign} has its own pool {name!r}: give the pull another --name")
    dest = (pools_dir(cfg) if cfg is not None else Path(args.to)) / name
    last = [0.0]

    def progress(path: str, done: int, total: int | None) -> None:
        import time

        if time.monotonic() - last[0] > 2 or (total and done == total):
            last[0] = time.monotonic()
            print(f"  {path}: {done / 1e6:.1f}{f' of {total / 1e6:.1f}' if total else ''} MB", flush=True)

    try:
        folder, pool = pull_remote(args.config, dest, allow_networks=_allow_networks(args, cfg), progress=progress)
    except PullError as exc:
        print(f"owd: error: {exc}", file=sys.stderr)
        return 1
    size = sum(f.size or 0 for f in pool.files)
    print(f"pulled {pool.dataset} ({pool.publisher['name']}) to {folder}: {len(pool.files)} file(s), "
          f"{size / 1e6:.2f} MB, SHA-256 verified" + (f"; a remote pool of campaign {cfg.campaign}" if cfg else ""))
    return 0


def _cmd_pools_pull(args: argparse.Namespace) -> int:
    from owd.pools.access import PoolError, load_instructions, pull_pool

    if args.config.startswith(("http://", "https://")):
        return _pull_remote(args)
    if not args.pool or not args.to:
        raise UsageError("pulling a local pool needs the pool name and --to FOLDER")
    cfg = load_campaign(args.config)
    try:
        folder = pull_pool(cfg, args.pool, Path(args.to), args.lang)
    except PoolError as exc:
        raise UsageError(str(exc)) from None
    files = sorted(folder.rglob("*.parquet"))
    print(f"pulled {args.pool}{' (' + ', '.join(args.lang) + ')' if args.lang else ''} to {folder}: "
          f"{len(files)} file(s), {sum(f.stat().st_size for f in files) / 1e6:.2f} MB")
    print(load_instructions(folder, args.lang[0] if args.lang else None))
    return 0


def _testweb_site(args: argparse.Namespace) -> TestSite:
    from owd.testweb import TestSite

    return TestSite(seed=args.seed, port=args.port, pages_per_host=args.pages_per_host,
                    bulk_hosts=args.bulk_hosts, bulk_pages_per_host=args.bulk_pages_per_host, manners=args.manners,
                    endless_hosts=args.endless_hosts, revision=args.revision)


def _cmd_testweb_serve(args: argparse.Namespace) -> int:
    from owd.testweb.server import serve_forever

    site = _testweb_site(args)

    def ready(server: object) -> None:
        print(f"test web: {len(site.hosts)} hosts on 127.0.1.x port {site.port}; "
              f"request log: {args.log or '(none)'}; Ctrl-C stops", flush=True)
        if args.ready_file:
            Path(args.ready_file).write_text("ready\n")

    try:
        serve_forever(site, Path(args.log) if args.log else None, on_ready=ready)
    except RuntimeError as exc:
        raise UsageError(str(exc)) from None
    return 0


def _cmd_testweb_hosts(args: argparse.Namespace) -> int:
    sys.stdout.write(_testweb_site(args).hosts_file())
    return 0


def _cmd_testweb_seeds(args: argparse.Namespace) -> int:
    sys.stdout.write("\n".join(_testweb_site(args).seed_urls()) + "\n")
    return 0


def _cmd_schema_show(args: argparse.Namespace) -> int:
    from owd.core.schema import DOCUMENT_SCHEMA

    print(DOCUMENT_SCHEMA.to_string(show_schema_metadata=False))
    return 0


def _cmd_schema_validate(args: argparse.Namespace) -> int:
    from owd.core.schema import SchemaError, validate_file
    from owd.pools.build import validate_pool_file

    bad = 0
    for path in args.files:
        try:
            # pool files store `quality` as key/value structs (HF datasets cannot load maps)
            rows = validate_pool_file(Path(path))
            rows = validate_file(Path(path)) if rows is None else rows
            print(f"{path}: ok, {rows} documents")
        except SchemaError as exc:
            print(f"{exc}", file=sys.stderr)
            bad += 1
    return 1 if bad else 0


def _add_testweb_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=7, help="content seed (default 7)")
    p.add_argument("--port", type=int, default=8631, help="port shared by all hosts (default 8631)")
    p.add_argument("--pages-per-host", type=int, default=12, help="articles per language host")
    p.add_argument("--bulk-hosts", type=int, default=0, help="extra generated hosts (benchmarks)")
    p.add_argument("--bulk-pages-per-host", type=int, default=200, help="pages per extra host")
    p.add_argument("--endless-hosts", type=int, default=0,
                   help="extra hosts of a web that never ends (every page links to 40 new ones; benchmarks)")
    p.add_argument("--manners", action="store_true",
                   help="add the manners hosts (robots.txt Crawl-delay 2 and 3, a host whose replies take a second)")
    p.add_argument("--revision", type=int, default=None,
                   help="add the revisit host news.owdtest.eu as it is at this revision (0, then 1: pages "
                        "that change, stay the same, disappear; for `owd crawl --revisit`)")


class _Parser(argparse.ArgumentParser):
    """argparse swallows write errors of --help and usage messages; a closed stdout must
    surface as BrokenPipeError so that main() can end with exit 1 like every command."""

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            out = file or sys.stderr
            out.write(message)
            flush = getattr(out, "flush", None)
            if flush is not None:
                flush()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="owd", description="owd: the EU open web data pipeline (crawl -> WARC -> documents -> search and pools)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], help: str,
                parent: "argparse._SubParsersAction[Any]" = sub) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = command("demo", _cmd_demo, "start the local test web, run the demo campaign through every stage, summarise")
    p.add_argument("--config", default=str(repo_root() / "configs" / "demo.yaml"), help="campaign file")
    p.add_argument("--keep", action="store_true", help="keep the previous demo output instead of starting afresh")

    p = command("crawl", _cmd_crawl, "crawl a campaign and write WARC files")
    p.add_argument("config", help="campaign YAML file")
    p.add_argument("--resume", action="store_true",
                   help="continue a stopped or killed crawl (repairs unfinished WARC files, keeps the queue)")
    p.add_argument("--revisit", action="store_true",
                   help="fetch again the URLs due under the campaign's revisit policy (conditional requests; "
                        "unchanged pages become WARC revisit records), then go on like --resume")
    p.add_argument("--worker", default="w0", help="worker name (WARC folder and file prefix)")
    p.add_argument("--partition", help="crawl partition file (set by `owd run`): crawl only this worker's hosts")
    p.add_argument("--ray", action="store_true", help="crawl with crawler actors on Ray (hosts split between them)")
    p.add_argument("--crawlers", type=int, help="crawler actors with --ray (default: the campaign's run.crawlers)")
    p.add_argument("--address", help="with --ray: join this Ray cluster (default: start a local instance)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR", "NONE"])

    p = command("run", _cmd_run, "run a whole campaign on Ray: crawl, process, index, pools, report (resumes)")
    p.add_argument("config", help="campaign YAML file")
    p.add_argument("--address", help="join this Ray cluster (default: start a local instance)")
    p.add_argument("--crawlers", type=int, help="crawler actors (default: the campaign's run.crawlers or sites)")
    _add_backend_args(p)
    p.add_argument("--from", dest="restart_from", choices=["crawl", "ingest", "process", "embed", "index", "pools",
                                                          "report"],
                   help="run this step and the later ones again")

    p = command("status", _cmd_status, "show where a campaign stands (steps of `owd run`, crawlers)")
    p.add_argument("config", help="campaign YAML file")

    p = command("ingest", _cmd_ingest, "fetch the campaign's ingest: sources (WARC/WET lists, CDXJ selections, "
                "FineWeb-2, HPLT) for `owd process`; resumable, checksummed")
    p.add_argument("config", help="campaign YAML file")
    p.add_argument("--source", action="append", help="only this ingest source (repeatable)")

    p = command("process", _cmd_process, "turn a campaign's WARC files into documents (extract, langid, filters, PII, dedup)")
    p.add_argument("config", help="campaign YAML file")
    p.add_argument("--force", action="store_true", help="redo every shard and the dedup steps")
    p.add_argument("--ray", action="store_true", help="run the shards and the dedup steps as Ray work "
                   "(a local Ray instance unless --address); same outputs as the local runner")
    p.add_argument("--address", default=None, help="join this Ray cluster (host:port, 'auto'); implies --ray")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="local worker processes (default: one per CPU, at most one per unfinished shard and per 4 MiB of WARC)")

    p = command("index", _cmd_index,
                "index a campaign's documents for search (embedded engine or OpenSearch); incremental")
    p.add_argument("config", help="campaign YAML file")
    p.add_argument("--rebuild", action="store_true", help="clear the index and index every shard again")
    _add_backend_args(p)
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="with --backend opensearch: index shards in this many local processes")
    p.add_argument("--ray", action="store_true", help="with --backend opensearch: index shards as Ray tasks")
    p.add_argument("--address", default=None, help="join this Ray cluster (host:port, 'auto'); implies --ray")

    p = command("embed", _cmd_embed, "give every kept document a vector for semantic and hybrid search "
                "(embeddings.enabled); resumable, incremental")
    p.add_argument("config", help="campaign YAML file")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="worker processes, one model each (default: embeddings.workers, else one per CPU)")
    p.add_argument("--force", action="store_true", help="embed even if embeddings.enabled is false")
    p.add_argument("--redo", action="store_true", help="embed every document again (ignore current vectors)")

    p = command("search", _cmd_search, "search a campaign's index")
    p.add_argument("query", help='words, "phrases", -excluded, a OR b, lang:sl domain:.si pool:x media:image '
                                 "after:2026-11-01 before:2026-12-01")
    p.add_argument("--config", default=str(repo_root() / "configs" / "demo.yaml"), help="campaign file (default: demo)")
    p.add_argument("--lang", action="append", help="language code (repeatable)")
    p.add_argument("--domain", action="append", help="registered domain, host, or suffix such as .si (repeatable)")
    p.add_argument("--pool", action="append", help="pool name (repeatable)")
    p.add_argument("--media", action="append", choices=["image", "audio", "video"], help="media kind (repeatable)")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--size", type=int, default=10, help="results per page (at most 100)")
    p.add_argument("--facets", action="store_true", help="show language and domain counts")
    p.add_argument("--mode", choices=["lexical", "semantic", "hybrid"], default="lexical",
                   help="lexical: the words (BM25, default); semantic: the meaning, in every language unless "
                        "lang: restricts it; hybrid: both fused (needs `owd embed` before `owd index`)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_backend_args(p)

    p = command("serve", _cmd_serve, "serve the read-only search API (OpenAPI at /openapi.json), the search page, "
                "the site's DCAT-AP catalogue (/catalog) and its pool files")
    p.add_argument("--config", default=None, help="campaign file (default: demo)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8700, help="port (default 8700; 0 picks a free one)")
    p.add_argument("--site-config", action="append", help="another campaign of this site whose pools the "
                   "catalogue lists and serves (repeatable)")
    p.add_argument("--public-url", help="the URL others reach this server at (catalogue IRIs; default: the "
                   "URL each request came to)")
    p.add_argument("--catalog-only", action="store_true", help="serve only a federated catalogue of --member "
                   "sites (default: the campaign's sites: urls), no search")
    p.add_argument("--member", dest="members", action="append", help="with --catalog-only: a site URL or "
                   "catalogue file (repeatable)")
    p.add_argument("--refresh", type=float, default=600.0, help="with --catalog-only: merge the members "
                   "again when the merge is older than this many seconds (default 600)")
    p.add_argument("--allow-network", action="append", help="with --catalog-only: a private or loopback "
                   "network the members may be on (repeatable)")
    _add_backend_args(p)

    p = command("catalog", lambda a: (a.sub_parser.print_help(), EXIT_MISUSE)[1],
                "DCAT-AP catalogues: this site's pools, and federated catalogues of several sites")
    p.set_defaults(sub_parser=p)
    ca = p.add_subparsers(dest="catalog_command", metavar="ACTION")
    b = command("build", _cmd_catalog_build, "write the site's catalogue (catalog.jsonld, catalog.ttl) of every "
                "pool of the given campaigns", ca)
    b.add_argument("configs", nargs="+", help="campaign YAML files (the site's campaigns)")
    b.add_argument("--base-url", required=True, help="the URL the site's owd serve is reached at (IRIs)")
    b.add_argument("--out", help="folder (default: <storage_root>/catalog of the first campaign)")
    b = command("merge", _cmd_catalog_merge, "merge sites' catalogues into one federated catalogue", ca)
    b.add_argument("members", nargs="*", help="site URLs (their /catalog) or catalogue files "
                   "(default: the --config campaign's sites: urls)")
    b.add_argument("--config", help="campaign file: its sites: are the default members, its publisher the "
                   "federation's")
    b.add_argument("--out", required=True, help="folder for catalog.jsonld and catalog.ttl")
    b.add_argument("--base-url", default="urn:owd:federation:", help="IRI base of the federated catalogue")
    b.add_argument("--allow-network", action="append", help="a private or loopback network members may be on "
                   "(repeatable)")

    p = command("config", lambda a: (a.sub_parser.print_help(), EXIT_MISUSE)[1], "check campaign files")
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION")
    p.set_defaults(sub_parser=p)
    c = command("check", _cmd_config_check, "validate campaign YAML files", config_sub)
    c.add_argument("configs", nargs="+", help="campaign YAML files")

    p = command("pools", lambda a: (a.sub_parser.print_help(), EXIT_MISUSE)[1],
                "data pools: Parquet by language, with Croissant, DCAT-AP and AI Act summary cards")
    p.set_defaults(sub_parser=p)
    po = p.add_subparsers(dest="pools_command", metavar="ACTION")
    b = command("build", _cmd_pools_build, "write every pool of a campaign (skips pools whose inputs are unchanged)", po)
    b.add_argument("config", help="campaign YAML file")
    b.add_argument("--force", action="store_true", help="rebuild even if documents and rules are unchanged")
    b = command("list", _cmd_pools_list, "list a campaign's pools with sizes and status", po)
    b.add_argument("config", help="campaign YAML file")
    b = command("show", _cmd_pools_show, "show a pool's card (the AI Act training-content summary)", po)
    b.add_argument("config", help="campaign YAML file")
    b.add_argument("pool", help="pool name")
    b.add_argument("--json", action="store_true", help="print summary.json as is")
    b = command("pull", _cmd_pools_pull, "copy a pool (or language slices) with its cards to a folder; or "
                "fetch a pool from another site by its dataset IRI (resumable, checksums verified)", po)
    b.add_argument("config", help="campaign YAML file, or the dataset IRI / pool URL of another site's pool")
    b.add_argument("pool", nargs="?", help="pool name (with a campaign file)")
    b.add_argument("--lang", action="append", help="only this language (repeatable; local pools)")
    b.add_argument("--to", help="destination folder (the pool lands in <to>/<pool>)")
    b.add_argument("--into", metavar="CONFIG", help="with a dataset IRI: register the pull as a remote pool "
                   "of this campaign (in its pools folder)")
    b.add_argument("--name", help="with a dataset IRI: the local name (default: the origin's pool name)")
    b.add_argument("--allow-network", action="append", help="a private or loopback network the other site may "
                   "be on (repeatable)")

    p = command("report", _cmd_report, "write the campaign report: report/report.json and a self-contained "
                "report.html (pages, bytes, sites, days, hosts, statuses, rights, languages, duplicates, pools)")
    p.add_argument("config", help="campaign YAML file")

    p = command("testweb", lambda a: (a.sub_parser.print_help(), EXIT_MISUSE)[1], "the local test web")
    p.set_defaults(sub_parser=p)
    tw = p.add_subparsers(dest="testweb_command", metavar="ACTION")
    s = command("serve", _cmd_testweb_serve, "serve the test web on 127.0.1.x until Ctrl-C", tw)
    _add_testweb_args(s)
    s.add_argument("--log", help="append the request log (JSON lines) to this file")
    s.add_argument("--ready-file", help="write this file once every host listens")
    h = command("hosts", _cmd_testweb_hosts, "print the host table (hosts(5) format)", tw)
    _add_testweb_args(h)
    h = command("seeds", _cmd_testweb_seeds, "print every host's home page URL", tw)
    _add_testweb_args(h)

    p = command("schema", lambda a: (a.sub_parser.print_help(), EXIT_MISUSE)[1], "the canonical document schema")
    p.set_defaults(sub_parser=p)
    sc = p.add_subparsers(dest="schema_command", metavar="ACTION")
    command("show", _cmd_schema_show, "print the Arrow schema of a document", sc)
    v = command("validate", _cmd_schema_validate, "check Parquet files against the schema", sc)
    v.add_argument("files", nargs="+")
    return parser


def _quiet_broken_pipe() -> None:
    """The reader of our output went away (``owd search ... | head``): stop quietly.
    stdout is pointed at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is already unusable: nothing more can be written to it anyway


def _crash_log(exc: BaseException) -> Path | None:
    """Write the traceback of an unexpected error to a log file; its path, or None."""
    import tempfile
    import time
    import traceback

    text = "".join(traceback.format_exception(exc))
    for folder in (Path.home() / ".cache" / "owd", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"owd-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
            path.write_text(f"owd {' '.join(sys.argv[1:])}\n{text}", encoding="utf-8")
            return path
        except OSError:
            continue
    return None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, like Ctrl-C's KeyboardInterrupt (so that
    cleanup and ``finally`` blocks run, and no ``except Exception`` swallows it)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Whatever happens, the user sees one line, never a traceback:
    2 for misuse (bad arguments, bad config), 1 for failures, 128+N for signal N.
    (``owd crawl`` and ``owd serve`` replace the SIGTERM handler with their own
    graceful stops.)"""
    signal.signal(signal.SIGTERM, _on_sigterm)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # --help writes to stdout too
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 1
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below
        return code
    except (ConfigError, UsageError) as exc:
        print(f"owd: error: {exc}", file=sys.stderr)
        return EXIT_MISUSE
    except KeyboardInterrupt as exc:
        # every step writes under a temporary name and renames, so a rerun continues
        name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
        print(f"owd: stopped by {name}; run the same command again to continue", file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 1
    except OwdError as exc:  # a message written for the user (owd.core.errors)
        print(f"owd: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"owd: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 -- the last line of defence: one line and a log, never a traceback
        log = _crash_log(exc)
        print(f"owd: error: unexpected {type(exc).__name__}: {exc}"
              + (f" (traceback in {log})" if log else ""), file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
