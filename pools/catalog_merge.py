"""``owd catalog merge``: one federated DCAT-AP catalogue of several sites' catalogues.

Each member is a site (its ``owd serve``, whose ``/catalog`` is read) or a catalogue file
(JSON-LD or Turtle). The result is a ``dcat:Catalog`` whose ``dcat:catalog`` names every
member catalogue and whose ``dcat:dataset`` lists every dataset once:

* duplicates are found by ``dct:identifier`` (a dataset without one is its own IRI).
  owd sites give a pool its origin's dataset IRI as identifier, and a pool pulled to
  another site keeps it, so the copy and the original count once. The origin's entry
  (the dataset whose IRI is its identifier) stands for them, else the first member's;
  a dataset always keeps the publisher its site gave it, never the federation's;
* a duplicate's description (its distributions, checksums, policy: every node that hangs
  off it only) is dropped and the member catalogue's link points at the dataset kept,
  so every member catalogue stays complete and valid.

Members that cannot be read are reported and left out: the merge of the others is still
written (a federation keeps working while one site is down).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from rdflib import BNode, Graph, Literal as Lit, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF
from rdflib.term import Node

from owd.core.download import DownloadError, download, is_url
from owd.pools.catalog import CatalogError, new_graph

__all__ = ["MergeResult", "read_catalog", "merge_catalogs", "catalog_url", "owned_nodes"]


@dataclass
class MergeResult:
    graph: Graph
    members: list[str] = field(default_factory=list)  # read
    failed: dict[str, str] = field(default_factory=dict)  # member -> why it was left out
    datasets: int = 0
    duplicates: int = 0


def catalog_url(site: str) -> str:
    """A member's catalogue URL: a site's base URL gets ``catalog.ttl`` (owd serve's
    Turtle catalogue); a URL naming a catalogue document is used as it is."""
    path = site.split("?", 1)[0]
    if path.rstrip("/").endswith(("/catalog", ".ttl", ".jsonld", ".json", ".rdf", ".nt")):
        return site
    return (site if site.endswith("/") else site + "/") + "catalog.ttl"


def _format_of(name: str, data: bytes) -> str:
    if name.endswith((".ttl", ".turtle")):
        return "turtle"
    if name.endswith((".jsonld", ".json")):
        return "json-ld"
    if name.endswith(".nt"):
        return "nt"
    if name.endswith(".rdf"):
        return "xml"
    return "json-ld" if data.lstrip()[:1] in (b"{", b"[") else "turtle"


def read_catalog(source: str, *, allow_networks: Sequence[str] = (), base_dir: Path | None = None) -> Graph:
    """A member's catalogue graph, from a site URL, a catalogue URL or a file."""
    g = Graph()
    if is_url(source):
        url = catalog_url(source)
        with tempfile.TemporaryDirectory(prefix="owd-catalog-") as tmp:
            dest = Path(tmp) / "catalog"
            try:
                download(url, dest, allow_networks=allow_networks, timeout=30.0)
            except DownloadError as exc:
                raise CatalogError(str(exc)) from None
            data = dest.read_bytes()
        name = url.split("?", 1)[0]
    else:
        path = Path(source) if base_dir is None else base_dir / source
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read the catalogue ({exc.strerror or exc})") from None
        name, url = path.name, path.resolve().as_uri()
    try:
        g.parse(data=data, format=_format_of(name, data), publicID=url)
    except Exception as exc:  # rdflib's parsers raise many kinds; the member is reported, not fatal
        raise CatalogError(f"{source}: not a readable RDF catalogue ({type(exc).__name__}: {exc})") from None
    if not any(g.subjects(RDF.type, DCAT.Catalog)):
        raise CatalogError(f"{source}: has no dcat:Catalog")
    return g


def _identifier(g: Graph, dataset: Node) -> str:
    return min((str(v) for v in g.objects(dataset, DCTERMS.identifier)), default=str(dataset))


def owned_nodes(g: Graph, dataset: URIRef) -> set[Node]:
    """The nodes that describe only this dataset: blank nodes and IRIs under its own IRI
    (``<dataset>#distribution-0``...) reachable from it."""
    prefix = str(dataset) + "#"
    seen: set[Node] = {dataset}
    todo: list[Node] = [dataset]
    while todo:
        node = todo.pop()
        for obj in g.objects(node, None):
            if obj in seen:
                continue
            if isinstance(obj, BNode) or (isinstance(obj, URIRef) and str(obj).startswith(prefix)):
                seen.add(obj)
                todo.append(obj)
    return seen


def merge_catalogs(members: Sequence[tuple[str, Graph]], *, base: str, publisher: str,
                   homepage: str | None = None) -> MergeResult:
    """One catalogue of the members' catalogues (see the module docstring)."""
    merged = new_graph()
    result = MergeResult(merged)
    # Which dataset stands for each identifier: the origin (its IRI is its identifier, as
    # owd sites publish their own pools) over a copy listed by another site, else the first.
    kept: dict[str, URIRef] = {}
    for _, g in members:
        for dataset in sorted(s for s in g.subjects(RDF.type, DCAT.Dataset) if isinstance(s, URIRef)):
            ident = _identifier(g, dataset)
            if ident not in kept or (str(dataset) == ident and str(kept[ident]) != ident):
                kept[ident] = dataset
    result.datasets = len(kept)
    catalogs: list[URIRef] = []
    for source, g in members:
        replace: dict[Node, URIRef] = {}
        drop: set[Node] = set()
        for dataset in sorted(s for s in g.subjects(RDF.type, DCAT.Dataset) if isinstance(s, URIRef)):
            chosen = kept[_identifier(g, dataset)]
            if chosen != dataset:
                replace[dataset] = chosen
                drop |= owned_nodes(g, dataset)
                result.duplicates += 1
        for s, p, o in g:
            if s in drop:
                continue
            merged.add((s, p, replace.get(o, o)))
        catalogs += sorted(c for c in g.subjects(RDF.type, DCAT.Catalog)
                           if isinstance(c, URIRef) and c not in catalogs)
        result.members.append(source)
    root = URIRef((base if base.endswith(("/", ":")) else base + "/") + "catalog")
    pub = URIRef(str(root) + "#publisher")
    merged.add((root, RDF.type, DCAT.Catalog))
    merged.add((root, DCTERMS.title, Lit(f"owd federated catalogue of {len(catalogs)} site catalogue(s)", lang="en")))
    merged.add((root, DCTERMS.description, Lit(
        "Every data pool of the member sites' DCAT-AP catalogues, each dataset once (duplicates by "
        "dct:identifier), each with the publisher its site gave it. Member catalogues: "
        + ", ".join(str(c) for c in catalogs) + ".", lang="en")))
    merged.add((root, DCTERMS.publisher, pub))
    merged.add((pub, RDF.type, FOAF.Agent))
    merged.add((pub, FOAF.name, Lit(publisher)))
    if homepage:
        merged.add((root, FOAF.homepage, URIRef(homepage)))
        merged.add((URIRef(homepage), RDF.type, FOAF.Document))
    for catalog in catalogs:
        if catalog != root:
            merged.add((root, DCAT.catalog, catalog))
    for dataset in sorted(kept.values()):
        merged.add((root, DCAT.dataset, dataset))
    return result
