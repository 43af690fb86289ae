"""The cost of a training run before it starts: FLOPs, GPU-hours, days, tokens/s per GPU and memory per GPU.

LLaMA's reasoning (Touvron et al., 2023, §2.4 and §6): training compute grows with parameters ×
tokens (6·N·T, plus attention's 12·L·d·S per token), and at a given model FLOPs utilisation (MFU)
a GPU processes peak·MFU / FLOPs-per-token tokens per second. Memory is the FSDP (fully sharded)
estimate: weights, gradients and AdamW state sharded over the GPUs, one block's weights gathered at a
time, and the activations the chosen checkpointing keeps. No torch import: it runs anywhere.
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Optional

# Dense bf16 tensor-core peak (TFLOP/s) and memory (GB = 1e9 bytes) of the GPUs people train on.
GPUS: dict[str, tuple[float, float]] = {
    "a100-40gb": (312.0, 40.0),
    "a100-80gb": (312.0, 80.0),
    "h100-80gb": (989.0, 80.0),
    "h200": (989.0, 141.0),
    "l40s": (362.0, 48.0),
    "a10g": (125.0, 24.0),
}
# As python -m train (train/config.py CHECKPOINTING): matmul keeps each block's matmul and attention outputs;
# selective recomputes every other block whole; full every block.
CHECKPOINTING = ("none", "matmul", "selective", "full")
# Bytes per parameter kept by FSDP with bf16 autocast: fp32 weights (4), fp32 gradients (4), AdamW's
# two fp32 moments (8).
STATE_BYTES = 16
# Activation elements saved per token per block for the backward pass, in units of the model width d and
# the SwiGLU hidden size h: the two norms' inputs and outputs (4d), q, k, v and the rotated q, k (5d),
# the attention output (d), the residual (d); w1 and w3 outputs, SiLU(w1) and the product (4h).
ACT_D, ACT_H = 11, 4
# What `matmul` checkpointing keeps of them: the wqkv, attention, wo and w2 outputs (6d) and w1, w3 outputs (2h).
MATMUL_D, MATMUL_H = 6, 2
SUFFIXES = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


@dataclasses.dataclass(frozen=True)
class Shape:
    """A LLaMA shape (the fields of train.model.ModelArgs that cost depends on)."""

    dim: int
    n_layers: int
    n_heads: int
    vocab_size: int = 32000
    multiple_of: int = 256

    @property
    def ffn_hidden(self) -> int:
        """SwiGLU hidden size: 2/3·4d rounded up to a multiple of `multiple_of` (as train.model)."""
        return self.multiple_of * math.ceil(int(2 * 4 * self.dim / 3) / self.multiple_of)

    @property
    def block_params(self) -> int:
        """Parameters of one transformer block: wq, wk, wv, wo, w1, w2, w3 and its two RMSNorm weights."""
        return 4 * self.dim * self.dim + 3 * self.dim * self.ffn_hidden + 2 * self.dim

    @property
    def params(self) -> int:
        """All parameters: embedding, blocks, final norm and the (untied) output projection."""
        return 2 * self.vocab_size * self.dim + self.n_layers * self.block_params + self.dim

    @property
    def non_embedding_params(self) -> int:
        """Parameters less the token embedding, as train.model.count_parameters(non_embedding=True)."""
        return self.params - self.vocab_size * self.dim


# The paper's Table 2 and the trainer's small presets (train/model.py PRESETS has the same shapes).
MODELS: dict[str, Shape] = {
    "6.7B": Shape(4096, 32, 32),
    "13B": Shape(5120, 40, 40),
    "32.5B": Shape(6656, 60, 52),
    "65.2B": Shape(8192, 80, 64),
    "1b": Shape(2048, 16, 16),
    "tiny": Shape(64, 2, 4, multiple_of=32),
}
ALIASES = {"7B": "6.7B", "33B": "32.5B", "65B": "65.2B"}


@dataclasses.dataclass(frozen=True)
class PlanConfig:
    """One complete question for the planner."""

    shape: Shape
    tokens: float
    gpus: int
    gpu: str = "a100-80gb"
    mfu: float = 0.5
    seq_len: int = 2048
    micro_batch: int = 1
    checkpointing: str = "none"
    model_name: str = ""
    mfu_source: str = "assumed"

    def __post_init__(self):
        if self.gpu not in GPUS:
            raise ValueError(f"--gpu: unknown {self.gpu!r} (known: {', '.join(GPUS)})")
        if self.checkpointing not in CHECKPOINTING:
            raise ValueError(f"--activation-checkpointing: must be one of {', '.join(CHECKPOINTING)}")
        if not 0 < self.mfu <= 1:
            raise ValueError(f"--mfu: must be in (0, 1], got {self.mfu}")
        for flag, value in (("--tokens", self.tokens), ("--gpus", self.gpus), ("--seq-len", self.seq_len),
                            ("--micro-batch", self.micro_batch)):
            if value <= 0:
                raise ValueError(f"{flag}: must be positive, got {value}")


def parse_count(text: str, flag: str) -> float:
    """'1.4T', '65.2B', '300M', '2e12' -> a number; ValueError naming the flag otherwise."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([KMBGT]?)\s*", text or "", re.I)
    if not m:
        raise ValueError(f"{flag}: expected a number with an optional K/M/B/T suffix (e.g. 1.4T), got {text!r}")
    return float(m.group(1)) * SUFFIXES[m.group(2).upper()]


