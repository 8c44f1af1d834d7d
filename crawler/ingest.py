"""Fetching other collections' files for a campaign (the campaign's ``ingest`` sources).

Two ways in, both resumable and both safe to rerun:

* :func:`fetch_files` (kinds ``warc``, ``fineweb2``, ``hplt``): every file that
  :func:`source_files` lists (the source's ``files`` and the lines of its ``list_file``)
  is downloaded whole into ``dest_dir/<basename>`` with owd.core.download (resumed after
  a drop, checked against ``sha256`` by basename when the source gives one). One failed
  file is counted and logged; the others are still fetched.
* :func:`fetch_cdxj_selection` (kind ``cdxj``): the records of a CDXJ index (Common
  Crawl / pywb style) that ``select`` picks are fetched by byte range from ``warc_base``
  (a URL or a local folder). Each source WARC file becomes ONE local
  ``dest_dir/<source stem>.warc.gz`` holding the selected records, each its own gzip
  member (copied as they are from a per-record-gzipped source, gzipped one by one from an
  uncompressed one), with ``<that file>.origin.jsonl`` beside it: one line per written
  record, ``{"offset", "length", "filename", "source_offset", "source_length", "url",
  "digest"}``, so provenance can name the source file and offset. Each fetched record must
  parse as exactly one whole WARC record whose ``WARC-Target-URI`` is the index's url and
  whose ``WARC-Payload-Digest`` is the index's digest (when both have one); one that does
  not is counted ``ingest/cdxj/mismatch`` and left out. A local file is written as
  ``<file>.open`` (and ``<origin>.open``) and renamed when its source file is done: a
  finished file is skipped on a rerun, and a run that was killed or lost its connection
  redoes only the unfinished file.

Counters (a ``collections.Counter``): ``ingest/files``, ``ingest/bytes`` (fetched in this
run), ``ingest/skipped_current``, ``ingest/failed/<reason>``; for CDXJ
``ingest/cdxj/lines``, ``.../bad_lines``, ``.../selected``, ``.../records``,
``.../bytes`` (written into finished files), ``.../mismatch``, ``.../failed`` (a range
read or the index fetch that failed: its file stays unfinished), ``.../files`` and
``.../skipped_current``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import tempfile
import zlib
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import IO, Callable, Iterable, Iterator, Sequence
from urllib.parse import quote, unquote, urljoin, urlsplit

from warcio.archiveiterator import ArchiveIterator

from owd.core.cdxj import CdxjEntry
from owd.core.config import CdxjSelectConfig, IngestSourceConfig
from owd.core.download import DownloadError, download, fetch_range, is_url
from owd.core.gzip_members import GZIP_MAGIC, inflate_member

__all__ = ["fetch_cdxj_selection", "fetch_files", "select_entries", "source_files"]

log = logging.getLogger(__name__)

# progress(local file name, done, total or None): bytes for whole files, records for CDXJ files.
Progress = Callable[[str, int, int | None], None]

FILE_KINDS = ("warc", "fineweb2", "hplt")
MAX_RECORD_BYTES = 256 << 20  # a fetched record is refused past this decompressed size
_URL_SAFE = "/-._~!$&'()*+,;=:@"


# --------------------------------------------------------------------------- file lists
def _read_small(location: str, base_dir: Path, allow_networks: Sequence[str], timeout: float) -> bytes:
    """The bytes of a list or index file: a local path (relative to ``base_dir``) or a URL
    (downloaded into a temporary folder, with the address policy)."""
    if not is_url(location):
        try:
            return (base_dir / location).read_bytes()
        except OSError as exc:
            raise DownloadError(str(base_dir / location), f"cannot read: {exc.strerror or exc}", "not_found") from None
    with tempfile.TemporaryDirectory(prefix="owd-ingest-") as tmp:
        got = download(location, Path(tmp) / "list", allow_networks=allow_networks, timeout=timeout)
        return got.path.read_bytes()


def _gunzip_if_needed(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data


def source_files(src: IngestSourceConfig, base_dir: Path, *, allow_networks: Sequence[str] = (),
                 timeout: float = 60.0) -> list[str]:
    """The files of ``src``: its ``files`` (URLs as they are, local paths joined to
    ``base_dir``, the campaign file's folder), then the lines of its ``list_file`` (local or
    URL, gzip or not; blank and ``#`` lines skipped). A line that is not a URL is joined to
    ``base_url`` when the source has one, else to the list's own URL, else to ``base_dir``.
    Each file once, in order. Raises DownloadError when the list cannot be read."""
    found: list[str] = [f if is_url(f) else str(base_dir / f) for f in src.files]
    if src.list_file:
        data = _read_small(src.list_file, base_dir, allow_networks, timeout)
        try:
            text = _gunzip_if_needed(data).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise DownloadError(src.list_file, f"not a text list (gzip or plain UTF-8): {exc}", "bad_list") from None
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if is_url(line):
                found.append(line)
            elif src.base_url:
                found.append(urljoin(src.base_url if src.base_url.endswith("/") else src.base_url + "/", line))
            elif is_url(src.list_file):
                found.append(urljoin(src.list_file, line))
            else:
                found.append(str(base_dir / line))
    return list(dict.fromkeys(found))  # each once, in order


def _basename(location: str) -> str:
    name = unquote(urlsplit(location).path) if is_url(location) else location
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def fetch_files(src: IngestSourceConfig, base_dir: Path, dest_dir: Path, *, allow_networks: Sequence[str] = (),
                progress: Progress | None = None, timeout: float = 60.0) -> Counter[str]:
    """Download every file of ``src`` (kinds warc, fineweb2, hplt) into ``dest_dir/<basename>``."""
    if src.kind not in FILE_KINDS:
        raise ValueError(f"fetch_files: ingest source {src.name!r} is of kind {src.kind}; "
                         "a cdxj source is fetched with fetch_cdxj_selection")
    counts: Counter[str] = Counter()
    try:
        files = source_files(src, base_dir, allow_networks=allow_networks, timeout=timeout)
    except DownloadError as err:
        counts[f"ingest/failed/{err.reason}"] += 1
        log.warning("ingest %s: its file list: %s", src.name, err)
        return counts
    dest_dir.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    for location in files:
        name = _basename(location)
        if name in ("", ".", "..") or name in taken:
            counts["ingest/failed/duplicate_name" if name in taken else "ingest/failed/bad_name"] += 1
            log.warning("ingest %s: %s: %s", src.name, location,
                        f"another file of the source is also called {name}" if name in taken else "no file name")
            continue
        taken.add(name)

        def report(done: int, total: int | None, name: str = name) -> None:
            if progress is not None:
                progress(name, done, total)

        try:
            got = download(location, dest_dir / name, sha256=src.sha256.get(name), allow_networks=allow_networks,
                           timeout=timeout, progress=report)
        except DownloadError as err:
            counts[f"ingest/failed/{err.reason}"] += 1
            log.warning("ingest %s: %s", src.name, err)
            continue
        if got.skipped:
            counts["ingest/skipped_current"] += 1
        else:
            counts["ingest/files"] += 1
            counts["ingest/bytes"] += got.size - got.resumed_from
    return counts


# --------------------------------------------------------------------------- CDXJ selection
def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


def select_entries(entries: Iterable[CdxjEntry], select: CdxjSelectConfig) -> Iterator[CdxjEntry]:
    """The entries that match every non-empty list of ``select`` (any item of each): host
    exactly (from the URL), URL prefix, TLD (the host's last label(s): "at", "co.uk"), MIME
    (exactly, or a prefix ending in "/" such as "text/"), HTTP status."""
    hosts = {h.lower().rstrip(".") for h in select.hosts}
    prefixes = tuple(select.url_prefixes)
    tlds = tuple("." + t.lower().strip(".") for t in select.tlds)
    mimes = {m.lower() for m in select.mimes if not m.endswith("/")}
    mime_prefixes = tuple(m.lower() for m in select.mimes if m.endswith("/"))
    statuses = set(select.statuses)
    for entry in entries:
        if hosts or tlds:
            host = _host(entry.url)
            if hosts and host not in hosts:
                continue
            if tlds and not ("." + host).endswith(tlds):
                continue
        if prefixes and not entry.url.startswith(prefixes):
            continue
        if select.mimes:
            mime = (entry.mime or "").lower()
            if not mime or not (mime in mimes or mime.startswith(mime_prefixes)):
                continue
        if statuses and entry.status not in statuses:
            continue
        yield entry


def _index_lines(path: Path) -> Iterator[str]:
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
    stream: IO[str]
    if gzipped:
        stream = gzip.open(path, "rt", encoding="utf-8", errors="replace")
    else:
        stream = open(path, encoding="utf-8", errors="replace")
    with stream:
        yield from stream


def _local_index(src: IngestSourceConfig, base_dir: Path, dest_dir: Path, allow_networks: Sequence[str],
                 timeout: float) -> Path:
    assert src.index
    if not is_url(src.index):
        return base_dir / src.index
    name = _basename(src.index) or "index.cdxj"
    got = download(src.index, dest_dir / "index" / name, sha256=src.sha256.get(name), allow_networks=allow_networks,
                   timeout=timeout)
    return got.path


def _stem(filename: str) -> str:
    name = _basename(filename)
    for suffix in (".warc.gz", ".warc", ".arc.gz", ".gz"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _local_names(filenames: Iterable[str]) -> dict[str, str]:
    """Source file name -> local file name, ``<stem>.warc.gz``; two sources with one stem
    (same base name in two folders) both get a short hash of their full name added."""
    stems: dict[str, list[str]] = {}
    for filename in filenames:
        stems.setdefault(_stem(filename), []).append(filename)
    names: dict[str, str] = {}
    for stem, group in stems.items():
        for filename in group:
            tag = f"-{hashlib.sha1(filename.encode('utf-8')).hexdigest()[:8]}" if len(group) > 1 else ""
            names[filename] = f"{stem}{tag}.warc.gz"
    return names


def _unsafe(filename: str) -> str | None:
    """Why an index's ``filename`` may not be read under ``warc_base``, or None."""
    if not filename or "://" in filename or filename.startswith(("/", "\\")):
        return "not a relative file name"
    if ".." in PurePosixPath(filename.replace("\\", "/")).parts:
        return "climbs out of warc_base (..)"
    return None


def _warc_location(src: IngestSourceConfig, base_dir: Path, filename: str) -> str:
    assert src.warc_base
    if is_url(src.warc_base):
        base = src.warc_base if src.warc_base.endswith("/") else src.warc_base + "/"
        return base + quote(filename, safe=_URL_SAFE)
    return str(base_dir / src.warc_base / filename)


def _normal_digest(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    return (value[5:] if value.lower().startswith("sha1:") else value).upper()


class _TooLarge(Exception):
    pass


def _check_record(data: bytes, entry: CdxjEntry) -> tuple[str | None, bool]:
    """(why ``data`` is not the entry's record or None, whether it is one gzip member)."""
    gzipped = data[:2] == GZIP_MAGIC
    record = data
    if gzipped:
        out = io.BytesIO()

        def keep(block: bytes) -> None:
            if out.tell() + len(block) > MAX_RECORD_BYTES:
                raise _TooLarge
            out.write(block)

        try:
            member = inflate_member(io.BytesIO(data), out=keep)
        except _TooLarge:
            return f"record inflates past {MAX_RECORD_BYTES} bytes", gzipped
        if member.problem:
            return member.problem, gzipped
        if member.length != len(data):
            return "more than one gzip member", gzipped
        record = out.getvalue()
    if not record.startswith(b"WARC/"):
        return "not a WARC record", gzipped
    head_end = record.find(b"\r\n\r\n")
    try:
        rec = next(iter(ArchiveIterator(io.BytesIO(record))))
        declared = int(rec.rec_headers.get_header("Content-Length") or "-1")
        uri = rec.rec_headers.get_header("WARC-Target-URI")
        digest = rec.rec_headers.get_header("WARC-Payload-Digest")
    except Exception as exc:  # warcio raises several kinds on a broken record
        return f"not a WARC record ({exc.__class__.__name__})", gzipped
    if head_end < 0 or declared < 0 or len(record) < head_end + 4 + declared:
        return "record cut short", gzipped
    if record[head_end + 4 + declared:].strip(b"\r\n"):
        return "more than one record", gzipped
    if uri != entry.url:
        return f"WARC-Target-URI {uri!r} is not the index's {entry.url!r}", gzipped
    want, got = _normal_digest(entry.digest), _normal_digest(digest)
    if want and got and want != got:
        return f"payload digest {got} is not the index's {want}", gzipped
    return None, gzipped


def _fetch_source_file(src: IngestSourceConfig, base_dir: Path, filename: str, entries: list[CdxjEntry],
                       final: Path, allow_networks: Sequence[str], timeout: float,
                       progress: Progress | None, counts: Counter[str]) -> None:
    """Write the selected records of one source WARC to ``final`` (via ``.open``); on a
    failed range read the file stays unfinished for a rerun."""
    problem = _unsafe(filename)
    if problem:
        counts["ingest/cdxj/failed"] += 1
        log.warning("ingest %s: index file name %r: %s", src.name, filename, problem)
        return
    source = _warc_location(src, base_dir, filename)
    origin_final = final.with_name(final.name + ".origin.jsonl")
    warc_open = final.with_name(final.name + ".open")
    origin_open = origin_final.with_name(origin_final.name + ".open")
    done: Counter[str] = Counter()
    with open(warc_open, "wb") as out, open(origin_open, "w", encoding="utf-8", newline="\n") as origin:
        for i, entry in enumerate(entries, 1):
            try:
                data = fetch_range(source, entry.offset, entry.length, allow_networks=allow_networks,
                                   timeout=timeout)
            except DownloadError as err:
                counts["ingest/cdxj/failed"] += 1
                log.warning("ingest %s: %s; %s stays unfinished (a rerun redoes it)", src.name, err, final.name)
                return
            problem, gzipped = _check_record(data, entry)
            if problem:
                counts["ingest/cdxj/mismatch"] += 1
                log.warning("ingest %s: %s at %d: %s; left out", src.name, filename, entry.offset, problem)
                continue
            if not gzipped:  # an uncompressed source: each record its own member
                data = gzip.compress(data, mtime=0)
            offset = out.tell()
            out.write(data)
            origin.write(json.dumps({"offset": offset, "length": len(data), "filename": filename,
                                     "source_offset": entry.offset, "source_length": entry.length,
                                     "url": entry.url, "digest": entry.digest}) + "\n")
            done["ingest/cdxj/records"] += 1
            done["ingest/cdxj/bytes"] += len(data)
            if progress is not None:
                progress(final.name, i, len(entries))
        for f in (out, origin):
            f.flush()
            os.fsync(f.fileno())
    # The origin first: a .warc.gz that exists always has its whole origin beside it.
    os.replace(origin_open, origin_final)
    os.replace(warc_open, final)
    done["ingest/cdxj/files"] += 1
    counts.update(done)


def fetch_cdxj_selection(src: IngestSourceConfig, base_dir: Path, dest_dir: Path, *,
                         allow_networks: Sequence[str] = (), progress: Progress | None = None,
                         timeout: float = 60.0) -> Counter[str]:
    """Fetch the records of ``src.index`` that ``src.select`` picks into one local WARC.gz
    per source WARC file (see the module's notes). A URL index is downloaded first, into
    ``dest_dir/index/`` (resumable, kept for reruns)."""
    if src.kind != "cdxj" or not src.index or not src.warc_base:
        raise ValueError(f"fetch_cdxj_selection: ingest source {src.name!r} needs kind cdxj, index and warc_base")
    counts: Counter[str] = Counter()
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        index = _local_index(src, base_dir, dest_dir, allow_networks, timeout)
        lines = _index_lines(index)
        groups: dict[str, list[CdxjEntry]] = {}

        def parsed() -> Iterator[CdxjEntry]:
            for line in lines:
                if not line.strip():
                    continue
                counts["ingest/cdxj/lines"] += 1
                try:
                    yield CdxjEntry.from_line(line)
                except (ValueError, KeyError, TypeError):
                    counts["ingest/cdxj/bad_lines"] += 1

        for entry in select_entries(parsed(), src.select):
            counts["ingest/cdxj/selected"] += 1
            groups.setdefault(entry.filename, []).append(entry)
    except DownloadError as err:
        counts["ingest/cdxj/failed"] += 1
        log.warning("ingest %s: the index: %s", src.name, err)
        return counts
    except (OSError, EOFError, zlib.error) as exc:  # a local index that is missing, or a broken gzip
        counts["ingest/cdxj/failed"] += 1
        log.warning("ingest %s: the index %s: %s", src.name, src.index, exc)
        return counts
    names = _local_names(groups)
    for filename in sorted(groups):
        final = dest_dir / names[filename]
        if final.is_file():
            counts["ingest/cdxj/skipped_current"] += 1
            continue
        entries = sorted(groups[filename], key=lambda e: e.offset)
        _fetch_source_file(src, base_dir, filename, entries, final, allow_networks, timeout, progress, counts)
    return counts
