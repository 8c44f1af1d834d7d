"""An image-text pool loads in HF ``datasets`` with decoded images, the same samples come back
from its WebDataset shards through ``webdataset``, and its contact sheet is safe to open.

The rows are real images made with Pillow (JPEG, PNG with alpha, WebP, GIF of known sizes),
one row without image bytes, one with bytes that are no image, and one key that is not a hex
digest; the Parquet file carries the schema metadata :func:`hf_features` writes, as a pool does.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import socket
import tarfile
import zlib
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from PIL import Image, UnidentifiedImageError

from owd.core.media_schema import AV_SCHEMA, IMAGE_TEXT_SCHEMA, INTERLEAVED_SCHEMA, hf_features
from owd.pools.media_output import contact_sheet, image_extension, sample_key, write_webdataset

POOL_SCHEMA = IMAGE_TEXT_SCHEMA.with_metadata(hf_features(IMAGE_TEXT_SCHEMA, {"image": "Image"}))

SCRIPT_CAPTION = 'Ein Bild <script>alert("x")</script> & "mehr"'
ODD_KEY = "not.hex/key_1"

# (key, Pillow format or None, size, mode); format None: see the bytes in _rows()
SPECS: list[tuple[str, str | None, tuple[int, int], str]] = [
    (hashlib.sha1(b"jpeg").hexdigest(), "JPEG", (64, 48), "RGB"),
    (hashlib.sha1(b"png").hexdigest(), "PNG", (40, 30), "RGBA"),
    (hashlib.sha1(b"webp").hexdigest(), "WEBP", (33, 21), "RGB"),
    (hashlib.sha1(b"gif").hexdigest(), "GIF", (20, 10), "P"),
    (hashlib.sha1(b"null").hexdigest(), None, (0, 0), ""),  # no bytes at all
    (hashlib.sha1(b"corrupt").hexdigest(), None, (0, 0), ""),  # bytes that are no image
    (ODD_KEY, "JPEG", (17, 90), "L"),
]
DECODABLE = {key: (fmt, size) for key, fmt, size, _ in SPECS if fmt is not None}
CORRUPT_KEY = SPECS[5][0]
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}


def _image_bytes(fmt: str, size: tuple[int, int], mode: str) -> bytes:
    """A small picture with some structure (a gradient and a block), not a flat colour."""
    im = Image.linear_gradient("L").resize(size).convert("RGBA")
    im.paste((200, 30, 30, 128 if mode == "RGBA" else 255), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    im.convert(mode if mode != "P" else "RGB").convert(mode).save(out, format=fmt)
    return out.getvalue()


def _rows() -> list[dict[str, Any]]:
    rows = []
    for i, (key, fmt, size, mode) in enumerate(SPECS):
        image: dict[str, Any] | None
        if fmt is not None:
            data = _image_bytes(fmt, size, mode)
            image, mime = {"bytes": data, "path": f"{key}.{EXT[fmt]}"}, MIME[fmt]
        elif key == CORRUPT_KEY:
            data = b"<html><body>404 not found</body></html>"
            image, mime = {"bytes": data, "path": None}, "image/jpeg"  # a server's error page
        else:
            # The whole struct null: a struct of two nulls makes datasets raise on access
            data, image, mime = b"", None, None
        rows.append({
            "key": key, "image": image,
            "caption": SCRIPT_CAPTION if i == 0 else f"Bildunterschrift {i} – Straße",
            "alt": f"alt {i}", "context": "text around the image",
            "url": f"https://img.example.test/{i}.bin", "page_url": f"https://example.test/page/{i}",
            "lang": ["de", "fr", "sl", "et", "de", "pl", "ga"][i], "mime": mime,
            "width": size[0] or None, "height": size[1] or None, "size": len(data) or None,
            "sha256": hashlib.sha256(data).hexdigest() if data else None, "phash": f"{i:016x}",
            "license_url": "https://creativecommons.org/licenses/by/4.0/" if i % 2 else None,
            "dup_cluster_id": None, "dup_cluster_size": None,
        })
    return rows


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return pa.Table.from_pylist(_rows(), schema=POOL_SCHEMA)


@pytest.fixture(scope="module")
def parquet_path(table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pool") / "part-00000.parquet"
    pq.write_table(table, path)
    return path


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """HF offline switches on, and any IP connection attempt fails the test (and is recorded)."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError(f"network access during the test: {address}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


def _rows_with_bytes(parquet_path: Path) -> int:
    image = pq.read_table(parquet_path, columns=["image"]).column("image")
    return int(pc.sum(pc.is_valid(pc.struct_field(image, "bytes"))).as_py())


# --- Hugging Face datasets -------------------------------------------------------------------


