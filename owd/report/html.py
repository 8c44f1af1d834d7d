"""The campaign report as one self-contained HTML page, rendered from the report dict only.

Inline CSS and inline SVG bar charts; no scripts, fonts or images fetched. Every
number on the page is an element with ``data-kpi`` (the JSON path of the value,
as a JSON array) and ``data-fmt`` (how it was formatted), so a test, or a
coordinator's scraper, can check the page against ``report.json``.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any, Iterable, Sequence

__all__ = ["FORMATS", "format_value", "render_html"]

Path_ = Sequence[str | int]

# How each kind of number is written; tests parse them back with the same table.
FORMATS = {
    "int": lambda v: f"{int(v):,}",
    "pct": lambda v: f"{float(v) * 100:.2f} %",
    "mb": lambda v: f"{float(v) / 1e6:,.2f} MB",
    "float": lambda v: f"{float(v):,.2f}",
}
MISSING = "–"  # a value the JSON has as null (e.g. a stage still running)
_TOP_HOSTS = 25

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}
header{background:#003399;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.85}
main{padding:8px 28px 40px;max-width:1100px}
section{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:12px 18px;margin:16px 0}
h2{font-size:17px;margin:4px 0 10px;color:#003399} h3{font-size:14px;margin:14px 0 6px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:10px}
.card{background:#fff;border:1px solid #dde3ea;border-left:4px solid #ffcc00;border-radius:6px;padding:8px 12px}
.card .num{display:block;font-size:20px;font-weight:600} .card .label{color:#5a6675;font-size:12px}
table{border-collapse:collapse;margin:4px 0 8px;min-width:320px}
th,td{padding:3px 10px;border-bottom:1px solid #eef1f5;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.empty{color:#7a8593;font-style:italic}
.grid{display:flex;flex-wrap:wrap;gap:24px} .grid>div{flex:1 1 420px}
svg text{font:12px system-ui,sans-serif;fill:#1d2733} svg rect.bar{fill:#3b6fd1} svg rect.alt{fill:#f0a500}
"""


def format_value(value: Any, fmt: str) -> str:
    return MISSING if value is None else FORMATS[fmt](value)


def _get(report: dict[str, Any], path: Path_) -> Any:
    node: Any = report
    for key in path:
        node = node[key]
    return node


def _num(report: dict[str, Any], path: Path_, fmt: str = "int", tag: str = "span", cls: str = "num",
         attrs: str = "") -> str:
    """One number from the report, tagged with where it came from."""
    value = _get(report, path)
    kpi = escape(json.dumps(list(path), ensure_ascii=False), quote=True)
    return (f'<{tag} class="{cls}" data-kpi="{kpi}" data-fmt="{fmt}"{attrs}>'
            f"{escape(format_value(value, fmt))}</{tag}>")


def _table(report: dict[str, Any], head: Sequence[str], rows: Iterable[Sequence[str]], numeric_from: int = 1) -> str:
    th = "".join(f'<th{" class=n" if i >= numeric_from else ""}>{escape(h)}</th>' for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td{" class=n" if i >= numeric_from else ""}>{c}</td>'
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _counts_table(report: dict[str, Any], path: Path_, head: tuple[str, str], empty: str) -> str:
    counts = _get(report, path)
    if not counts:
        return f'<p class="empty">{escape(empty)}</p>'
    return _table(report, head, ([escape(k), _num(report, [*path, k])] for k in counts))


def _bars(report: dict[str, Any], rows: Sequence[tuple[str, Path_]], fmt: str = "int", alt: bool = False) -> str:
    """A horizontal bar chart: one labelled bar per (label, path of its value)."""
    if not rows:
        return ""
    values = [float(_get(report, p) or 0) for _, p in rows]
    top = max(values) or 1.0
    label_w, bar_w, row_h = 190, 360, 22
    height = row_h * len(rows) + 6
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{label_w + bar_w + 120}" '
             f'height="{height}" viewBox="0 0 {label_w + bar_w + 120} {height}">']
    for i, ((label, path), value) in enumerate(zip(rows, values)):
        y = 3 + i * row_h
        w = max(1.0, bar_w * value / top) if value else 0.0
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(label[:28])}</text>')
        parts.append(f'<rect class="{"alt" if alt else "bar"}" x="{label_w}" y="{y + 3}" width="{w:.1f}" '
                     f'height="{row_h - 6}" rx="2"/>')
        parts.append(_num(report, path, fmt, tag="text", cls="v", attrs=f' x="{label_w + w + 6:.1f}" y="{y + 15}"'))
    parts.append("</svg>")
    return "".join(parts)


def _empty(text: str) -> str:
    return f'<p class="empty">{escape(text)}</p>'


# --------------------------------------------------------------------------- sections

