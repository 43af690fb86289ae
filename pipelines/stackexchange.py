"""The Stack Exchange graph: dump files -> one document per question with its answers -> corpus shards.

Posts never go through a Beam shuffle (the local runner holds every shuffled element in memory): they
wait in scratch Parquet under OUT/_temporary/stackexchange, and Beam carries only small things (counts,
file lists, part numbers), as in pipelines/ccnet.py.
1. Read: each site's Posts table is streamed by one worker (corpus/stackexchange_dump.py). Questions and
   answers go to the site file's scratch buckets by the stable 64-bit hash of their thread's question
   Id, in equal ranges of the hash space (one bucket per 64 MB of input file), written as they come;
   other posts are counted as `not_qa_post`. The site's counts and scratch files go on.
2. Layout: the per-site counts, combined, choose the sites kept (`--top-sites` ranks them; `--sites`
   pins them) and each kept site's output parts, ceil(questions / questions_per_part), numbered in
   site-name order. Part k of P takes the questions whose hash is in the k-th of P equal ranges of the
   hash space, so the parts do not depend on the scratch buckets (nor on the input's format). Posts of
   sites not kept are dropped as `site_not_selected` by the raw size counted in step 1 (meta sites
   and sites outside `--sites` are not even read). Counting happens in the reading pass rather than a
   cheap first pass, because counting means decompressing the whole archive, the expensive part.
3. Join: each output part, on one worker, reads the scratch buckets its range overlaps (rows outside
   it filtered out), groups the posts by question Id (one part in memory: about questions_per_part
   threads, never a site), makes each thread a document (pipelines/steps/stackexchange.py) and writes
   them by question Id as OUT/lang=xx/bucket=all/part-NNNNN.parquet.
Then `_stats.json` (with a `sites` section: how sites were chosen, their counts, skipped files),
`_manifest.json` and `_SUCCESS` through pipelines.commit, which removes the scratch folder.
"""
from __future__ import annotations

import collections
import functools
from typing import Iterable, Iterator, Optional

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.pvalue import AsSingleton

from corpus import shards
from corpus.counters import Counters
from corpus.document import Document
from corpus.stackexchange_dump import read_posts
from pipelines import fileio
from pipelines.commit import commit
from pipelines.source import BATCH_CHARS
from pipelines.steps import stackexchange as se
from pipelines.steps.chain import batches
from pipelines.steps.stackexchange import JoinTask, Layout, SiteCount, SitePlan, SiteRead, StackExchangeConfig


def output_patterns() -> list[str]:
    """Every file a stackexchange run may write under OUT (outdir.claim_output)."""
    return ["lang=*/bucket=*/part-*.parquet", f"{shards.TEMP_DIR}/{se.SCRATCH_DIR}/*.parquet"]


def scratch_dir(out: str) -> str:
    """Where a run's scratch buckets go: OUT/_temporary/stackexchange (removed by the commit)."""
    return fileio.join(out, shards.TEMP_DIR, se.SCRATCH_DIR)


class ReadSiteFn(beam.DoFn):
    """(file index, path, site) -> the file's SiteRead, its questions and answers in scratch buckets;
    its Counters tagged 'stats'."""

    def __init__(self, strict: bool, temp_dir: str):
        self.strict = strict
        self.temp_dir = temp_dir

    def process(self, item: tuple[int, str, str]):
        file_idx, path, site = item
        counters = Counters()
        by_type: collections.Counter = collections.Counter()
        buckets = se.scratch_buckets(fileio.size(path))
        with se.ScratchWriter(file_idx, buckets,
                              lambda name: fileio.AtomicFile(fileio.join(self.temp_dir, name))) as scratch:
            posts = se.sort_posts(read_posts(path, fileio.open_raw), path, self.strict, counters, by_type)
            units = se.write_scratch(posts, scratch)
            written = scratch.close()
        se.tally_types(site, by_type, counters)
        yield SiteRead(SiteCount(site, by_type[se.QUESTION], by_type[se.ANSWER]), file_idx, buckets, written, units)
        yield beam.pvalue.TaggedOutput("stats", counters)


def layout_of(cfg: StackExchangeConfig, reads: Iterable[SiteRead]) -> Layout:
    """The sites kept and their parts, from every site file's counts."""
    return se.choose_layout(cfg, [r.count for r in reads])


def plan_joins(reads: list[SiteRead], layout: Layout):
    """The join tasks, then the Counters of the sites not kept tagged 'stats'."""
    tasks, counters = se.plan_joins(layout, reads)
    yield from tasks
    yield beam.pvalue.TaggedOutput("stats", counters)


def _row_groups(temp_dir: str, files: Iterable[str]):
    """The row groups of scratch files, one at a time."""
    for name in files:
        with fileio.open_raw(fileio.join(temp_dir, name)) as f:
            scratch = pq.ParquetFile(f)
            for i in range(scratch.num_row_groups):
                yield scratch.read_row_group(i)


def write_part(out: str, part: int, docs: Iterable[Document]) -> list[dict]:
    """Write one part's documents, in the order given, as they come; its manifest entries."""
    with fileio.shard_stream(out, part) as stream:
        for batch in batches(enumerate(docs), se.WRITE_BATCH, BATCH_CHARS):
            stream.add(batch.docs)
        return stream.close()


class JoinPartFn(beam.DoFn):
    """JoinTask -> manifest entries of its output part; its Counters tagged 'stats'."""

    def __init__(self, cfg: StackExchangeConfig, temp_dir: str):
        self.cfg = cfg
        self.temp_dir = temp_dir

    def setup(self):
        self.steps = se.recipe(self.cfg)

    def process(self, task: JoinTask) -> Iterator:
        counters = Counters()
        table = se.part_posts(_row_groups(self.temp_dir, task.files), task.lo, task.hi)
        docs = se.join_part(task.site, table, self.cfg, self.steps, counters)
        if task.part is None:
            for doc in docs:
                raise RuntimeError(f"{task.site} was read without questions, yet {doc.url} is one")
        else:
            yield from write_part(self.cfg.out, task.part, docs)
        yield beam.pvalue.TaggedOutput("stats", counters)


def build_pipeline(p: beam.Pipeline, cfg: StackExchangeConfig, run_id: Optional[str] = None) -> None:
    """Attach the stackexchange graph to `p`; `run_id` is the output claim's."""
    plan: SitePlan = se.plan_sites(cfg)
    temp_dir = scratch_dir(cfg.out)
    read = (p
            | "Sites" >> beam.Create(list(plan.read))
            | "SpreadSites" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(ReadSiteFn(cfg.strict, temp_dir)).with_outputs("stats", main="sites"))
    reads = read.sites | "AllSites" >> beam.combiners.ToList()
    layout = reads | "Layout" >> beam.Map(functools.partial(layout_of, cfg))
    planned = reads | "PlanJoins" >> beam.FlatMap(plan_joins, AsSingleton(layout)).with_outputs("stats", main="tasks")
    joined = (planned.tasks
              | "SpreadParts" >> beam.Reshuffle()
              | "Join" >> beam.ParDo(JoinPartFn(cfg, temp_dir)).with_outputs("stats", main="manifest"))
    extras = layout | "SitesSection" >> beam.Map(lambda chosen: chosen.stats(cfg, plan))
    stats = (read.stats, planned.stats, joined.stats) | "AllFileStats" >> beam.Flatten()
    unreadable = [(cfg.files[i], why) for i, why in sorted(cfg.unreadable)]
    commit(p, cfg.out, cfg.run_info(), stats, joined.manifest, extras, run_id, unreadable)
