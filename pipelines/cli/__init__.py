"""The `llamapipe` command: one entry point for every pipeline and tool; one module here per command.

Flags a command does not know go to Beam's PipelineOptions, so `--runner DataflowRunner
--project P --region R` or `--runner SparkRunner` work as Beam documents them.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional

from pipelines.cli import (arxiv, books, c4, ccnet, dedup, github, hf, lm_train, plan, quality, stackexchange,
                           stats, tokenize, tokenizer_train, wikipedia)
from pipelines.cli.common import EXIT_BAD_INPUT, CLIError, user_error_types
from pipelines.cli.quiet_logs import drop_known_noise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llamapipe", allow_abbrev=False, description=(
        "llamapipe: LLaMA pre-training data pipelines on Apache Beam. Unknown --flags of a "
        "pipeline command are passed to Beam (e.g. --runner DataflowRunner --project P)."))
    parser.add_argument("-v", "--verbose", action="store_true", help="Beam and pipeline logs at INFO")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (ccnet, c4, wikipedia, stackexchange, arxiv, github, books, dedup, quality, lm_train,
                    tokenizer_train, tokenize, stats, plan, hf):
        command.add_parsers(sub)
    sub.add_parser("train", add_help=False, help="train a LLaMA model on token shards (= python -m train; "
                                                  "llamapipe train --help)")
    return parser


def refuse_unknown_flags(parser: argparse.ArgumentParser, command: str, beam_args: list[str]) -> None:
    """A CLIError for a flag neither the command nor Beam defines, with the closest names; Beam alone
    would log it among its notices and run with the defaults."""
    import difflib

    from pipelines.runner import unknown_flags

    unknown, beam_flags = unknown_flags(beam_args)
    if not unknown:
        return
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    ours = [o for o in sub._option_string_actions if o.startswith("--")]
    close = difflib.get_close_matches(unknown[0], ours + beam_flags, n=3)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise CLIError(f"unknown flag {unknown[0]}{hint}: it is neither a {command} flag nor a Beam pipeline option")


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
        if beam_args and args.command != "stats":
            refuse_unknown_flags(parser, args.command, beam_args)
        return args.func(args, beam_args)
    except user_error_types() as exc:
        print(f"llamapipe {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
