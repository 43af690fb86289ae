"""The Beam graph a single-pass source shares: each input file's documents through the source's recipe,
then written as corpus shards (DESIGN.md) partitioned by language, with `_stats.json`, `_manifest.json`
and `_SUCCESS`.

A source brings a reader (unit -> documents and faults, streamed) and a recipe factory (-> its
ordered, named steps; called once per worker, so models load once); see README "How to add a
source". A unit is a whole input file or a byte extent of one (a Wikipedia dump's run of bz2
streams) that one worker reads; output names depend only on the unit's place in the plan, so any
worker count writes the same bytes.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Iterable, Optional, Sequence, Union

import apache_beam as beam

from corpus.counters import Counters
from corpus.document import Document
from corpus.faults import Fault
from corpus.readers import stream_documents
from pipelines import fileio, progress_marks
from pipelines.commit import commit
from pipelines.steps.chain import Step, stream_file

LOG = logging.getLogger("llamapipe.source")
BATCH_CHARS = 2 << 20
"""A recipe batch ends at the document that brings its text to this many characters (or at the chain's
batch size), so a unit of large documents (arXiv papers) passes a few megabytes at a time."""


@dataclasses.dataclass(frozen=True)
class Unit:
    """What one worker reads in one piece: the bytes [start, end) of input file `file_idx` at `path`
    (`end` None: to the end of the file). Its index in the run's plan is its output part number."""

    file_idx: int
    path: str
    start: int = 0
    end: Optional[int] = None


Reader = Callable[[Unit], Iterable[Union[Document, Fault]]]


def read_any(unit: Unit) -> Iterable[Union[Document, Fault]]:
    """Documents of a WET, JSONL or corpus Parquet file by its suffix, streamed (corpus.readers);
    a unit with an extent reads the records that start in it."""
    extent = None
    if unit.start or unit.end is not None:
        extent = (unit.start, fileio.size(unit.path) if unit.end is None else unit.end)
    return stream_documents(unit.path, fileio.open_raw, byte_range=extent)


def whole_files(files: Sequence[str], skip: Iterable[int] = ()) -> tuple[Unit, ...]:
    """One unit per input file, in input order, leaving out the indexes in `skip`."""
    skipped = set(skip)
    return tuple(Unit(i, f) for i, f in enumerate(files) if i not in skipped)


@dataclasses.dataclass(frozen=True)
class SourceRun:
    """What the shared graph needs from a source's config: inputs, output, the reader and the recipe.

    `read` and `make_steps` must pickle (module-level functions or functools.partial of them);
    `run_info` is the config's run section of `_stats.json`. `units` is the plan (default: each
    readable file whole); `unreadable` lists (file index, why) of inputs counted as malformed.
    """

    files: tuple[str, ...]
    out: str
    make_steps: Callable[[], list[Step]]
    run_info: dict
    read: Reader = read_any
    strict: bool = False
    unreadable: tuple[tuple[int, str], ...] = ()
    units: tuple[Unit, ...] = ()

    def plan(self) -> tuple[Unit, ...]:
        """The units to read, in output order."""
        return self.units or whole_files(self.files, dict(self.unreadable))


def output_patterns() -> list[str]:
    """Every file a single-pass source may write under OUT (outdir.claim_output)."""
    return ["lang=*/bucket=*/part-*.parquet", progress_marks.output_pattern()]


def write_unit(run: SourceRun, steps: Sequence[Step], part: int, unit: Unit) -> tuple[list[dict], Counters]:
    """One unit's documents through the recipe and into its shards as they come (a worker holds about
    a batch and a row group, not the unit): the shards' manifest entries and the unit's Counters."""
    counters = Counters()
    with fileio.shard_stream(run.out, part) as stream:
        for batch in stream_file(run.read(unit), unit.path, run.strict, steps, LOG, counters, BATCH_CHARS):
            stream.add(batch.docs)
        entries = stream.close()
    return entries, counters


class RecipeFn(beam.DoFn):
    """(part number, unit) -> manifest entries of its shards; its Counters tagged 'stats'."""

    def __init__(self, run: SourceRun):
        self.run = run

    def setup(self):
        self.steps = self.run.make_steps()
        self.units_total = len(self.run.plan())

    def process(self, item: tuple[int, Unit]):
        part, unit = item
        entries, counters = write_unit(self.run, self.steps, part, unit)
        progress_marks.mark_done(self.run.out, part, counters.reads.docs, counters.reads.chars, self.units_total)
        yield from entries
        yield beam.pvalue.TaggedOutput("stats", counters)


def build_pipeline(p: beam.Pipeline, run: SourceRun, run_id: Optional[str] = None,
                   extra: Optional[Counters] = None) -> None:
    """Attach the single-pass source graph to `p`; `run_id` is the output claim's. `extra`: counters found
    before the graph ran (e.g. faults of a side file such as the books catalog), added to the run's."""
    unreadable = dict(run.unreadable)
    written = (p
               | "Units" >> beam.Create(list(enumerate(run.plan())))
               | "SpreadUnits" >> beam.Reshuffle()
               | "Recipe" >> beam.ParDo(RecipeFn(run)).with_outputs("stats", main="manifest"))
    stats = written.stats
    if extra is not None and extra.faults_total:
        stats = (stats, p | "ExtraCounters" >> beam.Create([extra])) | "AllStats" >> beam.Flatten()
    commit(p, run.out, run.run_info, stats, written.manifest, p | "NoExtras" >> beam.Create([]), run_id,
           [(run.files[i], why) for i, why in sorted(unreadable.items())])
