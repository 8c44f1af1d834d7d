"""TDMRep and "noai" signals: parsing, path matching and precedence (no Scrapy here).

Implements the W3C TDM Reservation Protocol, Community Group Final Report
(https://www.w3.org/community/reports/tdmrep/CG-FINAL-tdmrep-20240510/):

* ``/.well-known/tdmrep.json`` (§ "TDM File on the Origin Server"): a JSON
  array of rules ``{"location", "tdm-reservation", "tdm-policy"?}``;
  :func:`tdmrep_for_fetch` turns a fetch outcome into a :class:`TdmFile`.
* the ``tdm-reservation`` / ``tdm-policy`` HTTP response header fields:
  :func:`declaration_from_headers`;
* ``<meta name="tdm-reservation|tdm-policy">`` in the HTML head:
  :func:`scan_html_head`.

:func:`tdm_verdict` combines them with the spec's processing priority into a
:class:`TdmVerdict`. The ``noai`` / ``noimageai`` directives (``X-Robots-Tag``
and ``<meta name="robots">``) are not part of TDMRep; they are recorded beside it.

Garbage never raises: a file that cannot be used is "no file" with a reason
(:data:`FILE_REASONS`), and each bad rule is reported in ``TdmFile.problems``
so the caller can count it.
"""

from __future__ import annotations

import html
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FILE_REASONS",
    "HEAD_SCAN_BYTES",
    "MAX_LOCATION_CHARS",
    "MAX_RULES",
    "MAX_TDMREP_BYTES",
    "TDMREP_PATH",
    "HtmlSignals",
    "Source",
    "TdmDeclaration",
    "TdmFile",
    "TdmRule",
    "TdmVerdict",
    "UnreadableBody",
    "declaration_from_headers",
    "decode_head",
    "looks_like_html",
    "normalise_path",
    "parse_tdmrep_json",
    "robots_directives",
    "scan_html_head",
    "tdm_verdict",
    "tdmrep_for_fetch",
]

TDMREP_PATH = "/.well-known/tdmrep.json"
# Hostile-input bounds. A real tdmrep.json is a few hundred bytes; 1 MiB is
# generous and keeps a hostile file from costing memory or matching time.
MAX_TDMREP_BYTES = 1024 * 1024
MAX_RULES = 10_000
MAX_LOCATION_CHARS = 2048
# Metadata lives in <head>; real heads are well under this, and it bounds the work.
HEAD_SCAN_BYTES = 64 * 1024

Source = Literal["tdmrep.json", "header", "meta"]

PARSED = "parsed"
FILE_REASONS: dict[str, str] = {
    PARSED: "2xx and a JSON array: its rules apply",
    "not_found": "404/410: the origin does not implement the file",
    "unavailable_4xx": "another 4xx: no file",
    "unavailable_5xx": "5xx (after retries): no file",
    "unavailable_status": "any other final status (1xx, 3xx not followed, >= 600): no file",
    "unreachable": "network error, no status: no file",
    "too_large": f"body over {MAX_TDMREP_BYTES} bytes: no file",
    "invalid_json": "not UTF-8 JSON (or nested too deep): no file",
    "not_a_list": "valid JSON but not an array: no file",
}


# ---- declarations ------------------------------------------------------------------------
@dataclass(frozen=True)
class TdmDeclaration:
    """What one technique says about one resource. ``reservation`` None means
    "unset" (the spec's word for absent or invalid values)."""

    reservation: bool | None
    policy: str | None = None

    @property
    def declared(self) -> bool:
        return self.reservation is not None


def _reservation_value(value: Any) -> bool | None:
    """0/1 as JSON integers, or the strings "0"/"1" (headers, meta, lenient files).
    Everything else is a protocol error: "Other values are considered protocol
    errors. In such a case the TDM Agents MUST consider that `tdm-reservation` is
    unset." (§ tdm-reservation)."""
    if isinstance(value, bool):  # bool is an int in Python; true/false are not 0/1
        return None
    if isinstance(value, int):
        return {0: False, 1: True}.get(value)
    if isinstance(value, (str, bytes)):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        return {"0": False, "1": True}.get(text.strip())
    return None


