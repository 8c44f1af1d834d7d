"""Data cards beside each pool: Croissant, DCAT-AP and the EU AI Act training-content summary.

* ``croissant.json``: MLCommons Croissant 1.0 (the format the HF Hub serves). One
  ``cr:FileSet`` (``lang=*/*.parquet``, relative to the card, so a pulled copy still
  loads) and one ``cr:RecordSet`` whose fields are the scalar Parquet columns and
  the list-of-string columns (``outlinks``, ``pools``). The struct and list-of-struct
  columns (``lang_topk``, ``media``, ``quality``, ``pii``) are in the files but not
  described field by field: mlcroissant reads Parquet through pandas, which hands
  nested values over as opaque objects that its field extraction cannot address.
* ``dcat.jsonld``: a DCAT-AP 3 ``dcat:Dataset`` and ``dcat:Distribution`` with the
  mandatory properties (title, description; accessURL) and the recommended ones we
  know. IRIs of the dataset's own parts are relative (``#dataset``, ``./``), so they
  resolve to wherever the card is read from. Languages use the EU authority table.
* ``summary.json``: the numbers of the Commission's template for the public summary
  of training content (AI Act Art. 53(1)(d), July 2025), section by section.

Every value comes from the documents and the campaign file, never the clock, so a
rebuild from the same inputs writes the same bytes. What the cards say about
processing (quality filters, PII pseudonymisation, deduplication) is what ran: the
campaign's ``process`` settings, joined with the marks `owd process` left on the
documents (drop reasons, duplicate clusters, PII replacement counts), so a step
switched off is never claimed, and a step the documents show did run is never hidden.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from owd.core.pii_config import PII_KINDS
from owd.core.quality_config import FILTERS, active_filters
from owd.core.config import CampaignConfig, PoolConfig
from owd.core.schema import DOCUMENT_SCHEMA
from owd.pools.langs import language_uri
from owd.pools.stats import CHARS_PER_TOKEN, PoolStats

__all__ = ["write_cards", "croissant", "dcat", "summary", "processing_settings", "CROISSANT_CONTEXT"]

CROISSANT_CONTEXT: dict[str, Any] = {
    "@language": "en", "@vocab": "https://schema.org/", "citeAs": "cr:citeAs", "column": "cr:column",
    "conformsTo": "dct:conformsTo", "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/", "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty", "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract", "field": "cr:field",
    "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject", "fileSet": "cr:fileSet",
    "format": "cr:format", "includes": "cr:includes", "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5", "parentField": "cr:parentField",
    "path": "cr:path", "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex",
    "repeated": "cr:repeated", "replace": "cr:replace", "samplingRate": "cr:samplingRate", "sc": "https://schema.org/",
    "separator": "cr:separator", "source": "cr:source", "subField": "cr:subField", "transform": "cr:transform",
}
_DCAT_CONTEXT: dict[str, str] = {
    "dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/", "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#", "xsd": "http://www.w3.org/2001/XMLSchema#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#", "dcatap": "http://data.europa.eu/r5r/",
}
_FILE_TYPE_PARQUET = "http://publications.europa.eu/resource/authority/file-type/PARQUET"
_IANA_PARQUET = "https://www.iana.org/assignments/media-types/application/vnd.apache.parquet"
_CROISSANT_TYPES = {
    pa.string(): "sc:Text", pa.bool_(): "sc:Boolean", pa.int16(): "sc:Integer", pa.int32(): "sc:Integer",
    pa.int64(): "sc:Integer", pa.float64(): "sc:Float", pa.date32(): "sc:Date",
}
_TOP_DOMAIN_SHARE = 0.10  # the template: "top 10% of all domain names determined by the size of the content"
_FILTER_NAMES = {"gopher_quality": "Gopher quality", "gopher_repetition": "Gopher repetition", "c4": "C4",
                 "fineweb": "FineWeb"}
_PII_NAMES = {"email": "e-mail addresses", "phone": "phone numbers", "ip": "IP addresses", "iban": "IBANs"}


def processing_settings(cfg: CampaignConfig) -> dict[str, Any]:
    """The campaign's process settings the cards quote (the pool fingerprint includes them).

    The PII salt is left out: it is a secret, and the cards do not depend on it.
    """
    p = cfg.process
    return {"quality_filters": active_filters(p.quality),
            "pii_kinds": [k for k in PII_KINDS if k in p.pii.kinds] if p.pii.enabled else [],
            "dedup_keep": p.dedup_keep}


@dataclass(frozen=True)
class _Processing:
    """What `owd process` did to the campaign's documents, as the cards state it."""

    quality: list[str]  # filters applied (FILTERS order)
    quality_dropped: int  # campaign documents a quality filter dropped
    pii: list[str]  # kinds pseudonymised (PII_KINDS order)
    pii_replacements: int  # in the pool's documents
    documents: int  # of the campaign
    deduplicated: int  # campaign documents that carry a duplicate cluster
    duplicates: int  # campaign documents dropped as duplicates
    dedup_keep: str

    @classmethod
    def of(cls, cfg: CampaignConfig, stats: PoolStats) -> "_Processing":
        settings = processing_settings(cfg)
        drops = stats.campaign_drops
        # The documents show what ran even if the settings changed since `owd process`:
        # a filter's drop reason, or replacements of a PII kind, count as applied.
        quality = [f for f in FILTERS if f in settings["quality_filters"] or drops.get(f)]
        pii: list[str] = [k for k in PII_KINDS if k in settings["pii_kinds"] or stats.pii_replacements.get(k)]
        return cls(quality, sum(drops.get(f, 0) for f in FILTERS), pii, sum(stats.pii_replacements.values()),
                   stats.campaign_documents, stats.campaign_deduplicated, drops.get("duplicate", 0),
                   settings["dedup_keep"])

    @property
    def undeduplicated(self) -> int:
        return self.documents - self.deduplicated

    def quality_statement(self) -> str:
        if not self.quality:
            return ("none applied: every quality filter is off in the campaign's process settings, and no "
                    "document carries a quality filter's drop reason")
        return (f"{_join(_FILTER_NAMES[f] for f in self.quality)} heuristics applied; the "
                f"{self.quality_dropped} campaign document(s) that failed them are not in the pool")

    def pii_statement(self) -> str:
        if not self.pii:
            return ("not applied: PII pseudonymisation is off in the campaign's process settings; e-mail "
                    "addresses, phone numbers, IP addresses and IBANs are left as published")
        left = [k for k in PII_KINDS if k not in self.pii]
        return (f"{_join(_PII_NAMES[k] for k in self.pii)} pseudonymised (salted-hash placeholders), "
                f"{self.pii_replacements} replacement(s) in this pool"
                + (f"; {_join(_PII_NAMES[k] for k in left)} not pseudonymised" if left else ""))

    def dedup_statement(self) -> str:
        if not self.deduplicated:
            return "not applied: no document of the campaign carries a duplicate cluster"
        plural = "" if self.duplicates == 1 else "s"
        return (f"exact and MinHash near duplicates clustered per language, one kept per cluster (keep: "
                f"{self.dedup_keep}); {self.duplicates} duplicate{plural} dropped"
                + (f"; {self.undeduplicated} of {self.documents} campaign documents were not deduplicated"
                   if self.undeduplicated else ""))

    def short(self) -> list[str]:
        """The three steps in a few words each, for the Croissant and DCAT descriptions."""
        quality = (f"quality filters {_join(_FILTER_NAMES[f] for f in self.quality)} (failing documents removed)"
                   if self.quality else "no quality filters")
        pii = (f"{_join(_PII_NAMES[k] for k in self.pii)} pseudonymised" if self.pii
               else "personal data not pseudonymised")
        dedup = ("not deduplicated" if not self.deduplicated else "exact and MinHash near duplicates removed"
                 + (f" ({self.undeduplicated} documents not deduplicated)" if self.undeduplicated else ""))
        return [quality, pii, dedup]


