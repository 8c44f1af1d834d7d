"""The media step: every media item a page references and the WARC holds, as a row of
``media/<shard>.parquet`` (:data:`owd.core.media_schema.MEDIA_SCHEMA`).

Why a table of its own: image-text, audio, video and interleaved pools are built from
media items with their text, not from documents, and a media file's facts (sniffed
type, dimensions, duration, codecs, sha256, perceptual hash) cost a decode that must
happen once per file, not once per pool.

How, per shard: before the first document passes, one pass over the WARC's media
records probes each (owd.extract.media_probe), keeping only the small facts by URL
(the bytes stay in the WARC; memory is ~300 bytes per media record, never the file).
Then each document is handed on unchanged while its media items that the WARC holds
become rows, written in row groups as they come. A media record that does not
probe (empty, truncated, not media at all) is counted once under
``extract/media/broken/<reason>`` and gives no row.

Rights: a row carries the page's signals (noai, noimageai, TDMRep) and the media
fetch's own (the TDMRep verdict of the media URL's origin and headers, as the crawler
recorded it), and ``reserved`` names the first that reserves it, so pools leave it
out by default exactly as for text. A page whose images are reserved (noimageai)
keeps its text: only the media rows are marked.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from owd.core.cdxj import read_record
from owd.core.config import CampaignConfig, MediaStoreConfig
from owd.core.media_schema import MEDIA_SCHEMA
from owd.core.schema import Document
from owd.core.step import DocumentStep, Shard
from owd.extract.media import media_key, media_kind_of_mime
from owd.extract.media_probe import MediaProbe, ProbeError, probe_media, sniff_mime
from owd.extract.rights import rights_signals
from owd.extract.shard import is_fetched_content, media_keys
from owd.extract.warc_reader import FetchRecord, read_warc

__all__ = ["MediaStep", "MediaRecord", "probe_warc_media", "media_dir", "reserved_reason", "webvtt_text"]

_PREFIX = "extract/media/"
_ROW_GROUP = 1000
_ROW_GROUP_BYTES = 64 * 2**20
_UNLABELLED = frozenset({None, "application/octet-stream", "binary/octet-stream", "application/x-unknown",
                         "application/unknown"})


def media_dir(cfg: CampaignConfig) -> Path:
    return cfg.campaign_dir / "media"


@dataclass(frozen=True)
class MediaRecord:
    """One probed media record of the WARC: where it is, what it is, its fetch's rights."""

    probe: MediaProbe
    declared_mime: str | None
    warc_offset: int
    warc_length: int
    fetch_time: Any
    noai: bool | None
    tdm_reservation: bool | None
    tdm_policy: str | None

    def rank(self) -> tuple[str, str]:
        """Among records of one URL (a refetch), the latest fetch wins, then the digest."""
        return self.fetch_time.isoformat() if self.fetch_time else "", self.probe.sha256


def _is_media_record(rec: FetchRecord) -> bool:
    if not is_fetched_content(rec):
        return False
    # Declared media, or bytes that say media under a label that says nothing (octet-stream);
    # text types are never sniffed (a frame-sync pattern turns up in text by chance).
    return media_kind_of_mime(rec.mime) is not None or (rec.mime in _UNLABELLED
                                                       and sniff_mime(rec.body[:64]) is not None)


_VTT_TAG = re.compile(r"<[^>]*>")


def webvtt_text(data: bytes) -> str:
    """The cues' text of a WebVTT file, one cue per line: the header, NOTE/STYLE/REGION
    blocks, cue identifiers, timings and markup tags left out."""
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    cues = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.split("\n") if line.strip()]
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue  # the WEBVTT header, NOTE, STYLE, REGION
        cue = " ".join(html.unescape(_VTT_TAG.sub("", line)).strip() for line in lines[timing + 1:])
        if cue.strip():
            cues.append(cue.strip())
    return "\n".join(cues)


def _is_track_record(rec: FetchRecord) -> bool:
    return is_fetched_content(rec) and (rec.mime == "text/vtt" or rec.body[:6] == b"WEBVTT")


def probe_warc_media(path: Path, stats: Counter[str], max_bytes: int,
                     tracks: dict[str, str] | None = None) -> dict[str, MediaRecord]:
    """The probed media records of one WARC by every URL they answer (a redirect chain's
    URLs included), counted; broken ones are counted by reason and left out. WebVTT
    caption files go into ``tracks`` (URL key -> the cues' text) when it is given."""
    out: dict[str, MediaRecord] = {}
    ignore: Counter[str] = Counter()  # the record-level counts belong to the extract pass
    for rec in read_warc(Path(path), ignore):
        if tracks is not None and _is_track_record(rec):
            tracks[media_key(rec.url)] = webvtt_text(rec.body)
            stats[_PREFIX + "text_tracks"] += 1
            continue
        if not _is_media_record(rec):
            continue
        stats[_PREFIX + "probed"] += 1
        if rec.truncated is not None:
            stats[_PREFIX + "broken/truncated"] += 1
            continue
        try:
            probe = probe_media(rec.body, max_bytes=max_bytes)
        except ProbeError as e:
            stats[f"{_PREFIX}broken/{e.reason}"] += 1
            continue
        rights = rights_signals(rec.crawl_meta, rec.http_headers, b"", Counter())
        record = MediaRecord(probe, rec.mime, rec.warc_offset, rec.warc_length, rec.fetch_time,
                             rights.robots_noai, rights.tdm_reservation, rights.tdm_policy)
        stats[f"{_PREFIX}kind/{probe.kind}"] += 1
        for key in media_keys(rec):  # a redirected fetch answers every URL of its chain
            known = out.get(key)
            if known is None or record.rank() > known.rank():
                out[key] = record
    return out


