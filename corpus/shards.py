"""Corpus shard layout and bytes: Hive-partitioned zstd Parquet, manifest entries, marker files.

Functions here build bytes and paths only; the caller writes them through whatever
filesystem it uses (local disk, GCS, ...) with write-to-temporary-then-rename. `ShardStream`
writes a unit's shards a row group at a time into targets the caller opens the same way.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
from typing import Any, Callable, Optional, Protocol, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpus.document import PARQUET_SCHEMA, Document, documents_to_table

STATS_FILE = "_stats.json"
MANIFEST_FILE = "_manifest.json"
SUCCESS_FILE = "_SUCCESS"
TEMP_DIR = "_temporary"
ROW_GROUP_ROWS = 2048
ROW_GROUP_BYTES = 4 << 20
"""A streamed shard's row group also ends at the row that brings its text and meta to this many bytes."""
BUFFER_BYTES = 2 * ROW_GROUP_BYTES
"""A streamed unit's rows not yet written, all partitions together, stay under this many bytes."""
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
"""What a name that becomes part of a path may be: source names, languages, buckets."""


def check_identifier(kind: str, value: str) -> str:
    """`value` when it is an identifier (letters, digits, _ and -, not first); else ValueError naming it."""
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise ValueError(f"{kind} {value!r} is not an identifier (letters, digits, _ or -); it would become a path")
    return value


def partition_dir(lang: str | None, bucket: str | None) -> str:
    """Relative folder of a partition: lang=xx/bucket=yy (unknown language: lang=unknown)."""
    return f"lang={check_identifier('language', lang or 'unknown')}/bucket={check_identifier('bucket', bucket or 'all')}"


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def parquet_bytes(table: pa.Table, compression: str = "zstd") -> bytes:
    """Parquet of `table` (zstd for shards; "none" for scratch files); same table, same bytes."""
    buf = io.BytesIO()
    pq.write_table(table, buf, compression=compression, row_group_size=ROW_GROUP_ROWS,
                   write_statistics=True, store_schema=True)
    return buf.getvalue()


def documents_parquet(docs: list[Document], compression: str = "zstd") -> bytes:
    return parquet_bytes(documents_to_table(docs), compression)


def split_partitions(table: pa.Table) -> list[tuple[str, pa.Table]]:
    """(lang=xx/bucket=yy, rows) for each partition present in `table`, in path order, rows in order."""
    keys = [partition_dir(l, b) for l, b in zip(table.column("lang").to_pylist(),
                                                 table.column("bucket").to_pylist())]
    out = []
    for key in sorted(set(keys)):
        mask = pa.array([k == key for k in keys])
        out.append((key, table.filter(mask)))
    return out


def local_parquet_files(folder: str) -> list[tuple[str, str]]:
    """(path, path relative to folder) of the Parquet shards under a local corpus folder, sorted;
    folders and files whose names start with '_' (scratch, side outputs) are skipped."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("_"))
        for n in sorted(names):
            if n.endswith(".parquet") and not n.startswith("_"):
                full = os.path.join(root, n)
                found.append((full, os.path.relpath(full, folder)))
    return sorted(found)


def local_temp_path(path: str) -> str:
    """The hidden temporary sibling a local file is written under before its rename (its folder made)."""
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f".{name}.tmp-{os.getpid()}")


def replace_local_folder(tmp: str | os.PathLike, out: str | os.PathLike) -> None:
    """Move the finished folder `tmp` to `out`; an existing `out` (which the caller checked may go) is moved
    aside first and removed only once the new one is in place."""
    import shutil

    tmp, out = os.fspath(tmp), os.fspath(out)
    if not os.path.exists(out):
        os.replace(tmp, out)
        return
    folder, name = os.path.split(os.path.abspath(out))
    old = os.path.join(folder, f".{name}.old-{os.getpid()}")
    os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old)


def write_local_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write a local file through a hidden temporary sibling and a rename: never seen half-written."""
    path = os.fspath(path)
    tmp = local_temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_parquet_bytes(data: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(data), schema=PARQUET_SCHEMA)


