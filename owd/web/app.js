// owd search page: plain JS over /api/search. No innerHTML anywhere: every string
// from the index reaches the page as a text node, and the only markup taken from
// a snippet is <mark>, rebuilt as an element.
"use strict";

const PAGE_SIZE = 10;
const FACET_KINDS = ["lang", "domain"];
const MODES = ["lexical", "semantic", "hybrid"];
// Set from /api/health: with document vectors, the meaning and both modes can be chosen
// (words stay the default: their counts are exact, the other modes rank the nearest 100).
let vectors = false;

// The state lives in the address bar, so results can be linked, reloaded and
// walked with the back button.
function readState() {
  const p = new URLSearchParams(location.search);
  return {
    q: p.get("q") || "",
    lang: p.getAll("lang"),
    domain: p.getAll("domain"),
    page: Math.max(1, parseInt(p.get("page") || "1", 10) || 1),
    mode: MODES.includes(p.get("mode")) ? p.get("mode") : "lexical",
    similar: p.get("similar") || "",
  };
}

function stateParams(state) {
  const p = new URLSearchParams();
  if (state.q) p.set("q", state.q);
  for (const kind of FACET_KINDS) for (const v of state[kind]) p.append(kind, v);
  if (state.page > 1) p.set("page", String(state.page));
  if (state.mode !== "lexical") p.set("mode", state.mode);
  return p;
}

function pageParams(state) {
  const p = stateParams(state);
  if (state.similar) p.set("similar", state.similar);
  return p;
}

function go(state) {
  const qs = pageParams(state).toString();
  history.pushState(null, "", qs ? "?" + qs : location.pathname);
  render();
}

// Snippets are HTML from the API: escaped text with <mark> around matched words.
const ENTITY = /&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi;
const NAMED = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(s) {
  return s.replace(ENTITY, (all, e) => {
    const low = e.toLowerCase();
    if (low in NAMED) return NAMED[low];
    const code = low.startsWith("#x") ? parseInt(low.slice(2), 16) : parseInt(low.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
  });
}

function appendSnippet(el, snippet) {
  let target = el;
  for (const part of snippet.split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") {
      if (target === el) { target = document.createElement("mark"); el.appendChild(target); }
    } else if (part === "</mark>") {
      target = el;
    } else if (part) {
      target.appendChild(document.createTextNode(decodeEntities(part)));
    }
  }
}

function safeHref(url) {
  // only web links: a javascript: or data: URL in the index must not become clickable
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch (_) {
    return null;
  }
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function renderHits(hits) {
  const list = document.getElementById("results");
  list.replaceChildren();
  for (const hit of hits) {
    const li = el("li", "hit");
    li.dataset.id = hit.id;
    li.dataset.lang = hit.lang || "";
    const href = safeHref(hit.url);
    const title = el(href ? "a" : "span", "title", hit.title || hit.url);
    if (href) { title.href = href; title.rel = "noopener noreferrer"; }
    li.appendChild(title);
    li.appendChild(el("div", "url", hit.url));
    const snip = el("p", "snippet");
    appendSnippet(snip, hit.snippet || "");
    li.appendChild(snip);
    const meta = [hit.lang, hit.domain, hit.fetch_time ? hit.fetch_time.slice(0, 10) : null].filter(Boolean);
    const metaEl = el("div", "meta", meta.join(" · "));
    if (vectors) {
      // related pages and near-duplicates, in any language, from the document's vector
      const more = el("button", "similar", "similar pages");
      more.type = "button";
      more.addEventListener("click", () => go({ ...readState(), similar: hit.id, page: 1 }));
      metaEl.appendChild(more);
    }
    li.appendChild(metaEl);
    list.appendChild(li);
  }
}

function renderFacets(state, facets) {
  for (const kind of FACET_KINDS) {
    const section = document.querySelector(`.facet[data-kind="${kind}"]`);
    const ul = section.querySelector("ul");
    ul.replaceChildren();
    const values = (facets[kind] || []).map((f) => [f.value, f.count]);
    // a selected value stays visible (to unclick it) even when it has no hits now
    for (const v of state[kind]) if (!values.some(([x]) => x === v)) values.push([v, 0]);
    for (const [value, count] of values) {
      const selected = state[kind].includes(value);
      const b = el("button");
      b.type = "button";
      b.dataset.kind = kind;
      b.dataset.value = value;
      b.setAttribute("aria-pressed", String(selected));
      b.appendChild(el("span", "value", value));
      b.appendChild(el("span", "count", String(count)));
      b.addEventListener("click", () => {
        const s = readState();
        s[kind] = selected ? s[kind].filter((x) => x !== value) : [...s[kind], value];
        s.page = 1;
        go(s);
      });
      const li = el("li");
      li.appendChild(b);
      ul.appendChild(li);
    }
    section.hidden = values.length === 0;
  }
}

function renderPager(state, pages) {
  const nav = document.getElementById("pager");
  nav.replaceChildren();
  if (pages <= 1) return;
  const add = (label, page, current) => {
    const b = el("button", null, label);
    b.type = "button";
    b.dataset.page = String(page);
    if (current) b.setAttribute("aria-current", "page");
    b.addEventListener("click", () => go({ ...readState(), page }));
    nav.appendChild(b);
  };
  if (state.page > 1) add("‹ previous", state.page - 1, false);
  const first = Math.max(1, Math.min(state.page - 4, pages - 9));
  for (let p = first; p <= Math.min(pages, first + 9); p++) add(String(p), p, p === state.page);
  if (state.page < pages) add("next ›", state.page + 1, false);
}

function setStatus(text, state, isError) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.dataset.state = state;
  s.classList.toggle("error", Boolean(isError));
}

