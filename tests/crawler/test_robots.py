"""owd.crawler.robots: RFC 9309 fetch outcomes, robustness, and conformance with
the Google, Protego and CPython robots.txt test suites in ../shared/data."""

from __future__ import annotations

import json
import random
import tarfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from owd.crawler.robots import (
    MAX_ROBOTS_BYTES,
    REASONS,
    RobotsRules,
    decode_robots_body,
    product_token,
    rules_for_fetch,
)
from owd.shared_data import shared_data_dir

# Cases whose input (robots_txt, user_agent, url) is identical to a Protego
# case that expects the opposite answer, so no function can agree with both.
# Google's matcher requires callers to percent-encode the URL first
# (robots.h) and does not decode %62%61%7A; RFC 9309 §2.2.2 has the matcher
# encode non-ASCII octets and decode unreserved ones before comparing, and
# its own example table matches /foo/bar/%62%61%7A against /foo/bar/baz. We
# follow RFC 9309, i.e. the Protego side.
GOOGLE_CONTRADICTED_BY_PROTEGO = {
    "google-0063": "rule /foo/bar/ツ vs raw URL /foo/bar/ツ",
    "google-0065": "rule /foo/bar/%E3%83%84 vs raw URL /foo/bar/ツ",
    "google-0066": "rule /foo/bar/%62%61%7A vs URL /foo/bar/baz",
}

# Google-only behaviour (google_specific: true) we do not implement.
GOOGLE_SPECIFIC_DIFFERENCES = {
    "google-0040": "query 'Foo Bar' is not a valid product token for Google, so it matches only '*'; "
    "we read its first token 'foo' and apply the 'Foo Bar' group",
    "google-0083": "Google truncates lines longer than 16,664 bytes; we keep whole lines (up to 500 KiB)",
    "google-0086": "same line-length truncation as google-0083",
}

# CPython's urllib.robotparser is pre-RFC 9309; where it differs we are right.
CPYTHON_DIFFERENCES = {
    "cpython-0046": "two 'User-agent: *' groups: CPython uses only the first, RFC 9309 §2.2.1 merges them",
    "cpython-0048": "CPython applies the first group whose name is a substring of the UA ('Googlebot' "
    "for 'Googlebot-Mobile'); RFC 9309 applies the group named for the crawler",
}


def _robots_data() -> Path:
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data absent")
    return data / "robots"


def _cases(name: str) -> list[dict[str, Any]]:
    with (_robots_data() / name).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _disagreements(cases: list[dict[str, Any]]) -> list[str]:
    return [
        case["id"]
        for case in cases
        if RobotsRules.parse(case["robots_txt"]).allowed(case["url"], case["user_agent"]) != case["allowed"]
    ]


@pytest.mark.shared_data
def test_protego_suite_all_agree() -> None:
    cases = _cases("protego-tests.jsonl")
    wrong = _disagreements(cases)
    assert not wrong, f"protego: {len(cases) - len(wrong)}/{len(cases)} agree; differ: {wrong}"


@pytest.mark.shared_data
def test_google_suite_agrees_except_where_it_contradicts_protego() -> None:
    cases = [case for case in _cases("google-robotstxt.jsonl") if not case["google_specific"]]
    wrong = _disagreements(cases)
    expected_wrong = sorted(GOOGLE_CONTRADICTED_BY_PROTEGO)
    assert wrong == expected_wrong, (
        f"google (not google_specific): {len(cases) - len(wrong)}/{len(cases)} agree; "
        f"differ: {wrong}; expected to differ only on {expected_wrong} (contradicted by protego cases)"
    )


@pytest.mark.shared_data
def test_google_contradictions_are_real() -> None:
    """Each Google case we answer 'wrongly' has an identical Protego case with
    the opposite expectation, and we give the Protego (RFC 9309) answer."""
    by_input: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for case in _cases("google-robotstxt.jsonl") + _cases("protego-tests.jsonl"):
        if not case.get("google_specific"):
            by_input[(case["robots_txt"], case["user_agent"], case["url"])].append(case)
    contradicted = {
        case["id"]: group
        for group in by_input.values()
        if len({case["allowed"] for case in group}) > 1
        for case in group
        if case["id"].startswith("google-")
    }
    assert sorted(contradicted) == sorted(GOOGLE_CONTRADICTED_BY_PROTEGO)
    for group in contradicted.values():
        protego_case = next(case for case in group if case["id"].startswith("protego-"))
        rules = RobotsRules.parse(protego_case["robots_txt"])
        assert rules.allowed(protego_case["url"], protego_case["user_agent"]) == protego_case["allowed"]


