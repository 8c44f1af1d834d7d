"""Campaign configuration: the YAML an operator writes, as typed, validated objects.

``load_campaign(path)`` is the only entry point the command line uses; anything
wrong in the file becomes one :class:`~owd.core.typed_config.ConfigError` naming the
file, the field and what was expected.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from owd.core.pii_config import PiiConfig
from owd.core.quality_config import QualityConfig
from owd.core.typed_config import ByteSize, ConfigError, Duration, build

__all__ = [
    "CampaignConfig",
    "SeedsConfig",
    "ScopeConfig",
    "TopicConfig",
    "FocusConfig",
    "PolitenessConfig",
    "MediaKindConfig",
    "MediaConfig",
    "EmbeddingsConfig",
    "LimitsConfig",
    "NetworkConfig",
    "WarcConfig",
    "RevisitRule",
    "RevisitConfig",
    "ProcessConfig",
    "PoolConfig",
    "SiteConfig",
    "PublisherConfig",
    "IngestSourceConfig",
    "CdxjSelectConfig",
    "INGEST_KINDS",
    "DATA_THEMES",
    "NAME_PATTERN",
    "RunConfig",
    "TestWebConfig",
    "ConfigError",
    "load_campaign",
    "parse_campaign",
    "check_storage_root",
]

# campaign, pool, site and ingest source names (they become folder names and URL segments)
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)


def _check_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{where}: expected an http(s) URL with a host, got {url!r}")


def _check_regexes(patterns: list[str], where: str) -> None:
    for i, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{where}[{i}]: not a valid regular expression ({exc}): {pattern!r}") from None


@dataclass
class SeedsConfig:
    urls: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # text files, one URL per line; relative to the config
    sitemaps: list[str] = field(default_factory=list)

    def check(self) -> None:
        if not (self.urls or self.files or self.sitemaps):
            raise ValueError("at least one of urls, files or sitemaps is required")
        for i, url in enumerate(self.urls):
            _check_url(url, f"urls[{i}]")
        for i, url in enumerate(self.sitemaps):
            _check_url(url, f"sitemaps[{i}]")


@dataclass
class ScopeConfig:
    # Hosts or registered domains in scope (subdomains included); empty: the seeds' domains.
    domains: list[str] = field(default_factory=list)
    tlds: list[str] = field(default_factory=list)  # e.g. ["si", "hr"]; empty: any
    include: list[str] = field(default_factory=list)  # URL regexes; empty: everything
    exclude: list[str] = field(default_factory=list)
    max_depth: int = 5
    max_pages_per_host: int = 10_000
    max_pages: int = 1_000_000

    def check(self) -> None:
        _check_regexes(self.include, "include")
        _check_regexes(self.exclude, "exclude")
        for name in ("max_depth", "max_pages_per_host", "max_pages"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0")
        for i, tld in enumerate(self.tlds):
            if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", tld.lstrip(".")):
                raise ValueError(f"tlds[{i}]: expected a TLD such as 'si', got {tld!r}")


@dataclass
class TopicConfig:
    name: str
    keywords: dict[str, list[str]]  # language code -> keywords
    classifier: str | None = None  # optional small classifier file, relative to the config

    def check(self) -> None:
        if not self.keywords and not self.classifier:
            raise ValueError("keywords: give keywords for at least one language, or a classifier")


@dataclass
class FocusConfig:
    topics: list[TopicConfig] = field(default_factory=list)
    # weight of a link's relevance in its priority; 0 keeps breadth-first order
    weight: float = 1.0

    def check(self) -> None:
        if self.weight < 0:
            raise ValueError("weight: must be >= 0")


@dataclass
class PolitenessConfig:
    """Per-host manners. The rule (crawler/politeness.py, one place): the next request to a
    host starts no earlier than ``max(delay, robots.txt Crawl-delay, slow_host_factor x the
    host's last response time (at most slow_host_max_delay))`` after its previous response
    ended. AutoThrottle and Retry-After may only raise that gap."""

    user_agent: str = "owd-bot/0.1"
    contact_url: str = "https://example.eu/owd-bot"
    obey_robots: bool = True
    delay: float = 1.0  # seconds between the end of one response and the next request to that host
    # Heritrix's delay factor practice: wait a multiple of the time the host took to answer,
    # so a host that slows down under load gets proportionally fewer requests (5 is
    # Heritrix's default delayFactor, and 30 s its default maxDelayMs).
    slow_host_factor: float = 5.0
    slow_host_max_delay: float = 30.0
    # A robots.txt Crawl-delay is obeyed exactly up to this many seconds; a host asking for
    # more is not crawled further (counted as politeness/crawl_delay_over_max), because
    # crawling it faster than it asked is never an option.
    max_crawl_delay: float = 120.0
    concurrency_per_host: int = 1
    concurrency: int = 16
    autothrottle: bool = True  # may only raise the delay above the rule's floor
    max_retry_after: float = 600.0  # longest Retry-After we honour before giving up on a URL
    tdm: Literal["record", "skip"] = "record"  # skip: do not fetch TDM-reserved content

    def check(self) -> None:
        for name in ("delay", "slow_host_factor", "slow_host_max_delay", "max_retry_after"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0")
        if self.max_crawl_delay <= 0:
            raise ValueError("max_crawl_delay: must be > 0")
        if self.concurrency_per_host < 1:
            raise ValueError("concurrency_per_host: must be >= 1")
        if self.concurrency < 1:
            raise ValueError("concurrency: must be >= 1")
        if self.concurrency_per_host > self.concurrency:
            raise ValueError(f"concurrency_per_host: must be <= concurrency ({self.concurrency})")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+(/\S+)?( .*)?", self.user_agent) or "\n" in self.user_agent:
            raise ValueError(f"user_agent: expected a product token such as 'owd-bot/0.1', got {self.user_agent!r}")
        _check_url(self.contact_url, "contact_url")


@dataclass
class MediaKindConfig:
    max_bytes: ByteSize = ByteSize(10 * 2**20)
    mime: list[str] = field(default_factory=list)  # allow-list; prefix match, e.g. "image/"


@dataclass
class MediaConfig:
    kinds: list[Literal["image", "audio", "video"]] = field(default_factory=list)  # kinds to fetch
    image: MediaKindConfig = field(default_factory=lambda: MediaKindConfig(ByteSize(5 * 2**20), ["image/"]))
    audio: MediaKindConfig = field(default_factory=lambda: MediaKindConfig(ByteSize(20 * 2**20), ["audio/"]))
    # caption tracks (<track>, WebVTT) ride with video: the media step attaches their text to the video
    video: MediaKindConfig = field(default_factory=lambda: MediaKindConfig(ByteSize(50 * 2**20),
                                                                           ["video/", "text/vtt"]))

    def check(self) -> None:
        for kind in ("image", "audio", "video"):
            if getattr(self, kind).max_bytes <= 0:
                raise ValueError(f"{kind}.max_bytes: must be > 0")


@dataclass
class LimitsConfig:
    max_response_bytes: ByteSize = ByteSize(10 * 2**20)
    max_decompressed_bytes: ByteSize = ByteSize(50 * 2**20)
    max_redirects: int = 5
    max_url_length: int = 2048
    max_query_params: int = 16
    timeout: float = 30.0  # seconds for one response

    def check(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout: must be > 0")
        for name in ("max_response_bytes", "max_decompressed_bytes", "max_url_length"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be > 0")
        for name in ("max_redirects", "max_query_params"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0")


@dataclass
class NetworkConfig:
    # Networks the crawler may connect to although they are private/loopback/reserved.
    allow_networks: list[str] = field(default_factory=list)
    # Static name -> address table (like curl --resolve), and a hosts(5) file with more.
    hosts: dict[str, str] = field(default_factory=dict)
    hosts_file: str | None = None
    static_dns_only: bool = False  # true: never ask the system resolver

    def check(self) -> None:
        for i, net in enumerate(self.allow_networks):
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"allow_networks[{i}]: expected a network such as 127.0.0.0/8, got {net!r}") from None
        for name, addr in self.hosts.items():
            try:
                ipaddress.ip_address(addr)
            except ValueError:
                raise ValueError(f"hosts.{name}: expected an IP address, got {addr!r}") from None


@dataclass
class WarcConfig:
    max_file_bytes: ByteSize = ByteSize(10**9)
    version: Literal["1.0", "1.1"] = "1.1"

    def check(self) -> None:
        if self.max_file_bytes <= 0:
            raise ValueError("max_file_bytes: must be > 0")


_FRONTIER_KINDS = Literal["page", "sitemap", "image", "audio", "video"]


@dataclass
class RevisitRule:
    """How often some URLs are revisited: those on a host matching one of ``hosts`` or
    with a URL matching one of ``urls`` (shell globs, case-sensitive: ``*.gov.si``,
    ``*/news/*``). The first rule that matches a URL sets its interval."""

    interval: Duration
    hosts: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def check(self) -> None:
        if not (self.hosts or self.urls):
            raise ValueError("hosts: give hosts or urls (globs) for the rule to match")


@dataclass
class RevisitConfig:
    """``owd crawl --revisit``: which fetched URLs are fetched again, and how often.

    A URL is due when its last fetch is at least its interval old; a run queues at most
    ``max_per_run`` due URLs, the longest-unvisited first. Only URLs whose last fetch
    succeeded (2xx) are revisited; the others were never content."""

    interval: Duration = Duration(30 * 86400)  # for URLs no rule matches
    max_per_run: int = 1_000_000
    kinds: list[_FRONTIER_KINDS] = field(default_factory=lambda: ["page", "sitemap"])
    rules: list[RevisitRule] = field(default_factory=list)

    def check(self) -> None:
        if self.max_per_run < 0:
            raise ValueError("max_per_run: must be >= 0")
        if not self.kinds:
            raise ValueError("kinds: at least one kind of URL to revisit")


# The main-text extractors (owd.extract.extractors implements them; the config names them).
ExtractorName = Literal["trafilatura", "trafilatura-fast", "resiliparse"]


@dataclass
class MediaStoreConfig:
    """``process.media``: the media step (owd/extract/media_step.py) that turns the WARC's
    media records and the pages' references to them into ``media/<shard>.parquet``."""

    enabled: bool = True
    # "reference": WARC file + offset + length per row (pools read the bytes from the WARC);
    # "bytes": the bytes themselves in the media table too (self-contained, larger)
    store: Literal["reference", "bytes"] = "reference"
    max_bytes: ByteSize = ByteSize(50 * 2**20)  # a larger media record is counted, not probed

    def check(self) -> None:
        if self.max_bytes <= 0:
            raise ValueError("max_bytes: must be > 0")


@dataclass
class EmbeddingsConfig:
    """``embeddings``: the embedding step (owd/index/vector_shards.py) that gives every kept
    document a vector for semantic and hybrid search. Off by default: it costs ~5 documents
    per CPU-second (bench/README.md), more than the rest of processing together."""

    enabled: bool = False
    # what is embedded: the title and this many characters of the text's start
    passage_chars: int = 300
    workers: int = 0  # processes for `owd embed`; 0: one per CPU

    def check(self) -> None:
        if not 50 <= self.passage_chars <= 20_000:
            raise ValueError("passage_chars: must be from 50 to 20000")
        if self.workers < 0:
            raise ValueError("workers: must be >= 0 (0: one per CPU)")


@dataclass
class ProcessConfig:
    """``owd process``: extraction guards, language ID, quality signals, PII, dedup, media."""

    max_html_bytes: ByteSize = ByteSize(5 * 2**20)  # per document, after decompression
    doc_timeout: float = 20.0  # seconds of extraction per document before it is dropped
    # the main-text extractor (owd.extract.extractors; F1 and speed of each in bench/README.md)
    extractor: ExtractorName = "trafilatura"
    langid_top_k: int = 5
    quality: QualityConfig = field(default_factory=QualityConfig)
    pii: PiiConfig = field(default_factory=PiiConfig)
    dedup_keep: Literal["first", "longest", "earliest"] = "first"
    media: MediaStoreConfig = field(default_factory=MediaStoreConfig)

    def check(self) -> None:
        if self.langid_top_k < 1:
            raise ValueError("langid_top_k: must be >= 1")
        if self.doc_timeout < 0:
            raise ValueError("doc_timeout: must be >= 0 (0 disables the guard)")
        if self.max_html_bytes <= 0:
            raise ValueError("max_html_bytes: must be > 0")


@dataclass
class PoolConfig:
    name: str
    description: str = ""
    languages: list[str] = field(default_factory=list)  # empty: all
    domains: list[str] = field(default_factory=list)  # registered domains or globs such as "*.gv.at"
    tlds: list[str] = field(default_factory=list)
    url_patterns: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    min_quality: float | None = None
    licenses: list[str] = field(default_factory=list)  # allow-list of license URL prefixes; empty: any
    media_kinds: list[Literal["image", "audio", "video"]] = field(default_factory=list)
    min_length: int = 0
    tdm: Literal["exclude", "include"] = "exclude"  # include only if trainers may use reserved content
    # documents ingested from other collections (``ingest:``) carry no robots.txt/TDMRep
    # verdict of owd's: left out unless the campaign allows rights it could not check
    unknown_rights: Literal["exclude", "include"] = "exclude"
    # what a row is: a text document, or a media item with its text (pools/media_pools.py)
    kind: Literal["documents", "image-text", "audio", "video", "interleaved"] = "documents"
    # media rules (kinds other than documents); 0 / empty / null: no limit
    min_width: int = 0
    min_height: int = 0
    min_aspect: float | None = None  # width / height
    max_aspect: float | None = None
    mimes: list[str] = field(default_factory=list)  # sniffed MIME types or prefixes ("image/")
    max_size: ByteSize | None = None
    min_caption_length: int = 0
    webdataset: bool = False  # also write WebDataset tar shards (image-text pools)

    def check(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"name: expected lowercase letters, digits, '-' or '_', got {self.name!r}")
        from owd.core.pool_checks import validate_pool  # (it imports this module)

        validate_pool(self)


@dataclass
class SiteConfig:
    """An AIF+A site: a Ray node resource, the hosts pinned to it, and where it publishes
    its catalogue (``url``: its ``owd serve``; a member of the campaign's federated
    catalogue, ``owd catalog merge``)."""

    name: str
    tlds: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    crawlers: int = 1  # crawler actors placed on this site's Ray nodes (resource "site:<name>")
    url: str | None = None  # the site's owd serve (its /catalog), e.g. https://owd.example-aif.eu/

    def check(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"name: expected lowercase letters, digits, '-' or '_', got {self.name!r}")
        if self.crawlers < 1:
            raise ValueError("crawlers: at least 1")
        if self.url is not None:
            _check_url(self.url, "url")


# The EU data-theme authority table (publications.europa.eu/resource/authority/data-theme)
DATA_THEMES: dict[str, str] = {
    "AGRI": "Agriculture, fisheries, forestry and food", "ECON": "Economy and finance",
    "EDUC": "Education, culture and sport", "ENER": "Energy", "ENVI": "Environment",
    "GOVE": "Government and public sector", "HEAL": "Health", "INTR": "International issues",
    "JUST": "Justice, legal system and public safety", "REGI": "Regions and cities",
    "SOCI": "Population and society", "TECH": "Science and technology", "TRAN": "Transport",
}


@dataclass
class PublisherConfig:
    """``publisher``: who publishes this site's catalogue (DCAT-AP dct:publisher, the
    catalogue's homepage, themes and spatial coverage). Unset values come from the
    campaign (its name, politeness.contact_url)."""

    name: str | None = None
    homepage: str | None = None
    email: str | None = None
    # EU vocabularies (publications.europa.eu authority tables): data-theme codes such
    # as EDUC, TECH, SOCI, and country codes (ISO 3166-1 alpha-3) for dct:spatial
    themes: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)

    def check(self) -> None:
        if self.homepage is not None:
            _check_url(self.homepage, "homepage")
        for i, code in enumerate(self.themes):
            if code not in DATA_THEMES:
                raise ValueError(f"themes[{i}]: expected an EU data-theme code ({', '.join(DATA_THEMES)}), got {code!r}")
        for i, code in enumerate(self.countries):
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ValueError(f"countries[{i}]: expected an ISO 3166-1 alpha-3 code such as AUT, got {code!r}")


INGEST_KINDS = ("warc", "cdxj", "fineweb2", "hplt")


@dataclass
class CdxjSelectConfig:
    """Which records of a CDXJ index to fetch (every list empty: all). A record must
    match each non-empty list (any of its entries)."""

    hosts: list[str] = field(default_factory=list)  # exact host names (www. kept as given)
    url_prefixes: list[str] = field(default_factory=list)
    tlds: list[str] = field(default_factory=list)  # "at", "co.uk"
    mimes: list[str] = field(default_factory=list)  # "text/html", or a prefix such as "text/"
    statuses: list[int] = field(default_factory=list)


@dataclass
class IngestSourceConfig:
    """One collection made by others that enters this campaign (owd/ingest.py).

    ``warc``: WARC or WET files; ``cdxj``: the records of a CDXJ index that ``select``
    picks, fetched by byte range from ``warc_base``; ``fineweb2``: FineWeb-2 Parquet
    files; ``hplt``: HPLT JSONL(.zst) files. ``files`` and the lines of ``list_file`` are local
    paths (relative to the campaign file) or http(s) URLs; a relative line of ``list_file`` is
    joined to ``base_url`` (Common Crawl's ``warc.paths`` style)."""

    name: str
    kind: Literal["warc", "cdxj", "fineweb2", "hplt"]
    files: list[str] = field(default_factory=list)
    list_file: str | None = None  # a file (path or URL, .gz allowed) listing more, one per line
    base_url: str | None = None
    sha256: dict[str, str] = field(default_factory=dict)  # file name -> expected SHA-256 (hex)
    index: str | None = None  # cdxj: the index file (path or URL)
    warc_base: str | None = None  # cdxj: folder or URL the index's ``filename`` values are relative to
    select: CdxjSelectConfig = field(default_factory=CdxjSelectConfig)

    def check(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"name: expected lowercase letters, digits, '-' or '_', got {self.name!r}")
        if self.kind == "cdxj":
            if not self.index or not self.warc_base:
                raise ValueError("kind cdxj needs index (the CDXJ file) and warc_base (where its WARC files are)")
        elif not self.files and not self.list_file:
            raise ValueError(f"kind {self.kind} needs files or list_file")
        for name, digest in self.sha256.items():
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError(f"sha256.{name}: expected 64 lowercase hex digits")
        for i, entry in enumerate(self.files):
            if "://" in entry:
                _check_url(entry, f"files[{i}]")
        for name in ("list_file", "base_url", "index", "warc_base"):
            value = getattr(self, name)
            if value and "://" in value:
                _check_url(value, name)


@dataclass
class RunConfig:
    """How ``owd run`` spreads a campaign over Ray (see owd/campaign_run.py)."""

    crawlers: int = 1  # crawler actors when no sites are configured
    process_workers: int = 0  # Ray workers for processing; 0: one per CPU of the cluster

    def check(self) -> None:
        if self.crawlers < 1:
            raise ValueError("crawlers: at least 1")
        if self.process_workers < 0:
            raise ValueError("process_workers: must be >= 0")


@dataclass
class TestWebConfig:
    """The local test web the demo crawls (``owd testweb serve``)."""

    seed: int = 7
    port: int = 8631
    pages_per_host: int = 12
    real_pages: int = 60  # pages from ../shared/data/pages-A, when present

    def check(self) -> None:
        if not 0 <= self.port < 65536:
            raise ValueError("port: expected 0..65535")
        for name in ("pages_per_host", "real_pages"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0")


@dataclass
class CampaignConfig:
    campaign: str
    seeds: SeedsConfig
    description: str = ""
    storage_root: str = "./owd-data"
    scope: ScopeConfig = field(default_factory=ScopeConfig)
    focus: FocusConfig = field(default_factory=FocusConfig)
    politeness: PolitenessConfig = field(default_factory=PolitenessConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    warc: WarcConfig = field(default_factory=WarcConfig)
    revisit: RevisitConfig = field(default_factory=RevisitConfig)
    process: ProcessConfig = field(default_factory=ProcessConfig)
    embeddings: EmbeddingsConfig = field(default_factory=EmbeddingsConfig)
    pools: list[PoolConfig] = field(default_factory=list)
    sites: list[SiteConfig] = field(default_factory=list)
    publisher: PublisherConfig = field(default_factory=PublisherConfig)
    ingest: list[IngestSourceConfig] = field(default_factory=list)
    run: RunConfig = field(default_factory=RunConfig)
    testweb: TestWebConfig | None = None
    # Set by the loader: the file this came from (paths in it are relative to its folder).
    source: str | None = None

    def check(self) -> None:
        if not _NAME.match(self.campaign):
            raise ValueError(f"campaign: expected lowercase letters, digits, '-' or '_', got {self.campaign!r}")
        names = [p.name for p in self.pools]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"pools: pool names must be unique, {dupes[0]!r} is repeated")
        sites = [s.name for s in self.sites]
        dupes = sorted({n for n in sites if sites.count(n) > 1})
        if dupes:
            raise ValueError(f"sites: site names must be unique, {dupes[0]!r} is repeated")
        sources = [s.name for s in self.ingest]
        dupes = sorted({n for n in sources if sources.count(n) > 1})
        if dupes:
            raise ValueError(f"ingest: source names must be unique, {dupes[0]!r} is repeated")

    @property
    def base_dir(self) -> Path:
        return Path(self.source).resolve().parent if self.source else Path.cwd()

    def resolve(self, relative: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    @property
    def campaign_dir(self) -> Path:
        return self.resolve(self.storage_root) / self.campaign

    def with_overrides(self, **changes: Any) -> "CampaignConfig":
        return replace(self, **changes)


def parse_campaign(data: Any, file: str | Path | None = None) -> CampaignConfig:
    """Build a campaign from already-parsed YAML data."""
    cfg = build(CampaignConfig, data, file=file)
    cfg.source = str(file) if file else None
    for i, name in enumerate(cfg.seeds.files):
        if not cfg.resolve(name).is_file():
            raise ConfigError(file, f"seeds.files[{i}]", f"no such file: {cfg.resolve(name)}")
    if cfg.network.hosts_file and not cfg.resolve(cfg.network.hosts_file).is_file():
        raise ConfigError(file, "network.hosts_file", f"no such file: {cfg.resolve(cfg.network.hosts_file)}")
    return cfg


def check_storage_root(cfg: CampaignConfig, keep: bool = True) -> Path:
    """Create the campaign folder under ``storage_root`` and prove it is writable (a probe
    file is written and removed); a failure is the config's ``storage_root`` field, in one
    line, before any work starts. ``keep=False`` removes the folders it had to create
    (``owd config check`` leaves no trace)."""
    folder = cfg.campaign_dir
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    probe = folder / f".owd-write-probe-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(cfg.source, "storage_root", f"cannot create or write {folder}: {reason}") from None
    finally:
        if not keep:
            for created in missing:  # deepest first
                try:
                    created.rmdir()
                except OSError:
                    break
    return folder


def load_campaign(path: str | Path) -> CampaignConfig:
    """Read and validate a campaign YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path, where, f"not valid YAML: {problem}") from None
    return parse_campaign(data, file=path)
