"""Media pools (pools/media_pools.py) of the crawled test web: image-text pairs that load in
Hugging Face ``datasets`` and ``webdataset``, rights, media rules, cards, the contact sheet."""

from __future__ import annotations

import glob
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from owd.core.config import CampaignConfig, load_campaign
from owd.pools.build import build_pools
from tests.conftest import run_owd
from tests.pools.conftest import PoolCampaign

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"
# the demo campaign's image-text pool, exactly as configs/demo.yaml defines it
DEMO_IMAGES = next(p for p in yaml.safe_load(DEMO_CONFIG.read_text())["pools"] if p.get("kind") == "image-text")

MEDIA_POOLS: list[dict[str, Any]] = [
    {"name": "everything", "description": "every kept document (the noimageai page keeps its text)"},
    {"name": "images", "kind": "image-text", "webdataset": True},
    {**DEMO_IMAGES, "name": "demo-images"},
    {"name": "images-incl", "kind": "image-text", "tdm": "include"},
    {"name": "images-wide", "kind": "image-text", "min_width": 450, "min_aspect": 1.2},
    {"name": "audio", "kind": "audio"},
    {"name": "video", "kind": "video"},
    {"name": "interleaved", "kind": "interleaved"},
]


@pytest.fixture(scope="module")
def media_campaign(pool_campaign: PoolCampaign, tmp_path_factory: pytest.TempPathFactory) -> CampaignConfig:
    """The processed test web campaign (docs, media tables and WARC files) with media pools."""
    dest = tmp_path_factory.mktemp("media-pools")
    data = yaml.safe_load(pool_campaign.config.read_text())
    data["storage_root"] = str(dest / "data")
    data["pools"] = MEDIA_POOLS
    target = dest / "data" / data["campaign"]
    for part in ("docs", "media", "warc"):
        shutil.copytree(pool_campaign.cfg.campaign_dir / part, target / part)
    for f in pool_campaign.config.parent.glob(f"{data['campaign']}*"):
        if f.is_file() and f != pool_campaign.config:
            shutil.copy(f, dest / f.name)
    path = dest / pool_campaign.config.name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    cfg = load_campaign(path)
    build_pools(cfg)
    return cfg


def _media_rows(cfg: CampaignConfig) -> list[dict[str, Any]]:
    return [r for p in sorted((cfg.campaign_dir / "media").glob("*.parquet"))
            for r in pq.read_table(p, columns=["url", "kind", "parent_url", "reserved", "width", "height",
                                               "dup_cluster_id", "alt", "caption", "context"]).to_pylist()]


def _pool_rows(cfg: CampaignConfig, name: str) -> list[dict[str, Any]]:
    files = sorted((cfg.campaign_dir / "pools" / name / "data").glob("*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def test_the_media_table_joins_records_with_their_pages(media_campaign: CampaignConfig) -> None:
    rows = _media_rows(media_campaign)
    images = [r for r in rows if r["kind"] == "image"]
    assert images and all(r["width"] and r["height"] for r in images)
    assert all(r["dup_cluster_id"] for r in rows)  # the campaign step ran
    gallery = [r for r in images if r["parent_url"].endswith("/gallery.html")]
    assert {r["alt"] for r in gallery} >= {"A picture for the gallery", "Borrowed picture"}
    # the mislabelled "image" (an HTML page served for an <img>) is no media row
    assert not any(r["url"].endswith("not-an-image.jpg") for r in rows)


@pytest.mark.parametrize("pool", ["images", "demo-images"])
def test_image_text_pool_loads_in_datasets_and_webdataset(media_campaign: CampaignConfig, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, pool: str) -> None:
    """The demo's image-text pool (its rule from configs/demo.yaml, on the test web's crawl) and a
    plain one: the same samples through HF datasets and through webdataset."""
    import datasets
    import webdataset as wds

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = media_campaign.campaign_dir / "pools" / pool
    files = sorted(glob.glob(str(folder / "data" / "*.parquet")))
    ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path / "hf"))
    assert isinstance(ds.features["image"], datasets.Image)
    assert len(ds) >= 2
    from_parquet = {}
    for row in ds:
        image = row["image"]
        assert image.size == (row["width"], row["height"])
        from_parquet[row["key"]] = (image.size, row["caption"])
    shards = sorted(glob.glob(str(folder / "webdataset" / "*.tar")))
    assert shards
    from_tar = {}
    for sample in wds.WebDataset(shards, shardshuffle=False).decode("pil"):
        meta = sample["json"]
        image = next(v for k, v in sample.items() if k in ("jpg", "png", "webp", "gif", "bmp", "tiff"))
        from_tar[meta["key"]] = (image.size, meta["caption"])
    assert from_tar == from_parquet  # same samples, same sizes, same captions, counts equal
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["documents"] == len(ds)


