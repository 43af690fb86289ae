"""The training loop: one CPU, one GPU, or many GPUs under torchrun (FSDP2), as LLaMA trained.

AdamW (β 0.9/0.95, weight decay 0.1 except norms), linear warm-up then cosine to 10% of the
peak rate, gradient clipping at 1.0, gradient accumulation to the configured tokens per step,
bf16 autocast on GPU. Checkpoints every N steps and on SIGTERM; a run restarted with the same
out_dir resumes from the latest intact one and sees exactly the data the uninterrupted run would
have. A run stopped by SIGINT/SIGTERM raises Interrupted (exit 130/143) after saving, on every rank.
Before anything is built, the TOKENS folder is checked to be finished and unaltered.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F

from train import checkpoint
from train.attention import AttentionMask, resolve_backend
from corpus.integrity import IncompleteInput
from tokenizer.shards import ShardError, check_token_folder
from train.config import ConfigError, TrainConfig
from train.data import MixtureSampler
from train.errors import Interrupted
from train.model import CONFIGS, Transformer, count_parameters, flops_per_token
from train.ranks import agreed

# Dense bf16 peak of the GPUs we know, TFLOP/s (for MFU); others need `peak_tflops`.
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0}


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to the peak over warmup_steps, then cosine down to min_lr_ratio x peak at max_steps."""
    peak = cfg.lr_value
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return peak * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return peak * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def resolve_max_steps(cfg: TrainConfig, mixture: dict) -> TrainConfig:
    """max_steps 0 means the budget the mixture was planned for, so each source is read its epochs."""
    if cfg.max_steps:
        return cfg
    return dataclasses.replace(cfg, max_steps=max(1, mixture["total_tokens"] // cfg.batch_tokens))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices (projections, embeddings), none on norm gains."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class _Stop:
    """SIGTERM (and SIGINT) ask for a checkpoint and a clean exit after the current step; the
    first signal's number is kept for the exit status."""

    def __init__(self):
        self.signum = 0
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = self.signum or signum

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _setup_distributed(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'device' is cuda but no CUDA device is available")
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return rank, world, device


def _peak_flops(cfg: TrainConfig, device: torch.device) -> Optional[float]:
    if cfg.peak_tflops:
        return cfg.peak_tflops * 1e12
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, tflops in PEAK_TFLOPS.items():
            if key in name:
                return tflops * 1e12
    return None


def build_model(cfg: TrainConfig, vocab_size: int, backend: str, on_meta: bool = False) -> Transformer:
    """The configured model with deterministic initial weights (same for any number of ranks), or
    `on_meta`: only its shapes, to be sharded first and initialised in place (`init_weights`)."""
    args, _ = CONFIGS[cfg.model]
    changes = {"vocab_size": vocab_size, "max_seq_len": cfg.seq_len}
    for key in ("dim", "n_layers", "n_heads"):
        if getattr(cfg, key) is not None:
            changes[key] = getattr(cfg, key)
    args = dataclasses.replace(args, **changes)
    if args.dim % args.n_heads or args.head_dim % 2:
        raise ConfigError(f"dim {args.dim} must be a multiple of n_heads {args.n_heads} with an even head size")
    if on_meta:
        with torch.device("meta"):
            return Transformer(args, attention=backend)
    model = Transformer(args, attention=backend)
    model.init_weights(torch.Generator().manual_seed(cfg.seed))
    return model


def _apply_parallelism(model: Transformer, cfg: TrainConfig, world: int, device: torch.device, bf16: bool) -> None:
    """Activation checkpointing, torch.compile per block, then FSDP2 when there is more than one rank."""
    if cfg.activation_checkpointing != "none":
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

        for i, block in enumerate(model.layers):
            if cfg.activation_checkpointing == "full" or i % 2 == 0:
                model.layers[i] = checkpoint_wrapper(block, preserve_rng_state=False)
    if cfg.compile:
        for block in model.layers:
            block.compile()
    if world > 1:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mesh = init_device_mesh(device.type, (world,))
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else MixedPrecisionPolicy()
        for block in model.layers:
            fully_shard(block, mesh=mesh, mp_policy=mp)
        fully_shard(model, mesh=mesh, mp_policy=mp)


class Logger:
    """Rank 0 writes a line per interval to stdout, log.jsonl and (when installed) TensorBoard."""

    def __init__(self, out_dir: Path, enabled: bool, tensorboard: bool):
        self.enabled = enabled
        self.jsonl = None
        self.tb = None
        if not enabled:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl = open(out_dir / "log.jsonl", "a", encoding="utf-8")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out_dir / "tensorboard"))
            except ImportError:
                print("tensorboard is not installed: TensorBoard logs skipped (pip install tensorboard)", file=sys.stderr)

    def log(self, record: dict, text: str) -> None:
        if not self.enabled:
            return
        print(text, flush=True)
        self.jsonl.write(json.dumps(record, sort_keys=True) + "\n")
        self.jsonl.flush()
        if self.tb:
            step = record["step"]
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "step":
                    self.tb.add_scalar(f"train/{key}", value, step)
            for source, value in record.get("eval_perplexity", {}).items():
                self.tb.add_scalar(f"eval/perplexity/{source}", value, step)

    def close(self) -> None:
        if self.jsonl:
            self.jsonl.close()
        if self.tb:
            self.tb.close()


def _memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _all_mean(value: torch.Tensor, world: int) -> float:
    if world > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= world
    return float(value)


@torch.no_grad()
def evaluate(model, sampler: MixtureSampler, cfg: TrainConfig, device, autocast) -> dict:
    """Held-out perplexity per source. Every rank runs the same batches: under FSDP each forward
    is a collective, so ranks may not skip any."""
    model.eval()
    out = {}
    for source in sampler.names:
        total = torch.zeros(2, dtype=torch.float64, device=device)
        for batch in sampler.eval_batches(source, cfg.micro_batch, cfg.eval_batches):
            with autocast():
                logits = model(batch.inputs.to(device), _mask(batch, cfg))
            loss = F.cross_entropy(logits.flatten(0, 1).float(), batch.targets.to(device).flatten(), reduction="sum")
            total += torch.stack([loss.double(), torch.tensor(batch.targets.numel(), dtype=torch.float64, device=device)])
        if total[1] > 0:
            out[source] = round(math.exp(float(total[0] / total[1])), 3)
    model.train()
    return out


def _check_same_model(folder: Path, saved: dict, cfg: TrainConfig) -> None:
    """Refuse to resume a checkpoint of another model shape (DCP would fail with a shape error)."""
    keys = ("model", "dim", "n_layers", "n_heads")
    if any(saved.get(k) != getattr(cfg, k) for k in keys):
        was = ", ".join(f"{k}={saved.get(k)}" for k in keys)
        now = ", ".join(f"{k}={getattr(cfg, k)}" for k in keys)
        raise ConfigError(f"{cfg.out_dir} holds a checkpoint of another model ({folder.name}: {was}; this run: {now}); "
                          f"use a new out_dir")


def _agreed_stop(signum: int, step: int, cfg: TrainConfig, world: int, device: torch.device) -> int:
    """The signal every rank stops for after this step (0: go on), the same on all ranks, so all
    exit with the same status. Ranks compare only at log steps: an all-reduce every step would
    make the host wait for the GPU each step."""
    if world == 1:
        return signum
    if step % cfg.log_every and step != cfg.max_steps:
        return 0
    flag = torch.tensor(float(signum), device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return int(flag)


def _check_inputs(cfg: TrainConfig, rank: int, world: int) -> None:
    """Refuse an unfinished or altered TOKENS folder before building anything; with sha256 the ranks
    share the reading (file i on rank i % world) and all stop with the first rank's error."""
    sha256 = cfg.verify_shards == "sha256"
    if rank == 0 and sha256:
        print(f"train: verifying {cfg.tokens} (sha256 and token ids of every file; verify_shards=size "
              f"checks sizes only)", flush=True)
    started = time.time()
    try:
        agreed(lambda: check_token_folder(cfg.tokens, cfg.allow_incomplete, sha256, (rank, world)),
               IncompleteInput, ShardError)
    except IncompleteInput as exc:  # the trainer's switch is a config key, not the CLI flag
        raise IncompleteInput(str(exc).replace("pass --allow-incomplete", "set allow_incomplete=true")) from None
    if rank == 0 and sha256:
        print(f"train: {cfg.tokens} verified in {time.time() - started:.1f}s", flush=True)


def _resume(cfg: TrainConfig, model, optimizer, sampler: MixtureSampler) -> int:
    """Load the newest intact checkpoint of out_dir (if any) into model, optimizer and sampler; its step."""
    def check(folder: Path, state: dict) -> None:
        _check_same_model(folder, state["config"], cfg)

    state = checkpoint.resume(Path(cfg.out_dir), model, optimizer, check)
    if state is None:
        return 0
    try:
        sampler.load_state_dict(state["sampler"])
    except ValueError as exc:
        raise ConfigError(f"{cfg.out_dir} holds a checkpoint of another run ({exc}); use a new out_dir") from None
    return state["step"]


def _mask(batch, cfg: TrainConfig) -> AttentionMask:
    b, s = batch.inputs.shape
    return AttentionMask(b, s, batch.starts if cfg.doc_mask else None)


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) training; returns the last logged record, or raises Interrupted (after saving
    the checkpoint) when SIGINT/SIGTERM stopped it before max_steps."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rank, world, device = _setup_distributed(cfg)
    try:
        return _train(cfg, rank, world, device)
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _train(cfg: TrainConfig, rank: int, world: int, device: torch.device) -> dict:
    """train() once the process group is up; raises Interrupted after a signal stopped the run."""
    batch_seqs = cfg.batch_tokens // cfg.seq_len
    if batch_seqs % (world * cfg.micro_batch):
        raise ConfigError(f"batch_tokens {cfg.batch_tokens} = {batch_seqs} sequences of {cfg.seq_len}, not divisible "
                          f"by {world} rank(s) x micro_batch {cfg.micro_batch}")
    per_rank = batch_seqs // world
    accum = per_rank // cfg.micro_batch
    bf16 = cfg.dtype == "bf16" or (cfg.dtype == "auto" and device.type == "cuda")
    backend = resolve_backend(cfg.attention)
    _check_inputs(cfg, rank, world)
    sampler = MixtureSampler(cfg.tokens, cfg.seq_len, cfg.seed, cfg.eval_windows)
    cfg = resolve_max_steps(cfg, sampler.mixture)
    vocab = sampler.mixture["tokenizer"]["vocab_size"]
    shapes = build_model(cfg, vocab, backend, on_meta=True)
    n_params = count_parameters(shapes)
    non_embedding = count_parameters(shapes, non_embedding=True)
    flops_tok = flops_per_token(shapes.args, non_embedding, cfg.seq_len)
    on_meta = cfg.init == "meta" or (cfg.init == "auto" and world > 1 and n_params > 2e9)
    if on_meta:  # each rank materialises and initialises only its own shards
        model = shapes
        _apply_parallelism(model, cfg, world, device, bf16)
        model.to_empty(device=device)
        torch.manual_seed(cfg.seed)
        with torch.no_grad():
            model.init_weights()
    else:  # the whole model on every rank first: the same weights whatever the number of ranks
        model = build_model(cfg, vocab, backend)
        model.to(device)
        _apply_parallelism(model, cfg, world, device, bf16)
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr_value, betas=(cfg.beta1, cfg.beta2),
                                  eps=cfg.eps, fused=device.type == "cuda")
    out_dir = Path(cfg.out_dir)
    step = _resume(cfg, model, optimizer, sampler)
    logger = Logger(out_dir, rank == 0, cfg.tensorboard)
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1, sort_keys=True) + "\n")
        print(f"train: {cfg.model} ({n_params / 1e6:.1f}M parameters, {non_embedding / 1e6:.1f}M non-embedding), "
              f"{world} rank(s) on {device.type}, attention {backend}{' + document mask' if cfg.doc_mask else ''}, "
              f"{batch_seqs} x {cfg.seq_len} tokens per step ({accum} micro-batch(es) of {cfg.micro_batch} per rank), "
              f"{'bf16' if bf16 else 'fp32'}" + (f"; resumed from step {step}" if step else ""), flush=True)
    peak = _peak_flops(cfg, device)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if bf16 and world == 1 else contextlib.nullcontext
    last: dict = {}
    stopped_by = 0
    tokens_since, time_since = 0, time.time()
    with _Stop() as stop:
        while step < cfg.max_steps:
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            draws = sampler.draw(batch_seqs)[rank * per_rank:(rank + 1) * per_rank]
            loss_sum = torch.zeros((), device=device)
            for m in range(accum):
                batch = sampler.batch(draws[m * cfg.micro_batch:(m + 1) * cfg.micro_batch])
                with autocast():
                    logits = model(batch.inputs.to(device, non_blocking=True), _mask(batch, cfg))
                loss = F.cross_entropy(logits.flatten(0, 1).float(), batch.targets.to(device).flatten(),
                                       reduction="sum") / (per_rank * cfg.seq_len)
                loss.backward()
                loss_sum += loss.detach()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            if hasattr(grad_norm, "full_tensor"):
                grad_norm = grad_norm.full_tensor()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            tokens_since += cfg.batch_tokens
            stop_now = _agreed_stop(stop.signum, step, cfg, world, device)
            if step % cfg.log_every == 0 or step == cfg.max_steps or stop_now:
                loss_value = _all_mean(loss_sum, world)
                elapsed = time.time() - time_since
                tps = tokens_since / elapsed
                mfu = tps * flops_tok / (peak * world) if peak else None
                last = {"step": step, "loss": round(loss_value, 6), "lr": lr, "grad_norm": round(float(grad_norm), 6),
                        "tokens_per_s": round(tps, 1), "memory_gb": round(_memory_gb(device), 3),
                        "tokens_seen": step * cfg.batch_tokens,
                        "epochs": {s: round(e, 4) for s, e in sampler.epochs().items()}}
                if mfu is not None:
                    last["mfu"] = round(mfu, 4)
                logger.log(last, f"step {step:>6} | loss {loss_value:.4f} | lr {lr:.2e} | {tps:,.0f} tok/s"
                                 + (f" | MFU {100 * mfu:.1f}%" if mfu is not None else "")
                                 + f" | mem {last['memory_gb']:.2f} GB")
                tokens_since, time_since = 0, time.time()
            if cfg.eval_windows and (step % cfg.eval_every == 0 or step == cfg.max_steps):
                ppl = evaluate(model, sampler, cfg, device, autocast)
                logger.log({"step": step, "eval_perplexity": ppl},
                           f"step {step:>6} | held-out perplexity " + ", ".join(f"{s} {v:.2f}" for s, v in ppl.items()))
            if cfg.checkpoint_every and (step % cfg.checkpoint_every == 0 or step == cfg.max_steps or stop_now):
                checkpoint.save(out_dir, step, model, optimizer,
                                {"step": step, "sampler": sampler.state_dict(), "config": cfg.to_dict()},
                                cfg.keep_checkpoints)
            if stop_now and step < cfg.max_steps:
                if rank == 0:
                    saved = "checkpoint saved, rerun to resume" if cfg.checkpoint_every else "no checkpoint (checkpoint_every 0)"
                    print(f"train: stopped by signal {stop_now} after step {step}; {saved}", flush=True)
                stopped_by = stop_now
                break
    logger.close()
    if world > 1:
        dist.barrier()
    if stopped_by:
        raise Interrupted(stopped_by)
    return last
