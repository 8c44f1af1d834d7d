"""What only the OpenSearch backend promises, against a real node: the template and the
per-language analysis, the alias swap of a rebuild, the error listing refused documents,
retries with backoff, and ``owd index``/``owd search`` with ``--backend opensearch``
(including the node going away in the middle of ``owd index``).

The shared node comes from :mod:`tests.index.opensearch_fixture`; without java/mvn these
tests skip with the reason. Faults that a healthy node never produces on demand (429,
503) come from :class:`FaultProxy`, a loopback HTTP proxy in front of the real node that
answers a few requests itself and forwards the rest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from owd.index.base import MAX_TEXT_CHARS, BackendError, Filters, SearchQuery
from owd.index.build import index_campaign
from owd.index.opensearch import (
    INDEX_FORMAT,
    LANGUAGE_ANALYZERS,
    TEMPLATE_NAME,
    IndexingError,
    OpenSearchBackend,
    RetryPolicy,
)
from owd.core.schema import Document, write_parquet
from tests.index.contract import ids
from tests.index.corpus import kept, synthetic_corpus
from tests.index.opensearch_fixture import (  # noqa: F401  (opensearch_node is a fixture)
    EU_LANGUAGE_ANALYZERS,
    OpenSearchNode,
    load_script,
    opensearch_node,
)

UTC = dt.timezone.utc
REPO = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(attempts=4, initial_backoff=0.05, max_backoff=0.2)


def _doc(i: str, lang: str | None, title: str, text: str, **kw: Any) -> Document:
    return Document(id=i, url=f"https://example.org/{i}", host="example.org", domain="example.org",
                    campaign="t", lang=lang, title=title, text=text,
                    fetch_time=dt.datetime(2026, 11, 2, tzinfo=UTC), **kw)


@pytest.fixture
def make(opensearch_node: OpenSearchNode) -> Iterator[Any]:
    """Open backends on fresh index names; every index made is deleted afterwards."""
    made: list[OpenSearchBackend] = []

    def factory(name: str | None = None, url: str | None = None, **options: Any) -> OpenSearchBackend:
        b = OpenSearchBackend(url or opensearch_node.url, name or f"owdtest-{uuid.uuid4().hex[:10]}", **options)
        made.append(b)
        return b

    yield factory
    for name in sorted({b.index for b in made}):
        with OpenSearchBackend(opensearch_node.url, name) as b:
            b.drop()
    for b in made:
        b.close()


# ---------------------------------------------------------------------------- template and analysis


def test_template_maps_every_eu_language(make: Any, opensearch_node: OpenSearchNode) -> None:
    b = make()
    client = opensearch_node.client()
    template = client.indices.get_index_template(name=TEMPLATE_NAME)["index_templates"][0]["index_template"]
    props = template["template"]["mappings"]["properties"]
    assert template["template"]["mappings"]["dynamic"] == "strict"
    for lang, builtin in EU_LANGUAGE_ANALYZERS.items():
        if builtin is None:  # hr mt pl sk sl: the folding fallback
            assert lang not in LANGUAGE_ANALYZERS
            assert props["loose_plain"]["analyzer"] == "owd_folded"
        else:
            assert LANGUAGE_ANALYZERS[lang] == builtin
            assert props[f"loose_{builtin}"]["analyzer"] == builtin
    # the concrete index behind the alias was made from the template
    (concrete,) = client.indices.get_alias(name=b.index)
    assert concrete.startswith(f"{b.index}--owd{INDEX_FORMAT}-")
    mapping = client.indices.get_mapping(index=concrete)[concrete]["mappings"]
    assert mapping["_meta"]["owd_format"] == INDEX_FORMAT and "loose_german" in mapping["properties"]

    def analyze(analyzer: str, text: str) -> list[str]:
        found = client.indices.analyze(index=concrete, body={"analyzer": analyzer, "text": text})
        return [t["token"] for t in found["tokens"]]

    # exact words split like the query parser: letters and digits, lowercased, nothing longer than 40
    assert analyze("owd_exact", "E-mail ZAŠČITA l'eau 3.5 " + "x" * 41) == ["e", "mail", "zaščita", "l", "eau", "3", "5"]
    assert analyze("owd_folded", "Zaščita Powódź građana") == ["zascita", "powodz", "gradana"]


def test_german_stemming_matches_inflections(make: Any) -> None:
    b = make()
    b.add([
        _doc("de", "de", "Häuser am Fluss", "Die Überschwemmungen waren schwer."),
        _doc("en", "en", "Rivers", "The flooding of the river was severe."),
        _doc("fr", "fr", "Rivières", "Les inondations étaient graves."),
        _doc("cs", "cs", "Řeky", "Povodně zasáhly město."),
    ])
    assert ids(b.search(SearchQuery("Überschwemmung"))) == ["de"]  # plural page, singular query
    assert ids(b.search(SearchQuery("haus"))) == ["de"]  # Häuser -> haus
    assert ids(b.search(SearchQuery("uberschwemmungen"))) == ["de"]  # German normalisation: ü = u
    assert ids(b.search(SearchQuery("floods"))) == ["en"]
    assert ids(b.search(SearchQuery("inondation lang:fr"))) == ["fr"]
    assert ids(b.search(SearchQuery("inondation lang:de"))) == []  # a stem never crosses languages
    assert ids(b.search(SearchQuery("povodni"))) == ["cs"]


def test_fallback_languages_fold_diacritics(make: Any) -> None:
    b = make()
    b.add([_doc("sl", "sl", "Zaščita", "Protipoplavna zaščita je nujna."),
           _doc("pl", "pl", "Powódź", "Powódź zalała stare miasto."),
           _doc("hr", "hr", "Zdravlje", "Zdravlje građana je ugroženo."),
           _doc("xx", None, "Škoda", "Škoda je velika.")])
    assert ids(b.search(SearchQuery("zascita"))) == ["sl"]
    assert ids(b.search(SearchQuery("powodz"))) == ["pl"]
    assert ids(b.search(SearchQuery("gradana lang:hr"))) == ["hr"]
    assert ids(b.search(SearchQuery("skoda"))) == ["xx"]  # no language: folded only
    # no stemmer for Slovenian: another inflection is not found
    assert ids(b.search(SearchQuery("zaščite"))) == []


def test_exact_match_outranks_stem_and_is_the_only_one_marked(make: Any) -> None:
    b = make()
    b.add([_doc("stem", "en", "Report", "The flooding report."),
           _doc("exact", "en", "Report", "The floods report.")])
    r = b.search(SearchQuery("floods"))
    assert ids(r) == ["exact", "stem"]
    assert "<mark>floods</mark>" in r.hits[0].snippet
    assert "<mark>" not in r.hits[1].snippet and "flooding" in r.hits[1].snippet


def test_long_text_is_capped_and_highlighted(make: Any) -> None:
    b = make()
    long_text = ("word " * 150_000) + "zqneedle " + "word " * 100_000 + "zqbeyond"
    b.add([_doc("long", "en", "Long", long_text), _doc("short", "en", "Short", "word")])
    r = b.search(SearchQuery("zqneedle"))
    assert ids(r) == ["long"] and "<mark>zqneedle</mark>" in r.hits[0].snippet
    assert r.hits[0].snippet.startswith("…") and r.hits[0].snippet.endswith("…")
    assert b.search(SearchQuery("zqbeyond")).total == 0  # past MAX_TEXT_CHARS: not indexed
    assert len((b.get("long") or {})["text"]) == MAX_TEXT_CHARS


# ---------------------------------------------------------------------------- aliases


def test_rebuild_swaps_the_alias_atomically(make: Any, opensearch_node: OpenSearchNode) -> None:
    writer = make()
    writer.add([_doc(f"old{i}", "en", "Old", "zqold page") for i in range(5)])
    reader = make(writer.index)  # another client, as a search server would have
    client = opensearch_node.client()
    (before,) = client.indices.get_alias(name=writer.index)
    with writer.rebuilding() as atomic:
        assert atomic
        writer.add([_doc(f"new{i}", "en", "New", "zqnew page") for i in range(3)])
        # readers still see every old document and none of the new ones
        assert reader.count() == 5 and reader.search(SearchQuery("zqnew")).total == 0
        assert reader.search(SearchQuery("zqold")).total == 5
        assert reader.get("old0") is not None and reader.get("new0") is None
    assert reader.count() == 3 and ids(reader.search(SearchQuery("zqnew"))) == ["new0", "new1", "new2"]
    assert reader.search(SearchQuery("zqold")).total == 0
    (after,) = client.indices.get_alias(name=writer.index)
    assert after != before and not client.indices.exists(index=before)  # the old index is gone
    # writes after the rebuild go to the new index through the alias
    writer.add([_doc("later", "en", "Later", "zqnew too")])
    assert reader.count() == 4


def test_failed_rebuild_keeps_the_old_index(make: Any, opensearch_node: OpenSearchNode) -> None:
    b = make()
    b.add([_doc("a", "en", "A", "alpha"), _doc("b", "en", "B", "beta")])
    client = opensearch_node.client()
    (before,) = client.indices.get_alias(name=b.index)
    with pytest.raises(RuntimeError, match="shard broke"):
        with b.rebuilding():
            b.add([_doc("c", "en", "C", "gamma")])
            raise RuntimeError("shard broke")
    assert list(client.indices.get_alias(name=b.index)) == [before]
    assert b.count() == 2 and b.get("c") is None
    assert not [n for n in client.indices.get(index=f"{b.index}--*") if n != before]  # no orphan index


def test_clear_swaps_in_an_empty_index(make: Any, opensearch_node: OpenSearchNode) -> None:
    b = make()
    b.add([_doc("a", "en", "A", "alpha")])
    client = opensearch_node.client()
    (before,) = client.indices.get_alias(name=b.index)
    b.clear()
    (after,) = client.indices.get_alias(name=b.index)
    assert after != before and not client.indices.exists(index=before) and b.count() == 0


def test_open_missing_and_incompatible(make: Any, opensearch_node: OpenSearchNode) -> None:
    with pytest.raises(BackendError, match="no owd index"):
        OpenSearchBackend(opensearch_node.url, f"owdtest-missing-{uuid.uuid4().hex[:6]}", create=False)
    with pytest.raises(BackendError, match="index name"):
        OpenSearchBackend(opensearch_node.url, "Bad Name")
    b = make()
    client = opensearch_node.client()
    client.indices.put_mapping(index=b.index, body={"_meta": {"owd_format": 0}})
    with pytest.raises(BackendError, match="rebuild"):
        OpenSearchBackend(opensearch_node.url, b.index)
    client.indices.put_mapping(index=b.index, body={"_meta": {"owd_format": INDEX_FORMAT}})
    b.close()
    with pytest.raises(BackendError, match="closed"):
        b.count()


# ---------------------------------------------------------------------------- errors and retries


def test_refused_documents_are_listed_by_id(make: Any) -> None:
    b = make()
    good = [_doc(f"good{i}", "en", "Good", "fine") for i in range(4)]
    # a real mapping conflict: dup_cluster_size is an integer field, and the index is strict
    bad = [dataclasses.replace(_doc(f"bad{i}", "en", "Bad", "x"), dup_cluster_size=f"many-{i}")  # type: ignore[arg-type]
           for i in range(2)]
    with pytest.raises(IndexingError) as err:
        b.add(good[:2] + bad + good[2:])
    assert set(err.value.failures) == {"bad0", "bad1"}
    message = str(err.value)
    assert "rejected 2 document(s)" in message and "bad0:" in message and "bad1:" in message
    assert "HTTP 400" in message and "dup_cluster_size" in message and "mapper_parsing_exception" in message
    assert b.count() == 4  # the others are in (OpenSearch writes through)


class FaultProxy:
    """A loopback HTTP proxy in front of the real node. While ``faults`` is not empty, a
    request whose path contains ``match`` is answered here with the next status in it
    (429 or 503 with an OpenSearch-style error body) instead of being forwarded. Status
    207 stands for a bulk answer of 200 whose every item was rejected with 429, as a
    node with a full write queue answers."""

    def __init__(self, upstream: str, match: str = "/_bulk") -> None:
        self.upstream = upstream.split("//", 1)[1]
        self.match = match
        self.faults: list[int] = []
        self.answered: list[int] = []  # statuses sent instead of forwarding
        self.forwarded = 0
        self.rejected_items: list[int] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the client expects

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    status = proxy.faults.pop(0) if proxy.faults and proxy.match in self.path else None
                    if status:
                        proxy.answered.append(status)
                    else:
                        proxy.forwarded += 1
                if status == 207:
                    lines = [json.loads(ln) for ln in body.splitlines() if ln.strip()]
                    items = [{op: {"_index": meta.get("_index"), "_id": meta["_id"], "status": 429,
                                   "error": {"type": "es_rejected_execution_exception", "reason": "injected"}}}
                             for line in lines for op, meta in line.items() if op in ("index", "delete")]
                    proxy.rejected_items.append(len(items))
                    self._reply(200, {"content-type": "application/json"},
                                json.dumps({"took": 1, "errors": True, "items": items}).encode())
                    return
                if status:
                    payload = json.dumps({"error": {"type": "es_rejected_execution_exception" if status == 429
                                                    else "unavailable", "reason": "injected"},
                                          "status": status}).encode()
                    self._reply(status, {"content-type": "application/json"}, payload)
                    return
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body if body else None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                self._reply(resp.status, {k: v for k, v in resp.getheaders()
                                          if k.lower() not in ("content-length", "transfer-encoding", "connection")},
                            data)

            def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_bulk_retries_429_and_503_with_backoff(make: Any, opensearch_node: OpenSearchNode) -> None:
    """The proxy is the one fake here: a healthy node does not answer 429/503 on demand."""
    with FaultProxy(opensearch_node.url) as proxy:
        policy = RetryPolicy(attempts=5, initial_backoff=0.1, max_backoff=0.25)
        b = make(url=proxy.url, retry=policy)
        proxy.faults = [429, 503, 429]
        t0 = time.monotonic()
        assert b.add([_doc(f"d{i}", "en", "T", "retried page") for i in range(50)]) == 50
        waited = time.monotonic() - t0
        assert proxy.answered == [429, 503, 429]
        assert waited >= 0.1 + 0.2 + 0.25  # 0.1 * 2**retry, capped at 0.25
        assert b.count() == 50
        # reads retry the same way
        proxy.match, proxy.faults = "/_search", [503, 429]
        assert b.search(SearchQuery("retried")).total == 50
        assert proxy.answered[-2:] == [503, 429]


def test_rejected_bulk_items_are_retried(make: Any, opensearch_node: OpenSearchNode) -> None:
    """Item-level 429s (a full write queue) are retried, only those items, with backoff.
    The proxy fakes the rejection: a single healthy node does not reject on demand."""
    with FaultProxy(opensearch_node.url) as proxy:
        b = make(url=proxy.url, retry=FAST)
        proxy.faults = [207, 207]
        assert b.add([_doc(f"d{i}", "en", "T", "queued page") for i in range(30)]) == 30
        assert proxy.rejected_items == [30, 30] and b.count() == 30
        assert b.search(SearchQuery("queued")).total == 30


def test_retries_give_up_with_a_clear_message(make: Any, opensearch_node: OpenSearchNode) -> None:
    with FaultProxy(opensearch_node.url) as proxy:
        b = make(url=proxy.url, retry=FAST)
        proxy.faults = [503] * 10
        with pytest.raises(BackendError, match=r"is unavailable: indexing 3 document\(s\) failed 4 times"):
            b.add([_doc(f"d{i}", "en", "T", "t") for i in range(3)])
        assert len(proxy.answered) == 4  # attempts, then no more
        proxy.match, proxy.faults = "/_count", [503] * 10
        with pytest.raises(BackendError, match="counting failed 4 times"):
            b.count()
        # a client error (4xx) is not retried: it would fail the same way again
        proxy.faults, proxy.answered = [400, 400], []
        with pytest.raises(BackendError, match="counting failed: .*400"):
            b.count()
        assert proxy.answered == [400]
        proxy.faults = []
        assert b.count() == 0


def test_unreachable_node_is_a_clear_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        t0 = time.monotonic()
        with pytest.raises(BackendError, match=f"OpenSearch at http://127.0.0.1:{port} is unavailable.*4 times"):
            OpenSearchBackend(f"http://127.0.0.1:{port}", "owdtest-x", retry=FAST)
        assert time.monotonic() - t0 < 10


# ---------------------------------------------------------------------------- campaign indexing and the CLI


def test_index_campaign_incremental_and_rebuild(make: Any, tmp_path: Path) -> None:
    docs = synthetic_corpus()
    docs_dir = tmp_path / "docs"
    half = len(docs) // 2
    write_parquet(docs[:half], docs_dir / "a.parquet")
    write_parquet(docs[half:], docs_dir / "b.parquet")
    b = make()
    state = tmp_path / "index" / "state.json"
    s = index_campaign(docs_dir, b, state)
    assert (s.shards_indexed, s.total) == (2, len(kept(docs)))
    assert index_campaign(docs_dir, b, state).shards_skipped == 2
    s = index_campaign(docs_dir, b, state, rebuild=True)
    assert (s.shards_indexed, s.total) == (2, len(kept(docs)))
    assert sorted(json.loads(state.read_text())["shards"]) == ["a.parquet", "b.parquet"]


def _campaign(root: Path, name: str, shards: list[list[Document]]) -> Path:
    config = root / f"{name}.yaml"
    config.write_text(f"campaign: {name}\nseeds: {{urls: ['http://a.eu/']}}\nstorage_root: {root / 'data'}\n")
    for i, docs in enumerate(shards):
        write_parquet(docs, root / "data" / name / "docs" / f"shard-{i:03d}.parquet")
    return config


def _owd(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "owd.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_cli_index_and_search_on_opensearch(opensearch_node: OpenSearchNode, tmp_path: Path) -> None:
    docs = synthetic_corpus()
    name = f"owdtest-cli-{uuid.uuid4().hex[:6]}"
    config = _campaign(tmp_path, "clitest", [docs[:40], docs[40:]])
    common = ("--backend", "opensearch", "--url", opensearch_node.url, "--index-name", name)
    try:
        first = _owd("index", str(config), *common)
        assert first.returncode == 0, first.stderr[-2000:]
        assert f"{len(kept(docs))} in the index" in first.stdout
        assert (tmp_path / "data" / "clitest" / "index" / f"state-opensearch-{name}.json").exists()
        again = _owd("index", str(config), *common)
        assert again.returncode == 0 and "0 shard(s) indexed" in again.stdout
        found = _owd("search", "zdravje", "--config", str(config), "--lang", "sl", "--json", *common)
        assert found.returncode == 0, found.stderr
        result = json.loads(found.stdout)
        assert result["total"] >= 1 and {h["lang"] for h in result["hits"]} == {"sl"}
        assert "<mark>" in result["hits"][0]["snippet"]
        rebuilt = _owd("index", str(config), "--rebuild", *common)
        assert rebuilt.returncode == 0 and "2 shard(s) indexed" in rebuilt.stdout
        missing = _owd("search", "x", "--config", str(config), "--backend", "opensearch", "--url",
                       opensearch_node.url, "--index-name", name + "-nope")
        assert missing.returncode == 2 and "no owd index" in missing.stderr
    finally:
        with OpenSearchBackend(opensearch_node.url, name) as b:
            b.drop()


def _unique_docs(n_shards: int, per_shard: int, overlap: int) -> list[list[Document]]:
    """Shards whose neighbours share ``overlap`` documents; every 10th document is a duplicate
    (a drop_reason), the same in every shard it appears in."""
    shards = []
    for s in range(n_shards):
        start = s * (per_shard - overlap)
        shards.append([Document(
            id=f"u{i:06d}", url=f"https://example.si/{i}", host="example.si", domain="example.si",
            campaign="stop", lang=("sl", "de", "en")[i % 3], title=f"Page {i}", text=f"Text of page {i} zqstop.",
            fetch_time=dt.datetime(2026, 11, 1, tzinfo=UTC) + dt.timedelta(minutes=i),
            drop_reason="duplicate" if i % 10 == 9 else None) for i in range(start, start + per_shard)])
    return shards


@pytest.mark.slow
def test_node_stopped_during_owd_index_then_rerun(tmp_path: Path) -> None:
    """The issue's Must-show: stop OpenSearch during ``owd index``; the command retries, then
    fails with a clear message; after a restart a rerun completes with exactly the unique
    documents. Runs its own node (not the shared one), on its own port and work dir."""
    script = load_script()
    try:
        script.find_java()
        script.find_mvn()
    except script.NodeError as exc:
        pytest.skip(f"no OpenSearch node can be started here: {exc}")
    nodes = script.cache_dir() / "nodes"
    nodes.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="pytest-stop-", dir=nodes))
    workdir.chmod(0o755)
    port = script.free_port()
    try:
        info = script.start_node(port=port, workdir=workdir, timeout=240, die_with_parent=True, quiet=True)
        shards = _unique_docs(n_shards=60, per_shard=150, overlap=15)
        unique = {d.id for shard in shards for d in shard if not d.drop_reason}
        config = _campaign(tmp_path, "stopnode", shards)
        state = tmp_path / "data" / "stopnode" / "index" / "state-opensearch-stopnode.json"
        cmd = [sys.executable, "-m", "owd.cli", "index", str(config), "--backend", "opensearch", "--url", info.url]
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not (state.exists() and len(json.loads(state.read_text() or "{}").get("shards", {})) >= 3):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "owd index made no progress"
            time.sleep(0.05)
        script.stop_node(workdir=workdir, quiet=True)
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 1, (out[-1000:], err[-2000:])
        assert f"OpenSearch at {info.url} is unavailable" in err and "failed 6 times" in err, err[-2000:]
        assert "retry 1/5 in 0.5 s" in err and "retry 5/5 in 8.0 s" in err  # it retried, with capped backoff
        assert "Traceback" not in err
        done = len(json.loads(state.read_text())["shards"])
        assert 3 <= done < len(shards)

        script.start_node(port=port, workdir=workdir, timeout=240, die_with_parent=True, quiet=True)
        rerun = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert f"{len(shards) - done} shard(s) indexed, {done} unchanged" in rerun.stdout
        assert f"{len(unique)} in the index" in rerun.stdout
        with OpenSearchBackend(info.url, "stopnode", create=False) as b:
            assert b.count() == len(unique)
            assert b.search(SearchQuery("zqstop", page_size=1)).total == len(unique)
            assert b.count(Filters(langs=["sl"])) == sum(1 for i in unique if int(i[1:]) % 3 == 0)
    finally:
        script.stop_node(workdir=workdir, quiet=True)
        shutil.rmtree(workdir, ignore_errors=True)
