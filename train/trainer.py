"""The training loop: one CPU, one GPU, or many GPUs under torchrun (FSDP2), as LLaMA trained.

AdamW (β 0.9/0.95, weight decay 0.1 except norms), linear warm-up then cosine to 10% of the
peak rate, gradient clipping at 1.0, gradient accumulation to the configured tokens per step,
bf16 autocast on GPU. Checkpoints every N steps and on SIGTERM; a run restarted with the same
out_dir resumes from the latest intact one and sees exactly the data the uninterrupted run would
have. A run stopped by SIGINT/SIGTERM raises Interrupted (exit 130/143) after saving, on every rank.
Before anything is built, the TOKENS folder is checked to be finished and unaltered.

`train(cfg)` tells the whole story top-down; the helpers below it follow in the order it calls
them. Parallelism lives in train/parallel.py, the model's construction in train/build.py, the
run log's format in train/run_log.py.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import resource
import signal
import time
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F

from corpus.integrity import IncompleteInput
from tokenizer.shards import ShardError, check_token_folder
from train import checkpoint
from train.attention import AttentionMask, check_backend_device, resolve_backend
from train.build import SHAPE_KEYS, build_model
from train.config import ConfigError, TrainConfig
from train.data import Batch, MixtureSampler
from train.prefetch import Prefetcher, StepData
from train.errors import Interrupted
from train.init_from import load_initial_weights
from train.model import Transformer, count_parameters, flops_per_token
from train.parallel import apply_parallelism, distributed, mean_over_ranks
from train.ranks import agreed
from train.run_log import Logger

# Dense bf16 peak of the GPUs we know, TFLOP/s (for MFU); others need `peak_tflops`.
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0}

Autocast = Callable[[], contextlib.AbstractContextManager]  # makes the context the model runs in


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) training; returns the last logged record, or raises Interrupted (after saving
    the checkpoint) when SIGINT/SIGTERM stopped it before max_steps."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    with distributed(cfg) as (rank, world, device):
        split = split_batch(cfg, world)
        bf16 = cfg.dtype == "bf16" or (cfg.dtype == "auto" and device.type == "cuda")
        backend = resolve_backend(cfg.attention)
        check_backend_device(backend, device)
        _check_tokens_folder(cfg, rank, world)
        sampler = MixtureSampler(cfg.tokens, cfg.seq_len, cfg.seed, cfg.eval_windows)
        cfg = resolve_max_steps(cfg, sampler.mixture)
        vocab = sampler.mixture["tokenizer"]["vocab_size"]
        shapes = build_model(cfg, vocab, backend, on_meta=True)
        n_params, non_embedding = count_parameters(shapes), count_parameters(shapes, non_embedding=True)
        flops_tok = flops_per_token(shapes.args, non_embedding, cfg.seq_len)
        model = _build_parallel_model(shapes, n_params, cfg, vocab, backend, world, device, bf16)
        optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr_value,
                                      betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, fused=device.type == "cuda")
        step = _resume_from_checkpoint(cfg, model, optimizer, sampler)
        out_dir = Path(cfg.out_dir)
        last: dict = {}
        stopped_by = 0
        with Logger(out_dir, cfg.to_dict(), rank == 0, cfg.tensorboard) as logger:
            if rank == 0:
                print(_describe_run(cfg, n_params, non_embedding, world, device, backend, split, bf16, step),
                      flush=True)
            throughput = _Throughput(flops_tok, _peak_flops(cfg, device), world)
            autocast = _autocast(bf16, world)
            prefetch = Prefetcher(sampler, split.sequences, split.per_rank, cfg.micro_batch, rank, cfg.doc_mask,
                                  pin=device.type == "cuda", depth=cfg.prefetch)
            consumed = (sampler.state_dict(), sampler.epochs())  # the sampler after the last step trained
            with _StopSignals() as signals, contextlib.closing(prefetch):
                while step < cfg.max_steps:
                    lr = lr_at(step, cfg)
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    data = prefetch.next()
                    loss_sum, grad_norm = _train_step(model, optimizer, data, split, cfg.grad_clip, device, autocast)
                    consumed = (data.sampler_state, data.epochs)
                    step += 1
                    throughput.add(cfg.batch_tokens)
                    stop_now = _agreed_stop(signals.signum, step, cfg, world, device)
                    if step % cfg.log_every == 0 or step == cfg.max_steps or stop_now:
                        last, text = _progress(step, lr, mean_over_ranks(loss_sum, world), grad_norm, throughput,
                                               consumed[1], prefetch, cfg, device)
                        logger.log(last, text)
                        throughput.restart()
                    if cfg.eval_windows and (step % cfg.eval_every == 0 or step == cfg.max_steps):
                        ppl = evaluate(model, sampler, cfg, device, autocast)
                        logger.log({"step": step, "eval_perplexity": ppl}, f"step {step:>6} | held-out perplexity "
                                   + ", ".join(f"{s} {v:.2f}" for s, v in ppl.items()))
                    if cfg.checkpoint_every and (step % cfg.checkpoint_every == 0 or step == cfg.max_steps or stop_now):
                        checkpoint.save(out_dir, step, model, optimizer,
                                        {"step": step, "sampler": consumed[0], "config": cfg.to_dict()},
                                        cfg.keep_checkpoints)
                    if stop_now and step < cfg.max_steps:
                        if rank == 0:
                            print(_stopped_message(stop_now, step, cfg), flush=True)
                        stopped_by = stop_now
                        break
        if world > 1:
            dist.barrier()
    if stopped_by:
        raise Interrupted(stopped_by)
    return last


@dataclasses.dataclass(frozen=True)
class BatchSplit:
    """How one optimizer step's batch_tokens divide over ranks and micro-batches."""

    sequences: int  # per step, all ranks together
    per_rank: int  # sequences each rank draws
    micro_batches: int  # forward/backward passes each rank accumulates


