"""The CCNet web pipeline's per-file steps as plain functions (no Beam), so they run anywhere.

pipelines/ccnet.py wires them: hash lines of every file, decide duplicate lines per hash
shard, then process each file (apply dedup, LID, perplexity), then bucket and write.
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import logging
from typing import Iterator, Optional

import numpy as np

from corpus import stats as st
from corpus.document import Document
from corpus.readers import wet_document
from corpus.wet import Fault, read_wet, report_fault
from dedup.lines import apply_line_dedup, decide_duplicates, line_hashes

DOC_ORD_BITS = 32
LOG = logging.getLogger("llamapipe.ccnet")
# CommonCrawl truncates every fetched payload at 1 MiB, so no real page's text comes near this;
# perplexity scoring needs ~40 bytes of memory per character, ~80 MB for a document this long.
DEFAULT_MAX_CHARS = 2_000_000


def char_limit(value: str) -> int:
    """argparse type of --max-chars: a positive number of characters."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--max-chars takes a positive number of characters, got {value!r}")
    return n


@dataclasses.dataclass(frozen=True)
class CCNetConfig:
    """Everything that decides the output; the same config and inputs give the same bytes."""

    langs: Optional[tuple[str, ...]] = None
    lid_threshold: float = 0.5
    min_length: int = 300
    line_dedup: str = "ccnet"
    strict: bool = False
    dedup_shards: int = 64
    source: str = "cc"
    max_chars: int = DEFAULT_MAX_CHARS


def doc_key(file_idx: int, doc_ord: int) -> int:
    """Global position of a document: input file index, then position inside the file."""
    return (file_idx << DOC_ORD_BITS) | doc_ord


def iter_documents(data: bytes, path: str, cfg: CCNetConfig, stats: Optional[dict] = None
                   ) -> Iterator[tuple[int, Document]]:
    """(position in file, Document) of every record within the length limits.

    Faults, too-short and too-long documents (more than `cfg.max_chars` characters, which
    would cost every later step memory in proportion) are counted into `stats` when given;
    in strict mode the first fault raises MalformedInput naming the file and offset.
    """
    doc_ord = 0
    for item in read_wet(data, path):
        if isinstance(item, Fault):
            report_fault(item, path, cfg.strict, stats, LOG)
            continue
        doc = wet_document(item, cfg.source)
        lines, chars = st.text_units(doc.text)
        if stats is not None:
            st.count_read(stats, 1, lines, chars)
        reason = length_drop(chars, cfg)
        if reason:
            if stats is not None:
                st.count_dropped(stats, reason, 1, lines, chars)
            continue
        doc.meta["original_length"] = chars
        doc.meta["original_nlines"] = lines
        yield doc_ord, doc
        doc_ord += 1


def length_drop(chars: int, cfg: CCNetConfig) -> Optional[str]:
    """'too_short' or 'too_long' for a document of `chars` characters outside the limits, else None."""
    if chars < cfg.min_length:
        return "too_short"
    if chars > cfg.max_chars:
        return "too_long"
    return None


@dataclasses.dataclass
class FileHashes:
    """Every line hash of a file's kept documents, in order, and each document's line count.

    Pass 1 computes them for the dedup shuffle; pass 2 reuses them instead of hashing again.
    """

    line_counts: np.ndarray
    hashes: np.ndarray

    def per_document(self) -> list[np.ndarray]:
        return np.split(self.hashes, np.cumsum(self.line_counts)[:-1]) if self.line_counts.size else []

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, line_counts=self.line_counts, hashes=self.hashes)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "FileHashes":
        with np.load(io.BytesIO(data)) as z:
            return cls(z["line_counts"], z["hashes"])


def file_line_hashes(data: bytes, path: str, cfg: CCNetConfig) -> FileHashes:
    """Line hashes of every document of a file that is long enough to keep."""
    counts, hashes = [], []
    for _, doc in iter_documents(data, path, cfg):
        h = line_hashes(doc.text.split("\n"))
        hashes.append(h)
        counts.append(h.size)
    if not hashes:
        return FileHashes(np.zeros(0, np.int64), np.zeros(0, np.uint64))
    return FileHashes(np.asarray(counts, dtype=np.int64), np.concatenate(hashes))


def dedup_pairs(file_hashes: FileHashes, file_idx: int) -> tuple[np.ndarray, np.ndarray]:
    """(document keys, hashes) with each hash once per document: the input of the dedup decision."""
    keys, hashes = [], []
    for doc_ord, h in enumerate(file_hashes.per_document()):
        u = np.unique(h)
        hashes.append(u)
        keys.append(np.full(u.size, doc_key(file_idx, doc_ord), dtype=np.int64))
    if not hashes:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    return np.concatenate(keys), np.concatenate(hashes)


