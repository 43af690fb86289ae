"""LSH banding, candidate verification and star-contraction connected components."""
import random

import numpy as np
import pytest

from dedup.components import components, labels_from_stars
from dedup.lsh import band_digests, band_keys, bucket_candidates, choose_bands, collision_probability, verified
from dedup.minhash import MinHasher, shingle_hashes


def _union_find(edges, nodes):
    parent = {n: n for n in nodes}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for u, v in edges:
        a, b = find(u), find(v)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {n: find(n) for n in nodes}


def test_bands_chosen_for_recall():
    bands, rows = choose_bands(128, 0.6)
    assert (bands, rows) == (21, 6) and bands * rows <= 128
    assert collision_probability(0.8, bands, rows) > 0.99      # datasketch's 9x13 at 0.8: ~0.40
    assert collision_probability(0.3, bands, rows) < 0.05
    with pytest.raises(ValueError):
        choose_bands(128, 1.5)


def _set(text: str) -> np.ndarray:
    return np.unique(shingle_hashes(text))


def test_near_copy_collides_and_verifies_unrelated_does_not():
    hasher = MinHasher()
    words = [f"word{i}" for i in range(400)]
    a = " ".join(words)
    b = " ".join(words[:200] + ["edited"] + words[201:])
    c = " ".join(f"other{i}" for i in range(400))
    sa, sb, sc = (hasher.text_signature(t) for t in (a, b, c))
    bands, rows = choose_bands(128, 0.6)
    assert set(band_keys(sa, bands, rows)) & set(band_keys(sb, bands, rows))
    assert verified(_set(a), _set(b), 0.8)
    assert not set(band_keys(sa, bands, rows)) & set(band_keys(sc, bands, rows))
    assert not verified(_set(a), _set(c), 0.8)


def test_band_keys_end_with_band_digests():
    sig = MinHasher().text_signature(" ".join(f"w{i}" for i in range(50)))
    digests = band_digests(sig, 21, 6)
    assert digests.dtype == np.dtype("<u8") and digests.size == 21
    assert [k[2:] for k in band_keys(sig, 21, 6)] == [int(d).to_bytes(8, "little") for d in digests.tolist()]


def test_unrelated_documents_sharing_a_bucket_are_not_merged():
    hasher = MinHasher(num_perm=128)
    ta, tb = " ".join(f"a{i}" for i in range(300)), " ".join(f"b{i}" for i in range(300))
    a, b = hasher.text_signature(ta), hasher.text_signature(tb)
    bands, rows = choose_bands(128, 0.6)
    b[:rows] = a[:rows]                # force a collision in band 0
    assert band_keys(a, bands, rows)[0] == band_keys(b, bands, rows)[0]
    assert not verified(_set(ta), _set(tb), 0.8)


def test_bucket_candidates_small_and_large():
    assert bucket_candidates(["c", "a", "b", "a"]) == [("a", "b"), ("a", "c"), ("b", "c")]
    big = [f"d{i:03d}" for i in range(100)]
    star = bucket_candidates(big)
    assert len(star) == 99 and all(p[0] == "d000" for p in star)


def test_chain_is_one_component():
    labels = components([("A", "B"), ("B", "C"), ("X", "Y")])
    assert labels == {"A": "A", "B": "A", "C": "A", "X": "X", "Y": "X"}


@pytest.mark.parametrize("seed", range(5))
def test_components_match_union_find_on_random_graphs(seed):
    rng = random.Random(seed)
    nodes = list(range(300))
    edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(250)]
    edges += [(i, i + 1) for i in range(100, 160)]      # a long path
    labels = components(edges)
    truth = _union_find([e for e in edges if e[0] != e[1]], nodes)
    for n, lab in labels.items():
        assert lab == truth[n]


def test_labels_from_stars():
    assert labels_from_stars([(3, 1), (2, 1), (9, 5)]) == {1: 1, 2: 1, 3: 1, 5: 5, 9: 5}


def test_exact_verification_on_shingle_sets():
    from dedup.lsh import intersection_size

    small = " ".join(f"s{i}" for i in range(3000))
    big = small + " " + " ".join(f"t{i}" for i in range(6000))
    a, b = np.unique(shingle_hashes(small)), np.unique(shingle_hashes(big))
    assert intersection_size(a, b) == intersection_size(b, a) == len(set(a.tolist()) & set(b.tolist()))
    assert verified(a, b, 0.9, "book") and verified(b, a, 0.9, "book")   # the smaller set is inside the other
    assert not verified(a, b, 0.8)                                       # as documents (Jaccard ~1/3) they are not
    assert not verified(a, np.empty(0, np.uint32), 0.5, "book") and not verified(a[:0], a[:0], 0.5)


@pytest.mark.parametrize("seed", range(3))
def test_exact_jaccard_decides_at_the_threshold(seed):
    """Pairs a hair either side of 0.8 go the way their exact Jaccard says (the 128-permutation estimate
    would misjudge about a third of them)."""
    rng = np.random.default_rng(seed)
    for _ in range(50):
        a = np.unique(rng.integers(0, 2 ** 32, 400, dtype=np.uint64)).astype(np.uint32)
        keep = int(rng.integers(300, 400))
        b = np.unique(np.concatenate([a[:keep], rng.integers(0, 2 ** 32, a.size - keep, dtype=np.uint64)
                                      .astype(np.uint32)]))
        shared = len(set(a.tolist()) & set(b.tolist()))
        exact = shared / (a.size + b.size - shared)
        assert verified(a, b, 0.8) == (exact >= 0.8)


def test_shared_counts_in_c_equal_numpy_and_python_sets_for_skewed_and_empty_sets():
    """The C merge (and its galloping search when one set is 16x the other) counts what set intersection does."""
    from dedup.lsh import _intersections, passes, shared_counts

    assert _intersections is not None, "the C extension is built by make (setup.py)"
    rng = np.random.default_rng(7)
    sets = [np.unique(rng.integers(0, 5000, int(rng.integers(0, 700)))).astype(np.uint32) for _ in range(40)]
    sets += [np.empty(0, np.uint32), np.arange(0, 5000, 3, dtype=np.uint32), np.array([4, 4999], np.uint32),
             np.array([2 ** 32 - 1], np.uint32), np.arange(2 ** 32 - 40, 2 ** 32, dtype=np.uint64).astype(np.uint32)]
    values = np.concatenate(sets)
    offsets = np.concatenate([[0], np.cumsum([s.size for s in sets])])
    pairs = np.array([(i, j) for i in range(len(sets)) for j in range(len(sets))])
    want = [len(set(sets[i].tolist()) & set(sets[j].tolist())) for i, j in pairs.tolist()]
    assert shared_counts(values, offsets, pairs).tolist() == want
    assert shared_counts(values, offsets, pairs, native=False).tolist() == want
    sizes = np.array([s.size for s in sets])
    kept = passes(np.array(want), sizes[pairs[:, 0]], sizes[pairs[:, 1]], 0.3)
    assert kept.tolist() == [verified(sets[i], sets[j], 0.3) for i, j in pairs.tolist()]
    with pytest.raises(ValueError, match="pair index 45 outside the 45 sets"):
        shared_counts(values, offsets, np.array([[0, 45]]))
    with pytest.raises(ValueError, match="offsets of set 1"):
        shared_counts(values, np.array([0, 5, 2]), np.array([[0, 1]]))
