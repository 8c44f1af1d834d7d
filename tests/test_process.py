"""`owd process`: WARC shards of a real crawl -> documents; resumable and deterministic."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from owd.core.config import load_campaign
from owd.process import campaign_warcs, process_campaign, shard_id_of
from owd.report import build_report
from owd.core.schema import read_parquet, validate_file
from owd.testweb import TestSite, free_port
from tests.conftest import REPO, crawl_testweb, run_owd
from tests.small_campaign import uncompressed_copy, write_small_campaign


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestSite, Path]:
    """A crawl of the test web split over several WARC files (small rotation size)."""
    tmp = tmp_path_factory.mktemp("process")
    site = TestSite(port=free_port(), pages_per_host=4, real_pages=20)
    config, _ = crawl_testweb(
        site, tmp, politeness={"delay": 0.01, "concurrency_per_host": 2, "concurrency": 32, "autothrottle": False},
        limits={"timeout": 3}, warc={"max_file_bytes": "1 MB"})
    assert len(list((tmp / "data/tw/warc/w0").glob("*.warc.gz"))) >= 3
    return site, config


def clone_campaign(config: Path, dest: Path) -> Path:
    """The same campaign (same WARC files) under another storage root."""
    data = yaml.safe_load(config.read_text())
    src = Path(data["storage_root"]) / data["campaign"]
    dest.mkdir(parents=True)
    shutil.copytree(src / "warc", dest / "data" / data["campaign"] / "warc")
    for name in config.parent.glob(f"{data['campaign']}*"):
        if name.is_file():
            shutil.copy(name, dest / name.name)
    data["storage_root"] = str(dest / "data")
    out = dest / config.name
    out.write_text(yaml.safe_dump(data))
    return out


def outputs(config: Path) -> dict[str, bytes]:
    data = yaml.safe_load(config.read_text())
    root = Path(data["storage_root"]) / data["campaign"]
    files = sorted(root.glob("docs/*.parquet")) + [root / "dedup" / "clusters.parquet"]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def processed(crawled: tuple[TestSite, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = clone_campaign(crawled[1], tmp_path_factory.mktemp("reference") / "c")
    result = run_owd("process", str(config), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return config


def _docs(config: Path) -> list:  # type: ignore[type-arg]
    data = yaml.safe_load(config.read_text())
    root = Path(data["storage_root"]) / data["campaign"]
    docs = []
    for shard in sorted(root.glob("docs/*.parquet")):
        validate_file(shard)
        docs += read_parquet(shard)
    return docs


def test_documents_have_provenance_language_and_dedup(processed: Path, crawled: tuple[TestSite, Path]) -> None:
    site = crawled[0]
    docs = _docs(processed)
    assert len(docs) > 100
    assert len({d.id for d in docs}) == len(docs)
    assert all(d.warc_file and d.warc_offset is not None and d.fetch_time for d in docs)
    lang_pages = [d for d in docs if d.host in site.by_name and site.by_name[d.host].kind == "lang"
                  and "/news/" in d.url]
    right = sum(d.lang == site.by_name[d.host].lang for d in lang_pages)
    assert right / len(lang_pages) >= 0.97, Counter((site.by_name[d.host].lang, d.lang) for d in lang_pages)
    # mirror.owdtest.eu serves exact copies of language pages: each lands in a cluster with its source
    mirrors = [d for d in docs if d.host == "mirror.owdtest.eu" and "/copy/" in d.url and not
               (d.drop_reason or "").startswith(("gopher", "c4", "fineweb"))]
    assert mirrors and all((d.dup_cluster_size or 1) >= 2 for d in mirrors)
    kept_per_cluster = Counter(d.dup_cluster_id for d in docs if d.dup_cluster_size and d.dup_cluster_size > 1
                               and d.drop_reason != "duplicate")
    assert kept_per_cluster and set(kept_per_cluster.values()) == {1}, "exactly one document kept per cluster"


def test_tdm_signals_reach_the_documents(processed: Path) -> None:
    docs = {d.url.split("//", 1)[1].split("/", 1)[0].split(":")[0] + "/" + d.url.split("/", 3)[-1]: d
            for d in _docs(processed)}
    header = [d for k, d in docs.items() if k.startswith("tdm-header.owdtest.eu/open/")]
    assert header and all(d.tdm_reservation is True and d.tdm_source == "header" for d in header)
    file_open = [d for k, d in docs.items() if k.startswith("tdm-file.owdtest.eu/open/")]
    assert file_open and all(not d.tdm_reservation for d in file_open)


def test_rerun_skips_finished_shards(processed: Path) -> None:
    before = outputs(processed)
    result = run_owd("process", str(processed), timeout=600)
    assert result.returncode == 0
    assert "0 shard(s) processed" in result.stdout
    assert outputs(processed) == before


def test_killed_run_resumes_to_identical_outputs(processed: Path, crawled: tuple[TestSite, Path], tmp_path: Path) -> None:
    config = clone_campaign(crawled[1], tmp_path / "killed")
    docs_dir = Path(yaml.safe_load(config.read_text())["storage_root"]) / "tw" / "docs"
    proc = subprocess.Popen([sys.executable, "-m", "owd.cli", "process", str(config)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(docs_dir.glob("*.parquet")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    n_warcs = len(list((docs_dir.parent / "warc" / "w0").glob("*.warc.gz")))
    assert len(list(docs_dir.glob("*.parquet"))) < n_warcs, "killed midway"
    assert run_owd("process", str(config), timeout=600).returncode == 0
    assert outputs(config) == outputs(processed)


def test_force_redoes_everything(processed: Path) -> None:
    before = outputs(processed)
    result = run_owd("process", str(processed), "--force", timeout=600)
    assert result.returncode == 0
    assert "0 already done" in result.stdout
    assert outputs(processed) == before


def test_process_without_warcs_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("campaign: empty\nseeds: {urls: ['http://a.eu/']}\nstorage_root: data\n")
    result = run_owd("process", str(config), timeout=60)
    assert result.returncode == 2 and "run `owd crawl" in result.stderr


def test_index_and_search_commands(processed: Path) -> None:
    first = run_owd("index", str(processed), timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "shard(s) indexed" in first.stdout and " 0 failed" in first.stdout
    again = run_owd("index", str(processed), timeout=300)
    assert again.returncode == 0 and "0 shard(s) indexed" in again.stdout  # incremental
    import json as json_mod

    result = run_owd("search", "zdravje", "--config", str(processed), "--lang", "sl", "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    found = json_mod.loads(result.stdout)
    assert found["total"] >= 1 and all(h["lang"] == "sl" for h in found["hits"])
    assert any("/health/" in h["url"] for h in found["hits"][:3])
    assert "<mark>" in found["hits"][0]["snippet"]
    bad = run_owd("search", "x" * 600, "--config", str(processed), timeout=120)
    assert bad.returncode == 2 and "bad query" in bad.stderr


def test_uncompressed_warc_files_are_shards_of_their_own(tmp_path: Path) -> None:
    """``x.warc`` beside ``x.warc.gz``: both processed, under ids that do not collide, the
    ``.warc.gz`` id as before; files still being written (``.open``) stay out."""
    config, warc = write_small_campaign(tmp_path)
    plain = uncompressed_copy(warc)
    for name in ("w0-writing.warc.open", "w0-writing.warc.gz.open"):
        shutil.copy(plain, warc.with_name(name))
    cfg = load_campaign(config)
    assert campaign_warcs(cfg) == [plain, warc]
    summary = process_campaign(cfg, progress=lambda line: None)
    assert summary.shards_done == 2 and summary.documents == 6
    docs_dir = cfg.campaign_dir / "docs"
    gz_id = warc.name.removesuffix(".warc.gz")
    assert shard_id_of(warc) == gz_id  # unchanged: docs of earlier runs stay done
    assert sorted(p.name for p in docs_dir.glob("*.parquet")) == sorted([f"{gz_id}.parquet", f"{plain.name}.parquet"])
    gz_docs, plain_docs = read_parquet(docs_dir / f"{gz_id}.parquet"), read_parquet(docs_dir / f"{plain.name}.parquet")
    assert {d.warc_file for d in gz_docs} == {warc.name} and {d.warc_file for d in plain_docs} == {plain.name}
    assert not {d.id for d in gz_docs} & {d.id for d in plain_docs}
    assert sorted(d.text or "" for d in gz_docs) == sorted(d.text or "" for d in plain_docs)  # either form reads alike
    assert summary.clusters == 3 and summary.duplicates == 6  # each page and its copy: one cluster
    again = process_campaign(cfg, progress=lambda line: None)
    assert again.shards_skipped == 2 and again.shards_done == 0


def test_report_counts_the_same_warc_files_as_process(tmp_path: Path) -> None:
    config, warc = write_small_campaign(tmp_path)
    plain = uncompressed_copy(warc)
    shutil.copy(plain, warc.with_name("w0-writing.warc.open"))
    cfg = load_campaign(config)
    report = build_report(cfg)
    assert report["sources"]["warc_files"] == len(campaign_warcs(cfg)) == 2
    assert report["sources"]["warc_files_open"] == 1
    assert report["crawl"]["pages"] == 6 and report["crawl"]["by_worker"]["w0"]["warc_files"] == 2


def test_shard_stats_hold_the_language_and_signature_counts(tmp_path: Path) -> None:
    """The language identifier and the signature step count into their own objects; each
    shard's .stats.json must still get its share (they were lost before)."""
    config, warc = write_small_campaign(tmp_path)
    cfg = load_campaign(config)
    process_campaign(cfg, progress=lambda line: None)
    stats_file = cfg.campaign_dir / "docs" / f"{shard_id_of(warc)}.stats.json"
    stats = json.loads(stats_file.read_text())
    docs = read_parquet(cfg.campaign_dir / "docs" / f"{shard_id_of(warc)}.parquet")
    assert stats["langid/texts"] == len(docs) == 3
    assert stats["dedup/signatures/docs"] == len(docs)
    assert stats["dedup/signatures/signed"] + stats.get("dedup/signatures/skipped_dropped", 0) \
        + stats.get("dedup/signatures/skipped_no_words", 0) == len(docs)
    report = build_report(cfg)["documents"]["counters"]  # and the campaign report has them all
    assert report["langid/texts"] == 3 and report["dedup/signatures/docs"] == 3 and report == dict(sorted(stats.items()))
    # a shard redone after its output was lost (its signatures kept) counts the same
    before = stats_file.read_text()
    (cfg.campaign_dir / "docs" / f"{shard_id_of(warc)}.parquet").unlink()
    stats_file.unlink()
    process_campaign(cfg, progress=lambda line: None)
    assert stats_file.read_text() == before
