"""owd.extract.collections: FineWeb-2 Parquet, HPLT JSONL(.zst) and Common Crawl WET files
become owd documents, checked on the self-made samples of tests/data/ingest (see the
README there) and on small broken files made here. The documents then go through owd's
real language, quality and PII steps (the real fastText model, nothing mocked)."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import zlib
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from owd.core.config import parse_campaign
from owd.core.errors import InputError
from owd.core.schema import Document, document_id, from_table, to_table, validate_table
from owd.core.step import Shard
from owd.extract.collections import COLLECTION_SUFFIXES, collection_format, iter_collection_documents
from owd.extract.steps import PiiStep, QualityStep
from owd.langid.step import LanguageStep

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "ingest"
FINEWEB2 = SAMPLES / "fineweb2-sample.parquet"
HPLT = SAMPLES / "hplt-sample.jsonl.zst"
WET = SAMPLES / "wet-sample.warc.wet.gz"
UTC = timezone.utc


def read(path: Path, kind: str | None = None) -> tuple[list[Document], Counter[str]]:
    stats: Counter[str] = Counter()
    docs = list(iter_collection_documents(path, source="src", campaign="camp", stats=stats, kind=kind))
    return docs, stats


def hplt_lines(path: Path) -> list[bytes]:
    return list(io.BufferedReader(pa.CompressedInputStream(pa.OSFile(str(path)), "zstd")))


def gzip_member_offsets(data: bytes) -> list[int]:
    offsets, pos = [], 0
    while pos < len(data):
        offsets.append(pos)
        member = zlib.decompressobj(zlib.MAX_WBITS | 16)
        member.decompress(data[pos:])
        pos = len(data) - len(member.unused_data)
    return offsets


# --------------------------------------------------------------------------- names
@pytest.mark.parametrize("name, kind", [
    ("000_00000.parquet", "fineweb2"), ("1.jsonl.zst", "hplt"), ("hplt.JSONL", "hplt"),
    ("CC-MAIN-20250207054411-20250207084411-00042.warc.wet.gz", "wet"), ("x.wet.gz", "wet"), ("x.wet", "wet"),
    ("x.warc.gz", None), ("x.jsonl.gz", None), ("notes.txt", None),
])
def test_the_format_comes_from_the_file_name(name: str, kind: str | None) -> None:
    assert collection_format(Path("/data") / name) == kind
    assert (kind is not None) == name.lower().endswith(COLLECTION_SUFFIXES)


# --------------------------------------------------------------------------- the samples
def test_fineweb2_rows_become_documents() -> None:
    docs, stats = read(FINEWEB2)
    table = pq.read_table(FINEWEB2)
    assert stats == Counter({"ingest/records": 6})
    assert [d.url for d in docs] == table.column("url").to_pylist()
    assert [d.text for d in docs] == table.column("text").to_pylist()
    assert [d.source_record for d in docs] == table.column("id").to_pylist()  # the CC WARC-Record-ID
    assert [d.warc_offset for d in docs] == list(range(6))  # the row index, across both row groups
    assert len({d.id for d in docs}) == 6
    library = docs[0]
    assert (library.source, library.campaign, library.warc_file) == ("src", "camp", "fineweb2-sample.parquet")
    assert library.id == document_id(library.url, "fineweb2-sample.parquet", 0)
    assert (library.host, library.domain) == ("www.stadtbibliothek-lindenau.de", "stadtbibliothek-lindenau.de")
    assert library.fetch_time == datetime(2023, 6, 2, 14, 21, 7, tzinfo=UTC)
    assert library.source_labels == {
        "dump": "CC-MAIN-2023-23",
        "file_path": "s3://commoncrawl/crawl-data/CC-MAIN-2023-23/segments/1700000000000.00187/warc/"
                     "CC-MAIN-20230602120000-20230602150000-00187.warc.gz",
        "language": "deu", "language_score": "0.9987", "language_script": "Latn",
        "top_langs": '{"deu_Latn_score": 0.9987}', "minhash_cluster_size": "1",
    }
    assert docs[4].source_labels["top_langs"] == '{"swe_Latn_score": 0.9972, "nob_Latn_score": 0.0024}'
    # owd's own signals are left to owd's steps; FineWeb-2 records no status or type
    assert all(d.lang is None and d.quality == {} and d.drop_reason is None for d in docs)
    assert all(d.http_status is None and d.content_type is None and d.warc_length is None for d in docs)


def test_hplt_documents_keep_the_robots_verdict_and_skip_the_broken_line() -> None:
    docs, stats = read(HPLT)
    assert stats == Counter({"ingest/records": 6, "ingest/broken/json": 1})
    assert [d.warc_offset for d in docs] == [1, 2, 3, 4, 6, 7]  # line numbers; line 5 is cut off
    lines = [json.loads(line) for n, line in enumerate(hplt_lines(HPLT), start=1) if n != 5]
    assert [d.url for d in docs] == [line["u"] for line in lines]
    assert [d.text for d in docs] == [line["text"] for line in lines]
    assert [d.source_record for d in docs] == [line["id"] for line in lines]
    assert len({d.id for d in docs}) == 6 and all(d.warc_file == "hplt-sample.jsonl.zst" for d in docs)
    museum = docs[1]
    assert museum.url == "https://www.musee-des-tisserands.fr/visiter/horaires-et-tarifs"
    assert museum.source_labels == {
        "collection": "cc22", "lang": '["fra_Latn","oci_Latn","cat_Latn"]', "prob": "[0.9962,0.0012,0.0004]",
        "doc_scores": "[8.4,9.7,10.0,9.8,10.0,9.6,10.0,4.0,0.0]", "filter": "keep", "robotstxt": "disallowed",
        "f": "cc22/20210977-00001.warc.gz", "o": "1052787",
    }
    assert [d.source_labels["robotstxt"] for d in docs].count("allowed") == 5
    assert (museum.fetch_time, museum.content_type) == (datetime(2022, 5, 16, 3, 12, 45, tzinfo=UTC), "text/html")
    assert (museum.host, museum.domain) == ("www.musee-des-tisserands.fr", "musee-des-tisserands.fr")


def test_wet_conversion_records_become_documents() -> None:
    docs, stats = read(WET)
    # the fifth conversion record is empty (a page without text): counted, not a document
    assert stats == Counter({"ingest/records": 4, "ingest/broken/empty_text": 1})
    data = WET.read_bytes()
    members = gzip_member_offsets(data)  # warcinfo, 4 conversions, the empty one
    assert [d.warc_offset for d in docs] == members[1:5]
    assert [d.warc_length for d in docs] == [b - a for a, b in zip(members[1:5], members[2:6])]
    records = [r for r in ArchiveIterator(io.BytesIO(data)) if r.rec_type == "conversion"][:4]
    headers = [(r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header("WARC-Refers-To"))
               for r in records]
    assert [(d.url, d.source_record) for d in docs] == headers
    portuguese = docs[0]
    assert portuguese.text.startswith("A feira do livro regressa à praça central")
    assert portuguese.fetch_time == datetime(2025, 2, 7, 6, 2, 13, tzinfo=UTC)
    assert portuguese.source_labels == {"isPartOf": "CC-MAIN-2025-08", "WARC-Identified-Content-Language": "por"}
    assert docs[2].source_labels["WARC-Identified-Content-Language"] == "hun,eng"
    assert all(d.content_type is None and d.http_status is None for d in docs)


def test_a_text_in_two_collections_stays_two_documents_for_dedup_to_find() -> None:
    fineweb = {d.text: d for d in read(FINEWEB2)[0]}
    shared = [d for d in read(HPLT)[0] if d.text in fineweb]
    assert len(shared) == 1
    twin = fineweb[shared[0].text]
    assert twin.url != shared[0].url and twin.id != shared[0].id
    assert (twin.source_labels["language"], shared[0].source_labels["lang"][:10]) == ("ita", '["ita_Latn')


def test_the_samples_regenerate_byte_for_byte(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for sample in (FINEWEB2, HPLT, WET):
        assert (tmp_path / sample.name).read_bytes() == sample.read_bytes(), \
            f"{sample.name} differs from what make_samples.py writes now: regenerate it"


# --------------------------------------------------------------------------- bad records
def test_bad_hplt_records_are_counted_and_skipped(tmp_path: Path) -> None:
    good = {"u": "https://www.verein.example.de/x", "text": "Ein kurzer Text.", "ts": "2022-01-02T03:04:05Z",
            "id": "abc"}
    lines = [
        json.dumps({**good, "u": ""}),
        json.dumps({**good, "u": "ftp://files.example.de/x"}),
        json.dumps({**good, "u": "https:///no-host"}),
        json.dumps({**good, "u": "http://[::1/broken-ipv6"}),
        json.dumps({**good, "text": " \n "}),
        json.dumps({k: v for k, v in good.items() if k != "text"}),
        "[1, 2, 3]",
        '{"u": "https://cut.example.de/", "te',
        "",
        json.dumps({**good, "ts": "yesterday"}),
        json.dumps(good),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes("\n".join(lines).encode() + b'\n{"u": "https://latin1.example.de/", "text": "Gr\xfc\xdfe"}\n')
    docs, stats = read(path)
    assert stats == Counter({
        "ingest/broken/no_url": 1, "ingest/broken/not_http_url": 1, "ingest/broken/no_host": 1,
        "ingest/broken/bad_url": 1, "ingest/broken/empty_text": 2, "ingest/broken/json": 2,
        "ingest/broken/not_utf8": 1, "ingest/quirk/unparsable_date": 1, "ingest/records": 2,
    })
    assert [d.warc_offset for d in docs] == [10, 11]
    assert docs[0].fetch_time is None and docs[1].fetch_time == datetime(2022, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_hplt_v1_2_fields_and_the_later_robots_field(tmp_path: Path) -> None:
    v1_2 = {"id": 1234, "document_lang": "nl", "scores": [0.9, 0.8], "langs": ["nl", "nl"],
            "text": "Eerste alinea.\nTweede alinea.", "url": "https://www.voorbeeld-gemeente.nl/nieuws",
            "collection": "cc20"}
    later = {"f": "wide18/x.warc.gz", "o": 17, "u": "http://www.beispiel-verein.de/", "ts": "2024-03-01T10:00:00Z",
             "text": "Willkommen beim Verein.", "robots": "disallow", "lang": ["deu_Latn"], "prob": [0.99]}
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(v1_2) + "\n" + json.dumps(later) + "\n")
    (old, new), stats = read(path)
    assert stats == Counter({"ingest/records": 2})
    assert (old.source_record, old.fetch_time, old.content_type) == ("1234", None, None)
    assert old.source_labels == {"document_lang": "nl", "collection": "cc20"}  # per-paragraph lists not kept
    assert new.source_record == "wide18/x.warc.gz@17"  # no id: the record's place in its WARC file
    assert new.source_labels == {"lang": '["deu_Latn"]', "prob": "[0.99]", "robotstxt": "disallowed",
                                 "f": "wide18/x.warc.gz", "o": "17"}


def test_a_cut_off_zstd_file_keeps_the_documents_before_the_damage(tmp_path: Path) -> None:
    lines = [json.dumps({"u": f"https://seite{i}.example.de/", "text": f"Absatz Nummer {i}. " * 20})
             for i in range(3000)]
    data = pa.Codec("zstd", compression_level=3).compress(("\n".join(lines) + "\n").encode(), asbytes=True)
    cut = tmp_path / "cut.jsonl.zst"
    cut.write_bytes(data[: len(data) * 2 // 3])
    docs, stats = read(cut)
    assert stats["ingest/broken/stream_damage"] == 1
    assert 0 < len(docs) < 3000 and stats["ingest/records"] == len(docs)
    assert [d.url for d in docs] == [f"https://seite{i}.example.de/" for i in range(len(docs))]


@pytest.mark.parametrize("cut, kept", [(600, 0), (1300, 1), (1761, 2), (2717, 3)])
def test_a_cut_off_wet_file_keeps_the_whole_records(tmp_path: Path, cut: int, kept: int) -> None:
    whole = read(WET)[0]
    path = tmp_path / "cut.warc.wet.gz"
    path.write_bytes(WET.read_bytes()[:cut])
    docs, stats = read(path)
    assert stats["ingest/broken/cut_short_record"] == 1
    assert [(d.url, d.warc_offset, d.warc_length, d.text) for d in docs] == \
        [(d.url, d.warc_offset, d.warc_length, d.text) for d in whole[:kept]]


# --------------------------------------------------------------------------- wrong files
def _warc_with_a_response(path: Path) -> None:
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        payload = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>Hallo</body></html>"
        writer.write_record(writer.create_warc_record("https://a.example.de/", "response",
                                                      payload=io.BytesIO(payload), length=len(payload)))


WRONG_FILES = {
    "parquet without the FineWeb-2 columns": (
        "other.parquet", lambda p: pq.write_table(pa.table({"content": ["x"], "link": ["https://a.example.de/"]}), p),
        "not a FineWeb-2 Parquet file: no column text, id, url"),
    "not Parquet": ("broken.parquet", lambda p: p.write_text("text,url\n"), "not a readable Parquet file"),
    "plain text named .zst": ("plain.jsonl.zst", lambda p: p.write_text('{"u": "https://a.example.de/"}\n'),
                              "not zstd-compressed"),
    "JSONL that is not HPLT": ("other.jsonl", lambda p: p.write_text('{"title": "x", "body": "y"}\n' * 3),
                               "not an HPLT file"),
    "a WARC file named .wet.gz": ("crawl.warc.wet.gz", _warc_with_a_response,
                                  "not a WET file: its first content record is a response record"),
    "not WARC at all": ("noise.wet", lambda p: p.write_bytes(b"just some bytes\n"), "not a WET file"),
    "gzip without WARC records": ("empty.wet.gz", lambda p: p.write_bytes(gzip.compress(b"hello\n", mtime=0)),
                                  "no WARC record could be read"),
    "an unknown file name": ("notes.txt", lambda p: p.write_text("x"), "not a collection file"),
}


@pytest.mark.parametrize("name, make, message", list(WRONG_FILES.values()), ids=list(WRONG_FILES))
def test_a_file_of_another_format_raises_one_clear_line(tmp_path: Path, name: str, make, message: str) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(InputError) as err:
        read(path)
    assert str(path) in str(err.value) and message in str(err.value) and "\n" not in str(err.value)


def test_an_unknown_kind_or_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown collection kind 'warc'"):
        read(WET, kind="warc")
    with pytest.raises(InputError, match="no such file"):
        read(tmp_path / "gone.parquet")


def test_kind_overrides_the_file_name(tmp_path: Path) -> None:
    renamed = tmp_path / "hplt-part-1.txt"
    renamed.write_bytes(HPLT.read_bytes())  # zstd by its magic bytes, whatever the name
    docs, stats = read(renamed, kind="hplt")
    assert len(docs) == 6 and stats["ingest/broken/json"] == 1


# --------------------------------------------------------------------------- owd's steps
# the collections' own language labels, in the codes owd's language ID gives
ISO_639_3 = {"deu": "de", "fra": "fr", "pol": "pl", "ita": "it", "swe": "sv", "spa": "es", "ell": "el",
             "nld": "nl", "por": "pt", "fin": "fi", "hun": "hu", "ron": "ro"}


def source_language(doc: Document) -> str:
    labels = doc.source_labels
    if "language" in labels:  # FineWeb-2
        return ISO_639_3[labels["language"]]
    if "lang" in labels:  # HPLT: the first of the top 3
        return ISO_639_3[json.loads(labels["lang"])[0].split("_")[0]]
    return ISO_639_3[labels["WARC-Identified-Content-Language"].split(",")[0]]  # WET: the likeliest first


@pytest.fixture(scope="module")
def processed() -> tuple[list[Document], Counter[str]]:
    """All samples' documents through LanguageStep, QualityStep and PiiStep, chained as
    owd.pipeline chains them."""
    cfg = parse_campaign({"campaign": "t", "seeds": {"urls": ["http://a.test/"]}})
    stats: Counter[str] = Counter()
    sources = {FINEWEB2: "fineweb2-eu", HPLT: "hplt-v2", WET: "cc-wet"}
    docs = [doc for path, name in sources.items()
            for doc in iter_collection_documents(path, source=name, campaign="t", stats=stats)]
    shard = Shard(id="ingest-samples", warc=FINEWEB2, campaign="t", campaign_dir=SAMPLES)
    stream = iter(docs)
    for step in (LanguageStep.from_config(cfg), QualityStep.from_config(cfg), PiiStep.from_config(cfg)):
        stream = step.run(stream, shard, stats)
    return list(stream), stats


def test_owd_finds_the_language_each_collection_labelled(processed: tuple[list[Document], Counter[str]]) -> None:
    docs, stats = processed
    assert len(docs) == 16 and stats["langid/docs"] == 16
    assert [d.lang for d in docs] == [source_language(d) for d in docs]
    assert [d.lang for d in docs] == ["de", "fr", "pl", "it", "sv", "es", "de", "fr", "it", "pl", "el", "nl",
                                      "pt", "fi", "hu", "ro"]
    assert all(d.lang_score is not None and d.lang_score > 0.9 for d in docs)
    assert docs[10].script == "Grek"


def test_quality_and_pii_run_and_the_schema_takes_the_documents(
        processed: tuple[list[Document], Counter[str]]) -> None:
    docs, stats = processed
    assert stats["quality/docs"] == stats["pii/docs"] == 16 and all(d.quality for d in docs)
    library = docs[0]
    assert library.pii.email == 1 and "ausleihe@stadtbibliothek-lindenau.de" not in (library.text or "")
    table = to_table(docs)
    validate_table(table)
    again = from_table(table)
    assert [(d.source, d.source_record, d.source_labels) for d in again] == \
        [(d.source, d.source_record, d.source_labels) for d in docs]
    assert [d.source for d in again] == ["fineweb2-eu"] * 6 + ["hplt-v2"] * 6 + ["cc-wet"] * 4