def _combine_values(values: Iterable[bool | None]) -> bool | None:
    """Several values from one technique (repeated header fields, repeated metas):
    any valid 1 wins over a valid 0 -- a contradictory declaration is read as the
    reservation it contains, because mining content whose owner also said "reserved"
    is the error that cannot be undone."""
    valid = [v for v in values if v is not None]
    if not valid:
        return None
    return any(valid)


def _policy_value(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


# ---- tdmrep.json ---------------------------------------------------------------------------
_HEX = "0123456789abcdefABCDEF"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def normalise_path(text: str, *, pattern: bool = False) -> str:
    """One spelling for a path (or a location pattern) so that they compare octet by octet.

    "If a percent-encoded US-ASCII character is encountered in the URI, it MUST
    be unencoded prior to comparison, unless it is a reserved character [...]"
    (§ TDM File): escapes of unreserved characters are decoded, other escapes
    upper-cased, non-ASCII and control characters UTF-8 percent-encoded. In a path,
    literal ``*`` and ``$`` become ``%2A`` / ``%24`` because a pattern writes them so
    ("If TDM Agents match special characters verbatim in the URI, they MUST use %
    encoding"); in a pattern they stay special (``*`` always, ``$`` only at the end,
    see :meth:`TdmRule.from_location`)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
            decoded = chr(int(text[i + 1:i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1:i + 3].upper())
            i += 3
            continue
        if ch in "*$" and not pattern:
            out.append("%2A" if ch == "*" else "%24")
        elif ord(ch) <= 0x20 or ord(ch) >= 0x7F:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _glob_match(pattern: str, text: str) -> bool:
    """Whole-string match where ``*`` is any run of characters (nothing else is special).
    Iterative with one backtrack point: linear on real patterns, O(len*len) at worst,
    never exponential like a backtracking regex built from a hostile pattern."""
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif p < len(pattern) and pattern[p] == text[t]:
            p += 1
            t += 1
        elif star >= 0:
            p, mark = star + 1, mark + 1
            t = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


@dataclass(frozen=True)
class TdmRule:
    """One rule of a tdmrep.json; ``pattern`` is normalised, ``*`` collapsed."""

    location: str
    pattern: str
    anchored: bool  # the location ended with "$"
    declaration: TdmDeclaration

    @classmethod
    def from_location(cls, location: str, declaration: TdmDeclaration) -> TdmRule:
        anchored = location.endswith("$")
        body = location[:-1] if anchored else location
        # A "$" before the end is no anchor (robots.txt practice): it is that octet.
        body = normalise_path(body, pattern=True).replace("$", "%24")
        pattern = re.sub(r"\*+", "*", body)
        return cls(location, pattern, anchored, declaration)

    def matches(self, path: str) -> bool:
        """Whether this rule applies to ``path`` (already :func:`normalise_path`-ed).
        Unanchored patterns are prefixes: "The match evaluates positively if and
        only if the end of the path from the rule is reached before a difference in
        octets is encountered." (§ TDM File)."""
        return _glob_match(self.pattern if self.anchored else self.pattern + "*", path)


@dataclass(frozen=True)
class TdmFile:
    """The outcome of fetching one origin's tdmrep.json. Only ``reason == "parsed"``
    means the origin has a file; every other reason means "no file"."""

    reason: str
    rules: tuple[TdmRule, ...] = ()
    problems: tuple[str, ...] = ()  # one entry per rule (or value) that was ignored
    status: int | None = None

    @property
    def present(self) -> bool:
        return self.reason == PARSED

    def declaration_for(self, path: str) -> TdmDeclaration | None:
        """The declaration of the first rule matching ``path`` (path + "?query" as
        requested). "The most specific match found MUST be used. The most specific
        match is the first in sequence." / "If no match is found, a TDM Agent MUST
        consider that `tdm-reservation` is unset" -> None."""
        if not self.rules:
            return None
        target = normalise_path(path or "/")
        for rule in self.rules:
            if rule.matches(target):
                return rule.declaration
        return None


def _location_of(value: Any) -> tuple[str | None, str | None]:
    """(location, problem): the usable location of a rule, or None and why not."""
    if not isinstance(value, str):
        return None, "location_not_string"
    value = value.strip()
    if not value:
        return None, "location_empty"
    if len(value) > MAX_LOCATION_CHARS:
        return None, "location_too_long"
    if value.lower().startswith(("http://", "https://")):
        # A full URL where a path belongs: its path is what the publisher meant.
        rest = value.split("//", 1)[1]
        slash = rest.find("/")
        return (rest[slash:] if slash >= 0 else "/"), "location_absolute_url"
    if not value.startswith(("/", "*")):
        return "/" + value, "location_relative"
    return value, None


def parse_tdmrep_json(body: bytes) -> TdmFile:
    """Parse a tdmrep.json body; never raises. Rules without a usable ``location``
    are dropped; a rule whose ``tdm-reservation`` is not 0/1 is kept with an unset
    reservation (it still wins the first-match race, as the spec's "unset" says)."""
    if len(body) > MAX_TDMREP_BYTES:
        return TdmFile("too_large")
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return TdmFile("invalid_json")
    if not isinstance(data, list):
        return TdmFile("not_a_list")
    rules: list[TdmRule] = []
    problems: list[str] = []
    for item in data:
        if len(rules) >= MAX_RULES:
            problems.append("too_many_rules")
            break
        if not isinstance(item, dict):
            problems.append("rule_not_object")
            continue
        location, problem = _location_of(item.get("location"))
        if problem:
            problems.append(problem)
        if location is None:
            continue
        raw = item.get("tdm-reservation")
        reservation = _reservation_value(raw)
        if reservation is None:
            problems.append("reservation_missing" if raw is None else "reservation_invalid")
        policy = None
        if "tdm-policy" in item:
            policy = _policy_value(item["tdm-policy"])
            if policy is None:
                problems.append("policy_invalid")
        rules.append(TdmRule.from_location(location, TdmDeclaration(reservation, policy)))
    return TdmFile(PARSED, tuple(rules), tuple(problems), 200)


def tdmrep_for_fetch(status: int | None, body: bytes | None) -> TdmFile:
    """The :class:`TdmFile` for a fetch outcome: a final HTTP status and body
    (redirects already followed), or ``status=None`` for a network error.
    "Failure to provide access to such a representation implies that the origin
    server does not implement this protocol." (§ TDM File)."""
    if status is None:
        return TdmFile("unreachable")
    if 200 <= status < 300:
        parsed = parse_tdmrep_json(body or b"")
        return TdmFile(parsed.reason, parsed.rules, parsed.problems, status)
    if status in (404, 410):
        reason = "not_found"
    elif 400 <= status < 500:
        reason = "unavailable_4xx"
    elif 500 <= status < 600:
        reason = "unavailable_5xx"
    else:
        reason = "unavailable_status"
    return TdmFile(reason, status=status)


# ---- HTTP headers ---------------------------------------------------------------------------
def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def declaration_from_headers(headers: Iterable[tuple[str | bytes, str | bytes]]) -> TdmDeclaration | None:
    """The ``tdm-reservation`` / ``tdm-policy`` header fields of a response
    (``(name, value)`` pairs, names in any case, a field repeated or comma-joined).
    None when no valid ``tdm-reservation`` is present: a lone ``tdm-policy`` declares
    nothing."""
    reservations: list[bool | None] = []
    policies: list[str] = []
    for name, value in headers:
        key = _text(name).strip().lower()
        if key == "tdm-reservation":
            reservations += [_reservation_value(part) for part in _text(value).split(",")]
        elif key == "tdm-policy":
            policy = _policy_value(_text(value))
            if policy:
                policies.append(policy)
    reservation = _combine_values(reservations)
    if reservation is None:
        return None
    return TdmDeclaration(reservation, policies[0] if policies else None)


# Directives of X-Robots-Tag that take a value after a colon: not user-agent prefixes.
_VALUED_DIRECTIVES = frozenset({"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"})
_UA_PREFIX = re.compile(r"^\s*([A-Za-z0-9_.*-]+)\s*:(.*)$", re.S)


def robots_directives(values: Iterable[str | bytes], user_agent_token: str | None = None) -> frozenset[str]:
    """The lower-cased directives of ``X-Robots-Tag`` values (or robots meta contents)
    that apply to us: unprefixed ones, and those prefixed ``<token>:`` for our
    product token (a prefix names the crawler the whole value is for)."""
    token = (user_agent_token or "").lower()
    out: set[str] = set()
    for raw in values:
        value = _text(raw)
        prefixed = _UA_PREFIX.match(value)
        if prefixed and prefixed.group(1).lower() not in _VALUED_DIRECTIVES:
            if prefixed.group(1).lower() not in ("*", token):
                continue  # addressed to another crawler
            value = prefixed.group(2)
        out.update(d.strip().lower() for d in value.split(",") if d.strip())
    return frozenset(out)


# ---- HTML head ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class HtmlSignals:
    """What the head of an HTML document declares."""

    declaration: TdmDeclaration | None = None
    robots: frozenset[str] = field(default_factory=frozenset)  # directives of robots metas


def looks_like_html(content_type: str | bytes | None, body_start: bytes) -> bool:
    """HTML by Content-Type, or by sniffing when the server sent none."""
    if content_type:
        ctype = _text(content_type).lower()
        return "html" in ctype  # text/html, application/xhtml+xml
    start = body_start[:512].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<meta"))


class UnreadableBody(Exception):
    """The body's Content-Encoding could not be undone (reason in ``args[0]``)."""


def decode_head(body: bytes, content_encoding: str | bytes | None, limit: int = HEAD_SCAN_BYTES) -> bytes:
    """At most ``limit`` decoded bytes of a body still carrying its Content-Encoding
    (the middleware sees responses before Scrapy decompresses them). Bounded output,
    so a compression bomb costs nothing. Raises :class:`UnreadableBody`."""
    encodings = [e.strip().lower() for e in _text(content_encoding or "").split(",") if e.strip()]
    data = body
    for encoding in reversed(encodings):  # the last one listed was applied last
        # Stacked encodings (rare) may yield less than ``limit``: each stage stops there.
        data = _decode_prefix(data, encoding, limit)
    return data[:limit]


def _decode_prefix(data: bytes, encoding: str, limit: int) -> bytes:
    if encoding in ("identity", ""):
        return data
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, limit)
        if encoding == "deflate":
            try:
                return zlib.decompressobj(zlib.MAX_WBITS).decompress(data, limit)
            except zlib.error:  # servers also send raw deflate under this name
                return zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, limit)
        if encoding == "br":
            import brotli  # optional, as for Scrapy

            return brotli.Decompressor().process(data, output_buffer_limit=limit)[:limit]
        if encoding == "zstd":
            from backports import zstd  # optional, as for Scrapy

            return zstd.ZstdDecompressor().decompress(data, limit)
    except ImportError as exc:
        raise UnreadableBody(f"unsupported_{encoding}") from exc
    except Exception as exc:  # noqa: BLE001 -- zlib.error, brotli.error, ZstdError: a corrupt body
        raise UnreadableBody(f"corrupt_{encoding}") from exc
    raise UnreadableBody("unknown_encoding")


