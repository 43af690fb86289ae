"""`llamapipe ccnet`: its flags, and the command that checks them and runs pipelines/ccnet.py."""
from __future__ import annotations

from pathlib import Path

from corpus.paths import is_url
from dedup.lines import MODES
from pipelines.cli.common import (CLIError, absolute, add_run_flags, checked, claim_out, run_pipeline,
                                  unreadable_inputs, user_errors)
from pipelines.steps import checks
from pipelines.steps.ccnet import CCNetConfig

D = CCNetConfig()  # the defaults, written once in the config


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
    p.add_argument("--langs", type=checked(lambda v: [l.strip() for l in v.split(",") if l.strip()],
                                           lambda v: checks.languages("--langs", v)),
                   default=None, help="keep only these languages, e.g. en,de,fr")
    p.add_argument("--lid-threshold", type=checked(float, lambda v: checks.fraction("--lid-threshold", v)),
                   default=D.lid_threshold,
                   help=f"drop documents whose fastText score is below this (default {D.lid_threshold})")
    p.add_argument("--min-length", type=int, default=D.min_length,
                   help=f"drop documents shorter than this many characters before dedup (default {D.min_length})")
    p.add_argument("--max-chars", type=checked(int, lambda v: checks.char_count("--max-chars", v)),
                   default=D.max_chars,
                   help=f"drop documents longer than this many characters before dedup, as too_long: every later "
                        f"step needs memory in proportion (default {D.max_chars:,}, above any real page: "
                        f"CommonCrawl truncates payloads at 1 MiB)")
    p.add_argument("--lid-max-chars", type=checked(int, lambda v: checks.char_count("--lid-max-chars", v)),
                   default=D.lid_max_chars, metavar="N",
                   help="give fastText LID only the first N characters of each document: faster, labels can "
                        "differ from cc_net's (default: the whole document, as cc_net)")
    p.add_argument("--bucket-cutoffs", default="auto", metavar="auto|FILE",
                   help="'auto': percentiles of this run per language; FILE: a CCNet cutoff.csv")
    p.add_argument("--line-dedup", choices=MODES, default=D.line_dedup,
                   help="ccnet: remove every occurrence of a line seen in 2+ documents; "
                        "keep-first: keep its first occurrence in input order")
    p.add_argument("--dedup-shards", type=int, default=D.dedup_shards,
                   help=f"minimum number of hash shards of the line dedup (default {D.dedup_shards}); a run uses "
                        f"more when a shard would hold over 2M (document, line) pairs, so a larger corpus needs "
                        f"no flag. The shuffle goes through spill files under OUT/_temporary, not through Beam")
    p.add_argument("--unit-mb", type=checked(float, lambda v: checks.at_least("--unit-mb", v, 0.0625)),
                   default=D.unit_bytes / (1 << 20), metavar="MB",
                   help=f"work unit: about this many MB of an input file, cut at a WET record (default "
                        f"{D.unit_bytes / (1 << 20):g}); several units per file keep every worker busy to the end. "
                        f"The output does not depend on it")
    p.add_argument("--part-mb", type=checked(float, lambda v: checks.at_least("--part-mb", v, 0.0)),
                   default=D.part_bytes / (1 << 20), metavar="MB",
                   help=f"output part size: a partition's documents of consecutive input files go to one part "
                        f"while it stays within this many MB of text (default {D.part_bytes / (1 << 20):g}, "
                        f"roughly 40%% of that as zstd Parquet; a file's documents are never split, so one file's "
                        f"alone may exceed it); 0: one part per input file and partition")
    p.add_argument("--quality-model", default=None, metavar="MODEL.bin",
                   help="a `llamapipe quality-train` model: a last step scores each document as RedPajama did "
                        "(wiki_prob in meta) and drops it below --quality-threshold as not_wiki_reference")
    p.add_argument("--quality-threshold", type=checked(float, lambda v: checks.fraction("--quality-threshold", v)),
                   default=D.quality_threshold,
                   help=f"keep documents with wiki_prob >= this (default {D.quality_threshold}, as RedPajama)")
    add_run_flags(p)
    p.set_defaults(func=run_ccnet)


def run_ccnet(args, beam_args: list[str]) -> int:
    from filters.buckets import read_cutoffs_csv
    from filters.lid import custom_lid_model
    from filters.perplexity import missing_model_files
    from pipelines import ccnet, fileio

    inputs = [absolute(i) for i in args.input]
    models = absolute(args.models) if args.models else None
    files = fileio.expand_globs(inputs)
    if models and not is_url(models) and not Path(models).is_dir():
        raise CLIError(f"--models {models} is not a folder")
    if args.langs:
        if not models:
            raise CLIError("--langs needs --models (MODELS/lm/<lang>.sp.model and <lang>.arpa.bin)")
        missing = missing_model_files(models, list(args.langs))
        if missing:
            raise CLIError("no perplexity model for a selected language: missing " +
                           ", ".join(str(m) for m in missing))
    fixed = None
    if args.bucket_cutoffs != "auto":
        path = Path(args.bucket_cutoffs)
        if not path.is_file():
            raise CLIError(f"--bucket-cutoffs {path} does not exist (use 'auto' or a CCNet cutoff.csv)")
        with user_errors(ValueError):
            fixed = read_cutoffs_csv(path.read_text(encoding="utf-8"), str(path))
    lid_model = custom_lid_model(models)
    quality_model = quality_sha256 = None
    if args.quality_model:
        from filters.quality import check_model
        from pipelines.cli.quality import sha256_file

        quality_model = check_model(absolute(args.quality_model))
        quality_sha256 = sha256_file(Path(quality_model))
    cfg = CCNetConfig(files=tuple(files), out=absolute(args.output), models=models,
                      lid_model=str(lid_model) if lid_model else None,
                      bucket_cutoffs=tuple((lang, tuple(v)) for lang, v in fixed.items()) if fixed else None,
                      unreadable=tuple(unreadable_inputs(files, args.strict).items()),
                      langs=args.langs, lid_threshold=args.lid_threshold, min_length=args.min_length,
                      line_dedup=args.line_dedup, strict=args.strict, dedup_shards=args.dedup_shards,
                      max_chars=args.max_chars, quality_model=quality_model,
                      quality_threshold=args.quality_threshold, quality_model_sha256=quality_sha256,
                      lid_max_chars=args.lid_max_chars, unit_bytes=int(args.unit_mb * (1 << 20)),
                      part_bytes=int(args.part_mb * (1 << 20)))
    claim = claim_out(cfg.out, "ccnet", ccnet.output_patterns(), args.overwrite,
                      input_folders=[models] if models else [],
                      input_files=files + ([args.bucket_cutoffs] if fixed else []) + ([quality_model] if quality_model else []))
    run_pipeline("ccnet", len(files), cfg.out, beam_args, args.workers,
                 lambda p: ccnet.build_pipeline(p, cfg, claim.run_id), show_progress=True, claim=claim)
    return 0