_HEADLINE = [
    ("pages_total", "pages fetched", "int"), ("bytes_total", "bytes fetched", "mb"),
    ("responses_total", "HTTP responses", "int"), ("hosts_total", "hosts", "int"),
    ("sites_total", "sites", "int"), ("workers_total", "crawlers", "int"), ("days_total", "days", "int"),
    ("robots_refusals", "robots.txt refusals", "int"), ("tdm_reservation_rate", "TDM reservation rate", "pct"),
    ("errors_total", "errors", "int"), ("documents_total", "documents", "int"),
    ("documents_kept", "documents kept", "int"), ("languages_total", "languages", "int"),
    ("duplicate_rate", "duplicate rate", "pct"), ("pools_total", "pools", "int"),
]


def _headline(r: dict[str, Any]) -> str:
    cards = "".join(f'<div class="card">{_num(r, ["headline", key], fmt)}<span class="label">{escape(label)}'
                    f"</span></div>" for key, label, fmt in _HEADLINE)
    return f'<section><h2>Headline</h2><div class="cards">{cards}</div></section>'


def _crawl(r: dict[str, Any]) -> str:
    c = r["crawl"]
    if not c["responses"] and not c["by_worker"]:
        return "<section><h2>Crawl</h2>" + _empty("No crawl output yet (run owd crawl).") + "</section>"
    sites = _table(r, ["site", "crawlers", "responses", "pages", "bytes"], (
        [escape(s), escape(", ".join(row["workers"])), _num(r, ["crawl", "by_site", s, "responses"]),
         _num(r, ["crawl", "by_site", s, "pages"]), _num(r, ["crawl", "by_site", s, "bytes"], "mb")]
        for s, row in c["by_site"].items()), numeric_from=2)
    workers = _table(r, ["crawler", "site", "WARC files", "responses", "pages", "bytes"], (
        [escape(w), escape(row["site"]), _num(r, ["crawl", "by_worker", w, "warc_files"]),
         _num(r, ["crawl", "by_worker", w, "responses"]), _num(r, ["crawl", "by_worker", w, "pages"]),
         _num(r, ["crawl", "by_worker", w, "bytes"], "mb")] for w, row in c["by_worker"].items()), numeric_from=2)
    days = _table(r, ["day", "responses", "pages", "bytes"], (
        [escape(d), _num(r, ["crawl", "by_day", d, "responses"]), _num(r, ["crawl", "by_day", d, "pages"]),
         _num(r, ["crawl", "by_day", d, "bytes"], "mb")] for d in c["by_day"]))
    site_day_rows: list[tuple[str, Path_]] = [
        (f'{row["day"]} · {row["site"]}', ["crawl", "by_site_day", i, "pages"])
        for i, row in enumerate(c["by_site_day"])]
    site_day_bytes: list[tuple[str, Path_]] = [
        (f'{row["day"]} · {row["site"]}', ["crawl", "by_site_day", i, "bytes"])
        for i, row in enumerate(c["by_site_day"])]
    hosts = list(c["hosts"])[:_TOP_HOSTS]
    host_table = _table(r, ["host", "responses", "pages", "bytes"], (
        [escape(h), _num(r, ["crawl", "hosts", h, "responses"]), _num(r, ["crawl", "hosts", h, "pages"]),
         _num(r, ["crawl", "hosts", h, "bytes"], "mb")] for h in hosts))
    status = _bars(r, [(code, ["crawl", "status", code]) for code in c["status"]])
    return (
        "<section><h2>Crawl: pages and bytes per site and per day</h2><div class=grid><div>"
        f"<h3>Per site</h3>{sites}<h3>Per crawler</h3>{workers}<h3>Per day</h3>{days}</div><div>"
        f"<h3>Pages per day and site</h3>{_bars(r, site_day_rows)}"
        f"<h3>Bytes per day and site</h3>{_bars(r, site_day_bytes, 'mb', alt=True)}</div></div></section>"
        f"<section><h2>HTTP status codes</h2>{status or _empty('No responses.')}</section>"
        f"<section><h2>Hosts</h2><p>{_num(r, ['crawl', 'hosts_total'])} hosts answered; the "
        f"{len(hosts)} busiest:</p>{host_table}</section>"
        + _revisit_section(r)
    )


def _revisit_section(r: dict[str, Any]) -> str:
    v = r["crawl"].get("revisits") or {}
    if not v.get("requested"):
        return ""
    rows = [("unchanged", ["crawl", "revisits", "unchanged"]), ("changed", ["crawl", "revisits", "changed"]),
            ("gone (404, 410)", ["crawl", "revisits", "gone"]), ("failed", ["crawl", "revisits", "failed"])]
    return (f"<section><h2>Revisits</h2><p>{_num(r, ['crawl', 'revisits', 'requested'])} URLs fetched again in "
            f"{_num(r, ['crawl', 'revisits', 'runs'])} revisit run(s); unchanged ones are WARC revisit records "
            f"(304 Not Modified or an identical payload), not new documents.</p>{_bars(r, rows)}</section>")