_COMMENT = re.compile(rb"<!--.*?(?:-->|\Z)", re.S)
_RAW_TEXT = re.compile(rb"<(script|style|template|noscript)\b[^>]*>.*?(?:</\1\s*>|\Z)", re.S | re.I)
_HEAD_END = re.compile(rb"</head\s*>|<body[\s>/]", re.I)
_META = re.compile(rb"<meta\b([^>]*)>", re.I)
_ATTR = re.compile(rb"""([^\s"'=<>/]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")


def _attributes(raw: bytes) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for name, value in _ATTR.findall(raw):
        key = name.decode("latin-1").lower()
        if key in attrs:  # HTML: the first occurrence of an attribute wins
            continue
        if value[:1] in (b'"', b"'"):
            value = value[1:-1]
        attrs[key] = html.unescape(value.decode("utf-8", "replace")).strip()
    return attrs


def scan_html_head(head: bytes, robots_names: Iterable[str] = ("robots",)) -> HtmlSignals:
    """TDM and robots metas of a document, from its decoded first bytes
    (see :func:`decode_head`). Only the head counts -- the spec puts the metas in
    ``<head>`` -- so scanning stops at ``</head>`` or ``<body``; comments and
    script/style contents are not markup. Several ``tdm-reservation`` metas: any
    valid 1 wins (:func:`_combine_values`); several ``tdm-policy`` metas: the first."""
    text = _COMMENT.sub(b" ", head)
    text = _RAW_TEXT.sub(b" ", text)
    end = _HEAD_END.search(text)
    if end:
        text = text[: end.start()]
    names = {n.lower() for n in robots_names}
    reservations: list[bool | None] = []
    policies: list[str] = []
    robots: list[str] = []
    for match in _META.finditer(text):
        attrs = _attributes(match.group(1))
        name = attrs.get("name", "").lower()
        content = attrs.get("content")
        if content is None:
            continue
        if name == "tdm-reservation":
            reservations.append(_reservation_value(content))
        elif name == "tdm-policy":
            policy = _policy_value(content)
            if policy:
                policies.append(policy)
        elif name in names:
            robots.append(content)
    reservation = _combine_values(reservations)
    declaration = TdmDeclaration(reservation, policies[0] if policies else None) if reservation is not None else None
    return HtmlSignals(declaration, robots_directives(robots))


# ---- verdict -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TdmVerdict:
    """The TDM rights of one response and the AI directives beside them."""

    reservation: bool | None
    policy: str | None
    source: Source | None  # the technique whose declaration won; None: nothing declared
    noai: bool = False
    noimageai: bool = False

    @property
    def reserved(self) -> bool:
        return self.reservation is True

    def to_meta(self) -> dict[str, Any]:
        """JSON-serialisable form (``request.meta["tdm"]``, the WARC metadata record)."""
        return {
            "reservation": self.reservation,
            "policy": self.policy,
            "source": self.source,
            "noai": self.noai,
            "noimageai": self.noimageai,
        }


def tdm_verdict(
    file: TdmDeclaration | None = None,
    header: TdmDeclaration | None = None,
    meta: TdmDeclaration | None = None,
    directives: Iterable[str] = (),
) -> TdmVerdict:
    """Combine the three techniques by the TDMRep processing priority (§ "Processing
    priority", CG Final Report 2024-05-10):

      "A TDM Agent MUST check the presence of a TDM file on the origin server before
      it starts scraping [...]. A TDM Agent MUST check the presence of a TDM Header
      Field in every http header [...]. The values of `tdm-reservation` and
      `tdm-policy` found in this header supercede any value inferred from a TDM file
      on the origin server. A TDM Agent MUST check the presence of TDM Metadata found
      in HTML content [...]. The values [...] found here supercede previous values."

    So meta > header > tdmrep.json: the highest-ranked technique that declares a
    valid ``tdm-reservation`` decides, and an unset one (absent or invalid) defers
    to the next. Policy and reservation travel together: the winning technique's
    policy is reported, and only with a reservation ("TDM Agents SHOULD NOT process
    `tdm-policy`" when it is 0)."""
    found = set(directives)
    noai, noimageai = "noai" in found, "noimageai" in found
    ranked: tuple[tuple[Source, TdmDeclaration | None], ...] = (("meta", meta), ("header", header), ("tdmrep.json", file))
    for source, declaration in ranked:
        if declaration is not None and declaration.declared:
            policy = declaration.policy if declaration.reservation else None
            return TdmVerdict(declaration.reservation, policy, source, noai, noimageai)
    return TdmVerdict(None, None, None, noai, noimageai)
