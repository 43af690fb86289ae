"""Partitioned spill files: fixed-size numpy records grouped by partition, with an offset index.

A shuffle that must not live in a runner's memory (the local Beam runner keeps every shuffled element
in its launcher) writes each producer's records here, one file per producer, grouped by the partition
that will consume them (e.g. a slice of the hash space); each consumer then reads its partitions'
contiguous byte range of every producer's file, never the whole file. cc_net does the same with its
per-shard hash files.

Layout (little-endian): MAGIC, int64 partition count P, int64 record size, int64[P + 1] record
offsets (partition p holds records offsets[p] .. offsets[p + 1]), then the records. A table spill
(`encode_tables`) is the same file of bytes, partition p holding one Arrow IPC stream.
"""
from __future__ import annotations

from typing import BinaryIO, Iterable, Sequence

import numpy as np
import pyarrow as pa

MAGIC = b"LLSPILL1"
_HEADER = len(MAGIC) + 16
# read_partitions reads the offsets of at most this many partitions in one go, else the two ends alone.
_ONE_READ = 64


def encode(records: np.ndarray, partitions: np.ndarray, n_partitions: int) -> bytes:
    """The spill file of `records` (a 1-d array of any fixed-size dtype), record i in partition
    `partitions[i]` (0 <= p < n_partitions); records keep their order inside a partition."""
    if records.shape != partitions.shape or records.ndim != 1:
        raise ValueError(f"spill: {records.shape[0]} records need one partition each, got {partitions.shape}")
    partitions = np.asarray(partitions, dtype=np.int64)
    if partitions.size and (partitions.min() < 0 or partitions.max() >= n_partitions):
        raise ValueError(f"spill: partition ids must lie in 0..{n_partitions - 1}")
    order = np.argsort(partitions, kind="stable")
    return encode_counts(records[order], np.bincount(partitions, minlength=n_partitions))


def encode_counts(records: np.ndarray, counts: np.ndarray) -> bytes:
    """The spill file of `records` already in partition order: the first counts[0] in partition 0,
    the next counts[1] in partition 1, and so on (no sort, no per-record partition array)."""
    counts = np.asarray(counts, dtype=np.int64)
    if records.ndim != 1 or counts.ndim != 1 or (counts < 0).any() or int(counts.sum()) != records.shape[0]:
        raise ValueError(f"spill: partition counts (sum {int(counts.sum())}) must cover the "
                         f"{records.shape[0]} records exactly")
    offsets = np.zeros(counts.size + 1, dtype="<i8")
    np.cumsum(counts, out=offsets[1:])
    head = MAGIC + np.asarray([counts.size, records.dtype.itemsize], dtype="<i8").tobytes()
    return b"".join((head, offsets.tobytes(), np.ascontiguousarray(records).tobytes()))


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
    n_partitions = _header(f, dtype, name)
    _check_range(lo, hi, n_partitions, name)
    if hi - lo <= _ONE_READ:   # offsets lo .. hi in one read (a consumer of one partition reads two)
        span = _int64s(f, _HEADER + 8 * lo, hi - lo + 1, name)
        start, end = span[0], span[-1]
    else:
        start, end = _int64s(f, _HEADER + 8 * lo, 1, name)[0], _int64s(f, _HEADER + 8 * hi, 1, name)[0]
    return _records(f, dtype, _HEADER + 8 * (n_partitions + 1), int(start), int(end), name)


def read_all(f: BinaryIO, dtype: np.dtype, name: str = "spill file") -> np.ndarray:
    """Every record of an open spill file, in file order; reads two index entries, however many
    partitions the file has."""
    dtype = np.dtype(dtype)
    n_partitions = _header(f, dtype, name)
    end = int(_int64s(f, _HEADER + 8 * n_partitions, 1, name)[0])
    return _records(f, dtype, _HEADER + 8 * (n_partitions + 1), 0, end, name)


def _header(f: BinaryIO, dtype: np.dtype, name: str) -> int:
    """Check an open spill file's magic and record size against `dtype`; its partition count."""
    f.seek(0)
    head = f.read(_HEADER)
    if head[:len(MAGIC)] != MAGIC:
        raise ValueError(f"{name}: not a spill file (bad magic)")
    if len(head) != _HEADER:
        raise ValueError(f"{name}: truncated spill file (header ends at byte {len(head)})")
    n_partitions, itemsize = np.frombuffer(head, dtype="<i8", offset=len(MAGIC)).tolist()
    if itemsize != dtype.itemsize:
        raise ValueError(f"{name}: records are {itemsize} bytes, expected {dtype.itemsize} ({dtype})")
    return n_partitions


