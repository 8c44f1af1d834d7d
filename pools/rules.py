"""Pool rules: a pool definition compiled into an exact predicate over one document.

A document is a row of the canonical schema, as a mapping (``table.to_pylist()``)
or a :class:`~owd.core.schema.Document`. The semantics, which the tests re-implement
independently and compare over every document of a processed campaign:

* A document with a ``drop_reason`` (filtered, duplicate) is never in a pool, and
  neither is one without an identified language (pools are partitioned by ``lang``).
* Every rule below is an AND; inside a rule the entries are an OR; an empty list
  (or ``min_quality: null``, ``min_length: 0``) accepts everything.
* ``languages``: ``lang`` is one of the codes (lower-case ISO 639-1, or the
  lid.176 label where a language has no two-letter code).
* ``tlds``: the host is the TLD or ends in ``.<tld>``; ``co.uk`` or ``gv.at`` work too.
* ``domains``: a plain entry matches the host, any subdomain of it, or the
  registered domain. An entry with ``*``, ``?`` or ``[...]`` is a glob that must
  match the whole host or the whole registered domain (``*`` crosses dots:
  ``*.gv.at`` matches ``www.bmi.gv.at`` but not ``gv.at`` itself). Case-insensitive.
* ``url_patterns``: Python regular expressions, searched (not anchored) in the URL,
  case-sensitive unless the pattern says ``(?i)``.
* ``keywords``: case-insensitive (Unicode case folding) whole-word matching over
  title + text. A keyword of several words matches those words in sequence separated
  by any non-word characters (``covid-19`` matches "COVID 19"); a trailing ``*``
  makes the last word a prefix (``Gesundheit*`` matches "Gesundheitsamt"). Words are
  runs of Unicode word characters (Python's ``\\w``), so "Gesundheit" does not match
  inside "Gesundheitsamt" without the ``*``.
* ``min_quality``: :func:`quality_score` >= the value; no score fails.
* ``licenses``: ``license_url`` starts with one of the prefixes, ignoring the
  http/https scheme and letter case; a document without a license fails.
* ``media_kinds``: the document has at least one media item of one of the kinds.
* ``min_length``: ``len(text)`` in characters (code points) >= the value.
* ``tdm``: a document is *reserved* when its rights holder reserved text-and-data
  mining (``tdm_reservation`` true, from TDMRep) or its page says ``noai``
  (``robots_noai``). ``exclude`` (the default) leaves reserved documents out;
  ``include`` keeps them, and the data cards say so. A document from another
  collection whose source recorded a robots.txt disallow (HPLT's ``robotstxt``) counts
  as reserved too.
* ``unknown_rights``: a document ingested from another collection (``source`` set)
  carries no robots.txt or TDMRep verdict of owd's. ``exclude`` (the default) leaves
  it out; ``include`` accepts what the source recorded (reservations it recorded still
  count under ``tdm``). Checked before ``tdm``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from owd.core.pool_checks import GLOB_CHARS, strip_scheme, validate_pool

if TYPE_CHECKING:  # owd.core.config imports this module to validate pools; no cycle at run time
    from owd.core.config import PoolConfig
    from owd.core.schema import Document

__all__ = ["Candidate", "PoolRule", "compile_pool", "validate_pool", "quality_score", "is_reserved",
           "pool_membership", "REJECT_REASONS"]

# The order :meth:`PoolRule.reject_reason` checks in: cheap first, keywords (a regex
# over the whole text) late, and ``tdm`` last so that the cards can count the reserved
# documents that matched everything else.
REJECT_REASONS = ("dropped", "no_language", "languages", "min_length", "tlds", "domains", "url_patterns",
                  "licenses", "media_kinds", "min_quality", "keywords", "unknown_rights", "tdm")

# Signals multiplied into the heuristic quality score, each a fraction in [0, 1]
# where 1 is good (from extract.quality.compute_signals).
_SCORE_SIGNALS = ("alpha_words_frac", "fw_line_punct_ratio")
_SCORE_INVERTED = ("dup_line_char_frac",)


def quality_score(quality: Mapping[str, float] | list[tuple[str, float]] | None) -> float | None:
    """One quality number in [0, 1] for ``min_quality``.

    ``quality["score"]`` when a classifier wrote one. Otherwise a heuristic from the
    signals `owd process` always computes: share of words with a letter x share of
    lines ending in punctuation x (1 - share of characters in duplicated lines).
    None when the signals are missing (such a document fails any ``min_quality``).
    """
    q = dict(quality or {})
    if "score" in q:
        return float(q["score"])
    if not all(k in q for k in (*_SCORE_SIGNALS, *_SCORE_INVERTED)):
        return None
    score = 1.0
    for k in _SCORE_SIGNALS:
        score *= min(1.0, max(0.0, q[k]))
    for k in _SCORE_INVERTED:
        score *= 1.0 - min(1.0, max(0.0, q[k]))
    return score


def is_reserved(tdm_reservation: bool | None, robots_noai: bool | None) -> bool:
    """The rights holder opted out of text-and-data mining (TDMRep) or of AI use (``noai``)."""
    return tdm_reservation is True or robots_noai is True


def _source_disallowed(labels: Mapping[str, str] | list[tuple[str, str]] | None) -> bool:
    """The source collection recorded that robots.txt disallowed the page (HPLT ``robotstxt``)."""
    value = dict(labels or {}).get("robotstxt")
    return value is not None and value.strip().lower() == "disallowed"


class Candidate:
    """The fields the rules read, normalised once per document and shared by every pool."""

    __slots__ = ("dropped", "lang", "host", "domain", "url", "length", "license", "media_kinds", "score",
                 "reserved", "external", "_title", "_text", "_folded")

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.dropped = record.get("drop_reason") is not None
        self.lang: str | None = record.get("lang")
        self.host = (record.get("host") or "").lower().rstrip(".")
        self.domain = (record.get("domain") or "").lower().rstrip(".") or None
        self.url: str = record.get("url") or ""
        self._title: str = record.get("title") or ""
        self._text: str = record.get("text") or ""
        self.length = len(self._text)
        lic = record.get("license_url")
        self.license = strip_scheme(lic) if lic else None
        self.media_kinds = frozenset(m["kind"] for m in record.get("media") or ())
        self.score = quality_score(record.get("quality"))
        self.reserved = is_reserved(record.get("tdm_reservation"), record.get("robots_noai"))
        self.external = record.get("source") is not None
        if self.external and _source_disallowed(record.get("source_labels")):
            self.reserved = True
        self._folded: str | None = None

    @classmethod
    def of_document(cls, doc: "Document") -> "Candidate":
        return cls({
            "drop_reason": doc.drop_reason, "lang": doc.lang, "host": doc.host, "domain": doc.domain,
            "url": doc.url, "title": doc.title, "text": doc.text, "license_url": doc.license_url,
            "media": [{"kind": m.kind} for m in doc.media], "quality": doc.quality,
            "tdm_reservation": doc.tdm_reservation, "robots_noai": doc.robots_noai,
            "source": doc.source, "source_labels": doc.source_labels,
        })

    @property
    def folded(self) -> str:
        """Title and text, case-folded; computed on first use (only keyword rules need it)."""
        if self._folded is None:
            self._folded = (self._title + "\n" + self._text).casefold()
        return self._folded


def _keyword_regex(keywords: list[str]) -> re.Pattern[str]:
    parts = []
    for kw in keywords:
        folded = kw.strip().casefold()
        words = re.findall(r"\w+", folded)
        tail = r"\w*" if folded.endswith("*") else r"(?!\w)"
        parts.append(r"(?<!\w)" + r"\W+".join(re.escape(w) for w in words) + tail)
    return re.compile("|".join(parts))


def _domain_test(entry: str) -> Callable[[str, str | None], bool]:
    entry = entry.strip().lower().rstrip(".")
    if GLOB_CHARS & set(entry):
        return lambda host, domain: fnmatchcase(host, entry) or (domain is not None and fnmatchcase(domain, entry))
    suffix = "." + entry
    return lambda host, domain: host == entry or host.endswith(suffix) or domain == entry


@dataclass(frozen=True)
class PoolRule:
    """A compiled pool: :meth:`reject_reason` is None exactly when a document belongs to it."""

    name: str
    languages: frozenset[str]
    tld_suffixes: tuple[str, ...]
    domain_tests: tuple[Callable[[str, str | None], bool], ...]
    url_patterns: tuple[re.Pattern[str], ...]
    keywords: re.Pattern[str] | None
    min_quality: float | None
    licenses: tuple[str, ...]
    media_kinds: frozenset[str]
    min_length: int
    include_reserved: bool
    include_unknown_rights: bool = False

    def reject_reason(self, c: Candidate) -> str | None:
        """The first rule (in :data:`REJECT_REASONS` order) the document fails, or None."""
        if c.dropped:
            return "dropped"
        if not c.lang:
            return "no_language"
        if self.languages and c.lang not in self.languages:
            return "languages"
        if c.length < self.min_length:
            return "min_length"
        if self.tld_suffixes and not any(c.host == t or c.host.endswith("." + t) for t in self.tld_suffixes):
            return "tlds"
        if self.domain_tests and not any(test(c.host, c.domain) for test in self.domain_tests):
            return "domains"
        if self.url_patterns and not any(p.search(c.url) for p in self.url_patterns):
            return "url_patterns"
        if self.licenses and (c.license is None or not c.license.startswith(self.licenses)):
            return "licenses"
        if self.media_kinds and not (self.media_kinds & c.media_kinds):
            return "media_kinds"
        if self.min_quality is not None and (c.score is None or c.score < self.min_quality):
            return "min_quality"
        if self.keywords is not None and not self.keywords.search(c.folded):
            return "keywords"
        if c.external and not self.include_unknown_rights:
            return "unknown_rights"
        if c.reserved and not self.include_reserved:
            return "tdm"
        return None

    def matches(self, record: "Mapping[str, Any] | Document | Candidate") -> bool:
        """Convenience for one document; the build shares one :class:`Candidate` across pools."""
        if isinstance(record, Candidate):
            c = record
        elif isinstance(record, Mapping):
            c = Candidate(record)
        else:
            c = Candidate.of_document(record)
        return self.reject_reason(c) is None


def compile_pool(pool: "PoolConfig") -> PoolRule:
    """Validate a pool definition and compile it into a :class:`PoolRule`."""
    validate_pool(pool)
    return PoolRule(
        name=pool.name,
        languages=frozenset(pool.languages),
        tld_suffixes=tuple(t.strip().lower().lstrip(".") for t in pool.tlds),
        domain_tests=tuple(_domain_test(d) for d in pool.domains),
        url_patterns=tuple(re.compile(p) for p in pool.url_patterns),
        keywords=_keyword_regex(pool.keywords) if pool.keywords else None,
        min_quality=pool.min_quality,
        licenses=tuple(strip_scheme(p) for p in pool.licenses),
        media_kinds=frozenset(pool.media_kinds),
        min_length=pool.min_length,
        include_reserved=pool.tdm == "include",
        include_unknown_rights=pool.unknown_rights == "include",
    )


def pool_membership(pools: "Sequence[PoolConfig]") -> "tuple[Callable[[Document], Document], str]":
    """A function that fills a document's ``pools`` with the campaign pools it belongs to
    (the same rules as ``owd pools build``), and a fingerprint of the pool definitions.

    The search index uses it, so ``pool:`` filters and facets agree with the pools
    without a second pass over the documents; the fingerprint tells the incremental
    indexer to re-index when a pool rule changes.
    """
    import dataclasses

    from owd.core.done import fingerprint as fingerprint_of

    pools = [p for p in pools if p.kind == "documents"]  # media pools hold media items, not documents
    rules = [compile_pool(p) for p in pools]
    fingerprint = fingerprint_of("pool rules", list(pools))

    def annotate(doc: "Document") -> "Document":
        c = Candidate.of_document(doc)
        names = [r.name for r in rules if r.reject_reason(c) is None]
        return dataclasses.replace(doc, pools=names) if names != list(doc.pools) else doc

    return annotate, fingerprint
