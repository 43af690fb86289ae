"""Beam graphs of the quality classifier's data: `wiki-refs` (reference URLs of Wikipedia dumps) and
`quality-data` (the fastText training file from a ccnet corpus joined with those URLs).

wiki-refs: one worker per planned dump unit writes OUT/refs/part-NNNNN.parquet (url, url_norm,
page_id, title), a row group at a time; the commit writes _stats.json, _manifest.json, _SUCCESS.

quality-data, two passes over the corpus shards of the chosen buckets (and the WET files of
--positives, whose documents are then the only positives: the WET reader and ccnet's length admission,
not the whole ccnet chain, since a reference page is wanted whatever its perplexity bucket):
1. keys: (url_norm, compact doc tuple) per document and (url_norm, "ref") per distinct reference key;
   a CoGroupByKey on url_norm decides positives (so no worker holds all URLs); documents of uncited
   URLs are negative candidates, of which the `len(positives)` with the smallest seeded id-hash are
   taken (per hash shard first, then once over the shards' winners).
2. each shard is read again with its chosen rows: their sanitised lines go to a scratch file sorted
   by the order hash, and one last step merges the scratch files into train.txt and valid.txt.
"""
from __future__ import annotations

import dataclasses
import heapq
from typing import Iterable, Iterator, Optional

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.pvalue import AsSingleton

from corpus import parquet_input, shards, wikipedia_dump
from corpus.counters import Counters
from corpus.faults import Fault
from corpus.wiki_refs import url_norm
from filters import quality
from pipelines import fileio
from pipelines.commit import commit
from pipelines.source import Unit
from pipelines.steps.ccnet import CCNetConfig, wet_documents
from pipelines.steps.chain import read_rows
from pipelines.steps.quality import (LOG, QualityDataConfig, WikiRefsConfig, choose_for_url, chosen_line, is_valid,
                                     negative_key, order_key, unit_refs)

REFS_DIR = "refs"
REFS_SCHEMA = pa.schema([("url", pa.string()), ("url_norm", pa.string()), ("page_id", pa.int64()),
                         ("title", pa.string())])
REF_ROWS = 8192
SCRATCH_DIR = "quality"
KEY_SHARDS = 64
TRAIN, VALID = "train.txt", "valid.txt"


def refs_output_patterns() -> list[str]:
    """Every file wiki-refs may write under OUT."""
    return [f"{REFS_DIR}/part-*.parquet"]


def data_output_patterns() -> list[str]:
    """Every file quality-data may write under OUT."""
    return [TRAIN, VALID, f"{shards.TEMP_DIR}/{SCRATCH_DIR}/*.txt"]


def write_refs(cfg: WikiRefsConfig, part: int, unit: Unit) -> tuple[list[dict], Counters]:
    """One dump unit's reference rows into OUT/refs/part-NNNNN.parquet, REF_ROWS rows at a time."""
    counters = Counters()
    rel = f"{REFS_DIR}/{shards.part_name(part)}"
    target = fileio.AtomicFile(fileio.under(cfg.out, rel))
    sink = shards.TargetSink(target)
    rows, pending = 0, []
    try:
        with pq.ParquetWriter(sink, REFS_SCHEMA, compression="zstd") as writer:
            items = wikipedia_dump.read_unit(fileio.open_raw, unit)
            for row in unit_refs(items, unit.path, cfg, counters):
                pending.append(row)
                if len(pending) >= REF_ROWS:
                    writer.write_table(pa.Table.from_pylist(pending, schema=REFS_SCHEMA))
                    rows, pending = rows + len(pending), []
            if pending or not rows:
                writer.write_table(pa.Table.from_pylist(pending, schema=REFS_SCHEMA))
                rows += len(pending)
        target.commit()
    except BaseException:
        target.discard()
        raise
    return [shards.streamed_entry(rel, sink.size, sink.sha256.hexdigest(), rows)], counters


