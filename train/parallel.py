"""Parallelism: process group and device per rank, activation checkpointing, torch.compile per block, FSDP2.

As torchtitan splits it: the trainer builds a plain `Transformer`, and `apply_parallelism` wraps
its blocks in place before the optimizer sees the parameters. With one rank there is no process
group and no sharding; under torchrun every rank holds a shard of each block (FSDP2
`fully_shard`), in bf16 with fp32 gradient reduction when the run is bf16.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch
import torch.distributed as dist

from train.config import ConfigError, TrainConfig
from train.model import Transformer


@contextlib.contextmanager
def distributed(cfg: TrainConfig) -> Iterator[tuple[int, int, torch.device]]:
    """(rank, world size, device) of this process, torchrun's environment read; the process group
    (nccl on CUDA, gloo on CPU) is set up when there is more than one rank and torn down on exit."""
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
    try:
        yield rank, world, device
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _saves(op) -> bool:
    """Whether a block keeps this op's output for the backward pass: matrix products and attention (costly
    to recompute), not the element-wise norms, RoPE, SiLU and products (cheap), as LLaMA's backward did."""
    if op in _MATMULS:
        return True
    name = str(op)
    return "attention" in name or "fmha" in name


_MATMULS = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default,
            torch.ops.aten.linear.default}


def save_matmuls_context():
    """Checkpoint contexts for activation_checkpointing: matmul (torch's selective checkpointing policy)."""
    from torch.utils.checkpoint import CheckpointPolicy, create_selective_checkpoint_contexts

    def policy(ctx, op, *args, **kwargs):
        return CheckpointPolicy.MUST_SAVE if _saves(op) else CheckpointPolicy.PREFER_RECOMPUTE

    return create_selective_checkpoint_contexts(policy)


def apply_parallelism(model: Transformer, cfg: TrainConfig, world: int, device: torch.device, bf16: bool) -> None:
    """Activation checkpointing, torch.compile per block, then FSDP2 when there is more than one rank."""
    if cfg.activation_checkpointing != "none":
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

        extra = {"context_fn": save_matmuls_context} if cfg.activation_checkpointing == "matmul" else {}
        for i, block in enumerate(model.layers):
            if cfg.activation_checkpointing in ("full", "matmul") or i % 2 == 0:
                model.layers[i] = checkpoint_wrapper(block, preserve_rng_state=False, **extra)
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


def mean_over_ranks(value: torch.Tensor, world: int) -> float:
    """The mean of a scalar tensor over all ranks (a collective: every rank calls it)."""
    if world > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= world
    return float(value)
