"""The LLaMA architecture (Touvron et al., 2023) and its named sizes (presets), in one file.

Pre-normalisation with RMSNorm, SwiGLU feed-forward with hidden size 2/3·4d rounded up to a
multiple of 256, rotary embeddings on queries and keys, no biases, an output projection not
tied to the embedding. Attention goes through `train.attention` (xformers or torch SDPA).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from train.attention import AttentionMask, attend, prepare


@dataclasses.dataclass(frozen=True)
class ModelArgs:
    dim: int = 4096
    n_layers: int = 32
    n_heads: int = 32
    vocab_size: int = 32000
    multiple_of: int = 256
    norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    max_seq_len: int = 2048

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def ffn_hidden(self) -> int:
        hidden = int(2 * 4 * self.dim / 3)
        return self.multiple_of * math.ceil(hidden / self.multiple_of)


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named model size: its shape and the peak learning rate it trains with."""

    args: ModelArgs
    lr: float


# The paper's Table 2 (learning rates with them; batch 4M tokens, context 2048) and small ones.
PRESETS: dict[str, Preset] = {
    "6.7B": Preset(ModelArgs(dim=4096, n_layers=32, n_heads=32), lr=3.0e-4),
    "13B": Preset(ModelArgs(dim=5120, n_layers=40, n_heads=40), lr=3.0e-4),
    "32.5B": Preset(ModelArgs(dim=6656, n_layers=60, n_heads=52), lr=1.5e-4),
    "65.2B": Preset(ModelArgs(dim=8192, n_layers=80, n_heads=64), lr=1.5e-4),
    "1b": Preset(ModelArgs(dim=2048, n_layers=16, n_heads=16), lr=3.0e-4),
    "tiny": Preset(ModelArgs(dim=64, n_layers=2, n_heads=4, multiple_of=32, max_seq_len=256), lr=3.0e-3),
}


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


def rope_tables(head_dim: int, seq_len: int, theta: float,
                device: Optional[torch.device] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin (seq_len, head_dim/2) in fp32 for rotating adjacent pairs of dimensions."""
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(seq_len, device=device, dtype=torch.float32), freqs)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[2i], x[2i+1]) of x (B, S, H, D) by position; computed in fp32, returned in x's dtype."""
    xf = x.float().unflatten(-1, (-1, 2))
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    x0, x1 = xf[..., 0], xf[..., 1]
    out = torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)
    return out.type_as(x)  # fp32 tables would otherwise promote q/k under autocast (xformers refuses mixed dtypes)


class Attention(nn.Module):
    def __init__(self, args: ModelArgs, backend: str):
        super().__init__()
        self.n_heads, self.head_dim, self.backend = args.n_heads, args.head_dim, backend
        self.wqkv = nn.Linear(args.dim, 3 * args.dim, bias=False)
        self.wo = nn.Linear(args.dim, args.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, prepared: Any) -> torch.Tensor:
        b, s, _ = x.shape
        q, k, v = self.wqkv(x).view(b, s, 3, self.n_heads, self.head_dim).unbind(2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        out = attend(q, k, v.type_as(q), prepared, self.backend)
        return self.wo(out.reshape(b, s, -1))


class FeedForward(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.w1 = nn.Linear(args.dim, args.ffn_hidden, bias=False)
        self.w3 = nn.Linear(args.dim, args.ffn_hidden, bias=False)
        self.w2 = nn.Linear(args.ffn_hidden, args.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, args: ModelArgs, backend: str):
        super().__init__()
        self.attention_norm = RMSNorm(args.dim, args.norm_eps)
        self.attention = Attention(args, backend)
        self.ffn_norm = RMSNorm(args.dim, args.norm_eps)
        self.feed_forward = FeedForward(args)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, prepared: Any) -> torch.Tensor:
        h = x + self.attention(self.attention_norm(x), cos, sin, prepared)
        return h + self.feed_forward(self.ffn_norm(h))


class Transformer(nn.Module):
    def __init__(self, args: ModelArgs, attention: str = "sdpa"):
        super().__init__()
        self.args = args
        self.backend = attention
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleList(Block(args, attention) for _ in range(args.n_layers))
        self.norm = RMSNorm(args.dim, args.norm_eps)
        self.output = nn.Linear(args.dim, args.vocab_size, bias=False)
        cos, sin = rope_tables(args.head_dim, args.max_seq_len, args.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def init_weights(self, generator: Optional[torch.Generator] = None) -> None:
        """Normal(0, 0.02) for embeddings and projections, output projections of each block scaled
        by 1/sqrt(2·layers) (GPT-2 style), norms at 1; RoPE tables recomputed (meta-device init)."""
        std = 0.02
        for name, p in self.named_parameters():
            if p.ndim == 1:
                nn.init.ones_(p)
            elif name.endswith(("wo.weight", "w2.weight")):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.args.n_layers), generator=generator)
            else:
                nn.init.normal_(p, 0.0, std, generator=generator)
        cos, sin = rope_tables(self.args.head_dim, self.args.max_seq_len, self.args.rope_theta, self.rope_cos.device)
        self.rope_cos.copy_(cos)
        self.rope_sin.copy_(sin)

    def forward(self, tokens: torch.Tensor, mask: Optional[AttentionMask] = None) -> torch.Tensor:
        """Logits (B, S, vocab) for tokens (B, S); `mask` None is plain causal attention."""
        s = tokens.shape[1]
        if s > self.args.max_seq_len:
            raise ValueError(f"sequence of {s} tokens exceeds max_seq_len {self.args.max_seq_len}")
        prepared = prepare(mask or AttentionMask(tokens.shape[0], s), self.backend, tokens.device)
        h = self.tok_embeddings(tokens)
        cos, sin = self.rope_cos[:s], self.rope_sin[:s]
        for layer in self.layers:
            h = layer(h, cos, sin, prepared)
        return self.output(self.norm(h))


def count_parameters(model: nn.Module, non_embedding: bool = False) -> int:
    """Parameters of the model; `non_embedding` leaves out the token embedding (as MFU formulas do)."""
    total = sum(p.numel() for p in model.parameters())
    if non_embedding:
        total -= model.tok_embeddings.weight.numel()
    return total


def flops_per_token(args: ModelArgs, non_embedding_params: int, seq_len: int) -> float:
    """Training FLOPs per token: 6N + 12·L·d·S (N: non-embedding parameters), as ../shared/GPU.md counts."""
    return 6 * non_embedding_params + 12 * args.n_layers * args.dim * seq_len
