"""`llamapipe ccnet`: WET files to line-deduplicated, language-tagged, perplexity-bucketed shards.

Stages (keyed by work unit, hash shard or input file, so no worker ever holds the corpus, and the
line-dedup shuffle goes through scratch spill files under OUT/_temporary, never through Beam, whose
local runner would keep it in the launcher's memory; Beam carries only units, counts and plans):
1. plan each file's work units, byte ranges of about `unit_bytes` starting at a record (steps/ccnet_units.py);
2. per unit, hash the lines of its admitted documents; keep the hashes for pass 2 and spill the unique
   (document, hash) pairs grouped by hash (OUT/_temporary/pairs);
3. once every unit is hashed, per hash shard, read that slice of every unit's pairs, decide the dropped
   (document, line) pairs and spill them grouped by unit (OUT/_temporary/drops);
4. once every shard is done, per unit, with its drops: dedup, fastText LID, SentencePiece+KenLM
   perplexity; survivors go to a temporary Parquet file (OUT/_temporary/docs, one per unit);
5. per language, the 0..100 perplexity percentiles (or a cutoff file) give the buckets, combined from
   counts of distinct values (filters/buckets.py ValueCounts), so no worker holds a language's every value;
6. per unit, its documents are bucketed and split by partition into one spill file (OUT/_temporary/bucketed);
7. per partition, consecutive input files are packed into parts within `part_bytes` of text, each written
   to lang=xx/bucket=yy/part-NNNNN.parquet by streaming its units' slices (NNNNN: the part's first input
   file's index, so the output depends on neither the unit size nor the workers; steps/ccnet_parts.py);
8. `_stats.json`, `_manifest.json`, then `_SUCCESS`.
"""
from __future__ import annotations

from typing import BinaryIO, Iterable, Iterator, Optional

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsDict, AsList, AsSingleton

from corpus import shards
from corpus.counters import Counters
from filters.buckets import PERCENTILE_HEAD, PERCENTILE_TAIL, ValueCounts, percentiles_of_counts
from pipelines import fileio, progress_marks
from pipelines.steps.ccnet import CCNetConfig, FileHashes, file_line_hashes, process_file, recipe
from pipelines.steps.ccnet_parts import PartPlan, Slice, bucket_unit, plan_partition, spill_unit, write_part
from pipelines.steps.ccnet_units import (DedupPlan, HashedUnit, Unit, dedup_plan, pairs_spill, plan_file,
                                         read_shard, read_unit_drops, shard_drops_spill, unique_pairs,
                                         unit_documents)
from pipelines.commit import commit


def plan_units(item: tuple[int, str], unit_bytes: int) -> list[Unit]:
    """(file index, path) -> the file's work units."""
    file_idx, path = item
    return plan_file(file_idx, path, fileio.open_raw, fileio.size(path), unit_bytes)


class HashLinesFn(beam.DoFn):
    """Unit -> HashedUnit; its line hashes (for pass 2) and unique pairs (for the shards) go to scratch files."""

    def __init__(self, cfg: CCNetConfig, temp_dir: str):
        self.cfg = cfg
        self.temp_dir = temp_dir

    def process(self, unit: Unit):
        hashes = file_line_hashes(unit_documents(unit, self.cfg.source, fileio.open_raw), unit.path, self.cfg)
        fileio.write_atomic(_temp_file(self.temp_dir, "hashes", unit.name, "npz"), hashes.to_bytes())
        keys, unique = unique_pairs(hashes.rows, hashes.line_counts, hashes.hashes, unit.key)
        fileio.write_atomic(_temp_file(self.temp_dir, "pairs", unit.name, "spill"), pairs_spill(keys, unique))
        yield HashedUnit(unit, int(keys.size))


def _opened(paths: Iterable[str]) -> Iterator[tuple[str, BinaryIO]]:
    """(path, open file) for each path in turn, each closed before the next opens."""
    for path in paths:
        with fileio.open_raw(path) as f:
            yield path, f


class DecideDuplicatesFn(beam.DoFn):
    """Shard id -> shard id, once the shard's dropped pairs are in its drops file."""

    def __init__(self, mode: str, temp_dir: str):
        self.mode = mode
        self.temp_dir = temp_dir

    def process(self, shard: int, plan: DedupPlan):
        pairs = read_shard(_opened(_temp_file(self.temp_dir, "pairs", u.name, "spill") for u in plan.units),
                           shard, plan.n_shards)
        data, dropped = shard_drops_spill(pairs, self.mode, plan.unit_keys())
        fileio.write_atomic(_temp_file(self.temp_dir, "drops", f"{shard:05d}", "spill"), data)
        Metrics.counter("ccnet", "dedup_pairs_dropped").inc(dropped)
        yield shard


