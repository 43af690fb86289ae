"""Scratch files of near-duplicate removal, so no shuffle holds every document's keys in memory.

Per input file, pass 1 writes its documents' shingle-hash sets (one partition per row of the file,
each document's hashes sorted and unique, empty for rows without a set), its LSH band entries
partitioned by hash shard, and its exact-stage entries as one Arrow table per shard. Per-shard
stages then read their slice of every file: the exact stage writes its decisions partitioned by input
file and its dropped documents by band shard, and the band stage its candidate pairs partitioned by
verification shard. Every file uses the partitioned spill format of corpus/spill.py and is read by
seeking to a partition, never whole, so a shard's read of a file costs the same for any shard count. Files go through
`open_target(name)` (write, commit, discard) and `open_file(name)` (a seekable binary file), so the
caller chooses where they live.
"""
from __future__ import annotations

import dataclasses
import math
from typing import BinaryIO, Callable, Iterable, Optional, Sequence

import numpy as np
import pyarrow as pa

from corpus import spill as records
from corpus.document import file_of, row_of
from corpus.shards import Target

# One hash shard per this many bytes of input files: a shard's slice of band entries, exact entries
# and candidate shingle sets stays about the same size whatever the corpus size.
SHARD_INPUT_BYTES = 32 * 1024 * 1024
MAX_SHARDS = 4096   # below 2**16: band shards are kept as uint16
SET_DTYPE = np.dtype("<u4")
BAND_DTYPE = np.dtype([("band", "<u2"), ("digest", "<u8"), ("node", "<i8")])
PAIR_DTYPE = np.dtype([("first", "<i8"), ("second", "<i8")])
# Exact-stage decisions: a node and its reason (an index into REASONS). The cluster id is not kept:
# every member of an exact group is an edge end, so its near-duplicate cluster names it.
REASONS = ("kept", "exact_duplicate", "duplicate_id")
DECISION_DTYPE = np.dtype([("node", "<i8"), ("reason", "u1")])
EXACT_SCHEMA = pa.schema([("key", pa.binary()), ("node", pa.int64()), ("doc_id", pa.string()),
                          ("perplexity", pa.float64()), ("length", pa.int64()), ("content", pa.binary()),
                          ("bands", pa.binary())])
# Band shards of a document (`band_shards`): its band entries' shards, unique, as little-endian uint16.
BAND_SHARD_DTYPE = np.dtype("<u2")

Opener = Callable[[str], BinaryIO]


@dataclasses.dataclass(frozen=True)
class FileSpill:
    """What pass 1 wrote for one input file: the shard of each row group of its exact entries, and counts."""

    file_idx: int
    exact_groups: tuple[int, ...]
    documents: int
    read_documents: int = 0
    read_chars: int = 0


def shard_count(input_bytes: int, shard_bytes: int = SHARD_INPUT_BYTES) -> int:
    """Hash shards for a run over `input_bytes` of input files (`shard_bytes` each, at least one)."""
    return max(1, min(MAX_SHARDS, math.ceil(input_bytes / shard_bytes)))


def fold_count(items: int, per_part: int, shards: int) -> int:
    """Parts for a step whose work is `items` (pairs, edges) rather than input bytes: one per `per_part`,
    at least 1 and at most `shards`, so it reads `parts x shards` files instead of `shards^2`."""
    return max(1, min(shards, math.ceil(items / per_part)))


def fold(partition: np.ndarray, shards: int, parts: int) -> np.ndarray:
    """Partitions of `shards` folded into `parts` contiguous ranges (`folded_range`)."""
    return partition * parts // shards


