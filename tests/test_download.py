"""owd.core.download against a loopback file server (tests/http_files.py): resume after a
dropped connection, verification, restarts, the address policy, byte ranges."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

import pytest

from owd.core.download import MAX_RANGE_BYTES, DownloadError, download, fetch_range, is_url
from owd.core.networks import AddressGuard
from tests.http_files import FileServer

LOOPBACK = ["127.0.0.0/8"]
SIZE = 2 * 1024 * 1024 + 123


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FileServer, bytes]]:
    root = tmp_path / "served"
    root.mkdir()
    data = os.urandom(SIZE)
    (root / "big.bin").write_bytes(data)
    with FileServer(root) as server:
        yield server, data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_verifies_and_a_rerun_fetches_nothing(served: tuple[FileServer, bytes], tmp_path: Path) -> None:
    server, data = served
    dest = tmp_path / "out" / "big.bin"
    seen: list[tuple[int, int | None]] = []
    got = download(server.url + "big.bin", dest, sha256=_sha(data), size=SIZE, allow_networks=LOOPBACK,
                   progress=lambda done, total: seen.append((done, total)))
    assert dest.read_bytes() == data and got.size == SIZE and got.sha256 == _sha(data)
    assert got.resumed_from == 0 and got.etag and not got.skipped
    assert seen[-1] == (SIZE, SIZE)
    assert not dest.with_name("big.bin.part").exists() and not dest.with_name("big.bin.part.json").exists()
    requests = len(server.log)
    again = download(server.url + "big.bin", dest, sha256=_sha(data), allow_networks=LOOPBACK)
    assert again.skipped and again.sha256 == _sha(data) and len(server.log) == requests
    again = download(server.url + "big.bin", dest, allow_networks=LOOPBACK)  # no checksum: size unknown, kept
    assert again.skipped and len(server.log) == requests


def test_a_dropped_connection_resumes_where_it_stopped(served: tuple[FileServer, bytes], tmp_path: Path) -> None:
    server, data = served
    dest = tmp_path / "big.bin"
    cut = 700_001
    server.drop_after(cut)
    with pytest.raises(DownloadError) as err:
        download(server.url + "big.bin", dest, sha256=_sha(data), allow_networks=LOOPBACK)
    message = str(err.value)
    assert err.value.reason == "connection" and "\n" not in message
    assert message.startswith(server.url + "big.bin: connection dropped after 700001 of ")
    assert not dest.exists()
    assert dest.with_name("big.bin.part").stat().st_size == cut
    state = json.loads(dest.with_name("big.bin.part.json").read_text())
    assert state["url"] == server.url + "big.bin" and state["etag"] and state["bytes"] == cut

    got = download(server.url + "big.bin", dest, sha256=_sha(data), allow_networks=LOOPBACK)
    assert got.resumed_from == cut and dest.read_bytes() == data
    assert server.log[-1].range == f"bytes={cut}-" and server.log[-1].status == 206
    assert server.sent() == SIZE  # every byte once, none twice


def test_a_run_killed_before_the_rename_finishes_without_refetching(served: tuple[FileServer, bytes],
                                                                      tmp_path: Path) -> None:
    server, data = served
    dest = tmp_path / "big.bin"
    first = download(server.url + "big.bin", dest, allow_networks=LOOPBACK)
    # As if killed after the last byte, before the rename: the whole file is still .part.
    dest.rename(dest.with_name("big.bin.part"))
    dest.with_name("big.bin.part.json").write_text(json.dumps({"url": server.url + "big.bin", "etag": first.etag}))
    got = download(server.url + "big.bin", dest, sha256=_sha(data), allow_networks=LOOPBACK)
    assert got.resumed_from == SIZE and dest.read_bytes() == data
    assert server.log[-1].status == 416 and server.sent() == SIZE


@pytest.mark.parametrize("why", ["no_ranges", "file_changed"])
def test_a_200_instead_of_206_restarts_from_zero(served: tuple[FileServer, bytes], tmp_path: Path,
                                                 why: str) -> None:
    server, data = served
    dest = tmp_path / "big.bin"
    server.drop_after(1000)
    with pytest.raises(DownloadError):
        download(server.url + "big.bin", dest, allow_networks=LOOPBACK)
    if why == "no_ranges":
        server.ranges = False
    else:  # a new version under the same name: the ETag changes, If-Range no longer holds
        data = os.urandom(SIZE)
        (server.root / "big.bin").write_bytes(data)
        os.utime(server.root / "big.bin", ns=(1, 1))
    got = download(server.url + "big.bin", dest, sha256=_sha(data), allow_networks=LOOPBACK)
    assert got.resumed_from == 0 and dest.read_bytes() == data
    assert server.log[-1].status == 200 and server.log[-1].range == "bytes=1000-"


def test_a_checksum_or_size_mismatch_raises_and_leaves_nothing(served: tuple[FileServer, bytes],
                                                               tmp_path: Path) -> None:
    server, data = served
    dest = tmp_path / "big.bin"
    with pytest.raises(DownloadError) as err:
        download(server.url + "big.bin", dest, sha256="0" * 64, allow_networks=LOOPBACK)
    assert err.value.reason == "checksum" and "0" * 64 in str(err.value) and _sha(data) in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]
    with pytest.raises(DownloadError) as err:
        download(server.url + "big.bin", dest, size=SIZE + 1, allow_networks=LOOPBACK)
    assert err.value.reason == "size" and f"expected {SIZE + 1} bytes" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]
    # A dest that is there but wrong is replaced, not trusted.
    dest.write_bytes(b"stale")
    assert download(server.url + "big.bin", dest, sha256=_sha(data), allow_networks=LOOPBACK).resumed_from == 0
    assert dest.read_bytes() == data


def test_the_address_policy_refuses_loopback_unless_allowed(served: tuple[FileServer, bytes],
                                                            tmp_path: Path) -> None:
    server, _ = served
    with pytest.raises(DownloadError) as err:
        download(server.url + "big.bin", tmp_path / "x")
    assert err.value.reason == "refused_address"
    assert "127.0.0.1, a loopback address not allow-listed" in str(err.value)
    assert "add 127.0.0.1/32 to network.allow_networks" in str(err.value)
    with pytest.raises(DownloadError):
        fetch_range(server.url + "big.bin", 0, 10)
    assert server.log == []  # refused before connecting
    assert AddressGuard(LOOPBACK).refusal("127.0.0.1") is None
    assert AddressGuard([]).refusal("10.1.2.3") == "private"

    # Each redirect hop is checked: 127.0.0.2 is not in the allowed /32.
    server.redirects["/elsewhere"] = f"http://127.0.0.2:{server.port}/big.bin"
    with pytest.raises(DownloadError) as err:
        download(server.url + "elsewhere", tmp_path / "x", allow_networks=["127.0.0.1/32"])
    assert err.value.reason == "refused_address" and "127.0.0.2" in str(err.value)
    server.redirects["/hop"] = "/big.bin"  # relative Location
    assert download(server.url + "hop", tmp_path / "x", allow_networks=["127.0.0.1/32"]).size == SIZE
    server.redirects["/loop"] = "/loop"
    with pytest.raises(DownloadError) as err:
        download(server.url + "loop", tmp_path / "y", allow_networks=LOOPBACK)
    assert err.value.reason == "redirects" and "more than 5 redirects" in str(err.value)
    assert [s.status for s in server.log].count(302) == 1 + 1 + 6


def test_http_errors_and_local_copies(served: tuple[FileServer, bytes], tmp_path: Path) -> None:
    server, data = served
    with pytest.raises(DownloadError) as err:
        download(server.url + "missing.bin", tmp_path / "m", allow_networks=LOOPBACK)
    assert err.value.reason == "http_404" and str(err.value) == f"{server.url}missing.bin: HTTP 404 Not Found"
    got = download(str(server.root / "big.bin"), tmp_path / "copy.bin", sha256=_sha(data))
    assert (tmp_path / "copy.bin").read_bytes() == data and got.etag is None
    with pytest.raises(DownloadError) as err:
        download(str(server.root / "nope"), tmp_path / "n")
    assert err.value.reason == "not_found"
    assert is_url("https://data.example/x.warc.gz") and not is_url("/data/x.warc.gz") and not is_url("ftp://a/b")


def test_fetch_range_insists_on_the_range_asked_for(served: tuple[FileServer, bytes]) -> None:
    server, data = served
    url = server.url + "big.bin"
    assert fetch_range(url, 1000, 5000, allow_networks=LOOPBACK) == data[1000:6000]
    assert fetch_range(str(server.root / "big.bin"), 1000, 5000) == data[1000:6000]
    with pytest.raises(DownloadError, match="at most 67108864 bytes"):
        fetch_range(url, 0, MAX_RANGE_BYTES + 1, allow_networks=LOOPBACK)
    with pytest.raises(DownloadError, match=f"expected 206 Partial Content for bytes {SIZE + 10}-{SIZE + 19}, "
                                            "got HTTP 416"):
        fetch_range(url, SIZE + 10, 10, allow_networks=LOOPBACK)
    server.drop_after(100)
    with pytest.raises(DownloadError) as err:
        fetch_range(url, 0, 5000, allow_networks=LOOPBACK)
    assert err.value.reason == "connection" and "after 100 of 5000 bytes" in str(err.value)
    server.ranges = False
    with pytest.raises(DownloadError, match="got HTTP 200"):
        fetch_range(url, 0, 10, allow_networks=LOOPBACK)
    with pytest.raises(DownloadError, match="the file has 3 there"):
        fetch_range(str(server.root / "big.bin"), SIZE - 3, 10)

