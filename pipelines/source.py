"""The Beam graph a single-pass source shares: each input file's documents through the source's recipe,
then written as corpus shards (DESIGN.md) partitioned by language, with `_stats.json`, `_manifest.json`
and `_SUCCESS`.

A source brings a reader (path -> documents and faults, streamed) and a recipe factory (-> its
ordered, named steps; called once per worker, so models load once); see README "How to add a
source". Output names depend only on the input file's index, so any worker count writes the same
bytes.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Iterable, Optional, Union

import apache_beam as beam

from corpus import shards
from corpus.document import Document
from corpus.faults import Fault
from corpus.readers import stream_documents
from pipelines import fileio
from pipelines.commit import commit
from pipelines.steps.chain import Step, run_file

LOG = logging.getLogger("llamapipe.source")
Reader = Callable[[str], Iterable[Union[Document, Fault]]]


def read_any(path: str) -> Iterable[Union[Document, Fault]]:
    """Documents of a WET, JSONL or corpus Parquet file by its suffix, streamed (corpus.readers)."""
    return stream_documents(path, fileio.open_raw)


@dataclasses.dataclass(frozen=True)
class SourceRun:
    """What the shared graph needs from a source's config: inputs, output, the reader and the recipe.

    `read` and `make_steps` must pickle (module-level functions or functools.partial of them);
    `run_info` is the config's run section of `_stats.json`.
    """

    files: tuple[str, ...]
    out: str
    make_steps: Callable[[], list[Step]]
    run_info: dict
    read: Reader = read_any
    strict: bool = False
    unreadable: tuple[tuple[int, str], ...] = ()


def output_patterns() -> list[str]:
    """Every file a single-pass source may write under OUT (outdir.claim_output)."""
    return ["lang=*/bucket=*/part-*.parquet"]


class RecipeFn(beam.DoFn):
    """(file index, path) -> manifest entries of its shards; its Counters tagged 'stats'."""

    def __init__(self, run: SourceRun):
        self.run = run

    def setup(self):
        self.steps = self.run.make_steps()

    def process(self, item: tuple[int, str]):
        file_idx, path = item
        docs, counters = run_file(self.run.read(path), path, self.run.strict, self.steps, LOG)
        yield from fileio.write_partitions(self.run.out, shards.documents_to_table(docs), file_idx)
        yield beam.pvalue.TaggedOutput("stats", counters)


def build_pipeline(p: beam.Pipeline, run: SourceRun, run_id: Optional[str] = None) -> None:
    """Attach the single-pass source graph to `p`; `run_id` is the output claim's."""
    unreadable = dict(run.unreadable)
    indexed = [(i, f) for i, f in enumerate(run.files) if i not in unreadable]
    written = (p
               | "Files" >> beam.Create(indexed)
               | "SpreadFiles" >> beam.Reshuffle()
               | "Recipe" >> beam.ParDo(RecipeFn(run)).with_outputs("stats", main="manifest"))
    commit(p, run.out, run.run_info, written.stats, written.manifest, p | "NoExtras" >> beam.Create([]), run_id,
           [(run.files[i], why) for i, why in sorted(unreadable.items())])
