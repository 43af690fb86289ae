"""LSH banding of MinHash signatures and verification of the candidate pairs it yields.

Bands are chosen for recall at a *candidate* threshold below the dedup threshold (a pair at
Jaccard 0.8 should collide in some band almost surely); each candidate pair is then verified
by its exact Jaccard (or containment) on the two documents' shingle-hash sets, so neither an
unlucky band collision nor the 128-permutation estimate's noise near the threshold decides.
"""
from __future__ import annotations

import hashlib
from itertools import combinations
from typing import Hashable, Sequence

import numpy as np

try:
    from dedup._shingle import intersections as _intersections
except ImportError:  # the C extension is optional (setup.py); numpy does the same, slower
    _intersections = None

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


def band_digests(signature: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint64 per band: the 8-byte BLAKE2b digest of the band's values (read little-endian)."""
    raw = np.ascontiguousarray(signature).tobytes()
    width = signature.itemsize * rows
    digests = b"".join(hashlib.blake2b(raw[i * width:(i + 1) * width], digest_size=8).digest() for i in range(bands))
    return np.frombuffer(digests, dtype="<u8")


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[bytes]:
    """One key per band: band index + 8-byte digest of the band's values (as `band_digests`)."""
    return [i.to_bytes(2, "big") + int(d).to_bytes(8, "little")
            for i, d in enumerate(band_digests(signature, bands, rows).tolist())]


def bucket_candidates(members: Sequence[Hashable]) -> list[tuple[Hashable, Hashable]]:
    """Candidate pairs of one band bucket, (smaller id, larger id).

    Every pair for small buckets; for large ones (templates shared by thousands of pages)
    a star around the smallest id, which keeps the bucket connected in linear work.
    """
    ids = sorted(set(members))
    if len(ids) <= MAX_ALL_PAIRS:
        return list(combinations(ids, 2))
    return [(ids[0], other) for other in ids[1:]]


def intersection_size(a: np.ndarray, b: np.ndarray) -> int:
    """Number of values two sorted arrays of unique values share."""
    if a.size > b.size:
        a, b = b, a
    if not a.size:
        return 0
    pos = np.minimum(np.searchsorted(b, a), b.size - 1)
    return int(np.count_nonzero(b[pos] == a))


def verified(a: np.ndarray, b: np.ndarray, threshold: float, granularity: str = "document") -> bool:
    """Candidate pair kept when the exact Jaccard of its shingle-hash sets (sorted, unique) reaches the
    threshold (documents), or the share of the smaller set found in the other does (books)."""
    shared = np.array([intersection_size(a, b)])
    return bool(passes(shared, np.array([a.size]), np.array([b.size]), threshold, granularity)[0])


def passes(shared: np.ndarray, size_a: np.ndarray, size_b: np.ndarray, threshold: float,
           granularity: str = "document") -> np.ndarray:
    """`verified`'s rule on arrays: shared values and the two set sizes per pair -> kept per pair."""
    shared = shared.astype(np.float64)
    if granularity == "book":
        smaller = np.minimum(size_a, size_b)
        return (smaller > 0) & (shared / np.maximum(smaller, 1) >= threshold)
    union = size_a + size_b - shared
    return (union > 0) & (shared / np.maximum(union, 1) >= threshold)


def shared_counts(values: np.ndarray, offsets: np.ndarray, pairs: np.ndarray, native: bool = True) -> np.ndarray:
    """Values each pair of sets shares (int64 per pair): set i is values[offsets[i]:offsets[i + 1]], sorted
    and unique; pairs are (n, 2) set indexes. A C merge per pair (dedup/_shingle.c), or numpy when
    `native` is False or the extension is missing."""
    values = np.ascontiguousarray(values, dtype="<u4")
    offsets = np.ascontiguousarray(offsets, dtype="<i8")
    pairs = np.ascontiguousarray(pairs, dtype="<i8").reshape(-1, 2)
    if native and _intersections is not None:
        return np.frombuffer(_intersections(values, offsets, pairs), dtype="<i8")
    if pairs.size and (pairs.min() < 0 or pairs.max() >= offsets.size - 1):
        raise ValueError(f"shared_counts: pair indexes outside the {offsets.size - 1} sets")
    return np.array([intersection_size(values[offsets[i]:offsets[i + 1]], values[offsets[j]:offsets[j + 1]])
                     for i, j in pairs.tolist()], dtype=np.int64)
