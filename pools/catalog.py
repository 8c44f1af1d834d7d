"""A site's DCAT-AP 3 catalogue: every pool of every campaign the site holds, in one
``dcat:Catalog`` other sites can read (``owd catalog build``, ``GET /catalog``).

Why one catalogue per site, in DCAT-AP: the AIF Data Labs and the Common European Data
Spaces (Simpl) discover datasets through DCAT-AP catalogues, and a federation of owd
sites is nothing more than their catalogues merged (pools/catalog_merge.py). Each pool's
own card (``dcat.jsonld`` beside it, pools/cards.py) stays the source of what the pool
holds; the catalogue restates it under absolute IRIs on the site's public URL and adds
what a reader at another site needs to fetch and trust the files:

* one ``dcat:Distribution`` per file (Parquet per language, WebDataset shards, the
  Croissant card), each with its ``dcat:downloadURL``, ``dcat:byteSize`` and an
  ``spdx:checksum`` (SHA-256, from the pool's manifest), so a pull can verify every byte;
* ``dct:provenance`` and ``prov:wasGeneratedBy``: the campaign (an ``prov:Activity``) that
  crawled and processed the documents, with its report;
* the rights: the licences seen, and an ODRL offer (``odrl:hasPolicy``) stating what use
  is allowed and how reservations of text-and-data mining (TDMRep, ``noai``) were handled.

IRIs, for a site published at ``<base>``::

    <base>catalog                                   the dcat:Catalog
    <base>catalog/datasets/<campaign>/<pool>        a dcat:Dataset (also its dct:identifier)
    <base>pools/<campaign>/<pool>/<file>            a file (served read-only by owd serve)

A pool pulled from another site (``owd pools pull``, a *remote* pool) is listed too, as a
copy: it keeps the origin's ``dct:identifier`` and publisher and names the origin dataset
in ``prov:wasDerivedFrom``, so merging catalogues counts it once.

Validated against the DCAT-AP 3.0.1 SHACL shapes (tests/pools/test_catalog.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rdflib import BNode, Graph, Literal as Lit, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, PROV, RDF, RDFS, SKOS, XSD

from owd.core.config import DATA_THEMES, CampaignConfig, PublisherConfig
from owd.core.errors import InputError
from owd.core.done import file_sha256
from owd.pools.build import REMOTE_FILE, pools_dir, read_manifest

__all__ = ["CatalogError", "SiteIdentity", "catalog_graph", "serialise", "write_catalog", "dataset_iri",
           "pool_files", "FORMATS", "CONTEXT", "REMOTE_FILE", "site_identity", "new_graph", "datasets_of",
           "read_remote_record"]

SPDX = Namespace("http://spdx.org/rdf/terms#")
ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
_EU = "http://publications.europa.eu/resource/authority/"
FILE_TYPE = Namespace(_EU + "file-type/")
DATA_THEME = Namespace(_EU + "data-theme/")
COUNTRY = Namespace(_EU + "country/")
ACCESS_RIGHT = Namespace(_EU + "access-right/")
LANGUAGE = Namespace(_EU + "language/")
DCATAP = Namespace("http://data.europa.eu/r5r/")
_STABLE = URIRef(_EU + "planned-availability/STABLE")
# The SPDX algorithm IRI as DCAT-AP 3.0.1's vocabulary shapes require it (https, pattern
# '^https://spdx.org/rdf/terms'), typed with the spdx:ChecksumAlgorithm class its range shapes ask for.
_SHA256 = URIRef("https://spdx.org/rdf/terms#checksumAlgorithm_sha256")
IANA = Namespace("https://www.iana.org/assignments/media-types/")
CROISSANT_SPEC = URIRef("http://mlcommons.org/croissant/1.0")

FORMATS = {"json-ld": "application/ld+json", "turtle": "text/turtle"}
CONTEXT: dict[str, str] = {
    "dcat": str(DCAT), "dct": str(DCTERMS), "foaf": str(FOAF), "prov": str(PROV), "rdfs": str(RDFS),
    "skos": str(SKOS), "xsd": str(XSD), "spdx": str(SPDX), "odrl": str(ODRL), "vcard": str(VCARD),
    "adms": str(ADMS), "dcatap": "http://data.europa.eu/r5r/",
}
_CARDS = ("croissant.json", "dcat.jsonld", "summary.json", "manifest.json")
_SUFFIX_TYPES = {".parquet": ("PARQUET", "application/vnd.apache.parquet"), ".tar": ("TAR", "application/x-tar"),
                 ".json": ("JSON", "application/json")}


class CatalogError(InputError):
    """A catalogue that cannot be built or read (a usage or input problem, one line)."""


@dataclass(frozen=True)
class SiteIdentity:
    """Who publishes the catalogue, and where the site is reachable (``base`` ends in /)."""

    base: str
    name: str
    homepage: str
    email: str | None
    themes: tuple[str, ...]
    countries: tuple[str, ...]


def site_identity(cfgs: list[CampaignConfig], base: str) -> SiteIdentity:
    """The site's publisher from the first campaign file's ``publisher`` section; unset
    values fall back to the campaign (its name, ``politeness.contact_url``)."""
    if not cfgs:
        raise CatalogError("a catalogue needs at least one campaign file")
    first = cfgs[0]
    pub: PublisherConfig = first.publisher
    themes = sorted({t for c in cfgs for t in c.publisher.themes})
    countries = sorted({t for c in cfgs for t in c.publisher.countries})
    return SiteIdentity(_with_slash(base), pub.name or f"owd site of campaign {first.campaign}",
                        pub.homepage or first.politeness.contact_url, pub.email, tuple(themes), tuple(countries))


def _with_slash(base: str) -> str:
    return base if base.endswith("/") else base + "/"


def dataset_iri(base: str, campaign: str, pool: str) -> str:
    return f"{_with_slash(base)}catalog/datasets/{campaign}/{pool}"


def pool_files(folder: Path) -> list[dict[str, Any]]:
    """Every file a built pool publishes, as manifest entries (path, bytes, sha256, and
    rows/lang when known): the data files, WebDataset shards, then the cards. The file
    endpoint of owd serve serves these paths and nothing else."""
    manifest = read_manifest(folder)
    if manifest is None:
        return []
    files = [dict(f) for f in [*manifest["files"], *manifest.get("webdataset", [])]]
    listed = {f["path"] for f in files}
    for card in _CARDS:
        path = folder / card
        if card not in listed and path.is_file():
            files.append({"path": card, "bytes": path.stat().st_size, "sha256": file_sha256(path)})
    return files


def catalog_graph(cfgs: list[CampaignConfig], base: str) -> Graph:
    """The site's catalogue: every built pool (local and pulled) of every campaign."""
    site = site_identity(cfgs, base)
    g = new_graph()
    catalog = URIRef(site.base + "catalog")
    publisher = URIRef(site.base + "catalog#publisher")
    g.add((catalog, RDF.type, DCAT.Catalog))
    names = ", ".join(c.campaign for c in cfgs)
    g.add((catalog, DCTERMS.title, Lit(f"owd data pools of {site.name}", lang="en")))
    g.add((catalog, DCTERMS.description, Lit(
        f"Open web data pools built by owd (campaigns: {names}): crawled under EU rules (robots.txt, "
        "TDM reservations), language-identified, deduplicated; Parquet and WebDataset files with "
        "SHA-256 checksums.", lang="en")))
    g.add((catalog, DCTERMS.publisher, publisher))
    g.add((catalog, FOAF.homepage, URIRef(site.homepage)))
    g.add((URIRef(site.homepage), RDF.type, FOAF.Document))
    g.add((catalog, DCTERMS.language, LANGUAGE.ENG))
    g.add((LANGUAGE.ENG, RDF.type, DCTERMS.LinguisticSystem))
    _agent(g, publisher, site.name, site.homepage)
    if site.themes:
        g.add((catalog, DCAT.themeTaxonomy, URIRef(_EU + "data-theme")))
        g.add((URIRef(_EU + "data-theme"), RDF.type, SKOS.ConceptScheme))
        g.add((URIRef(_EU + "data-theme"), DCTERMS.title, Lit("Data theme", lang="en")))
    for code in site.countries:
        g.add((catalog, DCTERMS.spatial, COUNTRY[code]))
        g.add((COUNTRY[code], RDF.type, DCTERMS.Location))
    modified: list[str] = []
    for cfg in cfgs:
        folder = pools_dir(cfg)
        if not folder.is_dir():
            continue
        for pool_dir in sorted(p for p in folder.iterdir() if p.is_dir() and read_manifest(p) is not None):
            dataset = _dataset(g, site, cfg, pool_dir, publisher)
            g.add((catalog, DCAT.dataset, dataset))
            modified += [str(o) for o in g.objects(dataset, DCTERMS.modified)]
    if modified:
        g.add((catalog, DCTERMS.modified, Lit(max(modified), datatype=XSD.dateTime)))
    _in_scheme(g)
    return g


