"""The cards state what `owd process` did to the documents: filters, PII and dedup as they ran.

Each campaign here is a few documents written straight into ``docs/`` (no crawl) with
the process settings under test, so the cards are checked against settings and
document marks chosen by the test.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from owd.core.config import CampaignConfig
from owd.core.schema import Document
from owd.pools.build import build_pools
from tests.pools.helpers import docs_campaign, synthetic_documents

_FW_RULES = ("fw_min_line_punct_ratio", "fw_max_short_line_ratio", "fw_max_char_dup_ratio", "fw_max_list_ratio")
# Every filter off; FineWeb is switched on but has no rule left (none for any language either).
_NO_FILTERS = {"gopher_quality": False, "gopher_repetition": False, "c4": False, "fineweb": True,
               **{name: None for name in _FW_RULES}, "per_language": {}}


def _deduplicated(docs: list[Document]) -> list[Document]:
    """``docs`` as dedup leaves them: every document in a cluster, synthetic-053 a dropped copy of 052."""
    out = [dataclasses.replace(d, dup_cluster_id=d.id, dup_cluster_size=1) for d in docs]
    for i, d in enumerate(out):
        if d.id in ("synthetic-052", "synthetic-053"):
            out[i] = dataclasses.replace(d, dup_cluster_id="synthetic-052", dup_cluster_size=2)
    return out


def _cards(cfg: CampaignConfig, pool: str = "all") -> tuple[dict[str, Any], str, str]:
    """(summary.json, Croissant's preprocessing text, DCAT's provenance text) of a built pool."""
    folder = cfg.campaign_dir / "pools" / pool
    summary = json.loads((folder / "summary.json").read_text())
    croissant = json.loads((folder / "croissant.json").read_text())["rai:dataPreprocessingProtocol"]
    dataset = json.loads((folder / "dcat.jsonld").read_text())["@graph"][0]
    return summary, croissant, dataset["dct:provenance"]["rdfs:label"]["@value"]


def test_cards_say_so_when_no_filter_pii_or_dedup_ran(tmp_path: Path) -> None:
    docs = [d for d in synthetic_documents() if d.drop_reason is None]  # as a run without dedup leaves them
    cfg = docs_campaign(tmp_path, docs, process={"quality": _NO_FILTERS, "pii": {"enabled": False}})
    build_pools(cfg)
    summary, croissant, provenance = _cards(cfg)
    p = summary["processing"]
    assert p["quality_filters"].startswith("none applied"), p
    assert p["quality_filters_applied"] == []
    assert p["personal_data"].startswith("not applied"), p
    assert p["personal_data_kinds"] == []
    assert p["deduplication"].startswith("not applied"), p  # no document carries a cluster
    assert p["documents_dropped"] == {}
    for text in (croissant, provenance):
        for claim in ("Gopher", "FineWeb", "C4", "e-mail", "IBAN", "PII pseudonymisation", "duplicates removed"):
            assert claim not in text, (claim, text)
        assert "no quality filters" in text and "not pseudonymised" in text and "not deduplicated" in text, text


def test_cards_name_exactly_the_filters_and_kinds_that_ran(tmp_path: Path) -> None:
    docs = _deduplicated(synthetic_documents())
    docs[0] = dataclasses.replace(docs[0], drop_reason="gopher_quality:too_few_words")
    process = {"quality": {"c4": False, "fineweb": False}, "pii": {"kinds": ["email"]}, "dedup_keep": "longest"}
    cfg = docs_campaign(tmp_path, docs, process=process)
    build_pools(cfg)
    summary, croissant, provenance = _cards(cfg)
    p = summary["processing"]
    assert p["quality_filters_applied"] == ["gopher_quality", "gopher_repetition"]
    assert "Gopher quality" in p["quality_filters"] and "Gopher repetition" in p["quality_filters"]
    assert "C4" not in p["quality_filters"] and "FineWeb" not in p["quality_filters"]
    assert p["documents_dropped"] == {"duplicate": 1, "gopher_quality": 1}
    assert p["personal_data_kinds"] == ["email"]
    assert p["personal_data"].startswith("e-mail addresses pseudonymised"), p["personal_data"]
    assert p["personal_data"].endswith("phone numbers, IP addresses, IBANs not pseudonymised")
    assert "longest" in p["deduplication"] and "1 duplicate" in p["deduplication"]
    assert "Gopher quality, Gopher repetition" in croissant and "C4" not in croissant and "phone" not in croissant
    assert "Gopher quality, Gopher repetition" in provenance and "e-mail addresses" in provenance
    # the same inputs give the same bytes (no clock in the cards)
    before = (cfg.campaign_dir / "pools" / "all" / "summary.json").read_bytes()
    build_pools(cfg, force=True)
    assert (cfg.campaign_dir / "pools" / "all" / "summary.json").read_bytes() == before


def test_documents_filtered_under_earlier_settings_still_count_as_filtered(tmp_path: Path) -> None:
    """Settings switched off after processing do not erase what the documents show."""
    docs = synthetic_documents()
    docs[0] = dataclasses.replace(docs[0], drop_reason="fineweb:line_punct_ratio")
    cfg = docs_campaign(tmp_path, docs, process={"quality": _NO_FILTERS, "pii": {"enabled": False}})
    build_pools(cfg)
    p = _cards(cfg)[0]["processing"]
    assert p["quality_filters_applied"] == ["fineweb"] and "FineWeb" in p["quality_filters"]


def test_changed_process_settings_rebuild_the_cards(tmp_path: Path) -> None:
    cfg = docs_campaign(tmp_path, synthetic_documents())
    build_pools(cfg)
    assert "Gopher quality" in _cards(cfg)[0]["processing"]["quality_filters"]
    cfg = docs_campaign(tmp_path / "again", synthetic_documents(), process={"quality": _NO_FILTERS})
    cfg = dataclasses.replace(cfg, storage_root=str(tmp_path / "data"))  # the first campaign's folder
    summary = build_pools(cfg)
    assert summary.built == ["all"], "the cards quote the process settings: a change must rebuild them"
    assert _cards(cfg)[0]["processing"]["quality_filters"].startswith("none applied")
