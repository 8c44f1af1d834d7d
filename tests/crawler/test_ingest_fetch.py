"""owd.crawler.ingest: fetching other collections' files, and CDXJ selections by byte range.

The CDXJ tests index real WARC files from ../shared/data/warc (two Common Crawl samples
from dolma, StormCrawler's test file with images and revisits, and warcio's uncompressed
example), serve them from a loopback file server (tests/http_files.py) laid out like a
crawl's folders, and check what lands locally record by record.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest
from warcio.archiveiterator import ArchiveIterator

from owd.core.cdxj import CdxjEntry, index_warc, read_cdxj, read_record, write_cdxj
from owd.core.config import CdxjSelectConfig, IngestSourceConfig
from owd.core.gzip_members import iter_members
from owd.crawler.ingest import fetch_cdxj_selection, fetch_files, select_entries, source_files
from tests.http_files import FileServer

LOOPBACK = ["127.0.0.0/8"]
WARCS = {  # served name (a crawl-style path) -> file in ../shared/data/warc
    "segments/a/warc/dolma__sample-0000.warc.gz": "dolma__sample-0000.warc.gz",
    "segments/b/warc/dolma__sample-0001.warc.gz": "dolma__sample-0001.warc.gz",
    "segments/b/warc/stormcrawler-test.warc.gz": "incubator-stormcrawler__test.warc.gz",
    "segments/c/warc/warcio-example.warc": "warcio__example.warc",
}
HOSTS = ["commoncrawl.org", "maria-antoniak.github.io"]


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A served folder: ``warcs/<crawl paths>`` and their CDXJ index, plain and gzipped."""
    root = tmp_path_factory.mktemp("collection")
    entries: list[CdxjEntry] = []
    for name, shared in WARCS.items():
        path = root / "warcs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / "warc" / shared, path)
        entries += index_warc(path, filename=name)
    write_cdxj(entries, root / "index.cdxj", fsync=False)
    (root / "index.cdxj.gz").write_bytes(gzip.compress((root / "index.cdxj").read_bytes()))
    return root


@pytest.fixture
def server(collection: Path) -> Iterator[FileServer]:
    with FileServer(collection) as running:
        yield running


def _cdxj_source(index: str, warc_base: str, **select: list[str]) -> IngestSourceConfig:
    return IngestSourceConfig(name="cc", kind="cdxj", index=index, warc_base=warc_base,
                              select=CdxjSelectConfig(**select))  # type: ignore[arg-type]


def _expected(collection: Path, select: CdxjSelectConfig) -> dict[str, list[CdxjEntry]]:
    groups: dict[str, list[CdxjEntry]] = {}
    for entry in select_entries(read_cdxj(collection / "index.cdxj"), select):
        groups.setdefault(entry.filename, []).append(entry)
    return {name: sorted(group, key=lambda e: e.offset) for name, group in groups.items()}


def _check_local(collection: Path, dest: Path, expected: dict[str, list[CdxjEntry]]) -> None:
    """Each source file has one local WARC.gz with exactly its selected records, in order,
    and an origin.jsonl naming the source file and offset of each."""
    assert sorted(p.name for p in dest.glob("*.warc.gz")) == sorted(
        Path(name).name.removesuffix(".warc.gz").removesuffix(".warc") + ".warc.gz" for name in expected)
    assert not list(dest.glob("*.open"))
    for name, entries in expected.items():
        local = dest / (Path(name).name.removesuffix(".warc.gz").removesuffix(".warc") + ".warc.gz")
        with open(local, "rb") as f:
            records = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in ArchiveIterator(f)]
        assert [url for _, url in records] == [e.url for e in entries]
        with open(local, "rb") as f:
            members = list((m.offset, m.length) for m in iter_members(f))
        assert len(members) == len(entries)  # one gzip member per record, also from an uncompressed source
        origin = [json.loads(line) for line in local.with_name(local.name + ".origin.jsonl").read_text().splitlines()]
        assert [(o["filename"], o["source_offset"], o["url"]) for o in origin] == [
            (name, e.offset, e.url) for e in entries]
        assert [(o["offset"], o["length"]) for o in origin] == members
        source = collection / "warcs" / name
        for o, e in zip(origin, entries):
            stored = read_record(local, o["offset"], o["length"])
            assert stored.url == e.url and stored.payload == read_record(source, e.offset, e.length).payload


