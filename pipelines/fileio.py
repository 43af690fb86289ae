"""File access through Beam's FileSystems, so local paths, gs:// and s3:// all work the same.

Writes are atomic: bytes go to a temporary name in the same folder, then a rename.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import sys
import uuid
from typing import BinaryIO, Iterator

from apache_beam.io.filesystems import FileSystems

from corpus import shards
from corpus.integrity import FileAccess
from corpus.paths import canonical, is_url
from corpus.shards import local_parquet_files, write_local_atomic
from pipelines.memory import pin_mmap_threshold


def join(base: str, *parts: str) -> str:
    """`base`/`parts` for a local path or a URL; local paths skip Beam's filesystem lookup (what its
    LocalFileSystem does too), as shard steps join thousands of scratch names."""
    if not is_url(base):
        return os.path.join(base, *parts)
    return FileSystems.join(base, *parts)


def under(out: str, rel: str) -> str:
    """`out`/`rel` for a relative path that cannot leave `out` (no absolute path, '.', '..' or empty part)."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"refusing to write {rel!r}: every path a run writes stays inside its output {out}")
    return join(out, rel)


def _not_files(pattern: str) -> list[str]:
    """Local entries a glob matches that are not readable regular files (folders, broken or looping links)."""
    return sorted(m for m in glob.glob(pattern) if not os.path.isfile(m))


def expand_globs(patterns: list[str], warn=None) -> list[str]:
    """Sorted input files matching the patterns, each file once.

    A pattern that matches nothing, or matches a folder or a broken/looping symlink, is an error
    naming it. The same file reached twice (a symlinked folder, a link to a file) is read once:
    local paths are de-duplicated after resolving symlinks, and files with identical bytes are
    kept once with a warning (`warn`, default stderr)."""
    warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
    found: dict[str, int] = {}
    for pattern in patterns:
        if not is_url(pattern):
            odd = _not_files(pattern)
            if odd:
                raise FileNotFoundError(f"input pattern {pattern!r} matches {odd[0]!r}, which is not a readable "
                                        f"file (a folder, or a broken or looping symlink); narrow the pattern")
        try:
            results = FileSystems.match([pattern])
        except ValueError as exc:  # a scheme with no filesystem installed (http://, s3:// without [aws])
            raise FileNotFoundError(f"input pattern {pattern!r}: {exc}") from None
        matched = [(m.path, m.size_in_bytes) for r in results for m in r.metadata_list]
        if not matched:
            raise FileNotFoundError(f"input pattern {pattern!r} matches no file")
        found.update(matched)
    by_real: dict[str, str] = {}
    for path in sorted(found):
        key = canonical(path)
        if key in by_real:
            warn(f"{path} is the same file as {by_real[key]}; read once")
            continue
        by_real[key] = path
    return _drop_identical(sorted(by_real.values()), found, warn)


def _drop_identical(files: list[str], sizes: dict[str, int], warn) -> list[str]:
    """Keep the first of files whose bytes are identical (only same-size files are hashed)."""
    by_size: dict[int, list[str]] = {}
    for f in files:
        by_size.setdefault(sizes[f], []).append(f)
    dropped: set[str] = set()
    for same in by_size.values():
        if len(same) < 2:
            continue
        seen: dict[str, str] = {}
        for f in same:
            try:
                digest = file_digest(f)
            except OSError:
                continue  # unreadable: the command counts it (or refuses it) by name, not here
            if digest in seen:
                warn(f"{f} has the same bytes as {seen[digest]}; read once")
                dropped.add(f)
            else:
                seen[digest] = f
    return [f for f in files if f not in dropped]


def file_digest(path: str) -> str:
    """sha256 of a file, streamed in 8 MB blocks."""
    h = hashlib.sha256()
    with FileSystems.open(path, compression_type="uncompressed") as f:
        while True:
            block = f.read(8 << 20)
            if not block:
                return h.hexdigest()
            h.update(block)


def size(path: str) -> int:
    if not is_url(path):
        return os.path.getsize(path)
    return FileSystems.match([path])[0].metadata_list[0].size_in_bytes


def _chunks(path: str):
    with FileSystems.open(path, compression_type="uncompressed") as f:
        while True:
            block = f.read(8 << 20)
            if not block:
                return
            yield block


ACCESS = FileAccess(exists=lambda p: FileSystems.exists(p), size=size, read=lambda p: read_bytes(p),
                    join=lambda *a: FileSystems.join(*a), chunks=_chunks)
"""corpus.integrity's view of files through Beam FileSystems (local, gs://, s3://)."""


def unreadable(path: str) -> str | None:
    """Why a local input file cannot be read (None when it can); remote files are not probed."""
    if is_url(path):
        return None
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as exc:
        return f"cannot read the file: {exc.strerror or exc}"
    return None


