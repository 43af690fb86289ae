"""The `llamapipe c4 --from-wet` graph: WET files -> C4 `en` as TFDS C4 3.0.1 builds it -> corpus shards.

Pages never go through a Beam shuffle (the local runner holds every shuffled element in memory): Beam
carries compact keys, one unit's list per dedup group, as pipelines/ccnet.py does.
1. URL keys: each WET file is read (corpus/c4_input.py) and every page that passes empty_text and
   too_long_page gives (normalised URL, timestamp, text digest, part, row), sent to its dedup group.
2. Per group, the newest page of each normalised URL wins; the losers' rows go back to their file.
3. Clean: each file is read again with its losers (CoGroupByKey): too_long_page, duplicate_url,
   clean_page; the cleaned pages go to scratch Parquet (OUT/_temporary/c4) and one 32-byte key per
   distinct line of a page (MD5 of the line, MD5 of the page's normalised URL), as arrays per dedup group.
4. Per group, the page with the smallest URL md5 keeps each line; the other pages' (owner, line)
   pairs go back to their file.
5. Final: each file's scratch pages: line dedup, empty_after_dedup, too_few_sentences, not_english,
   badwords, meta.split; written as OUT/lang=en/bucket=all/part-NNNNN.parquet (NNNNN = file index).
Then `_stats.json`, `_manifest.json` and `_SUCCESS` through pipelines.commit (which removes the scratch).
Counters: step 3 counts what it reads and drops, step 5 what it drops and writes, so they add up once.
"""
from __future__ import annotations

import logging
from typing import Iterable, Iterator, Optional

import apache_beam as beam
import pyarrow.parquet as pq

from corpus import shards
from corpus.c4_input import read_c4_wet
from corpus.counters import Counters, Units
from corpus.document import table_to_documents
from pipelines import fileio
from pipelines.commit import commit
from pipelines.source import BATCH_CHARS
from pipelines.steps import c4
from pipelines.steps.chain import read_rows, run_steps

LOG = logging.getLogger("llamapipe.c4")
SCRATCH_DIR = "c4"


def output_patterns() -> list[str]:
    """Every file a c4 --from-wet run may write under OUT (outdir.claim_output)."""
    return ["lang=*/bucket=*/part-*.parquet", f"{shards.TEMP_DIR}/{SCRATCH_DIR}/lang=*/bucket=*/part-*.parquet"]


def scratch_dir(out: str) -> str:
    """Where the cleaned pages wait between the passes: OUT/_temporary/c4 (removed by the commit)."""
    return fileio.join(out, shards.TEMP_DIR, SCRATCH_DIR)


def _by_shard(entries: Iterable[tuple], shards_n: int) -> Iterator[tuple[int, list]]:
    """(dedup group, that group's entries) of one unit's keys, in group order."""
    groups: dict[int, list] = {}
    for e in entries:
        groups.setdefault(c4.shard_of(e[0], shards_n), []).append(e)
    for shard in sorted(groups):
        yield shard, groups[shard]


class UrlKeysFn(beam.DoFn):
    """(part, path) -> (dedup group, [URL entries]) of the pages that reach the URL dedup."""

    def __init__(self, cfg: c4.C4Config):
        self.cfg = cfg

    def process(self, item: tuple[int, str]):
        part, path = item
        rows = read_rows(read_c4_wet(fileio.open_raw, path), path, self.cfg.strict, None, LOG)
        survivors = ((r, d) for batch in run_steps(rows, c4.url_recipe(self.cfg), Counters())
                     for r, d in zip(batch.rows, batch.docs))
        yield from _by_shard(c4.url_entries(survivors, part), self.cfg.dedup_shards)


def decide_urls(item) -> Iterator[tuple[int, list[int]]]:
    """(group, [[entries]...]) -> (part, rows that lost the URL dedup)."""
    _, parts = item
    losers = c4.url_losers(e for entries in parts for e in entries)
    yield from sorted(losers.items())


