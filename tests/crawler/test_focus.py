"""Focused crawling: on-topic links are fetched first; without topics the crawl is breadth-first."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from owd.crawler.focus import TopicScorer
from owd.core.config import FocusConfig, TopicConfig
from owd.testweb import HEALTH_WORD, TestSite, free_port, read_request_log
from tests.conftest import crawl_testweb

LANGS = ["de", "sl", "fr", "pl", "hr", "en"]


def test_scorer_weights_anchor_url_and_parent() -> None:
    scorer = TopicScorer.from_config(FocusConfig([TopicConfig("health", {"de": ["Gesundheit"], "fr": ["santé"]})]))
    assert scorer.text_score("Mehr zur GESUNDHEIT") == pytest.approx(0.8)
    assert scorer.text_score("la sante publique") > 0  # accents folded
    assert scorer.text_score("Wirtschaft") == 0
    on_topic = scorer.link_score("Gesundheit", "http://x.de/gesundheit/1.html", 0.0)
    off_topic = scorer.link_score("Sport", "http://x.de/sport/1.html", 0.0)
    assert on_topic > scorer.link_score("Sport", "http://x.de/gesundheit/1.html", 0.0) > off_topic == 0
    assert scorer.priority(depth=2, score=on_topic) > scorer.priority(depth=1, score=0.0)
    assert not TopicScorer.from_config(FocusConfig()).enabled


def fetch_order(tmp: Path, focus: dict[str, object] | None) -> dict[str, list[str]]:
    site = TestSite(port=free_port(), pages_per_host=8, real_pages=0)
    hosts = [h for h in site.hosts if h.kind == "lang" and h.lang in LANGS and h.name.endswith(("de", "si", "fr", "pl", "hr", "ie"))]
    tmp.mkdir(parents=True, exist_ok=True)
    seeds = tmp / "focus-seeds.txt"
    seeds.write_text("\n".join(site.url(h.name) for h in hosts) + "\n")
    overrides: dict[str, object] = {
        "seeds": {"files": [str(seeds)]},
        "scope": {"domains": [h.name for h in hosts], "max_depth": 1},
        "politeness": {"delay": 0.01, "concurrency_per_host": 1, "concurrency": 4, "autothrottle": False},
        "media": {"kinds": []},
    }
    if focus is not None:
        overrides["focus"] = focus
    crawl_testweb(site, tmp, timeout=300, **overrides)
    order: dict[str, list[str]] = defaultdict(list)
    for e in sorted(read_request_log(tmp / "requests.jsonl"), key=lambda e: e.t):
        if e.path.startswith(("/news/", "/health/")):
            order[e.host].append(e.path)
    return order


def _health_first_share(order: dict[str, list[str]]) -> float:
    """Share of hosts whose health pages were all fetched before their first news page."""
    ok = 0
    for paths in order.values():
        first_news = next(i for i, p in enumerate(paths) if p.startswith("/news/"))
        health = [i for i, p in enumerate(paths) if p.startswith("/health/")]
        ok += bool(health) and max(health) < first_news
    return ok / len(order)


def test_focus_fetches_on_topic_pages_first(tmp_path: Path) -> None:
    focus = {"topics": [{"name": "health", "keywords": {lang: [HEALTH_WORD[lang]] for lang in LANGS}}]}
    focused = fetch_order(tmp_path / "focused", focus)
    plain = fetch_order(tmp_path / "plain", None)
    assert len(focused) == len(plain) == len(LANGS)
    assert _health_first_share(focused) == 1.0, dict(focused)
    # Breadth-first: the home page lists news before health, so news comes first.
    assert _health_first_share(plain) == 0.0, dict(plain)
