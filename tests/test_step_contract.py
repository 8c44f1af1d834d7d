"""The step contract (owd.core.step): every counter a step declares is really counted, reaches
the shard's .stats.json and the campaign report, and documents are changed in place."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from owd.core.config import CampaignConfig, load_campaign
from owd.core.schema import Document, MediaItem, read_parquet
from owd.core.step import DocumentStep, Shard
from owd.pipeline import DOCUMENT_STEPS, declared_counters
from owd.process import process_campaign, shard_id_of
from owd.report import build_report
from tests.dedup.helpers import text
from tests.small_campaign import write_small_campaign

# Counters the issue named because they were once lost on the way to .stats.json.
ONCE_LOST = ("langid/no_lang/no_letters", "langid/no_lang/empty_text", "dedup/signatures/skipped_dropped")

PROSE = ("The committee met on Tuesday to discuss the new budget for the regional hospitals. "
         "Members agreed that the waiting lists must become shorter, and that the money should go "
         "to the nurses and doctors who work in the smaller towns. ") * 4


def _doc(id_: str, body: str, **fields: object) -> Document:
    return Document(id=id_, url=f"https://news.example.eu/{id_}", host="news.example.eu", campaign="small",
                    text=body, **fields)  # type: ignore[arg-type]


def _inputs() -> dict[str, list[Document]]:
    """Per step name: documents that make the step count every counter it declares."""
    return {
        "extract": [],  # the reader reads the shard's WARC file
        "langid": [_doc("a", PROSE), _doc("b", ""), _doc("c", "12 345 678 -- 90 %")],
        "quality": [_doc("a", PROSE, lang="en"), _doc("b", "Too short.", lang="en")],
        "pii": [_doc("a", "Write to anna.novak@example.si or call Tel. +386 1 234 5678 from 192.0.2.44; "
                          "IBAN SI56 1910 0000 0123 438.")],
        "dedup": [_doc("a", text(80, 1), lang="en"), _doc("b", text(80, 2), lang="en", drop_reason="c4:too_short"),
                  _doc("c", "!!! ??? ...", lang="en")],
        # a page whose image is in the shard's WARC (_media_shard) and reserved (noimageai)
        "media": [_doc("a", PROSE, lang="en", robots_noimageai=True,
                       media=[MediaItem(url=f"{_MEDIA}/a.png", kind="image", alt="A map")])],
    }


_MEDIA = "https://news.example.eu/media"


def _media_shard(cfg: CampaignConfig, folder: Path) -> Shard:
    """A WARC file with one image record, one broken image and one empty one."""
    from tests.extract.helpers import Fetch, page_meta, png, write_warc

    image = [("Content-Type", "image/png")]
    warc, _ = write_warc(folder, [Fetch(f"{_MEDIA}/a.png", png(64, 48), headers=image, meta=page_meta("image")),
                                  Fetch(f"{_MEDIA}/cut.png", png(64, 48)[:40], headers=image, meta=page_meta("image")),
                                  Fetch(f"{_MEDIA}/empty.png", b"", headers=image, meta=page_meta("image"))])
    return Shard(shard_id_of(warc), warc, cfg.campaign, cfg.campaign_dir)


@pytest.fixture()
def small(tmp_path: Path) -> tuple[CampaignConfig, Path]:
    config, warc = write_small_campaign(tmp_path)
    return load_campaign(config), warc


def test_every_declared_counter_is_counted(small: tuple[CampaignConfig, Path]) -> None:
    """Each step, given input that exercises it, counts every counter it declares (so a
    counting line removed from a stage fails here, not silently as a zero)."""
    cfg, warc = small
    shard = Shard(shard_id_of(warc), warc, cfg.campaign, cfg.campaign_dir)
    shards = {"media": _media_shard(cfg, warc.parent.parent / "media-warc")}
    inputs = _inputs()
    assert {step.name for step in DOCUMENT_STEPS} == set(inputs), "a new step needs its case here"
    for step_type in DOCUMENT_STEPS:
        step: DocumentStep = step_type.from_config(cfg)
        stats: Counter[str] = Counter()
        given = inputs[step.name]
        out = list(step.run(iter(given), shards.get(step.name, shard), stats))
        missing = [name for name in step.counters if stats[name] <= 0]
        assert not missing, f"{step.name} did not count {missing}: {dict(stats)}"
        assert all(name.startswith(("warc/", f"{step.name}/", "extract/")) for name in stats), (step.name, stats)
        if given:  # changed in place and passed on, never copied or removed
            assert [id(d) for d in out] == [id(d) for d in given]
    assert set(ONCE_LOST) <= set(declared_counters(DOCUMENT_STEPS))


def test_every_declared_counter_reaches_the_stats_file_and_the_report(small: tuple[CampaignConfig, Path]) -> None:
    cfg, warc = small
    process_campaign(cfg, progress=lambda line: None)
    stats = json.loads((cfg.campaign_dir / "docs" / f"{shard_id_of(warc)}.stats.json").read_text())
    declared = declared_counters(DOCUMENT_STEPS)
    assert not [name for name in declared if name not in stats]  # zero or not
    docs = read_parquet(cfg.campaign_dir / "docs" / f"{shard_id_of(warc)}.parquet")
    assert stats["langid/docs"] == stats["quality/docs"] == stats["pii/docs"] == len(docs) == 3
    assert stats["quality/dropped"] == sum(1 for d in docs if d.drop_reason)
    counters = build_report(cfg)["documents"]["counters"]
    assert not [name for name in declared if name not in counters]
    assert counters == dict(sorted(stats.items()))  # one shard: the report's sums are its counts


def test_a_changed_setting_redoes_the_shards_it_changes(tmp_path: Path) -> None:
    """One way to skip finished work (owd.core.done): a rerun skips a shard whose recorded
    fingerprint still matches and redoes it, signatures included, when a setting changed."""
    config, warc = write_small_campaign(tmp_path)
    first = process_campaign(load_campaign(config), progress=lambda line: None)
    assert first.shards_done == 1
    assert process_campaign(load_campaign(config), progress=lambda line: None).shards_done == 0
    cfg = load_campaign(config)
    signatures = cfg.campaign_dir / "dedup" / "signatures" / f"{shard_id_of(warc)}.parquet"
    signed_before = signatures.stat().st_mtime_ns
    # Quality rules that drop every page: the documents change, so must their signatures.
    config.write_text(config.read_text() + "process:\n  quality:\n    gopher_min_words: 100000\n")
    again = process_campaign(load_campaign(config), progress=lambda line: None)
    assert again.shards_done == 1 and again.kept == 0 and first.kept == 3
    stats = json.loads((cfg.campaign_dir / "docs" / f"{shard_id_of(warc)}.stats.json").read_text())
    assert stats["dedup/signatures/skipped_dropped"] == 3
    assert signatures.stat().st_mtime_ns != signed_before
