"""Owning an output folder for one run: lock, overlap refusal, and removing only what llamapipe wrote.

A run (1) refuses an output that is a file or that overlaps an input (after resolving symlinks),
(2) takes a lock on the folder that dies with the process (local: an flock'd `_llamapipe.lock`;
remote: a marker with host and pid), (3) removes what an earlier llamapipe run provably wrote
there (files matching the patterns that run declared in `_llamapipe_run.json`, or listed in its
manifest with their size) and refuses the folder when anything else is in it, naming the entry,
(4) declares, before writing anything, the patterns of every file it may write. Patterns are
slash-separated paths whose parts are fnmatch globs (`lang=*/bucket=*/part-?????.parquet`).
"""
from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import json
import os
import re
import socket
import uuid
from typing import Iterable, Optional

from corpus import shards
from corpus.paths import canonical, is_url
from pipelines import fileio

RUN_FILE = "_llamapipe_run.json"
LOCK_FILE = "_llamapipe.lock"
COMMIT_FILES = (shards.STATS_FILE, shards.MANIFEST_FILE, shards.SUCCESS_FILE)
_TMP_SUFFIX = re.compile(r"^(?P<name>.+)\.tmp-[0-9a-f]{6,32}$")
_HIDDEN_TMP = re.compile(r"^\.(?P<name>.+)\.tmp-\d+$")


class OutputRefused(Exception):
    """The output folder cannot be used as asked; the message says why and names the entry."""


@dataclasses.dataclass
class Claim:
    """A run's hold on its output folder: release it when the run ends, however it ends."""

    out: str
    run_id: str
    patterns: tuple[str, ...]
    _fd: Optional[int] = None
    _created: bool = False

    def release(self) -> None:
        """Drop the lock (and an output folder this run created but left empty)."""
        lock = fileio.join(self.out, LOCK_FILE)
        if self._fd is not None:
            try:
                os.unlink(lock)
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd = None
        elif is_url(self.out) and fileio.exists(lock):
            fileio.delete_tree(lock)
        if self._created and not is_url(self.out):
            try:
                os.rmdir(self.out)
            except OSError:
                pass

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _inside(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip("/") + "/")


def check_overlap(out: str, input_folders: Iterable[str] = (), input_files: Iterable[str] = ()) -> None:
    """Refuse an output equal to, inside, or containing an input folder, or containing an input file."""
    o = canonical(out)
    for folder in input_folders:
        f = canonical(folder)
        if _inside(o, f) or _inside(f, o):
            relation = "is" if o == f else "is inside" if _inside(o, f) else "contains"
            raise OutputRefused(f"output {out} {relation} the input {folder}; write to a folder outside the inputs")
    for file in input_files:
        f = canonical(file)
        if o == f:
            raise OutputRefused(f"output {out} is the input file {file}")
        if _inside(f, o):
            raise OutputRefused(f"output {out} contains the input file {file}; write to a folder outside the inputs")


def matches(rel: str, patterns: Iterable[str]) -> bool:
    """Whether a relative file path (or its temporary sibling from an atomic write) fits a pattern."""
    parts = rel.split("/")
    name = parts[-1]
    for rx in (_TMP_SUFFIX, _HIDDEN_TMP):
        m = rx.match(name)
        if m:
            return matches("/".join(parts[:-1] + [m.group("name")]), patterns)
    for pattern in patterns:
        pp = pattern.split("/")
        if len(pp) == len(parts) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pp)):
            return True
    return False


def _is_pattern_prefix(rel_dir: str, patterns: Iterable[str]) -> bool:
    parts = rel_dir.split("/")
    return any(len(p.split("/")) > len(parts) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, p.split("/")))
               for p in patterns)


def _inventory(out: str) -> tuple[list[str], list[str]]:
    """(files, folders) under `out`, relative, sorted; symlinks count as files (never followed)."""
    if is_url(out):
        found = [m.path for r in fileio.FileSystems.match([fileio.join(out, "**")]) for m in r.metadata_list]
        rels = sorted(p[len(out.rstrip("/")) + 1:] for p in found)
        return rels, []
    files, folders = [], []
    for root, dirs, names in os.walk(out):
        rel_root = os.path.relpath(root, out)
        links = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        dirs[:] = [d for d in dirs if d not in links]
        for n in names + links:
            files.append(n if rel_root == "." else f"{rel_root}/{n}")
        folders.extend(d if rel_root == "." else f"{rel_root}/{d}" for d in dirs)
    return sorted(files), sorted(folders)


def _earlier_claims(out: str) -> tuple[list[str], dict[str, int]]:
    """Patterns an earlier run declared, and files its manifest lists (path -> bytes)."""
    patterns: list[str] = []
    run_file = fileio.join(out, RUN_FILE)
    if fileio.exists(run_file):
        try:
            doc = json.loads(fileio.read_bytes(run_file))
            patterns = [p for p in doc["patterns"] if isinstance(p, str)]
        except (ValueError, KeyError, TypeError):
            raise OutputRefused(f"{run_file} is not readable as a llamapipe run record; "
                                f"remove the folder yourself or choose another output") from None
    listed: dict[str, int] = {}
    manifest = fileio.join(out, shards.MANIFEST_FILE)
    if fileio.exists(manifest):
        try:
            listed = {e["path"]: e["bytes"] for e in json.loads(fileio.read_bytes(manifest))["files"]}
        except (ValueError, KeyError, TypeError):
            listed = {}
    return patterns, listed


