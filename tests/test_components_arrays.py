"""The array form of star-contraction connected components (dedup.components *_arrays) against the
tuple reference, round by round and for the final labels, on random graphs."""
import numpy as np
from hypothesis import given, settings, strategies as st

from dedup.components import (changed_edges, components, components_arrays, edge_array, large_star,
                              large_star_arrays, node_shard, round_input, round_pairs, small_star,
                              small_star_arrays, split_by_shard, star_round, star_round_arrays, unique_edges)

STEPS = [(large_star, large_star_arrays), (small_star, small_star_arrays)]
# Small ids collide often (long chains, repeats); the high ones look like (file << 32) | row addresses.
node_ids = st.one_of(st.integers(0, 30), st.integers(0, 3).map(lambda f: f << 32) | st.integers(0, 5))
graphs = st.lists(st.tuples(node_ids, node_ids), max_size=60)


def _as_set(edges: np.ndarray) -> set:
    return set(map(tuple, edges.tolist()))


def _oriented(edges):
    return [(max(u, v), min(u, v)) for u, v in edges if u != v]


@settings(max_examples=300, deadline=None)
@given(graphs, st.integers(1, 5))
def test_each_round_matches_reference(edges, shards):
    current = _oriented(edges)
    for _ in range(4):
        for step, array_step in STEPS:
            expected = star_round(current, step)
            parts = [star_round_arrays([rows], array_step)
                     for _, rows in split_by_shard(round_pairs(edge_array(current), array_step), shards)]
            got = np.concatenate([edge_array([]), *parts])
            assert _as_set(got) == expected
            assert all(len(p) == len(_as_set(p)) for p in parts)       # distinct within a shard
            current = sorted(expected)


@settings(max_examples=300, deadline=None)
@given(graphs, st.integers(1, 5))
def test_labels_match_reference(edges, shards):
    labels = components(edges)
    got = components_arrays(edge_array(edges), shards)
    assert {n: c for n, c in got.tolist()} == labels
    assert len(got) == len(labels)


@given(st.lists(st.tuples(node_ids, node_ids), max_size=40))
def test_star_steps_accept_repeats_and_any_pair_order(pairs):
    arr = edge_array(pairs)
    for step, array_step in STEPS:
        adj = {}
        for u, v in pairs:
            adj.setdefault(u, set()).add(v)
        expected = {e for node, nbrs in adj.items() for e in step(node, nbrs)}
        assert _as_set(array_step(np.concatenate([arr, arr[::-1]]))) == expected


def test_round_pairs_are_round_input():
    edges = [(5, 1), (7, 5), (9, 2)]
    for step, array_step in STEPS:
        got = round_pairs(edge_array(edges), array_step).tolist()
        assert sorted(map(tuple, got)) == sorted(round_input(edges, step))


def test_split_keeps_every_row_of_a_node_together_and_spreads_nodes():
    rng = np.random.default_rng(0)
    rows = np.stack([rng.integers(0, 1000, 5000), rng.integers(0, 1000, 5000)], axis=1)
    seen = {}
    for shard, part in split_by_shard(rows, 7):
        assert (node_shard(part[:, 0], 7) == shard).all()
        for n in set(part[:, 0].tolist()):
            assert seen.setdefault(n, shard) == shard
    assert sum(len(p) for _, p in split_by_shard(rows, 7)) == len(rows)
    addresses = (np.arange(4, dtype=np.int64) << 32)[:, None] + np.arange(2500, dtype=np.int64)
    counts = np.bincount(node_shard(addresses.ravel(), 16), minlength=16)
    assert counts.min() > 0.8 * counts.mean() and counts.max() < 1.2 * counts.mean()


def test_changed_edges_counts_the_symmetric_difference_of_sets():
    a = [edge_array([(2, 1), (3, 1)]), edge_array([(2, 1)])]
    b = [edge_array([(3, 1), (4, 1), (5, 1)])]
    assert changed_edges(a, b) == 3
    assert changed_edges(a, [edge_array([(3, 1), (2, 1)])]) == 0
    assert changed_edges([], []) == 0


def test_unique_edges_sorted_and_distinct():
    got = unique_edges(edge_array([(3, 1), (2, 9), (3, 1), (2, 1)]))
    assert got.tolist() == [[2, 1], [2, 9], [3, 1]]


def test_large_graph_sharded_labels_match_union_find():
    rng = np.random.default_rng(1)
    nodes = (rng.integers(0, 8, 20000) << 32) | rng.integers(0, 3000, 20000)
    edges = np.stack([nodes[:10000], nodes[10000:]], axis=1)
    labels = components(map(tuple, edges.tolist()))
    got = components_arrays(edges, 13)
    assert dict(got.tolist()) == labels