def folded_range(part: int, parts: int, shards: int) -> tuple[int, int]:
    """The partitions lo .. hi - 1 of `shards` that `fold` maps to `part`: read in one go."""
    return -(-part * shards // parts), -(-(part + 1) * shards // parts)


def key_shard(key: bytes, shards: int) -> int:
    """Shard of an exact-stage key (a SHA-1 digest, maybe prefixed): its last 8 bytes mod `shards`."""
    return int.from_bytes(key[-8:], "little") % shards


def sets_name(file_idx: int) -> str:
    return f"sets-{file_idx:05d}.spill"


def bands_name(file_idx: int) -> str:
    return f"bands-{file_idx:05d}.spill"


def exact_name(file_idx: int) -> str:
    return f"exact-{file_idx:05d}.spill"


def dropped_name(shard: int) -> str:
    return f"dropped-{shard:05d}.spill"


def decisions_name(shard: int) -> str:
    return f"decisions-{shard:05d}.spill"


def pairs_name(shard: int) -> str:
    return f"pairs-{shard:05d}.spill"


def pair_shard(first: np.ndarray, shards: int) -> np.ndarray:
    """Verification shard of candidate pairs, by their first (smaller) node."""
    first = first.astype(np.uint64)
    return ((first ^ (first >> np.uint64(32))) * np.uint64(0x9E3779B97F4A7C15) >> np.uint64(40)) % np.uint64(shards)


def scratch_patterns() -> list[str]:
    """Glob patterns of every scratch file name above (for the run's output claim)."""
    return ["sets-*.spill", "bands-*.spill", "exact-*.spill", "decisions-*.spill", "dropped-*.spill", "pairs-*.spill"]


def write_target(target: Target, data: bytes) -> None:
    """Write `data` to a Target and commit it; discard it on any error."""
    try:
        target.write(data)
        target.commit()
    except BaseException:
        target.discard()
        raise


def _read(open_file: Opener, name: str, dtype: np.dtype, lo: int, hi: int) -> np.ndarray:
    """Partitions lo .. hi - 1 of the spill file `name`."""
    with open_file(name) as f:
        return records.read_partitions(f, dtype, lo, hi, name)


def digest_shard(digests: np.ndarray, shards: int) -> np.ndarray:
    """Hash shard (int64) of each LSH band digest: where its band entry goes."""
    return (np.asarray(digests, dtype=np.uint64) % np.uint64(shards)).astype(np.int64)


def band_shards(digests: np.ndarray, shards: int) -> bytes:
    """The distinct shards of a document's band entries (uint16 bytes), kept with its exact-stage row so
    that the exact stage can tell each band shard which of its documents are exact duplicates."""
    return np.unique(digest_shard(digests, shards)).astype(BAND_SHARD_DTYPE).tobytes()


class SetWriter:
    """Collects one file's shingle-hash sets and band entries; `save` writes them."""

    def __init__(self, shards: int):
        self.shards = shards
        self.sets: list[np.ndarray] = []
        self.nodes: list[int] = []
        self.bands: list[np.ndarray] = []

    def add(self, node: int, hashes: np.ndarray, digests: np.ndarray) -> None:
        """A document's sorted unique shingle hashes and its band digests (one per band, in band order);
        documents come in row order."""
        self.sets.append(hashes.astype(SET_DTYPE, copy=False))
        self.nodes.append(node)
        entries = np.empty(digests.size, dtype=BAND_DTYPE)
        entries["band"] = np.arange(digests.size)
        entries["digest"] = digests
        entries["node"] = node
        self.bands.append(entries)

    def save(self, file_idx: int, open_target: Callable[[str], Target]) -> None:
        """Write the file's sets (partition = row in the file) and its bands (partition = hash shard)."""
        rows = row_of(np.array(self.nodes, dtype=np.int64))
        counts = np.zeros(int(rows[-1]) + 1 if rows.size else 0, dtype=np.int64)
        counts[rows] = [s.size for s in self.sets]
        flat = np.concatenate(self.sets) if self.sets else np.empty(0, dtype=SET_DTYPE)
        bands = np.concatenate(self.bands) if self.bands else np.empty(0, dtype=BAND_DTYPE)
        shard = digest_shard(bands["digest"], self.shards)
        write_target(open_target(sets_name(file_idx)), records.encode_counts(flat, counts))
        write_target(open_target(bands_name(file_idx)), records.encode(bands, shard, self.shards))


def save_exact(rows: Iterable[tuple], file_idx: int, shards: int, open_target: Callable[[str], Target]
               ) -> tuple[int, ...]:
    """Write a file's exact-stage rows (EXACT_SCHEMA order) as one table per shard of their key
    (`save_tables`); the shards that got rows."""
    by_shard: dict[int, list[tuple]] = {}
    for row in rows:
        by_shard.setdefault(key_shard(row[0], shards), []).append(row)
    tables = [(s, pa.Table.from_pylist([dict(zip(EXACT_SCHEMA.names, r)) for r in by_shard[s]], schema=EXACT_SCHEMA))
              for s in sorted(by_shard)]
    return save_tables(exact_name(file_idx), tables, shards, EXACT_SCHEMA, open_target)


def save_tables(name: str, tables: Sequence[tuple[int, pa.Table]], partitions: int, schema: pa.Schema,
                open_target: Callable[[str], Target]) -> tuple[int, ...]:
    """Write (partition, table) pairs (distinct partitions below `partitions`, ascending) as one table spill
    file (corpus/spill.py encode_tables); the partitions."""
    write_target(open_target(name), records.encode_tables(tables, partitions, schema))
    return tuple(key for key, _ in tables)


def read_table(name: str, partition: int, schema: pa.Schema, open_file: Opener) -> pa.Table:
    """The table `save_tables` wrote for one partition (empty when none)."""
    return read_tables(name, (partition,), schema, open_file)


def read_tables(name: str, partitions: Iterable[int], schema: pa.Schema, open_file: Opener) -> pa.Table:
    """The tables `save_tables` wrote for several partitions, concatenated in the order given (one open)."""
    with open_file(name) as f:
        return records.read_tables(f, partitions, schema, name)


def read_bands(spill: FileSpill, shard: int, open_file: Opener) -> np.ndarray:
    """One file's band entries of one shard."""
    return _read(open_file, bands_name(spill.file_idx), BAND_DTYPE, shard, shard + 1)


def save_pairs(shard: int, pairs: np.ndarray, shards: int, open_target: Callable[[str], Target]) -> None:
    """One band shard's candidate pairs ((n, 2) int64, smaller node first), partitioned by verification
    shard, sorted by pair inside each."""
    pairs = np.ascontiguousarray(pairs, dtype=np.int64).reshape(-1, 2)
    target = pair_shard(pairs[:, 0], shards).astype(np.int64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0], target))
    flat = np.ascontiguousarray(pairs[order]).view(PAIR_DTYPE).reshape(-1)
    write_target(open_target(pairs_name(shard)),
                 records.encode_counts(flat, np.bincount(target, minlength=shards)))


