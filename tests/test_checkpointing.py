"""Activation checkpointing modes: equal gradients, and `matmul` keeps what is costly to recompute."""
from __future__ import annotations

import dataclasses

import torch

from train.attention import AttentionMask
from train.config import CHECKPOINTING, TrainConfig
from train.model import ModelArgs, Transformer
from train.parallel import apply_parallelism


def _model(mode: str) -> Transformer:
    torch.manual_seed(0)
    model = Transformer(ModelArgs(dim=64, n_layers=4, n_heads=4, vocab_size=97, multiple_of=32, max_seq_len=64))
    model.init_weights(torch.Generator().manual_seed(0))
    cfg = dataclasses.replace(TrainConfig(), activation_checkpointing=mode)
    apply_parallelism(model, cfg, 1, torch.device("cpu"), bf16=False)
    return model


class _OpCounter:
    """Counts the aten ops run while active (a TorchDispatchMode), split into matmuls and the rest."""

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        counts = self.counts = {"matmul": 0, "other": 0}

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                matmul = func in (torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default)
                counts["matmul" if matmul else "other"] += 1
                return func(*args, **(kwargs or {}))

        self.mode = Mode()


def _grads_and_backward_ops(mode: str) -> tuple[dict, dict]:
    """Gradients of one forward/backward, and the ops the backward pass ran (recomputation included)."""
    model = _model(mode)
    tokens = torch.randint(0, 97, (2, 48), generator=torch.Generator().manual_seed(1))
    logits = model(tokens, AttentionMask(2, 48, ((20,), ())))
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tokens.flatten())
    counter = _OpCounter()
    with counter.mode:
        loss.backward()
    names = {n.replace("._checkpoint_wrapped_module", ""): p.grad for n, p in model.named_parameters()}
    return names, counter.counts


def test_every_mode_gives_the_same_gradients():
    ref, _ = _grads_and_backward_ops("none")
    for mode in CHECKPOINTING[1:]:
        grads, _ = _grads_and_backward_ops(mode)
        assert grads.keys() == ref.keys()
        for name, g in grads.items():
            assert torch.allclose(g, ref[name], atol=1e-6, rtol=1e-5), (mode, name)


def test_matmul_mode_recomputes_only_the_cheap_parts():
    """`full` re-runs every block's forward in the backward pass, matrix products included; `matmul` keeps
    the products (as many matmuls as without checkpointing) and re-runs only the element-wise parts."""
    ops = {mode: _grads_and_backward_ops(mode)[1] for mode in CHECKPOINTING}
    assert ops["matmul"]["matmul"] == ops["none"]["matmul"] < ops["selective"]["matmul"] < ops["full"]["matmul"]
    assert ops["none"]["other"] < ops["matmul"]["other"]
