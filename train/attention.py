"""Causal attention over packed documents: xformers memory-efficient attention, torch SDPA or torch
flex_attention.

With document masking, a token attends only to earlier tokens of its own document: xformers gets
a `BlockDiagonalCausalMask` over the batch flattened to one row, SDPA a boolean (B, 1, S, S) mask,
flex a `BlockMask` (blocks of 128 x 128 positions that are wholly masked are skipped; the mask is
data, so new document lengths do not recompile). Without it, plain causal attention.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Optional

import torch
import torch.nn.functional as F

BACKENDS = ("auto", "xformers", "sdpa", "flex")


@dataclasses.dataclass(frozen=True)
class AttentionMask:
    """Which tokens may attend to which: `starts[b]` lists the positions (> 0) of row b where a new
    document begins; None means plain causal attention over each whole row."""

    batch: int
    seq_len: int
    starts: Optional[tuple[tuple[int, ...], ...]] = None
    seg: Optional[torch.Tensor] = dataclasses.field(default=None, compare=False, repr=False)  # segment_ids, precomputed

    def seqlens(self) -> list[int]:
        """Document lengths over the rows laid end to end (a row boundary is a document boundary)."""
        out = []
        for row in self.starts or ((),) * self.batch:
            edges = (0, *row, self.seq_len)
            out.extend(b - a for a, b in zip(edges[:-1], edges[1:]))
        return out

    def segment_ids(self, device: Optional[torch.device] = None) -> torch.Tensor:
        """(B, S) document number of every position within its row."""
        if self.seg is not None:
            return self.seg.to(device, non_blocking=True)
        seg = torch.zeros(self.batch, self.seq_len, dtype=torch.int32)
        for b, row in enumerate(self.starts or ()):
            for pos in row:
                seg[b, pos:] += 1
        return seg.to(device)


@functools.lru_cache(maxsize=1)
def xformers_available() -> bool:
    """xformers imports and CUDA is there (its kernels need a GPU)."""
    if not torch.cuda.is_available():
        return False
    try:
        import xformers.ops  # noqa: F401
    except Exception:
        return False
    return True


def resolve_backend(name: str) -> str:
    """The attention backend to run: `auto` becomes xformers when it can run here, else sdpa."""
    if name not in BACKENDS:
        raise ValueError(f"attention must be one of {', '.join(BACKENDS)}, got {name!r}")
    if name == "auto":
        return "xformers" if xformers_available() else "sdpa"
    if name == "xformers" and not xformers_available():
        raise RuntimeError("attention: xformers was asked for but xformers or CUDA is not available "
                           "(use attention: sdpa or auto)")
    return name


def check_backend_device(backend: str, device: torch.device, training: bool = True) -> None:
    """Refuse what PyTorch cannot run: flex_attention has no backward pass on CPU."""
    if backend == "flex" and training and device.type != "cuda":
        raise RuntimeError(f"attention: flex trains only on CUDA (PyTorch has no flex_attention backward on "
                           f"{device.type}); use attention: sdpa here")


@functools.lru_cache(maxsize=1)
def _compiled_flex():
    """flex_attention compiled once per process (its fused kernel; eager flex is a slow reference)."""
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def _flex_block_mask(mask: AttentionMask, device: Optional[torch.device]) -> Any:
    """The BlockMask of causal attention within each row's documents (plain causal without starts)."""
    from torch.nn.attention.flex_attention import create_block_mask

    if mask.starts is None:
        def mask_mod(b, h, q, kv):
            return q >= kv
    else:
        seg = mask.segment_ids(device)

        def mask_mod(b, h, q, kv):
            return (seg[b, q] == seg[b, kv]) & (q >= kv)
    on_gpu = device is not None and torch.device(device).type == "cuda"
    return create_block_mask(mask_mod, mask.batch, None, mask.seq_len, mask.seq_len, device=device or "cpu",
                             _compile=on_gpu)


def prepare(mask: AttentionMask, backend: str, device: Optional[torch.device]) -> Any:
    """What `attend` needs for this mask, built once per step and shared by every layer."""
    if backend == "xformers":
        from xformers.ops import LowerTriangularMask, fmha

        if mask.starts is None:
            return LowerTriangularMask()
        return fmha.attn_bias.BlockDiagonalCausalMask.from_seqlens(mask.seqlens())
    if backend == "flex":
        return _flex_block_mask(mask, device)
    if mask.starts is None:
        return None
    seg = mask.segment_ids(device)
    causal = torch.ones(mask.seq_len, mask.seq_len, dtype=torch.bool, device=device).tril()
    return ((seg[:, :, None] == seg[:, None, :]) & causal)[:, None]


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, prepared: Any, backend: str) -> torch.Tensor:
    """Attention for q, k, v of shape (B, S, H, D); returns (B, S, H, D)."""
    if backend == "xformers":
        from xformers.ops import LowerTriangularMask, memory_efficient_attention

        if isinstance(prepared, LowerTriangularMask):
            return memory_efficient_attention(q, k, v, attn_bias=prepared)
        b, s = q.shape[:2]
        flat = [t.reshape(1, b * s, *t.shape[2:]) for t in (q, k, v)]
        return memory_efficient_attention(*flat, attn_bias=prepared).reshape(q.shape)
    qt, kt, vt = (t.transpose(1, 2) for t in (q, k, v))
    if backend == "flex":
        if q.is_cuda:
            return _compiled_flex()(qt, kt, vt, block_mask=prepared).transpose(1, 2)
        from torch.nn.attention.flex_attention import flex_attention

        return flex_attention(qt, kt, vt, block_mask=prepared).transpose(1, 2)
    if prepared is None:
        out = F.scaled_dot_product_attention(qt, kt, vt, is_causal=True)
    else:
        out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=prepared)
    return out.transpose(1, 2)
