"""Provenance of WARC records that came from another collection (owd ingest).

A WARC file fetched whole keeps its name, and a record's place in it names the record.
A file assembled from byte ranges of other files (a CDXJ selection, owd.crawler.ingest)
has a sidecar ``<file>.origin.jsonl`` that names, for each record's offset in the local
file, the source file and the offset there: the record as Common Crawl's index names it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from owd.core.schema import Document

__all__ = ["read_origins", "with_source", "ORIGIN_SUFFIX"]

log = logging.getLogger(__name__)

ORIGIN_SUFFIX = ".origin.jsonl"


def read_origins(warc: Path) -> dict[int, dict[str, Any]]:
    """Local record offset -> the sidecar's line for it (empty without a sidecar). A broken
    line is logged and passed over: that record then names the local file instead."""
    path = warc.with_name(warc.name + ORIGIN_SUFFIX)
    origins: dict[int, dict[str, Any]] = {}
    if not path.is_file():
        return origins
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            try:
                entry = json.loads(line)
                origins[int(entry["offset"])] = entry
            except (ValueError, KeyError, TypeError):
                log.warning("%s line %d: not an origin record, passed over", path, number)
    return origins


def with_source(doc: Document, source: str, origin: dict[str, Any] | None) -> Document:
    """The document marked as coming from ``source``; ``source_record`` names the record
    in its source file (``<file>@<offset>``), which the origin sidecar gives when the local
    file was assembled from ranges."""
    if origin is not None and origin.get("filename") is not None:
        record = f"{origin['filename']}@{origin.get('source_offset', '?')}"
        labels = {"source_file": str(origin["filename"])}
        if origin.get("digest"):
            labels["payload_digest"] = str(origin["digest"])
    else:
        record = f"{doc.warc_file}@{doc.warc_offset}"
        labels = {"source_file": str(doc.warc_file)}
    return dataclasses.replace(doc, source=source, source_record=record, source_labels=labels)
