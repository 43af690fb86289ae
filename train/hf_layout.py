"""llamapipe's weights <-> transformers' LlamaForCausalLM (and Meta's consolidated.*.pth) names and layout.

train/model.py rotates adjacent pairs of each head (x[2i], x[2i+1]), as Meta's checkpoints do;
transformers rotates x[i] with x[i + head_dim/2]. Reordering the output rows of the query and key
projections within each head (pair i's two rows go to positions i and i + head_dim/2) makes the
two agree; v, o, the MLP and the norms are the same. Our wqkv is q, k, v stacked along rows.
"""
from __future__ import annotations

import math
from typing import Iterator

import torch

from train.model import ModelArgs


def to_half_rotation(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Rows of a q/k projection reordered from adjacent-pair rotation to half rotation, head by head."""
    rows, cols = w.shape
    return w.reshape(n_heads, rows // n_heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def to_adjacent_pairs(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """The inverse of to_half_rotation."""
    rows, cols = w.shape
    return w.reshape(n_heads, 2, rows // n_heads // 2, cols).transpose(1, 2).reshape(rows, cols)


# per-layer llamapipe name suffix -> transformers name suffix (wqkv is split into q/k/v)
_LAYER = {
    "attention.wo.weight": "self_attn.o_proj.weight",
    "feed_forward.w1.weight": "mlp.gate_proj.weight",
    "feed_forward.w3.weight": "mlp.up_proj.weight",
    "feed_forward.w2.weight": "mlp.down_proj.weight",
    "attention_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
}
_TOP = {"tok_embeddings.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight"}


def hf_tensors(state: dict[str, torch.Tensor], args: ModelArgs) -> Iterator[tuple[str, torch.Tensor]]:
    """(transformers name, tensor) of a llamapipe state dict, in transformers' module order."""
    yield _TOP["tok_embeddings.weight"], state["tok_embeddings.weight"]
    for i in range(args.n_layers):
        q, k, v = state[f"layers.{i}.attention.wqkv.weight"].view(3, args.dim, args.dim).unbind(0)
        hf = f"model.layers.{i}."
        yield hf + "self_attn.q_proj.weight", to_half_rotation(q, args.n_heads)
        yield hf + "self_attn.k_proj.weight", to_half_rotation(k, args.n_heads)
        yield hf + "self_attn.v_proj.weight", v
        for ours, theirs in _LAYER.items():
            yield hf + theirs, state[f"layers.{i}.{ours}"]
    yield _TOP["norm.weight"], state["norm.weight"]
    yield _TOP["output.weight"], state["output.weight"]


def from_hf_tensors(get, args: ModelArgs) -> dict[str, torch.Tensor]:
    """A llamapipe state dict from `get(transformers name) -> tensor`."""
    state = {ours: get(theirs) for ours, theirs in _TOP.items()}
    for i in range(args.n_layers):
        hf = f"model.layers.{i}."
        q = to_adjacent_pairs(get(hf + "self_attn.q_proj.weight"), args.n_heads)
        k = to_adjacent_pairs(get(hf + "self_attn.k_proj.weight"), args.n_heads)
        state[f"layers.{i}.attention.wqkv.weight"] = torch.cat([q, k, get(hf + "self_attn.v_proj.weight")])
        for ours, theirs in _LAYER.items():
            state[f"layers.{i}.{ours}"] = get(hf + theirs)
    return state


def from_meta_tensors(get, args: ModelArgs) -> dict[str, torch.Tensor]:
    """A llamapipe state dict from Meta's consolidated names (`get(name) -> tensor`): the same
    adjacent-pair rotation as ours, so only wq/wk/wv are stacked."""
    state = {name: get(name) for name in _TOP}
    for i in range(args.n_layers):
        a = f"layers.{i}.attention."
        state[a + "wqkv.weight"] = torch.cat([get(a + "wq.weight"), get(a + "wk.weight"), get(a + "wv.weight")])
        for ours in _LAYER:
            state[f"layers.{i}.{ours}"] = get(f"layers.{i}.{ours}")
    return state


def hf_config(args: ModelArgs, dtype: str) -> dict:
    """config.json of LlamaForCausalLM with the model's own values (norm eps, RoPE theta, FFN size)."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": args.vocab_size,
        "hidden_size": args.dim,
        "intermediate_size": args.ffn_hidden,
        "num_hidden_layers": args.n_layers,
        "num_attention_heads": args.n_heads,
        "num_key_value_heads": args.n_heads,
        "head_dim": args.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": args.max_seq_len,
        "rms_norm_eps": args.norm_eps,
        "rope_theta": args.rope_theta,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": None,
        "initializer_range": 0.02,
        "torch_dtype": dtype,
    }


def multiple_of_for(dim: int, ffn_hidden: int, preferred: int = 256) -> int:
    """A `multiple_of` with which ModelArgs' FFN formula gives `ffn_hidden` for `dim` (`preferred`
    when it does, else the smallest that does); ValueError when none can (a smaller FFN than 8d/3)."""
    base = int(2 * 4 * dim / 3)
    if ffn_hidden < base:
        raise ValueError(f"intermediate size {ffn_hidden} is below int(8 * {dim} / 3) = {base}")
    if preferred * math.ceil(base / preferred) == ffn_hidden:
        return preferred
    for m in range(ffn_hidden - base + 1, ffn_hidden):
        if ffn_hidden % m == 0:
            return m
    return ffn_hidden
