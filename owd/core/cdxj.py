"""CDXJ indexes for the crawler's WARC files, and reading records back.

A CDXJ line (pywb / Common Crawl style) is ``<SURT key> <14-digit timestamp> {json}``
with the JSON keys ``url, mime, status, digest, length, offset, filename`` (all
values strings, as pywb's ``cdxj-indexer`` writes them; ``mime``/``status`` are left
out when unknown, ``digest`` has its ``sha1:`` prefix stripped). Lines are sorted
by code point, which equals byte order of the UTF-8 file (``LC_ALL=C sort``).

The SURT key follows the Internet Archive canonicalisation used by pywb (the
``surt`` package defaults): scheme, user info, fragment and default port dropped;
host lower-cased, IDNA-encoded, ``www``/``www<digits>`` label dropped, labels
reversed and comma-joined, then ``)``; path and query unescaped then minimally
re-escaped, lower-cased, common session ids stripped, query args sorted, trailing
slash and empty query dropped. Written from those rules, not from the ``surt`` code.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Iterable
from urllib.parse import quote, unquote_to_bytes, urlsplit, urlunsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import iso_date_to_timestamp

INDEXED_TYPES = ("response", "revisit", "resource")
CDXJ_REVISIT_MIME = "warc/revisit"  # the mime of a revisit record's line, as pywb writes it

# Characters kept as-is when re-escaping (everything printable except '#', '%'
# and space): the IA/Google "escape once" set, so keys match pywb's.
_SURT_SAFE = "!\"$&'()*+,-./:;<=>?@[\\]^_`{|}~"
# RFC 3986 reserved + unreserved (and '%', to keep existing escapes) for IRI -> URI.
_URI_SAFE = "!#$%&'()*+,-./:;=?@[]_~"
_WWW_LABEL = re.compile(r"^www\d*\.")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_OPAQUE_SCHEMES = ("dns:", "filedesc:", "warcinfo:", "mailto:", "urn:", "data:", "about:")
_PATH_SESSION_IDS = [
    re.compile(r"^(.*/)(\((?:[a-z]\([0-9a-z]{24}\))+\)/)([^?]+\.aspx.*)$", re.I),
    re.compile(r"^(.*/)(\([0-9a-z]{24}\)/)([^?]+\.aspx.*)$", re.I),
]
_QUERY_SESSION_IDS = [
    re.compile(r"^(.*)(?:jsessionid=[0-9a-z]{32})(?:&(.*))?$", re.I),
    re.compile(r"^(.*)(?:phpsessid=[0-9a-z]{32})(?:&(.*))?$", re.I),
    re.compile(r"^(.*)(?:sid=[0-9a-z]{32})(?:&(.*))?$", re.I),
    re.compile(r"^(.*)(?:aspsessionid[a-z]{8}=[a-z]{24})(?:&(.*))?$", re.I),
    re.compile(r"^(.*)(?:cfid=[^&]+&cftoken=[^&]+)(?:&(.*))?$", re.I),
]


# --------------------------------------------------------------------------- URLs
def to_uri(url: str) -> str:
    """The ASCII URI for ``url``: IDNA host, non-ASCII/space/control chars %-encoded.

    An ASCII URL without spaces or controls is returned unchanged (Scrapy's
    ``request.url`` already is one), so WARC-Target-URI equals the crawler's URL.
    """
    if url.isascii() and not any(c <= " " or c == "\x7f" for c in url):
        return url
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # bad port / IPv6 literal: just %-encode what is not ASCII
        return quote(url.strip(), safe=_URI_SAFE)
    netloc = parts.netloc
    if parts.hostname and not parts.hostname.isascii():
        userinfo = netloc.rpartition("@")[0]
        host = parts.hostname
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:  # label too long / not IDNA-able: keep it %-encoded
            host = quote(host.encode("utf-8"), safe="")
        netloc = (userinfo + "@" if userinfo else "") + host + (f":{port}" if port else "")
    netloc = quote(netloc, safe=_URI_SAFE)
    return urlunsplit((parts.scheme, netloc, quote(parts.path, safe=_URI_SAFE),
                       quote(parts.query, safe=_URI_SAFE), quote(parts.fragment, safe=_URI_SAFE)))


def _unescape_repeatedly(data: bytes) -> bytes:
    while True:
        decoded = unquote_to_bytes(data)
        if decoded == data:
            return data
        data = decoded


def _escape_once(data: bytes) -> str:
    return quote(data, safe=_SURT_SAFE)


def _normalize_path(path: str) -> str:
    """Resolve ``.``/``..`` segments and collapse repeated slashes."""
    kept: list[str] = []
    segments = path.split("/")[1:]
    for seg in segments:
        if seg == ".":
            continue
        if seg == "..":
            if kept:
                kept.pop()
            else:
                kept.append(seg)
            continue
        kept.append(seg)
    if not kept:
        return "/"
    return "/" + "".join(s + "/" for s in kept[:-1] if s) + kept[-1]


def _surt_host(host: str) -> str:
    raw = _unescape_repeatedly(host.encode("utf-8"))
    text = raw.decode("utf-8", "ignore")
    while ".." in text:
        text = text.replace("..", ".")
    text = text.strip(".")
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:  # not IDNA-able (empty/long label): %-encode like surt does
        pass
    if text.isdigit():  # "http://3279880203/" is an IPv4 address in disguise
        n = int(text) & 0xFFFFFFFF
        text = ".".join(str((n >> s) & 0xFF) for s in (24, 16, 8, 0))
    text = _escape_once(text.lower().encode("utf-8"))
    text = _WWW_LABEL.sub("", text)
    if text.startswith("["):  # IPv6 literal: reversing labels makes no sense
        return text
    return ",".join(reversed(text.split(".")))


def _surt_query(query: str) -> str:
    q = _escape_once(_unescape_repeatedly(query.encode("utf-8")))
    for pattern in _QUERY_SESSION_IDS:
        m = pattern.match(q)
        if m:
            q = m.group(1) + (m.group(2) or "")
    q = q.lower()
    if len(q) > 1:
        args = sorted(tuple(arg.split("=", 1)) for arg in q.split("&"))
        q = "&".join("=".join(a) for a in args)
    return q


def surt(url: str) -> str:
    """SURT key of ``url``, e.g. ``http://www.Example.com/p/?b=2&a=1`` -> ``com,example)/p?a=1&b=2``."""
    url = re.sub(r"[\t\r\n]", "", url.strip())
    if not url:
        return "-"
    if url.lower().startswith(_OPAQUE_SCHEMES):
        return url
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
    except ValueError:  # malformed IPv6 literal: pywb also falls back to the URL
        return url
    scheme = parts.scheme.lower()
    hostport = parts.netloc.rpartition("@")[2]
    if hostport.startswith("["):
        host, _, port = hostport.partition("]")
        host, port = host + "]", port.lstrip(":")
    else:
        host, _, port = hostport.partition(":")
    key = _surt_host(host)
    if port and port != _DEFAULT_PORTS.get(scheme):
        key += ":" + port
    path = _escape_once(_unescape_repeatedly(parts.path.encode("utf-8")))
    path = _normalize_path(path).lower()
    for pattern in _PATH_SESSION_IDS:
        m = pattern.match(path)
        if m:
            path = m.group(1) + m.group(3)
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    key += ")" + path
    query = _surt_query(parts.query) if parts.query else ""
    return key + ("?" + query if query else "")


