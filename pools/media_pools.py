"""Media pools: ``kind: image-text | audio | video | interleaved`` pools built from the
campaign's media tables (``media/*.parquet``, owd/extract/media_step.py).

Layout, under ``<campaign>/pools/<pool>/``::

    data/part-00000.parquet          image-text: IMAGE_TEXT_SCHEMA (HF ``Image()`` column);
                                     audio/video: AV_SCHEMA; interleaved: INTERLEAVED_SCHEMA
    webdataset/<pool>-000000.tar     image-text with ``webdataset: true``: <key>.<ext> + <key>.json
    manifest.json, croissant.json, dcat.jsonld, summary.json

Rules (every rule an AND, as for document pools, pools/rules.py): ``languages`` on the
page's language; ``tlds``/``domains``/``url_patterns`` on the page's host and URL;
``licenses`` on the page's licence; ``keywords`` on the caption, alt and surrounding
text; the media rules (``min_width``, ``min_height``, ``min_aspect``/``max_aspect`` as
width/height, ``mimes`` on the sniffed type, ``max_size``, ``min_caption_length``);
``tdm``: rows whose page or media origin reserved their use (``reserved`` in the media
table: TDMRep of either, the page's ``noai``, the page's ``noimageai`` for images) are
left out unless ``tdm: include``, and the cards count them either way.

One row per duplicate cluster (owd.dedup.media_clusters: the same file, or for images
a resized or re-encoded copy): the one with the longest caption, ties by key, so a
trainer does not see one picture a hundred times. Rows are in media-table order. The caption of a row is the
figure's caption, else the alt text, else the surrounding text.

Bytes come from the media table when it stores them, else from the WARC record it
points at. Rebuilt only when its inputs (the media tables, the rule) change.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from owd.core.cdxj import read_record
from owd.core.config import CampaignConfig, PoolConfig
from owd.core.done import file_sha256, files_fingerprint, fingerprint
from owd.core.media_schema import AV_SCHEMA, IMAGE_TEXT_SCHEMA, INTERLEAVED_SCHEMA, MEDIA_SCHEMA, hf_features
from owd.core.pool_checks import strip_scheme
from owd.pools.rules import _domain_test, _keyword_regex

__all__ = ["MEDIA_FORMAT", "build_media_pool", "media_rows", "is_media_pool", "caption_of", "pool_tables",
           "staged_build", "is_current"]

log = logging.getLogger(__name__)

MEDIA_FORMAT = "owd-media-pools/1"
# Row groups end at 500 rows or ~64 MB of media bytes, whichever comes first: a reader (and
# this writer) holds one group, and a video pool's rows can be tens of MB each.
_ROWS_PER_GROUP = 500
_GROUP_BYTES = 64 * 2**20
_ROWS_PER_FILE = 10_000
_KIND = {"image-text": "image", "audio": "audio", "video": "video", "interleaved": "image"}
_META_COLUMNS = [f.name for f in MEDIA_SCHEMA if f.name != "content"]


def is_media_pool(pool: PoolConfig) -> bool:
    return pool.kind != "documents"


def caption_of(row: dict[str, Any]) -> str | None:
    """The text that goes with a media item: its figure caption, alt text or surrounding text."""
    for name in ("caption", "alt", "context"):
        value = (row.get(name) or "").strip()
        if value:
            return value
    return None


class _MediaRule:
    """A media pool's rules compiled once; :meth:`reject_reason` is None for a member row."""

    def __init__(self, pool: PoolConfig) -> None:
        self.pool = pool
        self.kind = _KIND[pool.kind]
        self.languages = frozenset(pool.languages)
        self.tlds = tuple(t.strip().lower().lstrip(".") for t in pool.tlds)
        self.domains = tuple(_domain_test(d) for d in pool.domains)
        import re

        self.url_patterns = tuple(re.compile(p) for p in pool.url_patterns)
        self.keywords = _keyword_regex(pool.keywords) if pool.keywords else None
        self.licenses = tuple(strip_scheme(p) for p in pool.licenses)
        self.mimes = tuple(m.strip().lower() for m in pool.mimes)

    def reject_reason(self, row: dict[str, Any]) -> str | None:
        p = self.pool
        if row["kind"] != self.kind:
            return "kind"
        if self.languages and row["parent_lang"] not in self.languages:
            return "languages"
        host = (row["parent_host"] or "").lower()
        if self.tlds and not any(host == t or host.endswith("." + t) for t in self.tlds):
            return "tlds"
        if self.domains and not any(test(host, (row["parent_domain"] or "").lower() or None) for test in self.domains):
            return "domains"
        if self.url_patterns and not any(rx.search(row["parent_url"]) for rx in self.url_patterns):
            return "url_patterns"
        lic = row["parent_license_url"]
        if self.licenses and (not lic or not strip_scheme(lic).startswith(self.licenses)):
            return "licenses"
        if self.mimes and not (row["mime"] or "").startswith(self.mimes):
            return "mimes"
        if p.max_size is not None and (row["size"] or 0) > int(p.max_size):
            return "max_size"
        width, height = row["width"] or 0, row["height"] or 0
        if width < p.min_width or height < p.min_height:
            return "dimensions"
        if (p.min_aspect is not None or p.max_aspect is not None) and self.kind in ("image", "video"):
            aspect = width / height if height else 0.0
            if (p.min_aspect is not None and aspect < p.min_aspect) or (p.max_aspect is not None and aspect > p.max_aspect):
                return "aspect"
        caption = caption_of(row) or ""
        if len(caption) < p.min_caption_length:
            return "min_caption_length"
        if self.keywords is not None:
            text = " ".join(v for v in (row["caption"], row["alt"], row["context"]) if v).casefold()
            if not self.keywords.search(text):
                return "keywords"
        if row["reserved"] and p.tdm != "include":
            return "tdm"
        return None


