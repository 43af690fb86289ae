"""dedup/_shingle.c's line hashing (SHA-NI where the CPU has it, else portable C) against hashlib."""
import hashlib
import random

from hypothesis import given, settings, strategies as st

from corpus.normalize import normalize_for_dedup, normalize_joined_for_dedup
from dedup import _shingle, lines


def _reference(buf: bytes) -> bytes:
    return b"".join(hashlib.sha1(line).digest()[:8] for line in buf.split(b"\n"))


def test_native_line_hasher_is_built():
    assert lines._sha1_lines is not None, "dedup/_shingle.c was not compiled: reinstall with pip install -e ."


def test_every_length_around_the_block_and_padding_boundaries():
    rng = random.Random(7)
    for n in [*range(0, 260), 1000, 4095, 4096, 65537]:
        line = bytes(rng.choice(b"abc\x00\xff \t\xc3\xa9") for _ in range(n))
        for accelerated in (True, False):
            assert _shingle.sha1_lines(line, accelerated) == hashlib.sha1(line).digest()[:8], (n, accelerated)


def test_many_lines_one_call():
    rng = random.Random(11)
    buf = b"\n".join(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200))).replace(b"\n", b"")
                     for _ in range(500))
    assert _shingle.sha1_lines(buf) == _reference(buf) == _shingle.sha1_lines(buf, False)
    assert _shingle.sha1_lines(b"") == hashlib.sha1(b"").digest()[:8]
    assert _shingle.sha1_lines(b"\n\n") == hashlib.sha1(b"").digest()[:8] * 3


LINE = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=120)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE, min_size=1, max_size=30))
def test_line_hashes_equal_hashlib_of_each_normalised_line(texts):
    expected = [int.from_bytes(hashlib.sha1(normalize_for_dedup(t).encode("utf-8")).digest()[:8], "little")
                for t in texts]
    assert lines.line_hashes(texts).tolist() == expected
    assert lines.line_hashes(texts, native=False).tolist() == expected
    assert normalize_joined_for_dedup(texts) == "\n".join(map(normalize_for_dedup, texts)).encode("utf-8")


def test_no_lines_no_hashes():
    assert lines.line_hashes([]).size == 0
