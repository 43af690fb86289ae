"""The `llamapipe` command: one entry point for every pipeline and tool.

Flags a command does not know go to Beam's PipelineOptions, so `--runner DataflowRunner
--project P --region R` or `--runner SparkRunner` work as Beam documents them.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Optional

from corpus.integrity import IncompleteInput
from corpus.shards import IDENTIFIER
from corpus.wet import MalformedInput
from pipelines.quiet_logs import drop_known_noise

EXIT_BAD_INPUT = 2


class CLIError(Exception):
    """A user error: printed without a traceback, exit status 2."""


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


def add_ccnet_parser(sub) -> None:
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
    from pipelines.ccnet_steps import DEFAULT_MAX_CHARS, char_limit
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
    from pipelines.ccnet_steps import CCNetConfig

    args.input = [_absolute(i) for i in args.input]
    args.output = _absolute(args.output)
    if args.models:
        args.models = _absolute(args.models)
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
    unreadable = _unreadable_inputs(files, args.strict)
    cfg = CCNetConfig(langs=args.langs, lid_threshold=args.lid_threshold, min_length=args.min_length,
                      line_dedup=args.line_dedup, strict=args.strict, dedup_shards=args.dedup_shards,
                      max_chars=args.max_chars)
    lid_model = custom_lid_model(args.models)
    claim = _claim(args.output, "ccnet", ccnet.output_patterns(), args.overwrite,
                   input_folders=[args.models] if args.models else [],
                   input_files=files + ([args.bucket_cutoffs] if fixed else []))
    return run_pipeline("ccnet", len(files), args.output, beam_args, args.workers,
                        lambda p: ccnet.build_pipeline(p, files, args.output, cfg, args.models,
                                                       str(lid_model) if lid_model else None, fixed,
                                                       claim.run_id, unreadable),
                        show_progress=True, claim=claim)


def _unreadable_inputs(files: list[str], strict: bool) -> dict[int, str]:
    """Input files that cannot be opened, by index: counted as malformed (or refused with --strict)."""
    from pipelines import fileio

    found = {}
    for i, path in enumerate(files):
        why = fileio.unreadable(path)
        if why:
            if strict:
                raise CLIError(f"{path} at byte 0: {why}")
            print(f"warning: {path}: {why}; counted as malformed", file=sys.stderr)
            found[i] = why
    return found


def _claim(out: str, command: str, patterns, overwrite: bool, input_folders=(), input_files=()):
    """Lock and clear `out` for this run (pipelines.outdir), or a CLIError saying why not."""
    from pipelines.outdir import OutputRefused, claim_output

    try:
        return claim_output(out, command, patterns, overwrite, input_folders, input_files)
    except OutputRefused as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot use output {out}: {exc.strerror or exc}") from None


def run_pipeline(command: str, n_inputs: int, output: str, beam_args: list[str], workers: Optional[int],
                 build, show_progress: bool = False, summary: bool = True, claim=None) -> int:
    """Run `build(pipeline)` on the runner the flags choose; malformed input and a full disk become
    a CLIError; print the run's summary (`summary`: read from OUT/_stats.json). `show_progress`: a
    bar of input files done (ccnet's scratch files). `claim` (outdir.claim_output) is released
    however the run ends."""
    from pipelines import progress, report
    from pipelines.runner import make_pipeline, pipeline_options

    try:
        opts = pipeline_options(beam_args, workers)
        started = time.time()
        print(f"{command}: {n_inputs} input file(s) -> {output}", file=sys.stderr, flush=True)
        try:
            with progress.file_progress(output, n_inputs, enabled=show_progress and sys.stderr.isatty()):
                with make_pipeline(opts) as p:
                    build(p)
        except Exception as exc:
            message = _user_error_message(exc)
            if message:
                raise CLIError(message) from None
            raise
    finally:
        if claim is not None:
            claim.release()
    if summary:
        report.print_run_summary(output, time.time() - started)
    return 0


def _absolute(path: str) -> str:
    """Local paths made absolute, so workers started elsewhere find them; URLs unchanged."""
    return path if "://" in path else os.path.abspath(path)


def _user_error_message(exc: BaseException) -> Optional[str]:
    """The one-line message of a user-facing error (malformed input in --strict mode, a full
    disk) inside a possibly Beam-wrapped exception; None for anything else."""
    from pipelines.fileio import OutputFull

    if isinstance(exc, (MalformedInput, OutputFull)):
        return str(exc)
    markers = [f"{cls.__module__}.{cls.__name__}: " for cls in (MalformedInput, OutputFull)]
    for line in str(exc).splitlines():
        for marker in markers:
            idx = line.find(marker)
            if idx >= 0:
                return line[idx + len(marker):].split(" [while running")[0].strip()
    for line in str(exc).splitlines():
        if "No space left on device" in line:
            return f"no space left on the device: {line.strip()[:300]}"
    return None


def _fraction(name: str, include_one: bool):
    """argparse type for a float in (0, 1] (or (0, 1) when `include_one` is false)."""
    def parse(value: str) -> float:
        v = float(value)
        if not (0.0 < v <= 1.0 if include_one else 0.0 < v < 1.0):
            raise argparse.ArgumentTypeError(f"{name} must be within (0, {'1]' if include_one else '1)'}, got {value}")
        return v
    return parse


def add_dedup_parser(sub) -> None:
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
    p.add_argument("--threshold", type=_fraction("--threshold", include_one=True), default=None,
                   help="estimated Jaccard (documents, default 0.8) or containment (books, default 0.9) "
                        "that makes a near duplicate")
    p.add_argument("--candidate-threshold", type=_fraction("--candidate-threshold", include_one=False), default=None,
                   help="Jaccard at which LSH banding collides half the time; below --threshold for recall "
                        "(default 0.6: 21 bands x 6 rows for 128 permutations; books 0.2: 64 x 2, since a "
                        "book contained in a 3x longer one has Jaccard ~0.3)")
    p.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (default 128)")
    p.add_argument("--ngram", type=int, default=5, help="words per shingle (default 5)")
    p.add_argument("--seed", type=int, default=1, help="MinHash seed, as datasketch's (default 1)")
    p.add_argument("--keep", choices=["perplexity", "longest", "first"], default="perplexity",
                   help="which member of a cluster survives: lowest perplexity when present, else longest "
                        "(default); longest; first in input order. Ties: smallest id")
    from pipelines.ccnet_steps import char_limit
    from pipelines.dedup_steps import DEFAULT_MAX_CHARS
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
    from pipelines.dedup_steps import DedupConfig

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
    args.output = _absolute(args.output)
    inputs = [_absolute(i) for i in args.input]
    try:
        units = dedup.plan_units(inputs, args.allow_incomplete)
        for _, path, _ in units:
            input_kind(path)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    unreadable = _unreadable_inputs([path for _, path, _ in units], args.strict)
    folders = [i for i in inputs if "://" not in i and os.path.isdir(i)]
    claim = _claim(args.output, "dedup", dedup.output_patterns(units), args.overwrite, input_folders=folders,
                   input_files=[path for _, path, _ in units])
    cfg = DedupConfig(threshold=args.threshold, num_perm=args.num_perm, ngram=args.ngram, seed=args.seed,
                      keep=args.keep, candidate_threshold=args.candidate_threshold, strict=args.strict,
                      granularity=args.granularity, max_chars=args.max_chars)
    return run_pipeline("dedup", len(units), args.output, beam_args, args.workers,
                        lambda p: dedup.build_pipeline(p, units, args.output, cfg, args.cc_rounds, claim.run_id,
                                                       unreadable), claim=claim)


def add_lm_train_parser(sub) -> None:
    p = sub.add_parser("lm-train", allow_abbrev=False,
                       help="train MODELS/lm/LANG.sp.model and LANG.arpa.bin from reference text",
                       description=(
                           "Train a language's perplexity models as CCNet did: CCNet normalisation, "
                           "SentencePiece unigram, 5-gram KenLM (lmplz) and build_binary. Writes "
                           "MODELS/lm/LANG.sp.model and MODELS/lm/LANG.arpa.bin."))
    p.add_argument("--lang", required=True, help="ISO 639-1 code as fastText labels it, e.g. en")
    p.add_argument("--text", nargs="+", required=True, metavar="FILE", help="reference text files (UTF-8)")
    p.add_argument("--out", required=True, metavar="MODELS", help="models folder")
    p.add_argument("--vocab-size", type=int, default=8000,
                   help="SentencePiece vocabulary (CCNet used 65536 on Wikipedia; default 8000)")
    p.add_argument("--order", type=int, default=5, help="n-gram order (default 5)")
    p.add_argument("--memory", default="20%", help="lmplz -S memory budget (default 20%%)")
    p.set_defaults(func=run_lm_train)


def run_lm_train(args, beam_args: list[str]) -> int:
    from filters.lm_train import train_language_models

    if beam_args:
        raise CLIError(f"lm-train does not take {' '.join(beam_args)}")
    if not IDENTIFIER.match(args.lang):
        raise CLIError(f"--lang {args.lang!r} is not a language code (letters, digits, _ or -)")
    if args.vocab_size < 10:
        raise CLIError(f"--vocab-size must be >= 10, got {args.vocab_size}")
    try:
        sp, lm = train_language_models(args.lang, args.text, args.out, vocab_size=args.vocab_size,
                                       order=args.order, memory=args.memory)
    except (FileNotFoundError, ValueError, UnicodeDecodeError) as exc:
        raise CLIError(str(exc)) from None
    print(f"wrote {sp}\nwrote {lm}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llamapipe", allow_abbrev=False, description=(
        "llamapipe: LLaMA pre-training data pipelines on Apache Beam. Unknown --flags of a "
        "pipeline command are passed to Beam (e.g. --runner DataflowRunner --project P)."))
    parser.add_argument("-v", "--verbose", action="store_true", help="Beam and pipeline logs at INFO")
    sub = parser.add_subparsers(dest="command", required=True)
    add_ccnet_parser(sub)
    add_dedup_parser(sub)
    add_lm_train_parser(sub)
    from pipelines.cli_tokens import add_parsers

    add_parsers(sub)
    sub.add_parser("train", add_help=False, help="train a LLaMA model on token shards (= python -m train; "
                                                  "llamapipe train --help)")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    from pipelines.memory import pin_mmap_threshold

    pin_mmap_threshold()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:  # the trainer has its own flags: `llamapipe train` = `python -m train`
        from train.__main__ import main as train_main

        return train_main(argv[1:])
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(drop_known_noise)
    try:
        return args.func(args, beam_args)
    except (CLIError, IncompleteInput) as exc:
        print(f"llamapipe {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
