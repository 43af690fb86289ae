"""Perplexity buckets: head below the 30th percentile of a language, middle below the 60th, tail above.

Cutoffs are per language, the 0..100 percentiles as in CCNet's cutoff.csv (one row per
percentile, one column per language); `compute_cutoffs` builds the same table from a run.
"""
from __future__ import annotations

import csv
import io
from typing import Iterable, Optional

import numpy as np

PERCENTILE_HEAD = 30
PERCENTILE_TAIL = 60


def compute_cutoffs(perplexities: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """0..100 percentiles of each language's perplexities (independent of their order)."""
    out: dict[str, list[float]] = {}
    for lang, values in sorted(perplexities.items()):
        if np.asarray(values).size:
            out[lang] = [float(x) for x in percentiles_of_counts(*value_counts(values))]
    return out


def value_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and how often each occurs: all a percentile needs, and far smaller than
    the values when they are rounded (ccnet rounds perplexity to 0.1)."""
    distinct, counts = np.unique(np.asarray(values, dtype=np.float64), return_counts=True)
    return distinct, counts.astype(np.int64)


def merge_value_counts(parts: Iterable[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One (distinct values, counts) of several: the same whatever their order or grouping."""
    parts = list(parts)
    if not parts:
        return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.int64)
    distinct, inverse = np.unique(np.concatenate([v for v, _ in parts]), return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate([c for _, c in parts]), minlength=distinct.size)
    return distinct, counts.astype(np.int64)


def percentiles_of_counts(distinct: np.ndarray, counts: np.ndarray,
                          percents: np.ndarray = np.arange(101)) -> np.ndarray:
    """np.percentile (linear) of the values that `counts` describes, without expanding them: the same
    floats, bit for bit (tested against numpy)."""
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1]) if cumulative.size else 0
    if n == 0:
        raise ValueError("percentiles of no values")
    virtual = (n - 1) * np.true_divide(np.asarray(percents, dtype=np.float64), 100)
    below = np.floor(virtual)
    gamma = virtual - below
    a = distinct[np.searchsorted(cumulative, np.clip(below, 0, n - 1).astype(np.int64), side="right")]
    b = distinct[np.searchsorted(cumulative, np.clip(below + 1, 0, n - 1).astype(np.int64), side="right")]
    diff = b - a
    out = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


class ValueCounts:
    """A mergeable, exact summary of many values (distinct values and their counts) built a batch at a
    time: batches wait until they outnumber the distinct values, then are folded in, so adding n
    values costs O(n log n) in all, and merging in any order or grouping gives the same summary."""

    def __init__(self):
        self.distinct = np.zeros(0, dtype=np.float64)
        self.counts = np.zeros(0, dtype=np.int64)
        self.pending: list[np.ndarray] = []
        self.pending_size = 0

    def add(self, values: np.ndarray) -> "ValueCounts":
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.size:
            self.pending.append(values)
            self.pending_size += values.size
            if self.pending_size >= max(1 << 16, self.distinct.size):
                self.compact()
        return self

    def compact(self) -> tuple[np.ndarray, np.ndarray]:
        """Fold the waiting values in; (distinct values, counts)."""
        if self.pending:
            self.distinct, self.counts = merge_value_counts(
                [(self.distinct, self.counts), value_counts(np.concatenate(self.pending))])
            self.pending, self.pending_size = [], 0
        return self.distinct, self.counts

    @staticmethod
    def merged(summaries: Iterable["ValueCounts"]) -> "ValueCounts":
        out = ValueCounts()
        out.distinct, out.counts = merge_value_counts(s.compact() for s in summaries)
        return out


def read_cutoffs_csv(text: str, name: str = "cutoffs") -> dict[str, list[float]]:
    """Parse a CCNet cutoff.csv: header ',lang1,lang2,...', then rows 'percentile,v1,v2,...'."""
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2:
        raise ValueError(f"{name}: expected a header row and percentile rows, got {len(rows)} rows")
    header = rows[0]
    langs = header[1:]
    table: dict[str, dict[int, float]] = {l: {} for l in langs}
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise ValueError(f"{name}: line {lineno} has {len(row)} fields, the header has {len(header)}")
        try:
            pct = int(float(row[0]))
            for lang, value in zip(langs, row[1:]):
                table[lang][pct] = float(value)
        except ValueError as exc:
            raise ValueError(f"{name}: line {lineno}: {exc}") from None
    out = {}
    for lang, by_pct in table.items():
        if PERCENTILE_HEAD not in by_pct or PERCENTILE_TAIL not in by_pct:
            raise ValueError(f"{name}: language {lang!r} lacks percentile {PERCENTILE_HEAD} or {PERCENTILE_TAIL}")
        out[lang] = [by_pct.get(p, float("nan")) for p in range(101)]
    return out


def write_cutoffs_csv(cutoffs: dict[str, list[float]]) -> str:
    """CCNet cutoff.csv text for `cutoffs`."""
    langs = sorted(cutoffs)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([""] + langs)
    for p in range(101):
        writer.writerow([p] + [repr(cutoffs[l][p]) for l in langs])
    return buf.getvalue()


def assign_bucket(perplexity: Optional[float], lang: Optional[str],
                  cutoffs: dict[str, list[float]]) -> str:
    """head / middle / tail by the language's cutoffs; `all` without a perplexity or cutoffs."""
    if perplexity is None or lang not in cutoffs or perplexity < 0:
        return "all"
    row = cutoffs[lang]
    if perplexity < row[PERCENTILE_HEAD]:
        return "head"
    if perplexity < row[PERCENTILE_TAIL]:
        return "middle"
    return "tail"


def assign_buckets(perplexities: list[Optional[float]], langs: list[Optional[str]],
                   cutoffs: dict[str, list[float]]) -> list[str]:
    """`assign_bucket` for columns of documents."""
    return [assign_bucket(p, l, cutoffs) for p, l in zip(perplexities, langs)]