def reserved_reason(kind: str, doc: Document, record: MediaRecord) -> str | None:
    """Why a media item may not be used by default (None: it may). The page's reservation
    covers what it shows; the media origin's covers the file wherever it is shown."""
    if doc.tdm_reservation is True:
        return "page_tdm_reservation"
    if doc.robots_noai is True:
        return "page_noai"
    if kind == "image" and doc.robots_noimageai is True:
        return "page_noimageai"
    if record.tdm_reservation is True:
        return "media_tdm_reservation"
    if record.noai is True:
        return "media_noai"
    return None


class _MediaWriter:
    """Rows into ``media/<shard>.parquet`` in row groups, under a temporary name until done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(path.name + ".tmp")
        self._writer = pq.ParquetWriter(self.tmp, MEDIA_SCHEMA, compression="zstd")
        self._rows: list[dict[str, Any]] = []
        self._bytes = 0
        self.rows = 0

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        self._bytes += len(row["content"] or b"")
        # a row group ends at 1,000 rows or, with the bytes stored, at ~64 MB of them
        if len(self._rows) >= _ROW_GROUP or self._bytes >= _ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=MEDIA_SCHEMA))
            self.rows += len(self._rows)
            self._rows, self._bytes = [], 0

    def commit(self) -> None:
        self._flush()
        self._writer.close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        self._writer.close()
        self.tmp.unlink(missing_ok=True)


class MediaStep(DocumentStep):
    """Writes ``media/<shard>.parquet`` and passes the documents on unchanged (see the module
    docstring). Off with ``process.media.enabled: false``."""

    name = "media"
    # (broken/<reason> is counted when it happens, as extract/skipped/<reason> is)
    counters = tuple(_PREFIX + c for c in ("probed", "rows", "reserved"))

    def __init__(self, out_dir: Path, config: MediaStoreConfig) -> None:
        self.out_dir = out_dir
        self.config = config

    @classmethod
    def from_config(cls, cfg: CampaignConfig) -> "MediaStep":
        return cls(media_dir(cfg), cfg.process.media)

    def run(self, docs: Iterable[Document], shard: Shard, stats: Counter[str]) -> Iterator[Document]:
        from owd.extract.collections import collection_format

        # no table: a media pool built later says it has no input; a collection extracted
        # by others (owd ingest) holds no media records to probe
        if not self.config.enabled or collection_format(shard.warc) is not None:
            (self.out_dir / f"{shard.id}.parquet").unlink(missing_ok=True)
            yield from docs
            return
        tracks: dict[str, str] = {}
        records = probe_warc_media(shard.warc, stats, int(self.config.max_bytes), tracks)
        out = _MediaWriter(self.out_dir / f"{shard.id}.parquet")
        try:
            for doc in docs:
                for position, item in enumerate(doc.media):
                    record = records.get(media_key(item.url))
                    if record is not None:
                        out.add(self._row(doc, position, item, record, shard, stats, tracks))
                yield doc
        except BaseException:
            out.abort()
            raise
        out.commit()
        stats[_PREFIX + "rows"] += out.rows

    def _row(self, doc: Document, position: int, item: Any, record: MediaRecord, shard: Shard,
             stats: Counter[str], tracks: dict[str, str]) -> dict[str, Any]:
        probe = record.probe
        reserved = reserved_reason(probe.kind, doc, record)
        if reserved:
            stats[_PREFIX + "reserved"] += 1
        content = None
        if self.config.store == "bytes":
            content = read_record(shard.warc, record.warc_offset, record.warc_length, decode=True).payload
        return {
            "media_id": hashlib.sha1(f"{doc.id}\n{item.url}".encode()).hexdigest(),
            "url": item.url, "kind": probe.kind, "mime": probe.mime, "declared_mime": record.declared_mime,
            "size": probe.size, "sha256": probe.sha256, "width": probe.width, "height": probe.height,
            "duration": probe.duration, "codecs": probe.codecs, "channels": probe.channels,
            "sample_rate": probe.sample_rate, "phash": probe.phash,
            "warc_file": shard.warc.name, "warc_offset": record.warc_offset, "warc_length": record.warc_length,
            "content": content, "fetch_time": record.fetch_time,
            "alt": item.alt, "caption": item.caption, "context": item.context,
            "position": position,
            # lang and kind are the <track> element's, which the page's references do not keep
            "text_tracks": [{"url": url, "lang": None, "kind": None, "text": tracks[media_key(url)]}
                            for url in item.tracks or [] if media_key(url) in tracks],
            "parent_id": doc.id, "parent_url": doc.url, "parent_host": doc.host, "parent_domain": doc.domain,
            "parent_lang": doc.lang, "parent_title": doc.title, "parent_license_url": doc.license_url,
            "parent_drop_reason": doc.drop_reason,
            "page_noai": doc.robots_noai, "page_noimageai": doc.robots_noimageai,
            "page_tdm_reservation": doc.tdm_reservation, "media_noai": record.noai,
            "media_tdm_reservation": record.tdm_reservation, "media_tdm_policy": record.tdm_policy,
            "reserved": reserved, "dup_cluster_id": None, "dup_cluster_size": None,
        }
