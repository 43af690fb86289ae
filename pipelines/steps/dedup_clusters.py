"""Connected components, cluster members and near-duplicate decisions of `llamapipe dedup`, shard by shard
over scratch files (no Beam).

The local Beam runner keeps every shuffled element in its launcher's memory, so after verification nothing
of size proportional to the corpus goes through Beam: each step reads its slice of the previous step's
scratch files (dedup/spill.py) and writes its own, and Beam carries counts and small summaries.
Round r of connected components (large-star for even r, small-star for odd, dedup.components) reads the
(node, neighbour) records of its node shard from every producer of round r - 1 (round 0's producers are
the exact and verification shards) and writes its output edges as round r + 1's input. The rounds are
`cc_rounds` pairs and one more pair whose output, compared with the last pair's, shows convergence.

Every round reads a file from each producer, so rounds over all of the run's `shards` would cost
rounds x shards^2 opens (436 million at 4,096 shards) for a graph far smaller than the input. The rounds
therefore run over `parts` node shards sized by the edges round 0 gets (`component_shards`): round 0's
producers write by `node_shard` over `shards`, and round shard c reads the contiguous range of those
partitions that folds into it (`round_partition`), so the producers need not know `parts`.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from corpus.document import file_of
from corpus.shards import Target
from dedup import spill
from dedup.components import (ArrayStep, changed_edges, large_star_arrays, no_edges, node_shard, round_pairs,
                              small_star_arrays, star_members, star_round_arrays, unique_edges)
from pipelines.steps.dedup import (DECISION_SCHEMA, MEMBER_SCHEMA, cluster_batch_decisions, decision_rows,
                                   member_batches)


# Round-0 edges per node shard of the rounds: a round task then holds ~2**20 (node, neighbour) rows, about
# what a verification task holds.
COMPONENT_SHARD_EDGES = 1 << 19


def component_shards(edges: int, shards: int) -> int:
    """Node shards of the components rounds for `edges` round-0 edges: one per COMPONENT_SHARD_EDGES, at
    least 1 and at most the run's `shards`."""
    return spill.fold_count(edges, COMPONENT_SHARD_EDGES, shards)


def round_partition(nodes: np.ndarray, shards: int, parts: int) -> np.ndarray:
    """Round node shard (of `parts`) of each node: its `node_shard` over `shards` folded into `parts`
    contiguous ranges (spill.fold), so round shard c is `spill.folded_range(c)` of a file partitioned
    over `shards`."""
    return spill.fold(node_shard(nodes, shards), shards, parts)


def round_count(cc_rounds: int) -> int:
    """Rounds of a run: `cc_rounds` large-star/small-star pairs and the pair that checks convergence."""
    return 2 * cc_rounds + 2


def step_of(r: int) -> ArrayStep:
    """Round r's step: large-star for even rounds, small-star for odd ones."""
    return large_star_arrays if r % 2 == 0 else small_star_arrays


def round_name(r: int, producer: int) -> str:
    """Round r's input from one producer (a shard of round r - 1, or of the exact and verification steps)."""
    return f"cc-{r:03d}-{producer:05d}.spill"


def edges_name(tag: str, producer: int) -> str:
    """Edges of a round that later steps read: tag 'stars' (the last of the `cc_rounds` pairs), 'check'
    (the checking pair) or 'members' ((node, centre) rows of the stars, by input file)."""
    return f"{tag}-{producer:05d}.spill"


def keys_name(file_idx: int) -> str:
    """One input file's cluster members with their keep-key fields, a table per centre shard."""
    return f"keys-{file_idx:05d}.spill"


def near_name(shard: int) -> str:
    """One centre shard's near-duplicate decisions, a table per input file."""
    return f"near-{shard:05d}.spill"


def scratch_patterns() -> list[str]:
    """Glob patterns of every scratch file name above (for the run's output claim)."""
    return ["cc-*.spill", "stars-*.spill", "check-*.spill", "members-*.spill", "keys-*.spill", "near-*.spill"]


def write_round_input(edges: np.ndarray, r: int, producer: int, shards: int,
                      open_target: Callable[[str], Target], parts: Optional[int] = None) -> None:
    """Hand `edges` ((k, 2) int64) to round r: the (node, neighbour) rows its step groups, by node shard over
    `shards` (round 0's producers) or by round shard of `parts` (`round_partition`; the rounds)."""
    pairs = round_pairs(edges, step_of(r)) if len(edges) else no_edges()
    _write_by_node(round_name(r, producer), pairs, shards, parts, open_target)