class RefsFn(beam.DoFn):
    """(part, unit) -> manifest entry of its refs file; its Counters tagged 'stats'."""

    def __init__(self, cfg: WikiRefsConfig):
        self.cfg = cfg

    def process(self, item: tuple[int, Unit]):
        entries, counters = write_refs(self.cfg, *item)
        yield from entries
        yield beam.pvalue.TaggedOutput("stats", counters)


def build_refs(p: beam.Pipeline, cfg: WikiRefsConfig, run_id: Optional[str] = None) -> None:
    """Attach the wiki-refs graph to `p`."""
    units = [Unit(i, cfg.files[i], start, end) for i, start, end in cfg.units]
    written = (p
               | "Units" >> beam.Create(list(enumerate(units)))
               | "SpreadUnits" >> beam.Reshuffle()
               | "Refs" >> beam.ParDo(RefsFn(cfg)).with_outputs("stats", main="manifest"))
    commit(p, cfg.out, cfg.run_info(), written.stats, written.manifest, p | "NoExtras" >> beam.Create([]), run_id,
           [(cfg.files[i], why) for i, why in sorted(dict(cfg.unreadable).items())])


# ---- quality-data ----

def ref_keys(path: str) -> Iterator[tuple[str, str]]:
    """(url_norm, "ref") for each distinct non-empty url_norm of one refs file, a row group at a time."""
    with fileio.open_raw(path) as f:
        pf = pq.ParquetFile(f)
        for i in range(pf.num_row_groups):
            for key in sorted(set(pf.read_row_group(i, columns=["url_norm"]).column(0).to_pylist())):
                if key:
                    yield key, "ref"


def doc_keys(item: tuple[int, str], seed: int) -> Iterator[tuple[str, tuple[int, str, int, int, int]]]:
    """(url_norm, (sample key, id, file index, row, chars)) of each document of one corpus shard, rows
    numbered as pass 2's reader numbers them (unreadable row groups skipped in both)."""
    idx, path = item
    row = 0
    with fileio.open_raw(path) as f:
        pf = parquet_input.parquet_file(f)
        if isinstance(pf, Fault):
            return
        for table in parquet_input.row_groups(pf, ["id", "url", "text"]):
            if isinstance(table, Fault):
                continue
            ids, urls = table.column("id").to_pylist(), table.column("url").to_pylist()
            chars = pc.utf8_length(table.column("text")).to_pylist()
            for doc_id, url, n in zip(ids, urls, chars):
                yield url_norm(url or ""), (negative_key(seed, doc_id), doc_id, idx, row, n or 0)
                row += 1


def crawl_keys(item: tuple[int, str], seed: int) -> Iterator[tuple[str, tuple[int, str, int, int, int]]]:
    """`doc_keys` of one WET file of --positives (rows numbered as pass 2's reader numbers them), the
    documents ccnet's admission would refuse (too long) left out."""
    idx, path = item
    too_long = CCNetConfig().max_chars
    for row, doc in read_rows(wet_documents(path, "cc", fileio.open_raw), path, False, None, LOG):
        if len(doc.text) <= too_long:
            yield url_norm(doc.url or ""), (negative_key(seed, doc.id), doc.id, idx, row, len(doc.text))


class DecideFn(beam.DoFn):
    """(url_norm, {"ref": [...], "doc": [...], "crawl": [...]}) -> positives (main), negative candidates,
    tallies; with `crawl` the positives come from the --positives WET files."""

    def __init__(self, min_chars: int, crawl: bool):
        self.min_chars = min_chars
        self.crawl = crawl

    def process(self, item):
        key, grouped = item
        cited = next(iter(grouped["ref"]), None) is not None
        crawled = list(grouped["crawl"]) if self.crawl else None
        for kind, value in choose_for_url(key, list(grouped["doc"]), cited, self.min_chars, crawled):
            if kind == "positive":
                yield value
            else:
                yield beam.pvalue.TaggedOutput(kind, value)


def smallest(items: Iterable, k: int) -> list:
    """The k smallest items (sorted), holding k of them at a time."""
    return heapq.nsmallest(k, items)


