"""The flags tokenizer-train and tokenize share: --corpus SOURCE=DIR, the mixture, buckets."""
from __future__ import annotations

import argparse
import os
import sys

from corpus.mixture import LLAMA_MIXTURE, Mixture, load_mixture
from corpus.paths import canonical, is_url
from corpus.shards import IDENTIFIER
from pipelines.cli.common import CLIError, absolute, checked
from pipelines.steps import checks


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


def add_corpus_args(p) -> None:
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
    p.add_argument("--workers", type=checked(int, lambda v: checks.at_least("--workers", v, 1)), default=None,
                   help="local worker processes (default: one per core)")


def corpus_and_mixture(args) -> tuple[dict[str, list[str]], Mixture, list[str]]:
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
