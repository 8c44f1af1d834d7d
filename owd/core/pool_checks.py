"""What a valid pool rule is: the checks the campaign config runs on every pool when it loads.

Here rather than in owd.pools.rules (which compiles the rules and owns their meaning,
see its docstring) because the config is loaded by every package and may import none.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from owd.core.languages import KNOWN_LANGUAGES

if TYPE_CHECKING:  # owd.core.config imports this module
    from owd.core.config import PoolConfig

__all__ = ["GLOB_CHARS", "strip_scheme", "validate_pool"]

GLOB_CHARS = set("*?[")
_HOST_GLOB = re.compile(r"^[\w*?\[\]!.-]+$")
_TLD = re.compile(r"^[\w-]+(\.[\w-]+)*$")
_SCHEME = re.compile(r"^https?://", re.IGNORECASE)


def strip_scheme(url: str) -> str:
    """A license URL prefix as compared: no http(s) scheme, lower case."""
    return _SCHEME.sub("", url.strip()).lower()


def _check_language(code: str, where: str) -> None:
    if code != code.strip().lower():
        raise ValueError(f"{where}: use a lower-case language code such as 'de', got {code!r}")
    if code not in KNOWN_LANGUAGES:
        raise ValueError(f"{where}: unknown language code {code!r} (expected an ISO 639-1 code such as 'de' "
                         f"or another label langid writes)")


def _check_domain(entry: str, where: str) -> None:
    e = entry.strip().lower()
    if not e or not _HOST_GLOB.match(e) or e.startswith(".") or ".." in e:
        raise ValueError(f"{where}: expected a host, registered domain or glob such as '*.gv.at', got {entry!r}")
    depth = 0
    for ch in e:  # fnmatch would silently take an unbalanced '[' literally
        depth += ch == "["
        depth -= ch == "]"
        if depth not in (0, 1):
            raise ValueError(f"{where}: bad glob {entry!r}: brackets must not nest or close before opening")
    if depth:
        raise ValueError(f"{where}: bad glob {entry!r}: '[' without a closing ']'")


def _check_keyword(kw: str, where: str) -> None:
    body = kw.strip()
    if not re.search(r"\w", body):
        raise ValueError(f"{where}: a keyword needs at least one letter or digit, got {kw!r}")
    if "*" in body[:-1] or (body.endswith("*") and not re.search(r"\w\*$", body)):
        raise ValueError(f"{where}: '*' is only allowed right after the last word (a prefix), got {kw!r}")


def validate_pool(pool: "PoolConfig") -> None:
    """Raise ``ValueError("field[i]: problem")`` for the first bad rule (config errors add file and pool)."""
    for i, code in enumerate(pool.languages):
        _check_language(code, f"languages[{i}]")
    _check_media_rules(pool)
    for i, tld in enumerate(pool.tlds):
        if not _TLD.match(tld.strip().lower().lstrip(".")):
            raise ValueError(f"tlds[{i}]: expected a TLD such as 'si' or 'gv.at', got {tld!r}")
    for i, entry in enumerate(pool.domains):
        _check_domain(entry, f"domains[{i}]")
    for i, pattern in enumerate(pool.url_patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"url_patterns[{i}]: not a valid regular expression ({exc}): {pattern!r}") from None
    for i, kw in enumerate(pool.keywords):
        _check_keyword(kw, f"keywords[{i}]")
    if pool.min_quality is not None and not 0.0 <= pool.min_quality <= 1.0:
        raise ValueError(f"min_quality: a score between 0 and 1, got {pool.min_quality}")
    for i, prefix in enumerate(pool.licenses):
        if not _SCHEME.match(prefix.strip()) or len(strip_scheme(prefix)) < 3:
            raise ValueError(f"licenses[{i}]: expected a license URL prefix such as "
                             f"'https://creativecommons.org/licenses/by/', got {prefix!r}")
    if pool.min_length < 0:
        raise ValueError(f"min_length: must be >= 0 characters, got {pool.min_length}")


def _check_media_rules(pool: "PoolConfig") -> None:
    media_rules = {"min_width": pool.min_width, "min_height": pool.min_height, "min_aspect": pool.min_aspect,
                   "max_aspect": pool.max_aspect, "mimes": pool.mimes, "max_size": pool.max_size,
                   "min_caption_length": pool.min_caption_length, "webdataset": pool.webdataset}
    if pool.kind == "documents":
        used = [name for name, value in media_rules.items() if value]
        if used:
            raise ValueError(f"{used[0]}: a media rule; set kind to image-text, audio, video or interleaved")
        return
    for name in ("min_width", "min_height", "min_caption_length"):
        if media_rules[name] < 0:  # type: ignore[operator]
            raise ValueError(f"{name}: must be >= 0, got {media_rules[name]}")
    for name in ("min_aspect", "max_aspect"):
        value = media_rules[name]
        if value is not None and value <= 0:  # type: ignore[operator]
            raise ValueError(f"{name}: a width/height ratio > 0, got {value}")
    if pool.min_aspect is not None and pool.max_aspect is not None and pool.min_aspect > pool.max_aspect:
        raise ValueError(f"max_aspect: must be >= min_aspect ({pool.min_aspect}), got {pool.max_aspect}")
    for i, mime in enumerate(pool.mimes):
        if not re.match(r"^[a-z]+/[\w.+-]*$", mime.strip().lower()):
            raise ValueError(f"mimes[{i}]: expected a MIME type or prefix such as 'image/jpeg' or 'image/', got {mime!r}")
    if pool.webdataset and pool.kind not in ("image-text",):
        raise ValueError("webdataset: only image-text pools have WebDataset shards")
    document_rules = {"media_kinds": pool.media_kinds, "min_length": pool.min_length,
                      "min_quality": pool.min_quality is not None}
    used = [name for name, value in document_rules.items() if value]
    if used:
        raise ValueError(f"{used[0]}: a rule on a document's text; a {pool.kind} pool selects by the media "
                         "rules (min_width, min_caption_length, ...)")
