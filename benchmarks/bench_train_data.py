"""Does the training loop wait on data? Host time per step to build batches and masks, and the time the
loop waited for them, with the prefetching thread (prefetch 2) and without it (prefetch 0); writes the
"train-data" section of BENCHMARKS.md.

    python benchmarks/bench_train_data.py [--steps 30] [--output BENCHMARKS.md]

Runs on CPU (a small model with long sequences, so a step computes for a while as on a GPU) or on a GPU
(the 1b config). Random token shards (bench_train_mfu.synthetic_tokens), documents of ~700 tokens.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench_common import ROOT, machine, write_section
from bench_train_mfu import synthetic_tokens


def run(tokens: Path, work: Path, prefetch: int, overrides: dict, steps: int) -> dict:
    """One training run; per-step means of build time, wait time and step time after the first step."""
    from train.config import load_config
    from train.trainer import train

    out = work / f"prefetch{prefetch}"
    args = [f"tokens={tokens}", f"out_dir={out}", "checkpoint_every=0", "eval_windows=0", "tensorboard=false",
            "allow_incomplete=true", "log_every=1", f"max_steps={steps}", "warmup_steps=0", f"prefetch={prefetch}",
            *(f"{k}={v}" for k, v in overrides.items())]
    started = time.time()
    train(load_config(None, args))
    wall = time.time() - started
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steady = [r for r in records if "loss" in r][1:]
    n = len(steady)
    step_s = sum(overrides_tokens(overrides) / r["tokens_per_s"] for r in steady) / n
    return {"prefetch": prefetch, "build_ms": 1e3 * sum(r["data_build_s"] for r in steady) / n,
            "wait_ms": 1e3 * sum(r["data_wait_s"] for r in steady) / n, "step_ms": 1e3 * step_s,
            "tokens_per_s": sum(r["tokens_per_s"] for r in steady) / n, "wall": wall, "loss": steady[-1]["loss"]}


def overrides_tokens(overrides: dict) -> int:
    return int(overrides["batch_tokens"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    import torch

    work = Path(tempfile.mkdtemp(prefix="train-data-"))
    if torch.cuda.is_available():
        seq, vocab = 2048, 32000
        over = {"model": "1b", "seq_len": seq, "batch_tokens": 8 * seq, "micro_batch": 8, "dtype": "bf16", "init": "meta"}
    else:
        seq, vocab = 1024, 4000
        over = {"model": "tiny", "dim": 256, "n_layers": 4, "n_heads": 8, "seq_len": seq, "batch_tokens": 8 * seq,
                "micro_batch": 8, "attention": "sdpa"}
    tokens = synthetic_tokens(work / "tokens", vocab, 2_000_000)
    results = [run(tokens, work, p, over, args.steps) for p in (0, 2)]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    lines = ["## Training data path (`benchmarks/bench_train_data.py`)", "",
             f"Device: {device}; host {machine()}; torch {torch.__version__}. Model {over['model']}"
             + (f" reshaped to d {over['dim']}, {over['n_layers']} layers" if "dim" in over else "")
             + f", sequence {seq}, {over['batch_tokens'] // seq} sequences per step in micro-batches of "
             f"{over['micro_batch']}, document masking on; {args.steps} steps, the first left out. Build = drawing "
             "the windows, stacking them, segment ids (and pinning on CUDA) per step; wait = how long the training "
             "loop waited for them.", "",
             "| prefetch | build ms/step | wait ms/step | step ms | wait share of step | tokens/s |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append(f"| {r['prefetch']} | {r['build_ms']:.2f} | {r['wait_ms']:.2f} | {r['step_ms']:.0f} | "
                     f"{100 * r['wait_ms'] / r['step_ms']:.2f}% | {r['tokens_per_s']:,.0f} |")
    off, on = results
    lines += ["", f"Without the thread the training loop builds each step's data itself: {off['wait_ms']:.2f} ms per "
              f"step ({100 * off['wait_ms'] / off['step_ms']:.2f}% of the step). With it the loop waits "
              f"{on['wait_ms']:.2f} ms per step ({100 * on['wait_ms'] / on['step_ms']:.3f}% of the step: taking a "
              f"finished step off the queue) while the thread builds in {on['build_ms']:.2f} ms per step, overlapped "
              f"with compute. Losses after the last step: {off['loss']} and {on['loss']} (the same batches)."]
    write_section(Path(args.output), "train-data", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