@pytest.mark.shared_data
def test_google_specific_cases_differ_only_where_documented() -> None:
    cases = [case for case in _cases("google-robotstxt.jsonl") if case["google_specific"]]
    wrong = _disagreements(cases)
    assert wrong == sorted(GOOGLE_SPECIFIC_DIFFERENCES), (
        f"google_specific: {len(cases) - len(wrong)}/{len(cases)} agree; differ: {wrong}"
    )


@pytest.mark.shared_data
def test_cpython_suite_differs_only_where_documented() -> None:
    """Informative: CPython's robotparser is not RFC 9309; see CPYTHON_DIFFERENCES."""
    cases = _cases("cpython-robotparser.jsonl")
    wrong = _disagreements(cases)
    assert wrong == sorted(CPYTHON_DIFFERENCES), f"cpython: {len(cases) - len(wrong)}/{len(cases)} agree; differ: {wrong}"


@pytest.mark.shared_data
def test_real_world_files_never_raise() -> None:
    """Every real robots.txt in the shared tarball parses and answers."""
    archive = _robots_data() / "realworld-robotstxt.tar.gz"
    seen = 0
    with tarfile.open(archive) as files:
        for member in files:
            if not member.isfile():
                continue
            body = files.extractfile(member).read()  # type: ignore[union-attr]
            verdict = rules_for_fetch(200, body, now=0.0)
            assert verdict.reason == "parsed", member.name
            verdict.allowed("https://example.org/a/b?c=d", "owdbot")
            verdict.rules.crawl_delay("owdbot")
            seen += 1
    assert seen > 1000


# --- fetch outcomes (RFC 9309 §2.3.1) ---------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "allows"),
    [
        (200, "parsed", None),
        (204, "parsed", None),
        (301, "unavailable_3xx", True),
        (400, "unavailable_4xx", True),
        (401, "unavailable_4xx", True),
        (403, "unavailable_4xx", True),
        (404, "unavailable_4xx", True),
        (410, "unavailable_4xx", True),
        (429, "unreachable_429", False),
        (500, "unreachable_5xx", False),
        (503, "unreachable_5xx", False),
        (599, "unreachable_5xx", False),
        (102, "unreachable_status", False),
        (None, "unreachable_error", False),
    ],
)
def test_fetch_outcome(status: int | None, reason: str, allows: bool | None) -> None:
    verdict = rules_for_fetch(status, b"User-agent: *\nDisallow: /private\n", now=100.0)
    assert verdict.reason == reason
    assert reason in REASONS
    assert verdict.status == status
    if allows is None:
        assert verdict.allowed("https://x.test/public", "owdbot")
        assert not verdict.allowed("https://x.test/private", "owdbot")
    else:
        assert verdict.allowed("https://x.test/public", "owdbot") is allows
        assert verdict.allowed("https://x.test/private", "owdbot") is allows
        assert verdict.unreachable is (not allows)


def test_unreachable_verdict_expires_after_retry_period() -> None:
    verdict = rules_for_fetch(503, b"", now=100.0, unreachable_retry_s=600.0, max_age_s=86400.0)
    assert not verdict.expired(699.9)
    assert verdict.expired(700.0)
    fetched_again = rules_for_fetch(200, b"User-agent: *\nAllow: /\n", now=700.0)
    assert fetched_again.allowed("https://x.test/page", "owdbot")


def test_parsed_and_unavailable_verdicts_last_max_age() -> None:
    for status in (200, 404):
        verdict = rules_for_fetch(status, b"", now=0.0, unreachable_retry_s=1.0, max_age_s=86400.0)
        assert not verdict.expired(86399.0)
        assert verdict.expired(86400.0)


def test_missing_body_on_2xx_allows_everything() -> None:
    assert rules_for_fetch(200, None, now=0.0).allowed("https://x.test/anything", "owdbot")


# --- bodies that are not clean UTF-8 text --------------------------------------


def test_garbage_bodies_never_raise() -> None:
    rng = random.Random(9309)
    for size in (0, 1, 7, 100, 4096, 70_000):
        for _ in range(20):
            body = bytes(rng.randrange(256) for _ in range(size))
            verdict = rules_for_fetch(200, body, now=0.0)
            assert verdict.reason == "parsed"
            verdict.allowed("https://x.test/a%ZZ/\u00e9?q=%", "owdbot")
            verdict.rules.crawl_delay("owdbot")


