"""URL canonicalisation, registered domains and crawler-trap shapes.

One canonical form per URL is what makes "no URL is fetched twice" checkable:
the seen-set, the WARC index and the tests all compare canonical URLs.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import tldextract
from w3lib.url import canonicalize_url

__all__ = ["canonical_url", "registered_domain", "host_of", "is_ip_literal", "trap_reason", "SESSION_PARAMS"]

# Query parameters that identify a visitor, not a resource: dropped during
# canonicalisation, which is what defeats session-id crawler traps.
SESSION_PARAMS = frozenset({
    "sessionid", "session_id", "sid", "jsessionid", "phpsessid", "aspsessionid", "cfid", "cftoken", "sessid",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "fbclid", "gclid",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# No network at run time: the public suffix list bundled with tldextract.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def canonical_url(url: str) -> str:
    """Canonical form: lowercase scheme/host, no default port, no fragment, sorted query
    without session parameters, normalised percent-encoding and dot segments."""
    parts = urlsplit(url.strip())
    query = parts.query
    if query:
        pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() not in SESSION_PARAMS]
        query = urlencode(pairs)
    netloc = (parts.hostname or "").rstrip(".")
    if parts.port and parts.port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        netloc += f":{parts.port}"
    if ":" in netloc.split(":")[0] or (parts.hostname and ":" in parts.hostname):
        netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    rebuilt = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", query, ""))
    return canonicalize_url(rebuilt, keep_fragments=False)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").rstrip(".").lower()


@lru_cache(maxsize=65536)
def registered_domain(host: str) -> str:
    """The registered domain (eTLD+1) of a host; the host itself for IP literals and
    names without a public suffix."""
    host = host.lower().rstrip(".")
    if is_ip_literal(host):
        return host
    ext = _EXTRACT(host)
    # No suffix (e.g. *.invalid, intranet names): the host itself; tldextract's
    # registered_domain fallback is deprecated.
    return getattr(ext, "top_domain_under_public_suffix", None) or host


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


_DATE_PATH = re.compile(r"/(19|20|21)\d{2}[/-](0?[1-9]|1[0-2])(\b|[/-])")
_CALENDAR_WORDS = re.compile(r"(calendar|kalender|calendrier|kalendarz|agenda|events?)[/?]", re.I)


def trap_reason(url: str, max_repeated_segment: int = 3, max_path_segments: int = 24) -> str | None:
    """Why a URL looks like an endless link space, or None.

    Calendars are recognised by a date in the path under a calendar-like word;
    repetition catches ``/a/a/a/...`` relative-link loops. The per-host cap on
    such pages (in the scope) bounds what these heuristics miss.
    """
    path = urlsplit(url).path
    segments = [s for s in path.split("/") if s]
    if len(segments) > max_path_segments:
        return "deep_path"
    counts: dict[str, int] = {}
    for seg in segments:
        counts[seg] = counts.get(seg, 0) + 1
        if counts[seg] > max_repeated_segment:
            return "repeated_segment"
    if _DATE_PATH.search(path) and _CALENDAR_WORDS.search(path + "/"):
        return "calendar"
    return None