def model_shape(name: str) -> Shape:
    """A named model (Table 2 or a trainer preset; 7B/33B/65B accepted); ValueError listing the names."""
    key = ALIASES.get(name, name)
    for known in MODELS:
        if known.lower() == key.lower():
            return MODELS[known]
    raise ValueError(f"--model: unknown {name!r} (known: {', '.join(MODELS)}; or give --dim, --n-layers, --n-heads)")


def flops_per_token(shape: Shape, seq_len: int) -> float:
    """Training FLOPs per token: 6·N (N without the embedding) plus attention's 12·L·d·S (GPU.md)."""
    return 6 * shape.non_embedding_params + 12 * shape.n_layers * shape.dim * seq_len


def memory_per_gpu(cfg: PlanConfig) -> dict[str, float]:
    """Bytes per GPU under FSDP full sharding with bf16 autocast, by part, and their total."""
    s, tokens = cfg.shape, cfg.seq_len * cfg.micro_batch
    full_block = (ACT_D * s.dim + ACT_H * s.ffn_hidden) * 2 * tokens  # bf16 activations of one block
    block_input = s.dim * 4 * tokens  # the fp32 residual entering a block (what checkpointing keeps)
    if cfg.checkpointing == "matmul":
        activations = s.n_layers * ((MATMUL_D * s.dim + MATMUL_H * s.ffn_hidden) * 2 * tokens + block_input) + full_block
    else:
        kept = {"none": s.n_layers, "selective": s.n_layers - s.n_layers // 2, "full": 0}[cfg.checkpointing]
        activations = kept * full_block + (s.n_layers - kept) * block_input + (full_block if kept < s.n_layers else 0)
    parts = {
        "sharded weights, gradients, AdamW": STATE_BYTES * s.params / cfg.gpus,
        "gathered block weights (bf16, with prefetch)": 2 * 2 * s.block_params,
        "activations": activations,
        "logits and loss (fp32)": 2 * 4 * tokens * s.vocab_size,
    }
    parts["total"] = sum(parts.values())
    return parts


def plan(cfg: PlanConfig) -> dict:
    """The whole estimate as plain data (what --json prints)."""
    peak_tflops, gpu_gb = GPUS[cfg.gpu]
    per_token = flops_per_token(cfg.shape, cfg.seq_len)
    total = per_token * cfg.tokens
    tokens_per_gpu_s = peak_tflops * 1e12 * cfg.mfu / per_token
    seconds = cfg.tokens / (tokens_per_gpu_s * cfg.gpus)
    memory = memory_per_gpu(cfg)
    return {
        "model": cfg.model_name or f"d{cfg.shape.dim}-l{cfg.shape.n_layers}-h{cfg.shape.n_heads}",
        "shape": dataclasses.asdict(cfg.shape) | {"ffn_hidden": cfg.shape.ffn_hidden},
        "params": cfg.shape.params, "non_embedding_params": cfg.shape.non_embedding_params,
        "tokens": cfg.tokens, "gpus": cfg.gpus, "gpu": cfg.gpu, "peak_tflops": peak_tflops,
        "mfu": cfg.mfu, "mfu_source": cfg.mfu_source, "seq_len": cfg.seq_len, "micro_batch": cfg.micro_batch,
        "activation_checkpointing": cfg.checkpointing,
        "flops_per_token": per_token, "flops": total, "flops_6nt": 6 * cfg.shape.non_embedding_params * cfg.tokens,
        "tokens_per_gpu_s": tokens_per_gpu_s, "gpu_hours": cfg.tokens / tokens_per_gpu_s / 3600,
        "days": seconds / 86400,
        "memory_bytes": memory, "gpu_memory_bytes": gpu_gb * 1e9, "fits": memory["total"] <= 0.9 * gpu_gb * 1e9,
    }


def implied_mfu(shape: Shape, seq_len: int, tokens_per_gpu_s: float, gpu: str) -> float:
    """The MFU a measured throughput means on `gpu` (e.g. the paper's 380 tokens/s/GPU for 65.2B)."""
    return tokens_per_gpu_s * flops_per_token(shape, seq_len) / (GPUS[gpu][0] * 1e12)


def run_mfu(run_dir: str) -> Optional[float]:
    """The median MFU a `python -m train` run logged (None when it ran where the peak is unknown)."""
    from train.run_log import is_run_dir, summarise_run

    if not is_run_dir(run_dir):
        raise ValueError(f"--run: {run_dir} is not a training run folder (no train log and config there)")
    return summarise_run(run_dir)["median_mfu"]
