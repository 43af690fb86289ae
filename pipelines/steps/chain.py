"""A recipe is an ordered list of named steps run over batches of one file's documents.

A step takes a `Batch` and the file's `Counters` and returns the documents that go on; each
step owns one drop reason (its `name`) and counts what it drops, so a new filter (C4 rules,
Gopher rules, a quality classifier) is one small class plus one line in a recipe. Batches let
steps call the batch APIs of fastText, SentencePiece and KenLM. `run_steps` counts every
document read and every document written, so `read == written + sum(dropped)` holds by
construction for steps that only drop what they count.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Iterable, Iterator, Optional, Protocol, Sequence, Union

from corpus.counters import Counters, Units
from corpus.document import Document
from corpus.faults import Fault, report_fault

DEFAULT_BATCH = 256


@dataclasses.dataclass
class Batch:
    """Documents of one file in flight, with their row (ordinal in the file) and current size."""

    docs: list[Document]
    rows: list[int]
    units: list[Units]

    @classmethod
    def of(cls, rows_and_docs: Sequence[tuple[int, Document]]) -> "Batch":
        return cls([d for _, d in rows_and_docs], [r for r, _ in rows_and_docs],
                   [Units.of(d.text) for _, d in rows_and_docs])

    def __len__(self) -> int:
        return len(self.docs)

    def select(self, keep: Sequence[bool]) -> "Batch":
        """The documents where `keep` is true, in order."""
        return Batch([d for d, k in zip(self.docs, keep) if k], [r for r, k in zip(self.rows, keep) if k],
                     [u for u, k in zip(self.units, keep) if k])


class Step(Protocol):
    """One named step of a recipe: `name` is the drop reason it owns."""

    name: str

    def __call__(self, batch: Batch, counters: Counters) -> Batch: ...


@dataclasses.dataclass(frozen=True)
class Filter:
    """A step that only keeps or drops: `keep(batch)` says which documents go on; the others count
    under `name`."""

    name: str
    keep: Callable[[Batch], Sequence[bool]]

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        return drop_where_not(self.name, batch, self.keep(batch), counters)


def drop_where_not(reason: str, batch: Batch, keep: Sequence[bool], counters: Counters) -> Batch:
    """Count the documents where `keep` is false as dropped for `reason`; return the others."""
    for u, k in zip(batch.units, keep):
        if not k:
            counters.drop(reason, u)
    return batch.select(keep)


def read_rows(items: Iterable[Union[Document, Fault]], path: str, strict: bool,
              counters: Optional[Counters], log: logging.Logger) -> Iterator[tuple[int, Document]]:
    """(row, document) of a reader's output, rows numbering documents from 0 in file order; a fault
    raises MalformedInput naming file and offset in strict mode, else is logged and counted."""
    row = 0
    for item in items:
        if isinstance(item, Fault):
            report_fault(item, path, strict, counters, log)
            continue
        yield row, item
        row += 1


def batches(rows: Iterable[tuple[int, Document]], size: int = DEFAULT_BATCH,
            max_chars: Optional[int] = None) -> Iterator[Batch]:
    """Consecutive batches of at most `size` documents; with `max_chars`, a batch also ends at the
    document that brings its text to `max_chars` characters, so large documents come a few at a time."""
    chunk: list[tuple[int, Document]] = []
    chars = 0
    for row in rows:
        chunk.append(row)
        chars += len(row[1].text)
        if len(chunk) >= size or (max_chars is not None and chars >= max_chars):
            yield Batch.of(chunk)
            chunk, chars = [], 0
    if chunk:
        yield Batch.of(chunk)


def run_steps(rows: Iterable[tuple[int, Document]], steps: Sequence[Step], counters: Counters,
              batch_size: int = DEFAULT_BATCH, max_chars: Optional[int] = None) -> Iterator[Batch]:
    """Each batch after every step, its survivors counted as written (and every document as read);
    `max_chars` bounds a batch's text (see `batches`)."""
    for batch in batches(rows, batch_size, max_chars):
        for u in batch.units:
            counters.read(u)
        batch = apply_steps(batch, steps, counters)
        if batch:
            yield batch


def apply_steps(batch: Batch, steps: Sequence[Step], counters: Counters) -> Batch:
    """`batch` (already counted as read) through every step; what survives is counted as written."""
    for step in steps:
        if not batch:
            break
        batch = step(batch, counters)
    for u in batch.units:
        counters.write(u)
    return batch


def run_file(items: Iterable[Union[Document, Fault]], path: str, strict: bool, steps: Sequence[Step],
             log: logging.Logger) -> tuple[list[Document], Counters]:
    """One file's reader output through `steps`: the documents that survive, and the file's Counters
    (faults counted, or raised under `strict`)."""
    counters = Counters()
    kept = [d for batch in stream_file(items, path, strict, steps, log, counters) for d in batch.docs]
    return kept, counters


def stream_file(items: Iterable[Union[Document, Fault]], path: str, strict: bool, steps: Sequence[Step],
                log: logging.Logger, counters: Counters, max_chars: Optional[int] = None) -> Iterator[Batch]:
    """`run_file` as it goes: each batch of survivors as soon as it has passed every step, so a caller
    can write it and let it go; `counters` is complete once the iterator is exhausted."""
    return run_steps(read_rows(items, path, strict, counters, log), steps, counters, max_chars=max_chars)