def _join(names: Any) -> str:
    return ", ".join(names)


def _croissant_type(t: pa.DataType) -> tuple[str, bool] | None:
    if pa.types.is_timestamp(t):
        return "sc:DateTime", False
    if pa.types.is_list(t) and t.value_type == pa.string():
        return "sc:Text", True
    return (_CROISSANT_TYPES[t], False) if t in _CROISSANT_TYPES else None


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _languages(stats: PoolStats) -> list[str]:
    return sorted(stats.by_lang_docs)


def _keywords(pool: PoolConfig) -> list[str]:
    return ["web text", "EU languages", *pool.keywords, *pool.languages]


def croissant(pool: PoolConfig, cfg: CampaignConfig, stats: PoolStats, manifest: dict[str, Any]) -> dict[str, Any]:
    """Croissant 1.0 JSON-LD for one pool (loads with ``mlcroissant.Dataset``)."""
    steps = _Processing.of(cfg, stats).short()
    fields = []
    for f in DOCUMENT_SCHEMA:
        kind = _croissant_type(f.type)
        if kind is None:
            continue
        data_type, repeated = kind
        entry: dict[str, Any] = {
            "@type": "cr:Field", "@id": f"documents/{f.name}", "name": f.name, "dataType": data_type,
            "source": {"fileSet": {"@id": "parquet-files"}, "extract": {"column": f.name}},
        }
        if repeated:
            entry["repeated"] = True
        fields.append(entry)
    licenses = sorted(k for k in stats.licenses if k != "none")
    return {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": pool.name,
        "description": pool.description or f"Pool {pool.name} of the owd campaign {cfg.campaign}",
        "url": cfg.politeness.contact_url,
        "version": "1.0.0",
        "citeAs": f"owd data pool {pool.name} of campaign {cfg.campaign} ({cfg.politeness.contact_url})",
        "datePublished": _iso(stats.last_fetch),
        "creator": {"@type": "sc:Organization", "name": f"owd campaign {cfg.campaign}",
                    "url": cfg.politeness.contact_url},
        "inLanguage": _languages(stats),
        "keywords": _keywords(pool),
        # Per-document licenses live in the license_url column; the dataset has no single one.
        "license": licenses or ["see the license_url column; documents without one carry no license statement"],
        "isAccessibleForFree": True,
        "rai:dataCollection": (f"Web crawl by {cfg.politeness.user_agent} ({cfg.politeness.contact_url}), "
                               f"robots.txt {'obeyed' if cfg.politeness.obey_robots else 'not obeyed'}, "
                               f"TDMRep and noai signals recorded per document"),
        "rai:dataCollectionType": "Web Scraping",
        "rai:dataCollectionTimeframe": [t for t in (_iso(stats.first_fetch), _iso(stats.last_fetch)) if t],
        "rai:dataPreprocessingProtocol": (
            "Main text extracted from HTML; language identified (fastText lid.176); " + "; ".join(steps)
            + f"; rights-reserved documents {'included' if pool.tdm == 'include' else 'excluded'}"),
        "distribution": [{
            "@type": "cr:FileSet", "@id": "parquet-files", "name": "parquet-files",
            "description": f"{manifest['documents']} documents in {len(manifest['files'])} Parquet file(s), "
                           "hive-partitioned by language",
            "encodingFormat": "application/x-parquet", "includes": "lang=*/*.parquet",
        }],
        "recordSet": [{
            "@type": "cr:RecordSet", "@id": "documents", "name": "documents",
            "description": "One web document per record (owd canonical schema)",
            "key": {"@id": "documents/id"},
            "field": fields,
        }],
    }


