"""The next training steps' batches, built by a background thread while the model computes.

The thread draws each step's windows from the sampler in order, so the data is exactly what the
synchronous loop would see; each prepared step carries the sampler state after it, and the trainer
checkpoints the state of the last step it consumed (prefetched steps are drawn again on resume).
Tensors come pinned on CUDA so the host-to-device copies run asynchronously, and document segment
ids (the attention masks' input) are computed here, off the training thread.
"""
from __future__ import annotations

import copy
import dataclasses
import queue
import threading
import time
from typing import Optional

from train.attention import AttentionMask
from train.data import Batch, MixtureSampler


@dataclasses.dataclass
class StepData:
    """One optimizer step's micro-batches on this rank, with their masks and the sampler after the step."""

    micro: list[Batch]
    masks: list[AttentionMask]
    sampler_state: dict
    epochs: dict[str, float]
    build_s: float


def build_step(sampler: MixtureSampler, sequences: int, per_rank: int, micro_batch: int, rank: int,
               doc_mask: bool, pin: bool) -> StepData:
    """Draw one step's sequences and cut this rank's share into micro-batches (what the thread repeats)."""
    started = time.perf_counter()
    draws = sampler.draw(sequences)[rank * per_rank:(rank + 1) * per_rank]
    micro, masks = [], []
    for m in range(0, per_rank, micro_batch):
        batch = sampler.batch(draws[m:m + micro_batch])
        if pin:
            batch = dataclasses.replace(batch, inputs=batch.inputs.pin_memory(), targets=batch.targets.pin_memory())
        b, s = batch.inputs.shape
        mask = AttentionMask(b, s, batch.starts if doc_mask else None)
        if mask.starts is not None:
            mask = dataclasses.replace(mask, seg=mask.segment_ids().pin_memory() if pin else mask.segment_ids())
        micro.append(batch)
        masks.append(mask)
    return StepData(micro, masks, copy.deepcopy(sampler.state_dict()), sampler.epochs(),
                    time.perf_counter() - started)


class Prefetcher:
    """Steps from `build_step`, `depth` ahead in a daemon thread (depth 0: built on demand, no thread).
    `wait_s` adds up the time the training thread waited for data; `build_s` the time building took."""

    def __init__(self, sampler: MixtureSampler, sequences: int, per_rank: int, micro_batch: int, rank: int,
                 doc_mask: bool, pin: bool, depth: int = 2):
        self._args = (sampler, sequences, per_rank, micro_batch, rank, doc_mask, pin)
        self.depth = depth
        self.wait_s = self.build_s = 0.0
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._thread: Optional[threading.Thread] = None
        if depth > 0:
            self._thread = threading.Thread(target=self._work, name="llamapipe-prefetch", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        try:
            while not self._stop.is_set():
                item = build_step(*self._args)
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except BaseException as exc:  # handed to the training thread, which raises it
            self._queue.put(exc)

    def next(self) -> StepData:
        """The next step's data (raises what the builder raised)."""
        started = time.perf_counter()
        item = self._queue.get() if self._thread else build_step(*self._args)
        self.wait_s += time.perf_counter() - started
        if isinstance(item, BaseException):
            raise item
        self.build_s += item.build_s
        return item

    def close(self) -> None:
        """Stop the thread; steps built but not taken are dropped (a resume draws them again)."""
        self._stop.set()
        if self._thread:
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._thread.join(timeout=10)
