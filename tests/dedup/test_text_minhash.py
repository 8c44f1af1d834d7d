"""normalise / exact_hash / signature / bands: the per-document building blocks."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from owd.dedup import MinhashConfig, bands, exact_hash, normalise, signature, theoretical_detection, tokenise
from owd.dedup.minhash import shingles
from tests.dedup.helpers import edit, text, words


def test_normalise_folds_case_width_ligatures_and_diacritics() -> None:
    assert normalise("ＡＢＣ ﬁle Straße") == "abc file strasse"
    assert normalise("Ἀθῆναι ΑΘΗΝΑ") == "αθηναι αθηνα"
    # Romanian s-cedilla and s-comma-below are the same letter once marks are gone.
    assert normalise("şcoală") == normalise("școala") == "scoala"


def test_normalise_drops_punctuation_and_symbols_and_folds_digits() -> None:
    assert normalise("E-mail: don't — “quoted” € 5 000,50 😀!") == "email dont quoted 0 0"
    assert normalise("Page 12 of 345") == normalise("page 7 of 9") == "page 0 of 0"


def test_normalise_deletes_invisible_format_and_control_characters() -> None:
    assert normalise("Bundes\u00adverfassungs\u00adgericht") == "bundesverfassungsgericht"
    assert normalise("zero\u200bwidth \ufeffbom \u200e\x07bell\ue000") == "zerowidth bom bell"


def test_normalise_collapses_whitespace() -> None:
    assert normalise("  a\n\n\tb\u00a0 c\u2003d  ") == "a b c d"
    assert normalise("") == normalise(" ... ") == ""


def test_exact_hash_equal_after_normalisation_only() -> None:
    assert exact_hash("Hello, World!\n") == exact_hash("hello world")
    assert exact_hash("hello world") != exact_hash("hello there world")
    assert len(exact_hash("x")) == 32 and int(exact_hash("x"), 16) >= 0


@pytest.mark.parametrize("sample, expected", [
    ("Добър ден, свят!", ["добър", "ден", "свят"]),
    ("Γειά σου Κόσμε", ["γεια", "σου", "κοσμε"]),
    ("Dzień dobry, świecie", ["dzien", "dobry", "swiecie"]),
    ("Il-Ħamrun u l-Imdina", ["ilħamrun", "u", "limdina"]),
])
def test_tokenise_eu_scripts(sample: str, expected: list[str]) -> None:
    assert tokenise(sample) == expected


def test_shingles_short_and_empty() -> None:
    assert shingles([], 5) == []
    assert shingles(["a", "b"], 5) == [b"a b"]
    assert shingles(list("abcdef"), 5) == [b"a b c d e", b"b c d e f"]


def test_signature_shape_determinism_and_empty_text() -> None:
    cfg = MinhashConfig()
    sig = signature(text(200, 1), cfg)
    assert sig is not None and sig.dtype == np.uint32 and sig.shape == (112,)
    again = signature(text(200, 1), cfg)
    assert again is not None and np.array_equal(sig, again)
    assert signature("", cfg) is None and signature("?! -- 2024", cfg) is not None  # "0" is a word
    assert signature("?! --", cfg) is None


def test_signature_estimates_jaccard() -> None:
    w = words(600, 3)
    a, b = " ".join(w[:500]), " ".join(w[100:600])  # 396 shared 5-shingles of 596
    sa, sb = signature(a), signature(b)
    assert sa is not None and sb is not None
    true_j = 396 / 596
    assert abs(float((sa == sb).mean()) - true_j) < 0.12


def test_bands_one_u64_per_band_and_sensitive_to_each_band() -> None:
    cfg = MinhashConfig()
    sig = signature(text(100, 2), cfg)
    assert sig is not None
    hs = bands(sig, cfg)
    assert len(hs) == 14 and all(0 <= h < 2**64 for h in hs)
    changed = sig.copy()
    changed[8 * 3 + 5] ^= 1
    diff = [i for i, (x, y) in enumerate(zip(hs, bands(changed, cfg))) if x != y]
    assert diff == [3]
    with pytest.raises(ValueError):
        bands(sig[:50], cfg)


def test_near_duplicates_share_a_band_unrelated_do_not() -> None:
    base = text(400, 4)
    near = edit(base, 0.01, 5)
    other = text(400, 6)
    hb, hn, ho = (set(enumerate(bands(signature(t)))) for t in (base, near, other))  # type: ignore[arg-type]
    assert hb & hn
    assert not hb & ho


def test_config_validation_and_fingerprint() -> None:
    with pytest.raises(ValueError):
        MinhashConfig(num_bands=0)
    with pytest.raises(ValueError):
        MinhashConfig(hash_fn="md5")  # type: ignore[arg-type]
    assert MinhashConfig().num_perm == 112
    assert MinhashConfig().fingerprint() == MinhashConfig(batch_shingles=7).fingerprint()
    assert MinhashConfig().fingerprint() != MinhashConfig(seed=2).fingerprint()
    assert MinhashConfig().fingerprint() != MinhashConfig(n_grams=4).fingerprint()


def test_batching_long_documents_does_not_change_the_signature() -> None:
    t = text(3000, 8)
    whole, batched = signature(t, MinhashConfig()), signature(t, MinhashConfig(batch_shingles=97))
    assert whole is not None and batched is not None and np.array_equal(whole, batched)


@pytest.mark.skipif(importlib.util.find_spec("xxhash") is not None, reason="xxhash is installed")
def test_xxh32_without_xxhash_fails_with_install_hint() -> None:
    with pytest.raises(ImportError, match="pip install xxhash"):
        MinhashConfig(hash_fn="xxh32")


def test_theoretical_curve() -> None:
    cfg = MinhashConfig()
    assert theoretical_detection(0.75, cfg) == pytest.approx(1 - (1 - 0.75**8) ** 14)
    assert theoretical_detection(0.0, cfg) == 0.0 and theoretical_detection(1.0, cfg) == 1.0
