"""``owd serve``: the read-only HTTP search API and the search page, in one process.

The API speaks only the owd query language (:mod:`owd.index.query`): there is no
endpoint that takes engine syntax, and every route is a GET, so a server
reachable by others can answer searches but never change or dump the index
wholesale (paging stops at :data:`~index.base.MAX_PAGE`). Requests are checked
twice: by the OpenAPI schema (types, ranges, lengths -> 422 from FastAPI) and by
:class:`~index.base.SearchQuery` (the query language's own rules -> 422 with its
message). An unusable index answers 503 with the reason, never 500.

The server holds one backend, opened lazily by a factory, so it can start before
the index exists (``/api/health`` says 503 until it does) and any
:class:`~index.base.SearchBackend` (embedded, OpenSearch) plugs in the same way.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, AsyncIterator, Callable, Literal

from fastapi import FastAPI, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from owd.index.embed import EmbedderError

from owd.index.base import (
    FACETS,
    MAX_FACET_SIZE,
    MAX_FILTER_VALUES,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    MAX_QUERY_CHARS,
    MODES,
    BackendError,
    Filters,
    Hit,
    NoVectorsError,
    QueryError,
    SearchBackend,
    SearchQuery,
)

__all__ = ["create_app", "create_catalog_app", "run_server", "BackendHolder", "safe_snippet", "WEB_DIR", "DEFAULT_HOST", "DEFAULT_PORT"]

DEFAULT_HOST = "127.0.0.1"  # loopback unless the user asks: the API has no authentication
DEFAULT_PORT = 8700
WEB_DIR = Path(__file__).resolve().parent / "web"
MAX_ID_CHARS = 512
# The page is self-contained: nothing may load from anywhere but this server.
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_WEB_FILES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8",
              "favicon.svg": "image/svg+xml"}

if TYPE_CHECKING:
    from owd.catalog_serve import FederatedCatalog, SiteCatalog

BackendFactory = Callable[[], SearchBackend]


# ---------------------------------------------------------------------------- the backend


class BackendHolder:
    """Opens the backend on first use and keeps it; a failed open is retried on the
    next request, so a server started before ``owd index`` comes up by itself."""

    def __init__(self, factory: BackendFactory | SearchBackend) -> None:
        if isinstance(factory, SearchBackend):
            backend = factory
            factory = lambda: backend  # noqa: E731
        self._factory = factory
        self._backend: SearchBackend | None = None
        self._lock = threading.Lock()

    def get(self) -> SearchBackend:
        """The open backend; raises :class:`BackendError` when it cannot be opened."""
        with self._lock:
            if self._backend is None:
                try:
                    self._backend = self._factory()
                except BackendError:
                    raise
                except OSError as exc:  # an unreadable index directory is "unavailable", not a bug
                    raise BackendError(f"cannot open the index: {exc}") from exc
            return self._backend

    def close(self) -> None:
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None


# ---------------------------------------------------------------------------- response models


class HitOut(BaseModel):
    id: str
    url: str
    title: str | None
    lang: str | None
    domain: str | None
    score: float
    snippet: str = Field(description="HTML: text escaped, matched words in <mark>; nothing else is markup")
    fetch_time: dt.datetime | None


class FacetValue(BaseModel):
    value: str
    count: int


class SearchOut(BaseModel):
    query: str
    total: int = Field(description="documents matching the query and filters")
    page: int
    size: int
    pages: int = Field(description=f"pages that can be requested (at most {MAX_PAGE})")
    took_ms: float
    hits: list[HitOut]
    facets: dict[str, list[FacetValue]] = Field(description="per facet, values by count (descending)")


class SimilarOut(BaseModel):
    id: str = Field(description="the document whose neighbours these are")
    total: int = Field(description="neighbours returned (0 when the document has no vector)")
    took_ms: float
    hits: list[HitOut] = Field(description="nearest first; score: cosine similarity of the two vectors")


class FacetsOut(BaseModel):
    query: str
    total: int
    facets: dict[str, list[FacetValue]]


class DocOut(BaseModel):
    id: str
    url: str
    host: str | None
    domain: str | None
    campaign: str | None
    lang: str | None
    title: str | None
    text: str | None
    description: str | None
    published: dt.date | None
    fetch_time: dt.datetime | None
    pools: list[str]
    media_kinds: list[str]
    tdm_reservation: bool | None
    dup_cluster_id: str | None
    dup_cluster_size: int | None


class HealthOut(BaseModel):
    status: Literal["ok"]
    backend: str
    documents: int
    vectors: bool = Field(description="documents have vectors: semantic and hybrid modes can answer")


class ErrorOut(BaseModel):
    detail: str = Field(description="what is wrong, in one line")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {404: "no such document", 409: "semantic or hybrid mode on an index without vectors",
            422: "invalid parameters or query", 503: "the index is unavailable"}
    return {code: {"model": ErrorOut, "description": text[code]} for code in codes}


# ---------------------------------------------------------------------------- helpers

_MARK = re.compile(r"(</?mark>)")


def safe_snippet(snippet: str) -> str:
    """Re-escape a backend's snippet so that only balanced ``<mark>`` tags remain markup.

    Backends promise escaped text, but the API must not depend on every engine's
    highlighter getting that right: anything that is not ``<mark>``/``</mark>`` is
    unescaped once and escaped again (idempotent on well-formed input).
    """
    out: list[str] = []
    open_ = False
    for part in _MARK.split(snippet):
        if part == "<mark>":
            if not open_:
                out.append(part)
                open_ = True
        elif part == "</mark>":
            if open_:
                out.append(part)
                open_ = False
        elif part:
            out.append(html.escape(html.unescape(part)))
    if open_:
        out.append("</mark>")
    return "".join(out)


def _hit_out(h: Hit) -> HitOut:
    return HitOut(id=h.id, url=h.url, title=h.title, lang=h.lang, domain=h.domain, score=h.score,
                  snippet=safe_snippet(h.snippet), fetch_time=h.fetch_time)


def _facet_list(counts: dict[str, dict[str, int]]) -> dict[str, list[FacetValue]]:
    return {name: [FacetValue(value=k, count=v) for k, v in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))]
            for name, values in counts.items()}


class _ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _day_value(name: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name}: {value!r} is not a day (YYYY-MM-DD)") from None


def _filters(lang: list[str], domain: list[str], pool: list[str], media: list[str], after: str | None,
             before: str | None) -> Filters:
    return Filters(langs=lang, domains=domain, pools=pool, media_kinds=media,
                   date_from=_day_value("after", after), date_to=_day_value("before", before))


# Query parameters shared by /api/search and /api/facets. The schema mirrors the
# index's own checks (index.base.Filters) in ASCII (hosts are stored in punycode),
# so a client can tell from the spec what the server accepts. The aliases are written
# out as Annotated[...] (the helpers give only the metadata) so a type checker sees types.
def _value(pattern: str) -> Any:
    return Field(max_length=253, pattern=pattern)


def _values(description: str) -> Any:
    return Query(max_length=MAX_FILTER_VALUES, description=description)


def _day(description: str) -> Any:
    # a string, not a date: pydantic would also take 0 or 1700000000 as a day
    return Query(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description=description,
                 json_schema_extra={"format": "date"})


Q = Annotated[str, Query(max_length=MAX_QUERY_CHARS, description=(
    'owd query language: words, "phrases", -excluded, a OR b, lang:sl domain:.si pool:x media:image '
    f"after:2026-11-01 before:2026-12-01; at most {MAX_QUERY_CHARS} characters"))]
Lang = Annotated[list[Annotated[str, _value(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]],
                 _values("language code, e.g. sl (repeatable: any of them)")]
Domain = Annotated[list[Annotated[str, _value(r"^\.?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$")]],
                   _values("registered domain, host, or suffix such as .si (repeatable; IDN as xn--)")]
Pool = Annotated[list[Annotated[str, _value(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]],
                 _values("data pool name (repeatable)")]
Media = Annotated[list[Literal["image", "audio", "video"]], Query(description="media kind (repeatable)")]
After = Annotated[str | None, _day("fetched on or after this day (UTC), YYYY-MM-DD")]
Before = Annotated[str | None, _day("fetched before this day (UTC), YYYY-MM-DD")]
FacetNames = Literal["lang", "domain", "pool", "media_kind"]
assert set(FacetNames.__args__) == set(FACETS)  # type: ignore[attr-defined]  # keep the schema in step
Mode = Annotated[Literal["lexical", "semantic", "hybrid"], Query(description=(
    "lexical: the words (BM25); semantic: the meaning, in every language unless lang: restricts it; "
    "hybrid: both lists fused by reciprocal rank"))]
assert set(Mode.__origin__.__args__) == set(MODES)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- the app


def _install_common(app: FastAPI) -> None:
    """Error bodies and security headers every owd app shares."""

    @app.exception_handler(_ApiError)
    async def _api_error(request: Request, exc: _ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # One readable line ("size: must be ..."), not FastAPI's nested list.
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "path", "header"))
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid")))
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 404 for unknown paths, 405 (with Allow) for POST/PUT/DELETE...: same JSON shape as ours
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Any]) -> Any:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


def create_catalog_app(catalog: "SiteCatalog | FederatedCatalog", *, title: str = "owd catalogue") -> FastAPI:
    """Only the catalogue (``owd serve --catalog-only``): no index, no search."""
    from owd.catalog_serve import add_catalog_routes

    app = FastAPI(title=title, version="1", docs_url=None, redoc_url=None,
                  description="A DCAT-AP catalogue of owd data pools (read-only, GET only).")
    _install_common(app)
    add_catalog_routes(app, catalog)
    return app


def create_app(backend: BackendFactory | SearchBackend, *, title: str = "owd search",
               catalog: "SiteCatalog | FederatedCatalog | None" = None) -> FastAPI:
    """The API and the page over ``backend`` (a backend or a zero-argument factory
    that opens one; the app closes it at shutdown); the catalogue and pool files too
    when ``catalog`` is given (owd/catalog_serve.py)."""
    holder = BackendHolder(backend)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        holder.close()

    # /docs and /redoc would load Swagger UI from a CDN: off, /openapi.json stays.
    app = FastAPI(title=title, version="1", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Read-only search over an owd campaign's documents. Only GET; "
                              "queries use the owd query language, never engine syntax.")
    app.state.backend_holder = holder

    def backend_() -> SearchBackend:
        try:
            return holder.get()
        except BackendError as exc:
            raise _ApiError(503, f"index unavailable: {exc}") from None

    def run_search(query: SearchQuery) -> Any:
        b = backend_()
        try:
            return b.search(query)
        except NoVectorsError as exc:
            raise _ApiError(409, str(exc)) from None
        except (BackendError, EmbedderError) as exc:
            raise _ApiError(503, f"index unavailable: {exc}") from None

    def build_query(**kw: Any) -> SearchQuery:
        try:
            filters = _filters(kw.pop("lang"), kw.pop("domain"), kw.pop("pool"), kw.pop("media"),
                               kw.pop("after"), kw.pop("before"))
            return SearchQuery(filters=filters, **kw)
        except QueryError as exc:
            raise _ApiError(422, f"bad query: {exc}") from None

    _install_common(app)
    if catalog is not None:
        from owd.catalog_serve import add_catalog_routes

        add_catalog_routes(app, catalog)

    @app.get("/api/search", response_model=SearchOut, responses=_errors(409, 422, 503), tags=["search"])
    def search(q: Q = "", lang: Lang = [], domain: Domain = [], pool: Pool = [], media: Media = [],
               after: After = None, before: Before = None, mode: Mode = "lexical",
               page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
               size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="results per page")] = 10,
               facets: Annotated[list[FacetNames], Query(description="facets to count (repeatable)")] = [],
               ) -> SearchOut:
        """Search: hits for one page with highlighted snippets, the total, and facet counts."""
        query = build_query(text=q, lang=lang, domain=domain, pool=pool, media=media, after=after, before=before,
                            page=page, page_size=size, facets=tuple(facets or ()), mode=mode)
        result = run_search(query)
        return SearchOut(
            query=q, total=result.total, page=page, size=size,
            pages=min(MAX_PAGE, -(-result.total // size)), took_ms=result.took_ms,
            hits=[_hit_out(h) for h in result.hits],
            facets=_facet_list(result.facets))

    @app.get("/api/facets", response_model=FacetsOut, responses=_errors(409, 422, 503), tags=["search"])
    def facet_counts(q: Q = "", lang: Lang = [], domain: Domain = [], pool: Pool = [], media: Media = [],
                     after: After = None, before: Before = None, mode: Mode = "lexical",
                     facets: Annotated[list[FacetNames], Query(description="facets to count (default: all)")] = [],
                     facet_size: Annotated[int, Query(ge=1, le=MAX_FACET_SIZE)] = 20) -> FacetsOut:
        """Counts per language, domain, pool and media kind for a query and filters."""
        query = build_query(text=q, lang=lang, domain=domain, pool=pool, media=media, after=after, before=before,
                            page_size=1, highlight=False, facets=tuple(facets or FACETS), facet_size=facet_size,
                            mode=mode)
        result = run_search(query)
        return FacetsOut(query=q, total=result.total, facets=_facet_list(result.facets))

    @app.get("/api/docs/{doc_id}", response_model=DocOut, responses=_errors(404, 422, 503), tags=["documents"])
    def document(doc_id: Annotated[str, PathParam(min_length=1, max_length=MAX_ID_CHARS)]) -> DocOut:
        """The index record of one document."""
        b = backend_()
        try:
            record = b.get(doc_id)
        except BackendError as exc:
            raise _ApiError(503, f"index unavailable: {exc}") from None
        if record is None:
            raise _ApiError(404, f"no document with id {doc_id!r}")
        return DocOut(**record)

    @app.get("/api/docs/{doc_id}/similar", response_model=SimilarOut, responses=_errors(404, 422, 503),
             tags=["documents"])
    def similar(doc_id: Annotated[str, PathParam(min_length=1, max_length=MAX_ID_CHARS)],
                lang: Lang = [], domain: Domain = [], pool: Pool = [],
                size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="neighbours to return")] = 10,
                ) -> SimilarOut:
        """Related pages and near-duplicates: the documents whose vectors are nearest this
        one's, in any language unless ``lang`` restricts them."""
        b = backend_()
        try:
            filters = _filters(lang, domain, pool, [], None, None)
            result = b.similar(doc_id, filters=filters, page_size=size)
        except QueryError as exc:
            raise _ApiError(422, f"bad query: {exc}") from None
        except (BackendError, EmbedderError) as exc:
            raise _ApiError(503, f"index unavailable: {exc}") from None
        if result is None:
            raise _ApiError(404, f"no document with id {doc_id!r}")
        return SimilarOut(id=doc_id, total=result.total, took_ms=result.took_ms,
                          hits=[_hit_out(h) for h in result.hits])

    @app.get("/api/health", response_model=HealthOut, responses=_errors(503), tags=["meta"])
    def health() -> HealthOut:
        """ok and the number of indexed documents, or 503 with the reason."""
        b = backend_()
        try:
            n = b.count()
            vectors = b.has_vectors()
        except BackendError as exc:
            raise _ApiError(503, f"index unavailable: {exc}") from None
        return HealthOut(status="ok", backend=type(b).__name__, documents=n, vectors=vectors)

    # The page: fixed files from owd/web, never a path from the request.
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:  # browsers ask for it whatever the page says
        return FileResponse(WEB_DIR / "favicon.svg", media_type=_WEB_FILES["favicon.svg"])

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        if name not in _WEB_FILES:
            raise _ApiError(404, f"no static file {name!r}")
        return FileResponse(WEB_DIR / name, media_type=_WEB_FILES[name])

    return app


