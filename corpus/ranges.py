"""Byte ranges of input files, so one large file can be read by many workers.

The rule every reader follows: a part [start, end) holds the records (WET records, JSONL lines,
Parquet row groups) that START in it, and reads the last one to its end even past `end`; so
consecutive parts cover every record exactly once. File-level faults (empty file, wrong format)
belong to the part that starts at 0. A compressed file (.gz, .zst) cannot be split: its stream
can only be decompressed from its start.
"""
from __future__ import annotations

from typing import BinaryIO, Optional

COMPRESSED_SUFFIXES = (".gz", ".zst")


def is_compressed(path: str) -> bool:
    """True for a gzip or zstd file (by suffix): such a file is read whole, never by parts."""
    return path.lower().endswith(COMPRESSED_SUFFIXES)


def compressed_range_error(path: str, byte_range: tuple[int, Optional[int]]) -> ValueError:
    """The error for asking a part of a compressed file."""
    return ValueError(f"{path}: cannot read bytes {byte_range[0]}..{byte_range[1]} of a compressed file: "
                      f"a gzip or zstd stream can only be decompressed from its start; read it whole")


def split_ranges(path: str, size: int, target_bytes: int) -> list[tuple[int, int]]:
    """Consecutive ranges of about `target_bytes` covering a file of `size` bytes; one for a compressed file."""
    if target_bytes <= 0:
        raise ValueError(f"target_bytes must be positive, got {target_bytes}")
    if is_compressed(path) or size <= target_bytes:
        return [(0, size)]
    parts = -(-size // target_bytes)
    bounds = [size * i // parts for i in range(parts + 1)]
    return list(zip(bounds, bounds[1:]))


def _size(f: BinaryIO) -> int:
    size = f.seek(0, 2)
    f.seek(0)
    return size


def read_range(f: BinaryIO, path: str, byte_range: Optional[tuple[int, int]]) -> tuple[int, Optional[int]]:
    """(start, end) of an open file to read, (0, None) for all of it; ValueError for a bad range or a
    part of a compressed file. A range that covers the file is the whole file."""
    if byte_range is None:
        return 0, None
    start, end = byte_range
    if not 0 <= start <= end:
        raise ValueError(f"{path}: bad byte range {byte_range} (need 0 <= start <= end)")
    if start == 0 and end >= _size(f):
        return 0, None
    if is_compressed(path):
        raise compressed_range_error(path, byte_range)
    return start, end
