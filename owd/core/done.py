"""Skipping finished work, one way for every step: an output records what it was made from.

Every output a rerun may skip (a docs shard, a signature, bucket or cluster file, an
index's shards, a pool) is finished when it carries the *fingerprint* of everything it
depends on (its inputs' content or identity, the settings, the format), written last
(the file renamed into place, or the manifest saved after the data). A rerun computes
the fingerprint again and redoes exactly the outputs whose recorded one differs or is
missing: a changed setting redoes what it changes, an unchanged campaign costs a few
reads, and a file left half-written by a kill is never taken for a finished one.

Where the record lives depends on the output: a Parquet file carries it in its
metadata (:data:`MADE_FROM`, :func:`parquet_made_from`, :func:`stamp_table`), an
output of many files (a pool, an index) in its JSON manifest or state file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

__all__ = ["MADE_FROM", "fingerprint", "file_sha256", "files_fingerprint", "parquet_made_from", "stamp_table"]

MADE_FROM = b"owd.made_from"  # the Parquet metadata key of an output's fingerprint


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (Path, bytes)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot fingerprint a {type(value).__name__}")


def fingerprint(*parts: Any) -> str:
    """A short digest (BLAKE2b, 128 bits, hex) of ``parts`` as canonical JSON: dataclasses,
    paths, sets, dicts and lists of them; equal values give equal fingerprints in every
    process and on every machine."""
    payload = json.dumps(parts, sort_keys=True, default=_plain, ensure_ascii=False).encode()
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 8 MiB blocks: the checksum cards publish."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 * 2**20):
            h.update(block)
    return h.hexdigest()


def files_fingerprint(paths: Iterable[Path]) -> str:
    """A digest of several files' names and contents, in the order given (xxh3-128: ~10x
    SHA-256's speed; this is a change detector, not a published checksum)."""
    h = xxhash.xxh3_128()
    for path in paths:
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as fh:
            while block := fh.read(8 * 2**20):
                h.update(block)
    return h.hexdigest()


def parquet_made_from(path: Path) -> str | None:
    """The fingerprint a Parquet output recorded, or None (missing, unreadable, or not stamped)."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return None
    value = metadata.get(MADE_FROM)
    return value.decode() if value is not None else None


def stamp_table(table: pa.Table, made_from: str) -> pa.Table:
    """``table`` with ``made_from`` recorded in its schema metadata (other keys kept)."""
    return table.replace_schema_metadata({**(table.schema.metadata or {}), MADE_FROM: made_from.encode()})
