"""`llamapipe dedup`: its flags, and the command that checks them and runs pipelines/dedup.py."""
from __future__ import annotations

import os

from corpus.paths import is_url
from pipelines.cli.common import (absolute, add_run_flags, checked, claim_out, run_pipeline, unreadable_inputs,
                                  user_errors)
from pipelines.steps import checks
from pipelines.steps.dedup import DEFAULT_THRESHOLDS, GRANULARITIES, KEEP_RULES, DedupConfig

D = DedupConfig()  # the defaults, written once in the config
(DOC_T, DOC_C), (BOOK_T, BOOK_C) = DEFAULT_THRESHOLDS["document"], DEFAULT_THRESHOLDS["book"]


def add_parsers(sub) -> None:
    p = sub.add_parser("dedup", allow_abbrev=False,
                       help="exact + MinHash-LSH near-duplicate removal (corpus shards, JSONL or WET)",
                       description=(
                           "Remove exact duplicates (CCNet-normalised text) and near duplicates (MinHash "
                           "over word n-grams, LSH banding tuned for recall, candidate pairs verified by the "
                           "exact Jaccard of their shingle-hash sets, connected components in Beam). One document per cluster is "
                           "kept; OUT/_clusters.parquet records id -> cluster -> kept. Input ids must be "
                           "unique: a later copy of an id with the same (normalised) text is dropped as "
                           "duplicate_id (the copy the --keep rule prefers keeps the id, so each id has one "
                           "_clusters row); one id on two different texts stops the run naming both. Unknown "
                           "--flags go to Beam."))
    p.add_argument("--input", action="append", required=True, metavar="PATH",
                   help="a corpus shard folder, or a glob of .jsonl[.gz|.zst] or .warc.wet[.gz] files; repeatable")
    p.add_argument("--output", required=True, metavar="OUT")
    p.add_argument("--granularity", choices=GRANULARITIES, default=D.granularity,
                   help="document: near duplicates by Jaccard; book: a document is a duplicate when its "
                        "containment in another reaches --threshold (LLaMA's books rule)")
    p.add_argument("--threshold", type=checked(float, lambda v: checks.fraction("--threshold", v, include_zero=False)),
                   default=None, help=f"Jaccard of the word n-gram sets (documents, default {DOC_T}) or containment (books, "
                                      f"default {BOOK_T}) that makes a near duplicate")
    p.add_argument("--candidate-threshold", default=None,
                   type=checked(float, lambda v: checks.fraction("--candidate-threshold", v, include_zero=False,
                                                                 include_one=False)),
                   help=f"Jaccard at which LSH banding collides half the time; below --threshold for recall "
                        f"(default {DOC_C}: 21 bands x 6 rows for 128 permutations; books {BOOK_C}: 64 x 2, since a "
                        f"book contained in a 3x longer one has Jaccard ~0.3)")
    p.add_argument("--num-perm", type=int, default=D.num_perm, help=f"MinHash permutations (default {D.num_perm})")
    p.add_argument("--ngram", type=int, default=D.ngram, help=f"words per shingle (default {D.ngram})")
    p.add_argument("--seed", type=int, default=D.seed, help=f"MinHash seed, as datasketch's (default {D.seed})")
    p.add_argument("--keep", choices=KEEP_RULES, default=D.keep,
                   help="which member of a cluster survives: lowest perplexity when present, else longest "
                        "(default); longest; first in input order. Ties: smallest id")
    p.add_argument("--max-chars", type=checked(int, lambda v: checks.char_count("--max-chars", v)),
                   default=D.max_chars,
                   help=f"documents longer than this many characters are written unchanged without being "
                        f"compared (MinHash needs memory in proportion), counted in _stats.json under "
                        f"not_compared (default {D.max_chars:,})")
    p.add_argument("--cc-rounds", type=int, default=D.cc_rounds,
                   help=f"large-star/small-star round pairs for connected components (default {D.cc_rounds}); the "
                        f"run fails, saying so, if they did not converge")
    p.add_argument("--shard-mb", type=checked(float, _positive_mb),
                   default=D.shard_bytes / 2 ** 20,
                   help=f"MB of input files per hash shard of the scratch files (default "
                        f"{D.shard_bytes / 2 ** 20:g}); bounds the memory of each shard stage, never changes "
                        f"the output")
    add_run_flags(p)
    p.add_argument("--allow-incomplete", action="store_true",
                   help="read corpus folders without _SUCCESS (an unfinished or foreign run) as they are")
    p.set_defaults(func=run_dedup)


def _positive_mb(value: float) -> float:
    """--shard-mb as given, when above zero."""
    if not value > 0:
        raise checks.ConfigError(f"--shard-mb must be positive, got {value}")
    return value


def run_dedup(args, beam_args: list[str]) -> int:
    from corpus.readers import input_kind
    from pipelines import dedup

    inputs = [absolute(i) for i in args.input]
    with user_errors(ValueError):
        units = dedup.plan_units(inputs, args.allow_incomplete)
        for _, path, _ in units:
            input_kind(path)
    paths = [path for _, path, _ in units]
    cfg = DedupConfig(units=tuple(units), out=absolute(args.output),
                      unreadable=tuple(unreadable_inputs(paths, args.strict).items()),
                      granularity=args.granularity, threshold=args.threshold,
                      candidate_threshold=args.candidate_threshold, num_perm=args.num_perm, ngram=args.ngram,
                      seed=args.seed, keep=args.keep, strict=args.strict, max_chars=args.max_chars,
                      cc_rounds=args.cc_rounds, shard_bytes=max(1, int(args.shard_mb * 2 ** 20)))
    folders = [i for i in inputs if not is_url(i) and os.path.isdir(i)]
    claim = claim_out(cfg.out, "dedup", dedup.output_patterns(units), args.overwrite, input_folders=folders,
                      input_files=paths)
    run_pipeline("dedup", len(units), cfg.out, beam_args, args.workers,
                 lambda p: dedup.build_pipeline(p, cfg, claim.run_id), claim=claim)
    return 0