def test_reserved_images_are_out_by_default_and_in_with_tdm_include(media_campaign: CampaignConfig) -> None:
    reserved = {r["url"] + " " + r["parent_url"]: r["reserved"] for r in _media_rows(media_campaign)
                if r["kind"] == "image" and r["reserved"]}
    assert set(reserved.values()) >= {"page_noimageai", "media_tdm_reservation"}
    default = {r["url"] + " " + r["page_url"] for r in _pool_rows(media_campaign, "images")}
    included = {r["url"] + " " + r["page_url"] for r in _pool_rows(media_campaign, "images-incl")}
    assert not default & set(reserved)
    # with tdm: include, every reserved image is there unless a copy of it already is (one row per cluster)
    assert any(key in included for key in reserved)
    for name, expect in (("images", "excluded"), ("images-incl", "included")):
        summary = json.loads((media_campaign.campaign_dir / "pools" / name / "summary.json").read_text())
        rights = summary["rights_reservations"]
        assert expect in rights["treatment"]
        by_signal = rights["excluded_by_signal"] if expect == "excluded" else rights["included_by_signal"]
        assert set(by_signal) >= {"page_noimageai", "media_tdm_reservation"}
        dcat = json.dumps(json.loads((media_campaign.campaign_dir / "pools" / name / "dcat.jsonld").read_text()))
        assert ("are INCLUDED" if expect == "included" else "are excluded") in dcat


def test_a_page_whose_images_are_reserved_keeps_its_text(media_campaign: CampaignConfig) -> None:
    files = sorted((media_campaign.campaign_dir / "pools" / "everything").rglob("*.parquet"))
    urls = {u for f in files for u in pq.read_table(f, columns=["url"]).column("url").to_pylist()}
    assert any(u.endswith("/noimageai.html") for u in urls)


def test_media_rules_select(media_campaign: CampaignConfig) -> None:
    wide = _pool_rows(media_campaign, "images-wide")
    everything = _pool_rows(media_campaign, "images")
    assert all(r["width"] >= 450 and r["width"] / r["height"] >= 1.2 for r in wide)
    assert len(wide) < len(everything) or not everything
    summary = json.loads((media_campaign.campaign_dir / "pools" / "images-wide" / "summary.json").read_text())
    assert set(summary["left_out_by_rule"]) & {"dimensions", "aspect"}


def test_audio_video_and_interleaved_pools(media_campaign: CampaignConfig) -> None:
    audio = _pool_rows(media_campaign, "audio")
    assert audio and all(r["kind"] == "audio" and r["media"] and r["duration"] and r["codecs"] for r in audio)
    for row in _pool_rows(media_campaign, "video"):
        assert row["kind"] == "video" and row["media"]
    interleaved = _pool_rows(media_campaign, "interleaved")
    assert interleaved
    for row in interleaved:
        assert len(row["texts"]) == len(row["images"]) == len(row["image_urls"])
        assert all((t is None) != (i is None) for t, i in zip(row["texts"], row["images"]))
        assert row["texts"][0]  # the page's text first, then its images in page order


def test_croissant_reads_the_images(media_campaign: CampaignConfig) -> None:
    import mlcroissant as mlc

    card = media_campaign.campaign_dir / "pools" / "images" / "croissant.json"
    records = list(mlc.Dataset(str(card)).records("samples"))
    assert len(records) == len(_pool_rows(media_campaign, "images"))
    for record in records:
        assert record["samples/image"].size == (record["samples/width"], record["samples/height"])


def test_pools_show_writes_a_contact_sheet(media_campaign: CampaignConfig) -> None:
    result = run_owd("pools", "show", str(media_campaign.source), "images")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "image-text" in result.stdout
    sheet = (media_campaign.campaign_dir / "pools" / "images" / "contact-sheet.html").read_text()
    assert sheet.count("data:image/") == len(_pool_rows(media_campaign, "images"))
    assert 'src="http' not in sheet


def test_media_rules_on_a_document_pool_are_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"campaign": "c", "seeds": {"urls": ["http://127.0.0.1/"]},
                                    "pools": [{"name": "p", "min_width": 100}]}))
    result = run_owd("pools", "build", str(path))
    assert result.returncode == 2
    assert "c.yaml" in result.stderr and "min_width" in result.stderr and "Traceback" not in result.stderr


