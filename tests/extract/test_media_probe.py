"""Media probing (owd.extract.media_probe) on the real and broken files of ../shared/data/media,
and the media step's counting of broken records in a real WARC file."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from owd.extract.media_probe import PROBE_REASONS, ProbeError, probe_media, sniff_mime
from owd.extract.media_step import probe_warc_media

pytestmark = pytest.mark.shared_data

# What each malformed file of the set must be called (its manifest says MALFORMED and why).
BROKEN = {
    "scikit-image__truncated.jpg": "truncated",
    "tinytag__empty_file.mp3": "empty",
    "tinytag__incomplete.mp3": "unknown_format",
    "tinytag__invalid_file_larger.mp3": "unknown_format",
}


def _manifest(shared_data: Path) -> list[dict[str, str]]:
    lines = (shared_data / "media" / "manifest.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_every_file_of_the_media_set_probes_or_fails_with_its_reason(shared_data: Path) -> None:
    seen_broken = set()
    for item in _manifest(shared_data):
        data = (shared_data / "media" / item["file"]).read_bytes()
        if "MALFORMED" in item["mime"]:
            with pytest.raises(ProbeError) as err:
                probe_media(data)
            assert err.value.reason == BROKEN[item["file"]], item["file"]
            assert err.value.reason in PROBE_REASONS
            seen_broken.add(item["file"])
            continue
        probe = probe_media(data)
        declared = item["mime"].split(";")[0]
        assert probe.kind == declared.split("/")[0], item["file"]
        assert probe.size == len(data) and len(probe.sha256) == 64
        if probe.kind == "image":
            with Image.open(io.BytesIO(data)) as im:
                assert (probe.width, probe.height) == im.size
            assert probe.mime == declared and probe.phash is not None
        else:
            assert probe.duration is not None and probe.duration > 0, item["file"]
            assert probe.codecs, item["file"]
            assert probe.channels in (1, 2) and probe.sample_rate and probe.sample_rate >= 8000
        if probe.kind == "video":
            assert (probe.width, probe.height) == (320, 240)
    assert seen_broken == set(BROKEN)


def test_durations_and_codecs_match_the_manifest(shared_data: Path) -> None:
    bear = probe_media((shared_data / "media" / "learning-area__bear.mp3").read_bytes())
    assert bear.codecs == ["mp3"] and bear.channels == 2 and bear.sample_rate == 44100
    assert 6.0 < (bear.duration or 0) < 6.5
    rabbit = probe_media((shared_data / "media" / "learning-area__rabbit320.webm").read_bytes())
    assert rabbit.kind == "video" and rabbit.mime == "video/webm" and set(rabbit.codecs) == {"vp8", "vorbis"}
    opus = probe_media((shared_data / "media" / "tinytag__8khz_5s.opus").read_bytes())
    assert opus.mime == "audio/opus" and opus.codecs == ["opus"] and opus.channels == 1


def test_sniffing_does_not_trust_the_label() -> None:
    assert sniff_mime(b"<!DOCTYPE html><html>") is None
    with pytest.raises(ProbeError) as err:
        probe_media(b"<html><body>not a picture</body></html>")
    assert err.value.reason == "not_media"
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buf, format="PNG")
    assert probe_media(buf.getvalue()).mime == "image/png"
    with pytest.raises(ProbeError) as err:
        probe_media(buf.getvalue(), max_bytes=10)
    assert err.value.reason == "too_large"


def test_broken_media_records_in_a_warc_are_counted_not_fatal(shared_data: Path, tmp_path: Path) -> None:
    """Every file of the set as a media response in one real WARC file: the good ones are
    probed, each broken one is counted under its reason, nothing raises."""
    from tests.extract.helpers import Fetch, page_meta, write_warc

    items = _manifest(shared_data)
    fetches = [Fetch(f"http://media.example/{item['file']}", (shared_data / "media" / item["file"]).read_bytes(),
                     headers=[("Content-Type", item["mime"].split(" ")[0].rstrip(";"))], meta=page_meta("media"))
               for item in items]
    warc, _ = write_warc(tmp_path, fetches)
    stats: Counter[str] = Counter()
    records = probe_warc_media(warc, stats, 50 * 2**20)
    good = [i for i in items if "MALFORMED" not in i["mime"]]
    assert len(records) == len(good)
    assert stats["extract/media/probed"] == len(items)
    for reason, n in Counter(BROKEN.values()).items():
        assert stats[f"extract/media/broken/{reason}"] == n
