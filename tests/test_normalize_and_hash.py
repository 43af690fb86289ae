"""CCNet normalisation and line hashing against hand-checked cases of cc_net's rules."""
import hashlib

import numpy as np
import pytest

from corpus.normalize import normalize, normalize_for_dedup
from dedup.lines import apply_line_dedup, decide_duplicates, first_occurrences, line_hash, line_hashes


@pytest.mark.parametrize("line, expected", [
    ("  Hello World  ", "hello world"),
    ("Version 2023.10 released", "version 0000.00 released"),
    ("０２３ | 456", "000 | 000"),                       # Unicode digits count as digits
    ("Hello, world! (ASCII) [kept]", "hello, world! (ascii) [kept]"),  # ASCII punctuation kept
    ("Café crème à l'été", "café crème à l'été"),       # accents kept for dedup
    ("Bonjour « monde »", "bonjour  monde "),           # Unicode punctuation removed
    ("続きを読む。「はい」、", "続きを読むはい"),        # CJK punctuation removed
    ("tab\there\x7fdel\x85nel", "tabheredelnel"),       # control characters removed
    ("   ", ""),
])
def test_normalize_for_dedup(line, expected):
    assert normalize_for_dedup(line) == expected


def test_normalize_for_perplexity():
    assert normalize("Élève 42 — «test»\n") == 'eleve 00  -  "test"'
    assert normalize("Line one\nLine two") == "line oneline two"   # CCNet joins lines (newline is a control char)
    assert normalize("¿Qué？ Sí！") == "¿que? si!"


def test_line_hash_is_first_8_bytes_of_sha1_little_endian():
    # sha1("hello world") = 2aae6c35c94fcfb4...; first 8 bytes read little-endian:
    assert line_hash("  Hello World  ") == 0xB4CF4FC9356CAE2A
    assert line_hash("") == int.from_bytes(hashlib.sha1(b"").digest()[:8], "little")
    arr = line_hashes(["Hello world", "x", "HELLO WORLD"])
    assert arr.dtype == np.uint64
    assert arr.tolist() == [0xB4CF4FC9356CAE2A, line_hash("x"), 0xB4CF4FC9356CAE2A]


def test_first_occurrences():
    assert first_occurrences(np.array([5, 3, 5, 7, 3], dtype=np.uint64)).tolist() == [True, True, False, True, False]


def test_decide_ccnet_removes_every_occurrence_of_shared_lines():
    keys = np.array([0, 0, 1, 1, 2], dtype=np.int64)
    hashes = np.array([10, 11, 10, 12, 13], dtype=np.uint64)
    assert decide_duplicates(keys, hashes, "ccnet").tolist() == [True, False, True, False, False]


def test_decide_keep_first_keeps_earliest_document():
    keys = np.array([5, 2, 9, 2], dtype=np.int64)
    hashes = np.array([10, 10, 10, 11], dtype=np.uint64)
    assert decide_duplicates(keys, hashes, "keep-first").tolist() == [True, False, True, False]


def test_decide_rejects_unknown_mode():
    with pytest.raises(ValueError, match="unknown line dedup mode"):
        decide_duplicates(np.zeros(1, np.int64), np.zeros(1, np.uint64), "fuzzy")


def test_apply_line_dedup_keeps_first_in_document_and_drops_global():
    lines = ["a", "b", "A", "c", "b"]
    hashes = line_hashes(lines)
    assert apply_line_dedup(lines, hashes, set()) == ["a", "b", "c"]
    assert apply_line_dedup(lines, hashes, {line_hash("c")}) == ["a", "b"]


def test_batched_dedup_normalisation_equals_per_line():
    from hypothesis import given, settings, strategies as text_st

    from corpus.normalize import normalize_lines_for_dedup

    tricky = ["  A\tB\r", "İstanbul 12", "« x »", "\x85 nel \x1c", "\u2028sep", "", "   ", "Ǆ", "ß ẞ"]
    assert normalize_lines_for_dedup(tricky) == [normalize_for_dedup(l) for l in tricky]

    @settings(max_examples=300, deadline=None)
    @given(text_st.lists(text_st.text(alphabet=text_st.characters(blacklist_characters="\n")), max_size=8))
    def check(lines):
        assert normalize_lines_for_dedup(lines) == [normalize_for_dedup(l) for l in lines]

    check()


def test_fast_strip_accents_equals_reference():
    import unicodedata

    from corpus.normalize import strip_accents

    for text in ["Élève à Noël", "ascii only", "Tiếng Việt", "한국어", "日本語のテキスト", "naïve café ǅ"]:
        ref = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        assert strip_accents(text) == ref


def test_nonspacing_mark_blocks_cover_all_of_unicode():
    import sys
    import unicodedata

    from corpus.normalize import _nonspacing_marks

    every = {cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Mn"}
    assert set(_nonspacing_marks()) == every
