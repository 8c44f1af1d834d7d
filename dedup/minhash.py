"""MinHash signatures and LSH band hashes of documents.

A document's shingle set is the set of its ``n_grams``-word windows after
:func:`owd.dedup.text.normalise`; words are Unicode ``\\w+`` runs, which splits
every EU language (Latin, Greek and Cyrillic scripts all separate words with
spaces; it would not segment Chinese or Thai). A text shorter than
``n_grams`` words has one shingle, the whole text; a text without words has no
signature (``None``); only the first ``max_words`` words are shingled.

The signature is a :class:`datasketch.MinHash` (scheme ``affine32``: 32-bit
values, a bijective permutation per row) of ``num_bands * rows_per_band``
rows, filled with ``update_batch``. Each band of ``rows_per_band`` rows is
reduced to one 64-bit BLAKE2b hash; two documents are candidates when any band
hash is equal, which happens with probability ``1 - (1 - s**r)**b`` for
Jaccard similarity ``s`` (FineWeb's 14 x 8: 50 % at s = 0.72, 77 % at 0.75,
97 % at 0.8).

The shingle hash is configurable because it dominates the cost and must be
identical on every worker: ``"sha1"`` (datasketch's default, standard library)
or ``"xxh32"`` (needs the ``xxhash`` package: 3x faster MinHash, 1.5x more
documents/s end to end; see bench/bench_dedup.py). Signatures made with different settings are
incompatible; :meth:`MinhashConfig.fingerprint` tells them apart.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Callable, Literal

import numpy as np
from datasketch import MinHash
from datasketch.hashfunc import sha1_hash32

from owd.core.done import fingerprint
from owd.dedup.text import NORMALISATION_VERSION, normalise

__all__ = [
    "MinhashConfig",
    "tokenise",
    "words",
    "shingles",
    "signature",
    "signature_of_normalised",
    "signature_of_words",
    "bands",
    "theoretical_detection",
]

_WORD = re.compile(r"\w+")
_SCHEME = "affine32"
# A text in four scripts, hashed into every fingerprint: if anything in the
# normalise -> shingle -> MinHash -> band chain changes output (a library
# upgrade, a Unicode database update), the fingerprint changes with it.
_CANARY = ("Ἀθῆναι — ΑΘΗΝΑ 2024! Straße, ŞCOALĂ și școală; Москва: 5 000 €. "
           "Dáil Éireann a bhí ann; Ħamrun, Malta. E-mail: don't 1st ＡＢＣ ﬁle.")


@dataclass(frozen=True)
class MinhashConfig:
    """Shingling, MinHash and LSH banding parameters (FineWeb defaults)."""

    n_grams: int = 5
    num_bands: int = 14
    rows_per_band: int = 8
    seed: int = 1
    # xxh32: ~1.6x the signatures/s of sha1 on real text (bench/bench_dedup.py); same quality.
    hash_fn: Literal["sha1", "xxh32"] = "xxh32"
    #: Words of a document that are shingled; the rest is ignored. A limit for
    #: pathological pages (a 10 MB text would hold ~1.5M shingles in memory);
    #: 200k words is ~100x a long article.
    max_words: int = 200_000
    #: Shingles hashed per ``update_batch`` call: the call builds a
    #: (shingles x rows) matrix, so this bounds its memory (20k x 112 x 4 B = 9 MB)
    #: for very long documents.
    batch_shingles: int = 20_000

    def __post_init__(self) -> None:
        for name in ("n_grams", "num_bands", "rows_per_band", "max_words", "batch_shingles"):
            if getattr(self, name) < 1:
                raise ValueError(f"MinhashConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.hash_fn not in ("sha1", "xxh32"):
            raise ValueError(f"MinhashConfig.hash_fn must be 'sha1' or 'xxh32', got {self.hash_fn!r}")
        _hash_function(self.hash_fn)  # fail now, with an install hint, not on the first document

    @property
    def num_perm(self) -> int:
        """Rows of the signature: ``num_bands * rows_per_band``."""
        return self.num_bands * self.rows_per_band

    def fingerprint(self) -> str:
        """A short digest identifying signatures made with this config (and code)."""
        return _fingerprint(self)


def _hash_function(name: str) -> Callable[[bytes], int]:
    if name == "sha1":
        return sha1_hash32
    try:
        import xxhash
    except ImportError as exc:
        raise ImportError("MinhashConfig(hash_fn='xxh32') needs xxhash: pip install xxhash") from exc
    return xxhash.xxh32_intdigest


@functools.cache
def _template(cfg: MinhashConfig) -> MinHash:
    # Generating permutations costs ~110 us per MinHash; build them once per
    # config and hand them to every per-document MinHash (~6 us).
    return MinHash(num_perm=cfg.num_perm, seed=cfg.seed, hashfunc=_hash_function(cfg.hash_fn), scheme=_SCHEME)


@functools.cache
def _fingerprint(cfg: MinhashConfig) -> str:
    sig = signature(_CANARY, cfg)
    assert sig is not None
    return fingerprint({**asdict(cfg), "batch_shingles": None, "scheme": _SCHEME,
                        "normalisation": NORMALISATION_VERSION,
                        "canary": sig.astype("<u4").tobytes().hex(), "bands": [str(b) for b in bands(sig, cfg)]})


def tokenise(text: str) -> list[str]:
    """Words of the normalised text (Unicode ``\\w+`` runs)."""
    return words(normalise(text))


def words(normalised: str) -> list[str]:
    """Words of a text already passed through :func:`owd.dedup.text.normalise`."""
    return _WORD.findall(normalised)


def shingles(tokens: list[str], n_grams: int) -> list[bytes]:
    """UTF-8 ``n_grams``-word windows, space-joined; one shingle if fewer words; none if no word."""
    if not tokens:
        return []
    if len(tokens) <= n_grams:
        return [" ".join(tokens).encode("utf-8")]
    return [" ".join(tokens[i:i + n_grams]).encode("utf-8") for i in range(len(tokens) - n_grams + 1)]


def signature(text: str, cfg: MinhashConfig = MinhashConfig()) -> np.ndarray | None:
    """MinHash of the shingle set of ``text``: ``cfg.num_perm`` uint32 values, or None without words."""
    return signature_of_normalised(normalise(text), cfg)


def signature_of_normalised(normalised: str, cfg: MinhashConfig = MinhashConfig()) -> np.ndarray | None:
    """:func:`signature` of a text already passed through :func:`owd.dedup.text.normalise`."""
    return signature_of_words(words(normalised), cfg)


def signature_of_words(tokens: list[str], cfg: MinhashConfig = MinhashConfig()) -> np.ndarray | None:
    """:func:`signature` from the words of a normalised text (the first ``cfg.max_words``)."""
    sh = shingles(tokens[:cfg.max_words], cfg.n_grams)
    if not sh:
        return None
    tpl = _template(cfg)
    mh = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, hashfunc=tpl.hashfunc,
                 permutations=tpl.permutations, scheme=_SCHEME)
    for start in range(0, len(sh), cfg.batch_shingles):
        mh.update_batch(sh[start:start + cfg.batch_shingles])
    return np.asarray(mh.hashvalues, dtype=np.uint32)


def bands(sig: np.ndarray, cfg: MinhashConfig = MinhashConfig()) -> list[int]:
    """One unsigned 64-bit hash per band of ``cfg.rows_per_band`` signature rows."""
    if sig.shape != (cfg.num_perm,):
        raise ValueError(f"signature has shape {sig.shape}, config expects ({cfg.num_perm},)")
    raw = np.ascontiguousarray(sig, dtype="<u4").tobytes()
    step = 4 * cfg.rows_per_band
    return [int.from_bytes(hashlib.blake2b(raw[i:i + step], digest_size=8).digest(), "little")
            for i in range(0, len(raw), step)]


def theoretical_detection(s: float | np.ndarray, cfg: MinhashConfig = MinhashConfig()) -> float | np.ndarray:
    """Probability that two sets of Jaccard ``s`` share at least one band: 1-(1-s^r)^b."""
    return 1.0 - (1.0 - np.power(s, cfg.rows_per_band)) ** cfg.num_bands
