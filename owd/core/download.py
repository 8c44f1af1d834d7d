"""Resumable, verified downloads over HTTP(S), and byte ranges of remote files.

:func:`download` fetches a URL (or copies a local file) to ``dest``:

* the bytes go to ``<dest>.part``, and ``<dest>.part.json`` keeps the URL, the
  server's validator (ETag, else Last-Modified) and the bytes so far. A rerun after a
  kill or a dropped connection asks for the rest (``Range: bytes=N-`` with ``If-Range:
  <validator>``); a server that answers 200 instead of 206 (no ranges, or the file
  changed) is read from the start again;
* ``size`` and ``sha256``, when given, are checked; a mismatch deletes the partial data
  and raises :class:`DownloadError` naming what was expected and what came;
* the finished file is renamed into place last, so a ``dest`` that exists is complete.
  A ``dest`` that already matches (the given SHA-256; else the given size, or any size
  when none is given) is not fetched again.

:func:`fetch_range` reads one byte range (at most 64 MiB) and insists on a ``206`` whose
``Content-Range`` is the one asked for.

Address policy (the crawler's, owd.core.networks): every host, the first and each
redirect's (at most 5 redirects), is resolved and refused when its addresses are
loopback, private, link-local, multicast, reserved or unspecified, unless a network in
``allow_networks`` holds them; the connection then goes to the address that was checked,
not to a second lookup of the name. Environment proxies are not used.

Every failure is a :class:`DownloadError`: one line with the URL (or path) and what went
wrong, and a short ``reason`` for counters (``connection``, ``http_404``, ``checksum``...).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import socket
import ssl
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence
from urllib.parse import urljoin, urlsplit

from owd.core.cdxj import to_uri
from owd.core.errors import OwdError
from owd.core.networks import AddressGuard

__all__ = ["DownloadError", "Downloaded", "download", "fetch_range", "is_url", "MAX_RANGE_BYTES", "MAX_REDIRECTS"]

MAX_REDIRECTS = 5
MAX_RANGE_BYTES = 64 << 20
CHUNK = 1 << 20  # bytes read and written per step
STATE_EVERY = 8 << 20  # ``.part.json`` is brought up to date after this many bytes
USER_AGENT = "owd-download/0.1"
_REDIRECTS = (301, 302, 303, 307, 308)
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.I)
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)\s*$", re.I)

class DownloadError(OwdError):
    """A download or range read failed: ``str(err)`` is ``<url or path>: <what went wrong>``;
    ``reason`` is a short name for counters (``connection``, ``tls``, ``refused_address``,
    ``http_<status>``, ``checksum``, ``size``, ``range``, ``redirects``, ``dns``, ...)."""

    def __init__(self, source: str, problem: str, reason: str = "failed") -> None:
        self.source = source
        self.problem = problem
        self.reason = reason
        super().__init__(f"{source}: {problem}")


@dataclass(frozen=True)
class Downloaded:
    """A complete, verified ``path``. ``resumed_from``: bytes kept from an earlier run;
    ``skipped``: ``path`` was already there and matched, nothing was fetched."""

    path: Path
    size: int
    sha256: str
    resumed_from: int
    etag: str | None
    skipped: bool = False


def is_url(source: str) -> bool:
    """True for an http(s) URL with a host; anything else is taken as a local path."""
    parts = urlsplit(source)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


# --------------------------------------------------------------------------- connections
class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to ``address``, the one the policy checked, not to a new lookup of the name
    (a name could resolve differently the second time). Host header, SNI and certificate
    checks still use the name."""

    address = ""

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection, _PinnedHTTPConnection):
    """HTTPSConnection.connect wraps what _PinnedHTTPConnection.connect opened (method order)."""