def _write_by_node(name: str, rows: np.ndarray, shards: int, parts: Optional[int],
                   open_target: Callable[[str], Target]) -> None:
    """Rows by `round_partition` of their first node into `parts` (default `shards`: plain `node_shard`)."""
    parts = shards if parts is None else parts
    spill.write_edges(name, rows, round_partition(rows[:, 0], shards, parts), parts, open_target)


def star_round_shard(shard: int, r: int, producers: int, shards: int, files: int, rounds: int,
                     open_file: spill.Opener, open_target: Callable[[str], Target],
                     parts: Optional[int] = None) -> int:
    """Round r over one of `parts` round shards (default `shards`): its rows from each of round r - 1's
    `producers` (round 0: the folded range of their `shards` partitions), the step's distinct output edges
    written as round r + 1's input (and, after the last counted pair and the checking pair, by first node
    for the convergence check, and as members by input file); how many edges."""
    parts = shards if parts is None else parts
    lo, hi = spill.folded_range(shard, parts, shards) if r == 0 else (shard, shard + 1)
    edges = star_round_arrays([spill.read_edge_range(round_name(r, p), lo, hi, open_file)
                               for p in range(producers)], step_of(r))
    if r + 1 < rounds:
        write_round_input(edges, r + 1, shard, shards, open_target, parts)
    if r in (rounds - 3, rounds - 1):
        _write_by_node(edges_name("stars" if r == rounds - 3 else "check", shard), edges, shards, parts,
                       open_target)
    if r == rounds - 3:
        members = unique_edges(star_members(edges))
        spill.write_edges(edges_name("members", shard), members, file_of(members[:, 0]), files, open_target)
    return len(edges)


def changed_shard(shard: int, parts: int, open_file: spill.Opener) -> int:
    """Edges of one of `parts` round shards that the checking pair of rounds still changed (0 once converged)."""
    return changed_edges([spill.read_edges(edges_name("stars", p), shard, open_file) for p in range(parts)],
                         [spill.read_edges(edges_name("check", p), shard, open_file) for p in range(parts)])


def member_keys_file(spill_of: spill.FileSpill, shards: int, open_file: spill.Opener,
                     open_target: Callable[[str], Target], parts: Optional[int] = None
                     ) -> tuple[int, tuple[int, ...]]:
    """One input file's cluster members (from each of the `parts` round shards, default `shards`) with the
    fields of their keep keys (MEMBER_SCHEMA), written as one table per shard of their centre over
    `shards` (spill.save_tables); (file index, those shards)."""
    parts = shards if parts is None else parts
    members = [spill.read_edges(edges_name("members", p), spill_of.file_idx, open_file) for p in range(parts)]
    if not sum(len(m) for m in members):
        return spill_of.file_idx, ()
    groups = list(member_batches(members, spill_of, shards, open_file))
    return spill_of.file_idx, spill.save_tables(keys_name(spill_of.file_idx), groups, shards, MEMBER_SCHEMA,
                                                open_target)


def cluster_shard(shard: int, keys: Sequence[tuple[int, tuple[int, ...]]], rule: str, files: int,
                  open_file: spill.Opener, open_target: Callable[[str], Target]) -> tuple[int, tuple[int, ...]]:
    """Decisions of the clusters whose centre is in one shard, from every file's members there, written as
    one table (DECISION_SCHEMA) per input file (of `files`); (shard, those files)."""
    tables = [spill.read_table(keys_name(f), shard, MEMBER_SCHEMA, open_file) for f, groups in sorted(keys)
              if shard in groups]
    if not tables:
        return shard, ()
    by_file = list(cluster_batch_decisions(tables, rule))
    return shard, spill.save_tables(near_name(shard), by_file, files, DECISION_SCHEMA, open_target)


def file_near_decisions(file_idx: int, near: Iterable[tuple[int, tuple[int, ...]]], open_file: spill.Opener
                        ) -> list[tuple[int, str, str]]:
    """(row, reason, cluster id) of one input file's near-duplicate decisions, from every shard's scratch."""
    return decision_rows(spill.read_table(near_name(shard), file_idx, DECISION_SCHEMA, open_file)
                         for shard, files in sorted(near) if file_idx in files)
