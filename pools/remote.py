"""``owd pools pull <dataset IRI or URL>``: a pool from another site, verified and resumable.

The dataset's description (its IRI dereferences to DCAT-AP, pools/catalog.py) lists one
distribution per file, each with its download URL, byte size and SHA-256. Every file is
fetched with :func:`owd.core.download.download`: a kill, a dropped connection or a server
that goes away leaves the part already fetched, and the next pull resumes it with a range
request; a file whose checksum differs from the catalogue's is thrown away, never kept.

The copy is assembled in ``.<dest>.partial`` beside it and renamed to ``<dest>`` when every file is
there and verified, with ``remote.json`` beside the files: the origin dataset, its
identifier and publisher, and when it was pulled. Registered in a campaign's pools folder
it is a *remote pool*: ``owd pools list`` shows it, and the site's own catalogue lists it
as a copy that keeps the origin's identity (so a federated catalogue counts it once).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence
from urllib.parse import unquote, urlsplit

from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

from owd.core.download import DownloadError, download, is_url
from owd.core.errors import OwdError
from owd.pools.build import read_manifest
from owd.pools.catalog import REMOTE_FILE, SPDX

__all__ = ["PullError", "RemoteFile", "RemotePool", "describe_remote", "pull_remote"]


class PullError(OwdError):
    """A pull that cannot go on (unreachable site, bad description, checksum mismatch)."""


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative to the pool folder
    url: str
    size: int | None
    sha256: str | None


@dataclass
class RemotePool:
    dataset: str
    identifier: str
    title: str
    publisher: dict[str, str | None]
    files: list[RemoteFile] = field(default_factory=list)


def _fetch_description(source: str, allow_networks: Sequence[str]) -> tuple[str, bytes]:
    url = source if "format=" in source else source + ("&" if "?" in source else "?") + "format=turtle"
    with tempfile.TemporaryDirectory(prefix="owd-pull-") as tmp:
        dest = Path(tmp) / "description"
        try:
            download(url, dest, allow_networks=allow_networks, timeout=30.0)
        except DownloadError as exc:
            raise PullError(f"cannot read {source}: {exc}") from None
        return url, dest.read_bytes()


def describe_remote(source: str, *, allow_networks: Sequence[str] = ()) -> RemotePool:
    """What a dataset IRI (or a pool folder URL of owd serve) says the pool holds."""
    if not is_url(source):
        raise PullError(f"not an http(s) URL: {source!r}")
    url, data = _fetch_description(source, allow_networks)
    if data.lstrip()[:1] == b"{":
        try:
            index = json.loads(data)
        except ValueError:
            index = None
        if isinstance(index, dict) and isinstance(index.get("dataset"), str) and "files" in index:
            return describe_remote(index["dataset"], allow_networks=allow_networks)
    g = Graph()
    try:
        g.parse(data=data, format="json-ld" if data.lstrip()[:1] in (b"{", b"[") else "turtle", publicID=url)
    except Exception as exc:  # rdflib raises many kinds for a bad document
        raise PullError(f"{source}: not a DCAT-AP description ({type(exc).__name__}: {exc})") from None
    datasets = sorted(s for s in g.subjects(RDF.type, DCAT.Dataset) if isinstance(s, URIRef))
    iri = URIRef(source.split("?", 1)[0])
    dataset = iri if iri in datasets else (datasets[0] if len(datasets) == 1 else None)
    if dataset is None:
        raise PullError(f"{source}: names {len(datasets)} datasets; give one dataset IRI")
    publisher = next(iter(g.objects(dataset, DCTERMS.publisher)), None)
    pool = RemotePool(
        dataset=str(dataset),
        identifier=str(next(iter(g.objects(dataset, DCTERMS.identifier)), dataset)),
        title=str(next(iter(g.objects(dataset, DCTERMS.title)), dataset)),
        publisher={"iri": str(publisher) if publisher is not None else str(dataset) + "#publisher",
                   "name": str(next(iter(g.objects(publisher, FOAF.name)), "unknown")) if publisher else "unknown",
                   "homepage": (str(next(iter(g.objects(publisher, FOAF.homepage)), "")) or None)
                   if publisher else None})
    for dist in g.objects(dataset, DCAT.distribution):
        download_url = next(iter(g.objects(dist, DCAT.downloadURL)), None)
        access = next(iter(g.objects(dist, DCAT.accessURL)), None)
        if download_url is None:
            continue
        size = next(iter(g.objects(dist, DCAT.byteSize)), None)
        sha = None
        for checksum in g.objects(dist, SPDX.checksum):
            algorithm = str(next(iter(g.objects(checksum, SPDX.algorithm)), ""))
            if algorithm.endswith("checksumAlgorithm_sha256"):
                sha = str(next(iter(g.objects(checksum, SPDX.checksumValue)), "")).lower() or None
        pool.files.append(RemoteFile(_relative(str(download_url), str(access) if access else None, source),
                                     str(download_url), int(str(size)) if size is not None else None, sha))
    if not pool.files:
        raise PullError(f"{source}: the dataset has no distribution with a download URL")
    pool.files.sort(key=lambda f: f.path)
    return pool


def _relative(download_url: str, access_url: str | None, source: str) -> str:
    """Where a file goes inside the pool folder: its URL path under the access URL (the
    pool folder), else its last segment. Anything that would leave the folder is refused:
    a catalogue from elsewhere must not write outside the destination."""
    path = unquote(urlsplit(download_url).path)
    base = unquote(urlsplit(access_url).path) if access_url else ""
    relative = path[len(base):] if base and base.endswith("/") and path.startswith(base) else path.rsplit("/", 1)[-1]
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or any(p in ("..", ".", "") or "\\" in p for p in parts):
        raise PullError(f"{source}: a download URL points outside the pool folder: {download_url}")
    return "/".join(parts)


def pull_remote(source: str, dest: Path, *, allow_networks: Sequence[str] = (),
                progress: Callable[[str, int, int | None], None] | None = None) -> tuple[Path, RemotePool]:
    """Fetch every file of the dataset at ``source`` into ``dest`` (see the module docstring)."""
    pool = describe_remote(source, allow_networks=allow_networks)
    unverified = [f.path for f in pool.files if not f.sha256]
    if unverified:
        raise PullError(f"{source}: no SHA-256 in the catalogue for {', '.join(unverified[:3])}: "
                        "cannot verify the copy")
    dest = Path(dest)
    partial = dest.with_name(f".{dest.name}.partial")
    partial.mkdir(parents=True, exist_ok=True)
    for f in pool.files:
        target = partial / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        report = (lambda done, total, p=f.path: progress(p, done, total)) if progress else None
        try:
            download(f.url, target, sha256=f.sha256, size=f.size, allow_networks=allow_networks, progress=report)
        except DownloadError as exc:
            raise PullError(f"pull of {pool.dataset} stopped at {f.path}: {exc}; run the same pull again "
                            f"to resume (what is fetched is kept in {partial})") from None
    _check_manifest(partial, pool)
    record = {"dataset": pool.dataset, "identifier": pool.identifier, "title": pool.title,
              "publisher": pool.publisher, "source": source,
              "pulled": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
              "files": [{"path": f.path, "bytes": f.size, "sha256": f.sha256} for f in pool.files]}
    (partial / REMOTE_FILE).write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
        partial.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.rename(dest)
    return dest, pool


def _check_manifest(folder: Path, pool: RemotePool) -> None:
    """The pool's own manifest must agree with the catalogue on every data file."""
    manifest: dict[str, Any] | None = read_manifest(folder)
    if manifest is None:
        return  # a pool from a site that publishes no owd manifest: the catalogue's checksums stand
    listed = {f.path: f.sha256 for f in pool.files}
    for entry in [*manifest.get("files", []), *manifest.get("webdataset", [])]:
        if listed.get(entry["path"]) != entry.get("sha256"):
            raise PullError(f"{pool.dataset}: its manifest and its catalogue disagree on {entry['path']}")