def _checked_address(url: str, host: str, port: int, guard: AddressGuard) -> str:
    """The first address of ``host`` the policy allows, else DownloadError naming the refusal."""
    literal = host.strip("[]")
    try:
        infos = socket.getaddrinfo(literal, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DownloadError(url, f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}", "dns") from None
    refused: list[tuple[str, str]] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        kind = guard.refusal(address)
        if kind is None:
            return address
        refused.append((address, kind))
    if not refused:
        raise DownloadError(url, f"cannot resolve {host}: no address", "dns")
    address, kind = refused[0]
    bits = 128 if ":" in address else 32
    raise DownloadError(url, f"{host} resolves to {address}, a {kind} address not allow-listed "
                             f"(add {address}/{bits} to network.allow_networks to allow it)", "refused_address")


@contextmanager
def _request(url: str, headers: dict[str, str], guard: AddressGuard,
             timeout: float) -> Iterator[http.client.HTTPResponse]:
    """GET ``url``, following at most MAX_REDIRECTS redirects (each hop's address checked);
    yields the final response (not a redirect). Range headers go along to every hop."""
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        current = to_uri(current)  # an IRI's host in IDNA, other non-ASCII %-encoded
        parts = urlsplit(current)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise DownloadError(url, f"redirected to {current}, not an http(s) URL", "redirects")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise DownloadError(url, f"bad port in {current}", "bad_url") from None
        host = parts.hostname
        address = _checked_address(url, host, port, guard)
        conn: _PinnedHTTPConnection
        if scheme == "https":
            conn = _PinnedHTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            conn = _PinnedHTTPConnection(host, port, timeout=timeout)
        conn.address = address
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            try:
                conn.request("GET", target, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity",
                                                     **headers})
                response = conn.getresponse()
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise DownloadError(url, f"cannot fetch from {host} ({address}): {_describe(exc)}",
                                    "tls" if isinstance(exc, ssl.SSLError) else "connection") from None
            if response.status in _REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise DownloadError(url, f"HTTP {response.status} without a Location header", "bad_response")
                current = urljoin(current, location.strip())
                continue
            yield response
            return
        finally:
            conn.close()
    raise DownloadError(url, f"more than {MAX_REDIRECTS} redirects (last to {current})", "redirects")


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, http.client.IncompleteRead):
        text = f"body cut short ({len(exc.partial)} bytes read, {exc.expected} more expected)"
    return text


