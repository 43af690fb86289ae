"""`llamapipe tokenizer-train`: sample documents by mixture weight (Beam), then train SentencePiece.

Sampling is bottom-k per source over a seeded hash of each document id: the sample is uniform
within a source, sized by the source's proportion, and the same for any worker count. Only ids
travel through the shuffle; the sampled texts are written per input file into a scratch folder,
one line per sentence, and SentencePiece trains on those files in a fixed order. What was sampled
comes back to `train` as Beam counters, so it works the same on every runner.
"""
from __future__ import annotations

import bisect
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.runners.runner import PipelineResult

from corpus.sampling import sample_key, source_quotas
from corpus.shards import write_local_atomic
from corpus.wet import MalformedInput
from pipelines import fileio, runner, tokenize
from pipelines.outdir import check_overlap
from pipelines.steps.tokenizer_train import TokenizerTrainConfig, TrainingFailed
from pipelines.tokenize import shard_row_groups
from tokenizer.train import LLAMA_SETTINGS, train_tokenizer

METRICS = "tokenizer-train-sample"


def sample_name(unit_idx: int) -> str:
    return f"sample-{unit_idx:05d}.txt"


class KeysFn(beam.DoFn):
    """(source, (key, unit index, row)) for every document of a shard in the selected buckets."""

    def __init__(self, seed: int, buckets: Optional[frozenset[str]]):
        self.seed, self.buckets = seed, buckets

    def process(self, unit):
        idx, (source, _, path) = unit
        row = 0
        for table in shard_row_groups(path, ["id", "bucket"]):
            if "id" not in table.column_names:
                raise MalformedInput(f"{path}: Parquet file has no 'id' column")
            ids = table.column("id").to_pylist()
            bucket = table.column("bucket").to_pylist() if "bucket" in table.column_names else [None] * len(ids)
            for doc_id, b in zip(ids, bucket):
                if self.buckets is None or (b or "all") in self.buckets:
                    yield source, (sample_key(self.seed, doc_id), idx, row)
                row += 1


class WriteSampleFn(beam.DoFn):
    """Write the sampled documents of one shard as lines (empty lines skipped) to the scratch folder."""

    def __init__(self, units: list, scratch: str):
        self.units, self.scratch = units, scratch

    def process(self, item):
        idx, rows = item
        source, _, path = self.units[idx]
        wanted, lines, start = sorted(rows), [], 0
        for table in shard_row_groups(path, ["text"]):
            end = start + table.num_rows
            texts = table.column("text")
            for row in wanted[bisect.bisect_left(wanted, start):bisect.bisect_left(wanted, end)]:
                lines += [line for line in (texts[row - start].as_py() or "").split("\n") if line.strip()]
            start = end
        data = ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
        fileio.write_atomic(os.path.join(self.scratch, sample_name(idx)), data)
        for unit, n in (("documents", len(rows)), ("lines", len(lines)), ("chars", sum(len(l) for l in lines))):
            Metrics.counter(METRICS, f"{source}/{unit}").inc(n)


def build_sampling(p: beam.Pipeline, units: list[tuple[str, int, str]], quotas: dict[str, int], seed: int,
                   buckets: Optional[frozenset[str]], scratch: str) -> None:
    """Attach the sampling pipeline; it leaves sample-*.txt in `scratch` and counts, per source, the
    documents, lines and characters sampled as Beam counters (`sample_summary` reads them)."""
    most = max(quotas.values()) if quotas else 0

    def trim(kv):
        source, items = kv
        for _, idx, row in sorted(items)[:quotas.get(source, 0)]:
            yield idx, row

    (p
     | "Inputs" >> beam.Create(list(enumerate(units)))
     | "SpreadInputs" >> beam.Reshuffle()
     | "SampleKeys" >> beam.ParDo(KeysFn(seed, buckets))
     | "SmallestKeys" >> beam.combiners.Top.SmallestPerKey(most)
     | "Quota" >> beam.FlatMap(trim)
     | "GroupByFile" >> beam.GroupByKey()
     | "WriteSample" >> beam.ParDo(WriteSampleFn(units, scratch)))


def sample_summary(result: PipelineResult) -> dict[str, dict[str, int]]:
    """source -> {documents, lines, chars} sampled, from the sampling run's counters."""
    summary: dict[str, dict[str, int]] = {}
    for name, n in runner.counters(result, METRICS).items():
        source, unit = name.rsplit("/", 1)
        summary.setdefault(source, {"documents": 0, "lines": 0, "chars": 0})[unit] = n
    return dict(sorted(summary.items()))


def train(cfg: TokenizerTrainConfig, run: Callable[..., PipelineResult],
          say: Callable[[str], None] = lambda line: None) -> dict:
    """Sample the corpus by mixture weight, train SentencePiece BPE on the sample, and write the model,
    its .vocab and a .json record of the sample (returned). `run(build, n_inputs, scratch)` runs a
    Beam pipeline and returns its result (pipelines.runner.run, or the CLI's run with progress);
    `say` reports warnings and progress lines."""
    corpus = {source: list(folders) for source, folders in cfg.corpus}
    units = tokenize.plan_units(corpus, cfg.allow_incomplete)
    quotas = source_quotas(cfg.sample_docs, {s: w.proportion for s, w in cfg.mixture.sources.items()})
    out = Path(cfg.out).resolve()
    check_overlap(str(out), [f for folders in corpus.values() for f in folders], [])
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.sample-", dir=out.parent))
    try:
        result = run(lambda p: build_sampling(p, units, quotas, cfg.seed, cfg.buckets, str(scratch)),
                     len(units), str(scratch))
        sample = sample_summary(result)
        warnings = list(cfg.warnings)
        for source, quota in sorted(quotas.items()):
            got = sample.get(source, {}).get("documents", 0)
            if got < quota:
                warnings.append(f"source {source}: asked for {quota:,} documents, it has only {got:,}")
                say(f"warning: {warnings[-1]}")
        say(f"tokenizer-train: training SentencePiece BPE ({cfg.vocab_size:,} pieces) on "
            f"{sum(s['lines'] for s in sample.values()):,} lines of "
            f"{sum(s['documents'] for s in sample.values()):,} documents")
        try:
            train_tokenizer(sorted(scratch.glob("sample-*.txt")), cfg.vocab_size, out, threads=cfg.threads)
        except RuntimeError as exc:
            message = str(exc).strip()
            hint = ("raise --vocab-size: every character covering 99.995% of the sample needs a piece"
                    if "required_chars" in message else "lower --vocab-size or raise --sample-docs")
            raise TrainingFailed(f"SentencePiece training failed: {message} ({hint})") from None
        record = {"vocab_size": cfg.vocab_size, "seed": cfg.seed, "mixture": cfg.mixture.path,
                  "proportions": {s: w.proportion for s, w in cfg.mixture.sources.items()},
                  "buckets": sorted(cfg.buckets) if cfg.buckets else None, "quotas": quotas,
                  "sample": sample, "settings": LLAMA_SETTINGS, "warnings": warnings,
                  "corpus": {s: folders for s, folders in sorted(corpus.items())}}
        write_local_atomic(out.with_suffix(".json"), (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return record