def _media_files(cfg: CampaignConfig) -> list[Path]:
    return sorted((cfg.campaign_dir / "media").glob("*.parquet"))


def media_rows(cfg: CampaignConfig) -> Iterator[dict[str, Any]]:
    """Every media row of the campaign without its bytes, file by file, row group by row group."""
    for path in _media_files(cfg):
        source = pq.ParquetFile(path)
        for i in range(source.num_row_groups):
            yield from source.read_row_group(i, columns=_META_COLUMNS).to_pylist()


def _warc_paths(cfg: CampaignConfig) -> dict[str, Path]:
    return {p.name: p for p in (cfg.campaign_dir / "warc").rglob("*.warc*") if p.suffix != ".cdxj"}


class _BytesReader:
    """A media row's bytes: from its media table when stored there, else from the WARC."""

    def __init__(self, cfg: CampaignConfig) -> None:
        self.warcs = _warc_paths(cfg)
        self.failed: Counter[str] = Counter()

    def read(self, row: dict[str, Any]) -> bytes | None:
        path = self.warcs.get(row["warc_file"])
        if path is None:
            self.failed["warc_missing"] += 1
            return None
        try:
            return read_record(path, row["warc_offset"], row["warc_length"], decode=True).payload
        except (OSError, ValueError, StopIteration) as e:
            log.warning("pools: cannot read %s at %s: %s", path.name, row["warc_offset"], e)
            self.failed["warc_unreadable"] += 1
            return None


def _image_text_row(row: dict[str, Any], data: bytes) -> dict[str, Any]:
    return {"key": row["media_id"], "image": {"bytes": data, "path": None}, "caption": caption_of(row),
            "alt": row["alt"], "context": row["context"], "url": row["url"], "page_url": row["parent_url"],
            "lang": row["parent_lang"], "mime": row["mime"], "width": row["width"], "height": row["height"],
            "size": row["size"], "sha256": row["sha256"],
            "phash": f"{row['phash']:016x}" if row["phash"] is not None else None,
            "license_url": row["parent_license_url"], "dup_cluster_id": row["dup_cluster_id"],
            "dup_cluster_size": row["dup_cluster_size"]}


def _av_row(row: dict[str, Any], data: bytes) -> dict[str, Any]:
    return {"key": row["media_id"], "media": data, "kind": row["kind"], "mime": row["mime"], "url": row["url"],
            "page_url": row["parent_url"], "lang": row["parent_lang"], "caption": caption_of(row),
            "context": row["context"], "duration": row["duration"], "codecs": row["codecs"],
            "channels": row["channels"], "sample_rate": row["sample_rate"], "width": row["width"],
            "height": row["height"], "size": row["size"], "sha256": row["sha256"],
            "text_tracks": row["text_tracks"], "license_url": row["parent_license_url"]}