def read_pairs(band_shard: int, shard: int, open_file: Opener, hi: Optional[int] = None) -> np.ndarray:
    """The candidate pairs ((n, 2) int64) one band shard wrote for verification shards shard .. hi - 1
    (default: `shard` alone)."""
    return read_edge_range(pairs_name(band_shard), shard, shard + 1 if hi is None else hi, open_file)


def write_edges(name: str, rows: np.ndarray, partitions: np.ndarray, count: int,
                open_target: Callable[[str], Target]) -> None:
    """Write (k, 2) int64 rows as a spill file, row i in partition `partitions[i]` of `count`."""
    flat = np.ascontiguousarray(rows, dtype=np.int64).view(PAIR_DTYPE).reshape(-1)
    write_target(open_target(name), records.encode(flat, partitions, count))


def read_edges(name: str, partition: int, open_file: Opener) -> np.ndarray:
    """The (k, 2) int64 rows of one partition of a spill file of pairs (`write_edges`, `save_pairs`)."""
    return read_edge_range(name, partition, partition + 1, open_file)


def read_edge_range(name: str, lo: int, hi: int, open_file: Opener) -> np.ndarray:
    """The (k, 2) int64 rows of partitions lo .. hi - 1 of a spill file of pairs, in one read."""
    return _read(open_file, name, PAIR_DTYPE, lo, hi).view("<i8").reshape(-1, 2)


def read_exact(spill: FileSpill, shard: Optional[int], open_file: Opener) -> pa.Table:
    """One file's exact-stage rows of one shard (all rows when `shard` is None)."""
    if shard is None:
        return read_tables(exact_name(spill.file_idx), spill.exact_groups, EXACT_SCHEMA, open_file)
    if shard not in spill.exact_groups:
        return EXACT_SCHEMA.empty_table()
    return read_table(exact_name(spill.file_idx), shard, EXACT_SCHEMA, open_file)


def write_decisions(shard: int, rows: list[tuple[int, str]], files: int, open_target: Callable[[str], Target]
                    ) -> None:
    """One shard's exact-stage decisions, (node, reason), partitioned by input file (`files` of them)
    and sorted by node, so each file's writer reads only its own slice."""
    table = np.array(sorted((node, REASONS.index(reason)) for node, reason in rows), dtype=DECISION_DTYPE)
    write_target(open_target(decisions_name(shard)),
                 records.encode(table, file_of(table["node"]), files))


