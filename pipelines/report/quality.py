"""The quality classifier's part of `llamapipe stats`: the wiki_prob distribution of a corpus whose
documents carry it in meta (quality-filter, ccnet --quality-model), with the run's threshold."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

BINS = 20
THRESHOLD_KEYS = ("threshold", "quality_threshold")


def wiki_probs(path: str) -> list[float]:
    """wiki_prob of each document of one shard that has it, a row group at a time (meta parsed only
    where it mentions wiki_prob)."""
    pf = pq.ParquetFile(path)
    if "meta" not in pf.schema_arrow.names:
        return []
    found = []
    for i in range(pf.num_row_groups):
        meta = pf.read_row_group(i, columns=["meta"]).column(0)
        hits = pc.fill_null(pc.match_substring(meta, '"wiki_prob"'), False).to_pylist()
        for text, hit in zip(meta.to_pylist(), hits):
            if hit:
                value = json.loads(text).get("wiki_prob")
                if isinstance(value, (int, float)):
                    found.append(float(value))
    return found


def run_threshold(stats_file: Optional[str]) -> Optional[float]:
    """The classifier threshold the run that wrote the folder used (its _stats.json config), if any."""
    if not stats_file or not Path(stats_file).is_file():
        return None
    config = json.loads(Path(stats_file).read_text(encoding="utf-8")).get("config") or {}
    for key in THRESHOLD_KEYS:
        if isinstance(config.get(key), (int, float)):
            return float(config[key])
    return None


def wiki_prob_summary(files: Iterable[str], stats_file: Optional[str]) -> Optional[dict]:
    """{"documents", "threshold", "histogram": {"edges", "counts"} over [0, 1] in BINS bins}, or None
    when no document carries wiki_prob."""
    values = np.asarray([v for f in files for v in wiki_probs(f)], dtype=np.float64)
    if not values.size:
        return None
    counts, edges = np.histogram(values, bins=BINS, range=(0.0, 1.0))
    return {"documents": int(values.size), "threshold": run_threshold(stats_file),
            "histogram": {"edges": [round(float(e), 6) for e in edges], "counts": counts.tolist()}}