def _rights(r: dict[str, Any]) -> str:
    tdm = ["crawl", "tdm"]
    sources = _counts_table(r, [*tdm, "by_source"], ("signal", "reserved pages"), "No page carried a reservation.")
    robots = _counts_table(r, ["crawl", "robots_refusals", "by_reason"], ("reason", "refusals"),
                           "No request refused by robots.txt.")
    return (
        "<section><h2>Rights: robots.txt and TDM reservations</h2><div class=grid><div>"
        f"<h3>robots.txt refusals: {_num(r, ['crawl', 'robots_refusals', 'total'])}</h3>{robots}</div><div>"
        f"<h3>TDM reservation rate: {_num(r, [*tdm, 'reservation_rate'], 'pct')}</h3>"
        f"<p>{_num(r, [*tdm, 'pages_reserved'])} fetched pages reserved, "
        f"{_num(r, [*tdm, 'skipped_unfetched'])} reserved pages not fetched (policy skip).</p>{sources}"
        "</div></div></section>"
    )


def _errors(r: dict[str, Any]) -> str:
    errors = _counts_table(r, ["crawl", "errors"], ("reason", "count"), "No errors.")
    scope = _counts_table(r, ["crawl", "scope_refusals"], ("reason", "URLs"), "No URL refused by scope.")
    return (
        f"<section><h2>Errors by reason: {_num(r, ['crawl', 'errors_total'])}</h2><div class=grid>"
        f"<div>{errors}<p>Broken WARC records skipped: {_num(r, ['crawl', 'warc_broken_records'])}</p></div>"
        f"<div><h3>Scope refusals (not errors)</h3>{scope}</div></div></section>"
    )


def _documents(r: dict[str, Any]) -> str:
    d = r["documents"]
    if not d["total"]:
        return "<section><h2>Documents</h2>" + _empty("No documents yet (run owd process).") + "</section>"
    langs = _bars(r, [(lang, ["documents", "languages", lang]) for lang in d["languages"]])
    drops = _counts_table(r, ["documents", "drop_reasons"], ("drop reason", "documents"), "Nothing dropped.")
    dup = ["documents", "duplicates"]
    return (
        f"<section><h2>Documents</h2><p>{_num(r, ['documents', 'total'])} documents, "
        f"{_num(r, ['documents', 'kept'])} kept ({_num(r, ['documents', 'kept_text_bytes'], 'mb')} of text), "
        f"{_num(r, ['documents', 'dropped'])} dropped.</p><div class=grid>"
        f"<div><h3>Kept documents per language</h3>{langs or _empty('None kept.')}</div>"
        f"<div><h3>Drop reasons</h3>{drops}<h3>Duplicates</h3><p>duplicate rate "
        f"{_num(r, [*dup, 'rate'], 'pct')}: {_num(r, [*dup, 'dropped'])} copies dropped; "
        f"{_num(r, [*dup, 'in_clusters'])} documents in {_num(r, [*dup, 'clusters'])} clusters.</p>"
        f"<h3>TDM reservations in documents</h3><p>{_num(r, ['documents', 'tdm', 'reserved'])} reserved of "
        f"{_num(r, ['documents', 'tdm', 'with_signal'])} with a signal "
        f"({_num(r, ['documents', 'tdm', 'reservation_rate'], 'pct')} of all).</p></div></div>"
        f"<h3>Every stage counter (sum of the shards' .stats.json)</h3>"
        f"{_counts_table(r, ['documents', 'counters'], ('counter', 'count'), 'No counters.')}</section>"
    )


def _pools(r: dict[str, Any]) -> str:
    p = r["pools"]
    if not p["documents"]:
        return "<section><h2>Documents per pool</h2>" + _empty("No pools built yet (run owd pools build).") + \
            "</section>"
    source = "the pools' summary.json" if p["source"] == "summary.json" else "the documents' pools column"
    return (f"<section><h2>Documents per pool</h2><p>From {escape(source)}.</p>"
            f"{_bars(r, [(name, ['pools', 'documents', name]) for name in p['documents']], alt=True)}</section>")


def _throughput(r: dict[str, Any]) -> str:
    t = r["throughput"]
    if not t:
        return "<section><h2>Throughput per stage</h2>" + _empty("No run state (run owd run).") + "</section>"
    table = _table(r, ["stage", "status", "items", "seconds", "items/s"], (
        [escape(s), escape(row["status"]), _num(r, ["throughput", s, "items"]) + " " + escape(row["unit"]),
         _num(r, ["throughput", s, "seconds"], "float"), _num(r, ["throughput", s, "items_per_second"], "float")]
        for s, row in t.items()), numeric_from=2)
    chart = _bars(r, [(f"{s} ({row['unit']}/s)", ["throughput", s, "items_per_second"]) for s, row in t.items()],
                  "float")
    return f"<section><h2>Throughput per stage</h2><div class=grid><div>{table}</div><div>{chart}</div></div></section>"


def render_html(report: dict[str, Any]) -> str:
    """The page for one report dict (as :func:`owd.report.build_report` returns it)."""
    title = f"owd campaign report: {report['campaign']}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head><body>'
        f"<header><h1>{escape(title)}</h1><p>generated {escape(report['generated'])} · "
        f"{escape(report['format'])}</p></header><main>"
        + _headline(report) + _crawl(report) + _rights(report) + _errors(report) + _documents(report)
        + _pools(report) + _throughput(report)
        + "</main></body></html>\n"
    )
