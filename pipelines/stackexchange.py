"""The Stack Exchange graph: dump files -> one document per question with its answers -> corpus shards.

1. Read: each site's Posts table is streamed by one worker (corpus/stackexchange_dump.py). Questions
   and answers go on keyed by (site, question Id); other posts are counted as `not_qa_post`; the
   site's numbers of questions and answers go to the layout.
2. Layout: the per-site counts, combined, choose the sites kept (`--top-sites` ranks them; `--sites`
   pins them) and each kept site's output parts; a side input of the steps below. Counting happens
   in this one pass rather than a cheap first pass, because counting means decompressing the whole
   archive, the expensive part of reading it.
3. Join: a GroupByKey on (site, question Id) brings one question and its answers together (one
   thread in memory, never a site's answers); the thread becomes a document
   (pipelines/steps/stackexchange.py) keyed by its global part. Posts of sites not kept are dropped
   here as `site_not_selected` (meta sites and sites outside `--sites` are not even read; the tail
   the ranking drops is small next to the largest sites).
4. Write: a GroupByKey on the part number; each part's documents sorted by question id and written
   as OUT/lang=xx/bucket=all/part-NNNNN.parquet. A site of Q questions has ceil(Q / questions_per_part)
   parts, a question's part is a stable hash of its id, and part numbers follow the kept sites in
   name order, so the bytes do not depend on workers or arrival order.
Then `_stats.json` (with a `sites` section: how sites were chosen, their counts, skipped files),
`_manifest.json` and `_SUCCESS` through pipelines.commit.
"""
from __future__ import annotations

import collections
import functools
from typing import Iterable, Optional

import apache_beam as beam
from apache_beam.pvalue import AsSingleton
from apache_beam.transforms.window import GlobalWindows

from corpus import shards
from corpus.counters import Counters
from corpus.stackexchange_dump import read_posts
from pipelines import fileio
from pipelines.commit import commit
from pipelines.steps import stackexchange as se
from pipelines.steps.stackexchange import Layout, SiteCount, SitePlan, StackExchangeConfig


def output_patterns() -> list[str]:
    """Every file a stackexchange run may write under OUT (outdir.claim_output)."""
    return ["lang=*/bucket=*/part-*.parquet"]


class ReadSiteFn(beam.DoFn):
    """(file index, path, site) -> ((site, question Id), Post) for questions and answers; the file's
    Counters tagged 'stats' and its SiteCount tagged 'counts'."""

    def __init__(self, strict: bool):
        self.strict = strict

    def process(self, item: tuple[int, str, str]):
        _, path, site = item
        counters = Counters()
        by_type: collections.Counter = collections.Counter()
        for post in se.sort_posts(read_posts(path, fileio.open_raw), path, self.strict, counters, by_type):
            yield se.thread_key(site, post), post
        se.tally_types(site, by_type, counters)
        yield beam.pvalue.TaggedOutput("counts", SiteCount(site, by_type[se.QUESTION], by_type[se.ANSWER]))
        yield beam.pvalue.TaggedOutput("stats", counters)


class JoinFn(beam.DoFn):
    """((site, question Id), posts) -> (part, (question Id, Document)); Counters per bundle tagged 'stats'."""

    def __init__(self, cfg: StackExchangeConfig):
        self.cfg = cfg

    def setup(self):
        self.steps = se.recipe(self.cfg)

    def start_bundle(self):
        self.counters = Counters()

    def process(self, item, layout: Layout):
        (site, qid), posts = item
        doc = se.join_thread(site, posts, site in layout.selected, self.cfg, self.steps, self.counters)
        if doc is not None:
            yield layout.part_of(site, qid), (qid, doc)

    def finish_bundle(self):
        yield beam.pvalue.TaggedOutput("stats", GlobalWindows.windowed_value(self.counters))


def write_part(out: str, item: tuple[int, Iterable[tuple[int, object]]]):
    """Write one part's documents, sorted by question id; yields its manifest entries."""
    part, docs = item
    ordered = [doc for _, doc in sorted(docs, key=lambda pair: pair[0])]
    yield from fileio.write_partitions(out, shards.documents_to_table(ordered), part)


def build_pipeline(p: beam.Pipeline, cfg: StackExchangeConfig, run_id: Optional[str] = None) -> None:
    """Attach the stackexchange graph to `p`; `run_id` is the output claim's."""
    plan: SitePlan = se.plan_sites(cfg)
    read = (p
            | "Sites" >> beam.Create(list(plan.read))
            | "SpreadSites" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(ReadSiteFn(cfg.strict)).with_outputs("stats", "counts", main="posts"))
    layout = (read.counts
              | "AllCounts" >> beam.combiners.ToList()
              | "Layout" >> beam.Map(functools.partial(se.choose_layout, cfg)))
    joined = (read.posts
              | "ByQuestion" >> beam.GroupByKey()
              | "Join" >> beam.ParDo(JoinFn(cfg), layout=AsSingleton(layout)).with_outputs("stats", main="docs"))
    manifest = (joined.docs
                | "ByPart" >> beam.GroupByKey()
                | "Write" >> beam.FlatMap(functools.partial(write_part, cfg.out)))
    extras = layout | "SitesSection" >> beam.Map(lambda chosen: chosen.stats(cfg, plan))
    stats = (read.stats, joined.stats) | "AllFileStats" >> beam.Flatten()
    unreadable = [(cfg.files[i], why) for i, why in sorted(cfg.unreadable)]
    commit(p, cfg.out, cfg.run_info(), stats, manifest, extras, run_id, unreadable)
