"""MinHash signatures equal datasketch's, element for element, on real text."""
import gzip
from pathlib import Path

import datasketch
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import minhash
from dedup.minhash import MinHasher, estimated_jaccard, sha1_hash32, shingle_hashes, shingles, tokens

REF = Path(__file__).parent / "data" / "reference"


def _docs(n: int = 40) -> list[str]:
    lines = gzip.open(REF / "en.txt.gz", "rt", encoding="utf-8").read().split("\n")
    docs = ["\n".join(lines[i:i + 30]) for i in range(0, 30 * n, 30)]
    return docs + ["", "one", "two words", "日本語のテキストです。漢字とかな", "Ünïcödé ÄÖÜ straße"]


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 7)])
def test_signatures_equal_datasketch(scheme, num_perm, seed):
    hasher = MinHasher(num_perm=num_perm, seed=seed, scheme=scheme)
    for text in _docs():
        ref = datasketch.MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
        for s in shingles(text, 5):
            ref.update(s)
        ours = hasher.text_signature(text, 5)
        assert ours.dtype == ref.hashvalues.dtype
        np.testing.assert_array_equal(ours, ref.hashvalues)


def test_long_document_is_chunked_correctly():
    text = " ".join(f"w{i}" for i in range(20000))
    hasher = MinHasher()
    ref = datasketch.MinHash(num_perm=128, seed=1)
    ref.update_batch(shingles(text))
    np.testing.assert_array_equal(hasher.text_signature(text), ref.hashvalues)


def test_jaccard_estimate_matches_datasketch():
    a, b = _docs(2)[:2]
    b = a.replace("the", "a", 3)
    hasher = MinHasher()
    ma, mb = datasketch.MinHash(), datasketch.MinHash()
    ma.update_batch(shingles(a))
    mb.update_batch(shingles(b))
    assert estimated_jaccard(hasher.text_signature(a), hasher.text_signature(b)) == ma.jaccard(mb)


def test_native_shingle_hasher_is_built():
    assert minhash._sha1_shingles is not None, "dedup/_shingle.c was not compiled: reinstall with pip install -e ."


@pytest.mark.parametrize("n", [1, 3, 5, 9])
def test_native_shingle_hashes_equal_hashlib(n):
    long_words = " ".join(("x" * k) for k in range(1, 140, 7))  # shingles over one and several SHA-1 blocks
    for text in _docs(10) + [long_words, "a b c d", "a b c d e", "a b c d e f", "\u00e9" * 60]:
        expected = sha1_hash32(shingles(text, n))
        np.testing.assert_array_equal(shingle_hashes(text, n), expected)
        np.testing.assert_array_equal(shingle_hashes(text, n, native=False), expected)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400), st.integers(1, 6))
def test_native_shingle_hashes_any_unicode(text, n):
    np.testing.assert_array_equal(shingle_hashes(text, n), sha1_hash32(shingles(text, n)))


def test_native_shingle_hasher_rejects_bad_n():
    with pytest.raises(ValueError, match="positive"):
        minhash._sha1_shingles(b"a b", 0)


def test_shingles_and_tokens():
    assert tokens("Hello  World\nfoo") == ["hello", "world", "foo"]
    assert tokens("日本 語x") == ["日", "本", "語", "x"]
    assert shingles("a b c", 5) == [b"a b c"]
    assert shingles("a b c d e f", 5) == [b"a b c d e", b"b c d e f"]
    assert shingles("", 5) == [] and shingles("   \n", 5) == []
    assert set(shingles("x x x x x x x", 5)) == {b"x x x x x"}


def test_bad_parameters():
    with pytest.raises(ValueError, match="unknown MinHash scheme"):
        MinHasher(scheme="affine16")
    with pytest.raises(ValueError, match="num_perm"):
        MinHasher(num_perm=0)
