"""``owd demo``: the whole pipeline on the local test web, as far as it is built.

Starts the test web described by the campaign's ``testweb`` section, runs the
crawl (and, as they land, the later stages), prints a short summary and stops
the test web again.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

from owd.core.config import CampaignConfig, load_campaign
from owd.core.typed_config import ConfigError

__all__ = ["run_demo", "summarise_warcs"]


def summarise_warcs(files: list[Path]) -> dict[str, object]:
    """Count what the WARC files hold (read back with fastwarc, digests verified)."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    statuses: Counter[int] = Counter()
    hosts: set[str] = set()
    kinds: Counter[str] = Counter()
    bad_digests = 0
    for path in files:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response | WarcRecordType.metadata,
                                       parse_http=False):
                if rec.record_type == WarcRecordType.response:
                    # Verify before parsing HTTP: the block digest covers the header block too.
                    if not rec.verify_block_digest(consume=False):
                        bad_digests += 1
                    rec.parse_http()
                    status = rec.http_headers.status_code
                    if status is None:  # our crawler writes a status line in every response record
                        raise ValueError(f"{path}: a response record without an HTTP status line")
                    statuses[status] += 1
                    # a missing header reads as "" (fastwarc's stubs type get() with a default as Optional)
                    uri = rec.headers.get("WARC-Target-URI") or ""
                    hosts.add(uri.split("/")[2].split(":")[0] if "//" in uri else uri)
                else:
                    try:
                        kinds[json.loads(rec.reader.read()).get("kind", "?")] += 1
                    except ValueError:
                        kinds["unreadable-metadata"] += 1
    return {"statuses": dict(sorted(statuses.items())), "hosts": len(hosts), "kinds": dict(kinds),
            "bad_digests": bad_digests}


