"""`llamapipe dedup`: exact and MinHash-LSH near-duplicate removal, every step distributed.

Documents, keys and signatures never go through a Beam shuffle (the local runner holds every
shuffled element in the launcher's memory): they wait in scratch files under
OUT/_temporary/dedup (dedup/spill.py), and Beam carries file spill summaries, counts, shard ids
and the few verified edges, as in pipelines/stackexchange.py.
1. per input file: exact-stage rows (exact key, id key), shingle-hash sets and LSH band digests
   of every compared document, band entries and exact rows partitioned by hash shard;
2. per hash shard, once pass 1 is done: exact and id decisions (best member kept), and an edge from
   each exact duplicate to its group's kept member;
3. per band shard, once 2 is done: candidate pairs of its buckets, exact duplicates left out,
   written by verification shard;
4. per verification shard, once 3 is done: each candidate pair verified by the exact Jaccard
   (containment for books) of the two shingle-hash sets, giving edges;
5. connected components of both kinds of edges (an exact group joins the near-duplicate cluster of
   its kept member) by alternating large-star / small-star rounds, each a GroupByKey by node shard
   of edge batches: numpy arrays, one per shard, as an element per edge would sit in the launcher's
   memory;
6. per cluster the best member is kept: members grouped by input file, whose scratch gives their keep
   keys, then by shard of their centre (batches again);
7. per input file the decisions are applied (its own slice of each shard's exact decisions, which
   are partitioned by input file, and its near-duplicate decisions): shards keep the input layout,
   cluster rows go to OUT/_clusters.parquet/part-NNNNN.parquet; then _stats.json, _manifest.json,
   _SUCCESS.
No step gathers all signatures, sets or edges on one worker; a shard's slice stays about
SHARD_INPUT_BYTES of input whatever the corpus size.
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
from dedup.components import (changed_edges, large_star_arrays, shard_round_input, small_star_arrays, split_by_shard,
                              star_round_arrays)
from dedup.minhash import MinHasher
from pipelines import fileio, progress_marks
from pipelines.commit import commit
from pipelines.steps.dedup import (DedupConfig, apply_decisions, candidate_shard, cluster_batch_decisions,
                                   decision_rows, exact_shard, file_exact_decisions, member_batches, member_files,
                                   merge_decisions, spill_file, verify_shard)

CLUSTERS_DIR = "_clusters.parquet"
SCRATCH_DIR = "dedup"
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


def _exact_stage(shard: int, spills: list, cfg: DedupConfig):
    scratch = Scratch(cfg.out)
    return exact_shard(shard, sorted(spills, key=lambda s: s.file_idx), cfg, scratch.open, scratch.target)


def _candidate_stage(shard: int, spills: list, _exact_done: int, cfg: DedupConfig, shard_count: int) -> int:
    scratch = Scratch(cfg.out)
    return candidate_shard(shard, sorted(spills, key=lambda s: s.file_idx), shard_count, scratch.open,
                           scratch.target)


def _verify_stage(shard: int, _candidates_done: int, cfg: DedupConfig, shard_count: int):
    return verify_shard(shard, shard_count, cfg, Scratch(cfg.out).open)


def _member_stage(item, spills: list, cfg: DedupConfig, shard_count: int):
    file_idx, members = item
    spill_of = next(s for s in spills if s.file_idx == file_idx)
    return member_batches(members, spill_of, shard_count, Scratch(cfg.out).open)


class WriteFn(beam.DoFn):
    """Apply one file's decisions; write its shard and its cluster rows; yield manifest entries."""

    def __init__(self, cfg: DedupConfig, shard_count: int):
        self.cfg = cfg
        self.out = cfg.out
        self.shard_count = shard_count

    def process(self, item, _exact_done):
        file_idx, grouped = item
        units = list(grouped["unit"])
        if not units:
            return
        _, path, rel = units[0]
        exact = file_exact_decisions(file_idx, self.shard_count, Scratch(self.out).open)
        decisions = merge_decisions(exact, decision_rows(grouped["near"]))
        with shards.ShardStream(file_idx, lambda r: fileio.AtomicFile(fileio.under(self.out, r)), path=rel) as stream:
            result = apply_decisions(stream_documents(path, fileio.open_raw), path, self.cfg, decisions, stream.add)
            yield from stream.close()
        if result.clusters:
            cdata = shards.parquet_bytes(pa.Table.from_pylist(result.clusters, schema=CLUSTER_SCHEMA))
            crel = f"{CLUSTERS_DIR}/{shards.part_name(file_idx)}"
            fileio.write_atomic(fileio.join(self.out, crel), cdata)
            yield shards.manifest_entry(crel, cdata, len(result.clusters))
        yield beam.pvalue.TaggedOutput("stats", result.counters)