def read_decisions(shard: int, open_file: Opener, file_idx: Optional[int] = None) -> np.ndarray:
    """One shard's exact-stage decisions (DECISION_DTYPE) for one input file, or for all when None."""
    name = decisions_name(shard)
    with open_file(name) as f:
        if file_idx is not None:
            return records.read_partitions(f, DECISION_DTYPE, file_idx, file_idx + 1, name)
        return records.read_all(f, DECISION_DTYPE, name)


def write_dropped(shard: int, nodes: np.ndarray, bands: Sequence[bytes], shards: int,
                  open_target: Callable[[str], Target]) -> None:
    """The nodes one exact shard dropped as exact duplicates (sorted), each in the partition of every band
    shard its `band_shards` bytes name, so a band shard reads only the drops among its own entries."""
    shard_ids = [np.frombuffer(b or b"", dtype=BAND_SHARD_DTYPE) for b in bands]
    counts = np.array([ids.size for ids in shard_ids], dtype=np.int64)
    flat = np.repeat(np.asarray(nodes, dtype=np.int64), counts)
    parts = np.concatenate(shard_ids).astype(np.int64) if shard_ids else np.empty(0, dtype=np.int64)
    write_target(open_target(dropped_name(shard)), records.encode(flat, parts, shards))


def read_dropped(exact_shard: int, band_shard: int, open_file: Opener) -> np.ndarray:
    """The exact duplicates one exact shard dropped that have entries in one band shard."""
    name = dropped_name(exact_shard)
    with open_file(name) as f:
        return records.read_partitions(f, np.dtype("<i8"), band_shard, band_shard + 1, name)


class SetReader:
    """Shingle-hash sets of chosen documents, read from the files' sets spill files."""

    def __init__(self, open_file: Opener):
        self.open_file = open_file

    def sizes(self, nodes: np.ndarray) -> np.ndarray:
        """How many hashes each of `nodes` (unique, sorted) has in its set (0 for a node without one), from
        the files' offset indexes alone."""
        out = np.zeros(len(nodes), dtype=np.int64)
        files = file_of(nodes)
        for file_idx in np.unique(files).tolist():
            where = np.flatnonzero(files == file_idx)
            name = sets_name(file_idx)
            with self.open_file(name) as f:
                sizes = records.SpillReader(f, SET_DTYPE, name).sizes()
            rows = row_of(nodes[where])
            inside = rows < sizes.size
            out[where[inside]] = sizes[rows[inside]]
        return out

    def load(self, nodes: np.ndarray) -> dict[int, np.ndarray]:
        """node -> its sorted unique uint32 shingle hashes, for every node in `nodes` that has a set."""
        have, values, offsets = self.load_flat(nodes)
        return {node: values[offsets[i]:offsets[i + 1]] for i, node in enumerate(have.tolist())}

    def load_flat(self, nodes: np.ndarray, known: Optional[tuple[np.ndarray, np.ndarray]] = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The sets of `nodes` (any order, repeats allowed) in one array: (the nodes that have a set, sorted;
        their hashes one set after another; int64 offsets, set i being values[offsets[i]:offsets[i + 1]]).
        The array is sized first from the offset indexes, so the sets are never held twice; `known` (sorted
        nodes and their `sizes`, covering `nodes`) spares reading those indexes again."""
        nodes = np.unique(nodes)
        if known is None:
            sizes = self.sizes(nodes)
        else:
            at = np.minimum(np.searchsorted(known[0], nodes), max(len(known[0]) - 1, 0))
            if len(nodes) and (not len(known[0]) or (known[0][at] != nodes).any()):
                raise ValueError("load_flat: `known` does not cover every node asked for")
            sizes = known[1][at] if len(nodes) else np.zeros(0, dtype=np.int64)
        have, sizes = nodes[sizes > 0], sizes[sizes > 0]
        offsets = np.zeros(len(have) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        values = np.empty(int(offsets[-1]), dtype=SET_DTYPE)
        files, rows = file_of(have), row_of(have)
        for file_idx in np.unique(files).tolist():
            name = sets_name(file_idx)
            with self.open_file(name) as f:
                sets = records.SpillReader(f, SET_DTYPE, name)
                for i in np.flatnonzero(files == file_idx).tolist():
                    values[offsets[i]:offsets[i + 1]] = sets.read(int(rows[i]), int(rows[i]) + 1)
        return have, values, offsets