def run_server(backend: BackendFactory | SearchBackend | None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
               *, on_ready: Callable[[str], None] | None = None,
               catalog: "SiteCatalog | FederatedCatalog | None" = None) -> None:
    """Serve until Ctrl-C (uvicorn, one process; the backend is shared by its threads).

    The socket is bound here, before uvicorn starts, so a busy port is an
    :class:`OSError` for the caller (uvicorn would log and exit) and ``port=0``
    gets a free port whose URL ``on_ready`` receives."""
    import socket

    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, reuse_port=False)
    bound = sock.getsockname()[1]
    if backend is None:
        if catalog is None:
            raise ValueError("run_server needs a backend or a catalogue")
        app = create_catalog_app(catalog)
    else:
        app = create_app(backend, catalog=catalog)
    config = uvicorn.Config(app, host=host, port=bound, log_level="warning",
                            server_header=False, access_log=False)
    server = uvicorn.Server(config)
    if on_ready is not None:
        url = f"http://{f'[{host}]' if ':' in host else host}:{bound}"
        _notify_when_started(server, lambda: on_ready(url))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _notify_when_started(server: Any, callback: Callable[[], None]) -> None:
    def wait() -> None:
        import time

        while not server.started and not server.should_exit:
            time.sleep(0.02)
        if server.started:
            callback()

    threading.Thread(target=wait, daemon=True, name="owd-serve-ready").start()