def units_after_shards(plan: DedupPlan, done: list[int]) -> Iterator[tuple[int, int, int, Unit]]:
    """(unit ordinal, unit count, shard count, unit) of every unit, emitted once every shard's drops are written."""
    if sorted(done) != list(range(plan.n_shards)):
        raise RuntimeError(f"line dedup: {len(done)} of {plan.n_shards} hash shards reported done")
    for ordinal, unit in enumerate(plan.units):
        yield ordinal, len(plan.units), plan.n_shards, unit


class ProcessUnitFn(beam.DoFn):
    """(unit ordinal, unit count, shard count, unit) -> unit, after dedup + LID + perplexity of its documents;
    models load once per worker in `setup`."""

    def __init__(self, cfg: CCNetConfig, temp_dir: str):
        self.cfg = cfg
        self.temp_dir = temp_dir

    def setup(self):
        from filters.lid import LanguageIdentifier, default_lid_model
        from filters.perplexity import MultiLanguageScorer

        self.lid = LanguageIdentifier(self.cfg.lid_model or default_lid_model())
        self.scorer = MultiLanguageScorer(self.cfg.models, list(self.cfg.langs) if self.cfg.langs else None)
        self.quality = None
        if self.cfg.quality_model is not None:
            from filters.quality import QualityScorer

            self.quality = QualityScorer(self.cfg.quality_model)

    def process(self, item: tuple[int, int, int, Unit]):
        ordinal, n_units, n_shards, unit = item
        drop_files = (_temp_file(self.temp_dir, "drops", f"{shard:05d}", "spill") for shard in range(n_shards))
        drops = read_unit_drops(_opened(drop_files), ordinal, unit)
        hashes = FileHashes.from_bytes(fileio.read_bytes(_temp_file(self.temp_dir, "hashes", unit.name, "npz")))
        steps = recipe(self.cfg, self.lid, self.scorer, drops, hashes.per_document(), self.quality)
        result = process_file(unit_documents(unit, self.cfg.source, fileio.open_raw), unit.path, self.cfg, steps)
        fileio.write_atomic(_temp_file(self.temp_dir, "docs", unit.name, "parquet"),
                            shards.documents_parquet(result.documents, compression="none"))
        _report_counters(result.counters)
        progress_marks.mark_done(self.cfg.out, unit.name, result.counters.reads.docs, result.counters.reads.chars,
                                 n_units)
        yield beam.pvalue.TaggedOutput("stats", result.counters)
        for lang, values in result.perplexities.items():
            yield beam.pvalue.TaggedOutput("perplexity", (lang, np.asarray(values, dtype=np.float64)))
        yield unit


def _report_counters(counters: Counters) -> None:
    """Mirror a unit's document counters into Beam metrics (visible in runner UIs while running)."""
    Metrics.counter("ccnet", "documents_read").inc(counters.reads.docs)
    Metrics.counter("ccnet", "documents_written").inc(counters.writes.docs)
    for reason, units in counters.drops.items():
        Metrics.counter("ccnet", f"documents_dropped_{reason}").inc(units.docs)


def _temp_file(temp_dir: str, kind: str, name: str, ext: str) -> str:
    """OUT/_temporary/<kind>/<name>.<ext>: a scratch file of a unit or a shard (see output_patterns)."""
    return fileio.join(temp_dir, kind, f"{name}.{ext}")


class BucketUnitFn(beam.DoFn):
    """Unit -> (partition, Slice) of each partition present in its documents, once they are bucketed and
    spilled by partition (OUT/_temporary/bucketed/<unit>.spill)."""

    def __init__(self, temp_dir: str):
        self.temp_dir = temp_dir

    def process(self, unit: Unit, cutoffs: dict[str, list[float]]):
        table = shards.read_parquet_bytes(fileio.read_bytes(_temp_file(self.temp_dir, "docs", unit.name, "parquet")))
        name = _temp_file(self.temp_dir, "bucketed", unit.name, "spill")
        data, slices = spill_unit(bucket_unit(table, cutoffs), unit.file_idx, unit.index, name)
        fileio.write_atomic(name, data)
        yield from slices


class WritePartFn(beam.DoFn):
    """PartPlan -> its manifest entry, once its members' rows are in its Parquet file."""

    def __init__(self, out: str):
        self.out = out

    def process(self, plan: PartPlan):
        yield write_part(plan, fileio.open_raw, lambda rel: fileio.AtomicFile(fileio.under(self.out, rel)))


