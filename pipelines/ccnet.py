"""`llamapipe ccnet`: WET files to line-deduplicated, language-tagged, perplexity-bucketed shards.

Stages (all keyed by input file or by hash shard, so no worker ever holds the corpus):
1. hash every line of every file; (document, hash) pairs go to hash shards;
2. per shard, decide which (document, line) pairs are duplicates (GroupByKey);
3. per file, with its drops (CoGroupByKey): dedup, fastText LID, SentencePiece+KenLM
   perplexity; survivors go to a temporary Parquet file;
4. per language, the 0..100 perplexity percentiles (or a cutoff file) give the buckets;
5. per file, documents are bucketed and written to lang=xx/bucket=yy/part-NNNNN.parquet;
6. `_stats.json`, `_manifest.json`, then `_SUCCESS`.
"""
from __future__ import annotations

from typing import Iterable, Optional

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsDict

from corpus import shards
from corpus.counters import Counters
from filters.buckets import PERCENTILE_HEAD, PERCENTILE_TAIL, assign_buckets, compute_cutoffs
from pipelines import fileio
from pipelines.steps.ccnet import (CCNetConfig, FileHashes, dedup_pairs, drops_by_document, file_line_hashes,
                                   process_file, recipe, shard_drops, split_by_shard, wet_documents)
from pipelines.commit import commit


class HashLinesFn(beam.DoFn):
    """(file index, path) -> (hash shard, (document keys, line hashes)); keeps the hashes for pass 2."""

    def __init__(self, cfg: CCNetConfig, temp_dir: str):
        self.cfg = cfg
        self.temp_dir = temp_dir

    def process(self, item: tuple[int, str]):
        file_idx, path = item
        hashes = file_line_hashes(wet_documents(path, self.cfg.source, fileio.open_raw), path, self.cfg)
        fileio.write_atomic(_temp_hashes(self.temp_dir, file_idx), hashes.to_bytes())
        keys, unique_hashes = dedup_pairs(hashes, file_idx)
        yield from split_by_shard(keys, unique_hashes, self.cfg.dedup_shards)


class DecideDuplicatesFn(beam.DoFn):
    """(hash shard, [(keys, hashes)...]) -> (file index, (doc positions, dropped hashes))."""

    def __init__(self, mode: str):
        self.mode = mode

    def process(self, item):
        _, parts = item
        yield from shard_drops(list(parts), self.mode)


class ProcessFileFn(beam.DoFn):
    """Dedup + LID + perplexity of one file; models load once per worker in `setup`."""

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

    def process(self, item):
        file_idx, grouped = item
        paths = list(grouped["file"])
        if not paths:
            return
        path = paths[0]
        drops = drops_by_document(list(grouped["drops"]))
        hashes = FileHashes.from_bytes(fileio.read_bytes(_temp_hashes(self.temp_dir, file_idx)))
        steps = recipe(self.cfg, self.lid, self.scorer, drops, hashes.per_document(), self.quality)
        result = process_file(wet_documents(path, self.cfg.source, fileio.open_raw), path, self.cfg, steps)
        fileio.write_atomic(_temp_docs(self.temp_dir, file_idx),
                            shards.documents_parquet(result.documents, compression="none"))
        _report_counters(result.counters)
        yield beam.pvalue.TaggedOutput("stats", result.counters)
        for lang, values in result.perplexities.items():
            yield beam.pvalue.TaggedOutput("perplexity", (lang, np.asarray(values, dtype=np.float64)))
        yield file_idx


def _report_counters(counters: Counters) -> None:
    """Mirror a file's document counters into Beam metrics (visible in runner UIs while running)."""
    Metrics.counter("ccnet", "documents_read").inc(counters.reads.docs)
    Metrics.counter("ccnet", "documents_written").inc(counters.writes.docs)
    for reason, units in counters.drops.items():
        Metrics.counter("ccnet", f"documents_dropped_{reason}").inc(units.docs)


