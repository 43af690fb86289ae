"""`llamapipe tokenize`: its flags, and the command that runs pipelines/tokenize.py."""
from __future__ import annotations

import os
import sys

from pipelines.cli.common import CLIError, absolute, claim_out, run_pipeline
from pipelines.cli.corpus_args import add_corpus_args, corpus_and_mixture
from pipelines.steps.tokenize import TokenizeConfig


def add_parsers(sub) -> None:
    p = sub.add_parser("tokenize", allow_abbrev=False,
                       help="corpus shards -> token shards (.bin/.idx per source) and mixture.json",
                       description=(
                           "Encode every document as BOS + tokens + EOS into TOKENS/<source>/part-NNNNN.bin "
                           "(uint16 when the vocabulary fits) with int64 document offsets in .idx, and write "
                           "TOKENS/mixture.json: per source its files, documents, tokens, proportion, epochs, and "
                           "what it supplies for --token-budget. Unknown --flags go to Beam."))
    add_corpus_args(p)
    p.add_argument("--tokenizer", required=True, metavar="TOK.model", help="SentencePiece model (tokenizer-train)")
    p.add_argument("--out", required=True, metavar="TOKENS", help="output folder")
    p.add_argument("--token-budget", type=int, default=None,
                   help="training tokens to plan for (default: the largest budget no source needs more than its "
                        "configured epochs for)")
    p.add_argument("--encode-threads", type=int, default=1,
                   help="SentencePiece threads per worker (default 1: workers already use every core)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a finished TOKENS folder (only files a llamapipe run wrote there are removed)")
    p.set_defaults(func=run_tokenize)


def run_tokenize(args, beam_args: list[str]) -> int:
    from pipelines import tokenize

    tokenizer = absolute(args.tokenizer)
    if not os.path.isfile(tokenizer):
        raise CLIError(f"--tokenizer {tokenizer} does not exist")
    _check_tokenizer(tokenizer)
    corpus, mixture, warnings = corpus_and_mixture(args)
    cfg = TokenizeConfig(units=tuple(tokenize.plan_units(corpus, args.allow_incomplete)),
                         out=absolute(args.out), tokenizer=tokenizer, mixture=mixture,
                         warnings=tuple(warnings), buckets=args.bucket, threads=args.encode_threads,
                         token_budget=args.token_budget)
    claim = claim_out(cfg.out, "tokenize", tokenize.output_patterns(cfg.sources()), args.overwrite,
                      input_folders=[f for folders in corpus.values() for f in folders],
                      input_files=[tokenizer, args.mixture])
    result = run_pipeline("tokenize", len(cfg.units), cfg.out, beam_args, args.workers,
                          lambda p: tokenize.build_pipeline(p, cfg, claim.run_id), claim=claim)
    for w in tokenize.plan_warnings(cfg, result):
        print(f"warning: {w}", file=sys.stderr)
    return 0


def _check_tokenizer(path: str) -> None:
    """Load the model once here, so a corrupt file is one line naming it, not a worker traceback."""
    import sentencepiece as spm

    try:
        spm.SentencePieceProcessor(model_file=path)
    except Exception as exc:  # sentencepiece raises OSError or RuntimeError for corrupt models
        raise CLIError(f"--tokenizer {path} is not a SentencePiece model: {str(exc).strip().splitlines()[-1]}") from None
