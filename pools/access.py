"""``owd pools list|show|pull``: what is built, its card, and a local copy to train from."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from owd.core.config import CampaignConfig
from owd.pools.build import current_fingerprint, pools_dir, read_manifest
from owd.pools.media_pools import is_current, is_media_pool
from owd.core.errors import OwdError

__all__ = ["PoolError", "PoolInfo", "list_pools", "load_summary", "format_summary", "pull_pool",
           "load_instructions", "example_language"]


class PoolError(OwdError, ValueError):
    """A pool that is not there, or a language it does not have (a usage error)."""


@dataclass
class PoolInfo:
    name: str
    configured: bool  # still defined in the campaign file
    status: str  # "up to date", "stale" (inputs or rules changed since), "not built"
    documents: int = 0
    bytes: int = 0
    languages: dict[str, int] | None = None  # rows per language
    kind: str = "documents"  # or a media pool's kind (image-text, audio, video, interleaved)


def list_pools(cfg: CampaignConfig) -> list[PoolInfo]:
    """Every configured pool, built or not, and any built pool no longer configured."""
    out = pools_dir(cfg)
    fingerprint = current_fingerprint(cfg)
    names = [p.name for p in cfg.pools]
    if out.is_dir():
        names += sorted(d.name for d in out.iterdir()
                        if d.is_dir() and not d.name.startswith(".") and d.name not in names
                        and read_manifest(d) is not None)
    infos = []
    for name in names:
        manifest = read_manifest(out / name)
        configured = any(p.name == name for p in cfg.pools)
        if manifest is None:
            infos.append(PoolInfo(name, configured, "not built"))
            continue
        langs: dict[str, int] = {}
        for f in manifest["files"]:
            if "lang" in f:  # media pools are not partitioned by language
                langs[f["lang"]] = langs.get(f["lang"], 0) + f["rows"]
        remote = _remote_record(out / name)
        pool = next((p for p in cfg.pools if p.name == name), None)
        if remote is not None:
            current, configured = True, False
        elif pool is not None and is_media_pool(pool):
            current = is_current(cfg, pool, out / name)
        else:
            current = manifest["fingerprint"] == fingerprint
        status = "up to date" if current and configured else "stale"
        if remote is not None:
            status = f"remote (from {remote.get('publisher', {}).get('name', '?')}, pulled {remote.get('pulled', '?')})"
        infos.append(PoolInfo(name, configured, status, manifest["documents"], manifest["bytes"], langs,
                              manifest.get("kind", "documents")))
    return infos


def _remote_record(folder: Path) -> dict[str, Any] | None:
    """:func:`owd.pools.catalog.read_remote_record`, None for an unreadable record too
    (the listing shows such a pool as a local one rather than failing)."""
    from owd.pools.catalog import read_remote_record

    try:
        return read_remote_record(folder)
    except ValueError:
        return None


def _built(cfg: CampaignConfig, name: str) -> tuple[Path, dict[str, Any]]:
    folder = pools_dir(cfg) / name
    manifest = read_manifest(folder)
    if manifest is None:
        known = [i.name for i in list_pools(cfg) if i.status != "not built"]
        raise PoolError(f"pool {name!r} is not built under {pools_dir(cfg)} "
                        f"(built: {', '.join(known) or 'none'}; run `owd pools build`)")
    return folder, manifest


def load_summary(cfg: CampaignConfig, name: str) -> dict[str, Any]:
    folder, _ = _built(cfg, name)
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def format_media_summary(s: dict[str, Any]) -> str:
    """A media pool's summary card (pools/media_cards.py) as a few readable lines."""
    g, r = s["general"], s["rights_reservations"]
    excluded = sum(r["excluded_by_signal"].values())
    return "\n".join([
        f"pool {s['pool']} ({s['kind']}, campaign {s['campaign']})",
        f"  size         {g['samples']} samples, {g['parquet_bytes'] / 1e6:.2f} MB Parquet"
        + (f", {g['webdataset_bytes'] / 1e6:.2f} MB WebDataset" if g["webdataset_bytes"] else ""),
        f"  media seen   " + (", ".join(f"{k} {v}" for k, v in s["crawled_sources"]["media_in_campaign_by_kind"].items())
                              or "-"),
        f"  TDM          policy {r['policy']}: {r['treatment']}; {excluded} left out for rights "
        f"({r['share_left_out_for_rights']:.1%}) " + (str(r["excluded_by_signal"]) if excluded else ""),
        f"  dedup        {s['processing']['deduplication']}; {s['processing']['duplicates_left_out']} left out",
        f"  left out     " + (", ".join(f"{k} {v}" for k, v in s["left_out_by_rule"].items()) or "-"),
    ])


def format_summary(s: dict[str, Any]) -> str:
    """The summary card as a few readable lines."""
    if s.get("kind", "documents") != "documents":
        return format_media_summary(s)
    g, src, r = s["general"], s["crawled_sources"], s["rights_reservations"]
    period = src["collection_period"]
    langs = ", ".join(f"{k} {v['documents']}" for k, v in g["languages"].items())
    top = ", ".join(f"{d['domain']} {d['share']:.1%}" for d in src["top_domains"][:10])
    lines = [
        f"pool {s['pool']} (campaign {s['campaign']}): {s['description'] or '-'}",
        f"  size         {g['documents']} documents, {g['text_bytes'] / 1e6:.2f} MB text, ~{g['approx_tokens']} tokens "
        f"({g['approx_tokens_method']}), {g['parquet_bytes'] / 1e6:.2f} MB Parquet",
        f"  languages    {langs or '-'}",
        f"  crawl        {period['start'] or '-'} .. {period['end'] or '-'} by {src['crawler']['user_agent']} "
        f"({src['crawler']['contact_url']}), robots.txt {'obeyed' if src['crawler']['obeys_robots_txt'] else 'ignored'}",
        f"  top domains  {top or '-'} ({src['domains_total']} domains; {src['top_domains_rule']})",
        f"  TDM          policy {r['policy']}: {r['treatment']}; {r['reserved_documents']} reserved documents "
        f"matched the other rules ({r['share_of_matching_content']:.1%} of matching text), "
        f"{r['in_pool']['documents']} in the pool",
        f"  licenses     " + (", ".join(f"{k} {v}" for k, v in s["licenses"].items()) or "-"),
        f"  quality      {s['processing']['quality_filters']}",
        f"  PII          {s['processing']['personal_data']}",
        f"  dedup        {s['processing']['deduplication']}",
        f"  left out     " + (", ".join(f"{k} {v}" for k, v in s["left_out_by_rule"].items()) or "-"),
    ]
    return "\n".join(lines)


