"""`llamapipe ccnet`: its flags, and the command that checks them and runs pipelines/ccnet.py."""
from __future__ import annotations

import argparse
from pathlib import Path

from corpus.shards import IDENTIFIER
from pipelines.cli.common import CLIError, absolute, claim_out, run_pipeline, unreadable_inputs


def _langs(value: str) -> tuple[str, ...]:
    langs = tuple(sorted({l.strip() for l in value.split(",") if l.strip()}))
    if not langs:
        raise argparse.ArgumentTypeError("--langs needs at least one language code")
    for lang in langs:
        if not IDENTIFIER.match(lang):
            raise argparse.ArgumentTypeError(f"--langs: {lang!r} is not a language code (letters, digits, _ or -)")
    return langs


def _threshold(value: str) -> float:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"--lid-threshold must be within [0, 1], got {value}")
    return v


def add_parsers(sub) -> None:
    p = sub.add_parser("ccnet", allow_abbrev=False,
                       help="CommonCrawl WET -> deduplicated, language-tagged, bucketed shards",
                       description=(
                           "CCNet web pipeline: read WET files, remove duplicate lines across the whole "
                           "input, identify the language with fastText, score perplexity with "
                           "SentencePiece+KenLM, split into head/middle/tail buckets, write Parquet shards "
                           "with _stats.json, _manifest.json and _SUCCESS. Unknown --flags go to Beam."))
    p.add_argument("--input", action="append", required=True, metavar="GLOB",
                   help="WET files (.warc.wet, .warc.wet.gz); repeat or quote a glob")
    p.add_argument("--output", required=True, metavar="OUT", help="output folder (local path or gs://...)")
    p.add_argument("--models", default=None, metavar="MODELS",
                   help="CCNet models folder: MODELS/lm/<lang>.sp.model + <lang>.arpa.bin, optional MODELS/lid.bin")
    p.add_argument("--langs", type=_langs, default=None, help="keep only these languages, e.g. en,de,fr")
    p.add_argument("--lid-threshold", type=_threshold, default=0.5,
                   help="drop documents whose fastText score is below this (default 0.5)")
    p.add_argument("--min-length", type=int, default=300,
                   help="drop documents shorter than this many characters before dedup (default 300)")
    from pipelines.steps.ccnet import DEFAULT_MAX_CHARS, char_limit
    p.add_argument("--max-chars", type=char_limit, default=DEFAULT_MAX_CHARS,
                   help=f"drop documents longer than this many characters before dedup, as too_long: every later "
                        f"step needs memory in proportion (default {DEFAULT_MAX_CHARS:,}, above any real page: "
                        f"CommonCrawl truncates payloads at 1 MiB)")
    p.add_argument("--bucket-cutoffs", default="auto", metavar="auto|FILE",
                   help="'auto': percentiles of this run per language; FILE: a CCNet cutoff.csv")
    p.add_argument("--line-dedup", choices=["ccnet", "keep-first"], default="ccnet",
                   help="ccnet: remove every occurrence of a line seen in 2+ documents; "
                        "keep-first: keep its first occurrence in input order")
    p.add_argument("--dedup-shards", type=int, default=64,
                   help="hash shards for the line dedup shuffle (memory per shard ~ lines/shards)")
    p.add_argument("--strict", action="store_true", help="stop at the first malformed input with exit status 2")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a finished OUT (only files a llamapipe run wrote there are removed)")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")
    p.set_defaults(func=run_ccnet)


def run_ccnet(args, beam_args: list[str]) -> int:
    from filters.buckets import read_cutoffs_csv
    from filters.lid import custom_lid_model
    from filters.perplexity import missing_model_files
    from pipelines import ccnet, fileio
    from pipelines.steps.ccnet import CCNetConfig

    args.input = [absolute(i) for i in args.input]
    args.output = absolute(args.output)
    if args.models:
        args.models = absolute(args.models)
    if args.min_length < 0:
        raise CLIError(f"--min-length must be >= 0, got {args.min_length}")
    if args.dedup_shards < 1:
        raise CLIError(f"--dedup-shards must be >= 1, got {args.dedup_shards}")
    try:
        files = fileio.expand_globs(args.input)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None
    if args.models and not Path(args.models).is_dir() and "://" not in args.models:
        raise CLIError(f"--models {args.models} is not a folder")
    if args.langs:
        if not args.models:
            raise CLIError("--langs needs --models (MODELS/lm/<lang>.sp.model and <lang>.arpa.bin)")
        missing = missing_model_files(args.models, list(args.langs))
        if missing:
            raise CLIError("no perplexity model for a selected language: missing " +
                           ", ".join(str(m) for m in missing))
    fixed = None
    if args.bucket_cutoffs != "auto":
        path = Path(args.bucket_cutoffs)
        if not path.is_file():
            raise CLIError(f"--bucket-cutoffs {path} does not exist (use 'auto' or a CCNet cutoff.csv)")
        try:
            fixed = read_cutoffs_csv(path.read_text(encoding="utf-8"), str(path))
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    unreadable = unreadable_inputs(files, args.strict)
    cfg = CCNetConfig(langs=args.langs, lid_threshold=args.lid_threshold, min_length=args.min_length,
                      line_dedup=args.line_dedup, strict=args.strict, dedup_shards=args.dedup_shards,
                      max_chars=args.max_chars)
    lid_model = custom_lid_model(args.models)
    claim = claim_out(args.output, "ccnet", ccnet.output_patterns(), args.overwrite,
                   input_folders=[args.models] if args.models else [],
                   input_files=files + ([args.bucket_cutoffs] if fixed else []))
    return run_pipeline("ccnet", len(files), args.output, beam_args, args.workers,
                        lambda p: ccnet.build_pipeline(p, files, args.output, cfg, args.models,
                                                       str(lid_model) if lid_model else None, fixed,
                                                       claim.run_id, unreadable),
                        show_progress=True, claim=claim)
