"""Image-text pools in the two other forms people use them: WebDataset shards, and a contact sheet.

Why these two:

* **WebDataset shards** (:func:`write_webdataset`). The Parquet pool (``IMAGE_TEXT_SCHEMA``)
  suits ``datasets``, DuckDB and Polars; trainers that stream from object storage (OpenCLIP,
  the DataComp tooling, ``webdataset`` itself) want plain tar files read front to back
  instead. Each sample is two consecutive tar members sharing a basename: ``<key>.<ext>``
  holding the image bytes unchanged, and ``<key>.json`` holding every other column. The
  extension is the one of the format the bytes really are, sniffed from their magic number
  (normally the ``mime`` column's format, which the media step also sniffed), because
  ``webdataset`` picks its decoder by extension: a PNG named ``.jpg`` still decodes by
  luck, but bytes that are no image at all must not carry an image extension, or
  ``.decode("pil")`` raises in the middle of a training run. Those get ``.bin`` (or their
  own extension for formats ``webdataset`` passes through as bytes, such as SVG), and
  ``webdataset`` hands them over undecoded.
* **A contact sheet** (:func:`contact_sheet`). A curator should look at a pool before it is
  published; one self-contained HTML page of thumbnails with their captions, sizes,
  languages and source URLs does that without a notebook. It makes no request of its own:
  thumbnails are ``data:`` URIs, URLs are text (never links or ``src``), there is no outside
  CSS, script or font, and a Content-Security-Policy says so to the browser too, so opening
  a sheet tells no image host that someone looked at it. Images that do not decode get a
  placeholder with the reason; nothing here raises for bad bytes.

Both write the same bytes from the same rows (fixed tar metadata, no clock, rows in input
order), under a temporary name that is renamed once complete, so a reader never sees half
a file and a rebuild is byte-for-byte comparable.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import pyarrow as pa

from owd.core.media_schema import IMAGE_TEXT_SCHEMA
from owd.core.media_sniff import sniff_mime

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = ["ShardList", "write_webdataset", "contact_sheet", "image_extension", "sample_key"]

# ---------------------------------------------------------------------------------------------
# WebDataset shards
# ---------------------------------------------------------------------------------------------

# Formats whose sniffed MIME type (owd.core.media_sniff) gets an extension webdataset's "pil"
# decoder knows; anything else must not get one of them.
_SNIFFED_EXT: dict[str, str] = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/tiff": "tiff",
                                "image/bmp": "bmp", "image/x-icon": "ico", "image/webp": "webp"}

# The mime column's format, for mismatch counting and for formats that have no simple magic
# number above. Only the extensions in _PASSED_THROUGH are ever taken from the MIME alone.
_EXT_BY_MIME: dict[str, str] = {
    "image/jpeg": "jpg", "image/pjpeg": "jpg", "image/jpg": "jpg",
    "image/png": "png", "image/apng": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp", "image/x-bmp": "bmp", "image/x-ms-bmp": "bmp",
    "image/tiff": "tiff",
    "image/x-icon": "ico", "image/vnd.microsoft.icon": "ico",
    "image/avif": "avif", "image/heic": "heic", "image/heif": "heif", "image/jxl": "jxl",
    "image/svg+xml": "svg",
}

# Extensions webdataset's image decoder ignores (it hands the bytes over as they are), so a
# wrong guess from the MIME type cannot make a reader raise.
_PASSED_THROUGH = frozenset({"avif", "heic", "heif", "jxl", "svg"})

_SHARD_NAME = "{prefix}-{index:06d}.tar"
_BLOCK = tarfile.BLOCKSIZE  # 512: every tar member is a header block plus its data, padded


class ShardList(list[Path]):
    """The shard paths in order, plus what went into them.

    A ``list[Path]`` so callers that only want the files need nothing else; the counts ride
    along for the pool manifest and the step's counters.

    * ``samples``: samples written (rows whose image has bytes), ``per_shard`` per shard;
    * ``skipped``: rows left out, by reason (``"no_bytes"``: the image or its bytes are null
      or empty, so there is nothing to train on);
    * ``extensions``: samples per image extension (``"bin"``: bytes of no known image format);
    * ``mime_mismatch``: samples whose sniffed format differs from their ``mime`` column.
    """

    def __init__(self) -> None:
        super().__init__()
        self.samples = 0
        self.per_shard: list[int] = []
        self.skipped: Counter[str] = Counter()
        self.extensions: Counter[str] = Counter()
        self.mime_mismatch = 0


def image_extension(data: bytes, mime: str | None) -> str:
    """The file extension for these image bytes: the sniffed format's, else ``"bin"``.

    The bytes decide, not the ``mime`` column, because a reader picks its decoder from the
    extension: only bytes that start like a known image format get an image extension. A
    format without a magic number here (SVG, AVIF, HEIC, JPEG XL) keeps its MIME type's
    extension, which ``webdataset`` does not try to decode.
    """
    sniffed = _sniff(data)
    if sniffed is not None:
        return sniffed
    by_mime = _mime_extension(mime)
    return by_mime if by_mime in _PASSED_THROUGH else "bin"


def _mime_extension(mime: str | None) -> str | None:
    return _EXT_BY_MIME.get((mime or "").split(";", 1)[0].strip().lower())


def _sniff(data: bytes) -> str | None:
    mime = sniff_mime(data[:64])
    return _SNIFFED_EXT.get(mime) if mime else None


_KEY_SAFE = re.compile(r"[A-Za-z0-9-]")


def sample_key(key: str) -> str:
    """The tar basename for a pool key: letters, digits and ``-`` kept, anything else as ``_hh``.

    webdataset splits a member name at its first dot (``a.b.jpg`` is key ``a``, extension
    ``b.jpg``) and treats ``/`` as a folder, so neither may survive; escaping every other
    byte (``_`` included) keeps distinct keys distinct. Media keys are hex digests and pass
    through unchanged.
    """
    if not key:
        return "_"  # no escape sequence is a lone "_", so this cannot collide
    return "".join(ch if _KEY_SAFE.fullmatch(ch) else "".join(f"_{b:02x}" for b in ch.encode("utf-8"))
                   for ch in key)


@dataclass
class _Sample:
    key: str
    ext: str
    image: bytes
    meta: bytes

    @property
    def tar_bytes(self) -> int:
        """What the sample adds to the tar file: two headers and two padded payloads."""
        return sum(_BLOCK + -(-len(data) // _BLOCK) * _BLOCK for data in (self.image, self.meta))


def write_webdataset(tables: Iterable[pa.Table], out_dir: Path, prefix: str, max_samples: int = 1000,
                     max_bytes: int = 256 * 2**20) -> ShardList:
    """Write image-text rows (``IMAGE_TEXT_SCHEMA``) as WebDataset tar shards.

    Shards are ``<out_dir>/<prefix>-000000.tar``, ``-000001.tar``, ... in input order; a
    shard closes when it holds ``max_samples`` samples or the next sample would take it
    past ``max_bytes`` (a single larger sample still gets a shard of its own). Each sample
    is ``<key>.<ext>`` (the image bytes, see :func:`image_extension`) followed by
    ``<key>.json`` (every column but ``image``, the original ``key`` included, UTF-8). Rows
    without image bytes are skipped and counted. Shards of this prefix left over from an
    earlier, longer write are removed, so a glob never mixes two writes. No rows, no shard.

    Returns the shard paths (a :class:`ShardList`, which also carries the counts).
    """
    if not prefix or "/" in prefix or os.sep in prefix:
        raise ValueError(f"prefix must be a plain file name prefix, got {prefix!r}")
    if max_samples < 1 or max_bytes < 1:
        raise ValueError("max_samples and max_bytes must be positive")
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ShardList()
    writer = _ShardWriter(out_dir, prefix, result)
    try:
        for sample in _samples(tables, result):
            if writer.is_full(sample, max_samples, max_bytes):
                writer.close()
            writer.add(sample)
        writer.close()
    finally:
        writer.abort()  # only does something if a write failed part-way
    _remove_stale_shards(out_dir, prefix, len(result))
    return result


def _samples(tables: Iterable[pa.Table], result: ShardList) -> Iterator[_Sample]:
    for table in tables:
        table = _as_image_text(table)
        for batch in table.to_batches():
            for row in batch.to_pylist():
                sample = _sample(row, result)
                if sample is not None:
                    yield sample


def _as_image_text(table: pa.Table) -> pa.Table:
    """The table's columns in IMAGE_TEXT_SCHEMA order and types (a missing column raises)."""
    return table.select(IMAGE_TEXT_SCHEMA.names).cast(IMAGE_TEXT_SCHEMA)


