"""`llamapipe dedup`: exact and MinHash-LSH near-duplicate removal, every step distributed.

1. exact: hash of the CCNet-normalised text, GroupByKey, best member kept;
2. MinHash signatures of the survivors (per input file), one (band key, document) per LSH band;
3. GroupByKey per band bucket gives candidate pairs; two joins bring each pair's signatures
   together (signatures never travel with the band entries) and verification makes edges;
4. connected components by alternating large-star / small-star rounds, each a GroupByKey;
5. per cluster (GroupByKey by centre) the best member is kept;
6. per input file the decisions are applied: shards keep the input layout, cluster rows go
   to OUT/_clusters.parquet/part-NNNNN.parquet; then _stats.json, _manifest.json, _SUCCESS.
No step gathers all signatures or all edges on one worker.
"""
from __future__ import annotations

import glob
import os
import sys
from typing import Any, Optional, Tuple

import apache_beam as beam
import pyarrow as pa

from corpus import shards
from corpus.paths import canonical, is_url
from corpus.readers import stream_documents
from dedup.components import large_star, round_input, small_star
from dedup.lsh import bucket_candidates
from dedup.minhash import MinHasher
from pipelines import fileio
from pipelines.commit import commit
from pipelines.steps.dedup import (DedupConfig, apply_decisions, band_entries, cluster_decisions, exact_decisions,
                                   exact_entries, half_pairs, merge_decisions, verify_halves)

CLUSTERS_DIR = "_clusters.parquet"
CLUSTER_SCHEMA = pa.schema([("id", pa.string()), ("cluster_id", pa.string()), ("kept", pa.bool_()),
                            ("reason", pa.string())])


class ExactKeysFn(beam.DoFn):
    """Exact-stage entries (exact key or id key, member) of one input file."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg

    def process(self, unit):
        file_idx, path, _ = unit
        yield from exact_entries(stream_documents(path, fileio.open_raw), path, file_idx, self.cfg)


class SignaturesFn(beam.DoFn):
    """Band entries (main output) and signatures (tagged 'sig') of a file's exact survivors."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg

    def setup(self):
        self.hasher = MinHasher(self.cfg.num_perm, self.cfg.seed)

    def process(self, item):
        file_idx, grouped = item
        units = list(grouped["unit"])
        if not units:
            return
        _, path, _ = units[0]
        dropped = {row for row, reason, _ in grouped["exact"] if reason == "exact_duplicate"}
        for tag, value in band_entries(stream_documents(path, fileio.open_raw), path, file_idx, self.cfg, dropped, self.hasher):
            yield value if tag == "band" else beam.pvalue.TaggedOutput(tag, value)


