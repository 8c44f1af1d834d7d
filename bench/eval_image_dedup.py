"""Near-duplicate image detection: precision/recall of :mod:`owd.dedup.image_hash` on a labelled set.

Base images (each is one "image"; everything made from it is its near duplicate):

* the real images of ``../shared/data/media`` (manifest entries with an ``image/``
  MIME type; files Pillow cannot decode, such as ``scikit-image__truncated.jpg``,
  are skipped and counted);
* the images inside the shared data's WARC samples (``warc/*.warc*``: logos, icons and
  buttons of real sites, crawled; not decodable ones, such as SVG, skipped and counted);
* hard negatives: regions of each real image (its four quadrants, its left and
  right two thirds), each a base of its own: they look like the photo and like
  each other (same colours, same texture, parts in common) but are other images;
* the test web's generated PNG (``owd.testweb.content._tiny_png``, what the test
  web serves without the shared data);
* synthetic images made with numpy/Pillow from fixed seeds, five kinds in turn:
  flat background with shapes, gradient with shapes, smooth noise texture,
  text banner, bar chart (different seed = different image).

Variants of every base (the positives), random parameters from fixed seeds:
resized 0.5x/0.75x/1.5x (bilinear/bicubic/Lanczos, as CDNs do), JPEG q90/60/35,
WebP q75, 64-colour palette PNG, cropped 2-3 % and 4-5 % per edge, watermarked
(semi-transparent text, semi-transparent logo, in a corner), brightness +10-15 %,
contrast -10/+15 %, and three combinations (0.75x + text watermark + JPEG 70;
3 % crop + 0.5x + JPEG 80; brightness + contrast + 2 % crop + WebP 70).
Each image is encoded to bytes (the original file for real images, PNG for the
others), its sha256 taken from the bytes, decoded again and hashed, as in a crawl.

Label: two images of one base are duplicates; of two different bases, distinct.
The set is split in two halves by a fixed rule (families in name order, alternately,
within media photos, WARC images and generated images; a photo and its regions are
one family), ``dev`` and ``held_out``. Each half is clustered on its own with
:func:`owd.dedup.image_hash.image_clusters`; reported:

* pair-level precision/recall of the clustering (pairs in one cluster vs. pairs of
  one base) and of the raw Hamming distance, for thresholds 0..16 (the curve);
* recall per variant kind, distances of duplicates and of distinct pairs (hard
  negatives from one family apart), false pairs a threshold would give at scale;
* an ablation of the hash's choices on the dev half (DC term, resampling filter,
  a rejected "snap near-zero coefficients" variant);
* time per hash.

The threshold comes from :func:`choose_threshold`, which reads the dev curve and a
crawl's size only; the held-out half is reported next to it, never used to choose.

    python bench/eval_image_dedup.py        # writes bench/results/eval_image_dedup.json
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageEnhance, ImageFont  # noqa: E402

from owd.core import image_phash  # noqa: E402
from owd.dedup import image_hash  # noqa: E402
from owd.dedup.image_hash import PHASH_THRESHOLD, image_clusters, phash  # noqa: E402
from owd.shared_data import shared_data_dir  # noqa: E402
from owd.testweb.content import _tiny_png  # noqa: E402

THRESHOLDS = range(0, 17)
TARGET = 0.95
SCALE_IMAGES = 1_000_000  # the crawl size the threshold must stay safe at
FALSE_NEIGHBOUR_BUDGET = 0.1  # expected false neighbours per image among SCALE_IMAGES
SYNTHETIC = 40
SYNTHETIC_KINDS = ("shapes", "gradient", "noise", "text", "chart")
# Regions of a real image that become bases of their own (fractions: left, top, right, bottom).
REGIONS = {
    "q1": (0.0, 0.0, 0.5, 0.5), "q2": (0.5, 0.0, 1.0, 0.5), "q3": (0.0, 0.5, 0.5, 1.0), "q4": (0.5, 0.5, 1.0, 1.0),
    "left": (0.0, 0.0, 2 / 3, 1.0), "right": (1 / 3, 0.0, 1.0, 1.0),
}
WORDS = ("offre spéciale nouveau Europa daten open web archiv bilder pagina notizie ήλιος морe "
         "sale photo gallery wiki welcome contact kultur musik sport tänk jour").split()


@dataclass
class Base:
    name: str
    family: str
    category: str  # "real", "region", "warc", "testweb", "synthetic:<kind>"
    image: Image.Image
    original: bytes  # the bytes of the base image itself (a real file, or PNG)


@dataclass
class LabelledSet:
    names: list[str] = field(default_factory=list)
    base: list[int] = field(default_factory=list)  # index into bases
    variant: list[str] = field(default_factory=list)
    sha256: list[str] = field(default_factory=list)
    hashes: list[int] = field(default_factory=list)
    samples: list[dict[str, np.ndarray]] = field(default_factory=list)  # 32x32 per filter (ablation)
    bases: list[Base] = field(default_factory=list)
    half: list[str] = field(default_factory=list)  # per base
    skipped: list[str] = field(default_factory=list)
    hash_seconds: float = 0.0
    decode_seconds: float = 0.0

    def indices(self, half: str | None) -> np.ndarray:
        return np.array([i for i, b in enumerate(self.base) if half is None or self.half[b] == half], dtype=np.int64)


# ---- base images ------------------------------------------------------------------------

def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)  # lossless at any level: the fastest one, same pixels
    return buf.getvalue()


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def real_bases(media: Path) -> tuple[list[Base], list[str]]:
    """The decodable images of ``media/manifest.jsonl`` and their regions; and the skipped files."""
    bases: list[Base] = []
    skipped: list[str] = []
    entries = [json.loads(line) for line in (media / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if line]
    for entry in sorted(entries, key=lambda e: e["file"]):
        if not entry["mime"].startswith("image/"):
            continue
        data = (media / entry["file"]).read_bytes()
        try:
            image = _decode(data)
        except (OSError, ValueError, SyntaxError) as exc:  # truncated or not an image
            skipped.append(f"{entry['file']}: {type(exc).__name__}: {exc}")
            continue
        stem = entry["file"].rsplit(".", 1)[0]
        bases.append(Base(stem, stem, "real", image, data))
        w, h = image.size
        for region, (l, t, r, b) in REGIONS.items():
            part = image.crop((round(l * w), round(t * h), round(r * w), round(b * h)))
            bases.append(Base(f"{stem}#{region}", stem, "region", part, _png(part)))
    return bases, skipped


def warc_bases(folder: Path) -> tuple[list[Base], list[str]]:
    """Images in the HTTP responses of the WARC files of ``folder`` (each once); and the skipped ones."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType  # only this part of the set needs it

    bases: list[Base] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for path in sorted(p for p in folder.iterdir() if ".warc" in p.name):
        try:
            with open(path, "rb") as fh:
                for record in ArchiveIterator(fh, record_types=WarcRecordType.response):
                    kind = (record.http_headers.get("Content-Type", "") if record.http_headers else "") or ""
                    if not kind.startswith("image/"):
                        continue
                    body = record.reader.read()
                    url = record.headers.get("WARC-Target-URI", "") or ""
                    digest = hashlib.sha256(body).hexdigest()
                    if digest in seen:
                        continue
                    seen.add(digest)
                    try:
                        image = _decode(body)
                    except (OSError, ValueError, SyntaxError) as exc:
                        skipped.append(f"{path.name} {url}: {type(exc).__name__}")
                        continue
                    name = f"warc:{url.rsplit('/', 1)[-1] or url}"
                    bases.append(Base(name, name, "warc", image, body))
        except OSError:  # the malformed samples (ARC files, broken gzip) are there on purpose
            continue
    return bases, skipped


