"""owd.core.gzip_members: member ends, the member walk, broken members, bounded output."""

from __future__ import annotations

import gzip
import io
import os
import zlib

import pytest

from owd.core.gzip_members import (CUT_SHORT, GZIP_MAGIC, iter_members, inflate_member, member_end)


def _gz(data: bytes, level: int = 6) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=0)


PAYLOADS = [b"WARC/1.1\r\nfirst\r\n\r\n", os.urandom(3000), b"z" * 200_000, b""]
MEMBERS = [_gz(p) for p in PAYLOADS]
FILE = b"".join(MEMBERS)
OFFSETS = [sum(len(m) for m in MEMBERS[:i]) for i in range(len(MEMBERS))]


def _walk(data: bytes, **kw: int) -> list[tuple[int, int, bytes, str | None]]:
    return [(m.offset, m.length, m.data.read(), m.problem) for m in iter_members(io.BytesIO(data), **kw)]


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_walk_gives_every_member_with_offset_length_and_bytes(chunk: int) -> None:
    assert _walk(FILE, chunk=chunk) == [(o, len(m), p, None) for o, m, p in zip(OFFSETS, MEMBERS, PAYLOADS)]
    for o, m in zip(OFFSETS, MEMBERS):
        assert member_end(io.BytesIO(FILE), o, chunk=chunk) == o + len(m)
        assert FILE[o:o + 2] == GZIP_MAGIC


def test_walk_starts_at_the_file_position_and_ends_quietly_at_eof() -> None:
    f = io.BytesIO(FILE)
    f.seek(OFFSETS[2])
    assert [(m.offset, m.length) for m in iter_members(f)] == [(OFFSETS[2], len(MEMBERS[2])),
                                                               (OFFSETS[3], len(MEMBERS[3]))]
    assert _walk(b"") == []


@pytest.mark.parametrize("chunk", [3, 1 << 20])
def test_cut_short_member_ends_the_walk_with_its_reason(chunk: int) -> None:
    cut = FILE[: OFFSETS[2] + len(MEMBERS[2]) // 2]
    walked = _walk(cut, chunk=chunk)
    assert [(o, n, d, p) for o, n, d, p in walked[:2]] == [(OFFSETS[i], len(MEMBERS[i]), PAYLOADS[i], None)
                                                           for i in range(2)]
    assert len(walked) == 3 and walked[2][0] == OFFSETS[2] and walked[2][3] == CUT_SHORT
    assert member_end(io.BytesIO(cut), OFFSETS[2]) is None
    # the file stops inside the gzip header / right after a few bytes of the next member
    for tail in (b"\x1f", GZIP_MAGIC + b"\x08"):
        assert _walk(MEMBERS[0] + tail)[-1][3] == CUT_SHORT
        assert member_end(io.BytesIO(MEMBERS[0] + tail), len(MEMBERS[0])) is None


def test_corrupt_member_ends_the_walk_with_a_gzip_error() -> None:
    bad = bytearray(FILE)
    bad[OFFSETS[1] + 20] ^= 0xFF  # inside the deflate data of the random payload
    walked = _walk(bytes(bad))
    assert walked[0] == (0, len(MEMBERS[0]), PAYLOADS[0], None)
    assert len(walked) == 2 and walked[1][0] == OFFSETS[1]
    assert walked[1][3] is not None and walked[1][3].startswith("gzip error: ")
    assert member_end(io.BytesIO(bytes(bad)), OFFSETS[1]) is None
    # not gzip at all, and garbage after whole members
    assert _walk(b"WARC/1.1\r\n")[0][3].startswith("gzip error: ")  # type: ignore[union-attr]
    assert _walk(MEMBERS[0] + b"junk")[-1][:2] == (len(MEMBERS[0]), 0)


def test_rest_is_what_follows_the_member() -> None:
    f = io.BytesIO(FILE[10:])
    found = inflate_member(f, FILE[:10])
    assert (found.length, found.problem) == (len(MEMBERS[0]), None)
    assert found.rest + f.read() == FILE[len(MEMBERS[0]):]


def test_output_comes_in_bounded_pieces_however_big_the_member() -> None:
    size = 300 * 2**20
    bomb = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    member = bomb.compress(b"\0" * size) + bomb.flush()
    assert len(member) < 2**20 // 2  # one read holds it: a single decompress call would make 300 MiB
    pieces: list[int] = []
    found = inflate_member(io.BytesIO(member + MEMBERS[0]), out=lambda b: pieces.append(len(b)))
    assert (found.length, found.problem, found.rest) == (len(member), None, MEMBERS[0])
    assert sum(pieces) == size and max(pieces) <= 2**20
    assert member_end(io.BytesIO(member + MEMBERS[0]), 0) == len(member)