def test_datasets_decodes_the_image_column_to_pil_images_of_the_right_size(
        parquet_path: Path, tmp_path: Path, no_network: list[Any]) -> None:
    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(parquet_path), split="train", cache_dir=str(tmp_path / "hf"))
    # datasets silently falls back to a plain struct when the metadata does not fit the column
    assert isinstance(ds.features["image"], datasets.Image)
    assert ds.num_rows == len(SPECS)
    plain = ds.remove_columns(["image"])[:]
    assert plain["key"] == [key for key, *_ in SPECS]
    assert plain["caption"][0] == SCRIPT_CAPTION
    for i, (key, fmt, size, _) in enumerate(SPECS):
        if key == CORRUPT_KEY:
            # Bytes that are no image break whoever iterates the pool: the pool build must drop
            # them. (The shards and the contact sheet below survive them.)
            with pytest.raises(UnidentifiedImageError):
                ds[i]
            continue
        image = ds[i]["image"]
        if fmt is None:
            assert image is None
        else:
            assert isinstance(image, Image.Image) and image.size == size and image.format == fmt, key
    assert no_network == []


@pytest.mark.parametrize("schema, image_columns", [
    pytest.param(IMAGE_TEXT_SCHEMA, {"image": "Image"}, id="image-text"),
    pytest.param(INTERLEAVED_SCHEMA, {"images": "Sequence(Image)"}, id="interleaved"),
    pytest.param(AV_SCHEMA, {}, id="audio-video"),
])
def test_hf_features_match_what_datasets_infers_besides_the_images(schema: pa.Schema,
                                                                   image_columns: dict[str, str]) -> None:
    """hf_features promises: image columns as images, every other column as datasets would infer
    it. A feature that does not match its column is ignored by datasets without a word."""
    import datasets

    declared = datasets.Features.from_dict(json.loads(hf_features(schema, image_columns)[b"huggingface"])["info"]["features"])
    expected = datasets.Features.from_arrow_schema(schema.remove_metadata())
    for name, kind in image_columns.items():
        expected[name] = datasets.Image() if kind == "Image" else datasets.List(datasets.Image())
    assert declared == expected


# --- WebDataset ------------------------------------------------------------------------------


def _read_shards(paths: list[Path]) -> list[dict[str, Any]]:
    import webdataset as wds

    return list(wds.WebDataset([str(p) for p in paths], shardshuffle=False).decode("pil"))


def test_webdataset_shards_hold_the_same_samples_as_the_parquet_pool(
        table: pa.Table, parquet_path: Path, tmp_path: Path, no_network: list[Any]) -> None:
    import datasets

    # two input tables, shards of two samples: the split does not follow the tables
    shards = write_webdataset([table.slice(0, 3), table.slice(3)], tmp_path / "wds", "pool", max_samples=2)
    assert [p.name for p in shards] == ["pool-000000.tar", "pool-000001.tar", "pool-000002.tar"]
    assert sorted(p.name for p in (tmp_path / "wds").iterdir()) == [p.name for p in shards]  # no temp files
    assert shards.per_shard == [2, 2, 2] and shards.samples == 6
    assert dict(shards.skipped) == {"no_bytes": 1}
    assert dict(shards.extensions) == {"jpg": 2, "png": 1, "webp": 1, "gif": 1, "bin": 1}
    assert shards.mime_mismatch == 1  # the error page served as image/jpeg

    samples = _read_shards(shards)
    hf = datasets.load_dataset("parquet", data_files=str(parquet_path), split="train", cache_dir=str(tmp_path / "hf"))
    hf_with_bytes = sum(1 for image in hf.cast_column("image", datasets.Image(decode=False))["image"]
                        if image is not None and image["bytes"] is not None)
    assert len(samples) == _rows_with_bytes(parquet_path) == hf_with_bytes == 6

    by_key = {row["key"]: (i, row) for i, row in enumerate(table.to_pylist())}
    assert [s["json"]["key"] for s in samples] == [k for k, *_ in SPECS if by_key[k][1]["image"] is not None]
    for sample in samples:
        meta = sample["json"]
        i, row = by_key[meta["key"]]
        assert sample["__key__"] == sample_key(row["key"]) and "." not in sample["__key__"]
        assert meta == {name: value for name, value in row.items() if name != "image"}
        if meta["key"] == CORRUPT_KEY:
            assert sample["bin"] == row["image"]["bytes"]  # handed over undecoded, not raised
            continue
        fmt, size = DECODABLE[meta["key"]]
        image = sample[EXT[fmt]]
        assert isinstance(image, Image.Image) and image.size == size == hf[i]["image"].size
    assert samples[0]["json"]["caption"] == SCRIPT_CAPTION
    assert no_network == []


def test_webdataset_members_are_pairs_with_fixed_metadata(table: pa.Table, tmp_path: Path) -> None:
    (shard,) = write_webdataset([table], tmp_path, "one")
    with tarfile.open(shard) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert len(names) == 12
    for image, meta in zip(names[::2], names[1::2]):  # image first, then its json, same basename
        assert image.rsplit(".", 1)[0] == meta.removesuffix(".json") and image.count(".") == 1
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {(0, 0, 0, "", "", 0o644)}