def manifest_entry(rel_path: str, data: bytes, rows: int) -> dict[str, Any]:
    return streamed_entry(rel_path, len(data), hashlib.sha256(data).hexdigest(), rows)


def streamed_entry(rel_path: str, size: int, sha256: str, rows: int) -> dict[str, Any]:
    """The manifest entry of a file whose size and sha256 were taken as it was written."""
    return {"path": rel_path, "rows": rows, "bytes": size, "sha256": sha256}


def manifest_bytes(entries: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> bytes:
    files = sorted(entries, key=lambda e: e["path"])
    doc = {"files": files, "total_rows": sum(e["rows"] for e in files),
           "total_bytes": sum(e["bytes"] for e in files)}
    if extra:
        doc.update(extra)
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8")


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def row_bytes(table: pa.Table) -> pa.Array:
    """Bytes of text and meta of each row: what a row group (and a ccnet output part) is measured in."""
    return pc.add(pc.binary_length(table.column("text")), pc.binary_length(table.column("meta")))


class Target(Protocol):
    """Where one streamed shard's bytes go: `write` them, then `commit` (the file appears whole under
    its name) or `discard` (nothing appears)."""

    def write(self, data: bytes) -> Any: ...

    def commit(self) -> None: ...

    def discard(self) -> None: ...


class TargetSink:
    """The file object pyarrow writes a streamed file to: passes bytes on to a Target, counting them
    and, with `digest`, hashing them, so a manifest entry needs no second read of the file."""

    def __init__(self, target: Target, digest: bool = True):
        self.target = target
        self.size = 0
        self.sha256 = hashlib.sha256() if digest else None
        self.closed = False

    def write(self, data: bytes) -> int:
        self.target.write(data)
        if self.sha256 is not None:
            self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


@dataclasses.dataclass
class _Shard:
    """One partition's shard of a unit: rows waiting for their row group, and its writer once opened."""

    rel: str
    pending: list[pa.Table] = dataclasses.field(default_factory=list)
    pending_rows: int = 0
    pending_bytes: int = 0
    rows: int = 0
    target: Optional[Target] = None
    sink: Optional[TargetSink] = None
    writer: Optional[pq.ParquetWriter] = None


class ShardStream:
    """One unit's documents written as they come: a zstd Parquet shard per partition present
    (lang=xx/bucket=yy/part-NNNNN.parquet), so memory holds a row group, not the unit.

    A row group ends at `row_group_rows` rows or at the row that brings its text and meta to
    `row_group_bytes`; when the rows waiting in all partitions reach `buffer_bytes`, the partition
    holding most (then first by path) is written. Boundaries depend only on the documents and the
    batches they are added in (never on timing), so the same input gives the same bytes. `open_target(rel)` makes each file's Target; `close` commits
    them and returns their manifest entries, leaving a `with` block without `close` discards them.
    With `path`, every document goes to that one shard (relative path; `part` then names nothing), whatever
    its partition, and the shard is written even when no document comes.
    """

    def __init__(self, part: int, open_target: Callable[[str], Target], row_group_rows: int = ROW_GROUP_ROWS,
                 row_group_bytes: int = ROW_GROUP_BYTES, buffer_bytes: int = BUFFER_BYTES,
                 path: Optional[str] = None):
        if min(row_group_rows, row_group_bytes, buffer_bytes) < 1:
            raise ValueError(f"row group rows {row_group_rows}, row group bytes {row_group_bytes} and buffer "
                             f"bytes {buffer_bytes} must each be at least 1")
        self.name = part_name(part)
        self.open_target = open_target
        self.row_group_rows = row_group_rows
        self.row_group_bytes = row_group_bytes
        self.buffer_bytes = buffer_bytes
        self.shards: dict[str, _Shard] = {}
        self.path = path
        self.done = False

    def __enter__(self) -> "ShardStream":
        return self

    def __exit__(self, *exc) -> None:
        if not self.done:
            self.abort()

    def add(self, docs: Sequence[Document]) -> None:
        """Queue documents (in order) for their partitions, writing each row group as it fills."""
        by_key: dict[str, list[Document]] = {}
        if self.path is None:
            for d in docs:
                by_key.setdefault(f"{partition_dir(d.lang, d.bucket)}/{self.name}", []).append(d)
        elif docs:
            by_key[self.path] = list(docs)
        for rel in sorted(by_key):
            self._queue(self.shards.setdefault(rel, _Shard(rel)), documents_to_table(by_key[rel]))
        self._limit_buffer()

    def add_table(self, table: pa.Table) -> None:
        """Queue rows already in `PARQUET_SCHEMA` (in order) for the one shard of a stream made with `path`;
        row groups end where they would had the same rows come as documents."""
        if self.path is None:
            raise ValueError("add_table writes the one shard of a stream made with `path`")
        if not table.schema.equals(PARQUET_SCHEMA):
            raise ValueError(f"{self.path}: rows of schema {table.schema}, expected the corpus schema")
        if table.num_rows:
            self._queue(self.shards.setdefault(self.path, _Shard(self.path)), table)
        self._limit_buffer()

    def _limit_buffer(self) -> None:
        while sum(s.pending_bytes for s in self.shards.values()) >= self.buffer_bytes:
            self._flush(sorted(self.shards.values(), key=lambda s: (-s.pending_bytes, s.rel))[0])

    def _queue(self, shard: _Shard, table: pa.Table) -> None:
        sizes = row_bytes(table).to_pylist()
        start = 0
        for i, size in enumerate(sizes):
            shard.pending_rows += 1
            shard.pending_bytes += size
            if shard.pending_rows >= self.row_group_rows or shard.pending_bytes >= self.row_group_bytes:
                shard.pending.append(table.slice(start, i + 1 - start))
                self._flush(shard)
                start = i + 1
        if start < len(sizes):
            shard.pending.append(table.slice(start))

    def _flush(self, shard: _Shard) -> None:
        """Write a shard's waiting rows as one row group (opening its file first if needed)."""
        if not shard.pending_rows:
            return
        self._open(shard)
        group = pa.concat_tables(shard.pending)
        shard.writer.write_table(group, row_group_size=group.num_rows)
        shard.rows += group.num_rows
        shard.pending, shard.pending_rows, shard.pending_bytes = [], 0, 0

    def _open(self, shard: _Shard) -> None:
        if shard.writer is None:
            shard.target = self.open_target(shard.rel)
            shard.sink = TargetSink(shard.target)
            shard.writer = pq.ParquetWriter(shard.sink, PARQUET_SCHEMA, compression="zstd",
                                            write_statistics=True, store_schema=True)

    def close(self) -> list[dict[str, Any]]:
        """Write what waits, finish and commit every shard; their manifest entries, in path order."""
        entries = []
        try:
            if self.path is not None and self.path not in self.shards:
                shard = self.shards[self.path] = _Shard(self.path)
                self._open(shard)
                shard.writer.write_table(PARQUET_SCHEMA.empty_table())   # one empty row group, as pq.write_table
            for rel in sorted(self.shards):
                shard = self.shards[rel]
                self._flush(shard)
                shard.writer.close()
                entries.append(streamed_entry(rel, shard.sink.size, shard.sink.sha256.hexdigest(), shard.rows))
            for rel in sorted(self.shards):
                self.shards[rel].target.commit()
        except BaseException:
            self.abort()
            raise
        self.done = True
        return entries

    def abort(self) -> None:
        """Discard every shard begun (nothing of this unit appears); the first error is not hidden."""
        self.done = True
        for shard in self.shards.values():
            if shard.writer is not None:
                try:
                    shard.writer.close()
                except Exception:  # the error that brought us here is the one to report
                    pass
            if shard.target is not None:
                shard.target.discard()
