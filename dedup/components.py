"""Connected components by alternating large-star and small-star rounds (Kiveris et al., 2014).

Each round is a function of one node and its neighbours, so a distributed engine runs it as
one group-by-node; O(log^2 n) rounds reach a star per component whose centre is the
component's smallest node. Node ids must be totally ordered (strings or ints).

The `*_arrays` functions do the same on int64 node ids held as (k, 2) numpy arrays, so that a
pipeline carries a round's edges as one batch per node shard instead of one element per edge; the
tuple functions stay as their reference.
"""
from __future__ import annotations

from typing import Callable, Hashable, Iterable, Iterator

import numpy as np

Edge = tuple[Hashable, Hashable]
ArrayStep = Callable[[np.ndarray], np.ndarray]


def large_star(node: Hashable, neighbours: Iterable[Hashable]) -> Iterator[Edge]:
    """Connect every larger neighbour of `node` to the smallest of node and its neighbours."""
    nbrs = set(neighbours)
    m = min(nbrs | {node})
    for v in nbrs:
        if v > node and v != m:
            yield (v, m)


def small_star(node: Hashable, neighbours: Iterable[Hashable]) -> Iterator[Edge]:
    """Connect node and its smaller-or-equal neighbours to the smallest among them."""
    smaller = {v for v in neighbours if v <= node}
    m = min(smaller | {node})
    for v in smaller | {node}:
        if v != m:
            yield (v, m)


def both_directions(edges: Iterable[Edge]) -> Iterator[Edge]:
    for u, v in edges:
        yield (u, v)
        yield (v, u)


def round_input(edges: Iterable[Edge], step) -> Iterator[Edge]:
    """The (node, neighbour) pairs a round groups by node: both directions for large-star, (larger,
    smaller) for small-star."""
    return both_directions(edges) if step is large_star else ((max(u, v), min(u, v)) for u, v in edges)


def star_round(edges: Iterable[Edge], step) -> set[Edge]:
    """One round done in memory (reference for tests): group by node, apply `step`."""
    adj: dict[Hashable, set] = {}
    for u, v in round_input(edges, step):
        adj.setdefault(u, set()).add(v)
    return {e for node, nbrs in adj.items() for e in step(node, nbrs)}


def labels_from_stars(edges: Iterable[Edge]) -> dict[Hashable, Hashable]:
    """After convergence every edge is (node, centre): node -> centre (centres map to themselves)."""
    out: dict[Hashable, Hashable] = {}
    for u, v in edges:
        lo, hi = min(u, v), max(u, v)
        out[hi] = min(out.get(hi, lo), lo)
        out.setdefault(lo, lo)
    return out


def components(edges: Iterable[Edge], max_rounds: int = 64) -> dict[Hashable, Hashable]:
    """node -> smallest node of its component, by alternating rounds until nothing changes."""
    current = {(max(u, v), min(u, v)) for u, v in edges if u != v}
    for _ in range(max_rounds):
        nxt = star_round(star_round(current, large_star), small_star)
        if nxt == current:
            return labels_from_stars(current)
        current = nxt
    raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")


def no_edges() -> np.ndarray:
    """An empty (0, 2) int64 edge array."""
    return np.empty((0, 2), dtype=np.int64)


def edge_array(edges: Iterable[Edge]) -> np.ndarray:
    """(k, 2) int64 array of int edges (a list of pairs, or an array already)."""
    return np.asarray(edges, dtype=np.int64).reshape(-1, 2)


def unique_edges(edges: np.ndarray) -> np.ndarray:
    """The distinct rows of a (k, 2) int64 array, sorted by first then second column."""
    if len(edges) < 2:
        return edge_array(edges)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    e = edges[order]
    new = np.ones(len(e), dtype=bool)
    new[1:] = (e[1:, 0] != e[:-1, 0]) | (e[1:, 1] != e[:-1, 1])
    return e[new]