def _sample(row: dict[str, Any], result: ShardList) -> _Sample | None:
    image = row.get("image") or {}
    data = image.get("bytes")
    if not data:
        result.skipped["no_bytes"] += 1
        return None
    ext = image_extension(data, row.get("mime"))
    by_mime = _mime_extension(row.get("mime"))
    if by_mime is not None and by_mime != ext:
        result.mime_mismatch += 1
    result.extensions[ext] += 1
    meta = {name: value for name, value in row.items() if name != "image"}
    text = json.dumps(meta, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _Sample(sample_key(row["key"]), ext, data, text.encode("utf-8"))


class _ShardWriter:
    """One open shard at a time, written under a temporary name and renamed when closed."""

    def __init__(self, out_dir: Path, prefix: str, result: ShardList) -> None:
        self.out_dir, self.prefix, self.result = out_dir, prefix, result
        self.tar: tarfile.TarFile | None = None
        self.tmp: Path | None = None
        self.samples = 0
        self.bytes = 0
        self.keys: set[str] = set()

    def is_full(self, sample: _Sample, max_samples: int, max_bytes: int) -> bool:
        if self.tar is None:
            return False
        return self.samples >= max_samples or self.bytes + sample.tar_bytes > max_bytes

    def add(self, sample: _Sample) -> None:
        if self.tar is None:
            self._open()
        assert self.tar is not None
        # A repeated key in one shard would merge two samples (or make webdataset raise
        # "duplicate file name"); keys are unique in a pool, so this is a bug upstream.
        if sample.key in self.keys:
            raise ValueError(f"duplicate sample key {sample.key!r} in shard {len(self.result)}")
        self.keys.add(sample.key)
        _add_member(self.tar, f"{sample.key}.{sample.ext}", sample.image)
        _add_member(self.tar, f"{sample.key}.json", sample.meta)
        self.samples += 1
        self.bytes += sample.tar_bytes

    def _open(self) -> None:
        final = self.out_dir / _SHARD_NAME.format(prefix=self.prefix, index=len(self.result))
        self.tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        # PAX: names of any length; with integer mtime and ASCII names it adds no extra headers
        self.tar = tarfile.open(self.tmp, "w", format=tarfile.PAX_FORMAT)

    def close(self) -> None:
        if self.tar is None or self.tmp is None:
            return
        self.tar.close()
        final = self.out_dir / _SHARD_NAME.format(prefix=self.prefix, index=len(self.result))
        os.replace(self.tmp, final)
        self.result.append(final)
        self.result.per_shard.append(self.samples)
        self.result.samples += self.samples
        self.tar, self.tmp, self.samples, self.bytes, self.keys = None, None, 0, 0, set()

    def abort(self) -> None:
        if self.tar is not None:
            self.tar.close()
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
        self.tar, self.tmp = None, None


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    # Fixed metadata: the same rows give the same bytes whoever writes them, whenever.
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _remove_stale_shards(out_dir: Path, prefix: str, keep: int) -> None:
    pattern = re.compile(re.escape(prefix) + r"-(\d{6})\.tar")
    for path in out_dir.iterdir():
        match = pattern.fullmatch(path.name)
        if match and int(match.group(1)) >= keep:
            path.unlink()


# ---------------------------------------------------------------------------------------------
# Contact sheet
# ---------------------------------------------------------------------------------------------

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_CAPTION_CHARS = 240
_URL_CHARS = 160
_REASON_CHARS = 160

# What Pillow raises for bytes it cannot read: UnidentifiedImageError (an OSError) for an
# unknown format, OSError for a truncated file, SyntaxError/ValueError/EOFError from plugins
# for broken headers; DecompressionBombError (caught on its own) for absurd dimensions.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (OSError, SyntaxError, ValueError, EOFError)

_STYLE = """
body{font:13px/1.35 system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
h1{font-size:18px;margin:0 0 4px}
.summary{color:#555;margin:0 0 12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(THUMBpx,1fr));gap:12px}
figure{margin:0;padding:6px;background:#fff;border:1px solid #ddd;border-radius:4px;overflow:hidden}
.frame{height:THUMBpx;display:flex;align-items:center;justify-content:center;background:#eee}
.frame img{max-width:100%;max-height:100%}
.placeholder{color:#a00;font-size:11px;padding:6px;text-align:center;word-break:break-word}
figcaption p{margin:4px 0 0;word-break:break-word}
.caption{font-weight:500}
.meta,.key{color:#666;font-size:11px}
.url{color:#246;font-size:11px;font-family:ui-monospace,monospace}
"""


@dataclass
class _Thumb:
    data_uri: str | None  # None: the placeholder is shown, with the reason
    size: tuple[int, int] | None  # the decoded image's pixels, as a reader gets them
    reason: str = ""


def contact_sheet(tables: Iterable[pa.Table], out_path: Path, title: str, limit: int = 60,
                  thumb: int = 160) -> Path:
    """Write one self-contained HTML page showing the first ``limit`` rows of an image-text pool.

    Each row is a thumbnail (at most ``thumb`` px a side, re-encoded as JPEG, or PNG when
    the image has transparency, and embedded as a ``data:`` URI) with its caption (escaped,
    shortened), decoded size (and the table's if it differs), MIME type, language, byte
    size, source URL and page URL as plain text. Rows are shown as a training reader would
    get them: no EXIF rotation, first frame of an animation. An image that cannot be decoded
    gets a placeholder box with the reason. Tables are read only until ``limit`` rows are
    shown, so a sheet of a large pool costs a few images, not the pool.

    The page loads nothing from anywhere (see the module docstring). Returns ``out_path``.
    """
    cells: list[str] = []
    problems: Counter[str] = Counter()
    for row in _first_rows(tables, limit):
        cells.append(_cell(row, thumb, problems))
    page = _page(title, cells, problems, thumb)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def _first_rows(tables: Iterable[pa.Table], limit: int) -> Iterator[dict[str, Any]]:
    left = limit
    if left <= 0:
        return
    for table in tables:
        for row in table.slice(0, left).to_pylist():
            yield row
            left -= 1
        if left <= 0:
            return  # before asking for another table: a lazy reader would load it for nothing


def _cell(row: dict[str, Any], thumb: int, problems: Counter[str]) -> str:
    image = row.get("image") or {}
    shown = _thumbnail(image.get("bytes"), thumb)
    if shown.data_uri is None:
        problems["no image bytes" if shown.reason == "no image bytes" else "undecodable"] += 1
        picture = f'<div class="placeholder">{_esc(shown.reason)}</div>'
    else:
        picture = f'<img src="{shown.data_uri}" alt="{_esc(_short(row.get("alt") or "", _CAPTION_CHARS))}">'
    lines = [
        f'<p class="caption">{_esc(_short(row.get("caption") or "(no caption)", _CAPTION_CHARS))}</p>',
        f'<p class="meta">{_esc(_meta_line(row, shown))}</p>',
        f'<p class="url">{_esc(_short(row.get("url") or "", _URL_CHARS))}</p>',
        f'<p class="url">page: {_esc(_short(row.get("page_url") or "", _URL_CHARS))}</p>',
        f'<p class="key">{_esc(row.get("key") or "")}</p>',
    ]
    return (f'<figure><div class="frame">{picture}</div>\n<figcaption>{"".join(lines)}</figcaption>'
            "</figure>")


def _meta_line(row: dict[str, Any], shown: _Thumb) -> str:
    table_size = (row.get("width"), row.get("height"))
    if shown.size is not None:
        size = f"{shown.size[0]}×{shown.size[1]}"
        if None not in table_size and tuple(table_size) != shown.size:
            size += f" (table: {table_size[0]}×{table_size[1]})"
    elif None not in table_size:
        size = f"{table_size[0]}×{table_size[1]} (table)"
    else:
        size = "?×?"
    parts = [size, row.get("mime") or "?", row.get("lang") or "?"]
    if row.get("size") is not None:
        parts.append(_human_bytes(int(row["size"])))
    return " · ".join(parts)


def _thumbnail(data: bytes | None, thumb: int) -> _Thumb:
    """A data: URI of the image shrunk to ``thumb`` px, or the reason there is none."""
    if not data:
        return _Thumb(None, None, "no image bytes")
    from PIL import Image, UnidentifiedImageError  # only the sheet needs Pillow

    try:
        with Image.open(io.BytesIO(data)) as im:
            size = im.size
            if im.format == "JPEG" and im.mode in ("RGB", "L"):
                im.draft(im.mode, (thumb, thumb))  # decode at 1/2..1/8 scale: much less work
            small = _shrink(im, thumb)
    except UnidentifiedImageError:
        return _Thumb(None, None, "not a recognised image format")
    except Image.DecompressionBombError as exc:  # not an OSError: a class of its own
        return _Thumb(None, None, _reason(exc))
    except _DECODE_ERRORS as exc:
        return _Thumb(None, None, _reason(exc))
    return _Thumb(_encode(small), size)


def _shrink(im: PILImage, thumb: int) -> PILImage:
    # Decode fully first, so a truncated file fails here and gets a placeholder.
    im.load()
    transparent = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    small = im.convert("RGBA" if transparent else "RGB")
    small.thumbnail((thumb, thumb))
    return small


def _encode(im: PILImage) -> str:
    out = io.BytesIO()
    if im.mode == "RGBA":
        im.save(out, format="PNG", optimize=True)
        mime = "image/png"
    else:
        im.save(out, format="JPEG", quality=80)
        mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(out.getvalue()).decode('ascii')}"


def _reason(exc: BaseException) -> str:
    # Pillow's messages may quote an object's repr ("<_io.BytesIO object at 0x7f...>"); the
    # address would make two writes of one pool differ.
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", str(exc)) or "no detail"
    return _short(f"{type(exc).__name__}: {text}", _REASON_CHARS)


def _page(title: str, cells: list[str], problems: Counter[str], thumb: int) -> str:
    summary = f"first {len(cells)} row{'s' if len(cells) != 1 else ''} of the pool"
    for what in sorted(problems):
        summary += f" · {problems[what]} {what}"
    style = _STYLE.replace("THUMB", str(int(thumb)))
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title>",
        f"<style>{style}</style>",
        "</head>",
        "<body>",
        f"<h1>{_esc(title)}</h1>",
        f'<p class="summary">{_esc(summary)}</p>',
        '<div class="grid">',
        *cells,
        "</div>",
        "</body>",
        "</html>",
        "",
    ])


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())  # newlines and runs of spaces would only waste the box
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _human_bytes(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    return f"{n / 1000:.1f} kB" if n < 1_000_000 else f"{n / 1_000_000:.1f} MB"
