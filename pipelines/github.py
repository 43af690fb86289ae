"""The GitHub graph: exact file-level dedup across every input, then the recipe, in two passes over
each unit (an input file), so no worker and not the launcher ever holds the corpus.

1. Keys: each unit is read once through the rules before the dedup (licence, binary, symlink, .crt,
   root LICENSE); the (content md5, repo_name, path, licence, unit, row) key of every row that passes
   goes to its hash shard, in chunks of KEY_CHUNK keys (a worker holds a chunk per shard).
2. Decide: per hash shard (GroupByKey), each content's smallest (repo_name, path) wins; the winner's
   copies and other repos and the losers' rows go back to their unit (CoGroupByKey). Only keys and
   decisions travel through the shuffle, never file contents.
3. Write: each unit is read again through the whole recipe (pipelines/steps/github.py) with its
   decisions, and its shards written as OUT/lang=code/bucket=all/part-NNNNN.parquet as batches pass
   (pipelines.source.write_unit); faults are counted here only. Then `_stats.json`, `_manifest.json`
   and `_SUCCESS` through pipelines.commit.
"""
from __future__ import annotations

import functools
import logging
from typing import Optional

import apache_beam as beam

from corpus import github_input
from corpus.counters import Counters
from pipelines import fileio
from pipelines.commit import commit
from pipelines.source import BATCH_CHARS, SourceRun, Unit, whole_files, write_unit
from pipelines.steps import github as gh
from pipelines.steps.chain import read_rows, run_steps

LOG = logging.getLogger("llamapipe.github")
KEY_CHUNK = 4096


def output_patterns() -> list[str]:
    """Every file a github run may write under OUT (outdir.claim_output)."""
    return ["lang=*/bucket=*/part-*.parquet"]


def source_run(cfg: gh.GithubConfig) -> SourceRun:
    """The pieces the two passes share: inputs, output, reader, one unit per readable file. Its
    make_steps is the recipe without dedup decisions; the graph gives each unit its own (WriteUnitFn)."""
    read = functools.partial(github_input.read_unit, fileio.open_raw, cfg.formats)
    return SourceRun(files=cfg.files, out=cfg.out, make_steps=functools.partial(gh.recipe, cfg),
                     run_info=cfg.run_info(), read=read, strict=cfg.strict, unreadable=cfg.unreadable,
                     units=whole_files(cfg.files, dict(cfg.unreadable)))


class KeysFn(beam.DoFn):
    """(part, unit) -> (hash shard, [dedup keys]) for the rows that pass the rules before the dedup."""

    def __init__(self, cfg: gh.GithubConfig, run: SourceRun):
        self.cfg = cfg
        self.run = run

    def setup(self):
        self.steps = gh.before_dedup(self.cfg)

    def process(self, item: tuple[int, Unit]):
        part, unit = item
        rows = read_rows(self.run.read(unit), unit.path, self.cfg.strict, None, LOG)
        chunks: dict[int, list[gh.DedupKey]] = {}
        for key in gh.dedup_keys(run_steps(rows, self.steps, Counters(), max_chars=BATCH_CHARS), part):
            shard = gh.shard_of(key[0], self.cfg.dedup_shards)
            chunk = chunks.setdefault(shard, [])
            chunk.append(key)
            if len(chunk) >= KEY_CHUNK:
                yield shard, chunks.pop(shard)
        yield from sorted(chunks.items())


def decide_shard(item) -> list[tuple[int, gh.UnitDedup]]:
    """(shard, [chunks of keys]) -> (part, its decisions) for every part with a duplicate in the shard."""
    _, chunks = item
    return list(gh.decide(key for chunk in chunks for key in chunk))


class WriteUnitFn(beam.DoFn):
    """(part, {unit, dedup}) -> manifest entries of the unit's shards; its Counters tagged 'stats'."""

    def __init__(self, cfg: gh.GithubConfig, run: SourceRun):
        self.cfg = cfg
        self.run = run

    def setup(self):
        self.tail = gh.after_dedup(self.cfg)

    def process(self, item):
        part, grouped = item
        units = list(grouped["unit"])
        if not units:
            return
        steps = gh.recipe(self.cfg, gh.merge(grouped["dedup"]), self.tail)
        entries, counters = write_unit(self.run, steps, part, units[0])
        yield from entries
        yield beam.pvalue.TaggedOutput("stats", counters)


def build_pipeline(p: beam.Pipeline, cfg: gh.GithubConfig, run_id: Optional[str] = None) -> None:
    """Attach the github graph to `p`; `run_id` is the output claim's."""
    run = source_run(cfg)
    units = (p
             | "Units" >> beam.Create(list(enumerate(run.plan())))
             | "SpreadUnits" >> beam.Reshuffle())
    decisions = (units
                 | "DedupKeys" >> beam.ParDo(KeysFn(cfg, run))
                 | "GroupByHashShard" >> beam.GroupByKey()
                 | "DecideDuplicates" >> beam.FlatMap(decide_shard))
    written = ({"unit": units, "dedup": decisions}
               | "JoinDecisionsToUnits" >> beam.CoGroupByKey()
               | "Recipe" >> beam.ParDo(WriteUnitFn(cfg, run)).with_outputs("stats", main="manifest"))
    commit(p, cfg.out, cfg.run_info(), written.stats, written.manifest, p | "NoExtras" >> beam.Create([]), run_id,
           [(cfg.files[i], why) for i, why in sorted(cfg.unreadable)])
