"""The byte-level CCNet normalisation equals the plain implementation it replaced, on every code point
and on arbitrary Unicode (the reference below is that implementation, kept as written before)."""
from __future__ import annotations

import contextlib
import re
import sys
import unicodedata

import pytest
from hypothesis import given, settings, strategies as st

import corpus.normalize as normalize_module
from corpus.normalize import UNICODE_PUNCT, normalize, normalize_lines_for_dedup, strip_accents

# Both edit paths: corpus/_normalize.c and the regex fallback used where it is not built.
PATHS = pytest.mark.parametrize("native", [True, False], ids=["c", "regex"])


@contextlib.contextmanager
def edit_path(native: bool):
    """Run with the C edit (when built; test_c_edit_is_built says whether) or the regex fallback."""
    saved = normalize_module._edit
    normalize_module._edit = saved if native else None
    try:
        yield
    finally:
        normalize_module._edit = saved

_CONTROL_CHARS = "".join(chr(c) for c in [*range(0, 32), *range(127, 160)])
_PUNCT_CLASS = "".join(re.escape(c) for c in UNICODE_PUNCT)
_DIGIT_RE = re.compile(r"\d")
_CONTROL_RE = re.compile(f"[{re.escape(_CONTROL_CHARS)}]")
_PUNCT_OR_CONTROL_BUT_NEWLINE_RE = re.compile(f"[{_PUNCT_CLASS}{re.escape(_CONTROL_CHARS.replace(chr(10), ''))}]")
_PUNCT_RE = re.compile(f"[{_PUNCT_CLASS}]")


def ref_strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def ref_normalize(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = ref_strip_accents(text.lower())
    text = _DIGIT_RE.sub("0", text)
    text = _PUNCT_RE.sub(lambda m: UNICODE_PUNCT[m.group()], text)
    return _CONTROL_RE.sub("", text)


def ref_normalize_lines_for_dedup(lines: list[str]) -> list[str]:
    if not lines:
        return []
    joined = "\n".join(line.strip() for line in lines).lower()
    return _PUNCT_OR_CONTROL_BUT_NEWLINE_RE.sub("", _DIGIT_RE.sub("0", joined)).split("\n")


ANY_CHAR = st.characters(blacklist_categories=())        # surrogates and controls included
SPECIAL = st.sampled_from(["É", "é", "ñ", "１", "٣", "𝟘", "\x85", "\x7f", "\t", "’", "—", "…", "«", "ǅ", "İ",
                           "ﬃ", "\u0301", "\u20dd", "\U000e0100", "\ud800", "ß", " ", "\u3000", "Ⅻ", "²"])
TEXT = st.text(alphabet=st.one_of(ANY_CHAR, SPECIAL), max_size=60)


def test_c_edit_is_built():
    assert normalize_module._edit is not None, "corpus/_normalize.c was not compiled: reinstall with pip install -e ."


@PATHS
def test_every_code_point_matches_the_reference(native):
    """Each code point alone, and between letters, through both flavours and strip_accents."""
    with edit_path(native):
        _every_code_point()


def _every_code_point():
    for start in range(0, sys.maxunicode + 1, 4096):
        chars = [chr(cp) for cp in range(start, min(start + 4096, sys.maxunicode + 1))]
        text = "a".join(chars)
        assert strip_accents(text) == ref_strip_accents(text), hex(start)
        assert normalize(text) == ref_normalize(text), hex(start)
        lines = [f"x{c}y" for c in chars if c != "\n"]
        assert normalize_lines_for_dedup(lines) == ref_normalize_lines_for_dedup(lines), hex(start)


def test_digit_rule_is_isdecimal():
    """The byte tables take `\\d` to be str.isdecimal below U+20000 and nothing above."""
    for cp in range(sys.maxunicode + 1):
        assert bool(_DIGIT_RE.match(chr(cp))) == (chr(cp).isdecimal() and cp < 0x20000), hex(cp)


@PATHS
@settings(max_examples=400, deadline=None)
@given(text=TEXT)
def test_normalize_equals_reference(native, text):
    with edit_path(native):
        assert normalize(text) == ref_normalize(text)
        assert strip_accents(text) == ref_strip_accents(text)


@PATHS
@settings(max_examples=400, deadline=None)
@given(lines=st.lists(TEXT.map(lambda t: t.replace("\n", "")), max_size=6))
def test_dedup_lines_equal_reference(native, lines):
    with edit_path(native):
        assert normalize_lines_for_dedup(lines) == ref_normalize_lines_for_dedup(lines)


def test_ascii_and_mixed_examples():
    assert normalize("  Prix: 1234 € — «offert»\x7f ") == 'prix: 0000 €  -  "offert"'
    assert normalize("Ünïcödé ５") == "unicode 0"
    assert normalize_lines_for_dedup(["Ａ１２ „x”", " 42\x1f "]) == ["ａ00 x", "00"]


def test_c_edit_rejects_invalid_utf8_and_malformed_tables():
    if normalize_module._edit is None:
        pytest.skip("corpus/_normalize.c not built")
    table = normalize_module._c_table("dedup")
    with pytest.raises(ValueError, match="invalid UTF-8 at byte 1"):
        normalize_module._edit(b"a\x80b", *table)
    with pytest.raises(ValueError, match="invalid UTF-8 at byte 0"):
        normalize_module._edit(b"\xe2\x80", *table)
    with pytest.raises(ValueError, match="malformed table"):
        normalize_module._edit(b"a", table[0][:100], *table[1:])
