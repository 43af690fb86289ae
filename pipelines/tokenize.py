"""`llamapipe tokenize`: corpus shards -> token shards + mixture.json, one output part per input file.

Each input Parquet file of a source becomes TOKENS/<source>/part-NNNNN.bin/.idx (NNNNN: the
file's index within its source, sorted by path), so the output does not depend on the number of
workers. After every shard: mixture.json (per-source files, documents, tokens, proportions,
epochs, and the plan for the token budget), then _stats.json, _manifest.json and _SUCCESS.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator, Optional

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsList
from apache_beam.runners.runner import PipelineResult

from corpus import shards
from corpus.counters import Counters
from corpus.mixture import Mixture, plan_budget
from corpus.faults import Fault, MalformedInput
from corpus.parquet_input import parquet_file, row_groups
from pipelines import fileio, progress_marks, runner
from pipelines.commit import commit
from pipelines.steps.tokenize import TokenizeConfig
from tokenizer.encode import encode_table
from tokenizer.fast_encode import ChunkEncoder
from tokenizer.shards import FORMAT, MIXTURE_FILE, part_stem, token_dtype


METRICS = "tokenize-tokens"


def plan_units(corpus: dict[str, list[str]], allow_incomplete: bool = False) -> list[tuple[str, int, str]]:
    """(source, part index, Parquet path) for every shard of every source, sources sorted; each
    folder must be a finished corpus (its manifest's shards, sizes checked) unless `allow_incomplete`."""
    units = []
    for source in sorted(corpus):
        files = [path for folder in corpus[source]
                 for path, _ in fileio.corpus_files(folder, allow_incomplete, what=f"source {source}: input")]
        if not files:
            raise FileNotFoundError(f"--corpus {source}={','.join(corpus[source])}: no Parquet shards found")
        units.extend((source, i, path) for i, path in enumerate(files))
    return units


def output_patterns(sources: list[str]) -> list[str]:
    """Every file a tokenize run over `sources` may write under TOKENS (outdir.claim_output)."""
    return ([MIXTURE_FILE, progress_marks.output_pattern()]
            + [f"{s}/part-*{ext}" for s in sources for ext in (".bin", ".idx")])


def shard_row_groups(path: str, columns: list[str]) -> Iterator[pa.Table]:
    """The named columns (those it has) of a corpus shard, one row group at a time, so a worker holds
    one row group of text, not the shard; an unreadable file names itself (MalformedInput)."""
    with fileio.open_raw(path) as f:
        pf = parquet_file(f)
        if isinstance(pf, Fault):
            raise MalformedInput(f"{path}: not a readable Parquet corpus shard: {pf.error}")
        if "text" in columns and "text" not in pf.schema_arrow.names:
            raise MalformedInput(f"{path}: Parquet file has no 'text' column")
        if not pf.num_row_groups:
            yield pf.schema_arrow.empty_table().select([c for c in columns if c in pf.schema_arrow.names])
        for item in row_groups(pf, columns):
            if isinstance(item, Fault):
                raise MalformedInput(f"{path}: not a readable Parquet corpus shard: {item.error}")
            yield item


class TokenizeFileFn(beam.DoFn):
    """One corpus shard -> one .bin/.idx pair; yields manifest entries, stats and a file summary.

    The .bin is written as each row group is encoded (only the offsets are kept to the end), so a
    worker holds one row group of text and tokens whatever the shard's size.
    """

    def __init__(self, cfg: TokenizeConfig, out: str):
        self.cfg = cfg
        self.out = out

    def setup(self):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=self.cfg.tokenizer)
        self.encoder = ChunkEncoder(self.sp, self.cfg.tokenizer, threads=self.cfg.threads)
        self.dtype = token_dtype(self.sp.get_piece_size())

    def process(self, unit):
        source, part, path = unit
        stem = f"{source}/{part_stem(part)}"
        self.encoder.clear()  # one shard's chunks: the work per shard does not depend on the others
        counters, starts, total = Counters(), [], 0
        digest, size = hashlib.sha256(), 0
        bin_file = fileio.AtomicFile(fileio.under(self.out, stem + ".bin"))
        try:
            for table in shard_row_groups(path, ["text", "bucket"]):
                tokens, offsets, group_counters = encode_table(self.encoder, table, self.cfg.buckets)
                counters += group_counters
                data = tokens.astype(self.dtype, copy=False).tobytes()
                bin_file.write(data)
                digest.update(data)
                size += len(data)
                starts.append(offsets[:-1] + total)
                total += int(offsets[-1])
            bin_file.commit()
        except BaseException:
            bin_file.discard()
            raise
        idx_data = np.concatenate(starts + [np.array([total], dtype=np.int64)]).astype("<i8", copy=False).tobytes()
        docs = len(idx_data) // 8 - 1
        fileio.write_atomic(fileio.under(self.out, stem + ".idx"), idx_data)
        yield shards.streamed_entry(stem + ".bin", size, digest.hexdigest(), docs)
        yield shards.manifest_entry(stem + ".idx", idx_data, docs)
        counters.tally("tokens", "written", total)
        counters.tally("tokens", "by_source", source, total)
        Metrics.counter(METRICS, source).inc(total)
        progress_marks.mark_done(self.out, progress_marks.safe_key(f"{source}-{part:05d}"), counters.reads.docs,
                                 counters.reads.chars)
        yield beam.pvalue.TaggedOutput("stats", counters)
        yield beam.pvalue.TaggedOutput("files", {
            "source": source, "part": part, "input": path, "bin": stem + ".bin", "idx": stem + ".idx",
            "documents": docs, "tokens": total})


