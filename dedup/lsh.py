"""LSH banding of MinHash signatures and verification of the candidate pairs it yields.

Bands are chosen for recall at a *candidate* threshold below the dedup threshold (a pair at
Jaccard 0.8 should collide in some band almost surely); each candidate pair is then verified
by its estimated Jaccard, so one unlucky band collision cannot merge unrelated clusters.
"""
from __future__ import annotations

import hashlib
from itertools import combinations
from typing import Hashable, Sequence

import numpy as np

from dedup.minhash import estimated_jaccard

MAX_ALL_PAIRS = 64


def collision_probability(jaccard: float, bands: int, rows: int) -> float:
    """Probability that two sets of this Jaccard share at least one band."""
    return 1.0 - (1.0 - jaccard ** rows) ** bands


def choose_bands(num_perm: int, candidate_threshold: float) -> tuple[int, int]:
    """(bands, rows) with bands*rows <= num_perm whose S-curve midpoint (1/b)^(1/r) is closest
    to `candidate_threshold`; ties go to more permutations used."""
    if not 0.0 < candidate_threshold < 1.0:
        raise ValueError(f"candidate threshold must be in (0, 1), got {candidate_threshold}")
    best = None
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        midpoint = (1.0 / bands) ** (1.0 / rows)
        key = (abs(midpoint - candidate_threshold), -bands * rows)
        if best is None or key < best[0]:
            best = (key, (bands, rows))
    return best[1]


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[bytes]:
    """One key per band: band index + 8-byte digest of the band's values."""
    raw = np.ascontiguousarray(signature).tobytes()
    width = signature.itemsize * rows
    return [i.to_bytes(2, "big") + hashlib.blake2b(raw[i * width:(i + 1) * width], digest_size=8).digest()
            for i in range(bands)]


def bucket_candidates(members: Sequence[Hashable]) -> list[tuple[Hashable, Hashable]]:
    """Candidate pairs of one band bucket, (smaller id, larger id).

    Every pair for small buckets; for large ones (templates shared by thousands of pages)
    a star around the smallest id, which keeps the bucket connected in linear work.
    """
    ids = sorted(set(members))
    if len(ids) <= MAX_ALL_PAIRS:
        return list(combinations(ids, 2))
    return [(ids[0], other) for other in ids[1:]]


def estimated_containment(sig_a: np.ndarray, sig_b: np.ndarray, size_a: int, size_b: int) -> float:
    """Estimated share of A's shingles that are also in B, from the Jaccard estimate and set sizes.

    |A ∩ B| = J (|A| + |B|) / (1 + J), as LSH Ensemble does.
    """
    if size_a == 0:
        return 0.0
    j = estimated_jaccard(sig_a, sig_b)
    return min(1.0, j * (size_a + size_b) / (1.0 + j) / size_a)


def verified(sig_a: np.ndarray, sig_b: np.ndarray, threshold: float, granularity: str = "document",
             size_a: int = 0, size_b: int = 0) -> bool:
    """Candidate pair kept when its estimated Jaccard reaches the threshold (documents), or when
    one side's estimated containment in the other does (books)."""
    if granularity == "book":
        return max(estimated_containment(sig_a, sig_b, size_a, size_b),
                   estimated_containment(sig_b, sig_a, size_b, size_a)) >= threshold
    return estimated_jaccard(sig_a, sig_b) >= threshold
