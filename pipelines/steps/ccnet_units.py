"""The ccnet line-dedup shuffle through spill files, in work units smaller than a WET file (no Beam).

A unit is a byte range of one input file (corpus/wet_units.py). Pass 1 writes each unit's unique
(document key, line hash) pairs to one spill file (corpus/spill.py) grouped by the top FINE_BITS of
the hash; shard k of S reads its contiguous slice of the hash space from every unit's file, decides
the dropped pairs (dedup.lines.decide_duplicates) and writes them to one spill file grouped by unit;
pass 2 of a unit reads its group from every shard's file. A document's key orders it like the input:
file index, then unit, then its row in the unit (corpus.document.address with the unit in the row's
high bits), so one unit per file gives the same keys as a whole-file read.
"""
from __future__ import annotations

import dataclasses
from typing import BinaryIO, Callable, Iterable, Iterator, Union

import numpy as np

from corpus import spill
from corpus.document import Document, address
from corpus.faults import Fault
from corpus.readers import wet_document
from corpus.wet_units import plan_units, unit_records
from dedup.lines import decide_duplicates

UNIT_ROW_BITS = 20
"""A document's row in its file's 32-bit row space: unit index above these bits, row in the unit below."""
FINE_BITS = 12
"""Pass 1 groups pairs by the top FINE_BITS of the hash; a shard is a run of these groups (at most 4096 shards)."""
MAX_SHARDS = 1 << FINE_BITS
PAIRS_PER_SHARD = 2_000_000
"""Above dedup_shards * this many pairs, a run uses more shards so one shard's decision stays ~250 MB."""
PAIR = np.dtype([("key", "<i8"), ("hash", "<u8")])
DEFAULT_UNIT_BYTES = 8 << 20
"""Input bytes per work unit (~20 MB of text in a gzipped WET file): many per CommonCrawl file, so no core idles."""


@dataclasses.dataclass(frozen=True)
class Unit:
    """One worker's piece of an input file: bytes [start, end) of `path`, unit `index` of `count`."""

    file_idx: int
    index: int
    count: int
    path: str
    start: int
    end: int

    @property
    def key(self) -> int:
        """The key of the unit's first document; document `row` of the unit has key `key + row`."""
        return address(self.file_idx, self.index << UNIT_ROW_BITS)

    @property
    def name(self) -> str:
        """Its scratch files' name: FFFFF-UUUU-of-NNNN (file index, unit index, units of the file)."""
        return f"{self.file_idx:05d}-{self.index:04d}-of-{self.count:04d}"


def plan_file(file_idx: int, path: str, open_file: Callable[[str], BinaryIO], size: int,
              unit_bytes: int) -> list[Unit]:
    """The units of one input file, about `unit_bytes` of it each (one for a small file)."""
    with open_file(path) as f:
        ranges = plan_units(f, path, size, unit_bytes)
    if len(ranges) > 1 << (32 - UNIT_ROW_BITS):
        raise ValueError(f"{path}: {len(ranges)} units of {unit_bytes} bytes; at most {1 << (32 - UNIT_ROW_BITS)} "
                         f"per file (choose larger units)")
    return [Unit(file_idx, i, len(ranges), path, s, e) for i, (s, e) in enumerate(ranges)]


def unit_documents(unit: Unit, source: str, open_file: Callable[[str], BinaryIO]
                   ) -> Iterator[Union[Document, Fault]]:
    """The documents (and faults) of one unit, in file order; at most 2**UNIT_ROW_BITS documents."""
    rows = 0
    with open_file(unit.path) as f:
        byte_range = None if unit.count == 1 else (unit.start, unit.end)
        for item in unit_records(f, unit.path, byte_range):
            if isinstance(item, Fault):
                yield item
                continue
            rows += 1
            if unit.count > 1 and rows > 1 << UNIT_ROW_BITS:
                raise ValueError(f"{unit.path}: bytes {unit.start}..{unit.end} hold more than "
                                 f"{1 << UNIT_ROW_BITS} documents; choose smaller units")
            yield wet_document(item, source)


