"""File access through Beam's FileSystems, so local paths, gs:// and s3:// all work the same.

Writes are atomic: bytes go to a temporary name in the same folder, then a rename.
"""
from __future__ import annotations

import os
import uuid

from apache_beam.io.filesystems import FileSystems

from corpus.shards import local_parquet_files


def join(base: str, *parts: str) -> str:
    return FileSystems.join(base, *parts)


def expand_globs(patterns: list[str]) -> list[str]:
    """Sorted, de-duplicated files matching the patterns; a pattern that matches nothing is an error."""
    files: set[str] = set()
    for pattern in patterns:
        matched = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
        if not matched:
            raise FileNotFoundError(f"input pattern {pattern!r} matches no file")
        files.update(matched)
    return sorted(files)


def list_parquet(folder: str) -> list[tuple[str, str]]:
    """(path, path relative to folder) of the Parquet shards under a corpus folder, sorted;
    folders and files whose names start with '_' (scratch, side outputs) are skipped."""
    if "://" not in folder:
        return local_parquet_files(folder)
    found: list[tuple[str, str]] = []
    for pattern in ("*.parquet", "*/*.parquet", "*/*/*.parquet"):
        for r in FileSystems.match([join(folder, pattern)]):
            for m in r.metadata_list:
                rel = m.path[len(folder.rstrip("/")) + 1:]
                if not any(part.startswith("_") for part in rel.split("/")):
                    found.append((m.path, rel))
    return sorted(set(found))


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return f.read()


def exists(path: str) -> bool:
    return FileSystems.exists(path)


def _ensure_parent(path: str) -> None:
    if "://" not in path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


def write_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path` via a temporary sibling and a rename."""
    _ensure_parent(path)
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
    with FileSystems.create(tmp, compression_type="uncompressed") as f:
        f.write(data)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def delete_tree(path: str) -> None:
    """Remove a folder (or file) and everything below it, if it exists."""
    if FileSystems.exists(path):
        FileSystems.delete([path])
