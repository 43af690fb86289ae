"""How every corpus pipeline starts and ends its output folder (DESIGN.md, corpus shards).

Start: refuse a finished OUT without --overwrite, clear what a killed run left, never wipe a
folder holding anything else. End: merge the per-file counters, check the accounting
invariant, write `_stats.json`, `_manifest.json`, drop the scratch folder, then `_SUCCESS`.
"""
from __future__ import annotations

import os
from typing import Any, Iterable

import apache_beam as beam
from apache_beam.pvalue import AsList, AsSingleton

from corpus import shards
from corpus import stats as st
from pipelines import fileio


def prepare_output(out: str, overwrite: bool, extra_entries: tuple[str, ...] = ()) -> None:
    """Refuse a finished OUT without --overwrite; clear what an earlier (killed) run left."""
    success = fileio.join(out, shards.SUCCESS_FILE)
    if fileio.exists(success) and not overwrite:
        raise FileExistsError(f"{out} already holds a finished run ({shards.SUCCESS_FILE} exists); "
                              f"pass --overwrite to replace it")
    if "://" in out or not os.path.isdir(out):
        return
    ours = {shards.STATS_FILE, shards.MANIFEST_FILE, shards.SUCCESS_FILE, shards.TEMP_DIR, *extra_entries}
    entries = os.listdir(out)
    foreign = [e for e in entries if e not in ours and "=" not in e]
    if foreign:
        raise FileExistsError(f"{out} is not empty and holds files that are not llamapipe output "
                              f"({', '.join(sorted(foreign)[:5])}); choose another --output")
    for e in entries:
        fileio.delete_tree(os.path.join(out, e))


def merge_stats_fn(parts: Iterable[dict]) -> dict:
    return st.merge_stats(list(parts))


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

    def __init__(self, out: str, run_info: dict[str, Any]):
        self.out = out
        self.run_info = run_info

    def process(self, _, stats: dict, manifest: list[dict], extras: list[dict]):
        stats = dict(stats)
        stats["partitions"] = partition_counts(manifest)
        for extra in extras:
            stats.update(extra)
        stats["config"] = self.run_info
        stats = st.sort_keys(stats)
        problems = st.check_accounting(stats)
        if problems:
            raise RuntimeError("accounting invariant broken: " + "; ".join(problems))
        fileio.write_atomic(fileio.join(self.out, shards.STATS_FILE), shards.json_bytes(stats))
        fileio.write_atomic(fileio.join(self.out, shards.MANIFEST_FILE), shards.manifest_bytes(manifest))
        fileio.delete_tree(fileio.join(self.out, shards.TEMP_DIR))
        fileio.write_atomic(fileio.join(self.out, shards.SUCCESS_FILE), b"")
        yield stats


def commit(p: beam.Pipeline, out: str, run_info: dict[str, Any], stats: beam.PCollection,
           manifest: beam.PCollection, extras: beam.PCollection) -> None:
    """Attach the final commit: runs once, after all stats, manifest entries and extras exist.

    `stats` holds per-file counter dicts; `extras` dicts merged into _stats.json.
    """
    merged = stats | "MergeStats" >> beam.CombineGlobally(merge_stats_fn)
    (p
     | "CommitTrigger" >> beam.Create([None])
     | "Commit" >> beam.ParDo(CommitFn(out, run_info), stats=AsSingleton(merged),
                              manifest=AsList(manifest), extras=AsList(extras)))
