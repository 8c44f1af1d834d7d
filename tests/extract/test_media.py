"""Image dimensions from file headers, and media records as media info."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from owd.extract.media import image_size, media_info, media_key
from tests.extract.helpers import T0, gif, html_record, jpeg, png, webp_vp8, webp_vp8l, webp_vp8x


@pytest.mark.parametrize("make", [png, jpeg, gif, webp_vp8x, webp_vp8l, webp_vp8])
@pytest.mark.parametrize("size", [(1, 1), (640, 480), (333, 1000)])
def test_dimensions_of_each_format(make: object, size: tuple[int, int]) -> None:
    assert image_size(make(*size)) == size  # type: ignore[operator]


def test_bmp() -> None:
    header = b"BM" + b"\0" * 12 + (40).to_bytes(4, "little") + (17).to_bytes(4, "little", signed=True) \
        + (-9).to_bytes(4, "little", signed=True)
    assert image_size(header) == (17, 9)


@pytest.mark.parametrize("data", [
    b"", b"\x89PNG\r\n\x1a\n", png(10, 10)[:20], jpeg(10, 10)[:30], b"\xff\xd8\xff\xda\x00\x08", b"GIF89a\x01",
    b"RIFF\0\0\0\0WEBPVP8X", b"ID3\x03\x00 an mp3", b"<html>not an image</html>", png(0, 10),
])
def test_truncated_or_unknown_headers_give_no_size(data: bytes) -> None:
    assert image_size(data) is None


@pytest.mark.shared_data
def test_real_images_match_file1(shared_data: Path) -> None:
    """Dimensions agree with what file(1) reported for the shared media files."""
    checked = 0
    for line in (shared_data / "media" / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        # file(1) says "density 72x72, ..., 500x334": the image size is the last WxH
        sizes = re.findall(r"(\d+) ?x ?(\d+)", entry.get("file(1)", ""))
        if not entry["mime"].startswith("image/") or not sizes:
            continue
        data = (shared_data / "media" / entry["file"]).read_bytes()
        assert image_size(data) == (int(sizes[-1][0]), int(sizes[-1][1])), entry["file"]
        checked += 1
    assert checked >= 4


def test_media_info_from_records() -> None:
    stats: Counter[str] = Counter()
    rec = html_record(png(64, 48), "http://m.owdtest.eu/a.png", content_type="image/png")
    info = media_info(rec, stats)
    assert info is not None
    assert (info.mime, info.size, info.digest, info.width, info.height) == ("image/png", len(png(64, 48)),
                                                                             "sha1:AAAA", 64, 48)
    assert info.fetch_time == T0 and info.complete
    audio = media_info(html_record(b"ID3...", "http://m.owdtest.eu/a.mp3", content_type="audio/mpeg"), stats)
    assert audio is not None and audio.width is None and audio.size == 6
    assert media_info(html_record(b"<html>", content_type="text/html"), stats) is None
    cut = media_info(html_record(png(5, 5)[:40], "http://m/x.png", content_type="image/png", truncated="length"),
                     stats)
    assert cut is not None and cut.size is None and (cut.width, cut.height) == (5, 5)
    assert stats["extract/media/truncated_record"] == 1


def test_media_key_joins_raw_references_with_fetched_urls() -> None:
    raw = "http://www.example.de/wp-content/uploads/2014/01/solidarität international.jpg#x"
    fetched = "http://www.example.de/wp-content/uploads/2014/01/solidarit%C3%A4t%20international.jpg"
    assert media_key(raw) == media_key(fetched) == fetched
