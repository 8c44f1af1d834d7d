"""Write a campaign file that crawls a given test web (tests, benchmarks, demo variants)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from owd.testweb.content import TestSite

__all__ = ["write_testweb_campaign"]


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def write_testweb_campaign(site: TestSite, folder: Path, name: str = "tw", seed_urls: list[str] | None = None,
                           **overrides: Any) -> Path:
    """Write ``<folder>/<name>.yaml`` (+ seeds and host table) crawling ``site``.

    ``seed_urls`` default to every host's home page. ``overrides`` are merged section by
    section into the campaign, e.g. ``politeness={"tdm": "skip"}``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}-seeds.txt").write_text("\n".join(seed_urls or site.seed_urls()) + "\n")
    (folder / f"{name}.hosts").write_text(site.hosts_file())
    campaign: dict[str, Any] = {
        "campaign": name,
        "storage_root": str(folder / "data"),
        "seeds": {"files": [f"{name}-seeds.txt"], "sitemaps": [site.url(site.hosts[0].name, "/sitemap_index.xml")]},
        "scope": {"max_depth": 6, "max_pages_per_host": 400},
        # Fast manners for a loopback test web whose slow and hanging paths are slow on
        # purpose: no slow-host wait (tests/crawler/test_manners.py checks the rule with
        # the default politeness, passed explicitly).
        "politeness": {"delay": 0.05, "concurrency_per_host": 2, "concurrency": 32, "autothrottle": False,
                       "slow_host_factor": 0.0},
        "limits": {"timeout": 2, "max_response_bytes": "10 MiB"},
        "media": {"kinds": ["image", "audio", "video"]},
        "network": {"allow_networks": ["127.0.1.0/24"], "hosts_file": f"{name}.hosts", "static_dns_only": True},
    }
    campaign = _merge(campaign, overrides)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(campaign, sort_keys=False, allow_unicode=True))
    return path