class BottomK(beam.PTransform):
    """The `k` (a singleton side input) smallest elements, as one sorted list: smallest per hash shard
    first, then over the shards' winners, so no step holds more than KEY_SHARDS * k elements."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def expand(self, pcoll):
        return (pcoll
                | "ByShard" >> beam.Map(lambda d: (d[0] % KEY_SHARDS, d))
                | "GroupShards" >> beam.GroupByKey()
                | "ShardSmallest" >> beam.Map(lambda kv, k: smallest(kv[1], k), k=self.k)
                | "Flat" >> beam.FlatMap(lambda xs: xs)
                | "One" >> beam.Map(lambda d: (None, d))
                | "GroupAll" >> beam.GroupByKey()
                | "AllSmallest" >> beam.FlatMap(lambda kv, k: smallest(kv[1], k), k=self.k))


def scratch_path(out: str, idx: int) -> str:
    """Where pass 2 leaves one input file's chosen lines: OUT/_temporary/quality/part-NNNNN.txt."""
    return fileio.join(out, shards.TEMP_DIR, SCRATCH_DIR, f"part-{idx:05d}.txt")


def write_chosen(cfg: QualityDataConfig, idx: int, path: str, chosen: dict[int, str], crawl: range = range(0)
                 ) -> tuple[str, Counters]:
    """Pass 2 of one shard (or WET file of --positives: an index in `crawl`): every document counted; the
    chosen rows' lines (label from `chosen`) go to a scratch file as `order key TAB split TAB line`,
    sorted by order key (a worker holds the chosen lines of one file, not the file)."""
    counters = Counters()
    lines = []
    with fileio.open_raw(path) as f:
        reader = wet_documents(path, "cc", lambda _: f) if idx in crawl else parquet_input.stream_parquet(f)
        for row, doc in read_rows(reader, path, cfg.strict, counters, LOG):
            counters.read(doc)
            label = chosen.get(row)
            if label is None:
                counters.drop("not_chosen", doc)
                continue
            line = chosen_line(doc, label, counters)
            split = "valid" if is_valid(cfg.seed, doc.id, cfg.valid_share) else "train"
            lines.append(f"{order_key(cfg.seed, doc.id)}\t{split}\t{line}\n")
    lines.sort()
    scratch = scratch_path(cfg.out, idx)
    fileio.write_atomic(scratch, "".join(lines).encode("utf-8"))
    return scratch, counters


class ChosenFn(beam.DoFn):
    """(file index, {"file": [path], "chosen": [(row, label)]}) -> scratch path; Counters tagged 'stats'."""

    def __init__(self, cfg: QualityDataConfig, crawl: range):
        self.cfg = cfg
        self.crawl = crawl

    def process(self, item):
        idx, grouped = item
        paths = list(grouped["file"])
        chosen = dict(grouped["chosen"])
        scratch, counters = write_chosen(self.cfg, idx, paths[0], chosen, self.crawl)
        yield scratch
        yield beam.pvalue.TaggedOutput("stats", counters)


def _scratch_lines(path: str) -> Iterator[str]:
    with fileio.open_raw(path) as f:
        for raw in iter(f.readline, b""):
            yield raw.decode("utf-8")


class MergeFn(beam.DoFn):
    """All scratch files merged by order key into train.txt and valid.txt (a line per file in memory);
    yields their manifest entries, and the selection tallies tagged 'extras'."""

    def __init__(self, cfg: QualityDataConfig):
        self.cfg = cfg

    def process(self, _, scratch: list[str], tallies: dict):
        files = {name: fileio.AtomicFile(fileio.under(self.cfg.out, name)) for name in (TRAIN, VALID)}
        sinks = {name: shards.TargetSink(t) for name, t in files.items()}
        rows = {TRAIN: 0, VALID: 0}
        labels: dict[str, int] = {}
        try:
            for merged in heapq.merge(*(_scratch_lines(s) for s in sorted(scratch))):
                _, split, line = merged.split("\t", 2)
                name = VALID if split == "valid" else TRAIN
                sinks[name].write(line.encode("utf-8"))
                rows[name] += 1
                label = line.split(" ", 1)[0]
                labels[label] = labels.get(label, 0) + 1
            for t in files.values():
                t.commit()
        except BaseException:
            for t in files.values():
                t.discard()
            raise
        for name in (TRAIN, VALID):
            yield shards.streamed_entry(name, sinks[name].size, sinks[name].sha256.hexdigest(), rows[name])
        selection = dict(sorted(tallies.items()))
        selection.update({"train_lines": rows[TRAIN], "valid_lines": rows[VALID],
                          "positives": labels.get(quality.WIKI, 0), "negatives": labels.get(quality.CC, 0)})
        yield beam.pvalue.TaggedOutput("extras", {"selection": selection})


