"""``owd ingest``: other open web collections as input of a campaign.

For each ``ingest:`` source of the campaign file, the files it names are fetched into
``<campaign>/ingest/<source>/`` (owd.crawler.ingest: resumable, checksummed; a CDXJ
source fetches only the records its selection picks, by byte range). Then ``owd
process`` treats every file there as one more shard (owd/process.py), through the same
steps as owd's own WARC files: WARC records are extracted like crawled pages;
collections already extracted by others (FineWeb-2 Parquet, HPLT JSONL, WET) are mapped
into the document schema (owd.extract.collections) and then identified, filtered,
pseudonymised and deduplicated together with the crawl's documents. Every ingested
document names its ``source`` and ``source_record``; pools leave it out unless they
accept rights owd could not check (``unknown_rights: include``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Callable

from owd.core.config import CampaignConfig

__all__ = ["ingest_campaign", "ingest_dir", "INGEST_DIR"]

INGEST_DIR = "ingest"


def ingest_dir(cfg: CampaignConfig) -> Path:
    return cfg.campaign_dir / INGEST_DIR


def _every_few_seconds(say: Callable[[str], None], records: bool) -> Callable[[str, int, int | None], None]:
    """The fetchers report (file, done, total) often; a line every 2 s and at each file's end."""
    import time

    last = [0.0]
    unit = "records" if records else "bytes"

    def report(name: str, done: int, total: int | None) -> None:
        if time.monotonic() - last[0] >= 2 or (total is not None and done >= total):
            last[0] = time.monotonic()
            say(f"ingest: {name}: {done:,}{f' of {total:,}' if total is not None else ''} {unit}")

    return report


def ingest_campaign(cfg: CampaignConfig, *, only: list[str] | None = None,
                    progress: Callable[[str], None] = lambda line: None) -> Counter[str]:
    """Fetch every ingest source (or the ``only`` ones) of the campaign; the counters of all."""
    from owd.crawler.ingest import fetch_cdxj_selection, fetch_files

    unknown = sorted(set(only or []) - {s.name for s in cfg.ingest})
    if unknown:
        raise ValueError(f"no ingest source {unknown[0]!r} in the campaign (it has: "
                         f"{', '.join(s.name for s in cfg.ingest) or 'none'})")
    total: Counter[str] = Counter()
    for src in cfg.ingest:
        if only and src.name not in only:
            continue
        dest = ingest_dir(cfg) / src.name
        dest.mkdir(parents=True, exist_ok=True)
        progress(f"ingest: {src.name} ({src.kind})")
        fetch = fetch_cdxj_selection if src.kind == "cdxj" else fetch_files
        counts = fetch(src, cfg.base_dir, dest, allow_networks=cfg.network.allow_networks,
                       progress=_every_few_seconds(progress, src.kind == "cdxj"))
        total.update({f"{src.name}/{k}": v for k, v in counts.items()})
        total.update(counts)
    return total