def test_rules_survive_surrounding_garbage() -> None:
    body = b"\x00\xff\xfe garbage \x80\x81\n" + b"User-agent: *\nDisallow: /blocked\n" + b"\xc3\x28\x00\n"
    rules = RobotsRules.from_bytes(body)
    assert not rules.allowed("https://x.test/blocked", "owdbot")
    assert rules.allowed("https://x.test/ok", "owdbot")


def test_utf8_bom_is_stripped() -> None:
    rules = RobotsRules.from_bytes(b"\xef\xbb\xbfUser-agent: *\nDisallow: /private\n")
    assert not rules.allowed("https://x.test/private", "owdbot")


def test_latin1_body_is_decoded_with_replacement() -> None:
    text = decode_robots_body("User-agent: *\nDisallow: /caf\xe9\n".encode("latin-1"))
    assert "\ufffd" in text
    assert not RobotsRules.parse(text).allowed("https://x.test/caf%EF%BF%BD", "owdbot")


def test_only_first_500_kib_is_parsed() -> None:
    head = b"User-agent: *\nDisallow: /early\n"
    padding = b"#" * (MAX_ROBOTS_BYTES - len(head) - 1) + b"\n"
    tail = b"Disallow: /late\n" * 100
    rules = RobotsRules.from_bytes(head + padding + tail)
    assert not rules.allowed("https://x.test/early", "owdbot")
    assert rules.allowed("https://x.test/late", "owdbot")


def test_line_cut_by_the_size_limit_is_dropped() -> None:
    head = b"User-agent: *\n"
    filler = b"#" * (MAX_ROBOTS_BYTES - len(head) - len(b"Disallow: /")) + b"\n"
    body = head + filler + b"Disallow: /private-area\n"
    # The cut leaves "Disallow: /" which, if kept, would disallow everything.
    assert len(head + filler) < MAX_ROBOTS_BYTES < len(body)
    assert RobotsRules.from_bytes(body).allowed("https://x.test/public", "owdbot")


# --- user agents and groups -------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "token"),
    [
        ("owdbot/0.1 (+https://owd.example/bot)", "owdbot"),
        ("OwdBot", "owdbot"),
        ("  Foo-Bar_2/1 x", "foo-bar_2"),
        ("", ""),
    ],
)
def test_product_token(user_agent: str, token: str) -> None:
    assert product_token(user_agent) == token


def test_group_matching_by_product_token() -> None:
    rules = RobotsRules.parse(
        "User-agent: *\nDisallow: /\n\n"
        "User-agent: OwdBot/2.0\nDisallow: /owd-private\n\n"
        "User-agent: Go 1.1 package http\nDisallow: /\n"
    )
    for query in ("owdbot", "OWDBOT", "owdbot/0.1", "Mozilla/5.0 (compatible; owdbot/0.1)"):
        assert rules.allowed("https://x.test/page", query), query
        assert not rules.allowed("https://x.test/owd-private", query), query
    # "Go 1.1 package http" is the "go" group: it must not capture "googlebot".
    assert not rules.allowed("https://x.test/page", "googlebot")
    assert rules.crawl_delay("googlebot") is None
    # A group governs longer names only at a letter boundary.
    assert rules.allowed("https://x.test/page", "owdbot-news")
    assert not rules.allowed("https://x.test/page", "owdbots")


def test_unknown_lines_do_not_split_user_agent_groups() -> None:
    rules = RobotsRules.parse("User-agent: owdbot\nX-Unknown: whatever\nUser-agent: *\nDisallow: /\n")
    assert not rules.allowed("https://x.test/", "owdbot")


def test_crawl_delay_and_sitemaps() -> None:
    rules = RobotsRules.parse(
        "Sitemap: https://x.test/a.xml\n"
        "User-agent: *\nCrawl-delay: 5\n\n"
        "User-agent: owdbot\nCrawl-delay: 1.5\nDisallow: /x\n"
        "Sitemap: https://x.test/b.xml\n"
        "User-agent: other\nCrawl-delay: nan\n"
    )
    assert rules.crawl_delay("owdbot/0.1") == 1.5
    assert rules.crawl_delay("somebot") == 5.0
    assert rules.crawl_delay("other") is None
    assert rules.sitemaps == ["https://x.test/a.xml", "https://x.test/b.xml"]
    assert RobotsRules.allow_all().crawl_delay("owdbot") is None
    assert RobotsRules.disallow_all().sitemaps == []
