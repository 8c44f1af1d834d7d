"""The test web's HTTP/1.1 server: one asyncio loop, one listening socket per host.

Each host of the :class:`~owd.testweb.content.TestSite` listens on its own
loopback address, so a crawler sees distinct hosts (and per-host politeness can
be checked). Every request is appended to a JSON-lines log with the time, host,
path, status and the client connection, so tests can prove coverage,
politeness and "no URL fetched twice".

The HTTP handling is hand-written on purpose: the test web must be able to send
what a well-behaved server library refuses to (malformed header lines, bodies
shorter than their Content-Length, slow starts).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from owd.testweb.content import Host, TestSite
from owd.testweb.render import Response, conditional, respond

__all__ = ["TestWebServer", "LogEntry", "read_request_log", "free_port", "serve_forever"]

log = logging.getLogger(__name__)

MAX_REQUEST_HEAD = 64 * 1024
KEEPALIVE_IDLE_S = 30.0


@dataclass(frozen=True)
class LogEntry:
    """One served request, as written to the request log."""

    t: float  # time the request head was read (epoch seconds)
    t_end: float  # time the response was fully written (or the connection closed)
    host: str
    ip: str
    method: str
    path: str  # path with query, as requested
    status: int
    bytes: int
    user_agent: str
    conn: str  # client address:port, one per TCP connection
    conn_seq: int  # request number on that connection (1, 2, ...)
    crawler: str = ""  # the X-OWD-Crawler header: which crawler of a distributed crawl asked

    @property
    def url_key(self) -> str:
        return f"{self.host}{self.path}"


def read_request_log(path: Path) -> list[LogEntry]:
    """Read a request log written by :class:`TestWebServer`."""
    entries = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                entries.append(LogEntry(**json.loads(line)))
    return entries


class TestWebServer:
    """Serve a :class:`TestSite` on its loopback addresses.

    Use as a context manager or call :meth:`start` / :meth:`stop`; the server runs
    its own event loop in a background thread, so the caller's thread (a Scrapy
    reactor, a test) stays free.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, site: TestSite, log_path: Path | None = None) -> None:
        self.site = site
        self.log_path = Path(log_path) if log_path else None
        self.hits: Counter[str] = Counter()
        self.requests_served = 0
        self._log_fh: IO[str] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.base_events.Server] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "TestWebServer":
        if self.site.port == 0:
            # Every host must share one port so URLs stay predictable; pick one with free_port().
            raise ValueError("TestSite.port must be a fixed port (see free_port())")
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_fh = open(self.log_path, "a", encoding="utf-8")
        self._thread = threading.Thread(target=self._run, name="owd-testweb", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"test web failed to start on port {self.site.port}: {self._error}") from self._error
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._listen())
        except OSError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _listen(self) -> None:
        for host in self.site.hosts:
            server = await asyncio.start_server(
                functools.partial(self._serve_connection, host),
                host=host.ip,
                port=self.site.port,
                reuse_address=True,
                limit=MAX_REQUEST_HEAD,
            )
            self._servers.append(server)

    def stop(self) -> None:
        loop = self._loop
        if loop is None or not loop.is_running():
            return

        async def shutdown() -> None:
            for server in self._servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(timeout=10)
        if self._log_fh:
            self._log_fh.close()
            self._log_fh = None

    def __enter__(self) -> "TestWebServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- HTTP -----------------------------------------------------------------------------------
    async def _serve_connection(self, host: Host, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        conn = f"{peer[0]}:{peer[1]}" if peer else "?"
        seq = 0
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), KEEPALIVE_IDLE_S)
                except (asyncio.IncompleteReadError, asyncio.TimeoutError, asyncio.LimitOverrunError, ConnectionError):
                    return
                seq += 1
                keep_alive = await self._handle(host, head, reader, writer, conn, seq)
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def _handle(self, host: Host, head: bytes, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter, conn: str, seq: int) -> bool:
        t0 = time.time()
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return False
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(min(length, 10 * 2**20))
        parts = urlsplit(target)
        path = unquote(parts.path) or "/"
        full_path = path + (f"?{parts.query}" if parts.query else "")
        with self._lock:
            self.hits[f"{host.name}{full_path}"] += 1
            hits = self.hits[f"{host.name}{full_path}"]
        accept_gzip = "gzip" in headers.get("accept-encoding", "")
        if host.kind in ("errors", "media"):
            # Bombs and huge bodies take a while to build the first time; off the event loop,
            # so one host's pathology does not delay every other host's timestamps.
            resp = await asyncio.get_running_loop().run_in_executor(
                None, respond, self.site, host, path, parts.query, accept_gzip, hits)
        else:
            resp = respond(self.site, host, path, parts.query, accept_gzip, hits)
        if method in ("GET", "HEAD"):
            resp = conditional(resp, headers.get("if-none-match"), headers.get("if-modified-since"))
        if method == "HEAD":
            resp.truncate_to = 0
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if resp.delay:
            await asyncio.sleep(resp.delay)
        sent = await self._write(writer, resp, keep_alive)
        self._log(LogEntry(
            t=t0, t_end=time.time(), host=headers.get("host", host.name).split(":")[0] or host.name, ip=host.ip,
            method=method, path=full_path, status=resp.status, bytes=sent,
            user_agent=headers.get("user-agent", ""), conn=conn, conn_seq=seq,
            crawler=headers.get("x-owd-crawler", ""),
        ))
        return keep_alive and resp.truncate_to is None

    async def _write(self, writer: asyncio.StreamWriter, resp: Response, keep_alive: bool) -> int:
        reason = HTTPStatus(resp.status).phrase if resp.status in HTTPStatus._value2member_map_ else "Unknown"
        head = [f"HTTP/1.1 {resp.status} {reason}", f"Date: {formatdate(usegmt=True)}", "Server: owd-testweb"]
        head += [f"{k}: {v}" for k, v in resp.headers]
        head.append(f"Content-Length: {len(resp.body)}")
        head.append("Connection: keep-alive" if keep_alive else "Connection: close")
        raw = "\r\n".join(head).encode("utf-8") + b"\r\n"
        raw += b"".join(line + b"\r\n" for line in resp.raw_header_lines) + b"\r\n"
        body = resp.body if resp.truncate_to is None else resp.body[: resp.truncate_to]
        writer.write(raw)
        # Large bodies go out in slices so a client that hangs up early stops the transfer.
        view = memoryview(body)
        for start in range(0, len(body), 256 * 1024):
            writer.write(view[start:start + 256 * 1024])
            await writer.drain()
        await writer.drain()
        return len(body)

    def _log(self, entry: LogEntry) -> None:
        self.requests_served += 1
        if self._log_fh is not None:
            self._log_fh.write(json.dumps(entry.__dict__, ensure_ascii=False) + "\n")
            self._log_fh.flush()


def free_port() -> int:
    """A TCP port that is free on every loopback address we use (checked on two)."""
    import socket

    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.1.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket() as s2:
                s2.bind(("127.0.1.2", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port found on the loopback addresses")


def serve_forever(site: TestSite, log_path: Path | None, on_ready: Any = None) -> None:
    """Run the server until interrupted (the ``owd testweb serve`` command)."""
    server = TestWebServer(site, log_path).start()
    if on_ready:
        on_ready(server)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
