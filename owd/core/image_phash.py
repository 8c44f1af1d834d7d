"""Image deduplication: a 64-bit DCT perceptual hash and near-duplicate clusters.

Why a perceptual hash: the same picture reaches a crawl resized, re-encoded
(JPEG/WebP/PNG at another quality), cropped by a few pixels or watermarked, so
its bytes and sha256 differ while a reader sees one image. :func:`phash` keeps
only the coarse luminance structure, which those edits barely change:

1. orientation from EXIF applied (browsers show it that way); transparent
   images composited on white (a page's usual background: the colour under
   fully transparent pixels is arbitrary and must not count); then luminance
   (ITU-R 601, Pillow's ``L``). 16-bit and float images are rescaled to 0-255
   first: a linear change of brightness does not change the hash (below);
2. resized to 32x32 with a box filter (area average: every source pixel counts
   once, whatever the size, which is what makes 0.5x and 1.5x copies agree);
3. 2-D DCT-II as a matrix product with a precomputed, integer-scaled DCT matrix
   (exact int64 arithmetic: no BLAS or libm in the per-image path, so the same
   pixels give the same hash on every platform);
4. the 8x8 lowest frequencies; one bit per coefficient, set when it is above
   the median of the 63 AC coefficients. The DC term (the mean brightness) is
   left out of the median and its bit (the highest) is always 0: it is positive
   and larger than the AC median in every image, so as a bit it carried nothing
   (measured with bench/eval_image_dedup.py's ablation: keeping it in the median
   and in the bits, as imagehash does, gave exactly the same distances; rows and
   columns 1..8, as pHash.org's hash, lost recall: 0.902 vs 0.933 (dev half, t=10);
   bilinear or Lanczos resampling instead of box: 0.922 and 0.928). Brightness
   and contrast changes (x -> a*x + b, a > 0) move only the DC term and scale the
   rest, so the bits do not change unless pixels clip.

A hash has 31 bits set (the 63 AC coefficients split at their median) unless
coefficients tie at the median, so distances between hashes are almost always
even: thresholds 10 and 11 behave alike. Hashes are weakest on images with little
low-frequency structure (a pure gradient, such as the test web's generated PNG;
an empty sky; icons a few pixels wide): many coefficients sit near the median and
their bits follow noise, so copies of such images are often not found. A
solid-colour image has all-zero AC coefficients and hashes to 0, so solid images
of any colour cluster together.

Used by the media step (owd.extract.media_step: every image is hashed once, when it is
probed) and by the image dedup (owd.dedup.image_hash), hence here in owd.core.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import ExifTags, Image, ImageOps

__all__ = ["phash", "hamming", "HASH_SIZE"]

#: Side of the low-frequency block kept: 8x8 coefficients, 64 bits.
HASH_SIZE = 8
#: Side of the image the DCT runs on (4x the kept block, as in the usual pHash).
_SAMPLE = 32
#: Resampling filter for the 32x32 sample; fixed, since the hash depends on it.
_FILTER = Image.Resampling.BOX
#: Fixed-point scale of the DCT matrix: 2**16 keeps rounding error far below the
#: coefficients' own noise, and 255 * 2**14 * 32 * 2**14 * 32 < 2**63, so int64 never overflows.
_DCT_BITS = 16
_HIGH_DEPTH_MODES = ("I", "F")
def _dct_matrix() -> np.ndarray:
    """Rows 0..HASH_SIZE-1 of the orthonormal DCT-II matrix of size _SAMPLE, as int64 x 2**_DCT_BITS."""
    k = np.arange(HASH_SIZE, dtype=np.float64)[:, None]
    n = np.arange(_SAMPLE, dtype=np.float64)[None, :]
    scale = np.where(k == 0, math.sqrt(1.0 / _SAMPLE), math.sqrt(2.0 / _SAMPLE))
    basis = scale * np.cos(math.pi * (2 * n + 1) * k / (2 * _SAMPLE))
    return np.rint(basis * (1 << _DCT_BITS)).astype(np.int64)


_DCT = _dct_matrix()
_DCT_T = np.ascontiguousarray(_DCT.T)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info)


def _rescaled(values: np.ndarray) -> Image.Image:
    """A 16-bit/int32/float image as 8-bit luminance: min..max -> 0..255 (a linear map, see module doc)."""
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo if hi > lo else 1.0
    return Image.fromarray(np.rint((values - lo) * (255.0 / span)).astype(np.uint8), mode="L")


def _grayscale(image: Image.Image) -> Image.Image:
    """The image as 8-bit luminance (mode ``L``), transparent parts on white."""
    mode = image.mode
    if mode == "L" and not _has_alpha(image):
        return image
    if mode in _HIGH_DEPTH_MODES or mode.startswith("I;"):
        return _rescaled(np.asarray(image))
    if mode == "LAB":  # its first band already is lightness; Pillow has no LAB -> RGB conversion
        return image.getchannel("L")
    if _has_alpha(image):
        # La (premultiplied) converts only to LA; LA then to RGBA.
        rgba = (image.convert("LA") if mode == "La" else image).convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    if mode in ("1", "RGB"):
        return image.convert("L")
    # P, CMYK, YCbCr, HSV, RGBX ...: via RGB, so the luminance weights are always the same ones.
    return image.convert("RGB").convert("L")


def _upright(image: Image.Image) -> Image.Image:
    """The image as a browser shows it (EXIF orientation applied); unchanged when EXIF is unreadable."""
    try:
        if image.getexif().get(ExifTags.Base.Orientation, 1) in (1, None):
            return image  # the usual case: no copy (exif_transpose copies even then)
        return ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        # Broken EXIF blocks are common on the web; the pixels are still the image.
        return image


def _sample(image: Image.Image, resample: Image.Resampling = _FILTER) -> np.ndarray:
    """The _SAMPLE x _SAMPLE luminance of ``image`` as int64."""
    if image.width < 1 or image.height < 1:
        raise ValueError(f"cannot hash an empty image ({image.width}x{image.height})")
    gray = _grayscale(_upright(image))
    small = gray.resize((_SAMPLE, _SAMPLE), resample)
    return np.asarray(small, dtype=np.int64)


def _low_frequencies(pixels: np.ndarray) -> np.ndarray:
    """The top-left HASH_SIZE x HASH_SIZE DCT-II coefficients of a _SAMPLE x _SAMPLE block (int64, scaled)."""
    return _DCT @ pixels @ _DCT_T


def _bits(coefficients: np.ndarray) -> int:
    """One bit per coefficient, row-major, first coefficient in the highest bit; DC bit always 0."""
    flat = coefficients.reshape(-1)
    ac = np.sort(flat[1:])
    # An odd count (63): the median is one of the coefficients, compared exactly in integers.
    median = ac[len(ac) // 2]
    bits = flat > median
    bits[0] = False
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def phash(image: Image.Image) -> int:
    """64-bit DCT perceptual hash of ``image``, an unsigned int in [0, 2**64).

    The highest (DC) bit is always 0, so the value is below 2**63 and also fits a signed
    int64 column unchanged. Any Pillow mode (palette, alpha, 16-bit, CMYK ...); the image
    is not modified.
    Raises ``ValueError`` for an image of zero width or height.
    """
    return _bits(_low_frequencies(_sample(image)))


def hamming(a: int, b: int) -> int:
    """Number of bits in which two hashes differ."""
    return (int(a) ^ int(b)).bit_count()


# ---- clustering -------------------------------------------------------------------------
