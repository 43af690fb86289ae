"""`llamapipe dedup`: exact and MinHash-LSH near-duplicate removal, every step distributed.

Nothing that grows with the corpus goes through a Beam shuffle (the local runner holds every shuffled
element in the launcher's memory): documents, keys, signatures, edges, members and decisions wait in
scratch files under OUT/_temporary/dedup (dedup/spill.py, pipelines/steps/dedup_clusters.py), and Beam
carries file spill summaries, counts and shard ids, as in pipelines/stackexchange.py.
1. per input file: exact-stage rows (exact key, id key), shingle-hash sets and LSH band digests
   of every compared document, band entries and exact rows partitioned by hash shard;
2. per hash shard, once pass 1 is done: exact and id decisions (best member kept), and an edge from
   each exact duplicate to its group's kept member;
3. per band shard, once 2 is done: candidate pairs of its buckets, exact duplicates left out,
   written by verification shard;
4. per verification shard, once 3 is done (as many as the candidate pairs need, at most the hash
   shards): each candidate pair verified by the exact Jaccard (containment for books) of the two
   shingle-hash sets, giving edges;
5. connected components of both kinds of edges (an exact group joins the near-duplicate cluster of
   its kept member) by alternating large-star / small-star rounds, each a step per node shard that reads
   its rows of the previous round's files, over as many node shards as the edges need (at most the
   hash shards); one more pair of rounds checks convergence;
6. per input file, its cluster members with the fields of their keep keys, by shard of their centre;
   per centre shard, the best member of each cluster kept, decisions by input file;
7. per input file the decisions are applied (its own slice of each shard's exact and near-duplicate
   decisions): shards keep the input layout, written a row group at a time, cluster rows go to
   OUT/_clusters.parquet/part-NNNNN.parquet; then _stats.json, _manifest.json, _SUCCESS.
No step gathers all signatures, sets or edges on one worker; a shard's slice stays about
SHARD_INPUT_BYTES of input whatever the corpus size, and a verification shard holds at most
VERIFY_SET_BUDGET shingle hashes at once.
"""
from __future__ import annotations

import glob
import os
import sys
from typing import Optional

import apache_beam as beam
import pyarrow as pa
from apache_beam.pvalue import AsList, AsSingleton

from corpus import shards
from corpus.paths import canonical, is_url
from corpus.readers import stream_documents
from dedup import spill
from dedup.minhash import MinHasher
from pipelines import fileio, memory, progress_marks
from pipelines.commit import commit
from pipelines.steps import dedup_clusters as clusters
from pipelines.steps.dedup import (DedupConfig, apply_decisions, candidate_shard, exact_shard, file_exact_decisions,
                                   merge_decisions, spill_file, verify_shard, verify_shards)

CLUSTERS_DIR = "_clusters.parquet"
SCRATCH_DIR = "dedup"
# A Write task that read this much text hands its freed heap back (pipelines/memory.py); smaller ones,
# e.g. the thousands of small shards a ccnet output has, skip the heap walk.
RELEASE_AFTER_CHARS = 4 << 20
CLUSTER_SCHEMA = pa.schema([("id", pa.string()), ("cluster_id", pa.string()), ("kept", pa.bool_()),
                            ("reason", pa.string())])


def scratch_dir(out: str) -> str:
    """Where a run's scratch files go: OUT/_temporary/dedup (removed by the commit)."""
    return fileio.join(out, shards.TEMP_DIR, SCRATCH_DIR)


class Scratch:
    """Opens scratch files by name: atomic targets to write, raw files to read."""

    def __init__(self, out: str):
        self.folder = scratch_dir(out)

    def target(self, name: str) -> fileio.AtomicFile:
        return fileio.AtomicFile(fileio.join(self.folder, name))

    def open(self, name: str):
        return fileio.open_raw(fileio.join(self.folder, name))


class SpillFn(beam.DoFn):
    """Pass 1 of one input file: its scratch files (steps.dedup.spill_file); yields its FileSpill."""

    def __init__(self, cfg: DedupConfig, shard_count: int, files: int):
        self.cfg = cfg
        self.shard_count = shard_count
        self.files = files

    def setup(self):
        self.hasher = MinHasher(self.cfg.num_perm, self.cfg.seed)
        self.scratch = Scratch(self.cfg.out)

    def process(self, unit):
        file_idx, path, _ = unit
        spilled = spill_file(stream_documents(path, fileio.open_raw), path, file_idx, self.cfg, self.hasher,
                             self.shard_count, self.scratch.target)
        progress_marks.mark_done(self.cfg.out, file_idx, spilled.read_documents, spilled.read_chars, self.files)
        yield spilled


def _exact_stage(shard: int, spills: list, cfg: DedupConfig, shard_count: int) -> int:
    """Exact decisions of one hash shard; its edges become round 0's input (producer `shard`)."""
    scratch = Scratch(cfg.out)
    edges = exact_shard(shard, sorted(spills, key=lambda s: s.file_idx), cfg, shard_count, scratch.open,
                        scratch.target)
    clusters.write_round_input(edges, 0, shard, shard_count, scratch.target)
    memory.release()
    return len(edges)