def _in_scheme(g: Graph) -> None:
    """Every EU authority-table IRI used gets its ``skos:inScheme`` (the DCAT-AP MDR
    vocabulary shapes check that a language, file type, theme... is from its table)."""
    for node in set(g.objects()):
        if isinstance(node, URIRef) and str(node).startswith(_EU):
            table = str(node)[len(_EU):].split("/")[0]
            if "/" in str(node)[len(_EU):]:
                g.add((node, SKOS.inScheme, URIRef(_EU + table)))


def new_graph() -> Graph:
    g = Graph()
    for prefix, ns in CONTEXT.items():
        g.bind(prefix, Namespace(ns))
    return g


def _agent(g: Graph, node: URIRef, name: str, homepage: str | None) -> None:
    g.add((node, RDF.type, FOAF.Agent))
    g.add((node, FOAF.name, Lit(name)))
    if homepage:
        g.add((node, FOAF.homepage, URIRef(homepage)))


def _card(pool_dir: Path) -> Graph:
    """The pool's own DCAT-AP card, its relative IRIs resolved against the pool folder."""
    card = Graph()
    path = pool_dir / "dcat.jsonld"
    if path.is_file():
        try:
            card.parse(data=path.read_text(encoding="utf-8"), format="json-ld", publicID="urn:owd:pool/")
        except (ValueError, SyntaxError) as exc:
            raise CatalogError(f"{path}: not a readable JSON-LD card ({exc})") from None
    return card