def _lock_local(out: str) -> int:
    import fcntl

    path = os.path.join(out, LOCK_FILE)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise OutputRefused(f"{out} is in use by another llamapipe run ({holder}); wait for it to finish "
                                f"or choose another output") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file between our open and flock: take the new one


def _holder_text(command: str) -> str:
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return f"llamapipe {command}, pid {os.getpid()} on {socket.gethostname()}, since {started}"


def _lock_remote(out: str, command: str) -> None:
    path = fileio.join(out, LOCK_FILE)
    if fileio.exists(path):
        holder = fileio.read_bytes(path).decode("utf-8", "replace").strip()
        if not _stale_here(holder):
            raise OutputRefused(f"{out} is in use by another llamapipe run ({holder}); if that run is dead, "
                                f"delete {path} and retry")
    fileio.write_atomic(path, _holder_text(command).encode())


def _stale_here(holder: str) -> bool:
    """A remote lock taken by a process of this host that no longer exists."""
    m = re.search(r"pid (\d+) on (\S+),", holder)
    if not m or m.group(2) != socket.gethostname():
        return False
    try:
        os.kill(int(m.group(1)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def claim_output(out: str, command: str, patterns: Iterable[str], overwrite: bool,
                 input_folders: Iterable[str] = (), input_files: Iterable[str] = ()) -> Claim:
    """Lock `out`, refuse what must be refused, clear an earlier run's files, declare this run's.

    Nothing is touched before every check passed. A finished output needs `overwrite`; files
    an earlier llamapipe run did not provably write make the folder refused, naming them.
    """
    patterns = tuple(sorted(set(patterns) | set(COMMIT_FILES)))
    if not is_url(out) and os.path.lexists(out) and not os.path.isdir(out):
        raise OutputRefused(f"output {out} exists and is not a folder")
    check_overlap(out, input_folders, input_files)
    created = False
    if not is_url(out):
        created = not os.path.isdir(out)
        os.makedirs(out, exist_ok=True)
        claim = Claim(out, uuid.uuid4().hex, patterns, _created=created)
        claim._fd = _lock_local(out)
        os.ftruncate(claim._fd, 0)
        os.write(claim._fd, _holder_text(command).encode())
    else:
        _lock_remote(out, command)
        claim = Claim(out, uuid.uuid4().hex, patterns)
    try:
        _clear_earlier(out, overwrite)
        record = {"command": command, "run_id": claim.run_id, "patterns": list(patterns),
                  "holder": _holder_text(command)}
        fileio.write_atomic(fileio.join(out, RUN_FILE), shards.json_bytes(record))
    except BaseException:
        claim.release()
        raise
    claim._created = False
    return claim


def _clear_earlier(out: str, overwrite: bool) -> None:
    if fileio.exists(fileio.join(out, shards.SUCCESS_FILE)) and not overwrite:
        raise OutputRefused(f"{out} already holds a finished run ({shards.SUCCESS_FILE} exists); "
                            f"pass --overwrite to replace it")
    files, folders = _inventory(out)
    files = [f for f in files if f not in (LOCK_FILE, RUN_FILE)]
    patterns, listed = _earlier_claims(out)
    ours, foreign = [], []
    for rel in files:
        full = fileio.join(out, rel)
        if not is_url(out) and os.path.islink(full):
            foreign.append(rel)
        elif (matches(rel, patterns) or (rel in listed and _size(full) == listed[rel])
              or (listed and matches(rel, COMMIT_FILES))):
            ours.append(rel)
        else:
            foreign.append(rel)
    touched = {"/".join(r.split("/")[:i]) for r in ours for i in range(1, r.count("/") + 1)}
    empty_foreign = [d for d in folders if d not in touched and not _is_pattern_prefix(d, patterns)
                     and not any(f.startswith(d + "/") for f in files)]
    foreign += empty_foreign
    if foreign:
        shown = ", ".join(sorted(foreign)[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputRefused(f"{out} holds entries that are not llamapipe output ({shown}); they are never deleted: "
                            f"move them away or choose another output")
    for rel in ours:
        fileio.delete_tree(fileio.join(out, rel))
    if not is_url(out):
        for d in sorted(folders, key=lambda d: -d.count("/")):
            if d in touched or _is_pattern_prefix(d, patterns):
                try:
                    os.rmdir(os.path.join(out, d))
                except OSError:
                    pass
    if fileio.exists(fileio.join(out, RUN_FILE)):
        fileio.delete_tree(fileio.join(out, RUN_FILE))


def _size(path: str) -> int:
    if not is_url(path):
        return os.path.getsize(path)
    return fileio.FileSystems.match([path])[0].metadata_list[0].size_in_bytes


def check_run(out: str, run_id: str) -> None:
    """Raise unless `out`'s run record is still this run's (another run took the folder over)."""
    path = fileio.join(out, RUN_FILE)
    try:
        current = json.loads(fileio.read_bytes(path)).get("run_id")
    except Exception:
        current = None
    if current != run_id:
        raise RuntimeError(f"{out} was taken over by another run while this one was running "
                           f"({RUN_FILE} no longer names run {run_id}); nothing committed")