def run_demo(config_path: Path, keep: bool = False) -> int:
    cfg: CampaignConfig = load_campaign(config_path)
    if cfg.testweb is None:
        raise ConfigError(config_path, "testweb", "the demo campaign needs a testweb section")
    from owd.core.config import check_storage_root

    check_storage_root(cfg)
    from owd.crawler.run import run_crawl
    from owd.testweb import TestSite, TestWebServer

    if cfg.campaign_dir.exists() and not keep:
        shutil.rmtree(cfg.campaign_dir)
    site = TestSite(seed=cfg.testweb.seed, port=cfg.testweb.port, pages_per_host=cfg.testweb.pages_per_host,
                    real_pages=cfg.testweb.real_pages)
    log_path = cfg.campaign_dir / "testweb" / "requests.jsonl"
    print(f"owd demo: test web with {len(site.hosts)} hosts on 127.0.1.x:{site.port} "
          f"({'real pages and sentences from ../shared/data' if site.data_dir else 'generated content'})")
    try:
        server = TestWebServer(site, log_path).start()
    except RuntimeError as exc:
        raise ConfigError(config_path, "testweb.port", f"cannot serve the test web: {exc}") from None
    try:
        print(f"owd demo: crawling campaign {cfg.campaign!r} into {cfg.campaign_dir}")
        summary = run_crawl(cfg, log_level="WARNING")
    finally:
        server.stop()

    content = summarise_warcs(summary.warc_files)
    report = json.loads((cfg.campaign_dir / "crawl" / "w0" / "report.json").read_text())
    top_types = dict(list(report["by_content_type"].items())[:5])
    tdm = {k: v for k, v in summary.stats.items() if k.startswith("tdm/reserved/")}
    print()
    print("owd demo summary")
    print(f"  crawl       {summary.seconds:.1f} s, {report['responses']} responses from {len(report['by_host'])} hosts, "
          f"{report['pages']} HTML pages, {report['bytes'] / 1e6:.2f} MB")
    print(f"  WARC        {len(summary.warc_files)} file(s), "
          f"{sum(p.stat().st_size for p in summary.warc_files) / 1e6:.2f} MB in "
          f"{summary.warc_files[0].parent if summary.warc_files else '-'}; records by kind {content['kinds']}; "
          f"bad digests {content['bad_digests']}")
    print(f"  statuses    {report['by_status']}")
    print(f"  types       {top_types}")
    print(f"  robots      refused {sum(report['robots'].values())} {report['robots'] or ''}")
    print(f"  TDM         reserved {sum(tdm.values())} {({k.rsplit('/', 1)[1]: v for k, v in tdm.items()}) or ''}")
    print(f"  scope       refused {report['scope']}")
    print(f"  errors      {report['errors'] or 'none'}")
    print(f"  test web    {server.requests_served} requests served, log in {log_path}")
    print(f"  crawl log   {cfg.campaign_dir / 'crawl' / 'w0' / 'crawl.log'} (the test web's faults are on purpose)")

    from owd.process import process_campaign

    print()
    print(f"owd demo: processing {len(summary.warc_files)} WARC file(s) (extract, langid, filters, PII, dedup)")
    processed = process_campaign(cfg)
    langs = processed.languages
    print(f"  documents   {processed.documents} in {processed.seconds:.1f} s, {processed.kept} kept; "
          f"dropped {dict(processed.drop_reasons.most_common())}")
    print(f"  languages   {len(langs)}: {dict(langs.most_common())}")
    print(f"  duplicates  {processed.duplicates} documents in {processed.clusters} clusters")
    print(f"  output      {cfg.campaign_dir / 'docs'}")

    from owd.index.base import Filters, SearchQuery
    from owd.index.build import index_campaign
    from owd.index.embedded import EmbeddedBackend

    if cfg.embeddings.enabled:
        import time

        from owd.campaign_steps import EmbedDocuments
        from owd.executors import LocalExecutor

        started = time.monotonic()
        with LocalExecutor(cfg.embeddings.workers or None) as executor:
            counts = EmbedDocuments().run(cfg, [], executor)
        print(f"  vectors     {counts['embed/documents']} documents embedded in {time.monotonic() - started:.1f} s "
              f"({cfg.campaign_dir / 'vectors'})")

    with EmbeddedBackend(cfg.campaign_dir / "index" / "tantivy") as backend:
        from owd.pools.rules import pool_membership

        annotate, pools_key = pool_membership(cfg.pools)
        indexed = index_campaign(cfg.campaign_dir / "docs", backend, cfg.campaign_dir / "index" / "state-embedded.json",
                                 annotate=annotate, annotate_key=pools_key)
        print(f"  index       {indexed.total} documents searchable ({cfg.campaign_dir / 'index'})")
        query = SearchQuery(text="zdravje", filters=Filters(langs=["sl"], domains=[".si"]), page_size=3)
        result = backend.search(query)
        semantic = None
        if backend.has_vectors():
            # meaning crosses languages: a Slovenian word finds health pages in every language
            semantic = backend.search(SearchQuery(text="zdravje", mode="semantic", page_size=5))
    print()
    print(f'owd demo: example search  owd search "zdravje" --lang sl --domain .si  ->  {result.total} result(s) '
          f"in {result.took_ms:.1f} ms")
    for hit in result.hits:
        print(f"  {hit.title}  <{hit.url}>")
    if semantic is not None:
        print(f'owd demo: by meaning  owd search "zdravje" --mode semantic  ->  top 5 in {semantic.took_ms:.1f} ms, '
              f"languages {', '.join(sorted({h.lang or '?' for h in semantic.hits}))}")
        for hit in semantic.hits:
            print(f"  [{hit.lang}] {hit.title}  <{hit.url}>")

    from owd.pools.build import build_pools

    pooled = build_pools(cfg)
    print()
    print(f"owd demo: pools  {', '.join(f'{n} {c} docs' for n, c in pooled.documents.items()) or 'none'} "
          f"in {cfg.campaign_dir / 'pools'} (Croissant, DCAT-AP, AI Act summary beside each); "
          f"try `owd pools show {config_path} {cfg.pools[0].name if cfg.pools else '<pool>'}`")
    for pool in cfg.pools:
        if pool.kind == "image-text":
            print(f"owd demo: image-text pool {pool.name}: {pooled.documents.get(pool.name, 0)} image-text pairs; "
                  f"`owd pools show {config_path} {pool.name}` writes a contact sheet to look at")

    from owd.pools.catalog import catalog_graph, datasets_of, write_catalog
    from owd.serve import DEFAULT_PORT

    # the site's DCAT-AP catalogue, as `owd serve` publishes it at /catalog on its default port
    base = f"http://127.0.0.1:{DEFAULT_PORT}/"
    catalogue = catalog_graph([cfg], base)
    files = write_catalog(catalogue, cfg.campaign_dir.parent / "catalog")
    print(f"owd demo: catalogue  {len(datasets_of(catalogue))} dataset(s), DCAT-AP 3: {files[0]} (and .ttl); "
          f"`owd serve --config {config_path}` serves it at {base}catalog with the pool files")
    return 0 if summary.warc_files else 1
