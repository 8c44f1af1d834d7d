"""The media tables: one row per media item a page references and the WARC holds.

``media/<shard>.parquet`` (written by the media step, owd/extract/media_step.py) has
:data:`MEDIA_SCHEMA`: what the media record is (sniffed MIME type, size, sha256,
dimensions, duration, codecs, perceptual hash), where its bytes are (WARC file, offset,
length; the bytes themselves when ``process.media.store: bytes``), what the page says
about it (alt text, caption, surrounding text, its position among the page's media)
and the rights of both the page and the media fetch. A media record referenced by two
pages is two rows: a caption belongs to a page.

Image-text pools (pools/media_pools.py) are Parquet files of
:data:`IMAGE_TEXT_SCHEMA`: the ``image`` column is the struct ``{bytes, path}`` that
Hugging Face ``datasets`` decodes as ``Image()`` (the schema metadata says so).
"""

from __future__ import annotations

import json

import pyarrow as pa

__all__ = ["MEDIA_SCHEMA", "IMAGE_TEXT_SCHEMA", "AV_SCHEMA", "INTERLEAVED_SCHEMA", "MEDIA_SCHEMA_VERSION",
           "hf_features"]

MEDIA_SCHEMA_VERSION = 1

_UTC_MS = pa.timestamp("ms", tz="UTC")

TEXT_TRACK_TYPE = pa.struct([
    pa.field("url", pa.string(), nullable=False),
    pa.field("lang", pa.string()),
    pa.field("kind", pa.string()),  # subtitles | captions | descriptions | chapters
    pa.field("text", pa.string()),  # the cues' text, one line each (WebVTT timing and tags removed)
])

MEDIA_SCHEMA = pa.schema(
    [
        pa.field("media_id", pa.string(), nullable=False),  # sha1 of (parent id, media URL)
        pa.field("url", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # image | audio | video (sniffed from the bytes)
        pa.field("mime", pa.string()),  # sniffed from the bytes
        pa.field("declared_mime", pa.string()),  # the response's Content-Type
        pa.field("size", pa.int64()),
        pa.field("sha256", pa.string()),
        pa.field("width", pa.int32()),  # images and video
        pa.field("height", pa.int32()),
        pa.field("duration", pa.float64()),  # seconds, audio and video
        pa.field("codecs", pa.list_(pa.string())),
        pa.field("channels", pa.int32()),  # audio
        pa.field("sample_rate", pa.int32()),
        pa.field("phash", pa.uint64()),  # images: 64-bit DCT perceptual hash (owd.dedup.image_hash)
        # where the bytes are
        pa.field("warc_file", pa.string(), nullable=False),
        pa.field("warc_offset", pa.int64(), nullable=False),
        pa.field("warc_length", pa.int64(), nullable=False),
        pa.field("content", pa.binary()),  # the bytes, when process.media.store is "bytes"
        pa.field("fetch_time", _UTC_MS),
        # what the page says about it
        pa.field("alt", pa.string()),
        pa.field("caption", pa.string()),
        pa.field("context", pa.string()),
        pa.field("position", pa.int32(), nullable=False),  # among the page's media items, page order
        pa.field("text_tracks", pa.list_(TEXT_TRACK_TYPE)),
        pa.field("parent_id", pa.string(), nullable=False),
        pa.field("parent_url", pa.string(), nullable=False),
        pa.field("parent_host", pa.string(), nullable=False),
        pa.field("parent_domain", pa.string()),
        pa.field("parent_lang", pa.string()),
        pa.field("parent_title", pa.string()),
        pa.field("parent_license_url", pa.string()),
        pa.field("parent_drop_reason", pa.string()),
        # rights: the page's and the media fetch's own (its origin's tdmrep.json, its headers)
        pa.field("page_noai", pa.bool_()),
        pa.field("page_noimageai", pa.bool_()),
        pa.field("page_tdm_reservation", pa.bool_()),
        pa.field("media_noai", pa.bool_()),
        pa.field("media_tdm_reservation", pa.bool_()),
        pa.field("media_tdm_policy", pa.string()),
        # null: usable by default; else why not ("page_noimageai", "media_tdm_reservation", ...)
        pa.field("reserved", pa.string()),
        # image near-duplicate clusters (campaign step; sha256 exact, then perceptual hash)
        pa.field("dup_cluster_id", pa.string()),
        pa.field("dup_cluster_size", pa.int32()),
    ],
    metadata={b"owd.media_schema_version": str(MEDIA_SCHEMA_VERSION).encode()},
)

# Image-text pool rows (LAION / DataComp style: one image and its text per row).
IMAGE_TEXT_SCHEMA = pa.schema([
    pa.field("key", pa.string(), nullable=False),  # the media_id: stable, unique in a pool
    pa.field("image", pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])),
    pa.field("caption", pa.string()),  # the figcaption, else the alt text, else the surrounding text
    pa.field("alt", pa.string()),
    pa.field("context", pa.string()),
    pa.field("url", pa.string(), nullable=False),
    pa.field("page_url", pa.string(), nullable=False),
    pa.field("lang", pa.string()),
    pa.field("mime", pa.string()),
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("size", pa.int64()),
    pa.field("sha256", pa.string()),
    pa.field("phash", pa.string()),  # 16 hex digits (a uint64 is not portable to every reader)
    pa.field("license_url", pa.string()),
    pa.field("dup_cluster_id", pa.string()),
    pa.field("dup_cluster_size", pa.int32()),
])