def _candidate_stage(shard: int, spills: list, _exact_done: list, cfg: DedupConfig, shard_count: int) -> int:
    """Candidate pairs of one band shard, once the exact stage has said which documents it dropped."""
    scratch = Scratch(cfg.out)
    found = candidate_shard(shard, sorted(spills, key=lambda s: s.file_idx), shard_count, scratch.open,
                            scratch.target)
    memory.release()
    return found


def _verify_stage(shard: int, parts: int, cfg: DedupConfig, shard_count: int) -> int:
    """Verified edges of one of `parts` verification shards (ids past them have nothing to do), handed to
    round 0 (producer shard_count + `shard`)."""
    if shard >= parts:
        return 0
    scratch = Scratch(cfg.out)
    edges = verify_shard(shard, shard_count, cfg, scratch.open, parts=parts)
    clusters.write_round_input(edges, 0, shard_count + shard, shard_count, scratch.target)
    memory.release()
    return len(edges)


def _round_stage(shard: int, _previous_done: list, r: int, cfg: DedupConfig, shard_count: int, parts: int,
                 verify_parts: int) -> int:
    """Round r of connected components over one of `parts` round shards (shard ids past them have nothing
    to do), once round r - 1 is done everywhere; round 0 reads the exact and verification shards."""
    if shard >= parts:
        return 0
    scratch = Scratch(cfg.out)
    producers = shard_count + verify_parts if r == 0 else parts
    return clusters.star_round_shard(shard, r, producers, shard_count, cfg.file_count(),
                                     clusters.round_count(cfg.cc_rounds), scratch.open, scratch.target, parts)


def _compare_stage(shard: int, _rounds_done: list, cfg: DedupConfig, parts: int) -> int:
    """Edges of one round shard that the checking rounds still changed."""
    return clusters.changed_shard(shard, parts, Scratch(cfg.out).open) if shard < parts else 0


def _keys_stage(spill_of, _rounds_done: list, cfg: DedupConfig, shard_count: int, parts: int):
    """One input file's cluster members with their keep-key fields, by centre shard."""
    scratch = Scratch(cfg.out)
    return clusters.member_keys_file(spill_of, shard_count, scratch.open, scratch.target, parts)


def _cluster_stage(shard: int, keys: list, cfg: DedupConfig):
    """Decisions of the clusters centred in one shard, by input file."""
    scratch = Scratch(cfg.out)
    decided = clusters.cluster_shard(shard, keys, cfg.keep, cfg.file_count(), scratch.open, scratch.target)
    memory.release()
    return decided


class WriteFn(beam.DoFn):
    """Apply one file's decisions; write its shard and its cluster rows; yield manifest entries."""

    def __init__(self, cfg: DedupConfig, shard_count: int):
        self.cfg = cfg
        self.out = cfg.out
        self.shard_count = shard_count

    def process(self, unit, _exact_done, near):
        file_idx, path, rel = unit
        scratch = Scratch(self.out)
        exact = file_exact_decisions(file_idx, self.shard_count, scratch.open)
        decisions = merge_decisions(exact, clusters.file_near_decisions(file_idx, near, scratch.open))
        with shards.ShardStream(file_idx, lambda r: fileio.AtomicFile(fileio.under(self.out, r)), path=rel) as stream:
            result = apply_decisions(stream_documents(path, fileio.open_raw), path, self.cfg, decisions, stream.add)
            yield from stream.close()
        if result.clusters:
            cdata = shards.parquet_bytes(pa.Table.from_pylist(result.clusters, schema=CLUSTER_SCHEMA))
            crel = f"{CLUSTERS_DIR}/{shards.part_name(file_idx)}"
            fileio.write_atomic(fileio.join(self.out, crel), cdata)
            yield shards.manifest_entry(crel, cdata, len(result.clusters))
        if result.counters.reads.chars >= RELEASE_AFTER_CHARS:
            memory.release()
        yield beam.pvalue.TaggedOutput("stats", result.counters)


def _per_shard(p, label: str, count: int, fn, *args):
    """`fn(shard, *args)` for every shard 0 .. count - 1, spread over the workers (Create reshuffles)."""
    return p | f"{label}Shards" >> beam.Create(range(count)) | label >> beam.Map(fn, *args)


def _after(pcoll):
    """A side input that makes a step wait until every element of `pcoll` is done (its value unused): a
    list side input is the cheapest barrier, one stage rather than a global combine's several."""
    return AsList(pcoll)


def shard_count_of(units, shard_bytes: int) -> int:
    """Hash shards for the run: one per `shard_bytes` of readable input files."""
    return spill.shard_count(sum(fileio.size(path) for _, path, _ in units), shard_bytes)


