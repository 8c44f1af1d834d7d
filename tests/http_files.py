"""A small file server on loopback for download tests: ``with FileServer(folder) as server``.

Serves the files of one folder at ``server.url`` (``http://127.0.0.1:<port>/``) with what
resumable downloads rely on: single byte ranges (``206`` with ``Content-Range``, ``416``
when unsatisfiable), a strong ``ETag`` and ``Last-Modified``, ``If-Range``. Switches for
the tests: ``ranges = False`` (answers every request with the whole file, 200),
``redirects`` (path -> Location), and :meth:`drop_after`, which closes the connection
after N bytes of a body. That last one stands in for a server killed or a network cut
mid-transfer, a fault a test cannot cause any other way (a real server stays up, and
nothing may be fetched from beyond this machine). Bound to 127.0.0.1 only; every
request is logged in ``server.log`` with the bytes of body sent.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@dataclass
class Served:
    """One request: path, the Range header asked for, the status answered, body bytes sent."""

    path: str
    range: str | None
    status: int
    sent: int


class FileServer:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.ranges = True
        self.redirects: dict[str, str] = {}
        self.log: list[Served] = []
        self._drops: list[tuple[str | None, int]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> "FileServer":
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def drop_after(self, nbytes: int, *, path: str | None = None, times: int = 1) -> None:
        """Close the connection after ``nbytes`` of body, for the next ``times`` responses
        (to ``path`` only, when given) whose body is longer than that."""
        with self._lock:
            self._drops.extend([(path, nbytes)] * times)

    def sent(self) -> int:
        """Body bytes sent so far, over all requests (counted as each block is handed to
        the socket, so a client that has its bytes finds them counted)."""
        with self._lock:
            return sum(s.sent for s in self.log)

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    # ------------------------------------------------------------------ internals
    def _take_drop(self, path: str, body: int) -> int | None:
        with self._lock:
            for i, (where, nbytes) in enumerate(self._drops):
                if (where is None or where == path) and nbytes < body:
                    del self._drops[i]
                    return nbytes
        return None

    def _note(self, served: Served) -> None:
        with self._lock:
            self.log.append(served)


def _etag(path: Path) -> str:
    st = path.stat()
    return '"' + hashlib.sha1(f"{st.st_size}-{st.st_mtime_ns}".encode()).hexdigest()[:16] + '"'


def _handler_for(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            path = unquote(urlsplit(self.path).path)
            asked = self.headers.get("Range")
            if path in server.redirects:
                self._head_only(302, path, asked, {"Location": server.redirects[path]})
                return
            file = (server.root / path.lstrip("/")).resolve()
            if not file.is_file() or server.root.resolve() not in file.parents:
                self._head_only(404, path, asked, {})
                return
            data = file.read_bytes()
            size = len(data)
            etag = _etag(file)
            headers = {"ETag": etag, "Last-Modified": formatdate(file.stat().st_mtime, usegmt=True),
                       "Accept-Ranges": "bytes" if server.ranges else "none",
                       "Content-Type": "application/octet-stream"}
            status, first, last = 200, 0, size - 1
            if_range = self.headers.get("If-Range")
            m = _RANGE.match(asked.strip()) if asked and server.ranges else None
            if m and (if_range is None or if_range == etag):
                if m.group(1):
                    first = int(m.group(1))
                    last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                elif m.group(2):  # suffix range: the last N bytes
                    first, last = max(0, size - int(m.group(2))), size - 1
                if first >= size or last < first:
                    self._head_only(416, path, asked, {**headers, "Content-Range": f"bytes */{size}"})
                    return
                status = 206
                headers["Content-Range"] = f"bytes {first}-{last}/{size}"
            body = data[first:last + 1]
            # Logged before a byte goes out, and counted before each write: a client that
            # has its answer always finds it in the log.
            served = Served(path, asked, status, 0)
            server._note(served)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            cut = server._take_drop(path, len(body))
            if cut is not None:
                served.sent = cut
                self.wfile.write(body[:cut])
                self.wfile.flush()
                # An abrupt end: no more bytes, the socket closed under the client.
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            for start in range(0, len(body), 1 << 16):
                block = body[start:start + (1 << 16)]
                served.sent += len(block)
                try:
                    self.wfile.write(block)
                except ConnectionError:  # the client stopped reading (it wanted a range, say)
                    served.sent -= len(block)
                    self.close_connection = True
                    break

        def _head_only(self, status: int, path: str, asked: str | None, headers: dict[str, str]) -> None:
            server._note(Served(path, asked, status, 0))
            self.send_response(status)
            for name, value in {**headers, "Content-Length": "0"}.items():
                self.send_header(name, value)
            self.end_headers()

    return Handler
