"""llamapipe's CCNet steps as a plain single-process Python loop (no Beam), for the benchmark.

Same functions the Beam pipeline calls: hash lines of every file, decide duplicates, then
per file dedup + LID + perplexity and Parquet encoding. Prints one JSON line.
"""
import argparse
import json
import time

from corpus.shards import documents_parquet
from filters.lid import LanguageIdentifier, default_lid_model
from filters.perplexity import MultiLanguageScorer
from pipelines.steps.ccnet import (CCNetConfig, dedup_pairs, drops_by_document, file_line_hashes, process_file,
                                   recipe, shard_drops, wet_documents)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="+", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--lid-max-chars", type=int, default=None, help="LID on each document's first N characters")
    args = ap.parse_args()
    started = time.time()
    cfg = CCNetConfig(lid_max_chars=args.lid_max_chars)
    lid = LanguageIdentifier(default_lid_model())
    scorer = MultiLanguageScorer(args.models)
    parts, hashes = [], []
    for idx, path in enumerate(args.files):
        hashes.append(file_line_hashes(wet_documents(path, cfg.source), path, cfg))
        parts.append(dedup_pairs(hashes[-1], idx))
    drops: dict[int, list] = {}
    for file_idx, pair in shard_drops(parts, cfg.line_dedup):
        drops.setdefault(file_idx, []).append(pair)
    kept = scored = 0
    for idx, path in enumerate(args.files):
        steps = recipe(cfg, lid, scorer, drops_by_document(drops.get(idx, [])), hashes[idx].per_document())
        result = process_file(wet_documents(path, cfg.source), path, cfg, steps)
        documents_parquet(result.documents)
        kept += len(result.documents)
        scored += sum(d.perplexity is not None for d in result.documents)
    print(json.dumps({"documents_kept": kept, "documents_scored": scored, "seconds": time.time() - started}))


if __name__ == "__main__":
    main()