def test_select_entries_by_host_prefix_tld_mime_and_status() -> None:
    def entry(url: str, mime: str | None = "text/html", status: int | None = 200) -> CdxjEntry:
        return CdxjEntry("k", "20240101000000", url, mime, status, None, 10, 0, "f.warc.gz")

    entries = [entry("https://www.bbc.co.uk/news"), entry("https://bbc.co.uk/a", "image/png"),
               entry("https://example.at/x", "text/html", 404), entry("http://Example.AT./y", None),
               entry("https://ex.com/p", "application/pdf")]

    def urls(**select: list[str]) -> list[str]:
        return [e.url for e in select_entries(entries, CdxjSelectConfig(**select))]

    assert urls() == [e.url for e in entries]
    assert urls(hosts=["bbc.co.uk"]) == ["https://bbc.co.uk/a"]  # exact: www. is another host
    assert urls(hosts=["example.at"]) == ["https://example.at/x", "http://Example.AT./y"]
    assert urls(tlds=["co.uk"]) == ["https://www.bbc.co.uk/news", "https://bbc.co.uk/a"]
    assert urls(tlds=["at", "com"]) == ["https://example.at/x", "http://Example.AT./y", "https://ex.com/p"]
    assert urls(url_prefixes=["https://www.bbc.co.uk/", "https://ex.com/"]) == [
        "https://www.bbc.co.uk/news", "https://ex.com/p"]
    assert urls(mimes=["image/", "application/pdf"]) == ["https://bbc.co.uk/a", "https://ex.com/p"]
    assert urls(mimes=["text/htm"]) == []  # exact unless it ends with "/"
    assert urls(statuses=[404]) == ["https://example.at/x"]
    assert urls(tlds=["uk"], mimes=["text/html"]) == ["https://www.bbc.co.uk/news"]


@pytest.mark.shared_data
def test_cdxj_selection_by_host_over_http_and_a_rerun_fetches_nothing(collection: Path, server: FileServer,
                                                                      tmp_path: Path) -> None:
    src = _cdxj_source(server.url + "index.cdxj.gz", server.url + "warcs", hosts=HOSTS)
    expected = _expected(collection, src.select)
    assert sorted(expected) == ["segments/a/warc/dolma__sample-0000.warc.gz",
                                "segments/b/warc/dolma__sample-0001.warc.gz"]
    selected = sum(len(group) for group in expected.values())
    assert selected == 11
    dest = tmp_path / "cc"
    seen: list[tuple[str, int, int | None]] = []
    counts = fetch_cdxj_selection(src, tmp_path, dest, allow_networks=LOOPBACK,
                                  progress=lambda name, done, total: seen.append((name, done, total)))
    lines = len((collection / "index.cdxj").read_text().splitlines())
    assert counts["ingest/cdxj/lines"] == lines and counts["ingest/cdxj/selected"] == selected
    assert counts["ingest/cdxj/records"] == selected and counts["ingest/cdxj/files"] == 2
    assert counts["ingest/cdxj/mismatch"] == counts["ingest/cdxj/failed"] == 0
    assert counts["ingest/cdxj/bytes"] == sum(p.stat().st_size for p in dest.glob("*.warc.gz"))
    assert ("dolma__sample-0001.warc.gz", 5, 5) in seen
    _check_local(collection, dest, expected)
    # every record was asked for as its own byte range, nothing else but the index
    ranges = [s for s in server.log if s.path.startswith("/warcs/")]
    assert len(ranges) == selected and all(s.status == 206 for s in ranges)

    server.clear_log()
    again = fetch_cdxj_selection(src, tmp_path, dest, allow_networks=LOOPBACK)
    assert server.log == []
    assert again["ingest/cdxj/skipped_current"] == 2 and again["ingest/cdxj/records"] == 0
    _check_local(collection, dest, expected)


@pytest.mark.shared_data
def test_cdxj_selection_by_mime_from_a_local_folder_and_an_uncompressed_warc(collection: Path,
                                                                            tmp_path: Path) -> None:
    src = _cdxj_source(str(collection / "index.cdxj"), os.path.relpath(collection / "warcs", tmp_path / "campaign"),
                       mimes=["image/", "warc/revisit"])
    base_dir = tmp_path / "campaign"  # warc_base is relative to the campaign's folder
    base_dir.mkdir()
    expected = _expected(collection, src.select)
    assert {name: len(group) for name, group in expected.items()} == {
        "segments/b/warc/stormcrawler-test.warc.gz": 8, "segments/c/warc/warcio-example.warc": 1}
    counts = fetch_cdxj_selection(src, base_dir, tmp_path / "out")
    assert counts["ingest/cdxj/records"] == 9 and counts["ingest/cdxj/files"] == 2
    _check_local(collection, tmp_path / "out", expected)


@pytest.mark.shared_data
def test_a_server_drop_midway_leaves_one_file_unfinished_and_a_rerun_completes(
        collection: Path, server: FileServer, tmp_path: Path) -> None:
    src = _cdxj_source(server.url + "index.cdxj", server.url + "warcs/", hosts=HOSTS)
    expected = _expected(collection, src.select)
    second = "/warcs/segments/b/warc/dolma__sample-0001.warc.gz"
    server.drop_after(200, path=second)
    dest = tmp_path / "cc"
    counts = fetch_cdxj_selection(src, tmp_path, dest, allow_networks=LOOPBACK)
    assert counts["ingest/cdxj/failed"] == 1 and counts["ingest/cdxj/files"] == 1
    assert (dest / "dolma__sample-0000.warc.gz").is_file()
    assert not (dest / "dolma__sample-0001.warc.gz").exists()
    assert (dest / "dolma__sample-0001.warc.gz.open").exists()

    server.clear_log()
    counts = fetch_cdxj_selection(src, tmp_path, dest, allow_networks=LOOPBACK)
    assert counts["ingest/cdxj/skipped_current"] == 1 and counts["ingest/cdxj/files"] == 1
    assert counts["ingest/cdxj/records"] == len(expected["segments/b/warc/dolma__sample-0001.warc.gz"])
    assert {s.path for s in server.log} == {second}  # only the unfinished file is redone
    _check_local(collection, dest, expected)