def split_by_shard(keys: np.ndarray, hashes: np.ndarray, n_shards: int
                   ) -> Iterator[tuple[int, tuple[np.ndarray, np.ndarray]]]:
    """Partition (key, hash) pairs by hash so that all pairs of one hash meet in one shard."""
    shard = (hashes % np.uint64(n_shards)).astype(np.int64)
    order = np.argsort(shard, kind="stable")
    shard_sorted = shard[order]
    bounds = np.flatnonzero(np.diff(shard_sorted)) + 1
    for idx in np.split(order, bounds):
        if idx.size:
            yield int(shard[idx[0]]), (keys[idx], hashes[idx])


def shard_drops(parts: list[tuple[np.ndarray, np.ndarray]], mode: str
                ) -> Iterator[tuple[int, tuple[np.ndarray, np.ndarray]]]:
    """Dropped (doc position, hash) pairs of one hash shard, grouped per input file."""
    if not parts:
        return
    keys = np.concatenate([p[0] for p in parts])
    hashes = np.concatenate([p[1] for p in parts])
    drop = decide_duplicates(keys, hashes, mode)
    keys, hashes = keys[drop], hashes[drop]
    files = keys >> DOC_ORD_BITS
    order = np.lexsort((hashes, keys))
    keys, hashes, files = keys[order], hashes[order], files[order]
    bounds = np.flatnonzero(np.diff(files)) + 1
    for idx in np.split(np.arange(keys.size), bounds):
        if idx.size:
            ords = (keys[idx] & ((1 << DOC_ORD_BITS) - 1)).astype(np.int64)
            yield int(files[idx[0]]), (ords, hashes[idx])


def drops_by_document(parts: list[tuple[np.ndarray, np.ndarray]]) -> dict[int, set[int]]:
    """doc position -> set of dropped line hashes, from the shard outputs of one file."""
    out: dict[int, set[int]] = {}
    for ords, hashes in parts:
        for o, h in zip(ords.tolist(), hashes.tolist()):
            out.setdefault(o, set()).add(h)
    return out


@dataclasses.dataclass
class FileResult:
    """What processing one file gives: kept documents, counters, perplexities per language."""

    documents: list[Document]
    stats: dict
    perplexities: dict[str, list[float]]


def process_file(data: bytes, path: str, cfg: CCNetConfig, drops: dict[int, set[int]],
                 lid, scorer, file_hashes: Optional[FileHashes] = None) -> FileResult:
    """Line dedup, language ID and perplexity for the documents of one file.

    `lid` has `predict_one(text) -> (lang, score)`; `scorer` has `has(lang)` and
    `perplexity(lang, text)` (filters.lid / filters.perplexity). `file_hashes` from pass 1
    saves hashing the lines again.
    """
    cached = file_hashes.per_document() if file_hashes is not None else None
    stats = st.empty_stats()
    kept: list[Document] = []
    perplexities: dict[str, list[float]] = {}
    empty: set[int] = set()
    for doc_ord, doc in iter_documents(data, path, cfg, stats):
        lines = doc.text.split("\n")
        n_lines, n_chars = len(lines), len(doc.text)
        hashes = cached[doc_ord] if cached is not None else line_hashes(lines)
        new_lines = apply_line_dedup(lines, hashes, drops.get(doc_ord, empty))
        text = "\n".join(new_lines)
        st.count_dropped(stats, "duplicate_line", 0, n_lines - len(new_lines), n_chars - len(text))
        n_lines, n_chars = len(new_lines), len(text)
        doc.meta["dedup_removed_lines"] = doc.meta["original_nlines"] - n_lines
        if not text.strip():
            st.count_dropped(stats, "empty_after_dedup", 1, n_lines, n_chars)
            continue
        doc.text = text
        lang, score = lid.predict_one(text)
        if lang is None or score < cfg.lid_threshold:
            st.count_dropped(stats, "lid_below_threshold", 1, n_lines, n_chars)
            continue
        if cfg.langs is not None and lang not in cfg.langs:
            st.count_dropped(stats, "lang_not_selected", 1, n_lines, n_chars)
            continue
        doc.lang, doc.lang_score = lang, score
        if scorer.has(lang):
            doc.perplexity = scorer.perplexity(lang, text)
            perplexities.setdefault(lang, []).append(doc.perplexity)
        st.count_written(stats, 1, n_lines, n_chars)
        kept.append(doc)
    return FileResult(kept, stats, perplexities)