def unique_pairs(rows: np.ndarray, line_counts: np.ndarray, hashes: np.ndarray, base: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(keys, hashes) with each hash once per document, by key then hash; document `rows[i]` has key
    `base + rows[i]` and the next `line_counts[i]` hashes."""
    keys = np.repeat(rows.astype(np.int64) + np.int64(base), line_counts)
    if not keys.size:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    order = np.lexsort((hashes, keys))
    keys, hashes = keys[order], hashes[order]
    first = np.ones(keys.size, dtype=bool)
    first[1:] = (keys[1:] != keys[:-1]) | (hashes[1:] != hashes[:-1])
    return keys[first], hashes[first]


def pairs_spill(keys: np.ndarray, hashes: np.ndarray) -> bytes:
    """A unit's pairs as a spill file grouped by the top FINE_BITS of the hash."""
    records = np.empty(keys.size, dtype=PAIR)
    records["key"], records["hash"] = keys, hashes
    return spill.encode(records, (hashes >> np.uint64(64 - FINE_BITS)).astype(np.int64), MAX_SHARDS)


def shard_count(pairs: int, min_shards: int) -> int:
    """Hash shards for a run with `pairs` pairs: at least `min_shards`, more when a shard would hold
    over PAIRS_PER_SHARD pairs, at most MAX_SHARDS; depends on the input only, not on the workers."""
    return max(1, min(MAX_SHARDS, max(min_shards, -(-pairs // PAIRS_PER_SHARD))))


def shard_groups(shard: int, n_shards: int) -> tuple[int, int]:
    """The fine hash groups [lo, hi) of shard `shard` of `n_shards`."""
    return MAX_SHARDS * shard // n_shards, MAX_SHARDS * (shard + 1) // n_shards


def read_shard(files: Iterable[tuple[str, BinaryIO]], shard: int, n_shards: int) -> np.ndarray:
    """The pairs of one hash shard from every unit's spill file, given as (name, open file)."""
    lo, hi = shard_groups(shard, n_shards)
    parts = [spill.read_partitions(f, PAIR, lo, hi, name) for name, f in files]
    return np.concatenate(parts) if parts else np.zeros(0, PAIR)


def shard_drops_spill(pairs: np.ndarray, mode: str, unit_keys: np.ndarray) -> tuple[bytes, int]:
    """(spill file of the dropped pairs grouped by unit, sorted by key then hash; their count).

    `unit_keys` are the first keys of all units, ascending: unit u owns keys from unit_keys[u] on."""
    drop = decide_duplicates(pairs["key"], pairs["hash"], mode)
    dropped = pairs[drop]
    dropped = dropped[np.lexsort((dropped["hash"], dropped["key"]))]
    units = np.searchsorted(unit_keys, dropped["key"], side="right") - 1
    return spill.encode(dropped, units, unit_keys.size), int(dropped.size)


def read_unit_drops(files: Iterable[tuple[str, BinaryIO]], unit_ordinal: int, unit: Unit) -> dict[int, set[int]]:
    """row in the unit -> set of its dropped line hashes, from every shard's drops file."""
    out: dict[int, set[int]] = {}
    for name, f in files:
        part = spill.read_partitions(f, PAIR, unit_ordinal, unit_ordinal + 1, name)
        rows = (part["key"] - np.int64(unit.key)).tolist()
        for r, h in zip(rows, part["hash"].tolist()):
            out.setdefault(r, set()).add(h)
    return out


@dataclasses.dataclass(frozen=True)
class HashedUnit:
    """Pass 1's report of one unit: the unit and how many (document, hash) pairs it spilled."""

    unit: Unit
    pairs: int


@dataclasses.dataclass(frozen=True)
class DedupPlan:
    """Every unit of the run in input order (a unit's ordinal names its group in the drops files) and
    the number of hash shards."""

    units: tuple[Unit, ...]
    n_shards: int

    def unit_keys(self) -> np.ndarray:
        """First key of each unit, ascending."""
        return np.asarray([u.key for u in self.units], dtype=np.int64)


def dedup_plan(hashed: Iterable[HashedUnit], min_shards: int) -> DedupPlan:
    """The plan of the shard stage from every unit's pass-1 report (same plan for any worker count)."""
    hashed = list(hashed)
    units = tuple(sorted((h.unit for h in hashed), key=lambda u: u.key))
    return DedupPlan(units, shard_count(sum(h.pairs for h in hashed), min_shards))
