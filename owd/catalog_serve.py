"""The federation endpoints of ``owd serve``: the site's catalogue and its pool files.

* ``GET /catalog`` (and ``/catalog.jsonld``, ``/catalog.ttl``): the site's DCAT-AP
  catalogue (pools/catalog.py), JSON-LD or Turtle by content negotiation (``Accept``;
  ``?format=`` overrides). ``--catalog-only`` serves a federated catalogue instead
  (pools/catalog_merge.py), merged from the member sites at start and again when older
  than ``refresh`` seconds.
* ``GET /catalog/datasets/{campaign}/{pool}``: one dataset's description (its IRI is
  dereferenceable; ``owd pools pull`` starts there).
* ``GET /pools/{campaign}/{pool}/{file}``: a pool's files, read-only, with ETags (the
  file's SHA-256 from the pool manifest) and single byte ranges (``Range``, ``If-Range``:
  a pull resumes where it stopped).

Only the files a pool's manifest lists can be served, looked up by name in that list:
a path is never joined onto the disk, so ``..``, absolute paths, symlinks out of the
folder or encoded tricks cannot reach anything else (tests/serve/test_catalog_api.py).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Literal, Sequence

from fastapi import FastAPI, Header, Path as PathParam, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from rdflib import Graph, URIRef

from owd.core.config import NAME_PATTERN, CampaignConfig
from owd.pools.build import pools_dir
from owd.pools.catalog import FORMATS, CatalogError, catalog_graph, dataset_iri, pool_files, serialise
from owd.pools.catalog_merge import owned_nodes, merge_catalogs, read_catalog

__all__ = ["SiteCatalog", "FederatedCatalog", "add_catalog_routes", "negotiate", "parse_range"]

CHUNK = 256 * 1024
MAX_RANGE_HEADER = 200
_FILE_TYPES = {".parquet": "application/vnd.apache.parquet", ".tar": "application/x-tar",
               ".json": "application/json", ".jsonld": "application/ld+json"}
_ACCEPT = {"application/ld+json": "json-ld", "application/json": "json-ld", "text/turtle": "turtle",
           "application/x-turtle": "turtle", "*/*": "json-ld", "application/*": "json-ld", "text/*": "turtle"}
_RDF_CONTENT: dict[str, Any] = {"content": {"application/ld+json": {}, "text/turtle": {}}}
_FILE_CONTENT: dict[str, Any] = {"content": {t: {} for t in [*_FILE_TYPES.values(), "application/octet-stream"]}}


def _detail(status: int) -> dict[str, Any]:
    return {"description": {404: "not found", 406: "no acceptable format", 416: "range not satisfiable",
                            422: "invalid request", 503: "catalogue unavailable"}[status],
            "content": {"application/json": {"schema": {"type": "object", "properties": {
                "detail": {"type": "string"}}, "required": ["detail"]}}}}


class _Error(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


def negotiate(accept: str | None, fmt: str | None) -> str:
    """``json-ld`` or ``turtle`` for an ``Accept`` header (q-values honoured); ``fmt``
    (``?format=``) wins. Nothing acceptable: :class:`_Error` 406."""
    if fmt:
        return fmt
    if not accept:
        return "json-ld"
    ranges: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if media.lower() in _ACCEPT and q > 0:
            ranges.append((-q, i, _ACCEPT[media.lower()]))
    if not ranges:
        raise _Error(406, "acceptable: application/ld+json, text/turtle")
    return min(ranges)[2]


_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range (first, last inclusive) a ``Range`` header asks for, or None for
    the whole file (no header, or a unit other than bytes: RFC 9110 lets a server ignore
    it). Unsatisfiable, malformed or several ranges: :class:`_Error` 416."""
    if header is None or not header.strip().lower().startswith("bytes="):
        return None
    spec = header.strip().lower().replace(" ", "")
    match = _RANGE.match(spec)
    unsatisfiable = _Error(416, f"range not satisfiable (one range of bytes 0-{max(size - 1, 0)})",
                           {"Content-Range": f"bytes */{size}"})
    if not match or (not match.group(1) and not match.group(2)):
        raise unsatisfiable
    first_s, last_s = match.groups()
    if not first_s:  # a suffix: the last N bytes
        n = int(last_s)
        if n == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - n), size - 1
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if first >= size or last < first:
        raise unsatisfiable
    return first, min(last, size - 1)