_CARD_DATASET = URIRef("urn:owd:pool/#dataset")


def _dataset(g: Graph, site: SiteIdentity, cfg: CampaignConfig, pool_dir: Path, site_publisher: URIRef) -> URIRef:
    manifest = read_manifest(pool_dir) or {}
    pool = pool_dir.name
    iri = dataset_iri(site.base, cfg.campaign, pool)
    dataset = URIRef(iri)
    remote = _remote(pool_dir)
    card = _card(pool_dir)
    g.add((dataset, RDF.type, DCAT.Dataset))
    # What the pool's card says about its content, restated under the catalogue's IRI.
    for prop in (DCTERMS.title, DCTERMS.description, DCAT.keyword, DCTERMS.modified):
        for value in card.objects(_CARD_DATASET, prop):
            g.add((dataset, prop, value))
    if (dataset, DCAT.keyword, None) not in g:
        g.add((dataset, DCAT.keyword, Lit(str(manifest.get("kind", "documents")), lang="en")))
    if (dataset, DCTERMS.title, None) not in g:
        g.add((dataset, DCTERMS.title, Lit(f"{pool}: owd data pool of campaign {cfg.campaign}", lang="en")))
        g.add((dataset, DCTERMS.description, Lit(f"Pool {pool} of the owd campaign {cfg.campaign}", lang="en")))
    langs = sorted({str(v) for v in card.objects(_CARD_DATASET, DCTERMS.language)}
                   | {_language(f["lang"]) for f in manifest.get("files", []) if f.get("lang")})
    for lang in langs:
        g.add((dataset, DCTERMS.language, URIRef(lang)))
        g.add((URIRef(lang), RDF.type, DCTERMS.LinguisticSystem))
    for period in card.objects(_CARD_DATASET, DCTERMS.temporal):
        node = URIRef(iri + "#period")
        g.add((dataset, DCTERMS.temporal, node))
        g.add((node, RDF.type, DCTERMS.PeriodOfTime))
        for prop in (DCAT.startDate, DCAT.endDate):
            for value in card.objects(period, prop):
                g.add((node, prop, value))
    for code in site.themes:
        g.add((dataset, DCAT.theme, DATA_THEME[code]))
        g.add((DATA_THEME[code], RDF.type, SKOS.Concept))
        g.add((DATA_THEME[code], SKOS.inScheme, URIRef(_EU + "data-theme")))
        g.add((DATA_THEME[code], SKOS.prefLabel, Lit(DATA_THEMES[code], lang="en")))
    for code in site.countries:
        g.add((dataset, DCTERMS.spatial, COUNTRY[code]))
    g.add((dataset, DCTERMS.accessRights, ACCESS_RIGHT.PUBLIC))
    g.add((ACCESS_RIGHT.PUBLIC, RDF.type, DCTERMS.RightsStatement))
    rights = _rights_label(card)
    if remote:
        # a copy of another site's pool: its identity, publisher and provenance stay the origin's
        g.add((dataset, DCTERMS.identifier, Lit(remote["identifier"])))
        origin_pub = URIRef(remote["publisher"]["iri"])
        g.add((dataset, DCTERMS.publisher, origin_pub))
        _agent(g, origin_pub, remote["publisher"]["name"], remote["publisher"].get("homepage"))
        g.add((dataset, PROV.wasDerivedFrom, URIRef(remote["dataset"])))
        g.add((dataset, DCTERMS.provenance, _provenance(g, iri, f"Copied on {remote['pulled']} from "
                                                        f"{remote['dataset']} (owd pools pull); "
                                                        f"checksums verified against its catalogue.")))
    else:
        g.add((dataset, DCTERMS.identifier, Lit(iri)))
        g.add((dataset, DCTERMS.publisher, site_publisher))
        label = next((str(v) for p in card.objects(_CARD_DATASET, DCTERMS.provenance)
                      for v in card.objects(p, RDFS.label)), f"Crawled and processed by owd campaign {cfg.campaign}.")
        g.add((dataset, DCTERMS.provenance, _provenance(g, iri, label)))
        g.add((dataset, PROV.wasGeneratedBy, _activity(g, site, cfg)))
    contact = URIRef(iri + "#contact")
    g.add((dataset, DCAT.contactPoint, contact))
    g.add((contact, RDF.type, VCARD.Kind))
    g.add((contact, VCARD.fn, Lit(site.name)))
    g.add((contact, VCARD.hasURL, URIRef(site.homepage)))
    if site.email:
        g.add((contact, VCARD.hasEmail, URIRef(f"mailto:{site.email}")))
    _policy(g, dataset, iri, site_publisher, rights, tdm=_tdm_included(cfg, pool, card))
    licenses = sorted({str(v) for v in card.objects(None, DCTERMS.license)})
    access = f"{site.base}pools/{cfg.campaign}/{pool}/"
    for i, f in enumerate(pool_files(pool_dir)):
        _distribution(g, dataset, iri, i, access, f, licenses, rights)
    return dataset


