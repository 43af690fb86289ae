"""Partitioned spill files: fixed-size numpy records grouped by partition, with an offset index.

A shuffle that must not live in a runner's memory (the local Beam runner keeps every shuffled element
in its launcher) writes each producer's records here, one file per producer, grouped by the partition
that will consume them (e.g. a slice of the hash space); each consumer then reads its partitions'
contiguous byte range of every producer's file, never the whole file. cc_net does the same with its
per-shard hash files.

Layout (little-endian): MAGIC, int64 partition count P, int64 record size, int64[P + 1] record
offsets (partition p holds records offsets[p] .. offsets[p + 1]), then the records.
"""
from __future__ import annotations

from typing import BinaryIO

import numpy as np

MAGIC = b"LLSPILL1"
_HEADER = len(MAGIC) + 16


def encode(records: np.ndarray, partitions: np.ndarray, n_partitions: int) -> bytes:
    """The spill file of `records` (a 1-d array of any fixed-size dtype), record i in partition
    `partitions[i]` (0 <= p < n_partitions); records keep their order inside a partition."""
    if records.shape != partitions.shape or records.ndim != 1:
        raise ValueError(f"spill: {records.shape[0]} records need one partition each, got {partitions.shape}")
    partitions = np.asarray(partitions, dtype=np.int64)
    if partitions.size and (partitions.min() < 0 or partitions.max() >= n_partitions):
        raise ValueError(f"spill: partition ids must lie in 0..{n_partitions - 1}")
    order = np.argsort(partitions, kind="stable")
    offsets = np.zeros(n_partitions + 1, dtype="<i8")
    np.cumsum(np.bincount(partitions, minlength=n_partitions), out=offsets[1:])
    head = MAGIC + np.asarray([n_partitions, records.dtype.itemsize], dtype="<i8").tobytes()
    return b"".join((head, offsets.tobytes(), np.ascontiguousarray(records[order]).tobytes()))


def _int64s(f: BinaryIO, pos: int, count: int, name: str) -> np.ndarray:
    f.seek(pos)
    data = f.read(8 * count)
    if len(data) != 8 * count:
        raise ValueError(f"{name}: truncated spill file (index ends at byte {pos + len(data)})")
    return np.frombuffer(data, dtype="<i8")


def read_partitions(f: BinaryIO, dtype: np.dtype, lo: int, hi: int, name: str = "spill file") -> np.ndarray:
    """The records of partitions lo .. hi - 1 of an open spill file (seekable), in file order; reads
    only the index entries and the byte range it needs. `name` names the file in errors."""
    dtype = np.dtype(dtype)
    f.seek(0)
    if f.read(len(MAGIC)) != MAGIC:
        raise ValueError(f"{name}: not a spill file (bad magic)")
    n_partitions, itemsize = _int64s(f, len(MAGIC), 2, name).tolist()
    if itemsize != dtype.itemsize:
        raise ValueError(f"{name}: records are {itemsize} bytes, expected {dtype.itemsize} ({dtype})")
    if not 0 <= lo <= hi <= n_partitions:
        raise ValueError(f"{name}: partitions {lo}..{hi} outside 0..{n_partitions}")
    start, end = _int64s(f, _HEADER + 8 * lo, 1, name)[0], _int64s(f, _HEADER + 8 * hi, 1, name)[0]
    f.seek(_HEADER + 8 * (n_partitions + 1) + int(start) * itemsize)
    data = f.read(int(end - start) * itemsize)
    if len(data) != (end - start) * itemsize:
        raise ValueError(f"{name}: truncated spill file ({len(data)} of {(end - start) * itemsize} record bytes)")
    return np.frombuffer(data, dtype=dtype)