def _by_node(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(nodes, neighbours) sorted by node, each group's start and size."""
    order = np.argsort(pairs[:, 0], kind="stable")
    nodes, nbrs = pairs[order, 0], pairs[order, 1]
    new = np.ones(len(nodes), dtype=bool)
    new[1:] = nodes[1:] != nodes[:-1]
    starts = np.flatnonzero(new)
    return nodes, nbrs, starts, np.diff(np.append(starts, len(nodes)))


def large_star_arrays(pairs: np.ndarray) -> np.ndarray:
    """`large_star` of every node in `pairs` ((node, neighbour) rows, all of each node's present;
    repeats allowed): the distinct output edges, as a (k, 2) array."""
    if not len(pairs):
        return no_edges()
    nodes, nbrs, starts, sizes = _by_node(pairs)
    least = np.minimum(np.minimum.reduceat(nbrs, starts), nodes[starts])
    m = np.repeat(least, sizes)
    keep = (nbrs > nodes) & (nbrs != m)
    return unique_edges(np.stack([nbrs[keep], m[keep]], axis=1))


def small_star_arrays(pairs: np.ndarray) -> np.ndarray:
    """`small_star` of every node in `pairs` ((node, neighbour) rows, all of each node's present;
    repeats allowed): the distinct output edges, as a (k, 2) array."""
    if not len(pairs):
        return no_edges()
    nodes, nbrs, starts, sizes = _by_node(pairs)
    smaller = nbrs <= nodes
    least = np.minimum.reduceat(np.where(smaller, nbrs, nodes), starts)
    m = np.repeat(least, sizes)
    own = nodes[starts]
    keep = smaller & (nbrs != m)
    centred = own != least
    return unique_edges(np.concatenate([np.stack([nbrs[keep], m[keep]], axis=1),
                                        np.stack([own[centred], least[centred]], axis=1)]))


def round_pairs(edges: np.ndarray, step: ArrayStep) -> np.ndarray:
    """`round_input` of an edge array: the (node, neighbour) rows that `step` groups by node."""
    if step is large_star_arrays:
        return np.concatenate([edges, edges[:, ::-1]])
    return np.stack([edges.max(axis=1), edges.min(axis=1)], axis=1) if len(edges) else no_edges()


def node_shard(nodes: np.ndarray, shards: int) -> np.ndarray:
    """Shard of each int64 node id: a well-mixed 64-bit hash (splitmix64's finaliser) modulo `shards`, so
    that consecutive ids, which share a file, spread evenly."""
    x = nodes.astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return ((x ^ (x >> np.uint64(31))) % np.uint64(shards)).astype(np.int64)


def split_by_shard(rows: np.ndarray, shards: int) -> Iterator[tuple[int, np.ndarray]]:
    """(shard, rows) for every shard holding some of a (k, 2) array's rows, by `node_shard` of the first
    column (so every row of a node, and every copy of an edge, lands in one shard)."""
    return rows_by_key(rows, node_shard(rows[:, 0], shards))


def rows_by_key(rows: np.ndarray, keys: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(key, its rows in their order) for every distinct int key of `rows` (one key per row, rows along
    the first axis), by key."""
    if not len(rows):
        return
    order = np.argsort(keys, kind="stable")
    keys, rows = keys[order], rows[order]
    cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(rows)]):
        yield int(keys[lo]), rows[lo:hi]


def shard_round_input(edges: np.ndarray, step: ArrayStep, shards: int) -> Iterator[tuple[int, np.ndarray]]:
    """(shard, its (node, neighbour) rows) of a batch of edges for one round: each node's rows all land
    in the node's shard, so a group by shard holds every neighbour of its nodes (the in-memory sharding of
    `components_arrays`; the pipeline writes the same partitions as scratch, pipelines/steps/dedup_clusters.py)."""
    return split_by_shard(round_pairs(edges, step), shards)


def star_round_arrays(batches: Iterable[np.ndarray], step: ArrayStep) -> np.ndarray:
    """One round over one shard's (node, neighbour) batches: the distinct output edges."""
    parts = [b for b in batches if len(b)]
    return step(np.concatenate(parts)) if parts else no_edges()


def changed_edges(last: Iterable[np.ndarray], nxt: Iterable[np.ndarray]) -> int:
    """How many distinct edges are in one of two edge sets (batches of one shard) but not the other."""
    a = unique_edges(np.concatenate([no_edges(), *last]))
    b = unique_edges(np.concatenate([no_edges(), *nxt]))
    both = unique_edges(np.concatenate([a, b]))
    return 2 * len(both) - len(a) - len(b)


def star_members(edges: np.ndarray) -> np.ndarray:
    """(node, centre) rows of converged star edges (node, centre), centres mapped to themselves
    (repeats kept: a later `unique_edges` drops them)."""
    return np.concatenate([edges, np.stack([edges[:, 1], edges[:, 1]], axis=1)])


def components_arrays(edges: np.ndarray, shards: int = 1, max_rounds: int = 64) -> np.ndarray:
    """(node, smallest node of its component) rows of every node with an edge, sorted, by the sharded
    array rounds a pipeline runs (reference for tests of the sharding)."""

    def sharded_round(current: np.ndarray, step: ArrayStep) -> np.ndarray:
        by_shard: dict[int, list[np.ndarray]] = {}
        for shard, rows in shard_round_input(current, step, shards):
            by_shard.setdefault(shard, []).append(rows)
        return np.concatenate([no_edges(), *(star_round_arrays(b, step) for b in by_shard.values())])

    current = edge_array(edges)
    current = unique_edges(round_pairs(current[current[:, 0] != current[:, 1]], small_star_arrays))
    for _ in range(max_rounds):
        nxt = sharded_round(sharded_round(current, large_star_arrays), small_star_arrays)
        if not changed_edges([current], [nxt]):
            return unique_edges(star_members(current))
        current = nxt
    raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
