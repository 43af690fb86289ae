"""Concatenated bz2 streams (Wikimedia multistream dumps): finding where streams start, and
decompressing a byte range of them stream by stream, a bounded chunk at a time.

A multistream file is independent bz2 streams laid end to end; each starts byte-aligned with
`BZh[1-9]` and the first block's magic `1AY&SY` (0x314159265359). The pattern can also occur
inside compressed data, so a candidate counts as a stream start only once decompressing from it
gives output.
"""
from __future__ import annotations

import bz2
import dataclasses
import re
from typing import BinaryIO, Iterator, Optional

MAGIC = re.compile(rb"BZh[1-9]1AY&SY")
MAGIC_LEN = 10
READ_CHUNK = 1 << 20
OUT_CHUNK = 1 << 20
# A bz2 block holds at most 900 kB before compression and grows by a few per cent at worst, so a
# real stream gives its first output well within this many compressed bytes.
VERIFY_LIMIT = 2 << 20


@dataclasses.dataclass(frozen=True)
class Piece:
    """One event of `decompress_range`: `kind` is "data" (decompressed bytes of the stream at
    `offset`), "end" (that stream ended cleanly) or "error" (it is corrupt or truncated: `error`)."""

    kind: str
    offset: int
    data: bytes = b""
    error: str = ""


def first_output(f: BinaryIO, offset: int, end: int, want: int = 64) -> Optional[bytes]:
    """The first (up to `want`) decompressed bytes of a bz2 stream starting at `offset`, or None when
    no valid stream starts there (bad data, or no output before `end` or VERIFY_LIMIT bytes)."""
    f.seek(offset)
    dec = bz2.BZ2Decompressor()
    out = b""
    fed = 0
    limit = min(end, offset + VERIFY_LIMIT)
    try:
        while len(out) < want and not dec.eof:
            if dec.needs_input:
                data = f.read(min(64 << 10, limit - offset - fed))
                if not data:
                    return out or None
                fed += len(data)
            else:
                data = b""
            out += dec.decompress(data, want - len(out))
    except (OSError, EOFError, ValueError):
        return None
    return out or None


def candidates(f: BinaryIO, start: int, end: int) -> Iterator[int]:
    """Offsets in [start, end) where the stream-start pattern occurs, in order (read in chunks)."""
    pos = start
    carry = b""
    f.seek(start)
    while pos < end:
        block = f.read(min(READ_CHUNK, end - pos))
        if not block:
            return
        data = carry + block
        base = pos - len(carry)
        for m in MAGIC.finditer(data):
            yield base + m.start()
        pos += len(block)
        carry = data[-(MAGIC_LEN - 1):]
        f.seek(pos)


def stream_starts(f: BinaryIO, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(offset, first decompressed bytes) of every verified stream start in [start, end), in order."""
    for offset in candidates(f, start, end):
        head = first_output(f, offset, end)
        if head is not None:
            yield offset, head


def next_stream(f: BinaryIO, after: int, end: int) -> Optional[int]:
    """The first verified stream start in (after, end), or None: where reading resumes after a
    corrupt stream."""
    for offset, _ in stream_starts(f, after + 1, end):
        return offset
    return None


def decompress_range(f: BinaryIO, start: int, end: int) -> Iterator[Piece]:
    """The streams that start in [start, end), decompressed in order, each as "data" pieces of at most
    OUT_CHUNK bytes then "end"; a corrupt or truncated stream gives one "error" piece at its offset,
    and reading resumes at the next verified stream start. Holds one read chunk and one output chunk."""
    stream: Optional[int] = start
    pending = b""
    f.seek(start)
    while stream is not None and stream < end:
        done = yield from _one_stream(f, stream, end, pending)
        if done is None:
            stream = next_stream(f, stream, end)
            pending = b""
            if stream is not None:
                f.seek(stream)
        else:
            stream, pending = done


def _one_stream(f: BinaryIO, stream: int, end: int, pending: bytes):
    """Pieces of the stream at `stream`, whose first `pending` bytes are already read (the file is
    positioned after them); returns (next stream's offset, its bytes already read), or None after an
    error piece."""
    pos = stream + len(pending)
    dec = bz2.BZ2Decompressor()
    fed = 0
    try:
        while not dec.eof:
            if dec.needs_input:
                if not pending:
                    if pos >= end:
                        yield Piece("error", stream, error=f"truncated bz2 stream: it does not end before byte {end}")
                        return None
                    pending = f.read(min(READ_CHUNK, end - pos))
                    if not pending:
                        yield Piece("error", stream, error="truncated bz2 stream: the file ends inside it")
                        return None
                    pos += len(pending)
                data, pending = pending, b""
                fed += len(data)
            else:
                data = b""
            out = dec.decompress(data, OUT_CHUNK)
            if out:
                yield Piece("data", stream, out)
    except (OSError, EOFError, ValueError) as exc:
        yield Piece("error", stream, error=f"corrupt bz2 stream: {exc}")
        return None
    yield Piece("end", stream)
    rest = dec.unused_data
    return stream + fed - len(rest), rest