def _literal(value: str) -> dict[str, str]:
    return {"@value": value, "@language": "en"}


def dcat(pool: PoolConfig, cfg: CampaignConfig, stats: PoolStats, manifest: dict[str, Any]) -> dict[str, Any]:
    """DCAT-AP 3 JSON-LD (a Dataset, its Distribution, publisher, contact, period)."""
    title = f"{pool.name}: owd data pool of campaign {cfg.campaign}"
    description = pool.description or f"Pool {pool.name} of the owd campaign {cfg.campaign}"
    licenses = sorted(k for k in stats.licenses if k != "none")
    dataset: dict[str, Any] = {
        "@id": "#dataset", "@type": "dcat:Dataset",
        "dct:title": _literal(title), "dct:description": _literal(description),
        "dct:identifier": f"owd:{cfg.campaign}/{pool.name}",
        "dcat:keyword": [_literal(k) for k in _keywords(pool)],
        "dct:language": [{"@id": language_uri(code)} for code in _languages(stats)],
        "dct:publisher": {"@id": "#publisher"},
        "dcat:contactPoint": {"@id": "#contact"},
        "dcat:distribution": {"@id": "#distribution"},
        "dct:provenance": {"@type": "dct:ProvenanceStatement", "rdfs:label": _literal(
            f"Crawled from the web by {cfg.politeness.user_agent}; processed by owd (extraction, language "
            f"identification; {'; '.join(_Processing.of(cfg, stats).short())}).")},
    }
    graph: list[dict[str, Any]] = [dataset]
    if stats.first_fetch is not None:
        dataset["dct:temporal"] = {"@id": "#period"}
        dataset["dct:modified"] = {"@value": _iso(stats.last_fetch), "@type": "xsd:dateTime"}
        graph.append({"@id": "#period", "@type": "dct:PeriodOfTime",
                      "dcat:startDate": {"@value": _iso(stats.first_fetch), "@type": "xsd:dateTime"},
                      "dcat:endDate": {"@value": _iso(stats.last_fetch), "@type": "xsd:dateTime"}})
    rights = (f"Licenses are per document (license_url column); seen: {', '.join(licenses) or 'none'}. "
              f"Documents whose rights holder reserved text-and-data mining (TDMRep, noai) are "
              f"{'INCLUDED' if pool.tdm == 'include' else 'excluded'}.")
    distribution: dict[str, Any] = {
        "@id": "#distribution", "@type": "dcat:Distribution",
        "dct:title": _literal(f"{pool.name} as Parquet, partitioned by language"),
        "dct:description": _literal("Hive-partitioned Parquet (lang=<code>/part-*.parquet), zstd, canonical "
                                    "owd document schema; croissant.json beside it describes the records."),
        "dcat:accessURL": {"@id": "./"},
        "dcat:downloadURL": [{"@id": f["path"]} for f in manifest["files"]],
        "dct:format": {"@id": _FILE_TYPE_PARQUET},
        "dcat:mediaType": {"@id": _IANA_PARQUET},
        "dcat:byteSize": {"@value": str(manifest["bytes"]), "@type": "xsd:nonNegativeInteger"},
        "dct:rights": {"@type": "dct:RightsStatement", "rdfs:label": _literal(rights)},
    }
    if len(licenses) == 1 and stats.licenses.get("none", 0) == 0:
        distribution["dct:license"] = {"@id": licenses[0]}
    graph += [
        distribution,
        {"@id": "#publisher", "@type": "foaf:Agent", "foaf:name": f"owd campaign {cfg.campaign}",
         "foaf:homepage": {"@id": cfg.politeness.contact_url}},
        {"@id": "#contact", "@type": "vcard:Kind", "vcard:fn": f"owd campaign {cfg.campaign}",
         "vcard:hasURL": {"@id": cfg.politeness.contact_url}},
    ]
    return {"@context": _DCAT_CONTEXT, "@graph": graph}


