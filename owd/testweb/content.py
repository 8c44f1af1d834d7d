"""What the local test web serves: a deterministic model of many hosts.

Everything is a pure function of the seed (and the port, which appears in
absolute links), so a crawl of the test web is repeatable and tests can compare
what was fetched against :meth:`TestSite.expected_pages`.

Text comes from ``../shared/data`` when present (FLORES-200 and Leipzig
sentences in the 24 EU languages, trafilatura's real evaluation pages, real
media files) and from small generated word lists otherwise.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import random
import struct
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from owd.core.languages import EU_LANGUAGES
from owd.shared_data import shared_data_dir

__all__ = ["EU_LANGUAGES", "LANG_TLD", "Host", "TestSite", "HEALTH_WORD", "MANNERS_HOSTS", "SLOW_REPLY_S",
           "ENDLESS_FANOUT", "endless_links", "endless_host_name", "REVISIT_HOST", "REVISIT_PAGES"]

LANG_TLD = {
    "bg": "bg", "cs": "cz", "da": "dk", "de": "de", "el": "gr", "en": "ie", "es": "es", "et": "ee",
    "fi": "fi", "fr": "fr", "ga": "ie", "hr": "hr", "hu": "hu", "it": "it", "lt": "lt", "lv": "lv",
    "mt": "mt", "nl": "nl", "pl": "pl", "pt": "pt", "ro": "ro", "sk": "sk", "sl": "si", "sv": "se",
}
# "health" in each language: the focus topic of the demo and of topical pools.
HEALTH_WORD = {
    "bg": "здраве", "cs": "zdraví", "da": "sundhed", "de": "Gesundheit", "el": "υγεία", "en": "health",
    "es": "salud", "et": "tervis", "fi": "terveys", "fr": "santé", "ga": "sláinte", "hr": "zdravlje",
    "hu": "egészség", "it": "salute", "lt": "sveikata", "lv": "veselība", "mt": "saħħa",
    "nl": "gezondheid", "pl": "zdrowie", "pt": "saúde", "ro": "sănătate", "sk": "zdravie",
    "sl": "zdravje", "sv": "hälsa",
}
# Frequent words per language, for generated text when ../shared/data is absent.
_FALLBACK_WORDS = {
    "bg": "и на в за да се от че с по това като са той не е има",
    "cs": "a se na v je to že s z do o jako ale by jsou podle",
    "da": "og i at det er en til på med for af den som ikke har",
    "de": "der die und in den von zu das mit sich des auf für ist nicht",
    "el": "και το να του η της με που τα για είναι στο από δεν θα",
    "en": "the of and to in is that for it with as was on by are",
    "es": "de la que el en y los del se las por un para con una",
    "et": "ja on et ei see ka oli kui aga mis nii ta oma veel",
    "fi": "ja on ei se että hän oli ole mutta kun myös niin tai",
    "fr": "de la le et les des en un du une est que pour dans qui",
    "ga": "agus an na ar is le go a bhí sé ag ní sin é",
    "hr": "i je u da se na za su od koji s kao ali što ili",
    "hu": "a az és hogy nem is egy meg ez van de csak már mint",
    "it": "di e il la che per un in è del non una sono con della",
    "lt": "ir kad yra į su tai iš kaip bet jo o buvo dėl taip",
    "lv": "un ir ar par no kas uz bet lai to arī tas vai ka",
    "mt": "il u ta li fil għal huwa dan minn jew biex kien mhux",
    "nl": "de en van het een in is dat op te zijn met voor niet",
    "pl": "i w nie na się z do że jest to jak o za od",
    "pt": "de a o que e do da em um para é com não uma os",
    "ro": "și de în la cu o că nu pe un este din mai se",
    "sk": "a sa na v je to že s z do o ako ale by sú podľa",
    "sl": "in je v da se na za so z ki tudi kot pa ali",
    "sv": "och i att det som en på är av för med till den inte",
}

TDM_POLICY_URL = "https://owdtest.eu/tdm-policy.json"
# The manners hosts (TestSite(manners=True)): variant -> robots.txt Crawl-delay (0: none).
MANNERS_HOSTS = {"delay2": 2.0, "delay3": 3.0, "slow": 0.0}
ENDLESS_FANOUT = 40  # links on every page of the endless hosts, each to a page never linked before


def endless_host_name(i: int) -> str:
    return f"owdendless{i:04d}.net"


def endless_links(n: int, hosts: int) -> list[tuple[int, int]]:
    """(host index, page number) of the pages that endless page ``n`` links to: pages
    n*F+1 .. n*F+F, page m on host m % hosts. Every page is linked from exactly one page."""
    return [(m % hosts, m) for m in range(n * ENDLESS_FANOUT + 1, (n + 1) * ENDLESS_FANOUT + 1)]
# The revisit host (TestSite(revision=N)): a news site seen at revision N. Each page
# behaves in one way from one revision to the next: "etag" and "modified" pages never
# change and answer conditional requests with 304 (ETag + Last-Modified, Last-Modified
# only); "plain" pages never change and send no validators (a crawler can only compare
# payloads); "changing" pages get a new paragraph and validators every revision; "gone"
# pages exist at revision 0 only (then 410 and 404).
REVISIT_HOST = "news.owdtest.eu"
REVISIT_PAGES = {
    "/same/1.html": "etag", "/same/2.html": "etag", "/dated/1.html": "modified",
    "/plain/1.html": "plain", "/plain/2.html": "plain",
    "/changing/1.html": "changing", "/changing/2.html": "changing",
    "/gone/1.html": "gone-410", "/gone/2.html": "gone-404",
}
SLOW_REPLY_S = 1.0  # every reply of slow.owdtest.eu, robots.txt included, takes this long


@dataclass(frozen=True)
class Host:
    """One host of the test web, on its own loopback address."""

    name: str
    ip: str
    kind: str  # lang | robots | tdm | errors | traps | mirror | media | real | bulk | manners | endless
    lang: str | None = None
    variant: str = ""  # sub-behaviour of a special kind (e.g. robots "5xx")


@dataclass
class PageSpec:
    """A page that exists for sure (traps are generated on the fly and not listed)."""

    url: str
    host: str
    path: str
    lang: str | None
    links: list[str] = field(default_factory=list)  # absolute URLs, as they appear in the HTML
    in_sitemap_only: bool = False
    topic: str | None = None
    tdm_reserved: bool = False
    robots_disallowed: bool = False  # for owd-bot with the default user agent


class TestSite:
    """The model of the test web: hosts, pages, text and media, all from ``seed``.

    ``bulk_hosts`` adds plain generated hosts (``owdbulk<N>.net``) for
    benchmarks that need thousands of pages; ``endless_hosts`` adds hosts
    (``owdendless<N>.net``) of a web that never ends (:func:`endless_links`). ``revision``
    adds the revisit host (:data:`REVISIT_HOST`) as it is at that revision: serve
    revision 0, then 1, to see pages change, stay, and disappear. ``manners`` adds the hosts that test a
    crawler's manners and take seconds per request by design (so they are off by
    default): robots.txt ``Crawl-delay: 2`` and ``3``, and a host whose every reply
    takes :data:`SLOW_REPLY_S`.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        seed: int = 7,
        port: int = 8631,
        pages_per_host: int = 12,
        real_pages: int = 60,
        bulk_hosts: int = 0,
        bulk_pages_per_host: int = 200,
        data_dir: Path | None = None,
        use_shared_data: bool = True,
        manners: bool = False,
        endless_hosts: int = 0,
        revision: int | None = None,
    ) -> None:
        self.seed = seed
        self.port = port
        self.pages_per_host = pages_per_host
        self.real_pages_wanted = real_pages
        self.bulk_hosts = bulk_hosts
        self.bulk_pages_per_host = bulk_pages_per_host
        self.manners = manners
        self.endless_hosts = endless_hosts
        self.revision = revision
        # Without ../shared/data (or with use_shared_data=False) content is generated.
        self.data_dir = (data_dir or shared_data_dir()) if use_shared_data else None
        self.hosts: list[Host] = self._make_hosts()
        self.by_name = {h.name: h for h in self.hosts}
        self.by_ip = {h.ip: h for h in self.hosts}

    # ---- hosts -------------------------------------------------------------------------
    def _make_hosts(self) -> list[Host]:
        hosts: list[tuple[str, str, str | None, str]] = []
        for lang in EU_LANGUAGES:
            hosts.append((f"{lang}.owdtest.{LANG_TLD[lang]}", "lang", lang, ""))
        hosts.append(("de.owdtest.at", "lang", "de", ""))  # a second German-language country
        hosts += [
            ("robots.owdtest.eu", "robots", "en", "rules"),
            ("robots-404.owdtest.eu", "robots", "en", "404"),
            ("robots-5xx.owdtest.eu", "robots", "en", "5xx"),
            ("robots-broken.owdtest.eu", "robots", "en", "broken"),
            ("tdm-file.owdtest.eu", "tdm", "fr", "file"),
            ("tdm-header.owdtest.eu", "tdm", "de", "header"),
            ("tdm-meta.owdtest.eu", "tdm", "it", "meta"),
            ("noai.owdtest.eu", "tdm", "nl", "noai"),
            ("errors.owdtest.eu", "errors", "en", ""),
            ("traps.owdtest.eu", "traps", "en", ""),
            ("mirror.owdtest.eu", "mirror", None, "exact"),
            ("near.owdtest.org", "mirror", None, "near"),
            ("media.owdtest.eu", "media", "en", ""),
        ]
        hosts.append(("pages.owdtest.org", "real", None, ""))  # empty without ../shared/data
        if self.manners:
            hosts += [(f"{variant}.owdtest.eu", "manners", "en", variant) for variant in MANNERS_HOSTS]
        if self.revision is not None:
            hosts.append((REVISIT_HOST, "revisit", "en", ""))
        # A web that never ends (frontier benchmarks): page n of any endless host links to
        # ENDLESS_FANOUT new pages spread over all endless hosts.
        hosts += [(endless_host_name(i), "endless", "en", "") for i in range(self.endless_hosts)]
        for i in range(self.bulk_hosts):
            lang = EU_LANGUAGES[i % len(EU_LANGUAGES)]
            # one registered domain per bulk host, as on the real web: a distributed crawl
            # partitions hosts by registered domain (crawler.partition)
            hosts.append((f"owdbulk{i:04d}.net", "bulk", lang, ""))
        # 127.0.0.x is left alone (other local services live there); hosts start at 127.0.1.1.
        return [
            Host(name, f"127.0.{1 + i // 250}.{1 + i % 250}", kind, lang, variant)
            for i, (name, kind, lang, variant) in enumerate(hosts)
        ]

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def hosts_file(self) -> str:
        """The host table in hosts(5) format (what ``network.hosts_file`` reads)."""
        lines = ["# owd local test web: name -> loopback address (deterministic)"]
        lines += [f"{h.ip} {h.name}" for h in self.hosts]
        return "\n".join(lines) + "\n"

    def seed_urls(self) -> list[str]:
        """Every host's home page: the seeds of the demo campaign."""
        return [self.url(h.name) for h in self.hosts]

    # ---- text ---------------------------------------------------------------------------
    @cached_property
    def _sentences(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for lang in EU_LANGUAGES:
            lines: list[str] = []
            if self.data_dir is not None:
                for sub in ("langid-A/by-lang", "langid-C/sentences/by-lang"):
                    path = self.data_dir / sub / f"{lang}.txt"
                    if path.is_file():
                        lines += [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
            out[lang] = lines or self._generated_sentences(lang)
        return out

    def _generated_sentences(self, lang: str) -> list[str]:
        rng = random.Random(f"{self.seed}:gen:{lang}")
        words = _FALLBACK_WORDS[lang].split()
        sentences = []
        for _ in range(400):
            n = rng.randint(8, 16)
            s = " ".join(rng.choice(words) for _ in range(n))
            sentences.append(s[0].upper() + s[1:] + ".")
        return sentences

    def paragraphs(self, lang: str, key: str, n: int | None = None) -> list[str]:
        """A deterministic block of ``n`` paragraphs of real sentences in ``lang``."""
        rng = random.Random(f"{self.seed}:{key}")
        sentences = self._sentences[lang]
        n = n or rng.randint(3, 6)
        start = rng.randrange(len(sentences))
        out = []
        for i in range(n):
            k = rng.randint(2, 4)
            out.append(" ".join(sentences[(start + i * 4 + j) % len(sentences)] for j in range(k)))
        return out

    # ---- real pages and media from ../shared/data ---------------------------------------
    @cached_property
    def real_page_ids(self) -> list[str]:
        if self.data_dir is None or not (self.data_dir / "pages-A/manifest.jsonl").is_file():
            return []
        ids = []
        with open(self.data_dir / "pages-A/manifest.jsonl", encoding="utf-8") as fh:
            for line in fh:
                ids.append(json.loads(line)["id"])
        rng = random.Random(f"{self.seed}:real")
        rng.shuffle(ids)
        return sorted(ids[: self.real_pages_wanted])

    def real_page(self, page_id: str) -> bytes | None:
        if page_id not in self.real_page_ids or self.data_dir is None:
            return None
        return gzip.decompress((self.data_dir / "pages-A/html" / f"{page_id}.html.gz").read_bytes())

    @cached_property
    def media_files(self) -> dict[str, tuple[str, bytes]]:
        """name -> (MIME type, bytes): real files when present, generated ones otherwise."""
        files: dict[str, tuple[str, bytes]] = {}
        if self.data_dir is not None and (self.data_dir / "media/manifest.jsonl").is_file():
            with open(self.data_dir / "media/manifest.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    item = json.loads(line)
                    path = self.data_dir / "media" / item["file"]
                    if path.is_file():
                        files[item["file"]] = (item["mime"].split(";")[0], path.read_bytes())
        if not files:
            files["generated.png"] = ("image/png", _tiny_png(64, 48))
            files["generated.wav"] = ("audio/wav", _tiny_wav(8000))
            files["truncated.png"] = ("image/png", _tiny_png(64, 48)[:40])
            files["generated.mp4"] = ("video/mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(4096))
        return files

    # ---- pages ---------------------------------------------------------------------------
    def page_paths(self, host: Host) -> list[str]:
        """Paths of the ordinary linked pages of a host (home page excluded)."""
        if host.kind == "lang":
            n = self.pages_per_host
            return [f"/news/{i}.html" for i in range(n)] + [f"/health/{i}.html" for i in range(max(2, n // 4))]
        if host.kind == "bulk":
            return [f"/p/{i}.html" for i in range(self.bulk_pages_per_host)]
        if host.kind == "robots":
            return ["/public/1.html", "/public/2.html", "/private/1.html", "/no-owd/1.html", "/tmp/x.html"]
        if host.kind == "tdm":
            return ["/open/1.html", "/open/2.html", "/reserved/1.html", "/reserved/2.html"]
        if host.kind == "mirror":
            return [f"/copy/{i}.html" for i in range(6)]
        if host.kind == "media":
            return ["/gallery.html", "/audio.html", "/video.html", "/noimageai.html"]
        if host.kind == "real":
            return [f"/page/{pid}.html" for pid in self.real_page_ids]
        if host.kind == "revisit":
            return list(REVISIT_PAGES)
        if host.kind == "manners":  # few pages: each request costs seconds there
            return ["/m/1.html"] if host.variant == "slow" else ["/m/1.html", "/m/2.html", "/m/3.html"]
        return []

    def orphan_paths(self, host: Host) -> list[str]:
        """Pages listed only in the host's sitemap, never linked."""
        if host.kind in ("lang", "bulk"):
            return ["/archive/orphan-1.html", "/archive/orphan-2.html"]
        return []

    def links_of(self, host: Host, path: str) -> list[str]:
        """The absolute links an ordinary page carries (same host first, then other hosts)."""
        rng = random.Random(f"{self.seed}:links:{host.name}:{path}")
        own = self.page_paths(host)
        links = []
        if path == "/":
            links = [self.url(host.name, p) for p in own]
        elif own:
            links = [self.url(host.name, p) for p in rng.sample(own, min(4, len(own)))]
            links.append(self.url(host.name, "/"))
        if host.kind in ("lang", "bulk") and path != "/":
            peers = [h for h in self.hosts if h.kind == host.kind and h.name != host.name]
            if peers:
                other = rng.choice(peers)
                links.append(self.url(other.name, rng.choice(self.page_paths(other) or ["/"])))
        return links

    def expected_pages(self, *, robots_token: str = "owd-bot", tdm_skip: bool = False) -> set[str]:
        """HTML page URLs a compliant crawler seeded with :meth:`seed_urls` and the sitemaps
        must fetch: ordinary pages of every host, minus robots-disallowed and (with
        ``tdm_skip``) TDM-reserved ones. Traps, error paths and media are not included."""
        out: set[str] = set()
        for host in self.hosts:
            if host.kind == "robots" and host.variant == "5xx":
                continue  # RFC 9309: unreachable robots.txt means nothing may be fetched
            if host.kind in ("errors", "traps"):
                out.add(self.url(host.name))
                continue
            for path in ["/"] + self.page_paths(host) + self.orphan_paths(host):
                if host.kind == "robots" and host.variant == "rules" and self.robots_disallows(path, robots_token):
                    continue
                if tdm_skip and self.tdm_reserved(host, path):
                    continue
                out.add(self.url(host.name, path))
        return out

    # ---- compliance signals ---------------------------------------------------------------
    def robots_txt(self, host: Host) -> tuple[int, bytes]:
        if host.kind == "robots" and host.variant == "rules":
            body = (
                "# owd test web\n"
                "User-agent: *\nDisallow: /private/\nDisallow: /tmp/\nAllow: /tmp/ok\nCrawl-delay: 0.5\n\n"
                "User-agent: owd-bot\nDisallow: /private/\nDisallow: /no-owd/\nCrawl-delay: 0.5\n\n"
                f"Sitemap: {self.url(host.name, '/sitemap.xml')}\n"
            )
            return 200, body.encode()
        if host.kind == "robots" and host.variant == "404":
            return 404, b"not found"
        if host.kind == "robots" and host.variant == "5xx":
            return 503, b"unavailable"
        if host.kind == "robots" and host.variant == "broken":
            return 200, b"\xff\xfeUser-agent *\n\x00Disallow /bin\nAllow: \nnonsense line\n\x89PNG\r\n"
        if host.kind == "traps":
            return 200, f"User-agent: *\nAllow: /\nSitemap: {self.url(host.name, '/sitemap.xml')}\n".encode()
        if host.kind == "manners" and MANNERS_HOSTS.get(host.variant):
            return 200, f"User-agent: *\nDisallow: /cgi-bin/\nCrawl-delay: {MANNERS_HOSTS[host.variant]:g}\n".encode()
        return 200, f"User-agent: *\nDisallow: /cgi-bin/\n\nSitemap: {self.url(host.name, '/sitemap.xml')}\n".encode()

    @staticmethod
    def robots_disallows(path: str, token: str) -> bool:
        if token.lower() == "owd-bot":
            return path.startswith(("/private/", "/no-owd/"))
        return path.startswith(("/private/", "/tmp/")) and not path.startswith("/tmp/ok")

    def tdm_reserved(self, host: Host, path: str) -> bool:
        """Whether TDM rights are reserved for this page (by any of the three mechanisms)."""
        if host.kind != "tdm" or host.variant == "noai":
            return False
        if host.variant == "file":
            return path.startswith("/reserved/")
        return True

    def tdmrep_json(self, host: Host) -> tuple[int, bytes]:
        if host.kind == "tdm" and host.variant == "file":
            rules = [
                {"location": "/reserved/*", "tdm-reservation": 1, "tdm-policy": TDM_POLICY_URL},
                {"location": "/open/*", "tdm-reservation": 0},
            ]
            return 200, json.dumps(rules, indent=1).encode()
        return 404, b"not found"

    # ---- sitemaps ---------------------------------------------------------------------------
    def sitemap(self, host: Host) -> bytes:
        paths = ["/"] + self.page_paths(host) + self.orphan_paths(host)
        body = ['<?xml version="1.0" encoding="UTF-8"?>', '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
        body += [f"  <url><loc>{html.escape(self.url(host.name, p))}</loc></url>" for p in paths]
        body.append("</urlset>")
        return "\n".join(body).encode()

    def sitemap_index(self) -> bytes:
        body = ['<?xml version="1.0" encoding="UTF-8"?>', '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
        body += [
            f"  <sitemap><loc>{self.url(h.name, '/sitemap.xml')}</loc></sitemap>"
            for h in self.hosts
            if h.kind in ("lang", "bulk")
        ]
        body.append("</sitemapindex>")
        return "\n".join(body).encode()


def stable_int(*parts: object) -> int:
    """A process-independent hash (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def _tiny_png(width: int, height: int) -> bytes:
    rows = (b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 128)) for x in range(width)) for y in range(height))
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _tiny_wav(samples: int) -> bytes:
    data = bytes((i * 7) % 256 for i in range(samples))
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 8000, 1, 8)
    return header + b"data" + struct.pack("<I", len(data)) + data
