"""Connected components by alternating large-star and small-star rounds (Kiveris et al., 2014).

Each round is a function of one node and its neighbours, so a distributed engine runs it as
one group-by-node; O(log^2 n) rounds reach a star per component whose centre is the
component's smallest node. Node ids must be totally ordered (strings or ints).
"""
from __future__ import annotations

from typing import Hashable, Iterable, Iterator

Edge = tuple[Hashable, Hashable]


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
