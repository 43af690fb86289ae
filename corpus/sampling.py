"""Deterministic uniform sampling of documents without replacement, distributable.

Each document gets a pseudo-random 64-bit key from (seed, id); the n smallest keys of a source
are a uniform sample of n of its documents, the same whatever the order, sharding or number of
workers that computed them (bottom-k sampling).
"""
from __future__ import annotations

import hashlib


def sample_key(seed: int, doc_id: str) -> int:
    """64-bit sampling key of a document: the n smallest keys form the sample."""
    h = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8, key=str(seed).encode("ascii"))
    return int.from_bytes(h.digest(), "big")


def source_quotas(total: int, proportions: dict[str, float]) -> dict[str, int]:
    """Split `total` documents over sources by proportion (largest remainder, ties by name)."""
    raw = {s: total * p for s, p in proportions.items()}
    quotas = {s: int(v) for s, v in raw.items()}
    left = total - sum(quotas.values())
    for s in sorted(raw, key=lambda s: (quotas[s] - raw[s], s))[:left]:
        quotas[s] += 1
    return quotas