# --------------------------------------------------------------------------- CDXJ
@dataclass(frozen=True)
class CdxjEntry:
    """One CDXJ line: where a response/revisit/resource record of a URL lives."""

    urlkey: str
    timestamp: str
    url: str
    mime: str | None
    status: int | None
    digest: str | None
    length: int
    offset: int
    filename: str

    def to_line(self) -> str:
        fields: dict[str, str] = {"url": self.url}
        if self.mime:
            fields["mime"] = self.mime
        if self.status is not None:
            fields["status"] = str(self.status)
        if self.digest:
            fields["digest"] = self.digest
        fields.update(length=str(self.length), offset=str(self.offset), filename=self.filename)
        return f"{self.urlkey} {self.timestamp} {json.dumps(fields, ensure_ascii=False)}"

    @classmethod
    def from_line(cls, line: str) -> "CdxjEntry":
        urlkey, timestamp, blob = line.rstrip("\n").split(" ", 2)
        f = json.loads(blob)
        status = f.get("status")
        return cls(urlkey, timestamp, f["url"], f.get("mime"),
                   int(status) if status and status.isdigit() else None,
                   f.get("digest"), int(f["length"]), int(f["offset"]), f["filename"])


def make_entry(*, url: str, warc_date: str, rec_type: str, mime: str | None,
               status: int | None, payload_digest: str | None, offset: int, length: int,
               filename: str) -> CdxjEntry:
    """Build an entry from record facts (the writer and repair both use this)."""
    if rec_type == "revisit":
        mime = CDXJ_REVISIT_MIME
    elif mime:
        mime = re.split(r"[;\s]", mime, maxsplit=1)[0].strip() or None
    digest = payload_digest[5:] if payload_digest and payload_digest.startswith("sha1:") else payload_digest
    return CdxjEntry(surt(url), iso_date_to_timestamp(warc_date), url, mime, status,
                     digest, length, offset, filename)