let generation = 0; // answers to superseded requests are dropped

async function getJson(url) {
  try {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    return { ok: r.ok, body: await r.json() };
  } catch (e) {
    return { ok: false, body: { detail: "the search server did not answer" } };
  }
}

async function renderSimilar(state, mine) {
  setStatus("Searching…", "loading");
  const p = new URLSearchParams();
  for (const v of state.lang) p.append("lang", v);
  p.set("size", String(PAGE_SIZE));
  const { ok, body } = await getJson(`/api/docs/${encodeURIComponent(state.similar)}/similar?` + p.toString());
  if (mine !== generation) return;
  renderFacets({ ...state, lang: [], domain: [] }, {});
  renderPager(state, 0);
  if (!ok) {
    renderHits([]);
    setStatus(typeof body.detail === "string" ? body.detail : "search failed", "error", true);
    return;
  }
  renderHits(body.hits);
  setStatus(`${body.total} page${body.total === 1 ? "" : "s"} like ${state.similar}`, "ready");
}

function showMode(state) {
  for (const input of document.querySelectorAll('#mode input[name="mode"]')) {
    input.disabled = input.value !== "lexical" && !vectors;
    input.checked = input.value === state.mode;
  }
}

async function render() {
  const state = readState();
  document.getElementById("q").value = state.q;
  showMode(state);
  const mine = ++generation;
  if (state.similar) {
    await renderSimilar(state, mine);
    return;
  }
  if (!state.q && !state.lang.length && !state.domain.length) {
    renderHits([]);
    renderFacets(state, {});
    renderPager(state, 0);
    setStatus("", "idle");
    return;
  }
  setStatus("Searching…", "loading");
  const p = stateParams(state);
  p.set("size", String(PAGE_SIZE));
  p.set("mode", state.mode);
  // Facet counts leave out their own kind's filter (disjunctive facets): with lang=sl
  // chosen, the other languages still show, with the counts they would add.
  const facetRequests = FACET_KINDS.map((kind) => {
    const f = stateParams({ ...state, [kind]: [], page: 1 });
    f.set("mode", state.mode);
    f.set("facets", kind);
    f.set("facet_size", "15");
    return getJson("/api/facets?" + f.toString()).then((r) => (r.ok ? r.body.facets[kind] || [] : []));
  });
  const [{ ok, body }, ...facetLists] = await Promise.all([getJson("/api/search?" + p.toString()), ...facetRequests]);
  if (mine !== generation) return;
  if (!ok) {
    renderHits([]);
    renderFacets(state, {});
    renderPager(state, 0);
    setStatus(typeof body.detail === "string" ? body.detail : "search failed", "error", true);
    return;
  }
  const facets = Object.fromEntries(FACET_KINDS.map((kind, i) => [kind, facetLists[i]]));
  renderHits(body.hits);
  renderFacets(state, facets);
  renderPager(state, body.pages);
  const first = (body.page - 1) * body.size + 1;
  const range = body.hits.length ? ` — ${first}–${first + body.hits.length - 1}` : "";
  setStatus(`${body.total} result${body.total === 1 ? "" : "s"}${range} (${body.took_ms.toFixed(1)} ms)`, "ready");
}

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    // a new query keeps the facet filters: narrowing first, then rephrasing, is common
    go({ ...readState(), q: document.getElementById("q").value.trim(), page: 1, similar: "" });
  });
  for (const input of document.querySelectorAll('#mode input[name="mode"]')) {
    input.addEventListener("change", () => go({ ...readState(), mode: input.value, page: 1, similar: "" }));
  }
  window.addEventListener("popstate", render);
  const health = await getJson("/api/health");
  vectors = Boolean(health.ok && health.body.vectors);
  render();
});
