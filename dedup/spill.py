"""Scratch files of near-duplicate removal, so no shuffle holds every document's keys in memory.

Per input file, pass 1 writes its documents' shingle-hash sets (one flat uint32 array, each
document's hashes sorted and unique, plus a (node, start, stop) index), its LSH band entries
sorted by hash shard (the shard offsets travel in a FileSpill), and its exact-stage entries as
Parquet, one row group per shard. Per-shard stages then read their slice of every file.
Files go through `open_target(name)` (write, commit, discard) and `open_file(name)` (a seekable
binary file), so the caller chooses where they live; .npy slices are read by seeking, never whole.
"""
from __future__ import annotations

import dataclasses
import io
import math
from typing import BinaryIO, Callable, Iterable, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpus.shards import Target

# One hash shard per this many bytes of input files: a shard's slice of band entries, exact entries
# and candidate shingle sets stays about the same size whatever the corpus size.
SHARD_INPUT_BYTES = 32 * 1024 * 1024
MAX_SHARDS = 4096
BAND_DTYPE = np.dtype([("band", "<u2"), ("digest", "<u8"), ("node", "<i8")])
EXACT_SCHEMA = pa.schema([("key", pa.binary()), ("node", pa.int64()), ("doc_id", pa.string()),
                          ("perplexity", pa.float64()), ("length", pa.int64()), ("content", pa.binary())])
DECISION_SCHEMA = pa.schema([("node", pa.int64()), ("reason", pa.string()), ("cluster", pa.string())])

Opener = Callable[[str], BinaryIO]


@dataclasses.dataclass(frozen=True)
class FileSpill:
    """What pass 1 wrote for one input file: band entries per shard (offsets into its band array, one
    more than shards) and the shard of each row group of its exact entries."""

    file_idx: int
    band_offsets: tuple[int, ...]
    exact_groups: tuple[int, ...]
    documents: int
    read_documents: int = 0
    read_chars: int = 0


def shard_count(input_bytes: int, shard_bytes: int = SHARD_INPUT_BYTES) -> int:
    """Hash shards for a run over `input_bytes` of input files (`shard_bytes` each, at least one)."""
    return max(1, min(MAX_SHARDS, math.ceil(input_bytes / shard_bytes)))


def key_shard(key: bytes, shards: int) -> int:
    """Shard of an exact-stage key (a SHA-1 digest, maybe prefixed): its last 8 bytes mod `shards`."""
    return int.from_bytes(key[-8:], "little") % shards


def sets_name(file_idx: int) -> str:
    return f"sets-{file_idx:05d}.npy"


def index_name(file_idx: int) -> str:
    return f"index-{file_idx:05d}.npy"


def bands_name(file_idx: int) -> str:
    return f"bands-{file_idx:05d}.npy"


def exact_name(file_idx: int) -> str:
    return f"exact-{file_idx:05d}.parquet"


def decisions_name(shard: int) -> str:
    return f"decisions-{shard:05d}.parquet"


def pairs_name(shard: int) -> str:
    return f"pairs-{shard:05d}.npy"


def pair_shard(first: np.ndarray, shards: int) -> np.ndarray:
    """Verification shard of candidate pairs, by their first (smaller) node."""
    first = first.astype(np.uint64)
    return ((first ^ (first >> np.uint64(32))) * np.uint64(0x9E3779B97F4A7C15) >> np.uint64(40)) % np.uint64(shards)


def scratch_patterns() -> list[str]:
    """Glob patterns of every scratch file name above (for the run's output claim)."""
    return ["sets-*.npy", "index-*.npy", "bands-*.npy", "exact-*.parquet", "decisions-*.parquet", "pairs-*.npy"]


def write_target(target: Target, data: bytes) -> None:
    """Write `data` to a Target and commit it; discard it on any error."""
    try:
        target.write(data)
        target.commit()
    except BaseException:
        target.discard()
        raise


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def parquet_bytes(table: pa.Table, groups: Sequence[pa.Table] = ()) -> bytes:
    """`table` (or each of `groups` as its own row group) as uncompressed Parquet bytes."""
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, compression="none") as writer:
        for group in (groups or [table]):
            writer.write_table(group, row_group_size=max(1, group.num_rows))
    return sink.getvalue().to_pybytes()


