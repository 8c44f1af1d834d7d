"""A campaign fed by other collections beside its own crawl (owd ingest):

(a) the WARC files of ../shared/data/warc, served on loopback with a CDXJ index built for
    them, of which only some hosts' HTML records are fetched, by byte range;
(b) the self-made FineWeb-2 and HPLT samples (tests/data/ingest), one served over HTTP
    with its SHA-256, plus a FineWeb-2 file that repeats a crawled page's text.

The documents appear in docs/ with their source and record, are deduplicated together
with the crawl's documents, and land in the pools that accept rights owd could not check.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from owd.cli import main
from owd.core.cdxj import CdxjEntry, index_warc, write_cdxj
from owd.core.config import load_campaign
from owd.pools.build import pools_dir
from tests.http_files import FileServer
from tests.pools.conftest import PoolCampaign

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "ingest"
HOSTS = ["commoncrawl.org", "creativecommons.org", "maria-antoniak.github.io", "www.gnu.org"]


def _collection(shared: Path, root: Path) -> tuple[int, dict[str, int]]:
    """Every WARC file of ../shared/data/warc under ``root/warcs`` and one CDXJ index of all
    the records that can be indexed; the files that cannot are left out of the index with
    their reason, as an index builder would."""
    entries: list[CdxjEntry] = []
    skipped: dict[str, int] = {}
    for warc in sorted(shared.glob("*.warc*")):
        if not warc.name.endswith((".warc", ".warc.gz")):
            continue
        (root / "warcs").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(warc, root / "warcs" / warc.name)
        try:
            entries += index_warc(root / "warcs" / warc.name, filename=warc.name)
        except Exception as exc:  # noqa: BLE001 -- a malformed sample: left out of the index, reason kept
            skipped[warc.name] = len(str(exc))
    write_cdxj(entries, root / "index.cdxj", fsync=False)
    return len(entries), skipped


def test_ingested_collections_are_processed_deduplicated_and_pooled(pool_campaign: PoolCampaign,
                                                                     tmp_path: Path, shared_data: Path) -> None:
    served = tmp_path / "served"
    indexed, _ = _collection(shared_data / "warc", served)
    shutil.copyfile(SAMPLES / "hplt-sample.jsonl.zst", served / "hplt-sample.jsonl.zst")
    hplt_sha = hashlib.sha256((served / "hplt-sample.jsonl.zst").read_bytes()).hexdigest()
    # a FineWeb-2 file whose one row repeats a page of the crawl under another URL
    crawl_docs = [r for f in sorted((pool_campaign.cfg.campaign_dir / "docs").glob("*.parquet"))
                  if not f.name.startswith("zz-") for r in pq.read_table(f).to_pylist()]  # not the synthetic shard
    crawled = next(r for r in crawl_docs if r["drop_reason"] is None and len(r["text"] or "") > 400)
    sample = pq.read_table(SAMPLES / "fineweb2-sample.parquet")
    row = {**sample.slice(0, 1).to_pylist()[0], "text": crawled["text"], "url": "https://mirror.example.org/copy",
           "id": "<urn:uuid:00000000-0000-4000-8000-000000000001>"}
    local = tmp_path / "local"
    local.mkdir()
    pq.write_table(pa.Table.from_pylist([row], schema=sample.schema), local / "fw-dup.parquet")
    shutil.copyfile(SAMPLES / "fineweb2-sample.parquet", local / "fineweb2-sample.parquet")

    with FileServer(served) as server:
        data = yaml.safe_load(pool_campaign.config.read_text())
        data.update(storage_root=str(tmp_path / "data"), campaign="mixed",
                    network={**data.get("network", {}), "allow_networks": ["127.0.0.0/8"]},
                    pools=[{"name": "crawl-only"}, {"name": "open", "unknown_rights": "include"}],
                    ingest=[
                        {"name": "cc", "kind": "cdxj", "index": server.url + "index.cdxj",
                         "warc_base": server.url + "warcs/",
                         "select": {"hosts": HOSTS, "mimes": ["text/html"], "statuses": [200]}},
                        {"name": "fw", "kind": "fineweb2", "files": [str(local / "fineweb2-sample.parquet"),
                                                                     str(local / "fw-dup.parquet")]},
                        {"name": "hplt", "kind": "hplt", "files": [server.url + "hplt-sample.jsonl.zst"],
                         "sha256": {"hplt-sample.jsonl.zst": hplt_sha}}])
        for f in pool_campaign.config.parent.glob("tw*"):  # seeds and hosts files the campaign names
            if f.is_file() and f != pool_campaign.config:
                shutil.copy(f, tmp_path / f.name)
        config = tmp_path / "mixed.yaml"
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        cfg = load_campaign(config)
        shutil.copytree(pool_campaign.cfg.campaign_dir / "warc", cfg.campaign_dir / "warc")
        assert main(["ingest", str(config)]) == 0
        ranges = [s for s in server.log if s.path.startswith("/warcs/")]
        assert ranges and all(s.status == 206 for s in ranges)  # records by byte range, never whole files
        first_run = len(server.log)
        assert main(["ingest", str(config)]) == 0  # a rerun fetches nothing again
        assert not [s for s in server.log[first_run:] if s.path.startswith("/warcs/") or "hplt" in s.path]
    assert indexed > 100
    assert main(["process", str(config)]) == 0
    assert main(["pools", "build", str(config)]) == 0

    docs = [r for shard in sorted((cfg.campaign_dir / "docs").glob("*.parquet")) for r in pq.read_table(shard).to_pylist()]
    by_source = Counter(r["source"] for r in docs)
    assert by_source[None] == len(crawl_docs)
    assert by_source["cc"] >= 10 and by_source["fw"] == 7 and by_source["hplt"] >= 5
    for r in docs:
        if r["source"] == "cc":  # exactly the selected hosts' pages, each naming its file and offset there
            assert r["host"] in HOSTS and r["content_type"].startswith("text/html"), r["url"]
            name, _, offset = r["source_record"].rpartition("@")
            assert (shared_data / "warc" / name).is_file() and int(offset) >= 0
        elif r["source"] in ("fw", "hplt"):
            assert r["source_record"] and r["source_labels"], r
            assert r["lang"] is not None  # owd's own language ID ran on them too
    # the copy and the crawled page are one duplicate cluster across the two origins
    pair = [r for r in docs if r["url"] in (crawled["url"], "https://mirror.example.org/copy")]
    assert len(pair) == 2 and pair[0]["dup_cluster_id"] is not None
    assert pair[0]["dup_cluster_id"] == pair[1]["dup_cluster_id"]
    assert sorted(r["drop_reason"] is None for r in pair) == [False, True]

    def pool_rows(name: str) -> list[dict]:
        return [r for f in sorted((pools_dir(cfg) / name).glob("lang=*/*.parquet")) for r in pq.read_table(f).to_pylist()]

    crawl_only, open_pool = pool_rows("crawl-only"), pool_rows("open")
    assert crawl_only and all(r["source"] is None for r in crawl_only)
    pooled = Counter(r["source"] for r in open_pool)
    assert pooled["cc"] >= 5 and pooled["fw"] >= 3 and pooled["hplt"] >= 3
    assert not [r for r in open_pool if dict(r["source_labels"] or []).get("robotstxt") == "disallowed"]
