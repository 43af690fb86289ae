"""Training sequences drawn from token shards in the mixture's proportions, resumable exactly.

Each source's shards are one token stream; window j of a source is tokens [j·S, j·S + S + 1)
(inputs and shifted targets), with the document starts inside it from the .idx offsets. The
last windows of each source are held out for evaluation. Sources are interleaved by smooth
weighted round-robin on their realised shares (mixture.json), so every prefix of the sample
sequence follows the proportions; within a source, epoch e visits its windows in a permutation
seeded by (seed, source, e), and a source is re-read as many epochs as the run needs. The
sampler's whole position is a few integers per source, saved in every checkpoint: a resumed run
draws exactly the sequences the uninterrupted run would have drawn, on any number of ranks.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import torch

from tokenizer.shards import ShardError, check_token_ids, open_listed_shard, read_mixture_json

_WEIGHT_SCALE = 1_000_000


@dataclasses.dataclass
class Batch:
    inputs: torch.Tensor  # (B, S) int64
    targets: torch.Tensor  # (B, S) int64
    starts: tuple[tuple[int, ...], ...]  # per row, positions > 0 where a document begins
    sources: tuple[str, ...]


class SourceStream:
    """One source's shards as a single token stream, cut into windows of seq_len + 1 tokens."""

    def __init__(self, name: str, folder: Path, entry: dict, dtype: str, seq_len: int, eval_windows: int,
                 vocab_size: int):
        self.name, self.seq_len, self.vocab_size = name, seq_len, vocab_size
        self.shards = [open_listed_shard(folder, f, dtype) for f in entry["files"]]
        sizes = np.array([len(s.tokens) for s in self.shards], dtype=np.int64)
        self.shard_starts = np.concatenate([[0], np.cumsum(sizes)])
        self.doc_starts = np.concatenate([s.offsets[:-1] + base for s, base in zip(self.shards, self.shard_starts)]
                                         ) if self.shards else np.empty(0, np.int64)
        total = int(self.shard_starts[-1])
        windows = (total - 1) // seq_len if total > 1 else 0
        self.eval_windows = min(eval_windows, windows // 10)
        self.train_windows = windows - self.eval_windows
        if self.train_windows < 1:
            raise ShardError(f"source {name}: {total} tokens make no training window of {seq_len + 1} tokens "
                             f"(lower seq_len or add data)")

    def tokens(self, start: int, stop: int) -> np.ndarray:
        """Tokens [start, stop) of the stream, across shard boundaries."""
        out = np.empty(stop - start, dtype=np.int64)
        i = int(np.searchsorted(self.shard_starts, start, side="right")) - 1
        pos = start
        while pos < stop:
            base = self.shard_starts[i]
            chunk = self.shards[i].tokens[pos - base:min(stop, self.shard_starts[i + 1]) - base]
            out[pos - start:pos - start + len(chunk)] = chunk
            pos += len(chunk)
            i += 1
        return out

    def _refuse_ids(self, toks: np.ndarray, lo: int) -> None:
        """Name the shard of the first token id outside the vocabulary (when start-up did not verify)."""
        first = int(np.argmax(toks >= self.vocab_size))
        shard = self.shards[int(np.searchsorted(self.shard_starts, lo + first, side="right")) - 1]
        check_token_ids(int(toks[first]), self.vocab_size, shard.bin_path)

    def window(self, j: int) -> tuple[np.ndarray, tuple[int, ...]]:
        """(seq_len + 1 tokens, document start positions within the input part, > 0)."""
        lo = j * self.seq_len
        toks = self.tokens(lo, lo + self.seq_len + 1)
        if toks.size and toks.max() >= self.vocab_size:
            self._refuse_ids(toks, lo)
        a, b = np.searchsorted(self.doc_starts, [lo + 1, lo + self.seq_len])
        return toks, tuple(int(x) for x in self.doc_starts[a:b] - lo)


@dataclasses.dataclass
class SamplerState:
    drawn: int = 0
    picks: dict[str, int] = dataclasses.field(default_factory=dict)
    credit: dict[str, int] = dataclasses.field(default_factory=dict)


class MixtureSampler:
    """Deterministic stream of (source, window) draws over TOKENS/mixture.json."""

    def __init__(self, tokens_dir: str | Path, seq_len: int, seed: int = 0, eval_windows: int = 16,
                 weights: Optional[dict[str, float]] = None):
        folder = Path(tokens_dir)
        self.mixture = read_mixture_json(folder)
        self.seq_len, self.seed = seq_len, seed
        shares = weights or {s: v["realised_share"] for s, v in self.mixture["sources"].items()}
        self.names = sorted(s for s, w in shares.items() if w > 0)
        if not self.names:
            raise ShardError(f"{folder}: no source has a positive share in mixture.json")
        vocab = self.mixture["tokenizer"]["vocab_size"]
        self.streams = {s: SourceStream(s, folder, self.mixture["sources"][s], self.mixture["dtype"], seq_len,
                                        eval_windows, vocab) for s in self.names}
        self.weights = {s: max(1, round(shares[s] * _WEIGHT_SCALE)) for s in self.names}
        self.state = SamplerState(picks={s: 0 for s in self.names}, credit={s: 0 for s in self.names})
        self._perms: dict[tuple[str, int], np.ndarray] = {}

    def _perm(self, source: str, epoch: int) -> np.ndarray:
        key = (source, epoch)
        if key not in self._perms:
            if len(self._perms) > 64:
                self._perms.clear()
            rng = np.random.default_rng([self.seed, self.names.index(source), epoch])
            self._perms[key] = rng.permutation(self.streams[source].train_windows)
        return self._perms[key]

    def _next(self) -> tuple[str, int]:
        st = self.state
        total = sum(self.weights.values())
        for s in self.names:
            st.credit[s] += self.weights[s]
        source = max(self.names, key=lambda s: (st.credit[s], -self.names.index(s)))
        st.credit[source] -= total
        n = self.streams[source].train_windows
        k = st.picks[source]
        st.picks[source] = k + 1
        st.drawn += 1
        return source, int(self._perm(source, k // n)[k % n])

    def draw(self, n: int) -> list[tuple[str, int]]:
        """The next n (source, window) draws; advances the sampler."""
        return [self._next() for _ in range(n)]

    def epochs(self) -> dict[str, float]:
        """Epochs of each source's training windows drawn so far."""
        return {s: self.state.picks[s] / self.streams[s].train_windows for s in self.names}

    def batch(self, draws: list[tuple[str, int]]) -> Batch:
        rows, starts = [], []
        for source, j in draws:
            toks, st = self.streams[source].window(j)
            rows.append(toks)
            starts.append(st)
        arr = torch.from_numpy(np.stack(rows))
        return Batch(arr[:, :-1].contiguous(), arr[:, 1:].contiguous(), tuple(starts), tuple(s for s, _ in draws))

    def eval_batches(self, source: str, batch_size: int, max_batches: int) -> Iterator[Batch]:
        """The held-out windows of a source, in order, in batches."""
        stream = self.streams[source]
        ids = list(range(stream.train_windows, stream.train_windows + stream.eval_windows))
        for i in range(0, min(len(ids), batch_size * max_batches), batch_size):
            yield self.batch([(source, j) for j in ids[i:i + batch_size]])

    def state_dict(self) -> dict:
        return dataclasses.asdict(self.state) | {"seed": self.seed, "seq_len": self.seq_len}

    def load_state_dict(self, state: dict) -> None:
        if state.get("seq_len") != self.seq_len or state.get("seed") != self.seed:
            raise ValueError(f"checkpoint sampler was seq_len {state.get('seq_len')}, seed {state.get('seed')}; "
                             f"this run has seq_len {self.seq_len}, seed {self.seed}")
        if sorted(state["picks"]) != self.names:
            raise ValueError(f"checkpoint sampler has sources {sorted(state['picks'])}, this mixture {self.names}")
        self.state = SamplerState(drawn=state["drawn"], picks=dict(state["picks"]), credit=dict(state["credit"]))
