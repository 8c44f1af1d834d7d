"""The search page in a real headless browser (Debian's chromium, driven by Playwright):
type a query, see results, click a language facet, results narrow, unclick."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest

from owd.core.schema import Document
from tests.index.corpus import kept, words_of

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent (Debian: apt-get install chromium); the browser test needs a real "
                "browser and nothing may be downloaded", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency: pip install -e '.[test]'")
expect = sync_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # Playwright drives the system chromium over CDP; `playwright install` is never run.
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def page(browser: object, server: str) -> Iterator[object]:
    context = browser.new_context()  # type: ignore[attr-defined]
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    requests: list[str] = []
    problems: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.goto(server + "/")
    yield pg
    context.close()
    # self-contained: every request went to our server; no script error, no CSP violation
    assert all(u.startswith(server + "/") for u in requests), [u for u in requests if not u.startswith(server)]
    # (a 422 is logged by the browser when a test sends a bad query on purpose)
    assert [p for p in problems if "status of 422" not in p] == []


def count_with(corpus: list[Document], word: str, lang: str | None = None) -> int:
    return sum(1 for d in kept(corpus) if word in words_of(d) and (lang is None or d.lang == lang))


def test_query_facet_click_and_unclick(page: object, server: str, corpus: list[Document]) -> None:
    pg = page
    total, in_sl = count_with(corpus, "zqalpha"), count_with(corpus, "zqalpha", "sl")
    assert total > 10 and 0 < in_sl < total

    pg.fill("#q", "zqalpha")
    pg.press("#q", "Enter")
    status = pg.locator("#status")
    expect(status).to_have_text(re.compile(rf"^{total} results — 1–10 "))
    hits = pg.locator("#results li.hit")
    expect(hits).to_have_count(10)
    # titles link to the page, snippets mark the word as an element, not as text
    first = hits.first
    assert first.locator("a.title").get_attribute("href").startswith("https://")
    expect(first.locator(".snippet mark").first).to_have_text("zqalpha")
    assert "<mark>" not in first.locator(".snippet").inner_text()

    sl = pg.locator('#facets button[data-kind="lang"][data-value="sl"]')
    expect(sl).to_have_attribute("aria-pressed", "false")
    expect(sl.locator(".count")).to_have_text(str(in_sl))
    expect(pg.locator('#facets button[data-kind="domain"]').first).to_be_visible()

    sl.click()
    expect(status).to_have_text(re.compile(rf"^{in_sl} results? "))
    expect(hits).to_have_count(in_sl)
    assert set(hits.evaluate_all("els => els.map(e => e.dataset.lang)")) == {"sl"}
    assert "lang=sl" in pg.url
    sl = pg.locator('#facets button[data-kind="lang"][data-value="sl"]')
    expect(sl).to_have_attribute("aria-pressed", "true")

    # the other languages stay on offer with their own counts; a second one is OR-ed
    in_de = count_with(corpus, "zqalpha", "de")
    de = pg.locator('#facets button[data-kind="lang"][data-value="de"]')
    expect(de.locator(".count")).to_have_text(str(in_de))
    de.click()
    expect(status).to_have_text(re.compile(rf"^{in_sl + in_de} results "))
    assert set(hits.evaluate_all("els => els.map(e => e.dataset.lang)")) == {"sl", "de"}
    pg.locator('#facets button[data-kind="lang"][data-value="de"]').click()
    expect(status).to_have_text(re.compile(rf"^{in_sl} results? "))

    sl = pg.locator('#facets button[data-kind="lang"][data-value="sl"]')
    sl.click()  # unclick: the filter goes, every language is back
    expect(status).to_have_text(re.compile(rf"^{total} results "))
    expect(hits).to_have_count(10)
    assert "lang=" not in pg.url
    langs = set(hits.evaluate_all("els => els.map(e => e.dataset.lang)"))
    assert len(langs) > 1

    # the back button returns to the filtered view (the state lives in the address)
    pg.go_back()
    expect(status).to_have_text(re.compile(rf"^{in_sl} results? "))


def test_pagination_and_domain_facet(page: object, corpus: list[Document]) -> None:
    pg = page
    total = count_with(corpus, "zqalpha")
    pg.fill("#q", "zqalpha")
    pg.press("#q", "Enter")
    status = pg.locator("#status")
    expect(status).to_have_text(re.compile(rf"^{total} results — 1–10 "))
    first_page = pg.locator("#results li.hit").evaluate_all("els => els.map(e => e.dataset.id)")
    pg.locator('#pager button[data-page="2"]').first.click()
    expect(status).to_have_text(re.compile(rf"^{total} results — 11–{min(20, total)} "))
    second_page = pg.locator("#results li.hit").evaluate_all("els => els.map(e => e.dataset.id)")
    assert not set(first_page) & set(second_page)
    expect(pg.locator('#pager button[aria-current="page"]')).to_have_text("2")

    domain = pg.locator('#facets button[data-kind="domain"]').first
    value, count = domain.get_attribute("data-value"), int(domain.locator(".count").inner_text())
    domain.click()  # a facet click starts again at page 1
    expect(status).to_have_text(re.compile(rf"^{count} results? — 1–{min(10, count)} "))
    assert set(pg.locator("#results li.hit .meta").all_inner_texts()) and all(
        value in m for m in pg.locator("#results li.hit .meta").all_inner_texts())


def test_markup_in_documents_is_shown_as_text(page: object) -> None:
    pg = page
    pg.fill("#q", "beware")
    pg.press("#q", "Enter")
    expect(pg.locator("#status")).to_have_text(re.compile(r"^1 result "))
    snippet = pg.locator("#results li.hit .snippet")
    expect(snippet).to_contain_text('<script>alert("x")</script> & floods in <b>bold</b>')
    expect(snippet.locator("mark")).to_have_text("Beware")
    assert snippet.locator("script, b").count() == 0
    expect(pg.locator("#results li.hit a.title")).to_have_text("Markup & entities")


def test_bad_query_shows_the_servers_message(page: object) -> None:
    pg = page
    pg.fill("#q", "flood lang:x1")
    pg.press("#q", "Enter")
    status = pg.locator("#status")
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("'x1' is not a valid value")
    expect(pg.locator("#results li.hit")).to_have_count(0)


@pytest.mark.semantic
def test_mode_toggle_and_similar_pages(page: object, corpus: list[Document]) -> None:
    pg = page
    status = pg.locator("#status")
    lexical = pg.locator('#mode input[value="lexical"]')
    meaning = pg.locator('#mode input[value="semantic"]')
    both = pg.locator('#mode input[value="hybrid"]')
    expect(meaning).to_be_enabled()  # the served index has vectors (/api/health says so)
    pg.fill("#q", "poplave")
    pg.press("#q", "Enter")
    words = count_with(corpus, "poplave")
    expect(status).to_have_text(re.compile(rf"^{words} results? "))
    expect(lexical).to_be_checked()
    hits = pg.locator("#results li.hit")
    word_langs = set(hits.evaluate_all("els => els.map(e => e.dataset.lang)"))
    assert word_langs <= {"sl", "hr"}  # the word is Slovenian (and Croatian)

    meaning.check()
    with_text = [d for d in kept(corpus) if d.title or d.text or d.description]
    expect(status).to_have_text(re.compile(rf"^{len(with_text)} results — 1–10 "))
    expect(meaning).to_be_checked()
    assert "mode=semantic" in pg.url
    # meaning crosses languages: the floods pages of other languages come up too
    expect(hits).to_have_count(10)
    assert set(hits.evaluate_all("els => els.map(e => e.dataset.lang)")) - word_langs

    both.check()
    expect(both).to_be_checked()
    assert "mode=hybrid" in pg.url
    expect(status).to_have_text(re.compile(r"^\d+ results — 1–10 "))

    first = hits.first.get_attribute("data-id")
    hits.first.locator("button.similar").click()
    expect(status).to_have_text(re.compile(rf"^10 pages like {re.escape(first)}"))
    assert f"similar={first}" in pg.url
    assert first not in hits.evaluate_all("els => els.map(e => e.dataset.id)")
    pg.go_back()
    expect(status).to_have_text(re.compile(r"^\d+ results — 1–10 "))
    expect(both).to_be_checked()
