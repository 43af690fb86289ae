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
_PUNCT_TABLE = str.maketrans(UNICODE_PUNCT)


def normalize_for_dedup(line: str) -> str:
    """Key under which two lines count as the same line for CCNet line dedup."""
    line = line.strip()
    if not line:
        return line
    line = _DIGIT_RE.sub("0", line.lower())
    return _PUNCT_OR_CONTROL_RE.sub("", line)


def strip_accents(text: str) -> str:
    """Remove combining marks after NFD decomposition (é -> e)."""
    nfd = unicodedata.normalize("NFD", text)
    return "".join(c for c in nfd if unicodedata.category(c) != "Mn")


def normalize(text: str) -> str:
    """CCNet's normalisation before SentencePiece + KenLM scoring (also used to train them)."""
    text = text.strip()
    if not text:
        return text
    text = strip_accents(text.lower())
    text = _DIGIT_RE.sub("0", text)
    text = text.translate(_PUNCT_TABLE)
    return _CONTROL_RE.sub("", text)
