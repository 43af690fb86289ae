"""Exact SentencePiece BPE encoding through a cache of space-delimited chunks.

SentencePiece's BPE merges two adjacent symbols only when their concatenation is a vocabulary
piece, in order of score then position. When no piece holds U+2581 ("▁", SentencePiece's space)
after any other character, nor a newline next to any other character, no merge joins a character
to a following "▁" or crosses a newline, so the encoding of a text is the concatenation of the
encodings of its chunks: each run of spaces with the characters after it up to the next space or
newline, and each newline with the characters after it. The chunk " word" encodes as
`encode("word")` (the dummy prefix restores its space) and "\nword" as `encode("\nword")` less
the dummy prefix's "▁", so a chunk's ids can be cached and only unseen chunks go to SentencePiece.
`ChunkEncoder.exact_reason` says why a model cannot take this path; it then encodes plainly.
"""
from __future__ import annotations

import array
import re
from pathlib import Path
from typing import Optional

import numpy as np

from tokenizer.encode import encode_texts
from tokenizer.sp_proto import SentencePieceSettings, read_settings

SPACE = "\u2581"
# chunks of " " + text: a run of spaces (or literal "▁", which SentencePiece cannot tell from an
# escaped space) and what follows up to the next run or newline, or a newline and what follows
_CHUNK = re.compile(r"[ \u2581]+[^ \u2581\n]*|\n[^ \u2581\n]*")
_BOS, _EOS = 0, 1  # cache keys of the BOS and EOS entries (chunk keys are str)
_BATCH = 1024  # documents gathered at a time: bounds the per-token index arrays
_JOIN = 128  # new chunks encoded per string: SentencePiece's cost per character grows on long strings
_PROBES = ("Hello world", " two  spaces  ", "a\u2581 b\u2581\u2581c", "tab\there\nnew line ", "1234 5.6",
           "\u00e9t\u00e9 \u4e2d\u6587 \U0001f600 ", "   ", "x", "trailing ", "a\nb", "a \nb", "a\n b",
           "\n\nx\n", "x\n", "\n", " \n ", "a\n\n  b \n\tc", "\u2581\n\u2581")


def chunk_safety(settings: SentencePieceSettings, pieces: list[str]) -> Optional[str]:
    """None when chunked encoding equals SentencePiece's for a model with these settings and pieces,
    else why not (the caller then encodes plainly)."""
    wanted = {"model_type": "bpe", "normalizer_name": "identity", "precompiled_charsmap": False,
              "normalization_rule_tsv": False, "add_dummy_prefix": True, "remove_extra_whitespaces": False,
              "escape_whitespaces": True, "treat_whitespace_as_suffix": False, "byte_fallback": True}
    for field, value in wanted.items():
        if getattr(settings, field) != value:
            return f"{field} is {getattr(settings, field)!r}, not {value!r}"
    if SPACE not in pieces:
        return f"no piece is {SPACE!r} alone"
    for i, piece in enumerate(pieces):
        if SPACE in piece.lstrip(SPACE):
            return f"piece {i} ({piece!r}) has {SPACE!r} after another character, so merges can cross spaces"
        if "\n" in piece and piece != "\n":
            return f"piece {i} ({piece!r}) joins a newline to another character"
    return None


def text_keys(text: str) -> list[str]:
    """The cache keys of a text's chunks, in order. A key starting with a newline stands for the ids
    of `encode(key)` less the dummy prefix's; any other key k for those of `encode(k)`, "" meaning
    a lone trailing space. Only keys of the first kind hold a newline."""
    if not text:
        return []
    # with single spaces between words, a space put before each newline makes every chunk a part of split(" ")
    parts = text.replace("\n", " \n") if "\n" in text else text
    if "  " in parts or parts[0] == " " or parts[-1] == " " or SPACE in parts:
        return [c if c[0] == "\n" else c[1:] for c in _CHUNK.findall(" " + text)]
    return parts.split(" ")


class _Index(dict):
    """Cache key -> table entry; a key seen for the first time gets the next entry number and is
    queued in `pending` until its ids are added (so one C-level map finds hits and misses)."""

    def __init__(self, first: int):
        super().__init__()
        self.next = first
        self.pending: list = []

    def __missing__(self, key):
        entry = self[key] = self.next
        self.next += 1
        self.pending.append(key)
        return entry