def test_webdataset_output_is_byte_identical_and_rewrites_replace_old_shards(table: pa.Table, tmp_path: Path) -> None:
    first = write_webdataset([table], tmp_path / "a", "p", max_samples=4)
    again = write_webdataset([table.slice(0, 2), table.slice(2)], tmp_path / "b", "p", max_samples=4)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again] and len(first) == 2

    # a later write with fewer shards leaves no shard of the earlier one behind
    fewer = write_webdataset([table], tmp_path / "a", "p", max_samples=100)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["p-000000.tar"] == [p.name for p in fewer]
    assert len(_read_shards(fewer)) == 6


def test_webdataset_max_bytes_splits_and_an_oversized_sample_gets_its_own_shard(table: pa.Table,
                                                                                tmp_path: Path) -> None:
    shards = write_webdataset([table], tmp_path, "s", max_bytes=1)
    assert shards.per_shard == [1] * 6
    assert write_webdataset([], tmp_path / "empty", "s") == []


def test_sample_keys_and_extensions() -> None:
    assert sample_key("0123abcdef") == "0123abcdef"
    assert sample_key(ODD_KEY) == "not_2ehex_2fkey_5f1"
    assert sample_key("a.b") != sample_key("a_2eb") and sample_key("") == "_"
    assert image_extension(b"\x89PNG\r\n\x1a\nrest", "image/jpeg") == "png"  # the bytes decide
    assert image_extension(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml") == "svg"
    assert image_extension(b"garbage", "image/jpeg") == "bin"


# --- contact sheet ---------------------------------------------------------------------------

ATTRIBUTE = re.compile(r"""\s(src|href|action|poster|srcset)\s*=\s*(["']?)([^"'\s>]*)""", re.IGNORECASE)


@pytest.fixture(scope="module")
def sheet_rows(table: pa.Table) -> pa.Table:
    """The pool plus a JPEG cut off half-way (its header opens, its pixels do not decode)."""
    jpeg = table.column("image")[0].as_py()["bytes"]
    extra = table.slice(0, 1).to_pylist()[0] | {"key": "truncated", "caption": "cut off",
                                                  "image": {"bytes": jpeg[: len(jpeg) // 2], "path": None}}
    return pa.concat_tables([table, pa.Table.from_pylist([extra], schema=POOL_SCHEMA)])


def test_contact_sheet_shows_every_row_safely(sheet_rows: pa.Table, tmp_path: Path) -> None:
    out = contact_sheet([sheet_rows], tmp_path / "sheet" / "index.html", "Pool <de-images>", thumb=32)
    page = out.read_text(encoding="utf-8")
    assert page.count("<figure>") == sheet_rows.num_rows == 8
    thumbs = re.findall(r'<img src="data:image/(jpeg|png);base64,([A-Za-z0-9+/=]+)"', page)
    assert len(thumbs) == len(DECODABLE) == 5
    for _, data in thumbs:
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            assert max(im.size) <= 32
    # a placeholder with a reason for the row without bytes, the error page and the cut-off JPEG
    assert page.count('class="placeholder"') == 3
    assert "no image bytes" in page and "not a recognised image format" in page and "truncated" in page
    assert "64×48" in page and "17×90" in page

    assert "<script" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Pool &lt;de-images&gt;" in page
    for name, _, value in ATTRIBUTE.findall(page):
        assert value.startswith("data:"), (name, value)
    assert "https://img.example.test/0.bin" in page  # the source URL, as text
    assert not re.search(r"<(link|script|iframe|object|embed|base)\b|@import|url\(", page, re.IGNORECASE)
    assert ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'\">") in page

    again = contact_sheet([sheet_rows.slice(0, 3), sheet_rows.slice(3)], tmp_path / "again.html",
                          "Pool <de-images>", thumb=32)
    assert again.read_bytes() == out.read_bytes()


def test_contact_sheet_stops_reading_at_the_limit(table: pa.Table, tmp_path: Path) -> None:
    def tables() -> Iterator[pa.Table]:
        yield table
        raise AssertionError("read past the limit")

    page = contact_sheet(tables(), tmp_path / "s.html", "first three", limit=3).read_text(encoding="utf-8")
    assert page.count("<figure>") == 3 and "first 3 rows of the pool" in page


def _png_claiming(size: tuple[int, int]) -> bytes:
    """A valid 1x1 PNG whose header (CRC fixed up) claims ``size``: a decompression bomb's header."""
    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, format="PNG")
    data = bytearray(out.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = size[0].to_bytes(4, "big") + size[1].to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def test_contact_sheet_refuses_a_decompression_bomb_without_raising(table: pa.Table, tmp_path: Path) -> None:
    bomb = table.slice(1, 1).to_pylist()[0] | {"image": {"bytes": _png_claiming((40_000, 40_000)), "path": None}}
    page = contact_sheet([pa.Table.from_pylist([bomb], schema=POOL_SCHEMA)], tmp_path / "b.html", "bomb"
                         ).read_text(encoding="utf-8")
    assert page.count('class="placeholder"') == 1 and "DecompressionBombError" in page
