"""Retry-After parsing (the crawl-level behaviour is in test_crawl.py)."""

from __future__ import annotations

import email.utils

from owd.crawler.backoff import parse_retry_after


def test_delta_seconds_and_http_dates() -> None:
    assert parse_retry_after(b"120") == 120.0
    assert parse_retry_after(" 5 ") == 5.0
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert abs(parse_retry_after(date, now=now) - 30.0) < 1e-6  # type: ignore[operator]
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0


def test_garbage_is_none() -> None:
    for value in (None, b"", b"soon", b"-5", b"1.5e9x", "Mon, 99 Foo 2026"):
        assert parse_retry_after(value) is None, value
