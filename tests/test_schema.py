"""The canonical document schema: round trips and validation."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from owd.core.schema import (
    DOCUMENT_SCHEMA, Document, LangScore, MediaItem, PiiCounts, SchemaError, from_table, read_parquet,
    to_table, validate_file, write_parquet,
)


def full_document(i: int = 0) -> Document:
    return Document(
        id=f"doc-{i}", url=f"http://sl.owdtest.si/news/{i}.html", host="sl.owdtest.si", campaign="demo",
        domain="owdtest.si", worker="w0",
        fetch_time=dt.datetime(2026, 11, 27, 12, 0, 1, 250000, tzinfo=dt.timezone.utc),
        first_seen=dt.datetime(2026, 10, 2, 9, 0, 0, tzinfo=dt.timezone.utc),
        last_seen=dt.datetime(2026, 12, 6, 8, 30, 0, 125000, tzinfo=dt.timezone.utc),
        http_status=200, content_type="text/html; charset=utf-8",
        warc_file="demo-w0-20261127120000000000-00000.warc.gz", warc_offset=1234, warc_length=5678,
        payload_digest="sha1:ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        title="Zdravje: poplavna varnost", text="Besedilo z šumniki čžš in emoji 🌊.\nDruga vrstica.",
        description="Opis", author="Redakcija", published=dt.date(2026, 10, 3), declared_lang="sl",
        lang="sl", lang_score=0.97, lang_topk=[LangScore("sl", 0.97), LangScore("hr", 0.02)], script="Latn",
        license_url="https://creativecommons.org/licenses/by/4.0/", robots_noai=False, robots_noimageai=True,
        tdm_reservation=True, tdm_policy="https://owdtest.eu/tdm-policy.json", tdm_source="header",
        outlinks=["http://sl.owdtest.si/", "http://hr.owdtest.hr/news/1.html"],
        media=[MediaItem(url="http://media.owdtest.eu/a.png", kind="image", mime="image/png", alt="alt",
                         caption="cap", size=100, digest="sha1:X", in_warc=True, width=64, height=48),
               MediaItem(url="http://media.owdtest.eu/b.mp3", kind="audio")],
        quality={"gopher_word_count": 120.0, "fineweb_line_punct_ratio": 0.8},
        drop_reason=None, pii=PiiCounts(email=1, phone=0, ip=2, iban=0),
        dup_cluster_id="c-17", dup_cluster_size=3, pools=["health", "all-eu"],
    )


def test_round_trip_documents_parquet_documents(tmp_path: Path) -> None:
    docs = [full_document(0), full_document(1), Document(id="min", url="http://x.eu/", host="x.eu", campaign="demo")]
    path = write_parquet(docs, tmp_path / "docs" / "shard.parquet")
    assert not list(path.parent.glob("*.tmp")), "the temporary file must be renamed away"
    assert validate_file(path) == 3
    back = read_parquet(path)
    assert back == docs
    assert back[0].fetch_time == docs[0].fetch_time and back[0].fetch_time.tzinfo is not None


def test_table_has_exactly_the_canonical_schema() -> None:
    table = to_table([full_document()])
    assert table.schema.equals(DOCUMENT_SCHEMA, check_metadata=False)
    assert from_table(table) == [full_document()]


def test_validate_file_names_each_problem(tmp_path: Path) -> None:
    table = to_table([full_document()])
    bad = table.drop_columns(["title"]).append_column("extra", pa.array([1]))
    bad = bad.set_column(bad.schema.get_field_index("http_status"), "http_status", pa.array(["200"]))
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(SchemaError) as err:
        validate_file(tmp_path / "bad.parquet")
    message = str(err.value)
    assert "bad.parquet" in message
    assert "missing column 'title'" in message
    assert "unknown column 'extra'" in message
    assert "column 'http_status' has type string" in message


def test_required_columns_reject_nulls(tmp_path: Path) -> None:
    table = to_table([full_document()])
    idx = table.schema.get_field_index("url")
    nulls = table.set_column(idx, pa.field("url", pa.string()), pa.array([None], pa.string()))
    pq.write_table(nulls, tmp_path / "nulls.parquet")
    with pytest.raises(SchemaError, match="'url' has 1 nulls"):
        validate_file(tmp_path / "nulls.parquet")


def test_not_parquet_is_a_schema_error(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_bytes(b"not parquet")
    with pytest.raises(SchemaError, match="not a readable Parquet file"):
        validate_file(tmp_path / "x.parquet")


def test_bad_values_are_refused() -> None:
    with pytest.raises(SchemaError, match="media kind"):
        MediaItem(url="http://x/", kind="pdf")
    with pytest.raises(SchemaError, match="timezone-aware"):
        Document(id="a", url="http://x/", host="x", campaign="c", fetch_time=dt.datetime(2026, 1, 1))
    doc = full_document()
    doc.http_status = "ok"  # type: ignore[assignment]
    with pytest.raises(SchemaError, match="do not fit the schema"):
        to_table([doc])


def test_files_of_schema_2_read_with_null_seen_dates(tmp_path: Path) -> None:
    table = to_table([full_document(0)])
    old = table.drop_columns(["first_seen", "last_seen"]).replace_schema_metadata({b"owd.schema_version": b"2"})
    pq.write_table(old, tmp_path / "old.parquet")
    (doc,) = read_parquet(tmp_path / "old.parquet")
    assert doc.first_seen is None and doc.last_seen is None
    assert doc == dataclasses.replace(full_document(0), first_seen=None, last_seen=None)