def build_pipeline(p: beam.Pipeline, cfg: DedupConfig, run_id: Optional[str] = None) -> None:
    """Attach the dedup pipeline to `p`; `run_id` is the output claim's (outdir.claim_output)."""
    unreadable = dict(cfg.unreadable)
    readable = [u for u in cfg.units if u[0] not in unreadable]
    count = shard_count_of(readable, cfg.shard_bytes)
    unit_pc = p | "Inputs" >> beam.Create(readable) | "SpreadInputs" >> beam.Reshuffle()
    spill_pc = unit_pc | "Spill" >> beam.ParDo(SpillFn(cfg, count, len(readable)))
    spills = AsList(spill_pc)
    exact = _per_shard(p, "ExactDecisions", count, _exact_stage, spills, cfg, count)
    exact_done = _after(exact)
    verify_parts = AsSingleton(_per_shard(p, "Candidates", count, _candidate_stage, spills, exact_done, cfg, count)
                               | "CountCandidates" >> beam.CombineGlobally(sum)
                               | "VerifyShards" >> beam.Map(verify_shards, count))
    verified = _per_shard(p, "VerifyCandidates", count, _verify_stage, verify_parts, cfg, count)
    edges = (exact, verified) | "AllEdges" >> beam.Flatten() | "CountEdges" >> beam.CombineGlobally(sum)
    parts = AsSingleton(edges | "RoundShards" >> beam.Map(clusters.component_shards, count))
    done = _after(edges)
    for r in range(clusters.round_count(cfg.cc_rounds)):
        done = _after(_per_shard(p, f"Round{r}", count, _round_stage, done, r, cfg, count, parts, verify_parts))
    changed = (_per_shard(p, "CompareRounds", count, _compare_stage, done, cfg, parts)
               | "CountChanged" >> beam.CombineGlobally(sum))
    keys = AsList(spill_pc | "KeepKeys" >> beam.Map(_keys_stage, done, cfg, count, parts))
    near = AsList(_per_shard(p, "ClusterDecisions", count, _cluster_stage, keys, cfg))
    written = (unit_pc
               | "Write" >> beam.ParDo(WriteFn(cfg, count), exact_done, near).with_outputs("stats", main="manifest"))
    extras = changed | "ConvergenceCheck" >> beam.Map(_convergence_extra, cfg.cc_rounds)
    paths = {idx: path for idx, path, _ in cfg.units}
    commit(p, cfg.out, cfg.run_info(), written.stats, written.manifest, extras, run_id,
           [(paths[i], why) for i, why in sorted(unreadable.items())])


def _convergence_extra(changed: int, rounds: int) -> dict:
    if changed:
        raise RuntimeError(f"connected components not converged after {rounds} rounds ({changed} edges "
                           f"still moving); rerun with a larger --cc-rounds")
    return {"connected_components": {"rounds": rounds, "converged": True}}


def plan_units(inputs: list[str], allow_incomplete: bool = False) -> list[tuple[int, str, str]]:
    """(index, path, output path relative to OUT) for every input file, sorted by path, each file once.

    A corpus shard folder contributes the Parquet files its manifest lists, under their own
    relative paths (an unfinished folder is refused unless `allow_incomplete`); a JSONL or WET
    file becomes lang=unknown/bucket=all/part-NNNNN.parquet.
    """
    files: list[tuple[str, Optional[str]]] = []
    for spec in inputs:
        if not is_url(spec) and os.path.isdir(spec):
            files.extend(fileio.corpus_files(spec, allow_incomplete, what="--input"))
            continue
        files.extend((f, None) for f in fileio.expand_globs([spec]))
    files = _once(sorted(set(files)))
    if not files:
        raise FileNotFoundError(f"no input files in {', '.join(inputs)}")
    units = []
    for idx, (path, rel) in enumerate(files):
        units.append((idx, path, rel or f"{shards.partition_dir(None, None)}/{shards.part_name(idx)}"))
    rels = [u[2] for u in units]
    clash = sorted({r for r in rels if rels.count(r) > 1})
    if clash:
        raise ValueError(f"two input folders hold {clash[0]}: their shards would overwrite each other in the "
                         f"output; deduplicate them in one run per folder, or merge the folders first")
    return units


def _once(files: list[tuple[str, Optional[str]]]) -> list[tuple[str, Optional[str]]]:
    """Drop a file reached twice through symlinks (first path kept), with a warning."""
    seen: dict[str, str] = {}
    kept = []
    for path, rel in files:
        key = canonical(path)
        if key in seen:
            print(f"warning: {path} is the same file as {seen[key]}; read once", file=sys.stderr)
            continue
        seen[key] = path
        kept.append((path, rel))
    return kept


def output_patterns(units: list[tuple[int, str, str]]) -> list[str]:
    """Every file a dedup run over `units` may write under OUT (outdir.claim_output)."""
    return sorted({"/".join(glob.escape(part) for part in rel.split("/")) for _, _, rel in units}
                  | {f"{CLUSTERS_DIR}/part-*.parquet"}
                  | {f"{shards.TEMP_DIR}/{SCRATCH_DIR}/{name}"
                     for name in spill.scratch_patterns() + clusters.scratch_patterns()}
                  | {progress_marks.output_pattern()})