def read_remote_record(folder: Path) -> dict[str, Any] | None:
    """What ``remote.json`` says of a pool pulled from another site (pools/remote.py);
    None when the folder has none. Unreadable, or not a JSON object: ValueError."""
    path = folder / REMOTE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read it: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _remote(pool_dir: Path) -> dict[str, Any] | None:
    try:
        data = read_remote_record(pool_dir)
        if data is None:
            return None
        data["identifier"], data["dataset"], data["publisher"]["iri"], data["pulled"]  # noqa: B018 (shape check)
    except (ValueError, KeyError, TypeError) as exc:
        raise CatalogError(f"{pool_dir / REMOTE_FILE}: not a remote-pool record ({exc})") from None
    return data


def _language(code: str) -> str:
    from owd.pools.langs import language_uri

    return language_uri(code)


def _rights_label(card: Graph) -> str:
    labels = sorted({str(label) for r in card.objects(None, DCTERMS.rights) for label in card.objects(r, RDFS.label)})
    return " ".join(labels) or "Licences are per document (license_url column)."


def _tdm_included(cfg: CampaignConfig, pool: str, card: Graph) -> bool:
    configured = next((p for p in cfg.pools if p.name == pool), None)
    if configured is not None:
        return configured.tdm == "include"
    return "INCLUDED" in _rights_label(card)