def _content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``bytes first-last/total`` -> (first, last, total or None for ``*``)."""
    m = _CONTENT_RANGE.match(value.strip()) if value else None
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), None if m.group(3) == "*" else int(m.group(3))


def _int_header(response: http.client.HTTPResponse, name: str) -> int | None:
    value = response.getheader(name)
    return int(value) if value and value.strip().isdigit() else None


# --------------------------------------------------------------------------- downloads
def _hash_file(path: Path, hasher: "hashlib._Hash | None" = None) -> "hashlib._Hash":
    hasher = hasher or hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            hasher.update(block)
    return hasher


def _current(dest: Path, sha256: str | None, size: int | None) -> Downloaded | None:
    """``dest`` as it is, when it already matches what was asked for."""
    have = dest.stat().st_size
    if size is not None and have != size:
        return None
    digest = _hash_file(dest).hexdigest()
    if sha256 and digest != sha256:
        return None
    return Downloaded(dest, have, digest, 0, None, skipped=True)


def _read_state(path: Path) -> dict[str, object] | None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _write_state(path: Path, state: dict[str, object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _discard(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def download(source: str, dest: Path, *, sha256: str | None = None, size: int | None = None,
             allow_networks: Sequence[str] = (), timeout: float = 60.0,
             progress: Callable[[int, int | None], None] | None = None) -> Downloaded:
    """Fetch ``source`` (http(s) URL or local path) to ``dest``, resumable and verified
    (see the module's notes). ``progress(bytes_so_far, total_or_None)`` is called as
    bytes arrive."""
    dest = Path(dest)
    want = sha256.lower() if sha256 else None
    if dest.is_file():
        found = _current(dest, want, size)
        if found is not None:
            return found
        dest.unlink()  # not what was asked for: a dest that exists must be the right one
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    state_path = dest.with_name(dest.name + ".part.json")
    if is_url(source):
        return _download_url(source, dest, part, state_path, want, size, AddressGuard(allow_networks), timeout,
                             progress)
    return _copy_local(source, dest, part, want, size, progress)


def _verify(source: str, part: Path, state_path: Path, hasher: "hashlib._Hash", sha256: str | None,
            size: int | None) -> tuple[int, str]:
    got = part.stat().st_size
    digest = hasher.hexdigest()
    if size is not None and got != size:
        _discard(part, state_path)
        raise DownloadError(source, f"size mismatch: expected {size} bytes, got {got}", "size")
    if sha256 and digest != sha256:
        _discard(part, state_path)
        raise DownloadError(source, f"SHA-256 mismatch: expected {sha256}, got {digest}", "checksum")
    return got, digest


def _copy_local(source: str, dest: Path, part: Path, sha256: str | None, size: int | None,
                progress: Callable[[int, int | None], None] | None) -> Downloaded:
    path = Path(source)
    try:
        total = path.stat().st_size
        src = open(path, "rb")
    except OSError as exc:
        raise DownloadError(source, f"cannot read: {exc.strerror or exc}", "not_found") from None
    hasher = hashlib.sha256()
    done = 0
    with src, open(part, "wb") as out:
        while block := src.read(CHUNK):
            out.write(block)
            hasher.update(block)
            done += len(block)
            if progress:
                progress(done, total)
        out.flush()
        os.fsync(out.fileno())
    got, digest = _verify(source, part, part, hasher, sha256, size)
    os.replace(part, dest)
    return Downloaded(dest, got, digest, 0, None)


def _download_url(url: str, dest: Path, part: Path, state_path: Path, sha256: str | None, size: int | None,
                  guard: AddressGuard, timeout: float,
                  progress: Callable[[int, int | None], None] | None) -> Downloaded:
    state = _read_state(state_path) or {}
    have = part.stat().st_size if part.is_file() else 0
    etag = _text(state.get("etag"))
    modified = _text(state.get("last_modified"))
    # If-Range needs a strong validator: a strong ETag, else the Last-Modified date.
    validator = etag if etag and not etag.startswith("W/") else modified
    if state.get("url") != url or not validator or (size is not None and have > size):
        have = 0  # nothing that can be resumed safely
    for _attempt in range(2):
        headers = {"Range": f"bytes={have}-", "If-Range": str(validator)} if have else {}
        with _request(url, headers, guard, timeout) as response:
            if have and response.status == 416:
                m = _UNSATISFIED_RANGE.match(response.getheader("Content-Range") or "")
                if m and int(m.group(1)) == have:  # the part already holds the whole file
                    hasher = _hash_file(part)
                    break
                have = 0  # the file shrank or changed: from the start
                continue
            if have and response.status == 206:
                first, _last, total = _content_range(response.getheader("Content-Range")) or (-1, -1, None)
                if first != have:
                    raise DownloadError(url, f"asked for bytes from {have}, the server sent from {first}",
                                        "bad_response")
                mode = "ab"
            elif response.status == 200:
                have, total, mode = 0, _int_header(response, "Content-Length"), "wb"
            else:
                raise DownloadError(url, f"HTTP {response.status} {response.reason}".rstrip(),
                                    f"http_{response.status}")
            if mode == "wb":  # a new start: the validator of what comes now
                etag, modified = response.getheader("ETag"), response.getheader("Last-Modified")
            if size is not None and total is not None and total != size:
                _discard(part, state_path)
                raise DownloadError(url, f"size mismatch: expected {size} bytes, the server has {total}", "size")
            hasher = _hash_file(part) if mode == "ab" else hashlib.sha256()
            _receive(url, response, part, state_path, mode, have, total, hasher,
                     {"url": url, "etag": etag, "last_modified": modified}, progress)
            break
    else:  # pragma: no cover - two 416s in a row
        raise DownloadError(url, "the server refused every byte range", "bad_response")
    got, digest = _verify(url, part, state_path, hasher, sha256, size)
    os.replace(part, dest)
    state_path.unlink(missing_ok=True)
    return Downloaded(dest, got, digest, have, etag)


def _receive(url: str, response: http.client.HTTPResponse, part: Path, state_path: Path, mode: str, have: int,
             total: int | None, hasher: "hashlib._Hash", state: dict[str, object],
             progress: Callable[[int, int | None], None] | None) -> None:
    """Append the response body to ``part``; on a dropped connection keep it for a resume."""
    declared = _int_header(response, "Content-Length")
    got = 0
    noted = 0
    _write_state(state_path, {**state, "bytes": have})
    try:
        with open(part, mode) as out:
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                out.write(block)
                hasher.update(block)
                got += len(block)
                if got - noted >= STATE_EVERY:
                    out.flush()
                    _write_state(state_path, {**state, "bytes": have + got})
                    noted = got
                if progress:
                    progress(have + got, total)
            out.flush()
            os.fsync(out.fileno())
    except (OSError, http.client.HTTPException) as exc:
        _write_state(state_path, {**state, "bytes": have + got})
        raise DownloadError(url, f"connection dropped after {have + got} of {total or 'unknown'} bytes "
                                 f"({_describe(exc)}); {part.name} kept, a rerun resumes", "connection") from None
    _write_state(state_path, {**state, "bytes": have + got})
    if declared is not None and got < declared:
        # http.client ends such a body quietly: the server closed early.
        raise DownloadError(url, f"connection dropped after {have + got} of {total or 'unknown'} bytes; "
                                 f"{part.name} kept, a rerun resumes", "connection")


# --------------------------------------------------------------------------- ranges
def fetch_range(url: str, offset: int, length: int, *, allow_networks: Sequence[str] = (),
                timeout: float = 60.0) -> bytes:
    """The ``length`` bytes of ``url`` from ``offset`` (a local path is read in place).
    Over HTTP the answer must be a 206 whose Content-Range is exactly this range."""
    if offset < 0 or length <= 0:
        raise DownloadError(url, f"bad range: offset {offset}, length {length}", "range")
    if length > MAX_RANGE_BYTES:
        raise DownloadError(url, f"range of {length} bytes refused (at most {MAX_RANGE_BYTES} bytes a range)", "range")
    if not is_url(url):
        try:
            with open(url, "rb") as f:
                f.seek(offset)
                data = f.read(length)
        except OSError as exc:
            raise DownloadError(url, f"cannot read: {exc.strerror or exc}", "not_found") from None
        if len(data) != length:
            raise DownloadError(url, f"wanted {length} bytes at {offset}, the file has {len(data)} there", "range")
        return data
    last = offset + length - 1
    with _request(url, {"Range": f"bytes={offset}-{last}"}, AddressGuard(allow_networks), timeout) as response:
        if response.status != 206:
            raise DownloadError(url, f"expected 206 Partial Content for bytes {offset}-{last}, "
                                     f"got HTTP {response.status} {response.reason}".rstrip(), "range")
        got_range = _content_range(response.getheader("Content-Range"))
        if got_range is None or got_range[:2] != (offset, last):
            raise DownloadError(url, f"asked for bytes {offset}-{last}, the server sent "
                                     f"Content-Range {response.getheader('Content-Range')!r}", "range")
        blocks: list[bytes] = []
        got = 0
        try:
            while got < length:
                block = response.read(min(CHUNK, length - got))
                if not block:
                    break
                blocks.append(block)
                got += len(block)
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(url, f"connection dropped after {got} of {length} bytes at {offset} "
                                     f"({_describe(exc)})", "connection") from None
        if got != length:
            raise DownloadError(url, f"connection dropped after {got} of {length} bytes at {offset}", "connection")
        return b"".join(blocks)
