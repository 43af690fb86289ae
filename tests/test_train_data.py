"""The weighted shard sampler: proportions, windows, document starts, epochs, exact resume, errors."""
import json
import shutil
from collections import Counter

import numpy as np
import pytest

from tokenizer.shards import ShardError, open_shard, read_mixture_json
from train.data import MixtureSampler


def test_draws_follow_the_realised_shares(token_run):
    shares = {s: v["realised_share"] for s, v in read_mixture_json(token_run)["sources"].items()}
    sampler = MixtureSampler(token_run, 64, seed=1)
    counts = Counter(s for s, _ in sampler.draw(1000))
    for s, share in shares.items():
        assert abs(counts[s] / 1000 - share) < 0.002  # round-robin: every prefix is within one draw
    assert sampler.state.drawn == 1000


def test_windows_hold_the_stream_and_document_starts(token_run):
    mixture = read_mixture_json(token_run)
    sampler = MixtureSampler(token_run, 64, seed=1)
    stream = sampler.streams["cc"]
    flat = np.concatenate([open_shard(token_run / f["bin"], mixture["dtype"]).tokens for f in mixture["sources"]["cc"]["files"]])
    bos = mixture["tokenizer"]["bos_id"]
    for j in (0, 1, 57, stream.train_windows - 1):
        toks, starts = stream.window(j)
        np.testing.assert_array_equal(toks, flat[j * 64:j * 64 + 65])
        assert list(starts) == [i for i in range(1, 64) if toks[i] == bos]  # a document starts at each BOS
    batch = sampler.batch([("cc", 3), ("wikipedia", 0)])
    assert batch.inputs.shape == (2, 64) and (batch.inputs[:, 1:] == batch.targets[:, :-1]).all()


def test_epochs_revisit_every_window_in_a_new_order(token_run):
    sampler = MixtureSampler(token_run, 64, seed=1, weights={"wikipedia": 1.0})
    n = sampler.streams["wikipedia"].train_windows
    first = [j for _, j in sampler.draw(n)]
    second = [j for _, j in sampler.draw(n)]
    assert sorted(first) == sorted(second) == list(range(n)) and first != second
    assert sampler.epochs() == {"wikipedia": 2.0}
    held_out = [b for b in sampler.eval_batches("wikipedia", 4, 100)]
    assert sum(len(b.sources) for b in held_out) == sampler.streams["wikipedia"].eval_windows


def test_saved_state_resumes_the_same_sequence(token_run):
    a = MixtureSampler(token_run, 64, seed=5)
    a.draw(123)
    state = json.loads(json.dumps(a.state_dict()))
    expected = a.draw(300)
    b = MixtureSampler(token_run, 64, seed=5)
    b.load_state_dict(state)
    assert b.draw(300) == expected
    c = MixtureSampler(token_run, 32, seed=5)
    with pytest.raises(ValueError, match="seq_len 64"):
        c.load_state_dict(state)


def test_ranks_split_a_global_batch_without_overlap(token_run):
    draws = MixtureSampler(token_run, 64, seed=2).draw(16)
    halves = [draws[r * 8:(r + 1) * 8] for r in range(2)]
    assert halves[0] + halves[1] == draws and len(set(halves[0]) & set(halves[1])) <= 1  # distinct windows


def test_missing_or_truncated_token_files_are_named(token_run, tmp_path):
    copy = tmp_path / "tokens"
    shutil.copytree(token_run, copy)
    victim = copy / "wikipedia" / "part-00002.bin"
    victim.write_bytes(victim.read_bytes()[:-2])
    with pytest.raises(ShardError, match=r"wikipedia/part-00002.(bin|idx)"):
        MixtureSampler(copy, 64)
    victim.unlink()
    with pytest.raises(ShardError, match=r"part-00002.bin is missing"):
        MixtureSampler(copy, 64)
    with pytest.raises(ShardError, match="no training window"):
        MixtureSampler(token_run, 10_000_000)