def _color(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def _gradient(rng: random.Random, w: int, h: int) -> Image.Image:
    angle = rng.uniform(0, 2 * math.pi)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    t = (x * math.cos(angle) + y * math.sin(angle))
    t = (t - t.min()) / max(t.max() - t.min(), 1.0)
    a, b = np.array(_color(rng), dtype=np.float64), np.array(_color(rng), dtype=np.float64)
    return Image.fromarray(np.rint(a + (b - a) * t[..., None]).astype(np.uint8), "RGB")


def _noise(rng: random.Random, w: int, h: int) -> Image.Image:
    gen = np.random.default_rng(rng.randrange(1 << 32))
    coarse = gen.integers(0, 256, size=(rng.randint(3, 7), rng.randint(3, 7), 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse, "RGB").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float64)
    fine = gen.normal(0, 10, size=smooth.shape)
    return Image.fromarray(np.clip(smooth + fine, 0, 255).astype(np.uint8), "RGB")


def _shapes(draw: ImageDraw.ImageDraw, rng: random.Random, w: int, h: int, count: int) -> None:
    for _ in range(count):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randint(w // 10, w // 2), y0 + rng.randint(h // 10, h // 2)
        kind = rng.choice(("rect", "ellipse", "polygon"))
        if kind == "rect":
            draw.rectangle((x0, y0, x1, y1), fill=_color(rng))
        elif kind == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=_color(rng))
        else:
            draw.polygon([(rng.randrange(w), rng.randrange(h)) for _ in range(rng.randint(3, 6))], fill=_color(rng))


def _text(draw: ImageDraw.ImageDraw, rng: random.Random, w: int, h: int) -> None:
    lines = rng.randint(2, 4)
    size = h // (lines + 2)
    for i in range(lines):
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        x = rng.randint(0, w // 4)
        draw.text((x, size // 2 + i * size * 1.2), line, fill=_color(rng), font=_font(size))


def _chart(draw: ImageDraw.ImageDraw, rng: random.Random, w: int, h: int) -> None:
    bars = rng.randint(3, 12)
    width = w / (bars + 1)
    for i in range(bars):
        top = rng.randint(h // 10, h - h // 8)
        draw.rectangle((int((i + 0.5) * width), top, int((i + 1.3) * width), h - h // 10), fill=_color(rng))
    draw.line((0, h - h // 10, w, h - h // 10), fill=(0, 0, 0), width=2)


def synthetic_image(seed: int) -> tuple[str, Image.Image]:
    """A generated image (kind, image); kinds cycle with the seed, everything else is drawn from it."""
    kind = SYNTHETIC_KINDS[seed % len(SYNTHETIC_KINDS)]
    rng = random.Random(f"synthetic:{seed}")
    w, h = rng.randrange(240, 641, 8), rng.randrange(180, 481, 8)
    if kind == "gradient":
        image = _gradient(rng, w, h)
    elif kind == "noise":
        image = _noise(rng, w, h)
    elif kind in ("text", "chart"):
        image = Image.new("RGB", (w, h), tuple(rng.randint(200, 255) for _ in range(3)))
    else:
        image = Image.new("RGB", (w, h), _color(rng))
    draw = ImageDraw.Draw(image)
    if kind == "text":
        _text(draw, rng, w, h)
    elif kind == "chart":
        _chart(draw, rng, w, h)
    else:
        _shapes(draw, rng, w, h, rng.randint(2, 6) if kind != "shapes" else rng.randint(3, 8))
    return kind, image


def generated_bases(count: int = SYNTHETIC) -> list[Base]:
    tiny = _tiny_png(64, 48)
    bases = [Base("testweb.generated", "testweb.generated", "testweb", _decode(tiny), tiny)]
    for seed in range(count):
        kind, image = synthetic_image(seed)
        name = f"synthetic.{seed:03d}"
        bases.append(Base(name, name, f"synthetic:{kind}", image, _png(image)))
    return bases


# ---- variants ---------------------------------------------------------------------------

def _flat(image: Image.Image) -> Image.Image:
    """RGB on white (what a site does before saving a transparent image as JPEG)."""
    if image.mode in ("RGB", "L"):
        return image
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    (_flat(image) if fmt == "JPEG" else image).save(buf, fmt, **options)
    return buf.getvalue()


def _resize(image: Image.Image, factor: float, resample: Image.Resampling) -> Image.Image:
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    if image.mode in ("P", "1"):  # Pillow resizes those with NEAREST only; resizers work in RGBA
        image = image.convert("RGBA")
    return image.resize(size, resample)


def _crop(image: Image.Image, rng: random.Random, lo: float, hi: float) -> Image.Image:
    w, h = image.size
    left, right = (round(w * rng.uniform(lo, hi)) for _ in range(2))
    top, bottom = (round(h * rng.uniform(lo, hi)) for _ in range(2))
    return image.crop((left, top, w - right, h - bottom))


def _corner(rng: random.Random, w: int, h: int, bw: int, bh: int) -> tuple[int, int]:
    margin = max(2, min(w, h) // 40)
    x = margin if rng.random() < 0.5 else w - bw - margin
    y = margin if rng.random() < 0.5 else h - bh - margin
    return max(0, x), max(0, y)


def _watermark_text(image: Image.Image, rng: random.Random) -> Image.Image:
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = _font(max(9, base.height // 14))
    text = rng.choice(("© owd.example.eu", "© Foto Agentur", "stock-images.example", "© 2026 news.example"))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x, y = _corner(rng, base.width, base.height, int(right - left), int(bottom - top))
    shade = 255 if rng.random() < 0.5 else 0
    draw.text((x - left, y - top), text, font=font, fill=(shade, shade, shade, rng.randint(110, 170)))
    return Image.alpha_composite(base, layer).convert(image.mode if image.mode != "P" else "RGB")


def _watermark_logo(image: Image.Image, rng: random.Random) -> Image.Image:
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    side = max(6, int(min(base.size) * rng.uniform(0.12, 0.18)))
    x, y = _corner(rng, base.width, base.height, side, side)
    alpha = rng.randint(90, 140)
    draw.ellipse((x, y, x + side, y + side), fill=(*_color(rng), alpha))
    draw.rectangle((x + side // 4, y + side // 3, x + 3 * side // 4, y + 2 * side // 3), fill=(255, 255, 255, alpha))
    return Image.alpha_composite(base, layer).convert(image.mode if image.mode != "P" else "RGB")


def _enhance(image: Image.Image, kind: type[ImageEnhance.Brightness] | type[ImageEnhance.Contrast], factor: float
             ) -> Image.Image:
    return kind(_flat(image)).enhance(factor)


Variant = Callable[[Image.Image, random.Random], bytes]
VARIANTS: dict[str, Variant] = {
    "resize_0.5": lambda im, rng: _png(_resize(im, 0.5, Image.Resampling.BILINEAR)),
    "resize_0.75": lambda im, rng: _png(_resize(im, 0.75, Image.Resampling.BICUBIC)),
    "resize_1.5": lambda im, rng: _png(_resize(im, 1.5, Image.Resampling.LANCZOS)),
    "jpeg_90": lambda im, rng: _encode(im, "JPEG", quality=90),
    "jpeg_60": lambda im, rng: _encode(im, "JPEG", quality=60),
    "jpeg_35": lambda im, rng: _encode(im, "JPEG", quality=35),
    "webp_75": lambda im, rng: _encode(im, "WEBP", quality=75),
    "png_64_colours": lambda im, rng: _png(_flat(im).quantize(64, method=Image.Quantize.FASTOCTREE)),
    "crop_2-3%": lambda im, rng: _png(_crop(im, rng, 0.02, 0.03)),
    "crop_4-5%": lambda im, rng: _png(_crop(im, rng, 0.04, 0.05)),
    "watermark_text": lambda im, rng: _png(_watermark_text(im, rng)),
    "watermark_logo": lambda im, rng: _png(_watermark_logo(im, rng)),
    "brightness": lambda im, rng: _png(_enhance(im, ImageEnhance.Brightness, rng.uniform(1.10, 1.15))),
    "contrast": lambda im, rng: _png(_enhance(im, ImageEnhance.Contrast, rng.choice((0.9, 1.15)))),
    "combo_resize_watermark_jpeg": lambda im, rng: _encode(
        _watermark_text(_resize(im, 0.75, Image.Resampling.BICUBIC), rng), "JPEG", quality=70),
    "combo_crop_resize_jpeg": lambda im, rng: _encode(
        _resize(_crop(im, rng, 0.03, 0.03), 0.5, Image.Resampling.LANCZOS), "JPEG", quality=80),
    "combo_tone_crop_webp": lambda im, rng: _encode(_crop(_enhance(_enhance(
        im, ImageEnhance.Brightness, 1.1), ImageEnhance.Contrast, 1.1), rng, 0.02, 0.02), "WEBP", quality=70),
}


def variants_of(base: Base) -> Iterator[tuple[str, bytes]]:
    yield "original", base.original
    for kind, make in VARIANTS.items():
        yield kind, make(base.image, random.Random(f"{base.name}:{kind}"))


# ---- the labelled set -------------------------------------------------------------------

ABLATION_FILTERS = {"box": Image.Resampling.BOX, "bilinear": Image.Resampling.BILINEAR,
                    "lanczos": Image.Resampling.LANCZOS}


def assign_halves(bases: list[Base]) -> list[str]:
    """``dev``/``held_out`` per base: families (a real photo with its regions; each generated
    image alone) in name order, alternately within real and generated ones."""
    def group(base: Base) -> str:
        return {"real": "media", "region": "media", "warc": "warc"}.get(base.category, "generated")

    half_of: dict[str, str] = {}
    for name in ("media", "warc", "generated"):
        families = sorted({b.family for b in bases if group(b) == name})
        for i, family in enumerate(families):
            half_of[family] = ("dev", "held_out")[i % 2]
    return [half_of[b.family] for b in bases]


def build(data: Path | None, synthetic: int = SYNTHETIC, ablation: bool = True) -> LabelledSet:
    """The labelled set from ``data`` (the shared data folder; None: generated images only)."""
    out = LabelledSet()
    bases: list[Base] = []
    if data is not None and (data / "media" / "manifest.jsonl").is_file():
        bases, out.skipped = real_bases(data / "media")
    if data is not None and (data / "warc").is_dir():
        found, skipped = warc_bases(data / "warc")
        bases += found
        out.skipped += skipped
    out.bases = bases + generated_bases(synthetic)
    out.half = assign_halves(out.bases)
    for b, base in enumerate(out.bases):
        for kind, data_bytes in variants_of(base):
            t0 = time.perf_counter()
            image = _decode(data_bytes)
            t1 = time.perf_counter()
            value = phash(image)
            out.hash_seconds += time.perf_counter() - t1
            out.decode_seconds += t1 - t0
            out.names.append(f"{base.name}/{kind}")
            out.base.append(b)
            out.variant.append(kind)
            out.sha256.append(hashlib.sha256(data_bytes).hexdigest())
            out.hashes.append(value)
            if ablation:
                out.samples.append({name: image_phash._sample(image, f) for name, f in ABLATION_FILTERS.items()})
    return out


# ---- scoring ----------------------------------------------------------------------------

def _pairs(counts: np.ndarray) -> int:
    return int((counts * (counts - 1) // 2).sum())


def cluster_scores(labels: np.ndarray, base: np.ndarray) -> dict[str, Any]:
    """Pair-level precision/recall of clusters ``labels`` against the bases."""
    _, cluster = np.unique(labels, return_inverse=True)
    _, truth = np.unique(base, return_inverse=True)
    both = cluster.astype(np.int64) * (truth.max() + 1) + truth
    tp = _pairs(np.unique(both, return_counts=True)[1])
    predicted = _pairs(np.unique(cluster, return_counts=True)[1])
    actual = _pairs(np.unique(truth, return_counts=True)[1])
    return {"precision": tp / predicted if predicted else 1.0, "recall": tp / actual if actual else 1.0,
            "true_pairs": tp, "predicted_pairs": predicted, "labelled_duplicate_pairs": actual,
            "clusters": int(cluster.max() + 1) if len(cluster) else 0}


def distance_matrix(hashes: np.ndarray) -> np.ndarray:
    h = np.asarray(hashes, dtype=np.uint64)
    return np.bitwise_count(h[:, None] ^ h[None, :]).astype(np.int64)


def distance_histograms(hashes: np.ndarray, base: np.ndarray, family: np.ndarray
                        ) -> dict[str, np.ndarray]:
    """Pairs per Hamming distance 0..64: duplicates, distinct in one family, distinct unrelated."""
    d = distance_matrix(hashes)
    iu = np.triu_indices(len(hashes), 1)
    dist = d[iu]
    same = base[iu[0]] == base[iu[1]]
    kin = (family[iu[0]] == family[iu[1]]) & ~same
    return {"duplicate": np.bincount(dist[same], minlength=65),
            "distinct_family": np.bincount(dist[kin], minlength=65),
            "distinct_unrelated": np.bincount(dist[~same & ~kin], minlength=65)}


def raw_scores(hist: dict[str, np.ndarray], t: int) -> dict[str, float]:
    pos = hist["duplicate"]
    neg = hist["distinct_family"] + hist["distinct_unrelated"]
    tp, fp = int(pos[:t + 1].sum()), int(neg[:t + 1].sum())
    return {"precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / int(pos.sum()) if pos.sum() else 1.0}


def curve(ls: LabelledSet, idx: np.ndarray, hashes: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Clustering and raw-distance precision/recall per threshold for the images ``idx``."""
    h = np.array([ls.hashes[i] for i in idx], dtype=np.uint64) if hashes is None else hashes
    base = np.array(ls.base)[idx]
    family = np.array([ls.bases[b].family for b in base])
    hist = distance_histograms(h, base, family)
    sha = [ls.sha256[i] for i in idx]
    rows = []
    for t in THRESHOLDS:
        rep, _ = image_clusters(sha, h, threshold=t)
        c = cluster_scores(rep, base)
        r = raw_scores(hist, t)
        rows.append({"threshold": t, "precision": round(c["precision"], 4), "recall": round(c["recall"], 4),
                     "raw_precision": round(r["precision"], 4), "raw_recall": round(r["recall"], 4),
                     "clusters": c["clusters"], "predicted_pairs": c["predicted_pairs"],
                     "true_pairs": c["true_pairs"], "duplicate_pairs": c["labelled_duplicate_pairs"]})
    return rows


def random_false_neighbours(t: int, images: int = SCALE_IMAGES) -> float:
    """Expected unrelated images within ``t`` bits of one image among ``images``, if the hashes
    of unrelated images were random: 31 of the 63 AC bits set (as every phash without ties),
    so a distance 2j means j of the 31 set bits and j of the 32 clear ones differ. The measured
    distances of unrelated pairs have this model's mean and spread (31.5 +- 3.97); a real tail
    is if anything fatter, so this is a lower bound."""
    hits = sum(math.comb(31, j) * math.comb(32, j) for j in range(t // 2 + 1))
    return images * hits / math.comb(63, 31)


def choose_threshold(rows: list[dict[str, Any]], target: float = TARGET,
                     budget: float = FALSE_NEIGHBOUR_BUDGET) -> int | None:
    """The threshold chosen from the dev curve (the held-out half plays no part).

    1. Scale: among ``SCALE_IMAGES`` unrelated images, a threshold may give at most ``budget``
       false neighbours per image (:func:`random_false_neighbours`): a labelled set of a
       thousand images cannot show a false-pair rate of 1e-8, a crawl of a million does.
    2. Margin: clustering precision reaches the target at t and at t + 2 (the next distance
       that occurs: distances are even), so the threshold is not at the edge of the cliff.
    3. Among those, the best recall (ties: the lower threshold).
    Recall is not a condition: whether it reaches the target is reported, not tuned for.
    """
    by_t = {r["threshold"]: r for r in rows}
    good = [t for t, r in by_t.items()
            if random_false_neighbours(t) <= budget and r["precision"] >= target
            and by_t.get(t + 2, r)["precision"] >= target]
    if not good:
        return None
    return max(good, key=lambda t: (by_t[t]["recall"], -t))


def per_variant(ls: LabelledSet, idx: np.ndarray, threshold: int) -> dict[str, dict[str, Any]]:
    """Per variant kind: distance to its base's original; same cluster as the original."""
    h = np.array([ls.hashes[i] for i in idx], dtype=np.uint64)
    rep, _ = image_clusters([ls.sha256[i] for i in idx], h, threshold=threshold)
    base = np.array(ls.base)[idx]
    variant = np.array(ls.variant)[idx]
    original = {int(base[k]): k for k in range(len(idx)) if variant[k] == "original"}
    out: dict[str, dict[str, Any]] = {}
    for kind in ["original", *VARIANTS]:
        ks = [k for k in range(len(idx)) if variant[k] == kind]
        dist = [image_hash.hamming(int(h[k]), int(h[original[int(base[k])]])) for k in ks]
        same = [rep[k] == rep[original[int(base[k])]] for k in ks]
        out[kind] = {"images": len(ks), "median_distance": float(np.median(dist)), "max_distance": int(max(dist)),
                     "within_threshold": round(float(np.mean(np.array(dist) <= threshold)), 4),
                     "same_cluster_as_original": round(float(np.mean(same)), 4)}
    return out


def distances_summary(hist: dict[str, np.ndarray], threshold: int) -> dict[str, Any]:
    def stats(counts: np.ndarray) -> dict[str, Any]:
        values = np.repeat(np.arange(65), counts)
        if not len(values):
            return {"pairs": 0}
        return {"pairs": int(len(values)), "min": int(values.min()), "p1": float(np.percentile(values, 1)),
                "median": float(np.median(values)), "max": int(values.max()),
                f"at_most_{threshold}": int(counts[:threshold + 1].sum())}
    return {kind: stats(counts) for kind, counts in hist.items()}


def false_pairs_at_scale(hist: dict[str, np.ndarray], images: int = 1_000_000) -> list[dict[str, Any]]:
    """Unrelated pairs within t bits, per unrelated pair and as false neighbours per image among
    ``images`` others (empirical rate; 0 observed gives an upper 95 % bound of 3/pairs)."""
    neg = hist["distinct_unrelated"]
    total = int(neg.sum())
    rows = []
    for t in THRESHOLDS:
        hits = int(neg[:t + 1].sum())
        rate = hits / total if hits else 3.0 / total
        rows.append({"threshold": t, "unrelated_pairs_within": hits, "rate": rate, "rate_is_upper_bound": hits == 0,
                     "false_neighbours_per_image_at_1M": round(rate * images, 3),
                     "random_hash_false_neighbours_at_1M": random_false_neighbours(t, images)})
    return rows


# ---- ablation of the hash's choices -----------------------------------------------------

def _bits_from(coefficients: np.ndarray, scheme: str) -> int:
    flat = coefficients.reshape(-1)
    if scheme.startswith("snap_"):  # rejected: coefficients below a share of the AC energy count as 0
        scale = float(np.sqrt((flat[1:].astype(np.float64) ** 2).sum()))
        flat = np.where(np.abs(flat) < float(scheme[5:]) * scale, 0, flat)
        scheme = "dc_excluded"
    if scheme == "dc_excluded":  # the module's choice: median of the 63 AC coefficients, DC bit 0
        bits = flat > np.sort(flat[1:])[31]
        bits[0] = False
    else:  # "dc_included" (imagehash's phash): median of all 64, DC bit included
        s = np.sort(flat)
        bits = 2 * flat > s[31] + s[32]
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def _rows_1_8(pixels: np.ndarray) -> np.ndarray:
    """pHash.org's choice: DCT rows/columns 1..8 (the whole first row and column left out)."""
    k = np.arange(9)[:, None]
    n = np.arange(32)[None, :]
    dct = np.where(k == 0, math.sqrt(1 / 32), math.sqrt(2 / 32)) * np.cos(math.pi * (2 * n + 1) * k / 64)
    return (dct @ pixels.astype(np.float64) @ dct.T)[1:, 1:]


ABLATION = [(f, b) for f in ABLATION_FILTERS for b in ("dc_excluded", "dc_included", "rows_1_8")] + [
    ("box", "snap_0.003"), ("box", "snap_0.01")]


def _ablation_hash(pixels: np.ndarray, scheme: str) -> int:
    if scheme == "rows_1_8":
        c = _rows_1_8(pixels).reshape(-1)
        s = np.sort(c)
        return int.from_bytes(np.packbits(2 * c > s[31] + s[32]).tobytes(), "big")
    return _bits_from(image_phash._low_frequencies(pixels), scheme)


def ablation(ls: LabelledSet, idx: np.ndarray, threshold: int) -> list[dict[str, Any]]:
    """Other choices for the hash, scored on the images ``idx`` (the dev half).

    ``snap_<e>``: AC coefficients smaller than e x their L2 norm are set to 0 before the
    median (meant for images whose spectrum is mostly zeros, such as gradients).
    """
    if not ls.samples:
        return []
    base = np.array(ls.base)[idx]
    family = np.array([ls.bases[b].family for b in base])
    sha = [ls.sha256[i] for i in idx]
    rows = []
    for filter_name, scheme in ABLATION:
        h = np.array([_ablation_hash(ls.samples[i][filter_name], scheme) for i in idx], dtype=np.uint64)
        hist = distance_histograms(h, base, family)
        best = max(THRESHOLDS, key=lambda t: _f1(raw_scores(hist, t)))
        row: dict[str, Any] = {"filter": filter_name, "bits": scheme, "best_raw_threshold": best,
                               "best_raw_f1": round(_f1(raw_scores(hist, best)), 4)}
        for t in (threshold, threshold + 2):
            c = cluster_scores(image_clusters(sha, h, threshold=t)[0], base)
            row[f"cluster_precision_at_{t}"] = round(c["precision"], 4)
            row[f"cluster_recall_at_{t}"] = round(c["recall"], 4)
            row[f"distinct_pairs_within_{t}"] = int(hist["distinct_family"][:t + 1].sum()
                                                     + hist["distinct_unrelated"][:t + 1].sum())
        neg = np.repeat(np.arange(65), hist["distinct_unrelated"])
        row["unrelated_mean_distance"] = round(float(neg.mean()), 2)
        row["unrelated_std_distance"] = round(float(neg.std()), 2)
        rows.append(row)
    return rows


def _f1(scores: dict[str, float]) -> float:
    p, r = scores["precision"], scores["recall"]
    return 2 * p * r / (p + r) if p + r else 0.0


# ---- report -----------------------------------------------------------------------------

def run(data: Path | None, synthetic: int = SYNTHETIC, ablation_on: bool = True) -> dict[str, Any]:
    started = time.perf_counter()
    ls = build(data, synthetic, ablation=ablation_on)
    built = time.perf_counter() - started
    halves = {"dev": ls.indices("dev"), "held_out": ls.indices("held_out"), "all": ls.indices(None)}
    curves = {name: curve(ls, idx) for name, idx in halves.items()}
    chosen = choose_threshold(curves["dev"])
    t = PHASH_THRESHOLD
    result: dict[str, Any] = {
        "threshold": t, "rule_on_dev_chooses": chosen, "target": TARGET,
        "images": len(ls.hashes), "bases": len(ls.bases),
        "bases_by_category": _count(b.category for b in ls.bases),
        "skipped_files": ls.skipped,
        "per_half": {}, "curves": curves,
        "time": {"phash_ms_per_image": round(1000 * ls.hash_seconds / len(ls.hashes), 3),
                 "decode_ms_per_image": round(1000 * ls.decode_seconds / len(ls.hashes), 3),
                 "build_seconds": round(built, 1)},
    }
    for name, idx in halves.items():
        base = np.array(ls.base)[idx]
        family = np.array([ls.bases[b].family for b in base])
        hist = distance_histograms(np.array([ls.hashes[i] for i in idx], dtype=np.uint64), base, family)
        row = curves[name][t]
        result["per_half"][name] = {
            "images": len(idx), "bases": len(set(base.tolist())),
            "pairs": len(idx) * (len(idx) - 1) // 2, "duplicate_pairs": row["duplicate_pairs"],
            "precision": row["precision"], "recall": row["recall"],
            "meets_target": row["precision"] >= TARGET and row["recall"] >= TARGET,
            "raw_precision": row["raw_precision"], "raw_recall": row["raw_recall"],
            "per_variant": per_variant(ls, idx, t),
            "distances": distances_summary(hist, t),
        }
        if name == "all":
            result["false_pairs_at_scale"] = false_pairs_at_scale(hist)
    result["ablation_dev"] = ablation(ls, halves["dev"], t) if ablation_on else []
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _count(items: Iterator[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items()))


def print_report(result: dict[str, Any]) -> None:
    t = result["threshold"]
    print(f"{result['images']} images of {result['bases']} bases {result['bases_by_category']}")
    for skipped in result["skipped_files"]:
        print(f"skipped: {skipped}")
    print(f"\nthreshold {t} (the dev-half rule chooses {result['rule_on_dev_chooses']})")
    for name, half in result["per_half"].items():
        print(f"  {name:9s} images {half['images']:5d} pairs {half['pairs']:8d} duplicate pairs "
              f"{half['duplicate_pairs']:6d}  cluster P={half['precision']:.4f} R={half['recall']:.4f}  "
              f"raw P={half['raw_precision']:.4f} R={half['raw_recall']:.4f}"
              f"{'' if half['meets_target'] else f'  (below the {TARGET} target)'}")
    print("\ncurve (pair-level; cluster = same cluster, raw = Hamming distance <= t)")
    print("   t | dev P   dev R  | held P  held R | all P   all R  | raw all P raw all R")
    for d, h, a in zip(*(result["curves"][k] for k in ("dev", "held_out", "all"))):
        mark = " <" if d["threshold"] == t else ""
        print(f"  {d['threshold']:2d} | {d['precision']:.4f} {d['recall']:.4f} | {h['precision']:.4f} "
              f"{h['recall']:.4f} | {a['precision']:.4f} {a['recall']:.4f} | {a['raw_precision']:.4f}    "
              f"{a['raw_recall']:.4f}{mark}")
    print("\nper variant (all): median / max distance to the original, share in the original's cluster")
    for kind, v in result["per_half"]["all"]["per_variant"].items():
        print(f"  {kind:28s} {v['median_distance']:5.1f} {v['max_distance']:3d}  {v['same_cluster_as_original']:.3f}")
    print("\ndistances (all):")
    for kind, s in result["per_half"]["all"]["distances"].items():
        print(f"  {kind:20s} {s}")
    print("\nunrelated pairs within t (all), and false neighbours per image among 1M images:")
    for row in result["false_pairs_at_scale"]:
        if row["threshold"] % 2 == 0 or row["threshold"] == t:
            bound = "<=" if row["rate_is_upper_bound"] else "  "
            print(f"  t={row['threshold']:2d} {row['unrelated_pairs_within']:5d} pairs, rate {bound}{row['rate']:.2e}, "
                  f"{bound}{row['false_neighbours_per_image_at_1M']:9.2f}/image (random hashes: "
                  f"{row['random_hash_false_neighbours_at_1M']:.2g}/image)")
    if result["ablation_dev"]:
        print(f"\nablation (dev half): filter, bits -> best raw F1 (at t); clustering P/R and distinct pairs "
              f"within t at {t} and {t + 2}; unrelated distance mean/std")
        for row in result["ablation_dev"]:
            cells = "  ".join(f"P {row[f'cluster_precision_at_{x}']:.4f} R {row[f'cluster_recall_at_{x}']:.4f} "
                              f"d<={x}: {row[f'distinct_pairs_within_{x}']:3d}" for x in (t, t + 2))
            print(f"  {row['filter']:8s} {row['bits']:11s} F1 {row['best_raw_f1']:.4f} "
                  f"(t={row['best_raw_threshold']:2d})  {cells}  "
                  f"{row['unrelated_mean_distance']:5.2f} ± {row['unrelated_std_distance']:.2f}")
    tm = result["time"]
    print(f"\nphash {tm['phash_ms_per_image']} ms/image (decoded), decode {tm['decode_ms_per_image']} ms/image; "
          f"{result['seconds']} s in all")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synthetic", type=int, default=SYNTHETIC, help="generated base images")
    ap.add_argument("--no-ablation", action="store_true", help="skip the ablation of the hash's choices")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "eval_image_dedup.json")
    args = ap.parse_args()
    data = shared_data_dir()
    if data is None or not (data / "media" / "manifest.jsonl").is_file():
        print("eval_image_dedup: ../shared/data/media is absent (set OWD_SHARED_DATA to the shared data folder); "
              "the labelled set needs its real images", file=sys.stderr)
        return 2
    result = run(data, args.synthetic, ablation_on=not args.no_ablation)
    print_report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
