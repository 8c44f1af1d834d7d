"""The gzip members of a ``.warc.gz`` file: where each one ends, and what it holds.

A per-record-gzipped WARC is a sequence of gzip members, one record each, and a
record's address is its member's offset and length. :func:`inflate_member` reads one
member from a file's position on, :func:`member_end` finds where the member at an
offset ends, :func:`iter_members` walks a file member by member with each one's
decompressed bytes. A member that is cut short (the file ends inside it) or corrupt
ends the walk with a reason instead of raising.

Memory stays bounded whatever a member holds: input is read and output made in
chunks of at most ``chunk`` bytes (1 MiB), so a decompression bomb costs time, not
memory (:func:`iter_members` spools the output to a temporary file past
``spool_bytes``).
"""

from __future__ import annotations

import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

__all__ = [
    "CUT_SHORT",
    "GZIP_MAGIC",
    "GZIP_WBITS",
    "READ_CHUNK",
    "Inflated",
    "Member",
    "inflate_member",
    "iter_members",
    "member_end",
]

GZIP_MAGIC = b"\x1f\x8b"  # the first two bytes of every gzip member
GZIP_WBITS = zlib.MAX_WBITS | 16  # zlib window bits for one gzip member (header and trailer)
READ_CHUNK = 1 << 20  # bytes read, and bytes made, per step
CUT_SHORT = "gzip member cut short (end of file)"


@dataclass(frozen=True)
class Inflated:
    """What :func:`inflate_member` found.

    ``length``: compressed bytes of the member (when ``problem`` is None; otherwise how
    far it was read). ``rest``: bytes read from the file past the member's end, i.e.
    the start of whatever follows. ``problem``: None for a whole member, else why it
    is not one (:data:`CUT_SHORT`, or ``"gzip error: ..."`` for corrupt data).
    """

    length: int
    rest: bytes
    problem: str | None


def inflate_member(f: IO[bytes], head: bytes = b"", out: Callable[[bytes], object] | None = None,
                   *, chunk: int = READ_CHUNK) -> Inflated:
    """Decompress the gzip member that starts with the already-read bytes ``head`` and
    goes on at ``f``'s position, handing the decompressed bytes to ``out`` (in pieces
    of at most ``chunk`` bytes; None: only find where the member ends)."""
    d = zlib.decompressobj(GZIP_WBITS)
    used, buf = 0, head
    while True:
        if not buf:
            buf = f.read(chunk)
            if not buf:
                return Inflated(used, b"", CUT_SHORT)
        try:
            data = d.decompress(buf, chunk)
        except zlib.error as e:
            return Inflated(used, b"", f"gzip error: {e}")
        if out is not None:
            out(data)
        if d.eof:
            return Inflated(used + len(buf) - len(d.unused_data), d.unused_data, None)
        # the output cap leaves input unconsumed: it is fed again before reading more
        used += len(buf) - len(d.unconsumed_tail)
        buf = d.unconsumed_tail


def member_end(f: IO[bytes], offset: int, *, chunk: int = READ_CHUNK) -> int | None:
    """End offset of the gzip member starting at ``offset`` in ``f``; None when it is cut
    short or corrupt. Reads (and discards) the member once; moves ``f``'s position."""
    f.seek(offset)
    member = inflate_member(f, chunk=chunk)
    return None if member.problem else offset + member.length


@dataclass(frozen=True)
class Member:
    """One gzip member met by :func:`iter_members`: its ``offset`` and ``length`` in the
    file, its decompressed bytes ``data`` (a file positioned at 0, readable until the
    walk moves on) and ``problem`` (see :class:`Inflated`; then ``data`` is partial)."""

    offset: int
    length: int
    data: IO[bytes]
    problem: str | None


def iter_members(f: IO[bytes], *, chunk: int = READ_CHUNK, spool_bytes: int = 16 << 20) -> Iterator[Member]:
    """Every gzip member of ``f`` from its position on, in order, until the end of the
    file or the first member that is not whole (which is yielded, with its problem,
    and ends the walk). Offsets are file positions. The decompressed bytes are kept
    in memory up to ``spool_bytes`` per member, in a temporary file beyond."""
    offset, rest = f.tell(), b""
    while True:
        if not rest:
            rest = f.read(chunk)
            if not rest:
                return
        with tempfile.SpooledTemporaryFile(max_size=spool_bytes) as spool:
            found = inflate_member(f, rest, spool.write, chunk=chunk)
            spool.seek(0)
            yield Member(offset, found.length, spool, found.problem)
        if found.problem:
            return
        offset += found.length
        rest = found.rest