def _temp_hashes(temp_dir: str, file_idx: int) -> str:
    return fileio.join(temp_dir, "hashes", f"{file_idx:05d}.npz")


def _temp_docs(temp_dir: str, file_idx: int) -> str:
    return fileio.join(temp_dir, "docs", f"{file_idx:05d}.parquet")


class WriteBucketsFn(beam.DoFn):
    """Bucket one file's documents and write one part file per partition; yields manifest entries."""

    def __init__(self, out: str, temp_dir: str):
        self.out = out
        self.temp_dir = temp_dir

    def process(self, file_idx: int, cutoffs: dict[str, list[float]]):
        table = shards.read_parquet_bytes(fileio.read_bytes(_temp_docs(self.temp_dir, file_idx)))
        buckets = assign_buckets(table.column("perplexity").to_pylist(), table.column("lang").to_pylist(), cutoffs)
        table = table.set_column(table.schema.get_field_index("bucket"), "bucket", pa.array(buckets, pa.string()))
        yield from fileio.write_partitions(self.out, table, file_idx)


def output_patterns() -> list[str]:
    """Every file a ccnet run may write under OUT (outdir.claim_output)."""
    return ["lang=*/bucket=*/part-*.parquet", f"{shards.TEMP_DIR}/hashes/*.npz", f"{shards.TEMP_DIR}/docs/*.parquet"]


def cutoffs_of(item: tuple[str, Iterable[np.ndarray]]) -> tuple[str, list[float]]:
    lang, arrays = item
    return lang, compute_cutoffs({lang: np.concatenate(list(arrays))})[lang]


def build_pipeline(p: beam.Pipeline, cfg: CCNetConfig, run_id: Optional[str] = None) -> None:
    """Attach the CCNet pipeline to `p`; `run_id` is the output claim's (outdir.claim_output)."""
    temp_dir = fileio.join(cfg.out, shards.TEMP_DIR)
    unreadable = dict(cfg.unreadable)
    indexed = [(i, f) for i, f in enumerate(cfg.files) if i not in unreadable]
    file_pc = p | "Files" >> beam.Create(indexed) | "SpreadFiles" >> beam.Reshuffle()
    drops = (file_pc
             | "HashLines" >> beam.ParDo(HashLinesFn(cfg, temp_dir))
             | "GroupByHashShard" >> beam.GroupByKey()
             | "DecideDuplicates" >> beam.ParDo(DecideDuplicatesFn(cfg.line_dedup)))
    processed = ({"file": file_pc, "drops": drops}
                 | "JoinDropsToFiles" >> beam.CoGroupByKey()
                 | "DedupLidPerplexity" >> beam.ParDo(ProcessFileFn(cfg, temp_dir)).with_outputs(
                     "stats", "perplexity", main="files"))
    fixed_cutoffs = cfg.cutoffs()
    if fixed_cutoffs is None:
        cutoffs = (processed.perplexity
                   | "GroupByLanguage" >> beam.GroupByKey()
                   | "Percentiles" >> beam.Map(cutoffs_of))
    else:
        cutoffs = p | "FixedCutoffs" >> beam.Create(sorted(fixed_cutoffs.items()))
    manifest = processed.files | "WriteBuckets" >> beam.ParDo(WriteBucketsFn(cfg.out, temp_dir),
                                                               cutoffs=AsDict(cutoffs))
    extras = (cutoffs
              | "CutoffsToDict" >> beam.combiners.ToDict()
              | "CutoffsForStats" >> beam.Map(lambda d: {"bucket_cutoffs": {
                  lang: {"head_below": row[PERCENTILE_HEAD], "tail_from": row[PERCENTILE_TAIL]}
                  for lang, row in d.items()}}))
    commit(p, cfg.out, cfg.run_info(), processed.stats, manifest, extras, run_id,
           [(cfg.files[i], why) for i, why in sorted(unreadable.items())])
