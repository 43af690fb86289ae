"""Corpus shard layout and bytes: Hive-partitioned zstd Parquet, manifest entries, marker files.

Functions here build bytes and paths only; the caller writes them through whatever
filesystem it uses (local disk, GCS, ...) with write-to-temporary-then-rename.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpus.document import PARQUET_SCHEMA, Document, documents_to_table

STATS_FILE = "_stats.json"
MANIFEST_FILE = "_manifest.json"
SUCCESS_FILE = "_SUCCESS"
TEMP_DIR = "_temporary"
ROW_GROUP_ROWS = 2048
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


def write_local_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write a local file through a hidden temporary sibling and a rename: never seen half-written."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp-{os.getpid()}")
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
    return {"path": rel_path, "rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def manifest_bytes(entries: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> bytes:
    files = sorted(entries, key=lambda e: e["path"])
    doc = {"files": files, "total_rows": sum(e["rows"] for e in files),
           "total_bytes": sum(e["bytes"] for e in files)}
    if extra:
        doc.update(extra)
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8")


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
