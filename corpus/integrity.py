"""Is an input folder a finished llamapipe output, and do its files still match its manifest?

Every llamapipe output ends with `_manifest.json` (path, bytes, sha256 of each file it wrote) and
`_SUCCESS`. A consumer calls `check_complete` before it reads anything: a folder without
`_SUCCESS` is refused (unless the user allows it), every manifest entry must exist with its size,
and with `sha256=True` its digest too. A subfolder of a finished output (`OUT/lang=fr`) is
checked against its ancestor's manifest. Local files only; `pipelines.fileio` lends its
FileSystems functions for gs:// and s3:// folders.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Callable, Iterator, Optional

from corpus.paths import is_url

SUCCESS_FILE = "_SUCCESS"
MANIFEST_FILE = "_manifest.json"
_CHUNK = 8 << 20


class IncompleteInput(ValueError):
    """An input folder that is unfinished, or whose files no longer match its manifest; names the file."""


@dataclasses.dataclass(frozen=True)
class FileAccess:
    """How to look at a folder: local by default, Beam FileSystems for remote paths."""

    exists: Callable[[str], bool] = os.path.exists
    size: Callable[[str], int] = os.path.getsize
    read: Callable[[str], bytes] = lambda p: open(p, "rb").read()
    join: Callable[..., str] = os.path.join
    chunks: Optional[Callable[[str], Iterator[bytes]]] = None


LOCAL = FileAccess()


@dataclasses.dataclass(frozen=True)
class CheckedFolder:
    """A checked input: its manifest's entries under `folder` (paths relative to `folder`), or
    None when the folder has no manifest and incompleteness was allowed."""

    folder: str
    root: str
    entries: Optional[list[dict]]

    def files(self, suffix: str = "") -> Optional[list[str]]:
        """Relative paths of the listed files ending in `suffix`, sorted; side folders ('_*') skipped."""
        if self.entries is None:
            return None
        return sorted(e["path"] for e in self.entries
                      if e["path"].endswith(suffix) and not any(p.startswith("_") for p in e["path"].split("/")))


def _local_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while True:
            block = f.read(_CHUNK)
            if not block:
                return
            yield block


def file_sha256(path: str, access: FileAccess = LOCAL) -> str:
    """Hex sha256 of a file, read in 8 MB blocks."""
    h = hashlib.sha256()
    blocks = access.chunks(path) if access.chunks else _local_chunks(path) if access is LOCAL else [access.read(path)]
    for block in blocks:
        h.update(block)
    return h.hexdigest()


def find_root(folder: str, access: FileAccess = LOCAL) -> Optional[str]:
    """`folder` or its nearest ancestor holding a manifest (local paths); None when there is none."""
    folder = folder.rstrip("/") or "/"
    if access.exists(access.join(folder, MANIFEST_FILE)) or access.exists(access.join(folder, SUCCESS_FILE)):
        return folder
    if is_url(folder):
        return None
    parent = os.path.dirname(folder)
    while parent and parent != folder:
        if os.path.exists(os.path.join(parent, MANIFEST_FILE)):
            return parent
        folder, parent = parent, os.path.dirname(parent)
    return None


def read_manifest(root: str, access: FileAccess = LOCAL) -> dict:
    path = access.join(root, MANIFEST_FILE)
    try:
        doc = json.loads(access.read(path))
    except (OSError, ValueError) as exc:
        raise IncompleteInput(f"{path}: not a readable manifest ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), list) or not all(
            isinstance(e, dict) and isinstance(e.get("path"), str) and isinstance(e.get("bytes"), int)
            for e in doc["files"]):
        raise IncompleteInput(f"{path}: not a llamapipe manifest (expected files with path and bytes)")
    return doc


def check_complete(folder: str, allow_incomplete: bool = False, sha256: bool = False,
                   access: FileAccess = LOCAL, what: str = "input",
                   on_file: Optional[Callable[[str], None]] = None) -> CheckedFolder:
    """Refuse an unfinished or altered input folder, naming it and the file at fault.

    Finished means `_SUCCESS` beside a manifest (in `folder` or an ancestor); then every manifest
    entry under `folder` must exist with its byte size (and sha256 when asked). With
    `allow_incomplete`, a folder without `_SUCCESS` is taken as it is (entries None: the caller
    lists the folder itself).
    """
    root = find_root(folder, access)
    finished = root is not None and access.exists(access.join(root, SUCCESS_FILE))
    if not finished:
        if allow_incomplete:
            return CheckedFolder(folder, folder, None)
        raise IncompleteInput(
            f"{what} {folder} is not a finished llamapipe output (no {SUCCESS_FILE}"
            f"{'' if root is None else ' in ' + root}): the run that writes it did not finish or is still "
            f"running; rerun it, or pass --allow-incomplete to read it as it is")
    manifest = read_manifest(root, access)
    prefix = "" if root == folder.rstrip("/") else folder.rstrip("/")[len(root.rstrip("/")) + 1:] + "/"
    entries = []
    for e in manifest["files"]:
        if not e["path"].startswith(prefix):
            continue
        path = access.join(root, e["path"])
        if not access.exists(path):
            raise IncompleteInput(f"{what} {folder}: {path} is listed in {MANIFEST_FILE} but missing")
        size = access.size(path)
        if size != e["bytes"]:
            raise IncompleteInput(f"{what} {folder}: {path} holds {size} bytes, {MANIFEST_FILE} says {e['bytes']} "
                                  f"(truncated or changed since it was written)")
        if sha256 and e.get("sha256") and file_sha256(path, access) != e["sha256"]:
            raise IncompleteInput(f"{what} {folder}: {path} does not match its sha256 in {MANIFEST_FILE} "
                                  f"(changed since it was written)")
        if on_file:
            on_file(path)
        entries.append({**e, "path": e["path"][len(prefix):]})
    return CheckedFolder(folder, root, entries)