@dataclasses.dataclass(frozen=True)
class DataInputs:
    """The files quality-data reads: refs shards, and corpus shards of the chosen buckets (index = place)."""

    refs: tuple[str, ...]
    corpus: tuple[str, ...]


def build_data(p: beam.Pipeline, cfg: QualityDataConfig, inputs: DataInputs, run_id: Optional[str] = None) -> None:
    """Attach the quality-data graph to `p`. File indexes: the corpus shards, then the WET files of
    --positives."""
    corpus = list(enumerate(inputs.corpus))
    crawl = range(len(corpus), len(corpus) + len(cfg.positives))
    wets = list(zip(crawl, cfg.positives))
    refs = (p | "RefFiles" >> beam.Create(list(inputs.refs)) | "SpreadRefs" >> beam.Reshuffle()
            | "RefKeys" >> beam.FlatMap(ref_keys))
    docs = (p | "CorpusFiles" >> beam.Create(corpus) | "SpreadCorpus" >> beam.Reshuffle()
            | "DocKeys" >> beam.FlatMap(doc_keys, seed=cfg.seed))
    crawled = (p | "CrawlFiles" >> beam.Create(wets) | "SpreadCrawl" >> beam.Reshuffle()
               | "CrawlKeys" >> beam.FlatMap(crawl_keys, seed=cfg.seed))
    decided = ({"ref": refs, "doc": docs, "crawl": crawled} | "JoinUrls" >> beam.CoGroupByKey()
               | "Decide" >> beam.ParDo(DecideFn(cfg.min_chars, bool(wets)))
               .with_outputs("negative", "tally", main="positive"))
    positives = decided.positive
    if cfg.max_per_class is not None:
        positives = (positives | "CapPositives" >> beam.combiners.Top.Smallest(cfg.max_per_class)
                     | "FlatPositives" >> beam.FlatMap(lambda xs: xs))
    n_pos = positives | "CountPositives" >> beam.combiners.Count.Globally()
    negatives = decided.negative | "SampleNegatives" >> BottomK(AsSingleton(n_pos))
    chosen = ((positives | "LabelPos" >> beam.Map(lambda d: (d[2], (d[3], quality.WIKI))),
               negatives | "LabelNeg" >> beam.Map(lambda d: (d[2], (d[3], quality.CC))))
              | "AllChosen" >> beam.Flatten())
    files = p | "FileKeys" >> beam.Create(corpus + wets)
    written = ({"file": files, "chosen": chosen} | "ChosenByFile" >> beam.CoGroupByKey()
               | "WriteChosen" >> beam.ParDo(ChosenFn(cfg, crawl)).with_outputs("stats", main="scratch"))
    tallies = (decided.tally | "CountTallies" >> beam.combiners.Count.PerElement()
               | "Tallies" >> beam.combiners.ToDict())
    merged = (p | "MergeTrigger" >> beam.Create([None])
              | "Merge" >> beam.ParDo(MergeFn(cfg), scratch=beam.pvalue.AsList(written.scratch),
                                      tallies=AsSingleton(tallies)).with_outputs("extras", main="manifest"))
    commit(p, cfg.out, cfg.run_info(), written.stats, merged.manifest, merged.extras, run_id)