def _provenance(g: Graph, iri: str, label: str) -> URIRef:
    node = URIRef(iri + "#provenance")
    g.add((node, RDF.type, DCTERMS.ProvenanceStatement))
    g.add((node, RDFS.label, Lit(label, lang="en")))
    return node


def _activity(g: Graph, site: SiteIdentity, cfg: CampaignConfig) -> URIRef:
    """The campaign as a PROV activity, pointing at its report when one was written."""
    node = URIRef(f"{site.base}catalog/campaigns/{cfg.campaign}")
    g.add((node, RDF.type, PROV.Activity))
    g.add((node, RDFS.label, Lit(f"owd campaign {cfg.campaign}", lang="en")))
    if cfg.description:
        g.add((node, DCTERMS.description, Lit(cfg.description, lang="en")))
    g.add((node, PROV.wasAssociatedWith, URIRef(cfg.politeness.contact_url)))
    if (cfg.campaign_dir / "report" / "report.json").is_file():
        g.add((node, RDFS.seeAlso, URIRef(f"{site.base}reports/{cfg.campaign}/report.json")))
        g.add((node, FOAF.page, URIRef(f"{site.base}reports/{cfg.campaign}/report.html")))
    return node


def _policy(g: Graph, dataset: URIRef, iri: str, assigner: URIRef, rights: str, *, tdm: bool) -> None:
    """An ODRL offer: use (text and data mining, AI training included) is permitted; the
    pool's handling of rights reservations is stated, so a data space can show it."""
    policy = URIRef(iri + "#policy")
    permission = URIRef(iri + "#permission")
    g.add((dataset, ODRL.hasPolicy, policy))
    g.add((policy, RDF.type, ODRL.Policy))
    g.add((policy, RDF.type, ODRL.Offer))
    g.add((policy, ODRL.uid, policy))
    g.add((policy, ODRL.assigner, assigner))
    g.add((policy, ODRL.permission, permission))
    g.add((permission, RDF.type, ODRL.Permission))
    g.add((permission, ODRL.target, dataset))
    g.add((permission, ODRL.action, ODRL.use))
    handling = ("Documents whose rights holders reserved text-and-data mining (TDMRep, robots noai) are "
                "INCLUDED in this pool: check each document's tdm_reservation before training on it."
                if tdm else
                "Documents whose rights holders reserved text-and-data mining (EU DSM Directive Art. 4(3): "
                "TDMRep file, header or meta; robots noai), and documents from other collections whose "
                "rights owd could not check, are excluded unless the pool's rules include them.")
    g.add((policy, RDFS.comment, Lit(f"{handling} {rights}", lang="en")))


