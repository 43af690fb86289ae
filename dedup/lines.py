"""CCNet line dedup: 64-bit line hashes, the global duplicate decision, and its application.

A line's hash is the first 8 bytes of SHA-1 of its `normalize_for_dedup` form, read as a
little-endian uint64 (cc_net/dedup.py), so hash sets interoperate with cc_net's.

Modes:
- `ccnet`: a line whose hash occurs in two or more documents is removed from all of them
  (the paper's setting); inside one document only the first occurrence is kept.
- `keep-first`: a line is kept only in the earliest document (in input order) containing it.
"""
from __future__ import annotations

import hashlib

import numpy as np

from corpus.normalize import normalize_for_dedup, normalize_joined_for_dedup

try:
    from dedup._shingle import sha1_lines as _sha1_lines
except ImportError:  # built by `pip install`; the hashlib path gives the same values
    _sha1_lines = None

MODES = ("ccnet", "keep-first")


def line_hash(line: str) -> int:
    """64-bit CCNet hash of one line."""
    digest = hashlib.sha1(normalize_for_dedup(line).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def line_hashes(lines: list[str], native: bool = True) -> np.ndarray:
    """uint64 hashes of lines, in order: the normalised lines are hashed as one joined buffer in C
    (dedup/_shingle.c), or with hashlib when `native` is False or the extension is missing."""
    if not lines:
        return np.zeros(0, dtype=np.uint64)
    joined = normalize_joined_for_dedup(lines)
    if native and _sha1_lines is not None:
        digests = _sha1_lines(joined)
    else:
        sha1 = hashlib.sha1
        digests = b"".join(sha1(line).digest()[:8] for line in joined.split(b"\n"))
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64, copy=False)


def first_occurrences(hashes: np.ndarray) -> np.ndarray:
    """Boolean mask: True where a hash appears for the first time within this array."""
    mask = np.zeros(hashes.size, dtype=bool)
    if hashes.size:
        _, first = np.unique(hashes, return_index=True)
        mask[first] = True
    return mask


def decide_duplicates(doc_keys: np.ndarray, hashes: np.ndarray, mode: str) -> np.ndarray:
    """Given (document, hash) pairs, unique per document, mark the pairs whose line is dropped.

    `doc_keys` are int64 positions of the documents in the global input order; all pairs of
    a hash must be present (they are: the caller partitions by hash). Returns a bool mask.
    """
    if mode not in MODES:
        raise ValueError(f"unknown line dedup mode {mode!r}; choose one of {', '.join(MODES)}")
    if hashes.size == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((doc_keys, hashes))
    sorted_hashes = hashes[order]
    starts = np.ones(sorted_hashes.size, dtype=bool)
    starts[1:] = sorted_hashes[1:] != sorted_hashes[:-1]
    if mode == "ccnet":
        group_id = np.cumsum(starts) - 1
        counts = np.bincount(group_id)
        drop_sorted = counts[group_id] >= 2
    else:
        drop_sorted = ~starts
    drop = np.empty_like(drop_sorted)
    drop[order] = drop_sorted
    return drop


def apply_line_dedup(lines: list[str], hashes: np.ndarray, dropped: set[int]) -> list[str]:
    """Lines kept: not a globally dropped hash, and the first occurrence inside the document."""
    keep = first_occurrences(hashes)
    return [line for line, h, k in zip(lines, hashes.tolist(), keep) if k and h not in dropped]
