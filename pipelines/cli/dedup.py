"""`llamapipe dedup`: its flags, and the command that checks them and runs pipelines/dedup.py."""
from __future__ import annotations

import os

from pipelines.cli.common import CLIError, absolute, claim_out, fraction, run_pipeline, unreadable_inputs


def add_parsers(sub) -> None:
    p = sub.add_parser("dedup", allow_abbrev=False,
                       help="exact + MinHash-LSH near-duplicate removal (corpus shards, JSONL or WET)",
                       description=(
                           "Remove exact duplicates (CCNet-normalised text) and near duplicates (MinHash "
                           "over word n-grams, LSH banding tuned for recall, candidate pairs verified by "
                           "estimated Jaccard, connected components in Beam). One document per cluster is "
                           "kept; OUT/_clusters.parquet records id -> cluster -> kept. Input ids must be "
                           "unique: a later copy of an id with the same (normalised) text is dropped as "
                           "duplicate_id (the copy the --keep rule prefers keeps the id, so each id has one "
                           "_clusters row); one id on two different texts stops the run naming both. Unknown "
                           "--flags go to Beam."))
    p.add_argument("--input", action="append", required=True, metavar="PATH",
                   help="a corpus shard folder, or a glob of .jsonl[.gz|.zst] or .warc.wet[.gz] files; repeatable")
    p.add_argument("--output", required=True, metavar="OUT")
    p.add_argument("--granularity", choices=["document", "book"], default="document",
                   help="document: near duplicates by Jaccard; book: a document is a duplicate when its "
                        "estimated containment in another reaches --threshold (LLaMA's books rule)")
    p.add_argument("--threshold", type=fraction("--threshold", include_one=True), default=None,
                   help="estimated Jaccard (documents, default 0.8) or containment (books, default 0.9) "
                        "that makes a near duplicate")
    p.add_argument("--candidate-threshold", type=fraction("--candidate-threshold", include_one=False), default=None,
                   help="Jaccard at which LSH banding collides half the time; below --threshold for recall "
                        "(default 0.6: 21 bands x 6 rows for 128 permutations; books 0.2: 64 x 2, since a "
                        "book contained in a 3x longer one has Jaccard ~0.3)")
    p.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (default 128)")
    p.add_argument("--ngram", type=int, default=5, help="words per shingle (default 5)")
    p.add_argument("--seed", type=int, default=1, help="MinHash seed, as datasketch's (default 1)")
    p.add_argument("--keep", choices=["perplexity", "longest", "first"], default="perplexity",
                   help="which member of a cluster survives: lowest perplexity when present, else longest "
                        "(default); longest; first in input order. Ties: smallest id")
    from pipelines.steps.ccnet import char_limit
    from pipelines.steps.dedup import DEFAULT_MAX_CHARS
    p.add_argument("--max-chars", type=char_limit, default=DEFAULT_MAX_CHARS,
                   help=f"documents longer than this many characters are written unchanged without being "
                        f"compared (MinHash needs memory in proportion), counted in _stats.json under "
                        f"not_compared (default {DEFAULT_MAX_CHARS:,})")
    p.add_argument("--cc-rounds", type=int, default=12,
                   help="large-star/small-star round pairs for connected components (default 12); the run "
                        "fails, saying so, if they did not converge")
    p.add_argument("--strict", action="store_true", help="stop at the first malformed input with exit status 2")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a finished OUT (only files a llamapipe run wrote there are removed)")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="read corpus folders without _SUCCESS (an unfinished or foreign run) as they are")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")
    p.set_defaults(func=run_dedup)


def run_dedup(args, beam_args: list[str]) -> int:
    from corpus.readers import input_kind
    from pipelines import dedup
    from pipelines.steps.dedup import DedupConfig

    book = args.granularity == "book"
    if args.threshold is None:
        args.threshold = 0.9 if book else 0.8
    if args.candidate_threshold is None:
        args.candidate_threshold = 0.2 if book else 0.6
    for name in ("num_perm", "ngram", "cc_rounds"):
        if getattr(args, name) < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not 0 <= args.seed < 2 ** 32:
        raise CLIError(f"--seed must be within [0, 2**32), as datasketch's MinHash seeds are; got {args.seed}")
    if not book and args.candidate_threshold > args.threshold:
        raise CLIError(f"--candidate-threshold {args.candidate_threshold} is above --threshold {args.threshold}: "
                       f"banding would miss pairs that verification accepts")
    args.output = absolute(args.output)
    inputs = [absolute(i) for i in args.input]
    try:
        units = dedup.plan_units(inputs, args.allow_incomplete)
        for _, path, _ in units:
            input_kind(path)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    unreadable = unreadable_inputs([path for _, path, _ in units], args.strict)
    folders = [i for i in inputs if "://" not in i and os.path.isdir(i)]
    claim = claim_out(args.output, "dedup", dedup.output_patterns(units), args.overwrite, input_folders=folders,
                   input_files=[path for _, path, _ in units])
    cfg = DedupConfig(threshold=args.threshold, num_perm=args.num_perm, ngram=args.ngram, seed=args.seed,
                      keep=args.keep, candidate_threshold=args.candidate_threshold, strict=args.strict,
                      granularity=args.granularity, max_chars=args.max_chars)
    return run_pipeline("dedup", len(units), args.output, beam_args, args.workers,
                        lambda p: dedup.build_pipeline(p, units, args.output, cfg, args.cc_rounds, claim.run_id,
                                                       unreadable), claim=claim)
