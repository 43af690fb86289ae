"""Work units smaller than a WET file: byte ranges that start at a record (plain WET) or at a gzip
member holding a record (CommonCrawl's .warc.wet.gz, one member per record), so many workers share
one large file and none idles while the last file is read.

A unit [start, end) holds the records whose first byte (plain) or gzip member (gzipped) starts in it;
consecutive units cover every record of the file once, in file order. A gzipped file is cut only at
a member that decompresses whole (its CRC checks) into a `WARC/` record, so a cut never falls inside
a member; a file without such members (one big member) stays one unit.
"""
from __future__ import annotations

import zlib
from typing import BinaryIO, Iterator, Optional, Union

from corpus.faults import Fault
from corpus.gzip_members import GZIP_MAGIC, gzip_members
from corpus.ranges import split_ranges
from corpus.wet import WARC_PREFIX, WetRecord, stream_wet, wet_records
from corpus.window import ByteWindow, file_chunks

SEARCH_CHUNK = 1 << 16
MAX_MEMBER_CHECK = 8 << 20
"""A candidate member longer than this (compressed) is not checked to its end and not used as a cut."""


def is_gzipped(f: BinaryIO, path: str) -> bool:
    """A WET file is gzipped when its name ends in .gz or its first bytes are the gzip magic (as the reader decides)."""
    if path.endswith(".gz"):
        return True
    f.seek(0)
    magic = f.read(len(GZIP_MAGIC))
    f.seek(0)
    return magic == GZIP_MAGIC


def _is_record_member(f: BinaryIO, pos: int) -> bool:
    """True when a gzip member starting at `pos` decompresses whole, CRC included, to a `WARC/` record."""
    f.seek(pos)
    dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
    head = b""
    read = 0
    try:
        while not dec.eof and read < MAX_MEMBER_CHECK:
            chunk = f.read(SEARCH_CHUNK)
            if not chunk:
                return False
            read += len(chunk)
            out = dec.decompress(chunk)
            if len(head) < len(WARC_PREFIX):
                head += out[:len(WARC_PREFIX)]
                if len(head) >= len(WARC_PREFIX) and not head.startswith(WARC_PREFIX):
                    return False
    except zlib.error:
        return False
    return dec.eof and head.startswith(WARC_PREFIX)


def _member_at_or_after(f: BinaryIO, pos: int, limit: int) -> int:
    """Offset of the first record member starting in [pos, limit), or -1."""
    while pos < limit:
        f.seek(pos)
        block = f.read(min(SEARCH_CHUNK, limit - pos) + len(GZIP_MAGIC) - 1)
        idx = block.find(GZIP_MAGIC)
        while idx >= 0 and pos + idx < limit:
            if _is_record_member(f, pos + idx):
                return pos + idx
            idx = block.find(GZIP_MAGIC, idx + 1)
        pos += SEARCH_CHUNK
    return -1


def plan_units(f: BinaryIO, path: str, size: int, target_bytes: int) -> list[tuple[int, int]]:
    """Consecutive byte ranges of about `target_bytes` covering an open WET file of `size` bytes, each
    starting at a record (plain) or at a record's gzip member (gzipped); one range for a small file."""
    if target_bytes <= 0:
        raise ValueError(f"{path}: unit size must be positive, got {target_bytes}")
    if size <= target_bytes:
        return [(0, size)]
    if not is_gzipped(f, path):
        return split_ranges(path, size, target_bytes)
    parts = -(-size // target_bytes)
    starts = [0]
    for i in range(1, parts):
        cut = max(size * i // parts, starts[-1] + 1)
        found = _member_at_or_after(f, cut, size * (i + 1) // parts)
        if found > starts[-1]:
            starts.append(found)
    f.seek(0)
    return list(zip(starts, starts[1:] + [size]))


def _bounded_chunks(f: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """The bytes [start, end) of an open file, in chunks."""
    f.seek(start)
    left = end - start
    for chunk in file_chunks(f):
        if len(chunk) >= left:
            yield chunk[:left]
            return
        left -= len(chunk)
        yield chunk


def _gzip_unit_records(f: BinaryIO, start: int, end: int) -> Iterator[Union[WetRecord, Fault]]:
    """Records of the gzip members in [start, end) and faults in place; a record fault's offset (in
    the decompressed stream, which only a whole-file read can number) is the unit's start, with the
    position inside the unit's decompressed records in its message."""
    faults: list[tuple[int, Fault]] = []
    raw = ByteWindow(gzip_members(ByteWindow(_bounded_chunks(f, start, end), start), faults))
    if not raw.fill(1) and faults:
        yield from (fault for _, fault in faults)
        return
    for item in wet_records(raw):
        while faults and faults[0][0] <= item.offset:
            yield faults.pop(0)[1]
        if isinstance(item, Fault) and start:
            item = Fault(start, f"{item.error} (byte {item.offset} of the records decompressed from "
                                f"the gzip members that start at compressed offset {start})")
        yield item
    yield from (fault for _, fault in faults)


def unit_records(f: BinaryIO, path: str, byte_range: Optional[tuple[int, int]] = None
                 ) -> Iterator[Union[WetRecord, Fault]]:
    """Records and faults of one unit of an open WET file (`plan_units`), in file order; None: the whole file."""
    if byte_range is None or byte_range[0] == 0 and byte_range[1] >= f.seek(0, 2):
        f.seek(0)
        return stream_wet(f, path)
    start, end = byte_range
    if is_gzipped(f, path):
        return _gzip_unit_records(f, start, end)
    f.seek(0)
    return stream_wet(f, path, start, end)
