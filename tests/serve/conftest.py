"""A real tantivy index of the synthetic corpus, served by the real app on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import uvicorn

from owd.index.embedded import EmbeddedBackend
from owd.core.schema import Document
from owd.serve import create_app
from tests.index.corpus import synthetic_corpus
from tests.vectors import cached_embedder, passage_vectors


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(base: str, path: str, method: str = "GET") -> Reply:
    req = urllib.request.Request(base + path, method=method, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@pytest.fixture(scope="session")
def corpus() -> list[Document]:
    return synthetic_corpus()


@pytest.fixture(scope="session")
def index_path(tmp_path_factory: pytest.TempPathFactory, corpus: list[Document]) -> Path:
    path = tmp_path_factory.mktemp("serve") / "tantivy"
    with EmbeddedBackend(path) as backend:
        backend.add(corpus, passage_vectors([d for d in corpus if not d.drop_reason]))
    return path


@pytest.fixture(scope="session")
def server(index_path: Path) -> Iterator[str]:
    """Base URL of the API over the synthetic corpus (opened read-only, as `owd serve` does)."""
    with serving(create_app(lambda: EmbeddedBackend(index_path, create=False, embedder=cached_embedder()))) as base:
        yield base
