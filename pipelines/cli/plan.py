"""`llamapipe plan`: what a training run costs before it starts (train/plan.py; no Beam, no torch)."""
from __future__ import annotations

import json

from pipelines.cli.common import CLIError, user_errors


def add_parsers(sub) -> None:
    from train import plan as P

    p = sub.add_parser("plan", allow_abbrev=False,
                       help="training cost: FLOPs, GPU-hours, days, tokens/s/GPU, memory per GPU",
                       description=(
                           "Training FLOPs (6·N·T plus attention), GPU-hours and days at a model FLOPs "
                           "utilisation (MFU), tokens/s per GPU and the memory per GPU of FSDP with the chosen "
                           "activation checkpointing. The MFU is --mfu, or the median a training run logged "
                           "(--run), or what a measured --tokens-per-gpu-s means. Example (the paper's largest "
                           "run): llamapipe plan --model 65.2B --tokens 1.4T --gpus 2048 --gpu a100-80gb"))
    p.add_argument("--model", default=None,
                   help=f"a named size: {', '.join(P.MODELS)} (7B, 33B, 65B accepted); or give --dim/--n-layers/--n-heads")
    p.add_argument("--dim", type=int, default=None)
    p.add_argument("--n-layers", type=int, default=None)
    p.add_argument("--n-heads", type=int, default=None)
    p.add_argument("--vocab-size", type=int, default=32000, help="default 32000 (LLaMA's tokenizer)")
    p.add_argument("--tokens", required=True, help="training tokens, e.g. 1.4T, 300B")
    p.add_argument("--gpus", type=int, required=True, help="number of GPUs")
    p.add_argument("--gpu", default="a100-80gb", choices=sorted(P.GPUS), help="GPU kind (bf16 peak and memory)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--mfu", type=float, default=None, help="model FLOPs utilisation, 0-1 (default 0.5)")
    how.add_argument("--run", metavar="RUN_DIR", default=None,
                     help="use the median MFU a `python -m train` run logged")
    how.add_argument("--tokens-per-gpu-s", type=float, default=None,
                     help="a measured throughput per GPU (the MFU it implies is used)")
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--micro-batch", type=int, default=1, help="sequences per GPU per forward/backward")
    p.add_argument("--activation-checkpointing", default="none", choices=P.CHECKPOINTING,
                   help="none | matmul (keep matmul and attention outputs) | selective (every other block) | full, as python -m train")
    p.add_argument("--json", action="store_true", help="print the estimate as JSON")
    p.set_defaults(func=run_plan)


def config_of(args) -> "object":
    """argv -> one complete PlanConfig (ValueError naming the flag on bad input)."""
    from train import plan as P

    if args.model and any(v is not None for v in (args.dim, args.n_layers, args.n_heads)):
        raise ValueError("--model: give a named model or --dim/--n-layers/--n-heads, not both")
    if args.model:
        shape, name = P.model_shape(args.model), args.model
    elif None in (args.dim, args.n_layers, args.n_heads):
        raise ValueError("--model: required (or all of --dim, --n-layers, --n-heads)")
    else:
        shape, name = P.Shape(args.dim, args.n_layers, args.n_heads, args.vocab_size), ""
    if args.vocab_size != shape.vocab_size:
        shape = P.Shape(shape.dim, shape.n_layers, shape.n_heads, args.vocab_size, shape.multiple_of)
    mfu, source = (args.mfu if args.mfu is not None else 0.5), "given" if args.mfu is not None else "assumed"
    if args.run:
        mfu = P.run_mfu(args.run)
        if mfu is None:
            raise ValueError(f"--run: {args.run} logged no MFU (it ran where the GPU's peak is unknown: "
                             f"set peak_tflops in its config)")
        source = f"median of {args.run}"
    elif args.tokens_per_gpu_s is not None:
        mfu = P.implied_mfu(shape, args.seq_len, args.tokens_per_gpu_s, args.gpu)
        source = f"implied by {args.tokens_per_gpu_s:g} tokens/s/GPU"
    return P.PlanConfig(shape, P.parse_count(args.tokens, "--tokens"), args.gpus, args.gpu, mfu, args.seq_len,
                        args.micro_batch, args.activation_checkpointing, name, source)


def _human(x: float) -> str:
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= size:
            return f"{x / size:.3g}{unit}"
    return f"{x:.3g}"


def print_plan(r: dict) -> None:
    """The estimate as a few readable lines."""
    mem = r["memory_bytes"]
    print(f"model {r['model']}: {_human(r['params'])} parameters ({_human(r['non_embedding_params'])} without the "
          f"embedding), d={r['shape']['dim']}, {r['shape']['n_layers']} layers, {r['shape']['n_heads']} heads, "
          f"FFN {r['shape']['ffn_hidden']}")
    print(f"training on {_human(r['tokens'])} tokens, sequences of {r['seq_len']}: {r['flops_per_token']:.3e} FLOPs "
          f"per token, {r['flops']:.3e} FLOPs in all (6·N·T alone: {r['flops_6nt']:.3e})")
    print(f"{r['gpus']} × {r['gpu']} ({r['peak_tflops']:g} TFLOP/s bf16) at MFU {r['mfu']:.3f} ({r['mfu_source']}): "
          f"{r['tokens_per_gpu_s']:,.0f} tokens/s/GPU, {r['tokens_per_gpu_s'] * r['gpus']:,.0f} tokens/s in all")
    print(f"time: {r['gpu_hours']:,.0f} GPU-hours, {r['days']:.1f} days")
    print(f"memory per GPU (FSDP full shard, bf16 autocast, micro-batch {r['micro_batch']}, activation "
          f"checkpointing {r['activation_checkpointing']}):")
    for part, size in mem.items():
        if part != "total":
            print(f"  {part:<46} {size / 1e9:8.2f} GB")
    verdict = "fits" if r["fits"] else "does NOT fit (more GPUs, checkpointing or a smaller micro-batch)"
    print(f"  {'total':<46} {mem['total'] / 1e9:8.2f} GB of {r['gpu_memory_bytes'] / 1e9:.0f} GB: {verdict}")


def run_plan(args, beam_args: list[str]) -> int:
    from train import plan as P

    if beam_args:
        raise CLIError(f"plan does not take {' '.join(beam_args)}")
    with user_errors(ValueError):
        result = P.plan(config_of(args))
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
    else:
        print_plan(result)
    return 0
