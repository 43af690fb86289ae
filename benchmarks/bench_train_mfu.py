"""Training throughput and MFU of the LLaMA trainer; writes BENCHMARKS.md on a GPU.

On a GPU: the `1b` config (d 2048, 16 layers, 16 heads), sequence 2048, bf16, torch.compile,
for xformers, flex_attention and SDPA attention, each with and without document masking, in one run; each
variant runs 3K steps logged every K, and tokens/s and MFU are the mean of the last two
intervals (the first holds compilation). MFU = tokens/s x (6N + 12·L·d·S) / peak bf16 FLOP/s,
N the non-embedding parameters (../shared/GPU.md). Token shards: --tokens, or synthetic ones
(random tokens in documents of ~700 tokens) so the script needs nothing but itself.

On CPU, `--smoke`: the `tiny` config, a few steps, SDPA only, nothing written: it checks the
script runs.

    python benchmarks/bench_train_mfu.py [--tokens TOKENS] [--interval 10] [--micro-batch 8]
    python benchmarks/bench_train_mfu.py --smoke
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench_common import ROOT, machine, write_section


def synthetic_tokens(folder: Path, vocab: int, tokens: int, doc_len: int = 700, seed: int = 0) -> Path:
    """A one-source token shard folder of random tokens in documents of doc_len ± 50%."""
    import numpy as np

    from tokenizer.shards import FORMAT, MIXTURE_FILE, part_stem, shard_bytes, token_dtype

    rng = np.random.default_rng(seed)
    lengths = []
    while sum(lengths) < tokens:
        lengths.append(int(rng.integers(doc_len // 2, doc_len * 3 // 2)))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    toks = rng.integers(3, vocab, size=int(offsets[-1]))
    toks[offsets[:-1]] = 1
    toks[offsets[1:] - 1] = 2
    dtype = token_dtype(vocab)
    bin_data, idx_data = shard_bytes(toks, offsets, dtype)
    (folder / "synthetic").mkdir(parents=True, exist_ok=True)
    (folder / "synthetic" / f"{part_stem(0)}.bin").write_bytes(bin_data)
    (folder / "synthetic" / f"{part_stem(0)}.idx").write_bytes(idx_data)
    n = int(offsets[-1])
    entry = {"files": [{"bin": "synthetic/part-00000.bin", "idx": "synthetic/part-00000.idx", "documents": len(lengths),
                        "tokens": n, "input": None}], "documents": len(lengths), "tokens": n, "proportion": 1.0,
             "epochs": 1.0, "required_epochs": 1.0, "supplied_tokens": n, "epochs_used": 1.0, "realised_share": 1.0}
    mixture = {"format": FORMAT, "tokenizer": {"path": None, "sha256": None, "vocab_size": vocab, "bos_id": 1, "eos_id": 2},
               "dtype": dtype.name, "mixture": "synthetic", "token_budget": n, "total_tokens": n,
               "sources": {"synthetic": entry}, "warnings": []}
    (folder / MIXTURE_FILE).write_text(json.dumps(mixture))
    return folder


def run_variant(tokens: Path, work: Path, name: str, overrides: dict, interval: int) -> dict:
    import torch

    from train.config import load_config
    from train.trainer import train

    out = work / name.replace(" ", "_")
    args = [f"tokens={tokens}", f"out_dir={out}", "checkpoint_every=0", "eval_windows=0", "tensorboard=false",
            "allow_incomplete=true",  # synthetic shards have no manifest; a real TOKENS folder is still checked
            f"log_every={interval}", f"max_steps={3 * interval}", "warmup_steps=0",
            *(f"{k}={json.dumps(v) if isinstance(v, bool) else v}" for k, v in overrides.items())]
    cfg = load_config(None, args)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    started = time.time()
    train(cfg)
    wall = time.time() - started
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    tail = [r for r in records if "tokens_per_s" in r][-2:]
    result = {"variant": name, "tokens_per_s": sum(r["tokens_per_s"] for r in tail) / len(tail),
              "memory_gb": tail[-1]["memory_gb"], "wall": wall, "loss": tail[-1]["loss"]}
    if all("mfu" in r for r in tail):
        result["mfu"] = sum(r["mfu"] for r in tail) / len(tail)
    if torch.cuda.is_available():
        import torch._dynamo

        torch._dynamo.reset()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", default=None, help="TOKENS folder (default: synthetic shards)")
    ap.add_argument("--smoke", action="store_true", help="CPU check: tiny config, a few steps, nothing written")
    ap.add_argument("--interval", type=int, default=10, help="steps per logged interval (3 intervals per variant)")
    ap.add_argument("--micro-batch", type=int, default=8, help="sequences per step (GPU)")
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    import torch

    work = Path(tempfile.mkdtemp(prefix="train-mfu-"))
    if args.smoke or not torch.cuda.is_available():
        if not args.smoke:
            sys.exit("no CUDA device: run with --smoke for the CPU check")
        tokens = Path(args.tokens) if args.tokens else synthetic_tokens(work / "tokens", 512, 200_000)
        common = {"model": "tiny", "seq_len": 128, "batch_tokens": 1024, "micro_batch": 8, "threads": os.cpu_count()}
        variants = [("sdpa, document mask", {**common, "attention": "sdpa", "doc_mask": True}),
                    ("sdpa, causal", {**common, "attention": "sdpa", "doc_mask": False})]
        interval = 2
    else:
        tokens = Path(args.tokens) if args.tokens else synthetic_tokens(work / "tokens", 32000, 40_000_000)
        seq = 2048
        common = {"model": "1b", "seq_len": seq, "batch_tokens": seq * args.micro_batch, "micro_batch": args.micro_batch,
                  "compile": True, "dtype": "bf16", "init": "meta"}  # initialised on the GPU: seconds, not a minute
        variants = [("xformers, document mask", {**common, "attention": "xformers", "doc_mask": True}),
                    ("flex, document mask", {**common, "attention": "flex", "doc_mask": True}),
                    ("sdpa, document mask", {**common, "attention": "sdpa", "doc_mask": True}),
                    ("xformers, causal", {**common, "attention": "xformers", "doc_mask": False}),
                    ("flex, causal", {**common, "attention": "flex", "doc_mask": False}),
                    ("sdpa, causal", {**common, "attention": "sdpa", "doc_mask": False})]
        interval = args.interval
    results = [run_variant(tokens, work, name, over, interval) for name, over in variants]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    lines = [
        "## Training throughput (`benchmarks/bench_train_mfu.py`)",
        "",
        f"Device: {device}; host {machine()}. torch {torch.__version__}. Config `{variants[0][1]['model']}`, sequence "
        f"{variants[0][1]['seq_len']}, {variants[0][1]['micro_batch']} sequences per step, "
        f"{'bf16, torch.compile' if torch.cuda.is_available() else 'fp32, eager'}; tokens/s and MFU are the mean of "
        f"steps {interval + 1}-{3 * interval} (steps 1-{interval} hold compilation). MFU counts 6N + 12·L·d·S FLOPs per "
        f"token against the card's dense bf16 peak; with document masking fewer attention FLOPs are really done, so "
        f"compare those rows by tokens/s. One run, {time.strftime('%Y-%m-%d')}.",
        "",
        "| attention | tokens/s | MFU | peak memory GB | wall s (incl. compile) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        mfu = f"{100 * r['mfu']:.1f}%" if "mfu" in r else "n/a"
        lines.append(f"| {r['variant']} | {r['tokens_per_s']:,.0f} | {mfu} | {r['memory_gb']:.1f} | {r['wall']:.0f} |")
    text = "\n".join(lines)
    print(text)
    if not args.smoke:
        write_section(Path(args.output), "train_mfu", text)


if __name__ == "__main__":
    main()