class SetWriter:
    """Collects one file's shingle-hash sets and band entries; `save` writes them and returns the offsets."""

    def __init__(self, shards: int):
        self.shards = shards
        self.sets: list[np.ndarray] = []
        self.nodes: list[int] = []
        self.bands: list[np.ndarray] = []

    def add(self, node: int, hashes: np.ndarray, digests: np.ndarray) -> None:
        """A document's sorted unique shingle hashes and its band digests (one per band, in band order)."""
        self.sets.append(hashes.astype(np.uint32, copy=False))
        self.nodes.append(node)
        entries = np.empty(digests.size, dtype=BAND_DTYPE)
        entries["band"] = np.arange(digests.size)
        entries["digest"] = digests
        entries["node"] = node
        self.bands.append(entries)

    def save(self, file_idx: int, open_target: Callable[[str], Target]) -> tuple[int, ...]:
        """Write sets, index and shard-sorted bands of the file; the band array's shard offsets."""
        sizes = np.array([s.size for s in self.sets], dtype=np.int64)
        stops = np.cumsum(sizes)
        index = np.stack([np.array(self.nodes, dtype=np.int64), stops - sizes, stops], axis=1) \
            if self.nodes else np.empty((0, 3), dtype=np.int64)
        flat = np.concatenate(self.sets) if self.sets else np.empty(0, dtype=np.uint32)
        bands = np.concatenate(self.bands) if self.bands else np.empty(0, dtype=BAND_DTYPE)
        shard = (bands["digest"] % np.uint64(self.shards)).astype(np.int64)
        order = np.argsort(shard, kind="stable")
        offsets = np.searchsorted(shard[order], np.arange(self.shards + 1), side="left")
        write_target(open_target(sets_name(file_idx)), npy_bytes(flat))
        write_target(open_target(index_name(file_idx)), npy_bytes(index))
        write_target(open_target(bands_name(file_idx)), npy_bytes(bands[order]))
        return tuple(int(o) for o in offsets)


def save_exact(rows: Iterable[tuple], file_idx: int, shards: int, open_target: Callable[[str], Target]
               ) -> tuple[int, ...]:
    """Write a file's exact-stage rows (EXACT_SCHEMA order) as one row group per shard; the groups' shards."""
    by_shard: dict[int, list[tuple]] = {}
    for row in rows:
        by_shard.setdefault(key_shard(row[0], shards), []).append(row)
    order = sorted(by_shard)
    groups = [pa.Table.from_pylist([dict(zip(EXACT_SCHEMA.names, r)) for r in by_shard[s]], schema=EXACT_SCHEMA)
              for s in order]
    empty = EXACT_SCHEMA.empty_table()
    write_target(open_target(exact_name(file_idx)), parquet_bytes(empty, groups))
    return tuple(order)


class NpyFile:
    """Slices of a .npy file read by seeking past its header (no full read, no mmap)."""

    def __init__(self, f: BinaryIO, name: str):
        self.f = f
        self.name = name
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if fortran:
            raise ValueError(f"{name}: scratch arrays are C-ordered; this one is not (was it replaced?)")
        self.shape, self.dtype, self.start = shape, dtype, f.tell()
        self.row_bytes = dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows [lo, hi) along the first axis."""
        count = max(0, hi - lo)
        self.f.seek(self.start + lo * self.row_bytes)
        data = self.f.read(count * self.row_bytes)
        if len(data) != count * self.row_bytes:
            raise ValueError(f"{self.name}: scratch file is shorter than its header says (rows {lo}-{hi})")
        return np.frombuffer(data, dtype=self.dtype).reshape((count, *self.shape[1:]))


def read_bands(spill: FileSpill, shard: int, open_file: Opener) -> np.ndarray:
    """One file's band entries of one shard."""
    lo, hi = spill.band_offsets[shard], spill.band_offsets[shard + 1]
    if lo == hi:
        return np.empty(0, dtype=BAND_DTYPE)
    name = bands_name(spill.file_idx)
    with open_file(name) as f:
        return NpyFile(f, name).rows(lo, hi)


