"""Dedup scratch files (dedup/spill.py) and the shard steps over them (pipelines/steps/dedup.py)."""
from __future__ import annotations

import dataclasses
import json
from itertools import combinations

import numpy as np
import pytest

from corpus.document import address
from corpus.readers import stream_documents
from dedup import spill
from dedup.lsh import MAX_ALL_PAIRS
from dedup.minhash import MinHasher
from pipelines import outdir
from pipelines.dedup import output_patterns
from pipelines.fileio import AtomicFile
from pipelines.steps import dedup_clusters as clusters
from pipelines.steps.dedup import (VERIFY_SHARD_PAIRS, DedupConfig, apply_decisions, bucket_pairs, candidate_shard,
                                   exact_dropped, exact_shard, file_exact_decisions, pair_runs, spill_file,
                                   verify_shard, verify_shards)


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
    writer.save(3, target)
    fs = spill.FileSpill(3, (), len(sets))
    seen = []
    for shard in range(shards):
        part = spill.read_bands(fs, shard, opener)
        assert (part["digest"] % shards == shard).all()
        seen += [(int(n), int(b), int(d)) for n, b, d in zip(part["node"], part["band"], part["digest"])]
    assert sorted(seen) == sorted((n, b, int(d)) for n, ds in digests.items() for b, d in enumerate(ds.tolist()))
    wanted = np.array(sorted(sets)[::3] + [address(3, 999)], dtype=np.int64)   # the last has no set
    loaded = spill.SetReader(opener).load(wanted)
    assert sorted(loaded) == sorted(sets)[::3]
    assert all(np.array_equal(loaded[n], sets[n]) for n in loaded)
    have, values, offsets = spill.SetReader(opener).load_flat(np.concatenate([wanted[::-1], wanted[:2]]))
    assert have.tolist() == sorted(sets)[::3] and offsets[-1] == values.size
    assert all(np.array_equal(values[offsets[i]:offsets[i + 1]], sets[n]) for i, n in enumerate(have.tolist()))
    every = np.array(sorted(sets) + [address(3, 999)], dtype=np.int64)
    known = (every, spill.SetReader(opener).sizes(every))
    again = spill.SetReader(opener).load_flat(np.concatenate([wanted[::-1], wanted[:2]]), known)
    assert all(np.array_equal(a, b) for a, b in zip(again, (have, values, offsets)))
    with pytest.raises(ValueError, match="does not cover"):
        spill.SetReader(opener).load_flat(wanted, (every[1:], known[1][1:]))


def test_exact_rows_and_decisions_by_shard(tmp_path):
    target, opener = _io(tmp_path)
    keys = [bytes([i]) * 12 for i in range(30)]
    rows = [(k, address(1, i), f"id{i}", None if i % 2 else 1.5, 100 + i, None, bytes([i, 0]) if i % 3 else None)
            for i, k in enumerate(keys)]
    groups = spill.save_exact(rows, 1, 4, target)
    fs = spill.FileSpill(1, groups, 0)
    got = []
    for shard in range(4):
        table = spill.read_exact(fs, shard, opener)
        assert all(spill.key_shard(k, 4) == shard for k in table.column("key").to_pylist())
        got += [tuple(r.values()) for r in table.to_pylist()]
    assert sorted(got) == sorted(rows)
    assert sorted(tuple(r.values()) for r in spill.read_exact(fs, None, opener).to_pylist()) == sorted(rows)
    assert spill.read_exact(spill.FileSpill(1, (), 0), 2, opener).num_rows == 0
    decided = [(address(2, 5), "kept"), (address(1, 7), "exact_duplicate"), (address(2, 1), "duplicate_id")]
    spill.write_decisions(0, decided, 4, target)
    for file_idx, want in ((0, []), (1, [(address(1, 7), 1)]), (2, [(address(2, 1), 2), (address(2, 5), 0)]),
                           (3, [])):
        assert spill.read_decisions(0, opener, file_idx).tolist() == want
    assert len(spill.read_decisions(0, opener)) == 3


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
    spill.save_pairs(4, pairs[rng.permutation(len(pairs))], 3, target)
    back = [spill.read_pairs(4, s, opener) for s in range(3)]
    for s, part in enumerate(back):
        assert (spill.pair_shard(part[:, 0], 3) == s).all()
        assert np.array_equal(part, np.unique(part, axis=0))   # sorted by pair inside a shard
    assert sorted(map(tuple, np.concatenate(back).tolist())) == sorted(map(tuple, pairs.tolist()))


