"""The model a TrainConfig describes: its named preset reshaped by the config, built for training or sampling."""
from __future__ import annotations

import dataclasses

import torch

from train.config import ConfigError, TrainConfig
from train.model import PRESETS, ModelArgs, Transformer


SHAPE_KEYS = ("dim", "n_layers", "n_heads", "multiple_of", "norm_eps", "rope_theta")  # config keys reshaping the preset


def model_args(cfg: TrainConfig, vocab_size: int) -> ModelArgs:
    """The preset's shape with the config's dim / n_layers / n_heads / multiple_of / norm_eps / rope_theta
    (when set), seq_len and the vocabulary."""
    changes = {"vocab_size": vocab_size, "max_seq_len": cfg.seq_len}
    for key in SHAPE_KEYS:
        if getattr(cfg, key) is not None:
            changes[key] = getattr(cfg, key)
    args = dataclasses.replace(PRESETS[cfg.model].args, **changes)
    if args.dim % args.n_heads or args.head_dim % 2:
        raise ConfigError(f"dim {args.dim} must be a multiple of n_heads {args.n_heads} with an even head size")
    return args


def build_model(cfg: TrainConfig, vocab_size: int, backend: str, on_meta: bool = False) -> Transformer:
    """The configured model with deterministic initial weights (same for any number of ranks), or
    `on_meta`: only its shapes, to be sharded first and initialised in place (`init_weights`)."""
    args = model_args(cfg, vocab_size)
    if on_meta:
        with torch.device("meta"):
            return Transformer(args, attention=backend)
    model = Transformer(args, attention=backend)
    model.init_weights(torch.Generator().manual_seed(cfg.seed))
    return model
