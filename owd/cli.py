"""The ``owd`` command line: thin wrappers that parse arguments and report errors.

Misuse (a bad config, a missing file) ends with one message and exit code 2;
bad input met while working is counted, never fatal.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from owd.config import ConfigError, load_campaign
from owd.shared_data import repo_root

__all__ = ["main"]

EXIT_MISUSE = 2


class UsageError(Exception):
    """A problem the user must fix; printed as one line, exit code 2."""


def _cmd_demo(args: argparse.Namespace) -> int:
    from owd.demo import run_demo

    return run_demo(Path(args.config), keep=args.keep)


def _cmd_crawl(args: argparse.Namespace) -> int:
    cfg = load_campaign(args.config)
    from crawler.run import CrawlStateExists, run_crawl

    try:
        summary = run_crawl(cfg, worker=args.worker, log_level=args.log_level, resume=args.resume)
    except CrawlStateExists as exc:
        raise UsageError(str(exc)) from None
    print(f"crawl finished in {summary.seconds:.1f}s: {summary.responses} responses, "
          f"{summary.pages} pages, {summary.bytes / 1e6:.1f} MB, {len(summary.warc_files)} WARC file(s) "
          f"in {summary.warc_files[0].parent if summary.warc_files else '-'}")
    return 0


def _cmd_process(args: argparse.Namespace) -> int:
    cfg = load_campaign(args.config)
    from owd.process import campaign_warcs, process_campaign

    if not campaign_warcs(cfg):
        raise UsageError(f"no closed WARC files under {cfg.campaign_dir / 'warc'}: run `owd crawl {args.config}` first")
    summary = process_campaign(cfg, force=args.force, progress=lambda line: print(line, flush=True))
    print(f"process finished in {summary.seconds:.1f}s: {summary.shards_done} shard(s) processed, "
          f"{summary.shards_skipped} already done; {summary.documents} documents, {summary.kept} kept, "
          f"{summary.duplicates} in {summary.clusters} duplicate clusters; "
          f"dropped {dict(summary.drop_reasons.most_common())}; output in {cfg.campaign_dir / 'docs'}")
    return 0


def _embedded_backend(cfg, create: bool):  # type: ignore[no-untyped-def]
    from index.embedded import EmbeddedBackend

    return EmbeddedBackend(cfg.campaign_dir / "index" / "tantivy", create=create)


def _cmd_index(args: argparse.Namespace) -> int:
    cfg = load_campaign(args.config)
    from index.build import index_campaign

    docs_dir = cfg.campaign_dir / "docs"
    if not any(docs_dir.glob("*.parquet")):
        raise UsageError(f"no documents under {docs_dir}: run `owd process {args.config}` first")
    with _embedded_backend(cfg, create=True) as backend:
        summary = index_campaign(docs_dir, backend, cfg.campaign_dir / "index" / "state-embedded.json",
                                 rebuild=args.rebuild, progress=lambda line: print(line, flush=True))
    print(f"index finished in {summary.seconds:.1f}s: {summary.shards_indexed} shard(s) indexed, "
          f"{summary.shards_skipped} unchanged, {summary.shards_failed} failed; {summary.documents_indexed} "
          f"documents added, {summary.documents_dropped} dropped ones left out; {summary.total} in the index")
    return 1 if summary.shards_failed else 0


def _plain_snippet(snippet: str) -> str:
    import html

    return html.unescape(snippet.replace("<mark>", "[").replace("</mark>", "]"))


def _cmd_search(args: argparse.Namespace) -> int:
    cfg = load_campaign(args.config)
    from index.base import BackendError, Filters, QueryError, SearchQuery

    try:
        query = SearchQuery(
            text=args.query,
            filters=Filters(langs=args.lang or None, domains=args.domain or None, pools=args.pool or None,
                            media_kinds=args.media or None),
            facets=("lang", "domain") if args.facets else (), page=args.page, page_size=args.size)
        with _embedded_backend(cfg, create=False) as backend:
            result = backend.search(query)
    except QueryError as exc:
        raise UsageError(f"bad query: {exc}") from None
    except BackendError as exc:
        raise UsageError(f"{exc} (run `owd index {args.config}` first?)") from None
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


def _cmd_config_check(args: argparse.Namespace) -> int:
    for path in args.configs:
        cfg = load_campaign(path)
        print(f"{path}: ok (campaign {cfg.campaign!r}, {len(cfg.seeds.urls)} seed URLs, "
              f"{len(cfg.seeds.files)} seed files, {len(cfg.seeds.sitemaps)} sitemaps, {len(cfg.pools)} pools)")
    return 0


def _testweb_site(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from owd.testweb import TestSite

    return TestSite(seed=args.seed, port=args.port, pages_per_host=args.pages_per_host,
                    bulk_hosts=args.bulk_hosts, bulk_pages_per_host=args.bulk_pages_per_host)


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
    from owd.schema import DOCUMENT_SCHEMA

    print(DOCUMENT_SCHEMA.to_string(show_schema_metadata=False))
    return 0


def _cmd_schema_validate(args: argparse.Namespace) -> int:
    from owd.schema import SchemaError, validate_file

    bad = 0
    for path in args.files:
        try:
            rows = validate_file(Path(path))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="owd", description="owd: the EU open web data pipeline (crawl -> WARC -> documents -> search and pools)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], help: str,
                parent: argparse._SubParsersAction = sub) -> argparse.ArgumentParser:  # type: ignore[type-arg]
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
    p.add_argument("--worker", default="w0", help="worker name (WARC folder and file prefix)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR", "NONE"])

    p = command("process", _cmd_process, "turn a campaign's WARC files into documents (extract, langid, filters, PII, dedup)")
    p.add_argument("config", help="campaign YAML file")
    p.add_argument("--force", action="store_true", help="redo every shard and the dedup steps")

    p = command("index", _cmd_index, "index a campaign's documents for search (embedded engine); incremental")
    p.add_argument("config", help="campaign YAML file")
    p.add_argument("--rebuild", action="store_true", help="clear the index and index every shard again")

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
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = command("config", lambda a: (a.sub_parser.print_help(), EXIT_MISUSE)[1], "check campaign files")
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION")
    p.set_defaults(sub_parser=p)
    c = command("check", _cmd_config_check, "validate campaign YAML files", config_sub)
    c.add_argument("configs", nargs="+", help="campaign YAML files")

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, UsageError) as exc:
        print(f"owd: error: {exc}", file=sys.stderr)
        return EXIT_MISUSE
    except KeyboardInterrupt:
        print("owd: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
