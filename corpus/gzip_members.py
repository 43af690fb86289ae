"""Multi-member gzip (CommonCrawl ships one member per record) decompressed member by member from a
stream: a corrupt member is skipped, reading resumes at the next gzip header, every fault is kept."""
from __future__ import annotations

import zlib
from typing import Iterator

from corpus.faults import Fault
from corpus.window import ByteWindow

GZIP_MAGIC = b"\x1f\x8b\x08"
FEED = 16384
RUN = 1 << 16
"""Decompressed bytes of small members passed on together (see `_small_members`)."""
WBITS = 16 + zlib.MAX_WBITS
MEMBER_HOLD = 32 << 20
"""Decompressed bytes of one member held back until it proves intact; a larger member (not CommonCrawl's
shape) is passed on as it decompresses, so memory stays bounded, and a fault in it comes after its start."""


def gzip_members(w: ByteWindow, faults: list[tuple[int, Fault]]) -> Iterator[bytes]:
    """Decompressed bytes of every intact member of the compressed stream in `w`, in order.

    Faults (offsets in the compressed file) are appended to `faults` as they are found, each with
    the offset in the decompressed stream where it happened (what came out before it). Input is fed
    in small chunks so files of many small members decompress in linear time.
    """
    pos = w.base
    out = 0
    while w.fill(pos + 1):
        w.drop(pos)
        if w.get(pos, pos + 3) != GZIP_MAGIC:
            if w.rest_is(pos, b"\x00"):
                return
            nxt = w.find(GZIP_MAGIC, pos + 1, forget=True)
            faults.append((out, Fault(pos, f"not gzip data (compressed offset {pos}); skipped to "
                                           f"{'end of file' if nxt < 0 else f'offset {nxt}'}")))
            if nxt < 0:
                return
            pos = nxt
            continue
        run, stop = _small_members(w, pos)
        if stop > pos:
            if run:
                yield run
                out += len(run)
            pos = stop
            continue
        dec = zlib.decompressobj(WBITS)
        held: list[bytes] = []
        size = 0
        fed = pos
        try:
            while not dec.eof and w.fill(fed + 1):
                chunk = w.get(fed, fed + FEED)
                held.append(dec.decompress(chunk))
                size += len(held[-1])
                fed += len(chunk)
                if size > MEMBER_HOLD:
                    yield b"".join(held)
                    out += size
                    held, size = [], 0
                    w.drop(fed - len(dec.unused_data))
        except zlib.error as exc:
            nxt = w.find(GZIP_MAGIC, max(pos + 1, w.base), forget=True)
            faults.append((out, Fault(pos, f"corrupt gzip member at compressed offset {pos}: {exc}")))
            if nxt < 0:
                return
            pos = nxt
            continue
        if not dec.eof:
            faults.append((out, Fault(pos, f"truncated gzip member at compressed offset {pos} "
                                           f"(file ends before the member does)")))
            return
        if size:
            yield b"".join(held)
            out += size
        pos = fed - len(dec.unused_data)


def _small_members(w: ByteWindow, pos: int) -> tuple[bytes, int]:
    """(decompressed bytes, offset where it stopped) of the consecutive gzip members from `pos` on that
    each end exactly where the next gzip magic starts, within FEED bytes, up to about RUN bytes out;
    nothing consumed when stop == pos.

    CommonCrawl's members are a few KB each: fed in one piece that stops at the next member, a
    member decompresses without copying the bytes after it, to the same bytes (and the same offset
    of the next member) as fed FEED bytes at a time, and one run of them reaches the parser as one
    piece. Anything else (a false magic inside the compressed data, a corrupt, truncated or last
    member) is left to the general path in `gzip_members`.
    """
    parts: list[bytes] = []
    size = 0
    start = pos
    while size < RUN:
        nxt = w.find_before(GZIP_MAGIC, pos + 1, pos + FEED + 1)
        if nxt < 0:
            break
        dec = zlib.decompressobj(WBITS)
        try:
            whole = dec.decompress(w.get(pos, nxt))
        except zlib.error:
            break
        if not dec.eof or dec.unused_data:
            break
        parts.append(whole)
        size += len(whole)
        pos = nxt
    if pos == start:
        return b"", start
    return (parts[0] if len(parts) == 1 else b"".join(parts)), pos