def test_every_scratch_file_of_the_shard_steps_is_claimed_and_decisions_are_per_file(tmp_path):
    """Run every shard step over three small JSONL files (exact copies across files, one repeated id):
    each scratch file fits the run's output claim, and each file's exact decisions are its own rows."""
    folder = tmp_path / "in"
    folder.mkdir()
    words = [f"w{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(60)]   # no digits: normalising keeps them
    texts = [" ".join(words[i:i + 30]) for i in range(0, 30, 3)]
    paths = []
    for f in range(3):
        path = folder / f"part-{f}.jsonl"
        docs = [{"id": f"f{f}d{d}", "text": t} for d, t in enumerate(texts[f:f + 6])] + [{"id": "same", "text": "x y"}]
        path.write_text("".join(json.dumps(d) + "\n" for d in docs))
        paths.append(str(path))
    units = tuple((i, p, f"part-{i}") for i, p in enumerate(paths))
    scratch = tmp_path / "out" / "_temporary" / "dedup"
    scratch.mkdir(parents=True)
    target, opener = _io(scratch)
    cfg = DedupConfig(units=units, out=str(tmp_path / "out"))
    spills = [spill_file(stream_documents(p), p, i, cfg, MinHasher(), 3, target) for i, p in enumerate(paths)]
    edges_by_shard = [exact_shard(s, spills, cfg, 3, opener, target) for s in range(3)]
    # each band shard learns exactly the exact duplicates among its own entries
    drops = {n for s in range(3) for n, r in spill.read_decisions(s, opener).tolist() if r == 1}
    assert len(drops) == 12   # texts 1..6 are in two or three files, and "x y" is in all three
    for band in range(3):
        nodes = set(np.concatenate([spill.read_bands(fs, band, opener) for fs in spills])["node"].tolist())
        dropped = exact_dropped(band, 3, opener).tolist()
        assert len(dropped) == len(set(dropped)) and set(dropped) == drops & nodes
    assert sum(candidate_shard(s, spills, 3, opener, target) for s in range(3)) > 0
    # candidates are texts shifted by 3 words: 23 of 29 shingles shared, Jaccard 0.79: no edge at 0.8,
    # one per neighbour pair (texts k, k + 1, each verified where it survived the exact stage) at 0.75
    assert [e for s in range(3) for e in verify_shard(s, 3, cfg, opener).tolist()] == []
    survivor = [address(0, k) for k in range(6)] + [address(1, 5), address(2, 5)]
    lower = dataclasses.replace(cfg, threshold=0.75)
    assert sorted(tuple(e) for s in range(3) for e in verify_shard(s, 3, lower, opener).tolist()) == [
        (survivor[k + 1], survivor[k]) for k in range(7)]
    for budget in (1, 60, 10 ** 9):   # one pair per run, a few, all at once: the same edges
        assert [verify_shard(s, 3, lower, opener, budget).tolist() for s in range(3)] == [
            verify_shard(s, 3, lower, opener).tolist() for s in range(3)]
    for parts in (1, 2):   # the three pair shards folded into fewer verification shards: the same edges
        folded = [e for v in range(parts) for e in verify_shard(v, 3, lower, opener, parts=parts).tolist()]
        assert sorted(map(tuple, folded)) == [(survivor[k + 1], survivor[k]) for k in range(7)]
    per = VERIFY_SHARD_PAIRS
    assert [verify_shards(n, 3) for n in (0, 1, per, per + 1, 10 ** 9)] == [1, 1, 1, 2, 3]
    # the steps after verification on the same scratch: rounds, members, keep keys, cluster decisions
    for s in range(3):
        clusters.write_round_input(edges_by_shard[s], 0, s, 3, target)
        clusters.write_round_input(verify_shard(s, 3, lower, opener), 0, 3 + s, 3, target)
    rounds = clusters.round_count(8)
    for r in range(rounds):
        for s in range(3):
            clusters.star_round_shard(s, r, 6 if r == 0 else 3, 3, 3, rounds, opener, target)
    assert sum(clusters.changed_shard(s, 3, opener) for s in range(3)) == 0
    keys = [clusters.member_keys_file(sp, 3, opener, target) for sp in spills]
    near = [clusters.cluster_shard(s, keys, "first", 3, opener, target) for s in range(3)]
    # one cluster of the 18 copies of texts 0..7 (near chain plus exact copies), kept: file 0 row 0; one of
    # the three "x y" documents (exact copies), kept: file 0 row 6
    assert sorted(clusters.file_near_decisions(0, near, opener)) == [
        (0, "kept", "f0d0"), *[(r, "near_duplicate", "f0d0") for r in range(1, 6)], (6, "kept", "same")]
    for f in (1, 2):
        assert sorted(clusters.file_near_decisions(f, near, opener)) == [
            *[(r, "near_duplicate", "f0d0") for r in range(6)], (6, "near_duplicate", "same")]
    patterns = output_patterns(list(units))
    names = sorted(p.name for p in scratch.iterdir())
    assert names and all(outdir.matches(f"_temporary/dedup/{n}", patterns) for n in names), names
    decided = {f: file_exact_decisions(f, 3, opener) for f in range(3)}
    # texts[f + k] is row k of file f: rows shared by files are exact copies; "same" is one id in three files
    assert sorted(r for r, reason, _ in decided[1] if reason == "duplicate_id") == [6]
    assert sorted(r for r, reason, _ in decided[2] if reason == "duplicate_id") == [6]
    assert sorted(r for r, reason, _ in decided[0] if reason == "kept") == [1, 2, 3, 4, 5, 6]
    assert sorted(r for r, reason, _ in decided[1] if reason == "kept") == [5]
    assert sorted(r for r, reason, _ in decided[2] if reason == "exact_duplicate") == [0, 1, 2, 3, 4, 6]
    exact_drops = sum(reason == "exact_duplicate" for d in decided.values() for _, reason, _ in d)
    assert sum(len(e) for e in edges_by_shard) == exact_drops


def test_pair_runs_cover_the_pairs_in_order_each_run_within_budget_and_as_long_as_it_can_be():
    rng = np.random.default_rng(3)
    for trial in range(200):
        nodes = int(rng.integers(2, 30))
        sizes = rng.integers(0, 50, nodes)
        pairs = np.sort(np.array([rng.choice(nodes, 2, replace=False) for _ in range(rng.integers(1, 80))]), axis=1)
        budget = int(rng.integers(1, 300))
        runs = list(pair_runs(pairs, sizes, budget))
        assert [lo for lo, _ in runs] == [0] + [hi for _, hi in runs[:-1]] and runs[-1][1] == len(pairs)

        def held(lo, hi):
            return int(sizes[np.unique(pairs[lo:hi])].sum())

        for lo, hi in runs:
            assert hi > lo and (held(lo, hi) <= budget or hi == lo + 1), (trial, lo, hi)
            assert hi == len(pairs) or held(lo, hi + 1) > budget, (trial, lo, hi)


def test_survivors_reach_the_writer_in_order_in_batches(tmp_path):
    path = tmp_path / "part.jsonl"
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": f"text {i}"}) + "\n" for i in range(10)))
    decisions = {1: ("exact_duplicate", "d0"), 0: ("kept", "d0"), 4: ("near_duplicate", "d3"), 3: ("kept", "d3"),
                 7: ("duplicate_id", "")}
    batches = []
    result = apply_decisions(stream_documents(str(path)), str(path), DedupConfig(), decisions,
                             lambda docs: batches.append([d.id for d in docs]), batch=3)
    assert batches == [["d0", "d2", "d3"], ["d5", "d6", "d8"], ["d9"]]
    assert [(c["id"], c["reason"]) for c in result.clusters] == [
        ("d0", "kept"), ("d1", "exact_duplicate"), ("d3", "kept"), ("d4", "near_duplicate")]
    stats = result.counters.to_stats()["documents"]
    assert (stats["read"], stats["written"]) == (10, 7)
    assert stats["dropped"] == {"exact_duplicate": 1, "near_duplicate": 1, "duplicate_id": 1}


def test_tables_by_partition_round_trip_and_an_absent_partition_is_an_empty_table(tmp_path):
    import pyarrow as pa
    target, opener = _io(tmp_path)
    schema = pa.schema([("row", pa.int64()), ("reason", pa.string())])
    tables = [(2, pa.table({"row": [1, 5], "reason": ["kept", "near_duplicate"]})),
              (7, pa.table({"row": [0], "reason": ["é"]}))]
    assert spill.save_tables("t.spill", tables, 1000, schema, target) == (2, 7)
    for key, table in tables:
        assert spill.read_table("t.spill", key, schema, opener).equals(table.cast(schema))
    empty = spill.read_table("t.spill", 3, schema, opener)
    assert empty.num_rows == 0 and empty.schema == schema
    both = spill.read_tables("t.spill", [7, 3, 2], schema, opener)
    assert both.to_pylist() == [{"row": 0, "reason": "é"}, {"row": 1, "reason": "kept"},
                                {"row": 5, "reason": "near_duplicate"}]
    assert spill.read_tables("t.spill", [], schema, opener).schema == schema


def test_exact_duplicates_go_to_every_band_shard_of_their_entries(tmp_path):
    target, opener = _io(tmp_path)
    digests = {address(0, 1): np.array([5, 9, 14, 7], dtype=np.uint64),   # shards 0, 4, 4, 2 of 5
               address(2, 0): np.array([8, 12], dtype=np.uint64),        # shards 3, 2
               address(1, 3): np.array([], dtype=np.uint64)}             # no words: no band
    assert spill.band_shards(digests[address(2, 0)], 4) == np.array([0], dtype="<u2").tobytes()   # one entry
    nodes = sorted(digests)
    spill.write_dropped(6, np.array(nodes), [spill.band_shards(digests[n], 5) for n in nodes], 5, target)
    got = {b: spill.read_dropped(6, b, opener).tolist() for b in range(5)}
    assert got == {0: [address(0, 1)], 1: [], 2: [address(0, 1), address(2, 0)], 3: [address(2, 0)],
                   4: [address(0, 1)]}
