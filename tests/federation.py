"""Sites for the federation tests: campaigns whose pools are built from given documents
(no crawl), and the DCAT-AP 3.0.1 SHACL check of a catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rdflib import Graph

from owd.core.config import CampaignConfig, load_campaign
from owd.core.schema import Document, write_parquet
from owd.pools.build import build_pools
from owd.shared_data import shared_data_dir
from tests.pools.helpers import synthetic_documents

# The shape groups of ../shared/data/dcat-ap as pyshacl loads them: the full shapes file,
# and the per-class files (mandatory, recommended, ranges, EU vocabularies) together.
# shacl_ranges.ttl is not used on its own: pyshacl rejects it without the shapes it
# refines ("not a well-formed SHACL PropertyShape"); html_shacl_range.ttl states the same ranges.
SHAPE_GROUPS = (("shacl_dcat-ap-SHACL.ttl",),
                ("html_shacl_shapes.ttl", "html_shacl_shapes_recommended.ttl", "html_shacl_range.ttl",
                 "html_shacl_mdr-vocabularies.shape.ttl"))


def site_campaign(folder: Path, campaign: str, pools: list[dict[str, Any]],
                  docs: list[Document] | None = None, **sections: Any) -> Path:
    """A campaign file in ``folder`` with ``docs`` (default: the pool tests' edge cases) as
    its one docs shard and its pools built; returns the file."""
    data: dict[str, Any] = {"campaign": campaign, "seeds": {"urls": ["https://example.test/"]},
                            "storage_root": str(folder / "data"), "pools": pools,
                            "publisher": {"name": f"site of {campaign}", "themes": ["TECH"], "countries": ["AUT"]},
                            **sections}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{campaign}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    cfg = load_campaign(path)
    rows = docs if docs is not None else synthetic_documents()
    write_parquet([_in(cfg, d) for d in rows], cfg.campaign_dir / "docs" / "s0.parquet")
    summary = build_pools(cfg)
    assert not summary.failed_shards
    return path


def _in(cfg: CampaignConfig, doc: Document) -> Document:
    import dataclasses

    return dataclasses.replace(doc, campaign=cfg.campaign)


def shacl_violations(g: Graph) -> list[str]:
    """Every sh:Violation of ``g`` against each shape group (warnings, for recommended
    properties owd cannot state, are not violations)."""
    from pyshacl import validate

    root = shared_data_dir()
    assert root is not None, "the SHACL check needs ../shared/data (mark the test shared_data)"
    shapes_dir = root / "dcat-ap"
    found = []
    for group in SHAPE_GROUPS:
        shapes = Graph()
        for name in group:
            shapes.parse(shapes_dir / name, format="turtle")
        _, report, _ = validate(g, shacl_graph=shapes, inference="none", allow_warnings=True)
        # top-level results only: a Warning's nested sh:detail results carry the default severity
        query = """SELECT ?focus ?path ?message WHERE { ?report sh:result ?r . ?r sh:resultSeverity sh:Violation ;
                   sh:focusNode ?focus . OPTIONAL { ?r sh:resultPath ?path } OPTIONAL { ?r sh:resultMessage ?message } }"""
        for focus, path, message in report.query(query, initNs={"sh": "http://www.w3.org/ns/shacl#"}):
            found.append(f"{group[0]}: {focus} {path}: {message}")
    return found