class CleanFn(beam.DoFn):
    """(part, {file, drops}) -> (part, scratch files); line keys tagged 'lines', Counters tagged 'stats'."""

    def __init__(self, cfg: c4.C4Config):
        self.cfg = cfg

    def setup(self):
        self.sentences = c4.punkt_sentences()

    def process(self, item):
        part, grouped = item
        paths = list(grouped["file"])
        if not paths:
            return
        path = paths[0]
        losers = [row for rows in grouped["drops"] for row in rows]
        steps = c4.clean_recipe(self.cfg, losers, self.sentences)
        counters = Counters()
        keys = c4.LineKeys()
        temp = scratch_dir(self.cfg.out)
        rows = read_rows(read_c4_wet(fileio.open_raw, path), path, self.cfg.strict, counters, LOG)
        with shards.ShardStream(part, lambda rel: fileio.AtomicFile(fileio.join(temp, rel))) as stream:
            for batch in run_steps(rows, steps, counters, max_chars=BATCH_CHARS):
                keys.add(batch.docs)
                stream.add(batch.docs)
            entries = stream.close()
        counters.writes = Units()  # the final pass counts what is written
        yield from (beam.pvalue.TaggedOutput("lines", g) for g in keys.by_shard(part, self.cfg.dedup_shards))
        yield beam.pvalue.TaggedOutput("stats", counters)
        yield part, [e["path"] for e in entries]


def decide_lines(item) -> Iterator[tuple[int, bytes]]:
    """(group, [(part, line keys, owner keys)...]) -> (part, the 32-byte keys of the lines its pages lose)."""
    _, parts = item
    yield from c4.line_losers(list(parts)).items()


def _scratch_documents(temp: str, files: Iterable[str]):
    """The cleaned pages of a part's scratch files, a row group at a time, in order."""
    for rel in files:
        with fileio.open_raw(fileio.join(temp, rel)) as f:
            scratch = pq.ParquetFile(f)
            for i in range(scratch.num_row_groups):
                yield from table_to_documents(scratch.read_row_group(i))


class FinalFn(beam.DoFn):
    """(part, {scratch, drops}) -> manifest entries of the part's shards; Counters tagged 'stats'."""

    def __init__(self, cfg: c4.C4Config):
        self.cfg = cfg

    def setup(self):
        self.sentences = c4.punkt_sentences()
        self.lid = None
        if self.cfg.lid == "fasttext":
            from filters.lid import LanguageIdentifier, default_lid_model

            self.lid = LanguageIdentifier(default_lid_model())

    def process(self, item):
        part, grouped = item
        scratch = list(grouped["scratch"])
        if not scratch:
            return
        steps = c4.final_recipe(self.cfg, list(grouped["drops"]), self.sentences, self.lid)
        counters = Counters()
        docs = _scratch_documents(scratch_dir(self.cfg.out), scratch[0])
        with fileio.shard_stream(self.cfg.out, part) as stream:
            for batch in run_steps(enumerate(docs), steps, counters, max_chars=BATCH_CHARS):
                stream.add(batch.docs)
            entries = stream.close()
        counters.reads = Units()  # the clean pass counted these pages as read
        yield from entries
        yield beam.pvalue.TaggedOutput("stats", counters)


def build_pipeline(p: beam.Pipeline, cfg: c4.C4Config, run_id: Optional[str] = None) -> None:
    """Attach the c4 --from-wet graph to `p`; `run_id` is the output claim's."""
    unreadable = dict(cfg.unreadable)
    files = (p
             | "Files" >> beam.Create([(i, f) for i, f in enumerate(cfg.files) if i not in unreadable])
             | "SpreadFiles" >> beam.Reshuffle())
    url_drops = (files
                 | "UrlKeys" >> beam.ParDo(UrlKeysFn(cfg))
                 | "GroupUrls" >> beam.GroupByKey()
                 | "DecideUrls" >> beam.FlatMap(decide_urls))
    cleaned = ({"file": files, "drops": url_drops}
               | "JoinUrlDrops" >> beam.CoGroupByKey()
               | "Clean" >> beam.ParDo(CleanFn(cfg)).with_outputs("lines", "stats", main="parts"))
    line_drops = (cleaned.lines
                  | "GroupLines" >> beam.GroupByKey()
                  | "DecideLines" >> beam.FlatMap(decide_lines))
    final = ({"scratch": cleaned.parts, "drops": line_drops}
             | "JoinLineDrops" >> beam.CoGroupByKey()
             | "Final" >> beam.ParDo(FinalFn(cfg)).with_outputs("stats", main="manifest"))
    stats = (cleaned.stats, final.stats) | "AllStats" >> beam.Flatten()
    commit(p, cfg.out, cfg.run_info(), stats, final.manifest, p | "NoExtras" >> beam.Create([]), run_id,
           [(cfg.files[i], why) for i, why in sorted(unreadable.items())])
