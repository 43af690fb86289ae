"""Encode documents into packed token arrays: BOS + tokens + EOS per document, plus offsets."""
from __future__ import annotations

import array
from typing import Optional, Sequence

import numpy as np

from corpus.counters import Counters


def pack(encoded: Sequence[Sequence[int]], bos: int, eos: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint32 tokens, int64 offsets with a final total) of already-encoded documents.

    Built with array.array's C-level extend: a third of the time of numpy.fromiter over the tokens.
    """
    buf = array.array("I")
    lengths = np.empty(len(encoded), dtype=np.int64)
    for i, ids in enumerate(encoded):
        buf.append(bos)
        buf.extend(ids)
        buf.append(eos)
        lengths[i] = len(ids) + 2
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return np.frombuffer(buf, dtype=np.uint32), offsets


def encode_texts(sp, texts: list[str], batch: int = 256, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Encode `texts` with a SentencePieceProcessor in batches, packed with its BOS/EOS ids:
    (uint32 tokens, int64 offsets). Each batch leaves Python lists at once (4 bytes a token kept)."""
    return join_packed([pack(sp.encode(texts[start:start + batch], num_threads=threads), sp.bos_id(), sp.eos_id())
                        for start in range(0, len(texts), batch)])


def join_packed(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Packed (tokens, offsets) pairs, in order, as one (tokens, offsets with a final total)."""
    lengths = [np.diff(offsets) for _, offsets in parts]
    offsets = np.zeros(sum(n.size for n in lengths) + 1, dtype=np.int64)
    if lengths:
        np.cumsum(np.concatenate(lengths), out=offsets[1:])
    return (np.concatenate([t for t, _ in parts]) if parts else np.empty(0, dtype=np.uint32)), offsets


def encode_table(encoder, table, buckets: Optional[frozenset[str]] = None) -> tuple[np.ndarray, np.ndarray, Counters]:
    """Encode one row group of a corpus shard (a pyarrow table with `text`, optionally `bucket`) with
    `encoder.encode_packed` (tokenizer.fast_encode.ChunkEncoder).

    Returns (tokens, offsets, counters): documents outside `buckets` are dropped as
    `bucket_not_selected`, documents with no text as `empty_text`; every document read is
    either encoded or counted under one of those reasons.
    """
    texts = [t or "" for t in table.column("text").to_pylist()]
    counters = Counters()
    keep_bucket = [True] * len(texts)
    if buckets is not None:
        col = table.column("bucket").to_pylist() if "bucket" in table.column_names else [None] * len(texts)
        keep_bucket = [(b or "all") in buckets for b in col]
    kept: list[str] = []
    for text, ok in zip(texts, keep_bucket):
        counters.read(text)
        if not ok:
            counters.drop("bucket_not_selected", text)
        elif not text.strip():
            counters.drop("empty_text", text)
        else:
            counters.write(text)
            kept.append(text)
    tokens, offsets = encoder.encode_packed(kept)
    return tokens, offsets, counters