def write_cdxj(entries: Iterable[CdxjEntry], path: Path, *, fsync: bool = True) -> None:
    """Write sorted CDXJ lines to ``path`` atomically (``<path>.open`` then rename)."""
    tmp = path.with_name(path.name + ".open")
    lines = sorted(e.to_line() for e in entries)
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        out.writelines(line + "\n" for line in lines)
        out.flush()
        if fsync:
            os.fsync(out.fileno())
    os.replace(tmp, path)


def read_cdxj(path: Path) -> list[CdxjEntry]:
    """All entries of a CDXJ file, in file order."""
    with open(path, encoding="utf-8") as f:
        return [CdxjEntry.from_line(line) for line in f if line.strip()]


def lookup(cdxj_path: Path, url: str) -> list[CdxjEntry]:
    """Entries whose SURT key equals that of ``url`` (so http/https, ``www.`` and
    query order variants all match, as in pywb); IRIs and URIs match alike."""
    prefix = surt(url) + " "
    found: list[CdxjEntry] = []
    with open(cdxj_path, encoding="utf-8") as f:
        for line in f:
            if line.startswith(prefix):
                found.append(CdxjEntry.from_line(line))
            elif found:  # sorted: once past the matching block we are done
                break
    return found


def index_warc(path: Path, filename: str | None = None) -> list[CdxjEntry]:
    """Index an existing (closed) WARC file by reading it with warcio."""
    entries: list[CdxjEntry] = []
    with open(path, "rb") as f:
        it = ArchiveIterator(f)
        for rec in it:
            if rec.rec_type not in INDEXED_TYPES:
                continue
            status = mime = None
            if rec.http_headers and rec.rec_type != "resource":
                code = rec.http_headers.get_statuscode()
                status = int(code) if code.isdigit() else None
                mime = rec.http_headers.get_header("Content-Type")
            else:
                mime = rec.rec_headers.get_header("Content-Type")
            offset, length = it.get_record_offset(), it.get_record_length()
            entries.append(make_entry(
                url=rec.rec_headers.get_header("WARC-Target-URI"),
                warc_date=rec.rec_headers.get_header("WARC-Date"), rec_type=rec.rec_type,
                mime=mime, status=status,
                payload_digest=rec.rec_headers.get_header("WARC-Payload-Digest"),
                offset=offset, length=length, filename=filename or path.name))
    return entries


# --------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class StoredRecord:
    """A record read back from (file, offset, length)."""

    rec_type: str
    url: str | None
    warc_headers: list[tuple[str, str]]
    http_status: int | None
    http_headers: list[tuple[str, str]] | None
    payload: bytes


def read_record(warc_path: Path, offset: int, length: int, *, decode: bool = False) -> StoredRecord:
    """Read the gzip member at ``offset``/``length`` and parse its single record.

    ``payload`` is the stored HTTP payload (after the HTTP header block) as in the
    file; ``decode=True`` undoes a ``Content-Encoding`` still present in the headers.
    """
    with open(warc_path, "rb") as f:
        f.seek(offset)
        member = f.read(length)
    if len(member) != length:
        raise ValueError(f"{warc_path}: wanted {length} bytes at {offset}, got {len(member)}")
    rec = next(iter(ArchiveIterator(BytesIO(member))))
    stream = rec.content_stream() if decode else rec.raw_stream
    payload = stream.read()
    status = None
    if rec.http_headers and rec.rec_type in ("response", "revisit"):
        code = rec.http_headers.get_statuscode()
        status = int(code) if code.isdigit() else None
    return StoredRecord(rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI"),
                        list(rec.rec_headers.headers), status,
                        list(rec.http_headers.headers) if rec.http_headers else None, payload)