def _check_range(lo: int, hi: int, n_partitions: int, name: str) -> None:
    if not 0 <= lo <= hi <= n_partitions:
        raise ValueError(f"{name}: partitions {lo}..{hi} outside 0..{n_partitions}")


def _records(f: BinaryIO, dtype: np.dtype, base: int, start: int, end: int, name: str) -> np.ndarray:
    """Records start .. end - 1 of a spill file whose records begin at byte `base`."""
    f.seek(base + start * dtype.itemsize)
    data = f.read((end - start) * dtype.itemsize)
    if len(data) != (end - start) * dtype.itemsize:
        raise ValueError(f"{name}: truncated spill file ({len(data)} of {(end - start) * dtype.itemsize} "
                         f"record bytes)")
    return np.frombuffer(data, dtype=dtype)


class SpillReader:
    """One open spill file whose whole offset index is read once, for a consumer that reads many of its
    partitions (e.g. one per document): each read is then one seek, not three."""

    def __init__(self, f: BinaryIO, dtype: np.dtype, name: str = "spill file"):
        self.f, self.dtype, self.name = f, np.dtype(dtype), name
        self.partitions = _header(f, self.dtype, name)
        self.offsets = _int64s(f, _HEADER, self.partitions + 1, name)
        self.base = _HEADER + 8 * (self.partitions + 1)

    def sizes(self) -> np.ndarray:
        """Records in each partition."""
        return np.diff(self.offsets)

    def read(self, lo: int, hi: int) -> np.ndarray:
        """The records of partitions lo .. hi - 1, in file order."""
        _check_range(lo, hi, self.partitions, self.name)
        return _records(self.f, self.dtype, self.base, int(self.offsets[lo]), int(self.offsets[hi]), self.name)


def encode_tables(tables: Sequence[tuple[int, pa.Table]], n_partitions: int, schema: pa.Schema) -> bytes:
    """The spill file of (partition, table) pairs (distinct partitions, ascending, below `n_partitions`):
    partition p holds its table as an Arrow IPC stream of `schema`, nothing when absent. A reader
    seeks to its own table (`read_tables`), whatever the number of partitions, where a Parquet footer of
    one row group per partition would be parsed whole by every reader."""
    counts = np.zeros(n_partitions, dtype=np.int64)
    chunks = []
    previous = -1
    for key, table in tables:
        if not previous < key < n_partitions:
            raise ValueError(f"spill: table partitions must ascend below {n_partitions}, got {key} after {previous}")
        previous = key
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, schema) as writer:
            writer.write_table(table.cast(schema))
        chunks.append(sink.getvalue().to_pybytes())
        counts[key] = len(chunks[-1])
    return encode_counts(np.frombuffer(b"".join(chunks), dtype=np.uint8), counts)


def read_tables(f: BinaryIO, partitions: Iterable[int], schema: pa.Schema, name: str = "spill file") -> pa.Table:
    """The tables `encode_tables` wrote for `partitions` of an open spill file, concatenated in the order
    given (an empty table of `schema` for a partition without one)."""
    partitions = list(partitions)
    if len(partitions) == 1:   # the common case: only the two index entries it needs, whatever the partitions
        raws = [read_partitions(f, np.uint8, partitions[0], partitions[0] + 1, name)]
    else:
        reader = SpillReader(f, np.uint8, name)
        raws = [reader.read(p, p + 1) for p in partitions]
    tables = [_ipc_table(raw, schema, name) for raw in raws]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _ipc_table(raw: np.ndarray, schema: pa.Schema, name: str) -> pa.Table:
    if not raw.size:
        return schema.empty_table()
    try:
        table = pa.ipc.open_stream(pa.py_buffer(raw.tobytes())).read_all()
    except (pa.ArrowInvalid, OSError) as e:
        raise ValueError(f"{name}: corrupt table in spill file ({e})") from e
    if not table.schema.equals(schema):
        raise ValueError(f"{name}: spilled table has schema {table.schema}, expected {schema}")
    return table
