"""Progress marks: one tiny JSON file per finished work unit under OUT/_temporary/progress/, so the
launcher's bar (pipelines/cli/progress.py) shows units done, documents/s and MB/s on any local runner
without Beam internals. Local outputs only; the commit removes the folder with the rest of the scratch.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Union

from corpus import shards
from corpus.paths import is_url
from pipelines import fileio

PROGRESS_DIR = "progress"
_KEY = re.compile(r"[A-Za-z0-9_.=-]+")


def folder(out: str) -> str:
    """Where a run's marks go: OUT/_temporary/progress."""
    return os.path.join(out, shards.TEMP_DIR, PROGRESS_DIR)


def output_pattern() -> str:
    """The marks' pattern for a command's output_patterns() (outdir.claim_output)."""
    return f"{shards.TEMP_DIR}/{PROGRESS_DIR}/unit-*.json"


def mark_name(unit: Union[int, str]) -> str:
    """The mark's file name: unit-00007.json for unit 7, unit-<key>.json for a key such as 'cc-00007'
    (letters, digits, '.', '_', '=', '-' only, so a mark never leaves its folder)."""
    if isinstance(unit, int):
        return f"unit-{unit:05d}.json"
    if not _KEY.fullmatch(unit):
        raise ValueError(f"progress mark key {unit!r}: use letters, digits, '.', '_', '=' or '-'")
    return f"unit-{unit}.json"


def safe_key(text: str) -> str:
    """`text` with every character a mark name may not hold replaced by '_' (a source name, say)."""
    return re.sub(r"[^A-Za-z0-9_.=-]", "_", text)


def mark_done(out: str, unit: Union[int, str], documents: int, chars: int, units_total: int = 0) -> None:
    """Record that work unit `unit` (its index in the plan, or a key unique in the run) of `units_total`
    (0: unknown) is done after reading `documents` documents of `chars` characters; a retried unit
    overwrites its own mark. A no-op for remote outputs."""
    if is_url(out):
        return
    os.makedirs(folder(out), exist_ok=True)
    record = {"unit": unit, "documents": documents, "chars": chars, "units_total": units_total}
    fileio.write_atomic(os.path.join(folder(out), mark_name(unit)), json.dumps(record, sort_keys=True).encode())


@dataclasses.dataclass(frozen=True)
class Totals:
    """What the marks of a run add up to so far; `units_total` 0 when no mark named it."""

    units: int = 0
    documents: int = 0
    chars: int = 0
    units_total: int = 0


def read_totals(out: str) -> Totals:
    """Sum the marks in OUT/_temporary/progress (empty Totals when there are none or the run committed);
    a mark being replaced or removed while we read is skipped."""
    try:
        names = [n for n in os.listdir(folder(out)) if n.startswith("unit-") and n.endswith(".json")]
    except OSError:
        return Totals()
    units = documents = chars = total = 0
    for name in names:
        try:
            with open(os.path.join(folder(out), name), "rb") as f:
                record = json.loads(f.read())
        except (OSError, ValueError):
            continue
        units += 1
        documents += int(record.get("documents", 0))
        chars += int(record.get("chars", 0))
        total = max(total, int(record.get("units_total", 0)))
    return Totals(units, documents, chars, total)
