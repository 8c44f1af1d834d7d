"""A real OpenSearch node: health, index + bulk + search with opensearch-py, the EU language
analyzers, and the lifecycle of ``scripts/opensearch_node.py`` (start, status, stop).

The node comes from :mod:`tests.index.opensearch_fixture` (``OWD_OPENSEARCH_URL``, or one
started for the session); without java/mvn these tests skip with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.index.opensearch_fixture import (  # noqa: F401  (opensearch_node is a fixture)
    EU_LANGUAGE_ANALYZERS,
    SCRIPT,
    OpenSearchNode,
    get_json,
    load_script,
    opensearch_node,
)

slow = pytest.mark.slow  # a node of our own takes ~10 s to start (plus ~15 s to fetch, once)


@pytest.fixture
def index_name(opensearch_node: OpenSearchNode):
    """A fresh index name, deleted after the test."""
    name = f"owd-test-{uuid.uuid4().hex[:12]}"
    yield name
    opensearch_node.client().indices.delete(index=name, ignore_unavailable=True)


@slow
def test_cluster_health(opensearch_node: OpenSearchNode) -> None:
    health = opensearch_node.health(wait_for="yellow")
    assert health["status"] in ("green", "yellow"), health
    assert health["number_of_nodes"] >= 1
    assert get_json(opensearch_node.url)["version"]["distribution"] == "opensearch"


@slow
def test_bulk_index_and_search(opensearch_node: OpenSearchNode, index_name: str) -> None:
    from opensearchpy import helpers

    client = opensearch_node.client()
    client.indices.create(index=index_name, body={
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {"properties": {
            "lang": {"type": "keyword"},
            "title": {"type": "text"},
            "text_de": {"type": "text", "analyzer": "german"},
            "text_fr": {"type": "text", "analyzer": "french"},
            "text_en": {"type": "text", "analyzer": "english"},
        }},
    })
    docs = [
        {"_id": "de-1", "lang": "de", "title": "Häuser in Ljubljana", "text_de": "Die Häuser der Stadt sind alt."},
        {"_id": "fr-1", "lang": "fr", "title": "Les chevaux", "text_fr": "Les chevaux courent dans les prés."},
        {"_id": "en-1", "lang": "en", "title": "Running horses", "text_en": "The horses were running fast."},
    ]
    ok, errors = helpers.bulk(client, ({"_index": index_name, **d} for d in docs), refresh="wait_for")
    assert ok == 3 and not errors
    assert client.count(index=index_name)["count"] == 3
    # The health of the new index: green on a node started by the script (0 replicas by default).
    health = client.cluster.health(index=index_name, wait_for_status="yellow")
    assert health["status"] in ("green", "yellow")

    def ids(query: dict) -> set[str]:
        return {h["_id"] for h in client.search(index=index_name, body={"query": query})["hits"]["hits"]}

    # Stemming through the language analyzers: singular query, plural text.
    assert ids({"match": {"text_de": "Haus"}}) == {"de-1"}
    assert ids({"match": {"text_fr": "cheval"}}) == {"fr-1"}
    assert ids({"match": {"text_en": "horse run"}}) == {"en-1"}
    assert ids({"term": {"lang": "fr"}}) == {"fr-1"}
    assert ids({"match_all": {}}) == {"de-1", "fr-1", "en-1"}


@slow
@pytest.mark.parametrize("lang", sorted(k for k, v in EU_LANGUAGE_ANALYZERS.items() if v))
def test_eu_language_analyzer_exists(opensearch_node: OpenSearchNode, lang: str) -> None:
    analyzer = EU_LANGUAGE_ANALYZERS[lang]
    resp = opensearch_node.client().indices.analyze(body={"analyzer": analyzer, "text": "Europa"})
    tokens = [t["token"] for t in resp["tokens"]]
    assert len(tokens) == 1 and tokens[0].startswith("eur"), (analyzer, resp)  # stemmed or not


@slow
def test_language_analyzers_stem(opensearch_node: OpenSearchNode) -> None:
    client = opensearch_node.client()

    def tokens(analyzer: str, text: str) -> list[str]:
        return [t["token"] for t in client.indices.analyze(body={"analyzer": analyzer, "text": text})["tokens"]]

    assert tokens("german", "Die Häuser") == ["haus"]  # stop word dropped, umlaut folded, plural stemmed
    assert tokens("french", "les chevaux") == ["cheval"]
    assert tokens("english", "running horses") == ["run", "hors"]


@slow
def test_eu_languages_without_builtin_analyzer(opensearch_node: OpenSearchNode) -> None:
    """Record which EU languages lack a built-in analyzer on this node (hr, mt, pl, sk, sl on the
    script's node; a full distribution adds ``polish`` through its analysis-stempel plugin)."""
    from opensearchpy.exceptions import RequestError

    client = opensearch_node.client()
    missing = []
    for lang, name in {"hr": "croatian", "mt": "maltese", "pl": "polish", "sk": "slovak", "sl": "slovenian"}.items():
        try:
            client.indices.analyze(body={"analyzer": name, "text": "x"})
        except RequestError as exc:
            assert "failed to find" in str(exc)
            missing.append(lang)
    assert set(missing) >= {"hr", "mt", "sk", "sl"}


# ---------------------------------------------------------------- the script itself

def _script(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)


def _can_start() -> str | None:
    script = load_script()
    try:
        script.find_java()
        script.find_mvn()
    except script.NodeError as exc:
        return str(exc)
    return None


@slow
def test_script_start_status_stop() -> None:
    """The CLI that .ci/run and users call: start on a free port, status, stop, status again."""
    reason = _can_start()
    if reason:
        pytest.skip(f"cannot run the node script here: {reason}")
    script = load_script()
    nodes = script.cache_dir() / "nodes"
    nodes.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="pytest-cli-", dir=nodes))
    os.chmod(workdir, 0o755)
    try:
        t0 = time.monotonic()
        started = _script("start", "--port", "0", "--workdir", str(workdir), "--timeout", "240")
        took = time.monotonic() - t0
        if started.returncode == script.EXIT_FETCH_FAILED:
            pytest.skip(f"OpenSearch could not be fetched here: {started.stderr.strip()}")
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip().splitlines()[-1]
        assert url.startswith("http://127.0.0.1:")
        port = url.rsplit(":", 1)[1]
        assert get_json(f"{url}/_cluster/health")["status"] == "green"

        status = _script("status", "--workdir", str(workdir))
        assert status.returncode == 0, status.stderr
        info = json.loads(status.stdout)
        assert info["status"] == "green" and info["url"] == url
        # The heap is capped at 512 MiB; the whole JVM stays well under 1.5 GiB.
        assert info["rss_mib"] is not None and info["rss_mib"] < 1536, info
        if os.geteuid() == 0:
            assert info["user"] != "root"  # OpenSearch refuses root: the script drops to a node user
        print(f"\nnode script: green in {took:.1f}s, RSS {info['rss_mib']} MiB, port {port}")

        # A second start on the same work dir reuses the running node.
        again = _script("start", "--port", port, "--workdir", str(workdir))
        assert again.returncode == 0 and again.stdout.strip() == url, again.stderr

        stopped = _script("stop", "--workdir", str(workdir))
        assert stopped.returncode == 0, stopped.stderr
        assert not script.pid_alive(info["pid"])
        assert _script("status", "--workdir", str(workdir)).returncode == script.EXIT_NOT_RUNNING
        assert _script("stop", "--workdir", str(workdir)).returncode == script.EXIT_NOT_RUNNING
        assert _script("stop", "--clean", "--workdir", str(workdir)).returncode == script.EXIT_NOT_RUNNING
        assert not workdir.exists()  # --clean removed the data and logs
    finally:
        script.stop_node(workdir=workdir, quiet=True)
        shutil.rmtree(workdir, ignore_errors=True)


def test_script_missing_java_is_clear(tmp_path: Path) -> None:
    """Without java (nor mvn) on PATH the script says so and exits 4."""
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "OWD_OPENSEARCH_JAVA_HOME")}
    env["PATH"] = str(tmp_path)  # an empty dir: no java, no mvn
    env["OWD_OPENSEARCH_CACHE"] = str(tmp_path / "cache")  # nothing fetched there
    proc = subprocess.run([sys.executable, str(SCRIPT), "fetch"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 4, proc.stderr
    assert "java not found" in proc.stderr


def test_script_status_when_not_running(tmp_path: Path) -> None:
    proc = _script("status", "--workdir", str(tmp_path / "nothing-here"))
    assert proc.returncode == 3
    assert "not running" in proc.stderr
