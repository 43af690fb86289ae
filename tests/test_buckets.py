"""Perplexity cutoffs from counts of distinct values: the same floats as np.percentile over every value,
whatever the batches, their order or how the summaries are merged."""
from __future__ import annotations

import numpy as np
import pytest

from filters.buckets import ValueCounts, compute_cutoffs, merge_value_counts, percentiles_of_counts, value_counts
from pipelines.ccnet import CutoffsFn


def _samples(seed: int):
    rng = np.random.default_rng(seed)
    for trial in range(400):
        n = int(rng.integers(1, 3000))
        kind = trial % 4
        if kind == 0:
            yield np.round(rng.lognormal(6, 1.5, n), 1)   # ccnet's: rounded to 0.1, many repeats
        elif kind == 1:
            yield rng.random(n) * 1e4
        elif kind == 2:
            yield rng.integers(0, 4, n).astype(np.float64)
        else:
            yield np.full(n, 42.5)


def test_percentiles_of_counts_are_numpys_bit_for_bit():
    for values in _samples(0):
        expected = np.percentile(values, np.arange(101))
        assert np.array_equal(percentiles_of_counts(*value_counts(values)), expected)
    assert compute_cutoffs({"en": np.array([3.0, 1.0, 2.0]), "de": np.array([])}) == {
        "en": [float(x) for x in np.percentile([1.0, 2.0, 3.0], np.arange(101))]}


def test_summaries_merge_to_the_same_counts_in_any_order_and_grouping():
    rng = np.random.default_rng(1)
    values = np.round(rng.lognormal(5, 1, 200_000), 1)
    batches = np.array_split(values, 37)
    whole = value_counts(values)
    one = ValueCounts()
    for b in batches:
        one.add(b)
    order = rng.permutation(len(batches))
    groups = [ValueCounts(), ValueCounts(), ValueCounts()]
    for i in order:
        groups[i % 3].add(batches[i])
    merged = ValueCounts.merged([groups[2], ValueCounts.merged([groups[0]]), groups[1]])
    pairwise = merge_value_counts(reversed([value_counts(b) for b in batches]))
    for distinct, counts in (one.compact(), merged.compact(), pairwise):
        assert np.array_equal(distinct, whole[0]) and np.array_equal(counts, whole[1])
    assert one.compact()[0].size < values.size / 10


def test_the_beam_combiner_gives_compute_cutoffs():
    fn = CutoffsFn()
    rng = np.random.default_rng(2)
    arrays = [np.round(rng.lognormal(6, 1, int(rng.integers(1, 500))), 1) for _ in range(30)]
    accs = []
    for start in range(0, 30, 7):
        acc = fn.create_accumulator()
        for a in arrays[start:start + 7]:
            acc = fn.add_input(acc, a)
        accs.append(acc)
    assert fn.extract_output(fn.merge_accumulators(accs)) == compute_cutoffs({"en": np.concatenate(arrays)})["en"]
    assert fn.extract_output(fn.create_accumulator()) is None
    with pytest.raises(ValueError, match="no values"):
        percentiles_of_counts(*value_counts(np.array([])))
