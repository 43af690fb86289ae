"""Dedup scratch files (dedup/spill.py) and the shard steps over them (pipelines/steps/dedup.py)."""
from __future__ import annotations

from itertools import combinations

import numpy as np

from corpus.document import address, file_of
from dedup import spill
from dedup.lsh import MAX_ALL_PAIRS
from pipelines.fileio import AtomicFile
from pipelines.steps.dedup import bucket_pairs


def _io(folder):
    return (lambda name: AtomicFile(str(folder / name))), (lambda name: open(folder / name, "rb"))


def test_sets_and_bands_round_trip_by_shard(tmp_path):
    target, opener = _io(tmp_path)
    rng = np.random.default_rng(0)
    shards = 5
    writer = spill.SetWriter(shards)
    sets, digests = {}, {}
    for row in range(40):
        node = address(3, row)
        sets[node] = np.unique(rng.integers(0, 2 ** 32, int(rng.integers(1, 300)), dtype=np.uint64).astype(np.uint32))
        digests[node] = rng.integers(0, 2 ** 63, 21, dtype=np.uint64)
        writer.add(node, sets[node], digests[node])
    offsets = writer.save(3, target)
    fs = spill.FileSpill(3, offsets, (), len(sets))
    seen = []
    for shard in range(shards):
        part = spill.read_bands(fs, shard, opener)
        assert (part["digest"] % shards == shard).all()
        seen += [(int(n), int(b), int(d)) for n, b, d in zip(part["node"], part["band"], part["digest"])]
    assert sorted(seen) == sorted((n, b, int(d)) for n, ds in digests.items() for b, d in enumerate(ds.tolist()))
    wanted = np.array(sorted(sets)[::3] + [address(3, 999)], dtype=np.int64)   # the last has no set
    loaded = spill.SetReader(opener).load(wanted, file_of)
    assert sorted(loaded) == sorted(sets)[::3]
    assert all(np.array_equal(loaded[n], sets[n]) for n in loaded)


def test_exact_rows_and_decisions_by_shard(tmp_path):
    target, opener = _io(tmp_path)
    keys = [bytes([i]) * 12 for i in range(30)]
    rows = [(k, address(1, i), f"id{i}", None if i % 2 else 1.5, 100 + i, None) for i, k in enumerate(keys)]
    groups = spill.save_exact(rows, 1, 4, target)
    fs = spill.FileSpill(1, (0,) * 5, groups, 0)
    got = []
    for shard in range(4):
        table = spill.read_exact(fs, shard, opener)
        assert all(spill.key_shard(k, 4) == shard for k in table.column("key").to_pylist())
        got += [tuple(r.values()) for r in table.to_pylist()]
    assert sorted(got) == sorted(rows)
    assert spill.read_exact(fs, None, opener).num_rows == len(rows)
    spill.write_decisions(0, [(address(2, 5), "kept", "a"), (address(1, 7), "exact_duplicate", "a")], target)
    assert spill.read_decisions(0, opener, address(2, 0), address(3, 0)).to_pylist() == [
        {"node": address(2, 5), "reason": "kept", "cluster": "a"}]


def test_bucket_pairs_match_bucket_candidates():
    rng = np.random.default_rng(1)
    entries = np.zeros(3000, dtype=spill.BAND_DTYPE)
    entries["band"] = rng.integers(0, 3, entries.size)
    entries["digest"] = rng.integers(0, 400, entries.size)
    entries["node"] = rng.permutation(entries.size)
    big = np.zeros(MAX_ALL_PAIRS + 10, dtype=spill.BAND_DTYPE)   # one bucket large enough for a star
    big["band"], big["digest"], big["node"] = 7, 1, np.arange(big.size) + 10_000
    buckets: dict = {}
    for e in np.concatenate([entries, big]).tolist():
        buckets.setdefault(e[:2], []).append(e[2])
    expected = set()
    for members in buckets.values():
        ids = sorted(members)
        expected |= set(combinations(ids, 2)) if len(ids) <= MAX_ALL_PAIRS else {(ids[0], i) for i in ids[1:]}
    got = bucket_pairs(np.concatenate([entries, big]))
    assert {tuple(p) for p in got.tolist()} == expected and len(got) == len(expected)


def test_pairs_are_routed_by_their_first_node(tmp_path):
    target, opener = _io(tmp_path)
    rng = np.random.default_rng(2)
    pairs = np.unique(np.sort(rng.integers(0, 10 ** 6, (500, 2)), axis=1), axis=0)
    offsets = spill.save_pairs(4, pairs, 3, target)
    back = [spill.read_pairs(4, offsets, s, opener) for s in range(3)]
    for s, part in enumerate(back):
        assert (spill.pair_shard(part[:, 0], 3) == s).all()
    assert sorted(map(tuple, np.concatenate(back).tolist())) == sorted(map(tuple, pairs.tolist()))