def summary(pool: PoolConfig, cfg: CampaignConfig, stats: PoolStats, manifest: dict[str, Any]) -> dict[str, Any]:
    """The AI Act training-content summary numbers for one pool (see the module docstring)."""
    n_top = max(1, math.ceil(len(stats.by_domain_bytes) * _TOP_DOMAIN_SHARE)) if stats.by_domain_bytes else 0
    top = sorted(stats.by_domain_bytes.items(), key=lambda kv: (-kv[1], kv[0]))[:n_top]
    reserved_docs = stats.reserved_in_pool_docs + stats.reserved_excluded_docs
    reserved_bytes = stats.reserved_in_pool_bytes + stats.reserved_excluded_bytes
    candidate_bytes = stats.text_bytes + stats.reserved_excluded_bytes
    include = pool.tdm == "include"
    steps = _Processing.of(cfg, stats)
    return {
        "template": "EU AI Act Art. 53(1)(d) public summary of training content (Commission template, July 2025)",
        "pool": pool.name,
        "description": pool.description,
        "campaign": cfg.campaign,
        "campaign_description": cfg.description,
        "general": {
            "modality": "text",
            "documents": stats.documents,
            "text_bytes": stats.text_bytes,
            "characters": stats.chars,
            "approx_tokens": stats.approx_tokens,
            "approx_tokens_method": f"characters / {CHARS_PER_TOKEN:g}",
            "parquet_bytes": manifest["bytes"],
            "languages": {lang: {"documents": stats.by_lang_docs[lang], "text_bytes": stats.by_lang_bytes[lang]}
                          for lang in _languages(stats)},
        },
        "crawled_sources": {
            "crawler": {
                "user_agent": cfg.politeness.user_agent,
                "contact_url": cfg.politeness.contact_url,
                "software": "owd (Scrapy-based crawler)",
                "workers": sorted(stats.workers),
                "obeys_robots_txt": cfg.politeness.obey_robots,
                "tdm_reserved_content_fetched": cfg.politeness.tdm == "record",
            },
            "collection_period": {"start": _iso(stats.first_fetch), "end": _iso(stats.last_fetch)},
            "content": "Main text of HTML web pages with title and metadata; references to images, audio "
                       "and video (URL, alt text, caption) without the media themselves",
            "documents_with_media": dict(sorted(stats.media_kinds.items())),
            "domains_total": len(stats.by_domain_bytes),
            "top_domains_rule": "top 10% of registered domains by content size (UTF-8 bytes of text), at least one",
            "top_domains": [{"domain": d, "text_bytes": b, "documents": stats.by_domain_docs[d],
                             "share": round(b / stats.text_bytes, 6) if stats.text_bytes else 0.0} for d, b in top],
        },
        "rights_reservations": {
            "policy": pool.tdm,
            "signals": ["TDMRep /.well-known/tdmrep.json", "tdm-reservation HTTP header", "tdm-reservation meta tag",
                        "robots meta noai"],
            "reserved_documents": reserved_docs,
            "reserved_text_bytes": reserved_bytes,
            "share_of_matching_content": round(reserved_bytes / candidate_bytes, 6) if candidate_bytes else 0.0,
            "treatment": ("included: the pool opted in to rights-reserved documents (tdm: include); check you may "
                          "use them before training" if include else
                          "excluded: documents whose rights holder reserved text-and-data mining are not in "
                          "the pool"),
            "in_pool": {"documents": stats.reserved_in_pool_docs, "text_bytes": stats.reserved_in_pool_bytes},
            "excluded": {"documents": stats.reserved_excluded_docs, "text_bytes": stats.reserved_excluded_bytes},
            "by_signal": dict(sorted(stats.reserved_sources.items())),
        },
        "licenses": dict(sorted(stats.licenses.items(), key=lambda kv: (-kv[1], kv[0]))),
        "processing": {
            "deduplication": steps.dedup_statement(),
            "quality_filters": steps.quality_statement(),
            "quality_filters_applied": steps.quality,
            "personal_data": steps.pii_statement(),
            "personal_data_kinds": steps.pii,
            "personal_data_replacements": dict(sorted(stats.pii_replacements.items())),
            # Campaign documents by drop-reason stage (quality filters, "duplicate", ...).
            "documents_dropped": dict(sorted(stats.campaign_drops.items())),
        },
        "rules": asdict(pool),
        "left_out_by_rule": dict(sorted(stats.rejected.items())),
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def write_cards(folder: Path, pool: PoolConfig, cfg: CampaignConfig, stats: PoolStats,
                manifest: dict[str, Any]) -> None:
    """Write croissant.json, dcat.jsonld and summary.json into a pool folder."""
    _write_json(folder / "croissant.json", croissant(pool, cfg, stats, manifest))
    _write_json(folder / "dcat.jsonld", dcat(pool, cfg, stats, manifest))
    _write_json(folder / "summary.json", summary(pool, cfg, stats, manifest))
