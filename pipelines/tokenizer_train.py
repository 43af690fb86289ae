"""`llamapipe tokenizer-train`: sample documents by mixture weight (Beam), then train SentencePiece.

Sampling is bottom-k per source over a seeded hash of each document id: the sample is uniform
within a source, sized by the source's proportion, and the same for any worker count. Only ids
travel through the shuffle; the sampled texts are written per input file into a scratch folder,
one line per sentence, and SentencePiece trains on those files in a fixed order.
"""
from __future__ import annotations

import json
import os
from typing import Optional

import apache_beam as beam

from corpus.sampling import sample_key
from corpus.wet import MalformedInput
from pipelines import fileio
from pipelines.tokenize import read_shard


def sample_name(unit_idx: int) -> str:
    return f"sample-{unit_idx:05d}.txt"


class KeysFn(beam.DoFn):
    """(source, (key, unit index, row)) for every document of a shard in the selected buckets."""

    def __init__(self, seed: int, buckets: Optional[frozenset[str]]):
        self.seed, self.buckets = seed, buckets

    def process(self, unit):
        idx, (source, _, path) = unit
        table = read_shard(path, ["id", "bucket"])
        if "id" not in table.column_names:
            raise MalformedInput(f"{path}: Parquet file has no 'id' column")
        ids = table.column("id").to_pylist()
        bucket = table.column("bucket").to_pylist() if "bucket" in table.column_names else [None] * len(ids)
        for row, (doc_id, b) in enumerate(zip(ids, bucket)):
            if self.buckets is None or (b or "all") in self.buckets:
                yield source, (sample_key(self.seed, doc_id), idx, row)


class WriteSampleFn(beam.DoFn):
    """Write the sampled documents of one shard as lines (empty lines skipped) to the scratch folder."""

    def __init__(self, units: list, scratch: str):
        self.units, self.scratch = units, scratch

    def process(self, item):
        idx, rows = item
        source, _, path = self.units[idx]
        texts = read_shard(path, ["text"]).column("text").to_pylist()
        lines = [line for row in sorted(rows) for line in (texts[row] or "").split("\n") if line.strip()]
        data = ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
        fileio.write_atomic(os.path.join(self.scratch, sample_name(idx)), data)
        yield {"source": source, "documents": len(rows), "lines": len(lines),
               "chars": sum(len(line) for line in lines)}


def build_sampling(p: beam.Pipeline, units: list[tuple[str, int, str]], quotas: dict[str, int], seed: int,
                   buckets: Optional[frozenset[str]], scratch: str) -> None:
    """Attach the sampling pipeline; it leaves sample-*.txt and _sample.json in `scratch`."""
    most = max(quotas.values()) if quotas else 0

    def trim(kv):
        source, items = kv
        for _, idx, row in sorted(items)[:quotas.get(source, 0)]:
            yield idx, row

    def summarise(parts: list[dict]) -> None:
        summary: dict[str, dict] = {}
        for part in parts:
            s = summary.setdefault(part["source"], {"documents": 0, "lines": 0, "chars": 0})
            for k in ("documents", "lines", "chars"):
                s[k] += part[k]
        data = json.dumps({"sources": dict(sorted(summary.items())), "quotas": quotas}, indent=1, sort_keys=True)
        fileio.write_atomic(os.path.join(scratch, "_sample.json"), data.encode("utf-8"))

    parts = (p
             | "Inputs" >> beam.Create(list(enumerate(units)))
             | "SpreadInputs" >> beam.Reshuffle()
             | "SampleKeys" >> beam.ParDo(KeysFn(seed, buckets))
             | "SmallestKeys" >> beam.combiners.Top.SmallestPerKey(most)
             | "Quota" >> beam.FlatMap(trim)
             | "GroupByFile" >> beam.GroupByKey()
             | "WriteSample" >> beam.ParDo(WriteSampleFn(units, scratch)))
    (parts
     | "CollectParts" >> beam.combiners.ToList()
     | "Summary" >> beam.Map(summarise))
