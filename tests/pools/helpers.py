"""Pool definitions for the tests, edge-case documents, and a brute-force reference of the rules.

``reference_member(pool, record)`` re-implements the documented semantics of
pools/rules.py in the plainest Python (token lists instead of regexes, a hand-made
glob translation), so the build is checked against an independent reading of the
same text, not against itself.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from owd.core.config import CampaignConfig, load_campaign
from owd.core.schema import Document, MediaItem, write_parquet

UTC = dt.timezone.utc

# Pools of the test campaign: every rule kind, empty lists, globs, both TDM policies.
POOLS: list[dict[str, Any]] = [
    {"name": "everything", "description": "every kept document, rights-reserved ones excluded"},
    {"name": "everything-incl", "description": "every kept document, rights-reserved ones included", "tdm": "include"},
    {"name": "health-de-at", "description": "German health pages from .de and .at", "languages": ["de"],
     "tlds": ["de", "at"], "keywords": ["Gesundheit"]},
    {"name": "gov-glob", "domains": ["*.gv.at", "sl.owdtest.si", "owdtest.hr", "??.owdtest.fi", "TDM-*.owdtest.eu"],
     "tdm": "include"},
    {"name": "keywords", "keywords": ["Gesundheit*", "public health", "STRASSE", "zdravje", "covid-19"]},
    {"name": "licensed-long", "licenses": ["https://creativecommons.org/licenses/by/"], "min_length": 500},
    {"name": "media", "media_kinds": ["audio", "video"], "url_patterns": ["/media", "(?i)VIDEO"]},
    {"name": "quality-en-fr-sl", "languages": ["en", "fr", "sl"], "min_quality": 0.6},
    {"name": "tld-multi", "tlds": [".gv.at", "si"], "min_length": 10},
]

_FILLER = "Das ist ein ordentlicher Satz mit Punkt am Ende.\n"


def _doc(i: int, **kw: Any) -> Document:
    base: dict[str, Any] = dict(
        id=f"synthetic-{i:03d}", url=f"https://example.test/{i}", host="example.test", domain="example.test",
        campaign="tw", worker="w9", fetch_time=dt.datetime(2026, 11, 1, 12, i % 60, tzinfo=UTC), lang="de",
        title=f"Synthetic {i}", text=_FILLER * 3,
        quality={"alpha_words_frac": 0.9, "fw_line_punct_ratio": 0.9, "dup_line_char_frac": 0.0})
    base.update(kw)
    return Document(**base)


def synthetic_documents() -> list[Document]:
    """Documents aimed at the edges of each rule (they join a real processed campaign)."""
    d = []
    # domains: glob across dots, the glob's own suffix, case, subdomains, a host-only entry
    d.append(_doc(1, host="www.bmi.gv.at", domain="bmi.gv.at", url="https://www.bmi.gv.at/a"))
    d.append(_doc(2, host="gv.at", domain="gv.at", url="https://gv.at/"))
    d.append(_doc(3, host="News.SL.owdtest.si", domain="owdtest.si", lang="sl"))
    d.append(_doc(4, host="xx.owdtest.fi", domain="owdtest.fi", lang="fi"))
    d.append(_doc(5, host="xxx.owdtest.fi", domain="owdtest.fi", lang="fi"))
    d.append(_doc(6, host="owdtest.hr.evil.example", domain="evil.example", lang="hr"))
    # keywords: case, compounds, prefix, multi-word across punctuation and lines, case folding (ß)
    d.append(_doc(10, title="GESUNDHEIT heute", text=_FILLER))
    d.append(_doc(11, text="Das Gesundheitsamt hat geöffnet.\n" + _FILLER))
    d.append(_doc(12, text="Unsere Gesundheit.", lang="de", host="example.de", domain="example.de"))
    d.append(_doc(13, text="Gesundheitsamt in Wien.", host="wien.example.at", domain="example.at"))
    d.append(_doc(14, lang="en", text="A matter of public\nhealth for all. " * 3))
    d.append(_doc(15, lang="en", text="Public-Health policy and publichealth spelled together."))
    d.append(_doc(16, text="Die Hauptstraße ist gesperrt."))
    d.append(_doc(17, lang="en", text="COVID 19 and covid_19 and covid-1999."))
    d.append(_doc(18, lang="en", text="Unhealthy public healthcare debates."))
    d.append(_doc(19, text="Die Straße ist gesperrt."))
    # licenses: scheme and case differences, a longer path, too short, none
    lic = "https://creativecommons.org/licenses/by/4.0/"
    d.append(_doc(20, license_url="HTTP://CreativeCommons.org/licenses/by/3.0/", text="ž" * 500))
    d.append(_doc(21, license_url=lic, text="ž" * 499))
    d.append(_doc(22, license_url="https://creativecommons.org/licenses/by-sa/4.0/", text="x" * 600))
    d.append(_doc(23, license_url=None, text="x" * 600))
    # media kinds and URL patterns
    d.append(_doc(30, url="https://example.test/media/1", media=[MediaItem(url="https://m/1.mp3", kind="audio")]))
    d.append(_doc(31, url="https://example.test/Video/2", media=[MediaItem(url="https://m/2.webm", kind="video")]))
    d.append(_doc(32, url="https://example.test/media/3", media=[MediaItem(url="https://m/3.png", kind="image")]))
    d.append(_doc(33, url="https://example.test/page/4", media=[MediaItem(url="https://m/4.mp3", kind="audio")]))
    # quality: classifier score, heuristic near the threshold, missing signals
    d.append(_doc(40, lang="en", quality={"score": 0.61}))
    d.append(_doc(41, lang="fr", quality={"score": 0.59, "alpha_words_frac": 1.0, "fw_line_punct_ratio": 1.0,
                                            "dup_line_char_frac": 0.0}))
    d.append(_doc(42, lang="sl", quality={"alpha_words_frac": 0.8, "fw_line_punct_ratio": 0.75,
                                            "dup_line_char_frac": 0.0}))
    d.append(_doc(43, lang="sl", quality={"alpha_words_frac": 0.8, "fw_line_punct_ratio": 0.749,
                                            "dup_line_char_frac": 0.0}))
    d.append(_doc(44, lang="en", quality={}))
    # rights: TDMRep reserved, noai, explicitly not reserved; dropped; no language
    d.append(_doc(50, tdm_reservation=True, tdm_source="header", host="a.gv.at", domain="a.gv.at"))
    d.append(_doc(51, robots_noai=True, host="b.gv.at", domain="b.gv.at"))
    d.append(_doc(52, tdm_reservation=False, tdm_source="tdmrep.json", host="c.gv.at", domain="c.gv.at"))
    d.append(_doc(53, drop_reason="duplicate", host="d.gv.at", domain="d.gv.at"))
    d.append(_doc(54, lang=None, host="e.gv.at", domain="e.gv.at"))
    d.append(_doc(55, text=None, title=None, host="f.gv.at", domain="f.gv.at"))
    return d


def docs_campaign(folder: Path, docs: list[Document], *, process: dict[str, Any] | None = None,
                  pools: list[dict[str, Any]] | None = None) -> CampaignConfig:
    """A campaign file in ``folder`` whose ``docs/`` holds ``docs`` as one shard (no crawl):
    for what pools and cards make of given documents and process settings."""
    data: dict[str, Any] = {"campaign": "cards", "seeds": {"urls": ["https://example.test/"]},
                            "storage_root": str(folder / "data"), "pools": pools or [{"name": "all"}]}
    if process is not None:
        data["process"] = process
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "cards.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    cfg = load_campaign(config)
    write_parquet(docs, cfg.campaign_dir / "docs" / "a.parquet")
    return cfg


# ----------------------------------------------------------------------------- reference

def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _keyword_in(keyword: str, words: list[str]) -> bool:
    kw = keyword.strip().casefold()
    prefix = kw.endswith("*")
    want = _words(kw)
    for start in range(len(words) - len(want) + 1):
        window = words[start:start + len(want)]
        if window[:-1] != want[:-1]:
            continue
        if (window[-1].startswith(want[-1]) if prefix else window[-1] == want[-1]):
            return True
    return False


def _glob_regex(glob: str) -> str:
    out = ""
    for ch in glob:
        out += ".*" if ch == "*" else "." if ch == "?" else re.escape(ch)
    return out


def _domain_ok(entry: str, host: str, domain: str | None) -> bool:
    e = entry.lower()
    if "*" in e or "?" in e:
        rx = _glob_regex(e)
        return bool(re.fullmatch(rx, host) or (domain and re.fullmatch(rx, domain)))
    return host == e or host.endswith("." + e) or domain == e


def _tld_ok(tld: str, host: str) -> bool:
    labels = tld.lower().lstrip(".").split(".")
    return host.split(".")[-len(labels):] == labels


def _score(quality: dict[str, float]) -> float | None:
    if "score" in quality:
        return quality["score"]
    try:
        return quality["alpha_words_frac"] * quality["fw_line_punct_ratio"] * (1 - quality["dup_line_char_frac"])
    except KeyError:
        return None


def _no_scheme(url: str) -> str:
    return re.sub(r"^https?://", "", url, flags=re.I).lower()


def reference_member(pool: dict[str, Any], r: dict[str, Any]) -> bool:
    """Is record ``r`` (a row of the canonical schema as a dict) in ``pool``? Plain Python."""
    if r["drop_reason"] is not None or not r["lang"]:
        return False
    host, domain = r["host"].lower(), (r["domain"] or None)
    text = r["text"] or ""
    quality = dict(r["quality"] or [])
    checks = [
        not pool.get("languages") or r["lang"] in pool["languages"],
        not pool.get("tlds") or any(_tld_ok(t, host) for t in pool["tlds"]),
        not pool.get("domains") or any(_domain_ok(e, host, domain) for e in pool["domains"]),
        not pool.get("url_patterns") or any(re.search(p, r["url"]) for p in pool["url_patterns"]),
        not pool.get("keywords") or any(_keyword_in(k, _words((r["title"] or "") + "\n" + text))
                                        for k in pool["keywords"]),
        pool.get("min_quality") is None or ((s := _score(quality)) is not None and s >= pool["min_quality"]),
        not pool.get("licenses") or (r["license_url"] is not None and any(
            _no_scheme(r["license_url"]).startswith(_no_scheme(p)) for p in pool["licenses"])),
        not pool.get("media_kinds") or any(m["kind"] in pool["media_kinds"] for m in r["media"] or []),
        len(text) >= pool.get("min_length", 0),
        pool.get("tdm", "exclude") == "include" or not (r["tdm_reservation"] is True or r["robots_noai"] is True),
    ]
    return all(checks)
