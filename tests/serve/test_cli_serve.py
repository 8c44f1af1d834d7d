"""`owd serve` as a user runs it: a campaign file, a process, a port picked by the OS."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

from owd.index.embedded import EmbeddedBackend
from owd.core.schema import Document
from tests.conftest import REPO
from tests.index.corpus import kept
from tests.serve.conftest import call


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The first stdout line, within ``timeout`` seconds."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"owd serve printed nothing in {timeout}s; stderr: {err}")
    return proc.stdout.readline()


def test_owd_serve_starts_before_the_index_and_serves_it_once_built(tmp_path: Path, corpus: list[Document]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"campaign: servetest\nstorage_root: {tmp_path / 'data'}\nseeds:\n  urls: [https://example.org/]\n")
    proc = subprocess.Popen([sys.executable, "-m", "owd.cli", "serve", "--config", str(config), "--port", "0"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = _read_line(proc, 60)
        assert line.startswith("owd serve: http://127.0.0.1:"), line
        base = line.split()[2].rstrip("/")  # "owd serve: http://127.0.0.1:PORT/ (search page), ..."

        r = call(base, "/api/health")
        assert r.status == 503 and "no search index" in r.json()["detail"]

        # `owd index` would write here; the running server picks it up without a restart
        with EmbeddedBackend(tmp_path / "data" / "servetest" / "index" / "tantivy") as backend:
            backend.add(corpus)
        r = call(base, "/api/health")
        assert r.status == 200 and r.json()["documents"] == len(kept(corpus))
        assert call(base, "/api/search?q=beware").json()["hits"][0]["id"] == "doc-html"
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: uvicorn shuts down cleanly
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    err = proc.stderr.read() if proc.stderr else ""
    assert "warning: " in err and "/api/health answers 503" in err, err
    assert proc.returncode == 0, err


def test_owd_serve_refuses_a_busy_port(tmp_path: Path) -> None:
    import socket

    config = tmp_path / "c.yaml"
    config.write_text(f"campaign: servetest\nstorage_root: {tmp_path}\nseeds:\n  urls: [https://example.org/]\n")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "owd.cli", "serve", "--config", str(config), "--port", str(port)],
                              cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
