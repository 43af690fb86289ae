"""Benchmark `llamapipe tokenize` against plain SentencePiece encoding; write BENCHMARKS.md.

In one run, on corpus shards made from a make_wet_corpus.py corpus by `llamapipe ccnet`
(language ID only, no perplexity models): a 32,000-piece tokenizer from `llamapipe
tokenizer-train`, then `llamapipe tokenize` on half of the shards, on all of them and on every
shard twice (hard links), each with wall time, CPU-seconds of the whole process tree (launcher and
workers, Beam start-up included) and peak memory; and `SentencePieceProcessor.encode` over the
texts of all shards in batches of 256 on one thread (CPU-seconds of the encode calls: the rate to
match), whose ids must equal the token shards' exactly. `--replicate K` makes "all" K hard-linked
copies of every shard, for corpora too small to reach the size wanted. Also the wall time of
`llamapipe stats` on the same shards.

    python benchmarks/bench_tokenize.py --corpus CORPUS [--workers 2] [--replicate K] [--output FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from bench_common import ROOT, machine, measure, write_section

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "tokenize"
MIXTURE = "sources:\n  cc: {proportion: 1.0, epochs: 1.0}\n"


def llamapipe(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args]


def corpus_shards(corpus: Path, workers: int) -> Path:
    """ccnet output for the corpus's WET files (cached between runs)."""
    out = WORK / f"ccnet-{corpus.name}"
    if not (out / "_SUCCESS").exists():
        print(f"llamapipe ccnet on {corpus} (language ID only)...", flush=True)
        measure(llamapipe("ccnet", "--input", str(corpus / "wet" / "*.warc.wet.gz"), "--output", str(out),
                          "--overwrite", "--workers", str(workers)))
    return out


def replicated_corpus(full: Path, copies: int) -> Path:
    """`full` itself, or a folder of `copies` hard links of each of its shards (a small corpus made big)."""
    return full if copies == 1 else replicated(full, copies, "rep")


