"""`llamapipe tokenizer-train`, `tokenize` and `stats`: from corpus shards to training tokens."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from corpus.mixture import LLAMA_MIXTURE, Mixture, load_mixture
from corpus.paths import canonical, is_url
from corpus.shards import IDENTIFIER
from pipelines.cli.common import CLIError, absolute, claim_out, run_pipeline, user_errors
from pipelines.tokenizer_train import TokenizerTrainConfig


def _corpus_spec(value: str) -> tuple[str, str]:
    source, sep, folder = value.partition("=")
    if not sep or not source or not folder:
        raise argparse.ArgumentTypeError(f"--corpus takes SOURCE=DIR (e.g. cc=out/ccnet), got {value!r}")
    if not IDENTIFIER.match(source.strip()):
        raise argparse.ArgumentTypeError(f"--corpus {value!r}: source name {source.strip()!r} must be an identifier "
                                         f"(letters, digits, _ or -): it becomes a folder name")
    return source.strip(), folder


def _buckets(value: str) -> frozenset[str]:
    names = frozenset(b.strip() for b in value.split(",") if b.strip())
    bad = names - {"head", "middle", "tail", "all"}
    if not names or bad:
        raise argparse.ArgumentTypeError(f"--bucket takes head,middle,tail,all (comma-separated), got {value!r}")
    return names


def _add_corpus_args(p) -> None:
    p.add_argument("--corpus", type=_corpus_spec, action="append", required=True, metavar="SOURCE=DIR",
                   help="a source's corpus shard folder (output of ccnet/dedup); repeat per source")
    p.add_argument("--mixture", default=str(LLAMA_MIXTURE), metavar="MIXTURE.yaml",
                   help="per-source proportion and epochs (default: LLaMA Table 1, corpus/mixtures/llama.yaml)")
    p.add_argument("--renormalize", action="store_true",
                   help="sources of the mixture without --corpus are dropped and the others rescaled "
                        "(default: an error naming them)")
    p.add_argument("--bucket", type=_buckets, default=None, metavar="head,middle",
                   help="use only these perplexity buckets (default: all documents)")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="read corpus folders without _SUCCESS (an unfinished or foreign run) as they are")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")


def _corpus_and_mixture(args) -> tuple[dict[str, list[str]], Mixture, list[str]]:
    corpus: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for source, folder in args.corpus:
        folder = absolute(folder).rstrip("/")
        if not is_url(folder) and not os.path.isdir(folder):
            raise CLIError(f"--corpus {source}={folder}: no such folder")
        key = canonical(folder)
        if (source, key) in seen:
            print(f"warning: --corpus {source}={folder} is the same folder as {seen[source, key]}; read once",
                  file=sys.stderr)
            continue
        seen[source, key] = folder
        corpus.setdefault(source, []).append(folder)
    mixture, warnings = load_mixture(args.mixture).restrict(sorted(corpus), args.renormalize)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return corpus, mixture, warnings


def add_tokenizer_train_parser(sub) -> None:
    p = sub.add_parser("tokenizer-train", allow_abbrev=False,
                       help="sample documents by mixture weight and train a LLaMA-style SentencePiece BPE",
                       description=(
                           "Sample --sample-docs documents across sources in proportion to the mixture "
                           "(uniform within a source, deterministic from --seed, a Beam pipeline), then "
                           "train SentencePiece BPE with the LLaMA tokenizer's settings: digits split, byte "
                           "fallback, identity normalisation, dummy prefix, whitespace kept. Writes --out "
                           "(.model), its .vocab and a .json record of the sample. Unknown --flags go to Beam."))
    _add_corpus_args(p)
    d = {f.name: f.default for f in dataclasses.fields(TokenizerTrainConfig)}
    p.add_argument("--vocab-size", type=int, default=d["vocab_size"],
                   help=f"exact vocabulary size (default {d['vocab_size']}, as LLaMA)")
    p.add_argument("--sample-docs", type=int, default=d["sample_docs"],
                   help=f"documents to train on (default {d['sample_docs']:,}). SentencePiece holds every sampled "
                        f"line in memory: measured ~0.65 GB and 10 s per 20,000 web documents for 32k pieces")
    p.add_argument("--seed", type=int, default=d["seed"], help=f"sampling seed (default {d['seed']})")
    p.add_argument("--threads", type=int, default=None, help="SentencePiece training threads (default: cores)")
    p.add_argument("--out", required=True, metavar="TOK.model", help="model file to write")
    p.set_defaults(func=run_tokenizer_train)


def run_tokenizer_train(args, beam_args: list[str]) -> int:
    from pipelines import tokenizer_train

    corpus, mixture, warnings = _corpus_and_mixture(args)
    cfg = tokenizer_train.TokenizerTrainConfig(
        corpus=tuple((s, tuple(f)) for s, f in corpus.items()), mixture=mixture, out=str(Path(args.out).resolve()),
        vocab_size=args.vocab_size, sample_docs=args.sample_docs, seed=args.seed, threads=args.threads,
        buckets=args.bucket, allow_incomplete=args.allow_incomplete, warnings=tuple(warnings))

    def run(build, n_inputs: int, scratch: str):
        return run_pipeline("tokenizer-train (sampling)", n_inputs, scratch, beam_args, args.workers, build,
                            summary=False)

    with user_errors(tokenizer_train.TrainingFailed):
        tokenizer_train.train(cfg, run, say=lambda line: print(line, file=sys.stderr, flush=True))
    out = Path(cfg.out)
    print(f"wrote {out} ({cfg.vocab_size:,} pieces), {out.with_suffix('.vocab')}, {out.with_suffix('.json')}")
    return 0


def add_tokenize_parser(sub) -> None:
    p = sub.add_parser("tokenize", allow_abbrev=False,
                       help="corpus shards -> token shards (.bin/.idx per source) and mixture.json",
                       description=(
                           "Encode every document as BOS + tokens + EOS into TOKENS/<source>/part-NNNNN.bin "
                           "(uint16 when the vocabulary fits) with int64 document offsets in .idx, and write "
                           "TOKENS/mixture.json: per source its files, documents, tokens, proportion, epochs, and "
                           "what it supplies for --token-budget. Unknown --flags go to Beam."))
    _add_corpus_args(p)
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
    corpus, mixture, warnings = _corpus_and_mixture(args)
    cfg = tokenize.TokenizeConfig(units=tuple(tokenize.plan_units(corpus, args.allow_incomplete)),
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


def add_stats_parser(sub) -> None:
    p = sub.add_parser("stats", allow_abbrev=False,
                       help="summarise corpus shards or token shards (terminal table, --json, --html)",
                       description=(
                           "On corpus shards: documents, characters, mean/median length by source x language "
                           "x bucket, perplexity percentiles per language, drop reasons from _stats.json. On "
                           "token shards: tokens and documents per source, configured vs realised mixture, "
                           "epochs. --html writes one self-contained page with plots."))
    p.add_argument("path", metavar="PATH", help="a corpus shard folder or a token shard folder (mixture.json)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of tables")
    p.add_argument("--html", metavar="REPORT.html", default=None, help="also write an HTML report with plots")
    p.add_argument("--verify", action="store_true",
                   help="also check every file's sha256 against _manifest.json (reads every byte)")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="summarise a folder without _SUCCESS (an unfinished run) as it is")
    p.set_defaults(func=run_stats)


def run_stats(args, beam_args: list[str]) -> int:
    from pipelines.report import stats as stats_report

    if beam_args:
        raise CLIError(f"stats does not take {' '.join(beam_args)}")
    with user_errors(ValueError):
        summary = stats_report.summarise(args.path, progress=not args.json and sys.stderr.isatty(),
                                         verify=args.verify, allow_incomplete=args.allow_incomplete)
    if args.json:
        print(json.dumps(summary, indent=1, sort_keys=True))
    else:
        stats_report.print_summary(summary)
    if args.html:
        try:
            stats_report.write_html(summary, args.html)
        except OSError as exc:
            raise CLIError(f"cannot write {args.html}: {exc.strerror or exc}") from None
        print(f"wrote {os.path.abspath(args.html)}", file=sys.stderr)
    return 0


def add_parsers(sub) -> None:
    add_tokenizer_train_parser(sub)
    add_tokenize_parser(sub)
    add_stats_parser(sub)