class ChunkEncoder:
    """Encodes documents exactly as `SentencePieceProcessor.encode`, with BOS/EOS, into packed arrays.

    The cache (keys -> ids in one token table) is bounded by `max_entries` and `max_tokens`: when
    either is passed it starts afresh. Results never depend on what the cache holds.
    """

    def __init__(self, sp, model_file: str | Path, threads: int = 1, max_entries: int = 1 << 19,
                 max_tokens: int = 1 << 22):
        self.sp = sp
        self.threads = threads
        self.max_entries = max_entries
        self.max_tokens = max_tokens
        pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
        self.exact_reason = chunk_safety(read_settings(model_file), pieces)
        # where a chunk starts in the ids of joined chunks: a piece starting with a space after one that does not end with one
        self._opens = np.array([p.startswith(SPACE) for p in pieces], dtype=bool)
        self._closes = np.array([not p.endswith(SPACE) for p in pieces], dtype=bool)
        self.clear()
        if self.exact_reason is None:
            self.exact_reason = self._probe()

    def clear(self) -> None:
        """Forget every cached chunk (the token table keeps only BOS, EOS and a lone trailing space)."""
        self._tokens = array.array("I")
        self._starts = array.array("q")
        self._lengths = array.array("q")
        self._index = _Index(0)
        self._lone = self.sp.encode("a ", num_threads=1)[len(self.sp.encode("a", num_threads=1)):]
        for key, ids in ((_BOS, [self.sp.bos_id()]), (_EOS, [self.sp.eos_id()]), ("", self._lone)):
            self._index[key]
            self._store([""], [ids])
        self._index.pending.clear()

    def _store(self, keys: list, encoded: list[list[int]]) -> None:
        """Append the ids of the next entries (`encode` of their keys) to the token table."""
        for key, ids in zip(keys, encoded):
            if key[:1] == "\n":
                ids = ids[len(self._lone):]
            self._starts.append(len(self._tokens))
            self._lengths.append(len(ids))
            self._tokens.extend(ids)

    def _store_pending(self) -> None:
        """Encode the keys seen for the first time and store their ids, in the order they were numbered.

        Keys with a character other than spaces end with one, so each still opens its own chunk
        when they are joined by single spaces: they are encoded _JOIN to a string (SentencePiece's
        cost per string is that of a few dozen characters) and the ids cut where a chunk opens. A
        cut count that does not match, or a key of spaces only, encodes them one by one instead."""
        keys = self._index.pending
        base = len(self._tokens)
        if all(k.strip(" " + SPACE) for k in keys):
            joined = [" ".join(keys[i:i + _JOIN]) for i in range(0, len(keys), _JOIN)]
            for ids in self.sp.encode(joined, num_threads=self.threads):
                self._tokens.extend(ids)
        found = np.frombuffer(self._tokens, dtype=np.uint32)[base:].astype(np.int64)
        opens = self._opens[found]
        opens[1:] &= self._closes[found[:-1]]
        cuts = np.flatnonzero(opens)
        if len(cuts) != len(keys):
            del self._tokens[base:]
            self._store(keys, self.sp.encode(keys, num_threads=self.threads))
        else:
            lengths = np.diff(cuts, append=len(found))
            tails = np.fromiter((k[:1] == "\n" for k in keys), dtype=bool, count=len(keys))
            cuts[tails] += len(self._lone)
            lengths[tails] -= len(self._lone)
            self._starts.frombytes((cuts + base).tobytes())
            self._lengths.frombytes(lengths.tobytes())
        keys.clear()

    def _probe(self) -> Optional[str]:
        """A last check on real calls: the probes must encode the same both ways."""
        want = encode_texts(self.sp, list(_PROBES), threads=1)
        got = self._encode_cached(list(_PROBES))
        self.clear()
        if not (np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])):
            return "chunked encoding of the probe texts differs from SentencePiece's"
        return None

    def encode_packed(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(uint32 tokens, int64 offsets with a final total) of the texts, BOS + ids + EOS each."""
        if self.exact_reason is not None:
            return encode_texts(self.sp, texts, threads=self.threads)
        parts = [self._encode_cached(texts[start:start + _BATCH]) for start in range(0, len(texts), _BATCH)]
        if not parts:
            return np.empty(0, dtype=np.uint32), np.zeros(1, dtype=np.int64)
        if len(parts) == 1:
            return parts[0]
        offsets = [parts[0][1]]
        base = parts[0][1][-1]
        for _, off in parts[1:]:
            offsets.append(off[1:] + base)
            base += off[-1]
        return np.concatenate([t for t, _ in parts]), np.concatenate(offsets)

    def _encode_cached(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """encode_packed of one batch: keys -> table entries (new chunks encoded), then one numpy gather."""
        if len(self._starts) > self.max_entries or len(self._tokens) > self.max_tokens:
            self.clear()
        keys: list = []
        ends = np.empty(len(texts), dtype=np.int64)  # position after each document's EOS key
        for i, text in enumerate(texts):
            keys.append(_BOS)
            keys += text_keys(text)
            keys.append(_EOS)
            ends[i] = len(keys)
        entries = np.array(list(map(self._index.__getitem__, keys)), dtype=np.int64)
        if self._index.pending:
            self._store_pending()
        lengths = np.frombuffer(self._lengths, dtype=np.int64)[entries]
        stops = np.cumsum(lengths)
        gather = np.repeat(np.frombuffer(self._starts, dtype=np.int64)[entries] - (stops - lengths), lengths)
        gather += np.arange(gather.size, dtype=np.int64)
        tokens = np.frombuffer(self._tokens, dtype=np.uint32)[gather]
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        if len(texts):
            offsets[1:] = stops[ends - 1]
        return tokens, offsets
