"""Perplexity buckets: head below the 30th percentile of a language, middle below the 60th, tail above.

Cutoffs are per language, the 0..100 percentiles as in CCNet's cutoff.csv (one row per
percentile, one column per language); `compute_cutoffs` builds the same table from a run.
"""
from __future__ import annotations

import csv
import io
from typing import Optional

import numpy as np

PERCENTILE_HEAD = 30
PERCENTILE_TAIL = 60


def compute_cutoffs(perplexities: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """0..100 percentiles of each language's perplexities (independent of their order)."""
    out: dict[str, list[float]] = {}
    for lang, values in sorted(perplexities.items()):
        values = np.sort(np.asarray(values, dtype=np.float64))
        if values.size:
            out[lang] = [float(x) for x in np.percentile(values, np.arange(101))]
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