def half_corpus(full: Path) -> Path:
    """A corpus folder holding the shards of the first half of the input files (hard links)."""
    from corpus.shards import local_parquet_files

    half = WORK / f"{full.name}-half"
    shutil.rmtree(half, ignore_errors=True)
    files = local_parquet_files(str(full))
    parts = sorted({Path(rel).name for _, rel in files})
    keep = set(parts[:max(1, len(parts) // 2)])
    for path, rel in files:
        if Path(rel).name in keep:
            (half / rel).parent.mkdir(parents=True, exist_ok=True)
            os.link(path, half / rel)
    return half


def replicated(full: Path, copies: int, tag: str = "x") -> Path:
    """A corpus folder holding `copies` hard links of every shard (for the stats scan at ~1 GB)."""
    from corpus.shards import local_parquet_files

    big = WORK / f"{full.name}-{tag}{copies}"
    shutil.rmtree(big, ignore_errors=True)
    for path, rel in local_parquet_files(str(full)):
        for k in range(copies):
            target = big / Path(rel).parent / f"{Path(rel).stem}-{k:02d}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
    return big


def texts_of(folder: Path) -> list[str]:
    import pyarrow.parquet as pq

    from corpus.shards import local_parquet_files

    return [t for p, _ in local_parquet_files(str(folder)) for t in pq.read_table(p, columns=["text"]).column("text").to_pylist()]


def plain_encode_and_check(model: Path, tokens_dir: Path) -> dict:
    """SentencePieceProcessor.encode over the texts of every input of a tokenize run, in batches of
    256 on one thread (wall and CPU seconds of the encode calls only), checked id for id against the
    run's token shards: the benchmark fails if the shards differ from plain SentencePiece."""
    import numpy as np
    import pyarrow.parquet as pq
    import sentencepiece as spm

    from tokenizer.shards import open_shard

    sp = spm.SentencePieceProcessor(model_file=str(model))
    bos, eos = sp.bos_id(), sp.eos_id()
    mixture = json.loads((tokens_dir / "mixture.json").read_text())
    wall = cpu = 0.0
    mb, docs, tokens = 0.0, 0, 0
    for entry in mixture["sources"]["cc"]["files"]:
        texts = [t for t in pq.read_table(entry["input"], columns=["text"]).column("text").to_pylist() if t and t.strip()]
        mb += sum(len(t.encode("utf-8")) for t in texts) / 1e6
        started, started_cpu = time.time(), time.process_time()
        encoded = []
        for i in range(0, len(texts), 256):
            encoded += sp.encode(texts[i:i + 256], num_threads=1)
        wall += time.time() - started
        cpu += time.process_time() - started_cpu
        shard = open_shard(tokens_dir / entry["bin"], mixture["dtype"])
        want = np.fromiter((t for ids in encoded for t in (bos, *ids, eos)), dtype=np.int64)
        if shard.documents != len(encoded) or not np.array_equal(np.asarray(shard.tokens, dtype=np.int64), want):
            sys.exit(f"{tokens_dir / entry['bin']}: tokens differ from SentencePieceProcessor.encode of {entry['input']}")
        docs += len(encoded)
        tokens += len(want)
    return {"mb": mb, "wall": wall, "cpu": cpu, "docs": docs, "tokens": tokens}


def main() -> None:
    global WORK
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="make_wet_corpus.py output (its wet/ folder)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--vocab-size", type=int, default=32000)
    ap.add_argument("--sample-docs", type=int, default=20000)
    ap.add_argument("--replicate", type=int, default=1,
                    help="'all' is this many hard-linked copies of every ccnet shard (default 1: the shards)")
    ap.add_argument("--work", default=str(WORK), help=f"scratch folder (default {WORK})")
    ap.add_argument("--output", "--out", default=str(ROOT / "BENCHMARKS.md"),
                    help="file whose tokenize section is written (default BENCHMARKS.md)")
    args = ap.parse_args()
    corpus = Path(args.corpus).resolve()
    WORK = Path(args.work).resolve()
    WORK.mkdir(parents=True, exist_ok=True)
    mixture = WORK / "cc.yaml"
    mixture.write_text(MIXTURE)
    shards = corpus_shards(corpus, args.workers)
    model = WORK / "tok" / "tok.model"
    if not model.exists():
        print("llamapipe tokenizer-train...", flush=True)
        measure(llamapipe("tokenizer-train", "--corpus", f"cc={shards}", "--mixture", str(mixture), "--vocab-size",
                          str(args.vocab_size), "--sample-docs", str(args.sample_docs), "--out", str(model)))
    full = replicated_corpus(shards, args.replicate)
    half = half_corpus(full)
    double = replicated(full, 2)
    rows = []
    for label, folder in (("half", half), ("all", full), ("twice", double)):
        mb = sum(len(t.encode("utf-8")) for t in texts_of(folder)) / 1e6
        print(f"llamapipe tokenize on {mb:.0f} MB ({label})...", flush=True)
        out = WORK / f"tokens-{label}"
        m = measure(llamapipe("tokenize", "--corpus", f"cc={folder}", "--mixture", str(mixture), "--tokenizer",
                              str(model), "--out", str(out), "--overwrite", "--workers", str(args.workers),
                              "--allow-incomplete"))  # the half and doubled folders are hard links, no manifest
        mix = json.loads((out / "mixture.json").read_text())
        rows.append({"label": label, "mb": mb, "docs": mix["sources"]["cc"]["documents"],
                     "tokens": mix["sources"]["cc"]["tokens"], **m})
    print("plain SentencePiece encode of every input of the 'all' run, checked against its shards...", flush=True)
    plain = plain_encode_and_check(model, WORK / "tokens-all")
    print("llamapipe stats...", flush=True)
    stats_run = measure(llamapipe("stats", str(full), "--json", "--allow-incomplete"))
    shard_mb = sum(p.stat().st_size for p in full.rglob("*.parquet")) / 1e6
    shutil.rmtree(double)
    copies = max(2, -(-1000 // int(plain["mb"])))
    big = replicated(full, copies)
    stats_big = measure(llamapipe("stats", str(big), "--json", "--allow-incomplete"))
    shutil.rmtree(big)

    import sentencepiece

    plain_rate, plain_cpu_rate = plain["mb"] / plain["wall"], plain["mb"] / plain["cpu"]
    source = f"{corpus.name} from make_wet_corpus.py"
    if args.replicate > 1:
        source += f", every shard {args.replicate} times (hard links: the corpus has too little unique text)"
    lines = [
        "## Tokenizing (`benchmarks/bench_tokenize.py`)",
        "",
        f"Machine: {machine()}. Python {platform.python_version()}, sentencepiece {sentencepiece.__version__}. "
        f"Corpus shards: `llamapipe ccnet` (language ID, no perplexity) on {source}; "
        f"tokenizer: `llamapipe tokenizer-train`, {args.vocab_size:,} pieces, {args.sample_docs:,} sampled documents. "
        f"MB are UTF-8 text. One run, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| system | input | documents | tokens | wall s | CPU s | cores | MB/s per core (wall) | MB per CPU s "
        "| vs plain (wall) | vs plain (CPU s) | peak RSS GB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| SentencePieceProcessor.encode, batches of 256, 1 thread (encode only) | {plain['mb']:.0f} MB | "
        f"{plain['docs']:,} | {plain['tokens']:,} | {plain['wall']:.1f} | {plain['cpu']:.1f} | 1 | {plain_rate:.2f} | "
        f"{plain_cpu_rate:.2f} | 1.00 | 1.00 | |",
    ]
    for r in rows:
        rate, cpu_rate = r["mb"] / r["wall"] / args.workers, r["mb"] / r["cpu"]
        lines.append(f"| llamapipe tokenize (Beam, {args.workers} workers; read, encode, write, mixture.json) | "
                     f"{r['mb']:.0f} MB | {r['docs']:,} | {r['tokens']:,} | {r['wall']:.1f} | {r['cpu']:.1f} | "
                     f"{args.workers} | {rate:.2f} | {cpu_rate:.2f} | {rate / plain_rate:.2f} | "
                     f"{cpu_rate / plain_cpu_rate:.2f} | {r['peak_rss'] / 2**30:.2f} |")
    lines += [
        "",
        "Tokens include BOS and EOS per document (the plain row adds them). CPU s is user + system time of the "
        "whole process tree (launcher and workers, Beam start-up and Parquet reading included) for the llamapipe "
        "rows and of the encode calls alone for the plain row, so MB per CPU s compares the work done whatever else "
        "the machine was running; MB/s per core (wall) divides by the workers given. The plain row encodes the "
        "inputs of the middle row, and its ids were checked equal to that run's token shards, document by document. "
        "llamapipe encodes through a cache of space-delimited chunks (tokenizer/fast_encode.py, exact for "
        "LLaMA-style BPE models, cleared for every input shard). The largest input is every shard twice (hard "
        "links); peak RSS is the whole process tree.",
        "",
        f"`llamapipe stats` on the shards ({shard_mb:.0f} MB of Parquet, {plain['mb']:.0f} MB of text): "
        f"{stats_run['wall']:.1f} s wall, peak RSS {stats_run['peak_rss'] / 2**30:.2f} GB; on {copies} copies of every "
        f"shard ({copies * shard_mb:.0f} MB of Parquet, {copies * plain['mb'] / 1e3:.2f} GB of text): "
        f"{stats_big['wall']:.1f} s wall, peak RSS {stats_big['peak_rss'] / 2**30:.2f} GB.",
    ]
    write_section(Path(args.output), "tokenize", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