def _read(path: Path, first: int, last: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(first)
        left = last - first + 1
        while left > 0:
            block = fh.read(min(CHUNK, left))
            if not block:
                return
            left -= len(block)
            yield block


# FastAPI reads these annotations from the module (this file uses postponed annotations)
Format = Annotated[Literal["json-ld", "turtle"] | None, Query(description="overrides Accept")]
Accept = Annotated[str | None, Header(max_length=1000)]
Name = Annotated[str, PathParam(pattern=NAME_PATTERN, max_length=64)]
FileName = Annotated[str, PathParam(max_length=300)]
RangeHeader = Annotated[str | None, Header(max_length=MAX_RANGE_HEADER)]
Validator = Annotated[str | None, Header(max_length=1000)]


# ---------------------------------------------------------------------------- sources


class SiteCatalog:
    """The catalogue of this site's campaigns, rebuilt when a pool changes."""

    def __init__(self, cfgs: Sequence[CampaignConfig], public_url: str | None = None) -> None:
        self.cfgs = {cfg.campaign: cfg for cfg in cfgs}
        self.public_url = public_url
        self._cache: dict[tuple[str, tuple[Any, ...]], Graph] = {}
        self._lock = threading.Lock()

    def _state(self) -> tuple[Any, ...]:
        marks = []
        for cfg in self.cfgs.values():
            for manifest in sorted(pools_dir(cfg).glob("*/manifest.json")):
                st = manifest.stat()
                marks.append((str(manifest), st.st_mtime_ns, st.st_size))
        return tuple(marks)

    def graph(self, base: str) -> Graph:
        base = self.public_url or base
        key = (base, self._state())
        with self._lock:
            if key not in self._cache:
                self._cache = {key: catalog_graph(list(self.cfgs.values()), base)}
            return self._cache[key]

    def pool_file(self, campaign: str, pool: str, name: str) -> tuple[Path, dict[str, Any]]:
        cfg = self.cfgs.get(campaign)
        if cfg is None:
            raise _Error(404, f"no campaign {campaign!r} on this site")
        folder = pools_dir(cfg) / pool
        for entry in pool_files(folder):
            if entry["path"] == name:  # by name from the manifest's list: nothing else is reachable
                return folder / entry["path"], entry
        raise _Error(404, f"pool {campaign}/{pool} has no file {name!r}")

    def files(self, campaign: str, pool: str) -> list[dict[str, Any]]:
        cfg = self.cfgs.get(campaign)
        if cfg is None:
            raise _Error(404, f"no campaign {campaign!r} on this site")
        files = pool_files(pools_dir(cfg) / pool)
        if not files:
            raise _Error(404, f"no pool {campaign}/{pool} on this site")
        return files


@dataclass
class FederatedCatalog:
    """A merged catalogue of member sites (``owd serve --catalog-only``)."""

    members: Sequence[str]
    publisher: str
    allow_networks: Sequence[str] = ()
    refresh: float = 600.0
    public_url: str | None = None
    base_dir: Path | None = None
    log: Callable[[str], None] = lambda line: None

    def __post_init__(self) -> None:
        self._graph: Graph | None = None
        self._when = 0.0
        self._lock = threading.Lock()

    def graph(self, base: str) -> Graph:
        with self._lock:
            if self._graph is None or time.monotonic() - self._when > self.refresh:
                read = []
                for member in self.members:
                    try:
                        read.append((member, read_catalog(member, allow_networks=self.allow_networks,
                                                          base_dir=self.base_dir)))
                    except CatalogError as exc:
                        self.log(f"owd serve: catalogue member left out: {exc}")
                if not read and self._graph is not None:
                    return self._graph  # every member down: keep serving the last merge
                self._graph = merge_catalogs(read, base=self.public_url or base, publisher=self.publisher).graph
                self._when = time.monotonic()
            return self._graph


# ---------------------------------------------------------------------------- routes


def _rdf(g: Graph, fmt: str) -> Response:
    body = serialise(g, fmt)  # type: ignore[arg-type]
    return Response(body, media_type=FORMATS[fmt], headers={
        "Vary": "Accept", "ETag": f'"{hashlib.sha256(body).hexdigest()[:32]}"', "Cache-Control": "no-cache"})


def add_catalog_routes(app: FastAPI, source: SiteCatalog | FederatedCatalog) -> None:
    """``/catalog`` (and the dataset IRIs) for any source; the pool files for a site."""

    @app.exception_handler(_Error)
    async def _error(request: Request, exc: _Error) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    def base_of(request: Request) -> str:
        return str(request.base_url)


    def whole(request: Request, accept: str | None, fmt: str | None) -> Response:
        chosen = negotiate(accept, fmt)
        try:
            return _rdf(source.graph(base_of(request)), chosen)
        except CatalogError as exc:
            raise _Error(503, f"catalogue unavailable: {exc}") from None

    responses: dict[int | str, dict[str, Any]] = {200: _RDF_CONTENT, 406: _detail(406), 422: _detail(422),
                                                   503: _detail(503)}

    @app.get("/catalog", responses=responses, response_class=Response, tags=["catalogue"],
             summary="the DCAT-AP catalogue of this site (JSON-LD or Turtle)")
    def catalog(request: Request, format: Format = None, accept: Accept = None) -> Response:
        return whole(request, accept, format)

    @app.get("/catalog.jsonld", responses=responses, response_class=Response, tags=["catalogue"])
    def catalog_jsonld(request: Request) -> Response:
        return whole(request, None, "json-ld")

    @app.get("/catalog.ttl", responses=responses, response_class=Response, tags=["catalogue"])
    def catalog_ttl(request: Request) -> Response:
        return whole(request, None, "turtle")

    @app.get("/catalog/datasets/{campaign}/{pool}", responses={**responses, 404: _detail(404)},
             response_class=Response, tags=["catalogue"], summary="one dataset of the catalogue")
    def dataset(request: Request, campaign: Name, pool: Name, format: Format = None,
                accept: Accept = None) -> Response:
        chosen = negotiate(accept, format)
        try:
            g = source.graph(base_of(request))
        except CatalogError as exc:
            raise _Error(503, f"catalogue unavailable: {exc}") from None
        base = source.public_url or base_of(request)
        iri = URIRef(dataset_iri(base, campaign, pool))
        if (iri, None, None) not in g:
            raise _Error(404, f"no dataset {campaign}/{pool} in this catalogue")
        out = Graph()
        for prefix, ns in g.namespaces():
            out.bind(prefix, ns)
        owned = owned_nodes(g, iri)
        for s, p, o in g:
            if s in owned:
                out.add((s, p, o))
        for o in set(out.objects()):  # the agents, languages, types the dataset names
            if o not in owned:
                for triple in g.triples((o, None, None)):
                    out.add(triple)
        return _rdf(out, chosen)

    if not isinstance(source, SiteCatalog):
        return
    site = source

    @app.get("/pools/{campaign}/{pool}/", tags=["pool files"], summary="the files of a pool",
             responses={404: _detail(404), 422: _detail(422)})
    def pool_index(request: Request, campaign: Name, pool: Name) -> dict[str, Any]:
        base = site.public_url or base_of(request)
        return {"dataset": dataset_iri(base, campaign, pool),
                "files": [{**f, "url": f"{base}pools/{campaign}/{pool}/{f['path']}"}
                          for f in site.files(campaign, pool)]}

    @app.api_route("/pools/{campaign}/{pool}/{file:path}", methods=["GET", "HEAD"], tags=["pool files"],
                   summary="a pool file (read-only; ETag, single byte ranges)", response_class=Response,
                   responses={200: _FILE_CONTENT, 206: _FILE_CONTENT, 304: {"description": "not modified"},
                              404: _detail(404), 416: _detail(416), 422: _detail(422)})
    def pool_file(request: Request, campaign: Name, pool: Name,
                  file: FileName, range: RangeHeader = None, if_range: Validator = None,
                  if_none_match: Validator = None) -> Response:
        path, entry = site.pool_file(campaign, pool, file)
        etag = f'"{entry["sha256"]}"'
        try:
            size = path.stat().st_size
        except OSError:
            raise _Error(404, f"pool {campaign}/{pool}: {file} is listed but missing on disk") from None
        headers = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "no-cache"}
        media = _FILE_TYPES.get(Path(file).suffix, "application/octet-stream")
        if if_none_match and etag in [t.strip() for t in if_none_match.split(",")] + ["*"]:
            return Response(status_code=304, headers=headers)
        wanted = parse_range(range, size)
        if wanted is not None and if_range is not None and if_range.strip() != etag:
            wanted = None  # the file changed since the client's first part: send it whole
        first, last, status = (0, size - 1, 200) if wanted is None else (*wanted, 206)
        headers["Content-Length"] = str(max(0, last - first + 1))
        if status == 206:
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        if request.method == "HEAD" or size == 0:
            return Response(status_code=status, headers=headers, media_type=media)
        return StreamingResponse(_read(path, first, last), status_code=status, headers=headers, media_type=media)

    @app.get("/reports/{campaign}/report.json", tags=["catalogue"], summary="a campaign's report (provenance)",
             responses={404: _detail(404), 422: _detail(422)})
    def report(campaign: Name) -> Response:
        cfg = site.cfgs.get(campaign)
        path = cfg.campaign_dir / "report" / "report.json" if cfg else None
        if path is None or not path.is_file():
            raise _Error(404, f"no report of campaign {campaign!r} on this site")
        return Response(path.read_bytes(), media_type="application/json")
