"""Histograms over log10 of positive values, the shape every length and perplexity plot uses."""
from __future__ import annotations

import numpy as np

BINS = 40


def log10_histogram(values: np.ndarray, bins: int = BINS) -> dict:
    """{"edges": log10 bin edges, "counts": per bin} of the finite positive values (empty when none)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return {"edges": [], "counts": []}
    logs = np.log10(values)
    lo, hi = float(logs.min()), float(logs.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(logs, bins=bins, range=(lo, hi))
    return {"edges": [round(float(e), 6) for e in edges], "counts": counts.tolist()}