def mixture_document(files: list[dict], mixture: Mixture, tokenizer: str, budget: Optional[int],
                     warnings: list[str]) -> dict:
    """mixture.json: tokenizer, dtype, and per source its files, counts and the budget plan."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=tokenizer)
    by_source: dict[str, list[dict]] = {}
    for f in sorted(files, key=lambda f: (f["source"], f["part"])):
        by_source.setdefault(f["source"], []).append(
            {k: f[k] for k in ("bin", "idx", "documents", "tokens", "input")})
    tokens = {s: sum(f["tokens"] for f in fs) for s, fs in by_source.items()}
    plan, budget_used, plan_warnings = plan_budget(mixture, tokens, budget)
    sources = {}
    for s, fs in by_source.items():
        sources[s] = {"files": fs, "documents": sum(f["documents"] for f in fs), **plan[s]}
    return {
        "format": FORMAT,
        "tokenizer": {"path": str(Path(tokenizer).resolve()), "sha256": hashlib.sha256(Path(tokenizer).read_bytes()).hexdigest(),
                      "vocab_size": sp.get_piece_size(), "bos_id": sp.bos_id(), "eos_id": sp.eos_id()},
        "dtype": token_dtype(sp.get_piece_size()).name,
        "mixture": mixture.path,
        "token_budget": budget_used,
        "total_tokens": sum(p["supplied_tokens"] for p in plan.values()),
        "sources": sources,
        "warnings": warnings + plan_warnings,
    }


class WriteMixtureFn(beam.DoFn):
    def __init__(self, cfg: TokenizeConfig):
        self.cfg = cfg

    def process(self, _, files: list[dict]):
        doc = mixture_document(files, self.cfg.mixture, self.cfg.tokenizer, self.cfg.token_budget,
                               list(self.cfg.warnings))
        data = shards.json_bytes(doc)
        fileio.write_atomic(fileio.join(self.cfg.out, MIXTURE_FILE), data)
        yield shards.manifest_entry(MIXTURE_FILE, data, 0)


def build_pipeline(p: beam.Pipeline, cfg: TokenizeConfig, run_id: Optional[str] = None) -> None:
    """Attach the tokenize pipeline to `p`; `run_id` is the output claim's (outdir.claim_output)."""
    results = (p
               | "Inputs" >> beam.Create(list(cfg.units))
               | "SpreadInputs" >> beam.Reshuffle()
               | "Tokenize" >> beam.ParDo(TokenizeFileFn(cfg, cfg.out)).with_outputs("stats", "files",
                                                                                    main="manifest"))
    mixture_entry = (p
                     | "MixtureTrigger" >> beam.Create([None])
                     | "WriteMixture" >> beam.ParDo(WriteMixtureFn(cfg), files=AsList(results.files)))
    manifest = (results.manifest, mixture_entry) | "AllFiles" >> beam.Flatten()
    commit(p, cfg.out, cfg.run_info(), results.stats, manifest, p | "NoExtras" >> beam.Create([]), run_id)


def plan_warnings(cfg: TokenizeConfig, result: PipelineResult) -> list[str]:
    """What planning the token budget warned about (as mixture.json lists it after `cfg.warnings`),
    from the run's token counters."""
    tokens = {source: 0 for source in cfg.sources()}
    tokens.update(runner.counters(result, METRICS))
    return plan_budget(cfg.mixture, tokens, cfg.token_budget)[2]
