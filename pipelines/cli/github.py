"""`llamapipe github`: its flags, and the run of BigQuery exports or The Stack v1 Parquet files through
the GitHub graph (pipelines/github.py: exact dedup across all inputs, then RedPajama's cleaning and
filters)."""
from __future__ import annotations

from pipelines.cli.common import (CLIError, absolute, add_run_flags, checked, claim_out, run_pipeline,
                                  unreadable_inputs)
from pipelines.steps import checks
from pipelines.steps.github import GithubConfig, check_licenses

D = GithubConfig()  # the defaults, written once in the config


def _licenses(text: str) -> tuple[str, ...]:
    return check_licenses(tuple(x.strip().lower() for x in text.split(",") if x.strip()))


def _float_above(flag: str, low: float, inclusive: bool):
    """argparse type: a float > low (>= low when `inclusive`), the config's rule for `flag`."""
    def rule(v: float) -> float:
        if not (v >= low if inclusive else v > low):
            raise checks.ConfigError(f"{flag} must be {'>=' if inclusive else '>'} {low:g}, got {v}")
        return v
    return checked(float, rule)


def add_parsers(sub) -> None:
    p = sub.add_parser("github", allow_abbrev=False,
                       help="GitHub files (BigQuery export or The Stack v1) -> deduplicated, filtered code shards",
                       description=(
                           "Read GitHub file rows (RedPajama's BigQuery export, github_*.json.gz, or The Stack v1 "
                           "Parquet), keep permissive licences, drop binary files, symlinks, .crt and the root "
                           "LICENSE, deduplicate files exactly by content across all inputs (the smallest "
                           "repo_name/path wins), strip copyright headers and apply RedPajama's line-length, "
                           "alphanumeric and alpha/token filters; write lang=code/bucket=all/part-NNNNN.parquet "
                           "(part number = input index in sorted order) with _stats.json, _manifest.json and "
                           "_SUCCESS. Unknown --flags go to Beam."))
    p.add_argument("--input", action="append", required=True, metavar="GLOB",
                   help="input files, e.g. 'export/github_*.json.gz' or 'the-stack/*.parquet'; repeat or quote a glob")
    p.add_argument("--output", required=True, metavar="OUT", help="output folder (local path or gs://...)")
    p.add_argument("--format", choices=("auto", "bigquery", "the-stack"), default="auto",
                   help="row schema of the inputs; auto tells each file by its first record or Parquet schema "
                        "(default auto)")
    p.add_argument("--licenses", type=checked(str, _licenses), default=D.licenses, metavar="LIST",
                   help="comma-separated licence prefixes kept, case-insensitive (BigQuery: LIKE 'mit%%'; "
                        f"The Stack: any SPDX id of the repo) (default {','.join(D.licenses)})")
    tokens = p.add_mutually_exclusive_group()
    tokens.add_argument("--token-count", choices=("regex",), default="regex",
                        help="count tokens for the alpha/token ratio with the regex \\w+|[^\\w\\s]+ (dolma's "
                             "offline stand-in for the Pythia tokenizer RedPajama used; default)")
    tokens.add_argument("--tokenizer", metavar="TOK.MODEL", default="",
                        help="count tokens with this SentencePiece model instead (the threshold 1.5 was "
                             "calibrated for GPT-NeoX BPE; meta.alpha_token_ratio lets you re-threshold)")
    p.add_argument("--max-line-length", type=checked(int, lambda v: checks.at_least("--max-line-length", v, 1)),
                   default=D.max_line_length,
                   help=f"drop files with a longer line as max_line_length (default {D.max_line_length})")
    p.add_argument("--max-avg-line-length", type=_float_above("--max-avg-line-length", 0, False),
                   default=D.max_avg_line_length,
                   help="drop files whose characters per line exceed this as avg_line_length "
                        f"(default {D.max_avg_line_length:g})")
    p.add_argument("--min-alnum", type=checked(float, lambda v: checks.fraction("--min-alnum", v)),
                   default=D.min_alnum,
                   help=f"drop files with a smaller share of alphanumeric characters as alnum_prop "
                        f"(default {D.min_alnum:g})")
    p.add_argument("--min-alpha-token-ratio", type=_float_above("--min-alpha-token-ratio", 0, True),
                   default=D.min_alpha_token_ratio,
                   help="drop files with fewer alphabetic characters per token as alpha_token_ratio "
                        f"(default {D.min_alpha_token_ratio:g})")
    p.add_argument("--dedup-shards", type=checked(int, lambda v: checks.at_least("--dedup-shards", v, 1)),
                   default=D.dedup_shards,
                   help=f"hash shards of the dedup keys; one worker holds one shard's keys (default {D.dedup_shards})")
    add_run_flags(p, "stop at the first malformed line, row or gzip stream with exit status 2")
    p.set_defaults(func=run_github)


def formats_of(files: list[str], wanted: str) -> tuple[str, ...]:
    """Each input's row schema (corpus.github_input.detect_format); a file that is neither is a CLIError."""
    from corpus import github_input
    from pipelines import fileio

    try:
        return tuple(github_input.detect_format(fileio.open_raw, f, wanted) for f in files)
    except github_input.UnknownInput as exc:
        raise CLIError(str(exc)) from None


def run_github(args, beam_args: list[str]) -> int:
    """Inputs -> config -> claim OUT -> the github graph."""
    import os

    from pipelines import fileio, github

    if args.tokenizer and not os.path.isfile(args.tokenizer):
        raise CLIError(f"--tokenizer {args.tokenizer}: no such file")
    files = fileio.expand_globs([absolute(i) for i in args.input])
    unreadable = unreadable_inputs(files, args.strict)
    formats = tuple(_formats_skipping(files, unreadable, args.format))
    cfg = GithubConfig(files=tuple(files), out=absolute(args.output), strict=args.strict,
                       unreadable=tuple(unreadable.items()), formats=formats, licenses=args.licenses,
                       tokenizer=absolute(args.tokenizer) if args.tokenizer else "",
                       max_line_length=args.max_line_length, max_avg_line_length=args.max_avg_line_length,
                       min_alnum=args.min_alnum, min_alpha_token_ratio=args.min_alpha_token_ratio,
                       dedup_shards=args.dedup_shards)
    claim = claim_out(cfg.out, "github", github.output_patterns(), args.overwrite, input_files=files)
    run_pipeline("github", len(files), cfg.out, beam_args, args.workers,
                 lambda p: github.build_pipeline(p, cfg, claim.run_id), claim=claim)
    return 0


def _formats_skipping(files: list[str], unreadable: dict[int, str], wanted: str) -> list[str]:
    """formats_of the readable files; an unreadable one (counted as malformed, never read) gets bigquery."""
    readable = [f for i, f in enumerate(files) if i not in unreadable]
    found = iter(formats_of(readable, wanted))
    return ["bigquery" if i in unreadable else next(found) for i in range(len(files))]