def test_video_rows_carry_their_caption_track(media_campaign: CampaignConfig) -> None:
    """The test web's video page has <track src=captions.vtt>; the crawler fetched it, and the
    media step attaches its cues' text to the video's rows."""
    videos = [r for p in sorted((media_campaign.campaign_dir / "media").glob("*.parquet"))
              for r in pq.read_table(p, columns=["kind", "parent_url", "text_tracks"]).to_pylist()
              if r["kind"] == "video"]
    if not videos:
        pytest.skip("no decodable video in this test web (its generated video is not a real file)")
    for row in videos:
        assert [t["text"] for t in row["text_tracks"]] == ["A bear."]
        assert row["text_tracks"][0]["url"].endswith("/media/captions.vtt")


def test_webvtt_text_keeps_only_the_cues() -> None:
    from owd.extract.media_step import webvtt_text

    vtt = (b"\xef\xbb\xbfWEBVTT - a title\r\n\r\nNOTE a comment\r\n\r\nSTYLE\r\n::cue { color: red }\r\n\r\n"
           b"intro\r\n00:00.000 --> 00:02.000 align:start\r\n<v Anna>Dober dan &amp; <i>hvala</i>\r\nsecond line\r\n\r\n"
           b"00:02.500 --> 00:04.000\r\nNasvidenje.\r\n")
    assert webvtt_text(vtt) == "Dober dan & hvala second line\nNasvidenje."
    assert webvtt_text(b"WEBVTT\n") == ""


def test_pools_list_and_pull_know_media_pools(media_campaign: CampaignConfig, tmp_path: Path) -> None:
    listed = run_owd("pools", "list", str(media_campaign.source))
    assert listed.returncode == 0, listed.stderr[-2000:]
    line = next(x for x in listed.stdout.splitlines() if x.startswith("images "))
    assert "up to date" in line and "image-text pool" in line
    pulled = run_owd("pools", "pull", str(media_campaign.source), "images", "--to", str(tmp_path))
    assert pulled.returncode == 0, pulled.stderr[-2000:]
    assert "load_dataset('parquet'" in pulled.stdout and "WebDataset" in pulled.stdout
    copy = tmp_path / "images"
    assert sorted(p.name for p in (copy / "webdataset").glob("*.tar")) == \
        sorted(p.name for p in (media_campaign.campaign_dir / "pools" / "images" / "webdataset").glob("*.tar"))
    assert pq.read_table(copy / "data").num_rows == len(_pool_rows(media_campaign, "images"))
    sliced = run_owd("pools", "pull", str(media_campaign.source), "images", "--lang", "en", "--to", str(tmp_path))
    assert sliced.returncode == 2 and "no language slices" in sliced.stderr and "Traceback" not in sliced.stderr


def test_one_row_per_duplicate_cluster(media_campaign: CampaignConfig) -> None:
    """The same picture under two URLs (the media host and the reserved origin) or on two
    pages is one sample: the one with the longest caption."""
    rows = _pool_rows(media_campaign, "images-incl")
    clusters = [r["dup_cluster_id"] for r in rows]
    assert len(clusters) == len(set(clusters))
    summary = json.loads((media_campaign.campaign_dir / "pools" / "images-incl" / "summary.json").read_text())
    assert summary["processing"]["duplicates_left_out"] >= 1
    table = _media_rows(media_campaign)
    for row in rows:  # the kept row's caption is the longest of its cluster
        rivals = [caption_of_row(r) for r in table if r["dup_cluster_id"] == row["dup_cluster_id"]
                  and r["kind"] == "image"]
        assert len(row["caption"] or "") == max(len(c or "") for c in rivals)


def caption_of_row(row: dict[str, Any]) -> str | None:
    from owd.pools.media_pools import caption_of

    return caption_of(row)


@pytest.mark.parametrize(("pool", "field"), [
    ({"kind": "image-text", "min_length": 5}, "min_length"),
    ({"kind": "audio", "webdataset": True}, "webdataset"),
    ({"kind": "image-text", "mimes": ["jpeg"]}, "mimes[0]"),
    ({"kind": "image-text", "min_aspect": 2.0, "max_aspect": 1.0}, "max_aspect"),
    ({"kind": "video", "min_width": -1}, "min_width"),
    ({"kind": "pictures"}, "kind"),
])
def test_bad_media_rules_name_their_field(pool: dict[str, Any], field: str) -> None:
    from owd.core.config import parse_campaign
    from owd.core.typed_config import ConfigError

    with pytest.raises(ConfigError) as err:
        parse_campaign({"campaign": "c", "seeds": {"urls": ["http://127.0.0.1/"]}, "pools": [{"name": "p", **pool}]},
                       "c.yaml")
    assert f"pools[0].{field}" in str(err.value)