@pytest.mark.shared_data
def test_records_that_do_not_match_their_index_line_are_counted_and_left_out(collection: Path,
                                                                             tmp_path: Path) -> None:
    entries = sorted((e for e in read_cdxj(collection / "index.cdxj")
                      if e.filename.endswith("dolma__sample-0001.warc.gz")), key=lambda e: (not e.digest, e.offset))
    assert len(entries) == 17 and entries[0].digest
    tampered = list(entries)
    tampered[0] = replace(entries[0], digest="A" * 32)
    tampered[1] = replace(entries[1], url=entries[1].url + "?other")
    tampered[2] = replace(entries[2], offset=entries[2].offset + 1)  # not a record's start
    tampered[3] = replace(entries[3], length=entries[3].length - 20)  # cut short
    index = tmp_path / "index.cdxj"
    write_cdxj(tampered, index, fsync=False)
    src = _cdxj_source(str(index), str(collection / "warcs"))
    counts = fetch_cdxj_selection(src, tmp_path, tmp_path / "out")
    assert counts["ingest/cdxj/mismatch"] == 4 and counts["ingest/cdxj/records"] == 13
    bad = {(e.offset, e.url) for e in tampered[:4]}
    kept = [e for e in sorted(tampered, key=lambda e: e.offset) if (e.offset, e.url) not in bad]
    _check_local(collection, tmp_path / "out", {entries[0].filename: kept})


def test_fetch_files_over_http_with_sha256_and_a_list_file(tmp_path: Path) -> None:
    served = tmp_path / "served"
    (served / "crawl" / "warc").mkdir(parents=True)
    blobs = {f"part-{i}.warc.gz": os.urandom(300_000 + i) for i in range(3)}
    for name, data in blobs.items():
        (served / "crawl" / "warc" / name).write_bytes(data)
    listing = "# a warc.paths-style list\n\n" + "".join(f"warc/{name}\n" for name in blobs) + "warc/missing.warc.gz\n"
    (served / "warc.paths.gz").write_bytes(gzip.compress(listing.encode()))
    local = tmp_path / "campaign" / "local.warc.gz"
    local.parent.mkdir()
    local.write_bytes(b"local bytes")
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()}
    sha["part-2.warc.gz"] = "0" * 64  # a wrong one: counted, the others still fetched
    with FileServer(served) as server:
        src = IngestSourceConfig(name="cc", kind="warc", files=["local.warc.gz"], list_file=server.url + "warc.paths.gz",
                                 base_url=server.url + "crawl", sha256=sha)
        assert source_files(src, local.parent, allow_networks=LOOPBACK) == [
            str(local), *(f"{server.url}crawl/warc/{name}" for name in blobs), f"{server.url}crawl/warc/missing.warc.gz"]
        dest = tmp_path / "dest"
        server.drop_after(100_000, path="/crawl/warc/part-1.warc.gz")
        counts = fetch_files(src, local.parent, dest, allow_networks=LOOPBACK)
        assert counts == Counter({"ingest/files": 2, "ingest/bytes": 300_000 + len(b"local bytes"),
                                  "ingest/failed/connection": 1, "ingest/failed/checksum": 1,
                                  "ingest/failed/http_404": 1})
        assert sorted(p.name for p in dest.iterdir()) == [
            "local.warc.gz", "part-0.warc.gz", "part-1.warc.gz.part", "part-1.warc.gz.part.json"]

        sha["part-2.warc.gz"] = hashlib.sha256(blobs["part-2.warc.gz"]).hexdigest()
        server.clear_log()
        counts = fetch_files(src, local.parent, dest, allow_networks=LOOPBACK)
        assert counts == Counter({"ingest/skipped_current": 2, "ingest/files": 2, "ingest/failed/http_404": 1,
                                  "ingest/bytes": 300_001 - 100_000 + 300_002})  # part-1 resumed
        assert (dest / "part-1.warc.gz").read_bytes() == blobs["part-1.warc.gz"]
        assert (dest / "part-2.warc.gz").read_bytes() == blobs["part-2.warc.gz"]
        with pytest.raises(ValueError, match="fetch_cdxj_selection"):
            fetch_files(_cdxj_source("i", "w"), local.parent, dest)

    # A local list: relative lines are the campaign folder's.
    (local.parent / "list.txt").write_text("# local\nlocal.warc.gz\n/abs/x.warc.gz\n")
    src = IngestSourceConfig(name="mine", kind="warc", list_file="list.txt")
    assert source_files(src, local.parent) == [str(local), "/abs/x.warc.gz"]
