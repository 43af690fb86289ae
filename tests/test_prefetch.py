"""The prefetching data thread: the same batches and sampler states as building them in the loop."""
from __future__ import annotations

import json

import pytest
import torch

from train import __main__ as train_main
from train.data import MixtureSampler
from train.prefetch import Prefetcher, build_step


def _steps(sampler: MixtureSampler, n: int, depth: int) -> list:
    prefetch = Prefetcher(sampler, 16, 8, 4, 1, doc_mask=True, pin=False, depth=depth)
    try:
        return [prefetch.next() for _ in range(n)]
    finally:
        prefetch.close()


def test_prefetched_steps_equal_steps_built_in_the_loop(token_run):
    ahead = _steps(MixtureSampler(token_run, 64, seed=3), 6, depth=3)
    inline = _steps(MixtureSampler(token_run, 64, seed=3), 6, depth=0)
    for a, b in zip(ahead, inline):
        assert a.sampler_state == b.sampler_state and a.epochs == b.epochs
        assert len(a.micro) == len(b.micro) == 2  # rank 1's 8 of 16 sequences, in micro-batches of 4
        for x, y, mx, my in zip(a.micro, b.micro, a.masks, b.masks):
            assert torch.equal(x.inputs, y.inputs) and torch.equal(x.targets, y.targets) and x.starts == y.starts
            assert mx == my and torch.equal(mx.segment_ids(), my.segment_ids())
    # each step carries the sampler as it was after that step, not as far as the thread has read ahead
    replay = MixtureSampler(token_run, 64, seed=3)
    for step in ahead:
        build_step(replay, 16, 8, 4, 1, True, False)
        assert replay.state_dict() == step.sampler_state


def test_a_failing_builder_raises_in_the_training_thread(token_run):
    sampler = MixtureSampler(token_run, 64, seed=0)

    def broken(_draws):
        raise ValueError("shard part-00003.bin: token 70000 outside the vocabulary")

    sampler.batch = broken
    prefetch = Prefetcher(sampler, 4, 4, 4, 0, doc_mask=False, pin=False, depth=2)
    with pytest.raises(ValueError, match="part-00003"):
        prefetch.next()
    prefetch.close()


def test_training_with_and_without_prefetch_gives_the_same_losses(token_run, tmp_path):
    losses = {}
    for depth in (0, 2):
        out = tmp_path / f"p{depth}"
        cfg = {"tokens": str(token_run), "out_dir": str(out), "model": "tiny", "seq_len": 64, "batch_tokens": 1024,
               "micro_batch": 8, "max_steps": 4, "warmup_steps": 1, "log_every": 1, "eval_every": 1000,
               "checkpoint_every": 1000, "threads": 1, "tensorboard": False, "prefetch": depth}
        assert train_main.main([f"{k}={json.dumps(v)}" for k, v in cfg.items()]) == 0
        records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        losses[depth] = [r["loss"] for r in records if "loss" in r]
        assert all("data_wait_s" in r and "data_build_s" in r for r in records if "loss" in r)
    assert losses[0] == losses[2]