def _interleaved_rows(rows: list[dict[str, Any]], cfg: CampaignConfig, reader: _BytesReader
                      ) -> Iterator[dict[str, Any]]:
    """One row per page: its title and text, then its images in page order, each with its
    caption as the text before it (OBELICS layout: at each position one of the two is null)."""
    from owd.core.schema import iter_parquet

    by_page: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_page.setdefault(row["parent_id"], []).append(row)
    for shard in sorted((cfg.campaign_dir / "docs").glob("*.parquet")):
        for batch in iter_parquet(shard):
            for doc in batch:
                items = sorted(by_page.get(doc.id, []), key=lambda r: r["position"])
                if not items or doc.drop_reason:
                    continue
                texts: list[str | None] = [doc.text]
                images: list[dict[str, Any] | None] = [None]
                urls: list[str | None] = [None]
                for item in items:
                    data = reader.read(item)
                    if data is None:
                        continue
                    caption = caption_of(item)
                    if caption:
                        texts.append(caption)
                        images.append(None)
                        urls.append(None)
                    texts.append(None)
                    images.append({"bytes": data, "path": None})
                    urls.append(item["url"])
                yield {"key": doc.id, "url": doc.url, "lang": doc.lang, "texts": texts, "images": images,
                       "image_urls": urls, "license_url": doc.license_url}


def _pool_fingerprint(cfg: CampaignConfig, pool: PoolConfig) -> str:
    return fingerprint("media pool", MEDIA_FORMAT, pa.__version__, files_fingerprint(_media_files(cfg)),
                       asdict(pool), cfg.campaign)


