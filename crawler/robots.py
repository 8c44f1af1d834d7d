"""robots.txt decisions per RFC 9309, built on Protego.

Two layers:

* :class:`RobotsRules` answers "may this user agent fetch this URL?" for one
  robots.txt body (or for a blanket allow/deny verdict).
* :func:`rules_for_fetch` turns the outcome of fetching ``/robots.txt``
  (HTTP status, body, or a network error) into a :class:`RobotsVerdict`:
  the rules, a reason string, and until when the verdict may be used.

Protego does the parsing and the path matching. This module canonicalises the
text before Protego sees it and selects the group itself, to fix the places
where Protego departs from RFC 9309 (see ``_canonical_lines`` and
``RobotsRules._group_key``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from protego import Protego

# Protego's own line reader, reused so that what we keep and what Protego
# parses are read identically. Private API: protego is pinned (==0.7.0) and the
# conformance tests in tests/crawler/test_robots.py fail if it changes.
from protego._protego import _ALL_DIRECTIVES, _USER_AGENT_DIRECTIVE, _extract_directive

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "DEFAULT_UNREACHABLE_RETRY_S",
    "MAX_ROBOTS_BYTES",
    "REASONS",
    "RobotsRules",
    "RobotsVerdict",
    "decode_robots_body",
    "product_token",
    "rules_for_fetch",
]

# RFC 9309 §2.5: parse at least the first 500 KiB; we parse exactly that much.
MAX_ROBOTS_BYTES = 500 * 1024
# RFC 9309 §2.4: a cached robots.txt SHOULD NOT be used for more than 24 hours.
DEFAULT_MAX_AGE_S = 24 * 3600.0
# How long a host stays fully disallowed after its robots.txt was unreachable
# before we ask again (RFC 9309 §2.3.1.4 leaves the period to the crawler).
DEFAULT_UNREACHABLE_RETRY_S = 600.0

PARSED = "parsed"
PARSE_ERROR = "parse_error"
UNAVAILABLE_3XX = "unavailable_3xx"
UNAVAILABLE_4XX = "unavailable_4xx"
UNREACHABLE_429 = "unreachable_429"
UNREACHABLE_5XX = "unreachable_5xx"
UNREACHABLE_STATUS = "unreachable_status"
UNREACHABLE_ERROR = "unreachable_error"

# Every reason rules_for_fetch can give, and what it means for the host.
REASONS: dict[str, str] = {
    PARSED: "2xx: the body's rules apply",
    PARSE_ERROR: "2xx but the parser failed: disallow all until retry",
    UNAVAILABLE_3XX: "redirects not resolved (loop or too many): allow all",
    UNAVAILABLE_4XX: "400-499 except 429: allow all",
    UNREACHABLE_429: "429 Too Many Requests: disallow all until retry",
    UNREACHABLE_5XX: "500-599: disallow all until retry",
    UNREACHABLE_STATUS: "any other status (1xx, >= 600): disallow all until retry",
    UNREACHABLE_ERROR: "network error, no status: disallow all until retry",
}

_UTF8_BOM = b"\xef\xbb\xbf"
# Separators between the tokens of a User-Agent header, e.g.
# "Mozilla/5.0 (compatible; FooBot/1.1; +http://x)".
_UA_SEPARATORS = re.compile(r"[\s;,()]+")


def product_token(user_agent: str) -> str:
    """The RFC 9309 product token of a User-Agent string: the part before the
    first ``/`` of its first word, lowercased (``"FooBot/1.2 (+url)"`` -> ``"foobot"``)."""
    words = user_agent.strip().split()
    if not words:
        return ""
    return words[0].split("/", 1)[0].lower()


def _query_tokens(user_agent: str) -> set[str]:
    """Every product token in a query user agent, lowercased.

    A bare token gives itself; a full User-Agent header gives each of its
    products, so that "Mozilla/5.0 (compatible; Foobot/1.0)" still finds the
    "Foobot" group (Protego accepts that and its tests rely on it).
    """
    return {
        part.split("/", 1)[0].lower()
        for part in _UA_SEPARATORS.split(user_agent.strip())
        if part and not part.startswith("/")
    }


def decode_robots_body(body: bytes, max_bytes: int = MAX_ROBOTS_BYTES) -> str:
    """Decode a robots.txt body for parsing: the first ``max_bytes`` bytes as
    UTF-8 (undecodable bytes replaced, BOM stripped). Never raises."""
    truncated = len(body) > max_bytes
    if truncated:
        body = body[:max_bytes]
        # The cut usually falls inside a line; "Disallow: /private" cut to
        # "Disallow: /" would disallow the whole site, so drop the partial line.
        last_newline = max(body.rfind(b"\n"), body.rfind(b"\r"))
        if last_newline >= 0:
            body = body[: last_newline + 1]
    if body.startswith(_UTF8_BOM):
        body = body[len(_UTF8_BOM) :]
    return body.decode("utf-8", errors="replace")


def _canonical_lines(text: str) -> Iterable[tuple[str, str]]:
    """The (field, value) directives of a robots.txt that Protego should see.

    Two departures from feeding Protego the raw text, both per RFC 9309 and
    Google's reference parser:

    * a line with an unknown field is dropped when its value does not look
      like a path: Protego lets any unknown line end a run of user-agent
      lines, RFC 9309 §2.2 says other records must not interfere with groups
      (Google: "Invalid-Unknown-Line: unknown" between two user-agent lines
      leaves them one group). An unknown field with a path value
      ("Invalid_directive: /gb.html", "Noindex: /x") reads as a misspelt rule
      and ends the run as a rule would (Protego's tests rely on that), so it
      becomes an empty "disallow", which matches nothing;
    * a user-agent value is reduced to its product token ("FOO BAR" -> "foo",
      "FooBot/2.1" -> "foobot"); Protego matches the whole value.
    """
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        parsed = _extract_directive(line)
        if parsed is None:
            continue
        field, value = parsed
        if field not in _ALL_DIRECTIVES:
            if value.startswith(("/", "*")):
                yield "disallow", ""
            continue
        if field in _USER_AGENT_DIRECTIVE:
            value = product_token(value)
        yield field, value


def _governs(group: str, token: str) -> bool:
    """Whether a robots.txt group name applies to a query product token: the
    same name, or a prefix of it that stops where a run of letters stops
    ("hedwig" governs "hedwig-images" and "hedwig2", not "hedwigbot")."""
    if not token.startswith(group):
        return False
    return len(token) == len(group) or not token[len(group)].isalpha()


def _protego_group_keys(lines: Iterable[tuple[str, str]]) -> set[str]:
    """The user-agent keys Protego registers for these directives (mirrors
    Protego's generosity of also registering "foo*" as "foo")."""
    keys: set[str] = set()
    for field, value in lines:
        if field in _USER_AGENT_DIRECTIVE and value:
            keys.add(value)
            if value != "*" and "*" in value and value.replace("*", ""):
                keys.add(value.replace("*", ""))
    return keys


class RobotsRules:
    """The rules of one robots.txt, or a blanket allow/deny verdict."""

    __slots__ = ("_blanket", "_group_cache", "_group_keys", "_parser")

    def __init__(self, text: str = "", *, blanket: bool | None = None) -> None:
        """Parse ``text``; with ``blanket`` set, ignore it and answer that for every URL."""
        self._blanket = blanket
        lines = list(_canonical_lines(text)) if blanket is None else []
        # Lossless: values hold no "#" or line break, the only things Protego
        # would read differently in a re-joined line.
        self._parser = Protego.parse("\n".join(f"{field}: {value}" for field, value in lines))
        self._group_keys = _protego_group_keys(lines)
        self._group_cache: dict[str, str | None] = {}

    @classmethod
    def parse(cls, text: str) -> RobotsRules:
        """Rules from robots.txt text."""
        return cls(text)

    @classmethod
    def from_bytes(cls, body: bytes, max_bytes: int = MAX_ROBOTS_BYTES) -> RobotsRules:
        """Rules from a raw robots.txt body (see :func:`decode_robots_body`)."""
        return cls(decode_robots_body(body, max_bytes))

    @classmethod
    def allow_all(cls) -> RobotsRules:
        """Rules that allow every URL (robots.txt unavailable)."""
        return cls(blanket=True)

    @classmethod
    def disallow_all(cls) -> RobotsRules:
        """Rules that disallow every URL (robots.txt unreachable)."""
        return cls(blanket=False)

    @property
    def blanket(self) -> bool | None:
        """True/False for a blanket verdict, None for parsed rules."""
        return self._blanket

    def _group_key(self, user_agent: str) -> str | None:
        """The group that applies to ``user_agent``: the longest named group
        that governs one of the query's product tokens (see ``_governs``;
        case-insensitive), else "*", else None.

        Not quite RFC 9309's exact match: Google documents, and Protego's
        tests assert, that "hedwig" governs "hedwig-images" when no
        "hedwig-images" group exists. Not Protego's matching either, which
        accepts any prefix ("go" governs "googlebot" -- a real robots.txt
        has "User-agent: Go 1.1 package http") and a name inside a token
        ("bot" in "foo.bot"). We then ask Protego with the chosen group's own
        name, which it can map only to that group.
        """
        if user_agent not in self._group_cache:
            tokens = _query_tokens(user_agent)
            named = [key for key in self._group_keys if key != "*" and any(_governs(key, token) for token in tokens)]
            if named:
                key: str | None = max(named, key=len)
            else:
                key = "*" if "*" in self._group_keys else None
            self._group_cache[user_agent] = key
        return self._group_cache[user_agent]

    def allowed(self, url: str, user_agent: str) -> bool:
        """Whether ``user_agent`` (a product token or a full User-Agent string) may fetch ``url``."""
        if self._blanket is not None:
            return self._blanket
        key = self._group_key(user_agent)
        if key is None:
            return True
        return self._parser.can_fetch(url, key)

    def crawl_delay(self, user_agent: str) -> float | None:
        """Seconds between requests asked by the group for ``user_agent``, or None."""
        if self._blanket is not None:
            return None
        key = self._group_key(user_agent)
        if key is None:
            return None
        delay = self._parser.crawl_delay(key)
        if delay is None or not math.isfinite(delay):
            return None
        return delay

    @property
    def sitemaps(self) -> list[str]:
        """Sitemap URLs listed in the file, in order."""
        return list(self._parser.sitemaps)

    def __repr__(self) -> str:
        if self._blanket is not None:
            return f"RobotsRules(blanket={self._blanket})"
        return f"RobotsRules(groups={sorted(self._group_keys)!r})"


@dataclass(frozen=True, slots=True)
class RobotsVerdict:
    """What one robots.txt fetch means for a host, and for how long."""

    reason: str
    rules: RobotsRules
    status: int | None
    fetched_at: float
    expires_at: float

    def allowed(self, url: str, user_agent: str) -> bool:
        """Whether ``user_agent`` may fetch ``url`` under this verdict."""
        return self.rules.allowed(url, user_agent)

    def expired(self, now: float) -> bool:
        """Whether robots.txt must be fetched again before deciding at ``now``."""
        return now >= self.expires_at

    @property
    def unreachable(self) -> bool:
        """True when the host is fully disallowed because robots.txt could not be read."""
        return self.rules.blanket is False


def _reason_for_status(status: int | None) -> str:
    if status is None:
        return UNREACHABLE_ERROR
    if 200 <= status < 300:
        return PARSED
    if 300 <= status < 400:
        return UNAVAILABLE_3XX
    if status == 429:
        return UNREACHABLE_429
    if 400 <= status < 500:
        return UNAVAILABLE_4XX
    if 500 <= status < 600:
        return UNREACHABLE_5XX
    return UNREACHABLE_STATUS


def rules_for_fetch(
    status: int | None,
    body: bytes | None,
    now: float,
    *,
    unreachable_retry_s: float = DEFAULT_UNREACHABLE_RETRY_S,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    max_bytes: int = MAX_ROBOTS_BYTES,
) -> RobotsVerdict:
    """The verdict for a robots.txt fetch that ended with ``status`` (None for
    a network error) and ``body``, at time ``now`` (any monotonic clock).

    RFC 9309 §2.3.1: 2xx -> parse the body; 4xx ("unavailable") -> allow
    all; 5xx, 429 and errors ("unreachable") -> disallow all, for
    ``unreachable_retry_s`` seconds, then fetch again. Other verdicts are
    good for ``max_age_s`` (§2.4). Never raises on a bad body.
    """
    reason = _reason_for_status(status)
    rules: RobotsRules
    if reason == PARSED:
        try:
            rules = RobotsRules.from_bytes(body or b"", max_bytes)
        except Exception:  # noqa: BLE001 -- counted as reason "parse_error"
            # A parser bug must not turn into "allow all"; treat the file as
            # unreachable so the host is retried later.
            reason = PARSE_ERROR
            rules = RobotsRules.disallow_all()
    elif reason.startswith("unavailable"):
        rules = RobotsRules.allow_all()
    else:
        rules = RobotsRules.disallow_all()
    ttl = unreachable_retry_s if rules.blanket is False else max_age_s
    return RobotsVerdict(reason=reason, rules=rules, status=status, fetched_at=now, expires_at=now + ttl)
