"""One real OpenSearch node shared by every OpenSearch test of a pytest session.

Use it from a test module (or, once, from ``tests/index/conftest.py``)::

    from tests.index.opensearch_fixture import opensearch_node  # noqa: F401  (the fixture)

    def test_something(opensearch_node):
        client = opensearch_node.client()
        ...

Where the node comes from, in this order:

1. ``OWD_OPENSEARCH_URL`` set (CI: ``.ci/run`` starts one node with
   ``scripts/opensearch_node.py start`` and exports it): that node is used as it is and
   never stopped here. A URL that does not answer is an error, not a skip: whoever set
   it meant the tests to run.
2. Else, unless ``OWD_OPENSEARCH_START=0``: the fixture starts a node itself with
   ``scripts/opensearch_node.py`` (fetch on first use, ~15 s; start ~10 s) on a free
   port in a throwaway work dir, and stops it at the end of the session. The node gets
   SIGTERM if pytest itself dies.
3. Else, or when java / mvn are missing or the node cannot be fetched or started: every
   test using the fixture is skipped, with the reason.

The fixture is a process-wide singleton, so importing it into several modules still
starts one node.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "opensearch_node.py"

# The EU's 24 official languages -> the analyzer OpenSearch has built in for each (the
# ``analysis-common`` module), or None where it has none. Measured on 2.19.6: the five
# None ones need a plugin that is not on Maven Central (Polish: analysis-stempel) or
# a hunspell dictionary / custom analyzer.
EU_LANGUAGE_ANALYZERS: dict[str, str | None] = {
    "bg": "bulgarian", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "et": "estonian", "fi": "finnish", "fr": "french",
    "ga": "irish", "hr": None, "hu": "hungarian", "it": "italian", "lt": "lithuanian",
    "lv": "latvian", "mt": None, "nl": "dutch", "pl": None, "pt": "portuguese",
    "ro": "romanian", "sk": None, "sl": None, "sv": "swedish",
}


def load_script() -> ModuleType:
    """scripts/opensearch_node.py as a module (scripts/ is not a package)."""
    name = "owd_scripts_opensearch_node"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def get_json(url: str, timeout: float = 30.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback)
        return json.loads(resp.read().decode())


@dataclass
class OpenSearchNode:
    """A running node: its URL, and whether this session started it (then ``pid``/``workdir`` are set)."""

    url: str
    started_here: bool = False
    pid: int | None = None
    workdir: Path | None = None
    version: str = ""
    _clients: list = field(default_factory=list, repr=False)

    def client(self, **kwargs: Any):
        """An ``opensearchpy.OpenSearch`` client for this node (closed at the end of the session)."""
        from opensearchpy import OpenSearch

        client = OpenSearch(hosts=[self.url], timeout=kwargs.pop("timeout", 60), **kwargs)
        self._clients.append(client)
        return client

    def health(self, wait_for: str | None = None) -> dict:
        query = f"?wait_for_status={wait_for}&timeout=30s" if wait_for else ""
        return get_json(f"{self.url}/_cluster/health{query}")


_STATE: dict[str, Any] = {"node": None, "users": 0, "skip": None}


def _start() -> OpenSearchNode:
    url = os.environ.get("OWD_OPENSEARCH_URL", "").strip().rstrip("/")
    if url:
        try:
            info = get_json(url)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            pytest.fail(f"OWD_OPENSEARCH_URL={url} does not answer ({exc}); start a node with "
                        f"`python scripts/opensearch_node.py start` or unset the variable", pytrace=False)
        return OpenSearchNode(url=url, version=info.get("version", {}).get("number", ""))
    if os.environ.get("OWD_OPENSEARCH_START", "1").strip().lower() in ("0", "no", "false", "off"):
        raise _Skip("OWD_OPENSEARCH_URL is not set and OWD_OPENSEARCH_START=0: no OpenSearch node")
    script = load_script()
    try:
        script.find_java()
        script.find_mvn()
    except script.NodeError as exc:
        raise _Skip(f"OWD_OPENSEARCH_URL is not set and no node can be started here: {exc}") from None
    # As root the node runs as an unprivileged user, who cannot enter pytest's 0700 tmp dirs:
    # the throwaway work dir goes under the script's cache dir instead.
    nodes = script.cache_dir() / "nodes"
    nodes.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="pytest-", dir=nodes))
    os.chmod(workdir, 0o755)
    try:
        info = script.start_node(port=0, workdir=workdir, timeout=240, die_with_parent=True, quiet=True)
    except script.NodeError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        raise _Skip(f"OWD_OPENSEARCH_URL is not set and starting a node failed: {exc}") from None
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return OpenSearchNode(url=info.url, started_here=True, pid=info.pid, workdir=workdir, version=info.version)


def _stop(node: OpenSearchNode) -> None:
    for client in node._clients:
        try:
            client.close()
        except Exception:  # noqa: BLE001 (best effort at teardown)
            pass
    if node.started_here and node.workdir is not None:
        load_script().stop_node(workdir=node.workdir, quiet=True)
        shutil.rmtree(node.workdir, ignore_errors=True)


class _Skip(Exception):
    pass


@pytest.fixture(scope="session")
def opensearch_node() -> Iterator[OpenSearchNode]:
    """The shared OpenSearch node (see the module docstring); skips when none can be had."""
    if _STATE["skip"]:
        pytest.skip(_STATE["skip"])
    if _STATE["node"] is None:
        try:
            _STATE["node"] = _start()
        except _Skip as exc:
            _STATE["skip"] = str(exc)
            pytest.skip(str(exc))
    _STATE["users"] += 1
    try:
        yield _STATE["node"]
    finally:
        _STATE["users"] -= 1
        if _STATE["users"] == 0 and _STATE["node"] is not None:
            node, _STATE["node"] = _STATE["node"], None
            _stop(node)