def pull_pool(cfg: CampaignConfig, name: str, dest: Path, langs: list[str] | None = None) -> Path:
    """Copy a pool (or only some ``lang=`` folders of it) with its cards to ``dest/<name>``.

    The copy is assembled under a temporary name and renamed into place, so ``dest/<name>``
    is either the previous copy or the complete new one. The cards describe the whole
    pool; a language slice keeps them (Croissant's ``lang=*/*.parquet`` then loads the slice).
    """
    folder, manifest = _built(cfg, name)
    if "kind" in manifest and langs:
        raise PoolError(f"pool {name!r} is a {manifest['kind']} pool: it has no language slices to pull "
                        "(pull it whole, without --lang)")
    have = sorted({f["lang"] for f in manifest["files"] if "lang" in f})
    for lang in langs or []:
        if lang not in have:
            raise PoolError(f"pool {name!r} has no language {lang!r} (it has: {', '.join(have) or 'none'})")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / name
    tmp = dest / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for f in [*manifest["files"], *manifest.get("webdataset", [])]:
        if langs and f["lang"] not in langs:
            continue
        target = tmp / f["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / f["path"], target)
    for card in ("croissant.json", "dcat.jsonld", "summary.json", "manifest.json"):
        shutil.copy2(folder / card, tmp / card)
    old = dest / f".{name}.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def _languages_held(folder: Path) -> dict[str, int]:
    """Documents per ``lang=<xx>`` partition actually present in a (pulled) pool folder."""
    held: dict[str, int] = {}
    for f in sorted(folder.glob("lang=*/*.parquet")):
        lang = f.parent.name.removeprefix("lang=")
        held[lang] = held.get(lang, 0) + pq.read_metadata(f).num_rows
    return held


def example_language(folder: Path) -> str | None:
    """The language of the folder with the most documents (ties: the first code), for the
    loading examples; None when the folder has no language partition."""
    held = _languages_held(folder)
    return min(held, key=lambda lang: (-held[lang], lang)) if held else None


def load_instructions(folder: Path, lang: str | None = None) -> str:
    """How to load a pool folder with pyarrow, DuckDB, Polars and HF datasets.

    The per-language examples use ``lang`` (the CLI passes the first ``--lang`` it
    pulled), else :func:`example_language`: a language the folder holds. A folder
    without language partitions (an empty pool) gets the examples without a filter.
    """
    manifest = read_manifest(folder) or {}
    if "kind" in manifest:
        return _media_load_instructions(folder, manifest)
    lang = lang or example_language(folder)
    f = folder.resolve().as_posix()
    pyarrow_filter = f".to_table(filter=ds.field('lang') == '{lang}')" if lang else ".to_table()"
    polars_filter = f".filter(pl.col('lang') == '{lang}')" if lang else ""
    lines = [
        f"load {f} with:",
        "  pyarrow   import pyarrow.dataset as ds   # exclude_invalid_files: skip the JSON cards",
        f"            t = ds.dataset('{f}', format='parquet', partitioning='hive', exclude_invalid_files=True)"
        + pyarrow_filter,
        "  DuckDB    import duckdb",
        f"            duckdb.sql(\"SELECT lang, count(*) FROM read_parquet('{f}/**/*.parquet', "
        "hive_partitioning=true) GROUP BY lang\")",
        "  Polars    import polars as pl",
        f"            df = pl.scan_parquet('{f}/**/*.parquet'){polars_filter}.collect()",
        "  datasets  from datasets import load_dataset",
        f"            d = load_dataset('parquet', data_files='{f}/**/*.parquet', split='train')",
    ]
    if lang:
        lines.append(f"            (one language: data_files='{f}/lang={lang}/*.parquet')")
    lines.append(f"  Croissant mlcroissant.Dataset(jsonld='{f}/croissant.json').records('documents')")
    return "\n".join(lines)


def _media_load_instructions(folder: Path, manifest: dict[str, Any]) -> str:
    f = folder.resolve().as_posix()
    lines = [
        f"load {f} ({manifest['kind']} pool) with:",
        "  datasets  from datasets import load_dataset",
        f"            d = load_dataset('parquet', data_files='{f}/data/*.parquet', split='train')"
        + ("   # d[0]['image'] is a PIL image" if manifest["kind"] == "image-text" else ""),
        "  pyarrow   import pyarrow.dataset as ds",
        f"            t = ds.dataset('{f}/data', format='parquet').to_table()",
    ]
    if manifest.get("webdataset"):
        lines += ["  webdataset import webdataset as wds, glob",
                  f"            d = wds.WebDataset(sorted(glob.glob('{f}/webdataset/*.tar')), "
                  "shardshuffle=False).decode('pil')"]
    lines.append(f"  Croissant mlcroissant.Dataset(jsonld='{f}/croissant.json').records('samples')")
    return "\n".join(lines)