def split_batch(cfg: TrainConfig, world: int) -> BatchSplit:
    """batch_tokens as sequences of seq_len, shared equally by the ranks in micro-batches of micro_batch."""
    sequences = cfg.batch_tokens // cfg.seq_len
    if sequences % (world * cfg.micro_batch):
        raise ConfigError(f"batch_tokens {cfg.batch_tokens} = {sequences} sequences of {cfg.seq_len}, not divisible "
                          f"by {world} rank(s) x micro_batch {cfg.micro_batch}")
    per_rank = sequences // world
    return BatchSplit(sequences, per_rank, per_rank // cfg.micro_batch)


def _check_tokens_folder(cfg: TrainConfig, rank: int, world: int) -> None:
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


def resolve_max_steps(cfg: TrainConfig, mixture: dict) -> TrainConfig:
    """max_steps 0 means the budget the mixture was planned for, so each source is read its epochs."""
    if cfg.max_steps:
        return cfg
    return dataclasses.replace(cfg, max_steps=max(1, mixture["total_tokens"] // cfg.batch_tokens))


def _build_parallel_model(shapes: Transformer, n_params: int, cfg: TrainConfig, vocab: int, backend: str,
                          world: int, device: torch.device, bf16: bool) -> Transformer:
    """The model on `device` with parallelism applied. Small models are built whole on every rank
    first (the same weights whatever the number of ranks); with meta init (init=meta, or auto over
    2B parameters on several ranks) `shapes` (`n_params` parameters) is sharded first and each
    rank initialises its own shards."""
    on_meta = cfg.init == "meta" or (cfg.init == "auto" and world > 1 and n_params > 2e9)
    if on_meta:
        apply_parallelism(shapes, cfg, world, device, bf16)
        shapes.to_empty(device=device)
        torch.manual_seed(cfg.seed)
        with torch.no_grad():
            shapes.init_weights()
        return shapes
    model = build_model(cfg, vocab, backend)
    model.to(device)
    apply_parallelism(model, cfg, world, device, bf16)
    return model


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices (projections, embeddings), none on norm gains."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _resume_from_checkpoint(cfg: TrainConfig, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                            sampler: MixtureSampler) -> int:
    """Load the newest intact checkpoint of out_dir (if any) into model, optimizer and sampler; its step."""
    def check(folder: Path, state: dict) -> None:
        if "tokenizer" in state:  # made by import-hf: weights only
            raise ConfigError(f"{folder} holds weights imported by llamapipe import-hf (no optimizer state); "
                              f"start a run from it with init_from={folder} and another out_dir")
        _check_same_model(folder, state["config"], cfg)

    state = checkpoint.resume(Path(cfg.out_dir), model, optimizer, check)
    if state is None:
        load_initial_weights(cfg, model, sampler.mixture)
        return 0
    try:
        sampler.load_state_dict(state["sampler"])
    except ValueError as exc:
        raise ConfigError(f"{cfg.out_dir} holds a checkpoint of another run ({exc}); use a new out_dir") from None
    return state["step"]


def _check_same_model(folder: Path, saved: dict, cfg: TrainConfig) -> None:
    """Refuse to resume a checkpoint of another model shape (DCP would fail with a shape error)."""
    keys = ("model",) + SHAPE_KEYS
    if any(saved.get(k) != getattr(cfg, k) for k in keys):
        was = ", ".join(f"{k}={saved.get(k)}" for k in keys)
        now = ", ".join(f"{k}={getattr(cfg, k)}" for k in keys)
        raise ConfigError(f"{cfg.out_dir} holds a checkpoint of another model ({folder.name}: {was}; this run: {now}); "
                          f"use a new out_dir")


def _describe_run(cfg: TrainConfig, n_params: int, non_embedding: int, world: int, device: torch.device,
                  backend: str, split: BatchSplit, bf16: bool, step: int) -> str:
    """The start-up line: model size, ranks, attention, batch layout, precision, resumed step."""
    return (f"train: {cfg.model} ({n_params / 1e6:.1f}M parameters, {non_embedding / 1e6:.1f}M non-embedding), "
            f"{world} rank(s) on {device.type}, attention {backend}{' + document mask' if cfg.doc_mask else ''}, "
            f"{split.sequences} x {cfg.seq_len} tokens per step ({split.micro_batches} micro-batch(es) of "
            f"{cfg.micro_batch} per rank), {'bf16' if bf16 else 'fp32'}"
            + (f"; resumed from step {step}" if step else ""))


def _peak_flops(cfg: TrainConfig, device: torch.device) -> Optional[float]:
    """The device's dense bf16 peak in FLOP/s: peak_tflops, else by GPU name; None when unknown (no MFU)."""
    if cfg.peak_tflops:
        return cfg.peak_tflops * 1e12
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, tflops in PEAK_TFLOPS.items():
            if key in name:
                return tflops * 1e12
    return None


def _autocast(bf16: bool, world: int) -> Autocast:
    """bf16 autocast on one rank; on several, FSDP's MixedPrecisionPolicy casts instead (no autocast)."""
    if bf16 and world == 1:
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


class _StopSignals:
    """SIGTERM (and SIGINT) ask for a checkpoint and a clean exit after the current step; the
    first signal's number is kept for the exit status."""

    def __init__(self):
        self.signum = 0
        self._old = {}

    def __enter__(self) -> _StopSignals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.signum = self.signum or signum

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to the peak over warmup_steps, then cosine down to min_lr_ratio x peak at max_steps."""
    peak = cfg.lr_value
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return peak * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return peak * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def _train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, data: StepData, split: BatchSplit,
                grad_clip: float, device: torch.device, autocast: Autocast) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on this rank's share of the step's sequences (built by the prefetcher), gradients
    accumulated over micro-batches and clipped; (this rank's mean loss, the global gradient norm)."""
    loss_sum = torch.zeros((), device=device)
    for batch, mask in zip(data.micro, data.masks):
        loss = _summed_loss(model, batch, mask, device, autocast) / (split.per_rank * batch.inputs.shape[1])
        loss.backward()
        loss_sum += loss.detach()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    if hasattr(grad_norm, "full_tensor"):
        grad_norm = grad_norm.full_tensor()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum, grad_norm


def _summed_loss(model: torch.nn.Module, batch: Batch, mask: AttentionMask, device: torch.device,
                 autocast: Autocast) -> torch.Tensor:
    """Cross-entropy of the batch's next-token predictions, summed over its tokens (in fp32)."""
    with autocast():
        logits = model(batch.inputs.to(device, non_blocking=True), mask)
    return F.cross_entropy(logits.flatten(0, 1).float(), batch.targets.to(device).flatten(), reduction="sum")


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


class _Throughput:
    """Tokens per second since the last log line, and MFU when the device's peak is known."""

    def __init__(self, flops_per_token: float, peak_flops: Optional[float], world: int):
        self.flops_per_token, self.peak_flops, self.world = flops_per_token, peak_flops, world
        self.restart()

    def restart(self) -> None:
        self.tokens, self.started = 0, time.time()

    def add(self, tokens: int) -> None:
        self.tokens += tokens

    def measure(self) -> tuple[float, Optional[float]]:
        """(tokens/s, MFU or None) over the interval so far."""
        tps = self.tokens / (time.time() - self.started)
        if not self.peak_flops:
            return tps, None
        return tps, tps * self.flops_per_token / (self.peak_flops * self.world)


def _progress(step: int, lr: float, loss: float, grad_norm: torch.Tensor, throughput: _Throughput,
              epochs: dict[str, float], prefetch: Prefetcher, cfg: TrainConfig, device: torch.device) -> tuple[dict, str]:
    """The log record of this step and its line for the terminal. data_wait_s is the time the loop
    waited for batches since the last log line, data_build_s what building them took (in the
    prefetch thread, overlapped with compute, unless prefetch is 0)."""
    tps, mfu = throughput.measure()
    record = {"step": step, "loss": round(loss, 6), "lr": lr, "grad_norm": round(float(grad_norm), 6),
              "tokens_per_s": round(tps, 1), "memory_gb": round(_memory_gb(device), 3),
              "tokens_seen": step * cfg.batch_tokens,
              "data_wait_s": round(prefetch.wait_s, 4), "data_build_s": round(prefetch.build_s, 4),
              "epochs": {s: round(e, 4) for s, e in epochs.items()}}
    prefetch.wait_s = prefetch.build_s = 0.0
    if mfu is not None:
        record["mfu"] = round(mfu, 4)
    text = (f"step {step:>6} | loss {loss:.4f} | lr {lr:.2e} | {tps:,.0f} tok/s"
            + (f" | MFU {100 * mfu:.1f}%" if mfu is not None else "")
            + f" | mem {record['memory_gb']:.2f} GB")
    return record, text


def _memory_gb(device: torch.device) -> float:
    """Peak memory so far: CUDA allocations on a GPU, the process's peak RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


@torch.no_grad()
def evaluate(model: torch.nn.Module, sampler: MixtureSampler, cfg: TrainConfig, device: torch.device,
             autocast: Autocast) -> dict[str, float]:
    """Held-out perplexity per source. Every rank runs the same batches: under FSDP each forward
    is a collective, so ranks may not skip any."""
    model.eval()
    out = {}
    for source in sampler.names:
        total = torch.zeros(2, dtype=torch.float64, device=device)
        for batch in sampler.eval_batches(source, cfg.micro_batch, cfg.eval_batches):
            b, s = batch.inputs.shape
            loss = _summed_loss(model, batch, AttentionMask(b, s, batch.starts if cfg.doc_mask else None), device,
                                autocast)
            tokens = torch.tensor(batch.targets.numel(), dtype=torch.float64, device=device)
            total += torch.stack([loss.double(), tokens])
        if total[1] > 0:
            out[source] = round(math.exp(float(total[0] / total[1])), 3)
    model.train()
    return out


def _stopped_message(signum: int, step: int, cfg: TrainConfig) -> str:
    """What rank 0 prints when a signal stopped the run before max_steps."""
    saved = "checkpoint saved, rerun to resume" if cfg.checkpoint_every else "no checkpoint (checkpoint_every 0)"
    return f"train: stopped by signal {signum} after step {step}; {saved}"
