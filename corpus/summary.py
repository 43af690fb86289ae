"""Summary statistics of corpus shards, computed from a few Parquet columns with Arrow kernels.

Only `text`, `perplexity` and, where the footer cannot answer, `source`/`lang`/`bucket` are read
(never `meta`, `url`, ...): a label column whose row-group statistics say min == max with no
nulls (every Hive-partitioned shard) comes from the footer alone, and character counts come from
Arrow's UTF-8 length kernel without building Python strings. Results are JSON-serialisable.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpus.histogram import log10_histogram

PERCENTILES = (5, 10, 25, 30, 50, 60, 70, 75, 90, 95)


def constant_from_statistics(pf: pq.ParquetFile, name: str) -> tuple[bool, Optional[str]]:
    """(True, value) when the footer proves every row of column `name` holds `value`."""
    names = pf.schema_arrow.names
    if name not in names:
        return True, None
    col = pf.schema_arrow.get_field_index(name)
    value = None
    for rg in range(pf.metadata.num_row_groups):
        st = pf.metadata.row_group(rg).column(col).statistics
        if st is None or not st.has_min_max or st.null_count or st.min != st.max:
            return False, None
        if value is not None and st.min != value:
            return False, None
        value = st.min
    return True, value


def scan_file(path: str) -> dict[str, np.ndarray | list]:
    """Per-document group labels, character lengths and perplexities of one shard; a file that is
    not a readable shard is a ValueError naming it."""
    try:
        return _scan(path)
    except ValueError:
        raise
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise ValueError(f"{path}: not a readable Parquet corpus shard ({exc})") from None


def _scan(path: str) -> dict[str, np.ndarray | list]:
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    if "text" not in names:
        raise ValueError(f"{path}: not a corpus shard (no 'text' column)")
    constant = {c: constant_from_statistics(pf, c) for c in ("source", "lang", "bucket")}
    read = [c for c in ("source", "lang", "bucket") if not constant[c][0]]
    table = pf.read(columns=[*read, *(c for c in ("perplexity", "text") if c in names)])
    n = table.num_rows
    label = {c: table.column(c).to_pylist() if c in read else [constant[c][1]] * n
             for c in ("source", "lang", "bucket")}
    lengths = pc.utf8_length(table.column("text")).to_numpy(zero_copy_only=False)
    ppl = (table.column("perplexity").to_numpy(zero_copy_only=False).astype(np.float64)
           if "perplexity" in names else np.full(n, np.nan))
    return {**label, "chars": np.nan_to_num(lengths).astype(np.int64),
            "perplexity": np.where(np.isnan(ppl), np.nan, ppl)}


def summarise_corpus(files: Iterable[str], folder: str, stats_file: Optional[str] = None,
                     on_file: Optional[Callable[[str], None]] = None) -> dict:
    """Groups (source x lang x bucket) with documents, chars, mean/median length; perplexity
    percentiles and histograms per language; shares; drop reasons from _stats.json."""
    labels: list[tuple] = []
    chars: list[np.ndarray] = []
    ppl: list[np.ndarray] = []
    n_files = 0
    for path in files:
        part = scan_file(path)
        labels.extend(zip((s or "unknown" for s in part["source"]), (l or "unknown" for l in part["lang"]),
                          (b or "all" for b in part["bucket"])))
        chars.append(part["chars"])
        ppl.append(part["perplexity"])
        n_files += 1
        if on_file:
            on_file(path)
    all_chars = np.concatenate(chars) if chars else np.empty(0, np.int64)
    all_ppl = np.concatenate(ppl) if ppl else np.empty(0)
    keys = sorted(set(labels))
    code = {k: i for i, k in enumerate(keys)}
    codes = np.fromiter((code[k] for k in labels), dtype=np.int64, count=len(labels))
    groups = []
    for i, (source, lang, bucket) in enumerate(keys):
        c = all_chars[codes == i]
        groups.append({"source": source, "lang": lang, "bucket": bucket, "documents": int(c.size),
                       "chars": int(c.sum()), "mean_chars": round(float(c.mean()), 1),
                       "median_chars": float(np.median(c))})
    langs = sorted({k[1] for k in keys})
    lang_codes = np.array([langs.index(k[1]) for k in keys], dtype=np.int64)
    doc_lang = lang_codes[codes] if codes.size else codes
    perplexity = {}
    for j, lang in enumerate(langs):
        v = all_ppl[(doc_lang == j) & np.isfinite(all_ppl)]
        if v.size:
            perplexity[lang] = {"documents": int(v.size),
                                "percentiles": {str(q): round(float(x), 2) for q, x in zip(PERCENTILES, np.percentile(v, PERCENTILES))},
                                "histogram_log10": log10_histogram(v)}
    run_stats = json.loads(Path(stats_file).read_text(encoding="utf-8")) if stats_file and Path(stats_file).is_file() else None
    return {
        "kind": "corpus", "path": folder, "files": n_files,
        "documents": int(all_chars.size), "chars": int(all_chars.sum()),
        "groups": groups,
        "perplexity": perplexity,
        "length_histogram_log10": log10_histogram(all_chars.astype(np.float64)),
        "shares": {"lang": _shares(groups, "lang"), "bucket": _shares(groups, "bucket"),
                   "source": _shares(groups, "source")},
        "bucket_cutoffs": (run_stats or {}).get("bucket_cutoffs", {}),
        "dropped": (run_stats or {}).get("documents", {}).get("dropped", {}),
        "read": (run_stats or {}).get("documents", {}).get("read"),
    }


def _shares(groups: list[dict], key: str) -> dict[str, dict]:
    docs: dict[str, int] = {}
    chars: dict[str, int] = {}
    for g in groups:
        docs[g[key]] = docs.get(g[key], 0) + g["documents"]
        chars[g[key]] = chars.get(g[key], 0) + g["chars"]
    total_d, total_c = sum(docs.values()) or 1, sum(chars.values()) or 1
    return {k: {"documents": docs[k], "chars": chars[k], "doc_share": round(docs[k] / total_d, 4),
                "char_share": round(chars[k] / total_c, 4)} for k in sorted(docs)}