def save_pairs(shard: int, pairs: np.ndarray, shards: int, open_target: Callable[[str], Target]) -> tuple[int, ...]:
    """One band shard's candidate pairs ((n, 2) int64, smaller node first), sorted by verification
    shard and then by pair; the offsets of each verification shard (one more than shards)."""
    target = pair_shard(pairs[:, 0], shards).astype(np.int64) if len(pairs) else np.empty(0, dtype=np.int64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0], target)) if len(pairs) else np.empty(0, dtype=np.int64)
    offsets = np.searchsorted(target[order], np.arange(shards + 1), side="left")
    write_target(open_target(pairs_name(shard)), npy_bytes(np.ascontiguousarray(pairs[order], dtype=np.int64)))
    return tuple(int(o) for o in offsets)


def read_pairs(band_shard: int, offsets: Sequence[int], shard: int, open_file: Opener) -> np.ndarray:
    """The candidate pairs one band shard wrote for one verification shard."""
    lo, hi = offsets[shard], offsets[shard + 1]
    if lo == hi:
        return np.empty((0, 2), dtype=np.int64)
    name = pairs_name(band_shard)
    with open_file(name) as f:
        return NpyFile(f, name).rows(lo, hi)


def read_exact(spill: FileSpill, shard: Optional[int], open_file: Opener) -> pa.Table:
    """One file's exact-stage rows of one shard (all rows when `shard` is None)."""
    groups = [i for i, s in enumerate(spill.exact_groups) if shard is None or s == shard]
    if not groups:
        return EXACT_SCHEMA.empty_table()
    with open_file(exact_name(spill.file_idx)) as f:
        return pq.ParquetFile(f).read_row_groups(groups)


def write_decisions(shard: int, rows: list[tuple[int, str, str]], open_target: Callable[[str], Target]) -> None:
    """One shard's exact-stage decisions, (node, reason, cluster id) sorted by node."""
    rows = sorted(rows)
    table = pa.table({"node": pa.array([r[0] for r in rows], pa.int64()),
                      "reason": pa.array([r[1] for r in rows], pa.string()),
                      "cluster": pa.array([r[2] for r in rows], pa.string())}, schema=DECISION_SCHEMA)
    write_target(open_target(decisions_name(shard)), parquet_bytes(table))


def read_decisions(shard: int, open_file: Opener, lo: int = 0, hi: int = 2 ** 63 - 1) -> pa.Table:
    """One shard's exact-stage decisions for nodes in [lo, hi)."""
    with open_file(decisions_name(shard)) as f:
        table = pq.read_table(f)
    nodes = table.column("node").to_numpy()
    first, last = np.searchsorted(nodes, [lo, hi])
    return table.slice(int(first), int(last - first))


class SetReader:
    """Shingle-hash sets of chosen documents, read from the files' sets and index arrays."""

    def __init__(self, open_file: Opener):
        self.open_file = open_file

    def load(self, nodes: np.ndarray, file_of: Callable[[np.ndarray], np.ndarray]) -> dict[int, np.ndarray]:
        """node -> its sorted unique uint32 shingle hashes, for every node in `nodes` that has a set."""
        out: dict[int, np.ndarray] = {}
        nodes = np.unique(nodes)
        files = file_of(nodes)
        for file_idx in np.unique(files).tolist():
            wanted = nodes[files == file_idx]
            with self.open_file(index_name(file_idx)) as f:
                index = _whole(f, index_name(file_idx))
            pos = np.searchsorted(index[:, 0], wanted)
            found = (pos < len(index)) & (index[np.minimum(pos, len(index) - 1), 0] == wanted)
            name = sets_name(file_idx)
            with self.open_file(name) as f:
                sets = NpyFile(f, name)
                for node, p in zip(wanted[found].tolist(), pos[found].tolist()):
                    out[node] = sets.rows(int(index[p, 1]), int(index[p, 2]))
        return out


def _whole(f: BinaryIO, name: str) -> np.ndarray:
    """A whole (small) .npy file."""
    npy = NpyFile(f, name)
    return npy.rows(0, npy.shape[0])
