"""Benchmark `llamapipe tokenize` against plain SentencePiece encoding; write BENCHMARKS.md.

In one run, on corpus shards made from a make_wet_corpus.py corpus by `llamapipe ccnet`
(language ID only, no perplexity models): a 32,000-piece tokenizer from `llamapipe
tokenizer-train`, then `llamapipe tokenize` on half of the shards and on all of them (wall
time, MB/s per core, peak memory of the process tree), and `SentencePieceProcessor.encode` over
the same texts in batches of 256 on one thread (MB/s per core: the rate to match). The third
size is every shard twice (hard links): Beam's start-up (~2 s) weighs less there. Also the
wall time of `llamapipe stats` on the same shards.

    python benchmarks/bench_tokenize.py --corpus CORPUS [--workers 2]
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


def replicated(full: Path, copies: int) -> Path:
    """A corpus folder holding `copies` hard links of every shard (for the stats scan at ~1 GB)."""
    from corpus.shards import local_parquet_files

    big = WORK / f"{full.name}-x{copies}"
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


def plain_encode(model: Path, texts: list[str]) -> tuple[float, int]:
    """Seconds for SentencePieceProcessor.encode over the texts in batches of 256, one thread."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    started = time.time()
    tokens = 0
    for i in range(0, len(texts), 256):
        tokens += sum(map(len, sp.encode(texts[i:i + 256], num_threads=1)))
    return time.time() - started, tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="make_wet_corpus.py output (its wet/ folder)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--vocab-size", type=int, default=32000)
    ap.add_argument("--sample-docs", type=int, default=20000)
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    corpus = Path(args.corpus).resolve()
    WORK.mkdir(parents=True, exist_ok=True)
    mixture = WORK / "cc.yaml"
    mixture.write_text(MIXTURE)
    full = corpus_shards(corpus, args.workers)
    model = WORK / "tok" / "tok.model"
    if not model.exists():
        print("llamapipe tokenizer-train...", flush=True)
        measure(llamapipe("tokenizer-train", "--corpus", f"cc={full}", "--mixture", str(mixture), "--vocab-size",
                          str(args.vocab_size), "--sample-docs", str(args.sample_docs), "--out", str(model)))
    half = half_corpus(full)
    double = replicated(full, 2)
    rows = []
    plain = None
    for label, folder in (("half", half), ("all", full), ("twice", double)):
        texts = texts_of(folder)
        mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        if label == "twice":
            print(f"plain SentencePiece encode on {mb:.0f} MB...", flush=True)
            secs, plain_tokens = plain_encode(model, texts)
            plain = {"mb": mb, "secs": secs, "tokens": plain_tokens, "docs": len(texts)}
        del texts
        print(f"llamapipe tokenize on {mb:.0f} MB ({label})...", flush=True)
        out = WORK / f"tokens-{label}"
        m = measure(llamapipe("tokenize", "--corpus", f"cc={folder}", "--mixture", str(mixture), "--tokenizer",
                              str(model), "--out", str(out), "--overwrite", "--workers", str(args.workers),
                              "--allow-incomplete"))  # the half and doubled folders are hard links, no manifest
        mix = json.loads((out / "mixture.json").read_text())
        rows.append({"label": label, "mb": mb, "docs": mix["sources"]["cc"]["documents"],
                     "tokens": mix["sources"]["cc"]["tokens"], **m})
    print("llamapipe stats...", flush=True)
    stats_run = measure(llamapipe("stats", str(full), "--json"))
    shard_mb = sum(p.stat().st_size for p in full.rglob("*.parquet")) / 1e6
    shutil.rmtree(double)
    copies = max(2, -(-1000 // int(plain["mb"] / 2)))
    big = replicated(full, copies)
    stats_big = measure(llamapipe("stats", str(big), "--json", "--allow-incomplete"))
    shutil.rmtree(big)

    import sentencepiece

    plain_rate = plain["mb"] / plain["secs"]
    lines = [
        "## Tokenizing (`benchmarks/bench_tokenize.py`)",
        "",
        f"Machine: {machine()}. Python {platform.python_version()}, sentencepiece {sentencepiece.__version__}. "
        f"Corpus shards: `llamapipe ccnet` (language ID, no perplexity) on {corpus.name} from make_wet_corpus.py; "
        f"tokenizer: `llamapipe tokenizer-train`, {args.vocab_size:,} pieces, {args.sample_docs:,} sampled documents. "
        f"MB are UTF-8 text. One run, {time.strftime('%Y-%m-%d')}.",
        "",
        "| system | input | documents | tokens | wall s | cores | MB/s per core | vs plain | peak RSS GB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| SentencePieceProcessor.encode, batches of 256, 1 thread (encode only) | {plain['mb']:.0f} MB | "
        f"{plain['docs']:,} | {plain['tokens'] + 2 * plain['docs']:,} | {plain['secs']:.1f} | 1 | {plain_rate:.2f} | 1.00 | |",
    ]
    for r in rows:
        rate = r["mb"] / r["wall"] / args.workers
        lines.append(f"| llamapipe tokenize (Beam, {args.workers} workers; read, encode, write, mixture.json) | "
                     f"{r['mb']:.0f} MB | {r['docs']:,} | {r['tokens']:,} | {r['wall']:.1f} | {args.workers} | "
                     f"{rate:.2f} | {rate / plain_rate:.2f} | {r['peak_rss'] / 2**30:.2f} |")
    lines += [
        "",
        "Tokens include BOS and EOS per document (the plain row adds them for comparison). The llamapipe rows "
        "are wall time of the whole command, Beam start-up (about 2 s) and Parquet reading included; peak RSS is "
        "the whole process tree (launcher and workers). The largest input is every shard twice (hard links), "
        "the plain row encodes those same texts.",
        "",
        f"`llamapipe stats` on the shards ({shard_mb:.0f} MB of Parquet, {plain['mb'] / 2:.0f} MB of text): "
        f"{stats_run['wall']:.1f} s wall, peak RSS {stats_run['peak_rss'] / 2**30:.2f} GB; on {copies} copies of every "
        f"shard ({copies * shard_mb:.0f} MB of Parquet, {copies * plain['mb'] / 2e3:.2f} GB of text): "
        f"{stats_big['wall']:.1f} s wall, peak RSS {stats_big['peak_rss'] / 2**30:.2f} GB.",
    ]
    write_section(Path(args.output), "tokenize", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