class WriteFn(beam.DoFn):
    """Apply one file's decisions; write its shard and its cluster rows; yield manifest entries."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg
        self.out = cfg.out

    def process(self, item):
        file_idx, grouped = item
        units = list(grouped["unit"])
        if not units:
            return
        _, path, rel = units[0]
        decisions = merge_decisions(list(grouped["exact"]), list(grouped["near"]))
        result = apply_decisions(stream_documents(path, fileio.open_raw), path, self.cfg, decisions)
        data = shards.documents_parquet(result.documents)
        fileio.write_atomic(fileio.under(self.out, rel), data)
        yield shards.manifest_entry(rel, data, len(result.documents))
        if result.clusters:
            cdata = shards.parquet_bytes(pa.Table.from_pylist(result.clusters, schema=CLUSTER_SCHEMA))
            crel = f"{CLUSTERS_DIR}/{shards.part_name(file_idx)}"
            fileio.write_atomic(fileio.join(self.out, crel), cdata)
            yield shards.manifest_entry(crel, cdata, len(result.clusters))
        yield beam.pvalue.TaggedOutput("stats", result.counters)


def _star_round(edges, label: str, step):
    """One large-star or small-star round over an edge PCollection (dedup.components)."""
    return (edges
            | f"{label}Key" >> beam.FlatMap(lambda e: round_input([e], step))
            | f"{label}Group" >> beam.GroupByKey()
            | f"{label}Step" >> beam.FlatMap(lambda kv: step(kv[0], kv[1]))
            | f"{label}Distinct" >> beam.Distinct())


def _check_converged(last, nxt):
    """Number of edges that one more round would still change (0 when converged)."""
    return (({"a": last | "LastKey" >> beam.Map(lambda e: (e, 1)),
              "b": nxt | "NextKey" >> beam.Map(lambda e: (e, 1))})
            | "CompareRounds" >> beam.CoGroupByKey()
            | "Changed" >> beam.Map(lambda kv: int(bool(kv[1]["a"]) != bool(kv[1]["b"])))
            | "CountChanged" >> beam.CombineGlobally(sum))


def build_pipeline(p: beam.Pipeline, cfg: DedupConfig, run_id: Optional[str] = None) -> None:
    """Attach the dedup pipeline to `p`; `run_id` is the output claim's (outdir.claim_output)."""
    unreadable = dict(cfg.unreadable)
    readable = [u for u in cfg.units if u[0] not in unreadable]
    unit_pc = p | "Inputs" >> beam.Create(readable) | "SpreadInputs" >> beam.Reshuffle()
    by_file = unit_pc | "KeyByFile" >> beam.Map(lambda u: (u[0], u))
    entries = unit_pc | "ExactKeys" >> beam.ParDo(ExactKeysFn(cfg))
    scores = entries | "KeepScores" >> beam.Map(lambda kv: (kv[1][0], kv[1][1:]))  # node -> (keep key, id)
    exact = (entries
             | "GroupExact" >> beam.GroupByKey()
             | "ExactDecisions" >> beam.FlatMap(lambda kv: exact_decisions(list(kv[1]))))
    sig = ({"unit": by_file, "exact": exact}
           | "JoinExact" >> beam.CoGroupByKey()
           | "Signatures" >> beam.ParDo(SignaturesFn(cfg)).with_output_types(Tuple[Any, Any])
           .with_outputs("sig", main="bands"))
    candidates = (sig.bands
                  | "GroupBands" >> beam.GroupByKey()
                  | "BucketCandidates" >> beam.FlatMap(lambda kv: bucket_candidates(list(kv[1])))
                  | "DistinctCandidates" >> beam.Distinct())
    halves = ({"pair": candidates, "sig": sig.sig}
              | "JoinFirstSignature" >> beam.CoGroupByKey()
              | "SendSignature" >> beam.FlatMap(lambda kv: half_pairs(kv[0], kv[1])))
    edges = ({"half": halves, "sig": sig.sig}
             | "JoinSecondSignature" >> beam.CoGroupByKey()
             | "VerifyCandidates" >> beam.FlatMap(
                 lambda kv: verify_halves(kv[0], kv[1], cfg.threshold, cfg.granularity)))
    for i in range(cfg.cc_rounds):
        edges = _star_round(_star_round(edges, f"Large{i}", large_star), f"Small{i}", small_star)
    final = _star_round(_star_round(edges, "LargeCheck", large_star), "SmallCheck", small_star)
    changed = _check_converged(edges, final)
    members = (edges
               | "BothEnds" >> beam.FlatMap(lambda e: [(e[0], e[1]), (e[1], e[1])])
               | "DistinctMembers" >> beam.Distinct())
    near = (({"centre": members, "score": scores})
            | "JoinScores" >> beam.CoGroupByKey()
            | "ByCentre" >> beam.FlatMap(lambda kv: [(c, (kv[0], *s)) for c in kv[1]["centre"]
                                                     for s in kv[1]["score"]])
            | "GroupClusters" >> beam.GroupByKey()
            | "ClusterDecisions" >> beam.FlatMap(lambda kv: cluster_decisions(
                [(node, key, doc_id) for node, key, doc_id in kv[1]])))
    written = ({"unit": by_file, "exact": exact, "near": near}
               | "JoinDecisions" >> beam.CoGroupByKey()
               | "Write" >> beam.ParDo(WriteFn(cfg)).with_outputs("stats", main="manifest"))
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
                  | {f"{CLUSTERS_DIR}/part-*.parquet"})