def corpus_files(folder: str, allow_incomplete: bool = False, what: str = "input") -> list[tuple[str, str]]:
    """(path, path relative to folder) of a finished corpus folder's Parquet shards, as its manifest
    lists them (sizes checked); an unfinished folder is refused unless `allow_incomplete`, then listed."""
    from corpus.integrity import LOCAL, check_complete

    checked = check_complete(folder.rstrip("/"), allow_incomplete, access=ACCESS if is_url(folder) else LOCAL,
                             what=what)
    rels = checked.files(".parquet")
    if rels is None:
        return list_parquet(folder)
    return [(join(folder, rel), rel) for rel in rels]


def list_parquet(folder: str) -> list[tuple[str, str]]:
    """(path, path relative to folder) of the Parquet shards under a corpus folder, sorted;
    folders and files whose names start with '_' (scratch, side outputs) are skipped."""
    if not is_url(folder):
        return local_parquet_files(folder)
    found: list[tuple[str, str]] = []
    for pattern in ("*.parquet", "*/*.parquet", "*/*/*.parquet"):
        for r in FileSystems.match([join(folder, pattern)]):
            for m in r.metadata_list:
                rel = m.path[len(folder.rstrip("/")) + 1:]
                if not any(part.startswith("_") for part in rel.split("/")):
                    found.append((m.path, rel))
    return sorted(set(found))


def open_raw(path: str) -> BinaryIO:
    """A file's raw bytes (no decompression: readers decompress by suffix) through Beam's FileSystems,
    so gs:// and s3:// work. Every worker reads its inputs here, so this is where it first pins
    glibc's mmap threshold (pipelines/memory.py), before any large block is allocated."""
    pin_mmap_threshold()
    if not is_url(path):
        return open(path, "rb")   # what Beam's LocalFileSystem opens, without its per-call lookup
    return FileSystems.open(path, compression_type="uncompressed")


def read_bytes(path: str) -> bytes:
    with open_raw(path) as f:
        return f.read()


def exists(path: str) -> bool:
    return FileSystems.exists(path)


def write_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path` via a temporary sibling and a rename (corpus.shards.write_local_atomic
    for local paths); a full device is OutputFull naming the file."""
    try:
        if not is_url(path):
            write_local_atomic(path, data)
            return
        tmp = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
        try:
            with FileSystems.create(tmp, compression_type="uncompressed") as f:
                f.write(data)
        except BaseException:
            _discard(tmp)
            raise
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise OutputFull(f"no space left on the device while writing {path}") from None
        raise
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def write_partitions(out: str, table, file_idx: int) -> Iterator[dict]:
    """Write one input file's documents as OUT/lang=xx/bucket=yy/part-NNNNN.parquet, one file per
    partition present; yields their manifest entries."""
    for part_dir, part in shards.split_partitions(table):
        rel = f"{part_dir}/{shards.part_name(file_idx)}"
        data = shards.parquet_bytes(part)
        write_atomic(under(out, rel), data)
        yield shards.manifest_entry(rel, data, part.num_rows)


def shard_stream(out: str, part: int) -> shards.ShardStream:
    """A ShardStream writing one unit's partitions under `out` as part `part`, each file through an
    AtomicFile (so no reader sees one half-written)."""
    return shards.ShardStream(part, lambda rel: AtomicFile(under(out, rel)))


class OutputFull(OSError):
    """The output device is full; the message names the file being written."""


@contextlib.contextmanager
def _full_device(path: str) -> Iterator[None]:
    """A full device while writing `path` becomes OutputFull naming it."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC and not isinstance(exc, OutputFull):
            raise OutputFull(f"no space left on the device while writing {path}") from None
        raise


class AtomicFile:
    """A file written a piece at a time under a temporary sibling name (hidden, for local paths) and
    renamed to `path` by `commit`, as `write_atomic` does for bytes in hand; `discard` removes it."""

    def __init__(self, path: str):
        self.path = path
        self.remote = is_url(path)
        with _full_device(path):
            if self.remote:
                self.tmp = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
                self.file = FileSystems.create(self.tmp, compression_type="uncompressed")
            else:
                self.tmp = shards.local_temp_path(path)
                self.file = open(self.tmp, "wb")

    def write(self, data: bytes) -> None:
        with _full_device(self.path):
            self.file.write(data)

    def commit(self) -> None:
        """Close the temporary file and rename it to `path` (replacing an older file there)."""
        with _full_device(self.path):
            self.file.close()
        if not self.remote:
            os.replace(self.tmp, self.path)
            return
        if FileSystems.exists(self.path):
            FileSystems.delete([self.path])
        FileSystems.rename([self.tmp], [self.path])

    def discard(self) -> None:
        """Close and remove the temporary file, if it is still there."""
        try:
            self.file.close()
        except OSError:
            pass
        if self.remote:
            _discard(self.tmp)
        elif os.path.exists(self.tmp):
            os.unlink(self.tmp)


def _discard(tmp: str) -> None:
    try:
        if FileSystems.exists(tmp):
            FileSystems.delete([tmp])
    except Exception:
        pass


def delete_tree(path: str) -> None:
    """Remove a folder (or file) and everything below it, if it exists."""
    if FileSystems.exists(path):
        FileSystems.delete([path])