def _distribution(g: Graph, dataset: URIRef, iri: str, i: int, access: str, f: dict[str, Any],
                  licenses: list[str], rights: str) -> None:
    node = URIRef(f"{iri}#distribution-{i}")
    path = str(f["path"])
    g.add((dataset, DCAT.distribution, node))
    g.add((node, RDF.type, DCAT.Distribution))
    g.add((node, DCAT.accessURL, URIRef(access)))
    g.add((node, DCAT.downloadURL, URIRef(access + path)))
    suffix = Path(path).suffix
    file_type, media_type = _SUFFIX_TYPES.get(suffix, ("BIN", "application/octet-stream"))
    g.add((node, DCTERMS.format, FILE_TYPE[file_type]))
    g.add((FILE_TYPE[file_type], RDF.type, DCTERMS.MediaTypeOrExtent))
    g.add((node, DCAT.mediaType, IANA[media_type]))
    g.add((IANA[media_type], RDF.type, DCTERMS.MediaType))
    g.add((node, DCAT.byteSize, Lit(str(f["bytes"]), datatype=XSD.nonNegativeInteger)))
    g.add((node, DCATAP.availability, _STABLE))
    g.add((_STABLE, RDF.type, SKOS.Concept))
    g.add((_STABLE, SKOS.prefLabel, Lit("Stable", lang="en")))
    g.add((node, DCTERMS.title, Lit(_title(path, f), lang="en")))
    g.add((node, DCTERMS.description, Lit(f"{path} of the pool, {f['bytes']} bytes, SHA-256 {f['sha256']}", lang="en")))
    checksum = BNode()
    g.add((node, SPDX.checksum, checksum))
    g.add((checksum, RDF.type, SPDX.Checksum))
    g.add((checksum, SPDX.algorithm, _SHA256))
    g.add((_SHA256, RDF.type, SPDX.ChecksumAlgorithm))
    g.add((checksum, SPDX.checksumValue, Lit(f["sha256"], datatype=XSD.hexBinary)))
    if f.get("lang"):
        g.add((node, DCTERMS.language, URIRef(_language(f["lang"]))))
    if path == "croissant.json":
        g.add((node, DCTERMS.conformsTo, CROISSANT_SPEC))
        g.add((CROISSANT_SPEC, RDF.type, DCTERMS.Standard))
    if len(licenses) == 1:
        g.add((node, DCTERMS.license, URIRef(licenses[0])))
        g.add((URIRef(licenses[0]), RDF.type, DCTERMS.LicenseDocument))
    statement = URIRef(f"{iri}#rights")
    g.add((node, DCTERMS.rights, statement))
    g.add((statement, RDF.type, DCTERMS.RightsStatement))
    g.add((statement, RDFS.label, Lit(rights, lang="en")))


def _title(path: str, f: dict[str, Any]) -> str:
    if f.get("lang"):
        return f"Parquet, language {f['lang']}: {path} ({f.get('rows', '?')} rows)"
    if path.endswith(".tar"):
        return f"WebDataset shard {path}"
    if path.endswith(".parquet"):
        return f"Parquet {path} ({f.get('rows', '?')} rows)"
    return f"card {path}"


def serialise(g: Graph, fmt: Literal["json-ld", "turtle"]) -> bytes:
    """The catalogue as JSON-LD (compacted with :data:`CONTEXT`) or Turtle."""
    if fmt == "json-ld":
        return g.serialize(format="json-ld", context=CONTEXT, auto_compact=True, indent=1).encode("utf-8")
    return g.serialize(format="turtle").encode("utf-8")


def write_catalog(g: Graph, out: Path) -> list[Path]:
    """``catalog.jsonld`` and ``catalog.ttl`` in ``out`` (temporary names, then renamed)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fmt in (("catalog.jsonld", "json-ld"), ("catalog.ttl", "turtle")):
        tmp = out / f".{name}.tmp"
        tmp.write_bytes(serialise(g, fmt))  # type: ignore[arg-type]
        tmp.replace(out / name)
        written.append(out / name)
    return written


def datasets_of(g: Graph) -> list[URIRef]:
    return sorted(s for s in g.subjects(RDF.type, DCAT.Dataset) if isinstance(s, URIRef))
