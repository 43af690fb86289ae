"""ccnet's output parts: a partition's documents of consecutive input files packed into one part (no Beam).

Every input file fans out into up to languages x buckets partitions, so one part per (file, partition)
gives thousands of tiny files on a multilingual crawl (a 2 GB run wrote 1,779 files of ~84 KB), which
every later stage pays for per file. Instead, once the buckets are known, each work unit's documents are
split by partition into one table spill file (`bucket_unit`); per partition, the input files are
packed, in input order, into parts of at most `part_bytes` of text and meta (a file's slice is never
split, so a part over the limit holds one file), and each part is written by streaming its members'
slices (`write_part`), a row group at a time. A part is named by its first input file's index, so the
output does not depend on the unit size or the worker count; `part_bytes` 0 gives one part per file.
"""
from __future__ import annotations

import dataclasses
from typing import BinaryIO, Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from corpus import spill
from corpus.document import PARQUET_SCHEMA
from corpus.shards import ShardStream, Target, part_name, row_bytes, split_partitions
from filters.buckets import assign_buckets

DEFAULT_PART_BYTES = 64 << 20
"""Text and meta bytes per output part at most (unless one file's alone exceed them): about 25 MB of zstd Parquet."""


@dataclasses.dataclass(frozen=True, order=True)
class Slice:
    """One work unit's documents of one partition: table `index` of the unit's spill file `spill_name`."""

    file_idx: int
    unit_index: int
    spill_name: str
    index: int
    rows: int
    bytes: int


@dataclasses.dataclass(frozen=True)
class PartPlan:
    """One output part: `rel` (lang=xx/bucket=yy/part-NNNNN.parquet) holds `members`' rows in this order."""

    rel: str
    members: tuple[Slice, ...]

    @property
    def rows(self) -> int:
        return sum(m.rows for m in self.members)


def bucket_unit(table: pa.Table, cutoffs: dict[str, list[float]]) -> list[tuple[str, pa.Table]]:
    """A unit's documents with their perplexity bucket set, split by partition (in path order, rows in order)."""
    buckets = assign_buckets(table.column("perplexity").to_pylist(), table.column("lang").to_pylist(), cutoffs)
    table = table.set_column(table.schema.get_field_index("bucket"), "bucket", pa.array(buckets, pa.string()))
    return split_partitions(table)


def text_bytes(table: pa.Table) -> int:
    """Bytes of text and meta of a table's rows (shards.row_bytes, the measure of a part as of a row group)."""
    return int(pc.sum(row_bytes(table)).as_py() or 0)


def spill_unit(parts: list[tuple[str, pa.Table]], file_idx: int, unit_index: int, spill_name: str
               ) -> tuple[bytes, list[tuple[str, Slice]]]:
    """The spill file of a unit's partitions (table i = partition i) and (partition, Slice) of each."""
    data = spill.encode_tables(list(enumerate(t for _, t in parts)), len(parts), PARQUET_SCHEMA)
    slices = [(partition, Slice(file_idx, unit_index, spill_name, i, table.num_rows, text_bytes(table)))
              for i, (partition, table) in enumerate(parts)]
    return data, slices


def plan_partition(partition: str, slices: Iterable[Slice], part_bytes: int) -> list[PartPlan]:
    """The parts of one partition: its slices in input order (file, then unit), consecutive files packed
    while the part stays within `part_bytes` (a file is never split across parts)."""
    if part_bytes < 0:
        raise ValueError(f"part bytes must be at least 0, got {part_bytes}")
    by_file: dict[int, list[Slice]] = {}
    for s in sorted(slices):
        by_file.setdefault(s.file_idx, []).append(s)
    plans: list[PartPlan] = []
    members: list[Slice] = []
    size = 0
    for file_idx in sorted(by_file):
        file_slices = by_file[file_idx]
        file_bytes = sum(s.bytes for s in file_slices)
        if members and size + file_bytes > part_bytes:
            plans.append(_plan(partition, members))
            members, size = [], 0
        members.extend(file_slices)
        size += file_bytes
    if members:
        plans.append(_plan(partition, members))
    return plans


def _plan(partition: str, members: list[Slice]) -> PartPlan:
    return PartPlan(f"{partition}/{part_name(members[0].file_idx)}", tuple(members))


def write_part(plan: PartPlan, open_file: Callable[[str], BinaryIO], open_target: Callable[[str], Target]
               ) -> dict:
    """Stream a part's members into its Parquet file (a row group at a time); its manifest entry."""
    with ShardStream(0, open_target, path=plan.rel) as stream:
        for table in _member_tables(plan, open_file):
            stream.add_table(table)
        entries = stream.close()
    if entries[0]["rows"] != plan.rows:
        raise RuntimeError(f"{plan.rel}: wrote {entries[0]['rows']} rows, its plan has {plan.rows}")
    return entries[0]


def _member_tables(plan: PartPlan, open_file: Callable[[str], BinaryIO]) -> Iterator[pa.Table]:
    for member in plan.members:
        with open_file(member.spill_name) as f:
            table = spill.read_tables(f, (member.index,), PARQUET_SCHEMA, member.spill_name)
        if table.num_rows != member.rows:
            raise ValueError(f"{member.spill_name}: partition {member.index} holds {table.num_rows} rows, "
                             f"{member.rows} were written")
        yield table
