"""Connected components over scratch files (pipelines.steps.dedup_clusters), round by round and shard by
shard as the pipeline runs them, against the in-memory reference on random graphs."""
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings, strategies as st

from dedup import spill
from dedup.components import components, edge_array, no_edges, node_shard
from pipelines.fileio import AtomicFile
from pipelines.steps import dedup_clusters as clusters

FILES = 4
# Small ids collide often (long chains); the high ones are (file << 32) | row addresses of FILES files.
node_ids = st.one_of(st.integers(0, 30), st.integers(0, FILES - 1).map(lambda f: f << 32) | st.integers(0, 5))
graphs = st.lists(st.tuples(node_ids, node_ids), max_size=60)


def _scratch_rounds(edges: np.ndarray, shards: int, cc_rounds: int, folder: Path, parts: int = 0
                    ) -> tuple[int, list]:
    """Run every round of every round shard (`parts` of them, default `shards`) on scratch files, round 0's
    input from two producers per shard (as the exact and verification shards hand it, by node shard over
    `shards`); (edges the checking pair changed, distinct (node, centre) rows of the members files)."""
    target, opener = (lambda n: AtomicFile(str(folder / n))), (lambda n: open(folder / n, "rb"))
    parts = parts or shards
    halves = np.array_split(edges, 2 * shards)
    for producer, part in enumerate(halves):
        clusters.write_round_input(part, 0, producer, shards, target)
    rounds = clusters.round_count(cc_rounds)
    for r in range(rounds):
        producers = 2 * shards if r == 0 else parts
        for shard in range(parts):
            clusters.star_round_shard(shard, r, producers, shards, FILES, rounds, opener, target, parts)
    changed = sum(clusters.changed_shard(s, parts, opener) for s in range(parts))
    members = set()
    for f in range(FILES):
        for p in range(parts):
            rows = spill.read_edges(clusters.edges_name("members", p), f, opener)
            assert (rows[:, 0] >> 32 == f).all()       # each member in its own file's partition
            members.update(map(tuple, rows.tolist()))
    return changed, sorted(members)


@settings(max_examples=150, deadline=None)
@given(graphs, st.integers(1, 7), st.integers(1, 7))
def test_scratch_rounds_find_the_reference_components(pairs, shards, parts):
    """Whatever the hash shards and however few round shards they fold into."""
    oriented = edge_array([(max(u, v), min(u, v)) for u, v in pairs if u != v])
    with tempfile.TemporaryDirectory() as tmp:
        changed, members = _scratch_rounds(oriented, shards, 8, Path(tmp), min(parts, shards))
    assert changed == 0
    assert len({node for node, _ in members}) == len(members)    # one centre per node
    assert dict(members) == components(oriented.tolist())


def test_too_few_rounds_leave_edges_changing():
    chain = edge_array([(i + 1, i) for i in range(40)])
    with tempfile.TemporaryDirectory() as tmp:
        assert _scratch_rounds(chain, 3, 1, Path(tmp))[0] > 0
        assert _scratch_rounds(chain, 3, 8, Path(tmp))[0] == 0


def test_an_empty_graph_has_no_members():
    with tempfile.TemporaryDirectory() as tmp:
        assert _scratch_rounds(no_edges(), 2, 2, Path(tmp)) == (0, [])


def test_round_shards_fold_contiguous_ranges_of_node_shards_and_grow_with_the_edges():
    nodes = np.arange(5000, dtype=np.int64) * 7919
    for shards, parts in ((10, 3), (4096, 7), (5, 5), (3, 1)):
        fine, folded = node_shard(nodes, shards), clusters.round_partition(nodes, shards, parts)
        ranges = [spill.folded_range(c, parts, shards) for c in range(parts)]
        assert ranges[0][0] == 0 and ranges[-1][1] == shards
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))     # they tile 0 .. shards
        for c, (lo, hi) in enumerate(ranges):
            assert ((folded == c) == ((fine >= lo) & (fine < hi))).all()
    per = clusters.COMPONENT_SHARD_EDGES
    assert [clusters.component_shards(e, 64) for e in (0, 1, per, per + 1, 10 * per, 10 ** 12)] == [1, 1, 1, 2, 10, 64]
