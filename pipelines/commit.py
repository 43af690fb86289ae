"""How every corpus pipeline ends its output folder (DESIGN.md, corpus shards; the start is
pipelines/outdir.py).

Add up the per-file Counters, check the accounting invariant, write `_stats.json` and
`_manifest.json`, drop the scratch folder, check that every manifest entry is on disk with its
size (and sha256 for local outputs) and that the folder is still this run's, then `_SUCCESS`.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

import apache_beam as beam
from apache_beam.pvalue import AsList, AsSingleton

from corpus import shards
from corpus.counters import Counters, check_accounting, sort_keys
from corpus.paths import is_url
from pipelines import fileio, outdir


def unreadable_counters(path: str, why: str) -> Counters:
    """Counters of an input file that could not be read at all: one malformed record at offset 0."""
    counters = Counters()
    counters.malformed(path, 0, why)
    return counters


def add_counters(parts: Iterable[Counters]) -> Counters:
    return sum(parts, Counters())


def partition_counts(manifest: list[dict]) -> dict[str, int]:
    """Documents per output folder, from the manifest's data files (.parquet shards, .bin token shards;
    side files such as _clusters and .idx indexes excluded)."""
    counts: dict[str, int] = {}
    for e in manifest:
        if e["path"].startswith("_") or not e["path"].endswith((".parquet", ".bin")):
            continue
        part = e["path"].rsplit("/", 1)[0] if "/" in e["path"] else "."
        counts[part] = counts.get(part, 0) + e["rows"]
    return counts


class CommitFn(beam.DoFn):
    """Write _stats.json, _manifest.json, then _SUCCESS; remove the temporary folder."""

    def __init__(self, out: str, run_info: dict[str, Any], run_id: Optional[str]):
        self.out = out
        self.run_info = run_info
        self.run_id = run_id

    def process(self, _, counters: Counters, manifest: list[dict], extras: list[dict]):
        stats = counters.to_stats()
        stats["partitions"] = partition_counts(manifest)
        for extra in extras:
            stats.update(extra)
        stats["config"] = self.run_info
        stats = sort_keys(stats)
        problems = check_accounting(stats)
        if problems:
            raise RuntimeError("accounting invariant broken: " + "; ".join(problems))
        fileio.write_atomic(fileio.join(self.out, shards.STATS_FILE), shards.json_bytes(stats))
        fileio.write_atomic(fileio.join(self.out, shards.MANIFEST_FILE), shards.manifest_bytes(manifest))
        fileio.delete_tree(fileio.join(self.out, shards.TEMP_DIR))
        check_written(self.out, manifest)
        if self.run_id:
            outdir.check_run(self.out, self.run_id)
        fileio.write_atomic(fileio.join(self.out, shards.SUCCESS_FILE), b"")
        if self.run_id:
            fileio.delete_tree(fileio.join(self.out, outdir.RUN_FILE))
        yield stats


def check_written(out: str, manifest: list[dict]) -> None:
    """Raise unless every manifest entry is in `out` with its size (and, for local outputs, sha256)."""
    for e in manifest:
        path = fileio.join(out, e["path"])
        if not fileio.exists(path):
            raise RuntimeError(f"{path} is missing though this run wrote it; nothing committed")
        size = fileio.size(path)
        if size != e["bytes"]:
            raise RuntimeError(f"{path} holds {size} bytes, this run wrote {e['bytes']}; nothing committed")
        if not is_url(out) and fileio.file_digest(path) != e["sha256"]:
            raise RuntimeError(f"{path} changed after this run wrote it; nothing committed")


def commit(p: beam.Pipeline, out: str, run_info: dict[str, Any], stats: beam.PCollection,
           manifest: beam.PCollection, extras: beam.PCollection, run_id: Optional[str] = None,
           unreadable: Iterable[tuple[str, str]] = ()) -> None:
    """Attach the final commit: runs once, after all stats, manifest entries and extras exist.

    `stats` holds per-file Counters; `extras` dicts merged into _stats.json; `run_id` the
    claim's (outdir.claim_output), checked before `_SUCCESS`; `unreadable` (path, why) of input
    files that could not be opened, each counted as one malformed record.
    """
    unreadable = [unreadable_counters(path, why) for path, why in unreadable]
    if unreadable:
        stats = (stats, p | "UnreadableInputs" >> beam.Create(unreadable)) | "AllStats" >> beam.Flatten()
    merged = stats | "MergeStats" >> beam.CombineGlobally(add_counters)
    (p
     | "CommitTrigger" >> beam.Create([None])
     | "Commit" >> beam.ParDo(CommitFn(out, run_info, run_id), counters=AsSingleton(merged),
                              manifest=AsList(manifest), extras=AsList(extras)))
