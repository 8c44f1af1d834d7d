"""Data cards of a media pool (pools/media_pools.py): Croissant, DCAT-AP, AI Act summary.

The same three files as a document pool (pools/cards.py) with what differs for media:
Croissant's record set describes the media fields (the image as ``sc:ImageObject``);
DCAT-AP gets one distribution per format (Parquet, and WebDataset tar shards when the
pool has them); the AI Act summary counts media by kind and the share left out for
rights reservations, by signal. Every value comes from the manifest, the rule and the
campaign, never the clock: a rebuild from the same inputs writes the same bytes.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from owd.core.config import CampaignConfig, PoolConfig
from owd.pools.cards import CROISSANT_CONTEXT, _DCAT_CONTEXT, _FILE_TYPE_PARQUET, _IANA_PARQUET, _literal, _write_json

__all__ = ["write_media_cards", "media_croissant", "media_dcat", "media_summary"]

_FILE_TYPE_TAR = "http://publications.europa.eu/resource/authority/file-type/TAR"
_IANA_TAR = "https://www.iana.org/assignments/media-types/application/x-tar"
_SCALAR = {pa.string(): "sc:Text", pa.int32(): "sc:Integer", pa.int64(): "sc:Integer", pa.float64(): "sc:Float",
           pa.bool_(): "sc:Boolean"}
_MODALITY = {"image-text": "image and text", "audio": "audio", "video": "video", "interleaved": "text and image"}


def _rights_counts(stats: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    excluded = {k.split("/", 1)[1]: n for k, n in stats.items() if k.startswith("reserved_excluded/")}
    included = {k.split("/", 1)[1]: n for k, n in stats.items() if k.startswith("reserved_included/")}
    return excluded, included


def media_croissant(pool: PoolConfig, cfg: CampaignConfig, manifest: dict[str, Any], schema: pa.Schema
                    ) -> dict[str, Any]:
    fields = []
    for f in schema:
        if f.name == "image":
            data_type = "sc:ImageObject"
        elif f.type in _SCALAR:
            data_type = _SCALAR[f.type]
        else:
            continue  # lists and structs: in the files, not described field by field (see pools/cards.py)
        source: dict[str, Any] = {"fileSet": {"@id": "parquet-files"}, "extract": {"column": f.name}}
        if f.name == "image":  # the column is HF's {bytes, path} struct: the image is its bytes
            source["transform"] = {"jsonPath": "bytes"}
        fields.append({"@type": "cr:Field", "@id": f"samples/{f.name}", "name": f.name, "dataType": data_type,
                       "source": source})
    distribution: list[dict[str, Any]] = [{
        "@type": "cr:FileSet", "@id": "parquet-files", "name": "parquet-files",
        "description": f"{manifest['documents']} samples in {len(manifest['files'])} Parquet file(s)",
        "encodingFormat": "application/x-parquet", "includes": "data/*.parquet"}]
    if manifest.get("webdataset"):
        distribution.append({"@type": "cr:FileSet", "@id": "webdataset-shards", "name": "webdataset-shards",
                             "description": "The same samples as WebDataset tar shards (<key>.<ext> + <key>.json)",
                             "encodingFormat": "application/x-tar", "includes": "webdataset/*.tar"})
    return {
        "@context": CROISSANT_CONTEXT, "@type": "sc:Dataset", "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": pool.name,
        "description": pool.description or f"{pool.kind} pool {pool.name} of the owd campaign {cfg.campaign}",
        "url": cfg.politeness.contact_url, "version": "1.0.0",
        "citeAs": f"owd {pool.kind} pool {pool.name} of campaign {cfg.campaign} ({cfg.politeness.contact_url})",
        "license": ["see the license_url column (the licence of the page that shows the media item)"],
        "isAccessibleForFree": True,
        "rai:dataCollection": (f"Web crawl by {cfg.politeness.user_agent} ({cfg.politeness.contact_url}); media "
                               f"files captured with their pages; TDMRep, noai and noimageai recorded per item"),
        "rai:dataCollectionType": "Web Scraping",
        "rai:dataPreprocessingProtocol": (
            "Media type sniffed from the bytes; images decoded in full (broken files left out); exact and "
            "perceptual-hash duplicates clustered, one sample per cluster; rights-reserved media "
            + ("INCLUDED (tdm: include)" if pool.tdm == "include" else "excluded")),
        "distribution": distribution,
        "recordSet": [{"@type": "cr:RecordSet", "@id": "samples", "name": "samples",
                       "description": f"One {pool.kind} sample per record", "key": {"@id": "samples/key"},
                       "field": fields}],
    }


def media_dcat(pool: PoolConfig, cfg: CampaignConfig, manifest: dict[str, Any]) -> dict[str, Any]:
    excluded, _ = _rights_counts(manifest["stats"])
    rights = (f"Media items whose page or media origin reserved their use (TDMRep, noai, noimageai) are "
              f"{'INCLUDED' if pool.tdm == 'include' else 'excluded'} ({sum(excluded.values())} left out). "
              f"Licences are per sample (license_url column).")
    def distribution(key: str, title: str, description: str, files: list[dict[str, Any]], file_type: str,
                     media_type: str) -> dict[str, Any]:
        return {"@id": f"#distribution-{key}", "@type": "dcat:Distribution", "dct:title": _literal(title),
                "dct:description": _literal(description), "dcat:accessURL": {"@id": "./"},
                "dcat:downloadURL": [{"@id": f["path"]} for f in files],
                "dct:format": {"@id": file_type}, "dcat:mediaType": {"@id": media_type},
                "dcat:byteSize": {"@value": str(sum(f["bytes"] for f in files)), "@type": "xsd:nonNegativeInteger"},
                "dct:rights": {"@type": "dct:RightsStatement", "rdfs:label": _literal(rights)}}

    dists = [distribution("parquet", f"{pool.name} as Parquet",
                          "Parquet files, zstd; the image column loads as datasets.Image()",
                          manifest["files"], _FILE_TYPE_PARQUET, _IANA_PARQUET)]
    if manifest.get("webdataset"):
        dists.append(distribution("webdataset", f"{pool.name} as WebDataset tar shards",
                                  "Tar shards, one <key>.<image ext> and one <key>.json per sample",
                                  manifest["webdataset"], _FILE_TYPE_TAR, _IANA_TAR))
    dataset = {
        "@id": "#dataset", "@type": "dcat:Dataset",
        "dct:title": _literal(f"{pool.name}: owd {pool.kind} pool of campaign {cfg.campaign}"),
        "dct:description": _literal(pool.description or f"{pool.kind} pool {pool.name} of campaign {cfg.campaign}"),
        "dct:identifier": f"owd:{cfg.campaign}/{pool.name}",
        "dct:publisher": {"@id": "#publisher"}, "dcat:contactPoint": {"@id": "#contact"},
        "dcat:distribution": [{"@id": d["@id"]} for d in dists],
    }
    return {"@context": _DCAT_CONTEXT, "@graph": [
        dataset, *dists,
        {"@id": "#publisher", "@type": "foaf:Agent", "foaf:name": f"owd campaign {cfg.campaign}",
         "foaf:homepage": {"@id": cfg.politeness.contact_url}},
        {"@id": "#contact", "@type": "vcard:Kind", "vcard:fn": f"owd campaign {cfg.campaign}",
         "vcard:hasURL": {"@id": cfg.politeness.contact_url}},
    ]}


def media_summary(pool: PoolConfig, cfg: CampaignConfig, manifest: dict[str, Any]) -> dict[str, Any]:
    stats = manifest["stats"]
    excluded, included = _rights_counts(stats)
    seen = {k.split("/", 1)[1]: n for k, n in stats.items() if k.startswith("seen/")}
    matching = manifest["documents"] + stats.get("duplicates_left_out", 0) + sum(excluded.values())
    return {
        "template": "EU AI Act Art. 53(1)(d) public summary of training content (Commission template, July 2025)",
        "pool": pool.name, "kind": pool.kind, "campaign": cfg.campaign,
        "general": {"modality": _MODALITY[pool.kind], "samples": manifest["documents"],
                    "parquet_bytes": manifest["bytes"],
                    "webdataset_bytes": sum(t["bytes"] for t in manifest.get("webdataset", []))},
        "crawled_sources": {"crawler": {"user_agent": cfg.politeness.user_agent,
                                        "contact_url": cfg.politeness.contact_url,
                                        "obeys_robots_txt": cfg.politeness.obey_robots},
                            "media_in_campaign_by_kind": dict(sorted(seen.items()))},
        "rights_reservations": {
            "policy": pool.tdm,
            "signals": ["TDMRep of the page", "TDMRep of the media URL's origin", "robots noai",
                        "robots noimageai (images)"],
            "excluded_by_signal": dict(sorted(excluded.items())),
            "included_by_signal": dict(sorted(included.items())),
            "share_left_out_for_rights": round(sum(excluded.values()) / matching, 6) if matching else 0.0,
            "treatment": ("included: the pool opted in to rights-reserved media (tdm: include)" if pool.tdm == "include"
                          else "excluded: media whose page or origin reserved their use are not in the pool"),
        },
        "processing": {"deduplication": "exact (sha256) and near-duplicate images (perceptual hash), one "
                                        "sample per cluster", "duplicates_left_out": stats.get("duplicates_left_out", 0)},
        "rules": asdict(pool),
        "left_out_by_rule": {k.split("/", 1)[1]: n for k, n in stats.items() if k.startswith("left_out/")},
    }


def write_media_cards(folder: Path, pool: PoolConfig, cfg: CampaignConfig, manifest: dict[str, Any]) -> None:
    import pyarrow.parquet as pq

    files = sorted((folder / "data").glob("*.parquet"))
    schema = pq.read_schema(files[0]) if files else pa.schema([])
    _write_json(folder / "croissant.json", media_croissant(pool, cfg, manifest, schema))
    _write_json(folder / "dcat.jsonld", media_dcat(pool, cfg, manifest))
    _write_json(folder / "summary.json", media_summary(pool, cfg, manifest))
