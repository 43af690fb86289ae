"""LineDedup's fast path (nothing to drop: the text kept as it is) and its numpy mask give exactly what
splitting, `apply_line_dedup` and joining gave, with the same counters and meta."""
from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st

from corpus.counters import Counters, Units
from corpus.document import Document
from dedup.lines import apply_line_dedup, line_hashes
from pipelines.steps.ccnet import LineDedup
from pipelines.steps.chain import Batch

LINES = st.lists(st.sampled_from(["Home", "home ", "Share this", "a 1", "a 2", "Ünïcode line", "", "  ", "x" * 40,
                                  "Copyright 2020", "«menu»"]), min_size=1, max_size=12)


def reference(texts: list[str], drops: dict[int, set[int]]) -> tuple[list[str], list[Units], dict]:
    """What LineDedup did before the fast path: split, keep per apply_line_dedup, join."""
    out, units, counters = [], [], Counters()
    for row, text in enumerate(texts):
        lines = text.split("\n")
        kept = apply_line_dedup(lines, line_hashes(lines), drops.get(row, set()))
        new = "\n".join(kept)
        before, after = Units.of(text), Units(1, len(kept), len(new))
        counters.drop("duplicate_line", Units(0, before.lines - after.lines, before.chars - after.chars))
        out.append(new)
        units.append(after)
    return out, units, counters.to_stats()


def run(texts: list[str], drops: dict[int, set[int]], with_hashes: bool) -> tuple[list[str], list[Units], dict]:
    docs = [Document(id=str(i), source="t", text=t) for i, t in enumerate(texts)]
    batch = Batch.of(list(enumerate(docs)))
    hashes = {i: line_hashes(t.split("\n")) for i, t in enumerate(texts)} if with_hashes else None
    counters = Counters()
    batch = LineDedup(drops, hashes)(batch, counters)
    for d, u, t in zip(batch.docs, batch.units, texts):
        assert d.meta["original_length"] == len(t) and d.meta["original_nlines"] == t.count("\n") + 1
        assert d.meta["dedup_removed_lines"] == t.count("\n") + 1 - u.lines
    return [d.text for d in batch.docs], batch.units, counters.to_stats()


@settings(max_examples=200, deadline=None)
@given(st.lists(LINES, min_size=1, max_size=6), st.integers(0, 2**32))
def test_line_dedup_equals_split_and_join(docs_lines, seed):
    rng = random.Random(seed)
    texts = ["\n".join(lines) for lines in docs_lines]
    drops = {}
    for row, text in enumerate(texts):
        hashes = line_hashes(text.split("\n")).tolist()
        if rng.random() < 0.5:
            drops[row] = {h for h in hashes if rng.random() < 0.4} | {rng.getrandbits(64)}
    expected = reference(texts, drops)
    assert run(texts, drops, with_hashes=True) == expected
    assert run(texts, drops, with_hashes=False) == expected


def test_untouched_document_keeps_its_text_object():
    text = "one\ntwo\nthree"
    doc = Document(id="a", source="t", text=text)
    batch = LineDedup({}, None)(Batch.of([(0, doc)]), Counters())
    assert batch.docs[0].text is text and batch.units[0] == Units(1, 3, len(text))
