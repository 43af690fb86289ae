"""CCNet's text normalisation rules, shared by line dedup and perplexity scoring.

Two flavours, as cc_net/text_normalizer.py defines them:
- `normalize_for_dedup`: strip, lowercase, every digit to 0, Unicode punctuation (the
  fixed CCNet list) and control characters removed; ASCII punctuation and accents kept.
- `normalize`: the perplexity flavour: strip, lowercase, accents stripped, digits to 0,
  Unicode punctuation mapped to ASCII, control characters (newlines too) removed.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

# CCNet's fixed table of Unicode punctuation and its ASCII replacement.
UNICODE_PUNCT: dict[str, str] = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"',
    "１": '"', "」": '"', "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":",
    "？": "?", "！": "!", "（": "(", "）": ")", "；": ";", "–": "-", "—": " - ", "．": ". ",
    "～": "~", "’": "'", "…": "...", "━": "-", "〈": "<", "〉": ">", "【": "[", "】": "]",
    "％": "%", "►": "-",
}
_CONTROL_CHARS = "".join(chr(c) for c in [*range(0, 32), *range(127, 160)])
_UNICODE_PUNCT_CLASS = "".join(re.escape(c) for c in UNICODE_PUNCT)
_DIGIT_RE = re.compile(r"\d")
_CONTROL_RE = re.compile(f"[{re.escape(_CONTROL_CHARS)}]")
_PUNCT_OR_CONTROL_RE = re.compile(f"[{_UNICODE_PUNCT_CLASS}{re.escape(_CONTROL_CHARS)}]")
_PUNCT_OR_CONTROL_BUT_NEWLINE_RE = re.compile(
    f"[{_UNICODE_PUNCT_CLASS}{re.escape(_CONTROL_CHARS.replace(chr(10), ''))}]")
_UNICODE_PUNCT_RE = re.compile(f"[{_UNICODE_PUNCT_CLASS}]")
_NONSPACING_MARKS: Optional[dict[int, None]] = None
# Every Mn code point lies in these ranges (none below U+0300, none in the CJK/private planes).
_MN_BLOCKS = (range(0x300, 0x20000), range(0xE0000, 0xE1000))


def normalize_for_dedup(line: str) -> str:
    """Key under which two lines count as the same line for CCNet line dedup."""
    line = line.strip()
    if not line:
        return line
    line = _DIGIT_RE.sub("0", line.lower())
    return _PUNCT_OR_CONTROL_RE.sub("", line)


def normalize_lines_for_dedup(lines: list[str]) -> list[str]:
    """`normalize_for_dedup` of each line, done on the joined text in a few C-level passes."""
    if not lines:
        return []
    joined = "\n".join(line.strip() for line in lines).lower()
    return _PUNCT_OR_CONTROL_BUT_NEWLINE_RE.sub("", _DIGIT_RE.sub("0", joined)).split("\n")


def _nonspacing_marks() -> dict[int, None]:
    """Translation table deleting every Unicode nonspacing mark (category Mn); built once."""
    global _NONSPACING_MARKS
    if _NONSPACING_MARKS is None:
        _NONSPACING_MARKS = {cp: None for block in _MN_BLOCKS for cp in block
                             if unicodedata.category(chr(cp)) == "Mn"}
    return _NONSPACING_MARKS


def strip_accents(text: str) -> str:
    """Remove combining marks after NFD decomposition (é -> e), as CCNet (no recomposition)."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFD", text).translate(_nonspacing_marks())


def _replace_punct(match: re.Match) -> str:
    return UNICODE_PUNCT[match.group()]


def normalize(text: str) -> str:
    """CCNet's normalisation before SentencePiece + KenLM scoring (also used to train them)."""
    text = text.strip()
    if not text:
        return text
    text = strip_accents(text.lower())
    text = _DIGIT_RE.sub("0", text)
    text = _UNICODE_PUNCT_RE.sub(_replace_punct, text)
    return _CONTROL_RE.sub("", text)