def build_media_pool(cfg: CampaignConfig, pool: PoolConfig, folder: Path, *,
                     progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Build one media pool into ``folder`` (a staging folder the caller swaps in); its manifest."""
    from owd.pools.media_cards import write_media_cards

    rule = _MediaRule(pool)
    stats: Counter[str] = Counter()
    members = 0
    # One row per duplicate cluster: cluster -> (caption length, media_id) of the best row so
    # far (longest caption, then the smaller key). Only these small tuples are held; the
    # rows are read again below (an interleaved pool keeps its rows: it groups them by page).
    best: dict[str, tuple[int, str]] = {}
    page_rows: list[dict[str, Any]] = []
    for row in media_rows(cfg):
        stats[f"seen/{row['kind']}"] += 1
        reason = rule.reject_reason(row)
        if reason == "tdm":
            stats[f"reserved_excluded/{row['reserved']}"] += 1
        elif reason is None and row["reserved"]:
            stats[f"reserved_included/{row['reserved']}"] += 1
        if reason is not None:
            if reason != "kind":
                stats[f"left_out/{reason}"] += 1
            continue
        members += 1
        if pool.kind == "interleaved":
            page_rows.append(row)
            continue
        cluster = row["dup_cluster_id"] or row["sha256"] or row["media_id"]
        mine, known = (len(caption_of(row) or ""), row["media_id"]), best.get(cluster)
        if known is None or mine[0] > known[0] or (mine[0] == known[0] and mine[1] < known[1]):
            best[cluster] = mine
    keep = {media_id for _, media_id in best.values()}
    stats["duplicates_left_out"] = 0 if pool.kind == "interleaved" else members - len(keep)
    reader = _BytesReader(cfg)
    schema, images = {"image-text": (IMAGE_TEXT_SCHEMA, {"image": "Image"}), "audio": (AV_SCHEMA, {}),
                      "video": (AV_SCHEMA, {}), "interleaved": (INTERLEAVED_SCHEMA, {"images": "Sequence(Image)"})
                      }[pool.kind]
    schema = schema.with_metadata({**hf_features(schema, images), b"owd.pool_format": MEDIA_FORMAT.encode()})
    if pool.kind == "interleaved":
        out_rows: Iterator[dict[str, Any]] = _interleaved_rows(page_rows, cfg, reader)
    else:  # in media-table order (shard by shard): deterministic, and no sort of the pool in memory
        make = _image_text_row if pool.kind == "image-text" else _av_row
        out_rows = (make(r, d) for r in media_rows(cfg) if r["media_id"] in keep and (d := reader.read(r)) is not None)
    files = _write_rows(out_rows, schema, folder / "data")
    stats.update({f"unreadable/{k}": n for k, n in reader.failed.items()})
    manifest: dict[str, Any] = {"format": MEDIA_FORMAT, "pool": pool.name, "kind": pool.kind, "campaign": cfg.campaign,
                                "fingerprint": _pool_fingerprint(cfg, pool), "files": files,
                                "documents": sum(f["rows"] for f in files), "bytes": sum(f["bytes"] for f in files)}
    if pool.webdataset:
        from owd.pools.media_output import write_webdataset

        tars = write_webdataset(_tables(folder / "data"), folder / "webdataset", pool.name)
        manifest["webdataset"] = [{"path": t.relative_to(folder).as_posix(), "bytes": t.stat().st_size,
                                   "sha256": file_sha256(t)} for t in tars]
    manifest["stats"] = dict(sorted(stats.items()))
    write_media_cards(folder, pool, cfg, manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    progress(f"pools: {pool.name} ({pool.kind}): {manifest['documents']} rows")
    return manifest


def pool_tables(folder: Path) -> Iterator[pa.Table]:
    """A built media pool's rows, row group by row group."""
    return _tables(folder / "data")


def _payload_bytes(row: dict[str, Any]) -> int:
    """The media bytes a pool row carries (images of an interleaved row included)."""
    if row.get("image"):
        return len(row["image"]["bytes"] or b"")
    if row.get("media"):
        return len(row["media"])
    return sum(len(i["bytes"] or b"") for i in row.get("images") or [] if i)


def _tables(data_dir: Path) -> Iterator[pa.Table]:
    for path in sorted(data_dir.glob("*.parquet")):
        source = pq.ParquetFile(path)
        for i in range(source.num_row_groups):
            yield source.read_row_group(i)


def _write_rows(rows: Iterator[dict[str, Any]], schema: pa.Schema, out: Path) -> list[dict[str, Any]]:
    out.mkdir(parents=True, exist_ok=True)
    files: list[dict[str, Any]] = []
    writer: pq.ParquetWriter | None = None
    pending: list[dict[str, Any]] = []
    in_file = 0

    def close() -> None:
        nonlocal writer, in_file
        if writer is not None:
            writer.close()
            path = out / f"part-{len(files):05d}.parquet"
            files.append({"path": path.relative_to(out.parent).as_posix(), "rows": in_file,
                          "bytes": path.stat().st_size, "sha256": file_sha256(path)})
            writer, in_file = None, 0

    def flush() -> None:
        nonlocal writer, in_file, pending
        if not pending:
            return
        if writer is None:
            writer = pq.ParquetWriter(out / f"part-{len(files):05d}.parquet", schema, compression="zstd")
        writer.write_table(pa.Table.from_pylist(pending, schema=schema))
        in_file += len(pending)
        pending = []
        if in_file >= _ROWS_PER_FILE:
            close()

    pending_bytes = 0
    for row in rows:
        pending.append(row)
        pending_bytes += _payload_bytes(row)
        if len(pending) >= _ROWS_PER_GROUP or pending_bytes >= _GROUP_BYTES:
            flush()
            pending_bytes = 0
    flush()
    close()
    return files


def staged_build(cfg: CampaignConfig, pool: PoolConfig, out: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    """Build into a staging folder, then swap it in (readers see the old pool or the new one)."""
    staging = out / f".staging-media-{os.getpid()}" / pool.name
    shutil.rmtree(staging, ignore_errors=True)
    manifest = build_media_pool(cfg, pool, staging, progress=progress)
    final = out / pool.name
    old = out / f".old-{pool.name}-{os.getpid()}"
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(staging.parent, ignore_errors=True)
    return manifest


def is_current(cfg: CampaignConfig, pool: PoolConfig, folder: Path) -> bool:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("fingerprint") == _pool_fingerprint(cfg, pool)