# Audio and video pool rows: the file and its text.
AV_SCHEMA = pa.schema([
    pa.field("key", pa.string(), nullable=False),
    pa.field("media", pa.binary()),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("mime", pa.string()),
    pa.field("url", pa.string(), nullable=False),
    pa.field("page_url", pa.string(), nullable=False),
    pa.field("lang", pa.string()),
    pa.field("caption", pa.string()),
    pa.field("context", pa.string()),
    pa.field("duration", pa.float64()),
    pa.field("codecs", pa.list_(pa.string())),
    pa.field("channels", pa.int32()),
    pa.field("sample_rate", pa.int32()),
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("size", pa.int64()),
    pa.field("sha256", pa.string()),
    pa.field("text_tracks", pa.list_(TEXT_TRACK_TYPE)),
    pa.field("license_url", pa.string()),
])

# Interleaved documents (OBELICS layout): texts and images in page order, one of the two
# null at each position.
INTERLEAVED_SCHEMA = pa.schema([
    pa.field("key", pa.string(), nullable=False),  # the page's document id
    pa.field("url", pa.string(), nullable=False),
    pa.field("lang", pa.string()),
    pa.field("texts", pa.list_(pa.string())),
    pa.field("images", pa.list_(pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())]))),
    pa.field("image_urls", pa.list_(pa.string())),
    pa.field("license_url", pa.string()),
])


def hf_features(schema: pa.Schema, image_columns: dict[str, str]) -> dict[bytes, bytes]:
    """Schema metadata that tells Hugging Face ``datasets`` which columns are images
    (``{"image": "Image"}``, or ``"Sequence(Image)"`` for a list of images); the other
    columns get the feature ``datasets`` would infer from their Arrow type."""
    features: dict[str, object] = {}
    for field in schema:
        kind = image_columns.get(field.name)
        if kind == "Image":
            features[field.name] = {"_type": "Image"}
        elif kind == "Sequence(Image)":
            features[field.name] = {"feature": {"_type": "Image"}, "_type": "List"}
        else:
            features[field.name] = _value_feature(field.type)
    return {b"huggingface": json.dumps({"info": {"features": features}}).encode()}


def _value_feature(typ: pa.DataType) -> object:
    if pa.types.is_list(typ):
        return {"feature": _value_feature(typ.value_type), "_type": "List"}  # datasets >= 4 (Sequence of a struct is a dict of lists)
    if pa.types.is_struct(typ):
        return {f.name: _value_feature(f.type) for f in typ}
    names = {pa.string(): "string", pa.binary(): "binary", pa.int32(): "int32", pa.int64(): "int64",
             pa.float64(): "float64", pa.bool_(): "bool", pa.uint64(): "uint64"}
    return {"dtype": names.get(typ, str(typ)), "_type": "Value"}