def _round_step(item, step) -> list:
    """A round's output edges from one node shard's (node, neighbour) batches (none when empty)."""
    edges = star_round_arrays(item[1], step)
    return [edges] if len(edges) else []


def _star_round(edges, label: str, step, shards: int):
    """One large-star or small-star round (dedup.components) over a PCollection of edge arrays: one
    GroupByKey by node shard; the output is an array per shard (distinct within it; copies across
    shards meet in the next round's shard and go there)."""
    return (edges
            | f"{label}Split" >> beam.FlatMap(shard_round_input, step, shards)
            | f"{label}Group" >> beam.GroupByKey()
            | f"{label}Step" >> beam.FlatMap(_round_step, step))


def _check_converged(last, nxt, shards: int):
    """Number of distinct edges that one more round would still change (0 when converged)."""
    return (({"a": last | "LastSplit" >> beam.FlatMap(split_by_shard, shards),
              "b": nxt | "NextSplit" >> beam.FlatMap(split_by_shard, shards)})
            | "CompareRounds" >> beam.CoGroupByKey()
            | "Changed" >> beam.Map(lambda kv: changed_edges(kv[1]["a"], kv[1]["b"]))
            | "CountChanged" >> beam.CombineGlobally(sum))


def shard_count_of(units, shard_bytes: int) -> int:
    """Hash shards for the run: one per `shard_bytes` of readable input files."""
    return spill.shard_count(sum(fileio.size(path) for _, path, _ in units), shard_bytes)


def build_pipeline(p: beam.Pipeline, cfg: DedupConfig, run_id: Optional[str] = None) -> None:
    """Attach the dedup pipeline to `p`; `run_id` is the output claim's (outdir.claim_output)."""
    unreadable = dict(cfg.unreadable)
    readable = [u for u in cfg.units if u[0] not in unreadable]
    count = shard_count_of(readable, cfg.shard_bytes)
    unit_pc = p | "Inputs" >> beam.Create(readable) | "SpreadInputs" >> beam.Reshuffle()
    by_file = unit_pc | "KeyByFile" >> beam.Map(lambda u: (u[0], u))
    spills = AsList(unit_pc | "Spill" >> beam.ParDo(SpillFn(cfg, count, len(readable))))
    exact_edges = (p
                   | "ExactShards" >> beam.Create(range(count))
                   | "SpreadExact" >> beam.Reshuffle()
                   | "ExactDecisions" >> beam.Map(_exact_stage, spills, cfg))
    exact_done = AsSingleton(exact_edges | "ExactDone" >> beam.combiners.Count.Globally())
    candidates_done = AsSingleton(p
                                  | "BandShards" >> beam.Create(range(count))
                                  | "SpreadBands" >> beam.Reshuffle()
                                  | "Candidates" >> beam.Map(_candidate_stage, spills, exact_done, cfg, count)
                                  | "CandidatesDone" >> beam.CombineGlobally(sum))
    near_edges = (p
                  | "VerifyShards" >> beam.Create(range(count))
                  | "SpreadVerify" >> beam.Reshuffle()
                  | "VerifyCandidates" >> beam.Map(_verify_stage, candidates_done, cfg, count))
    edges = (near_edges, exact_edges) | "AllEdges" >> beam.Flatten()
    for i in range(cfg.cc_rounds):
        edges = _star_round(_star_round(edges, f"Large{i}", large_star_arrays, count), f"Small{i}",
                            small_star_arrays, count)
    final = _star_round(_star_round(edges, "LargeCheck", large_star_arrays, count), "SmallCheck", small_star_arrays,
                        count)
    changed = _check_converged(edges, final, count)
    near = (edges
            | "MemberFiles" >> beam.FlatMap(member_files)
            | "GroupMembers" >> beam.GroupByKey()
            | "KeepKeys" >> beam.FlatMap(_member_stage, spills, cfg, count)
            | "GroupClusters" >> beam.GroupByKey()
            | "ClusterDecisions" >> beam.FlatMap(lambda kv: cluster_batch_decisions(kv[1], cfg.keep)))
    written = ({"unit": by_file, "near": near}
               | "JoinDecisions" >> beam.CoGroupByKey()
               | "Write" >> beam.ParDo(WriteFn(cfg, count), exact_done).with_outputs("stats", main="manifest"))
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
                  | {f"{shards.TEMP_DIR}/{SCRATCH_DIR}/{name}" for name in spill.scratch_patterns()}
                  | {progress_marks.output_pattern()})