def plan_parts(item: tuple[str, Iterable[Slice]], part_bytes: int) -> list[PartPlan]:
    """(partition, its slices) -> the partition's parts."""
    partition, slices = item
    return plan_partition(partition, slices, part_bytes)


def output_patterns() -> list[str]:
    """Every file a ccnet run may write under OUT (outdir.claim_output)."""
    return ["lang=*/bucket=*/part-*.parquet", f"{shards.TEMP_DIR}/hashes/*.npz", f"{shards.TEMP_DIR}/pairs/*.spill",
            f"{shards.TEMP_DIR}/drops/*.spill", f"{shards.TEMP_DIR}/docs/*.parquet",
            f"{shards.TEMP_DIR}/bucketed/*.spill", progress_marks.output_pattern()]


class CutoffsFn(beam.CombineFn):
    """A language's perplexity arrays -> its 0..100 percentiles, exactly as over all its values at once,
    while a worker holds only distinct values and their counts (few: perplexity is rounded to 0.1),
    never the language's every value as a GroupByKey would."""

    def create_accumulator(self) -> ValueCounts:
        return ValueCounts()

    def add_input(self, acc: ValueCounts, values: np.ndarray) -> ValueCounts:
        return acc.add(values)

    def merge_accumulators(self, accs: Iterable[ValueCounts]) -> ValueCounts:
        return ValueCounts.merged(accs)

    def extract_output(self, acc: ValueCounts) -> Optional[list[float]]:
        distinct, counts = acc.compact()
        return [float(x) for x in percentiles_of_counts(distinct, counts)] if counts.sum() else None


def build_pipeline(p: beam.Pipeline, cfg: CCNetConfig, run_id: Optional[str] = None) -> None:
    """Attach the CCNet pipeline to `p`; `run_id` is the output claim's (outdir.claim_output)."""
    temp_dir = fileio.join(cfg.out, shards.TEMP_DIR)
    unreadable = dict(cfg.unreadable)
    indexed = [(i, f) for i, f in enumerate(cfg.files) if i not in unreadable]
    units = (p
             | "Files" >> beam.Create(indexed)
             | "SpreadFiles" >> beam.Reshuffle()
             | "PlanUnits" >> beam.FlatMap(plan_units, cfg.unit_bytes)
             | "SpreadUnits" >> beam.Reshuffle())
    plan = (units
            | "HashLines" >> beam.ParDo(HashLinesFn(cfg, temp_dir))
            | "AllUnits" >> beam.combiners.ToList()
            | "PlanShards" >> beam.Map(dedup_plan, cfg.dedup_shards))
    shards_done = (plan
                   | "ShardIds" >> beam.FlatMap(lambda pl: range(pl.n_shards))
                   | "SpreadShards" >> beam.Reshuffle()
                   | "DecideDuplicates" >> beam.ParDo(DecideDuplicatesFn(cfg.line_dedup, temp_dir),
                                                      AsSingleton(plan)))
    processed = (plan
                 | "UnitsAfterShards" >> beam.FlatMap(units_after_shards, AsList(shards_done))
                 | "SpreadUnitsAgain" >> beam.Reshuffle()
                 | "DedupLidPerplexity" >> beam.ParDo(ProcessUnitFn(cfg, temp_dir)).with_outputs(
                     "stats", "perplexity", main="units"))
    fixed_cutoffs = cfg.cutoffs()
    if fixed_cutoffs is None:
        cutoffs = (processed.perplexity
                   | "Percentiles" >> beam.CombinePerKey(CutoffsFn())
                   | "LanguagesWithValues" >> beam.Filter(lambda item: item[1] is not None))
    else:
        cutoffs = p | "FixedCutoffs" >> beam.Create(sorted(fixed_cutoffs.items()))
    manifest = (processed.units
                | "BucketUnits" >> beam.ParDo(BucketUnitFn(temp_dir), cutoffs=AsDict(cutoffs))
                | "SlicesOfPartition" >> beam.GroupByKey()
                | "PlanParts" >> beam.FlatMap(plan_parts, cfg.part_bytes)
                | "SpreadParts" >> beam.Reshuffle()
                | "WriteParts" >> beam.ParDo(WritePartFn(cfg.out)))
    extras = (cutoffs
              | "CutoffsToDict" >> beam.combiners.ToDict()
              | "CutoffsForStats" >> beam.Map(lambda d: {"bucket_cutoffs": {
                  lang: {"head_below": row[PERCENTILE_HEAD], "tail_from": row[PERCENTILE_TAIL]}
                  for lang, row in d.items()}}))
    commit(p, cfg.out, cfg.run_info(), processed.stats, manifest, extras, run_id,
           [(cfg.files[i], why) for i, why in sorted(unreadable.items())])
