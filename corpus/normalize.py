"""CCNet's text normalisation rules, shared by line dedup and perplexity scoring.

Two flavours, as cc_net/text_normalizer.py defines them:
- `normalize_for_dedup`: strip, lowercase, every digit to 0, Unicode punctuation (the
  fixed CCNet list) and control characters removed; ASCII punctuation and accents kept.
- `normalize`: the perplexity flavour: strip, lowercase, accents stripped, digits to 0,
  Unicode punctuation mapped to ASCII, control characters (newlines too) removed.

The fast forms avoid per-character Python work: ASCII text goes through one `str.translate`
(CPython's ASCII fast path); other text is edited as UTF-8 bytes in one C pass (corpus/_normalize.c)
that replaces or deletes every character of the flavour's table. Without the extension the same
edit runs as `bytes.translate` for ASCII digits and controls plus a regex over the UTF-8 encodings
of the non-ASCII characters to change, built as a byte trie.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Callable, Optional

import numpy as np

try:
    from corpus._normalize import edit as _edit
except ImportError:  # built by `pip install`; the regex path gives the same text
    _edit = None

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
_PUNCT_OR_CONTROL_RE = re.compile(f"[{_UNICODE_PUNCT_CLASS}{re.escape(_CONTROL_CHARS)}]")
# Every Mn code point lies in these ranges (none below U+0300, none in the CJK/private planes).
_MN_BLOCKS = (range(0x300, 0x20000), range(0xE0000, 0xE1000))
# Every decimal digit (what `\d` matches) lies below U+20000.
_ND_BLOCK = range(0x80, 0x20000)
_ASCII_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0000000000")
_ASCII_CONTROLS = bytes([*range(0, 32), 127])
_ASCII_CONTROLS_BUT_NEWLINE = _ASCII_CONTROLS.replace(b"\n", b"")
_ASCII_DEDUP = {**{cp: "0" for cp in range(48, 58)}, **{cp: None for cp in _ASCII_CONTROLS_BUT_NEWLINE}}
_ASCII_PERPLEXITY = {**{cp: "0" for cp in range(48, 58)}, **{cp: None for cp in _ASCII_CONTROLS}}

Editor = tuple[re.Pattern, Callable[[re.Match], bytes]]
_NONSPACING_MARKS: Optional[dict[int, None]] = None
_BUILT: dict[str, object] = {}


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
    return normalize_joined_for_dedup(lines).decode("utf-8", "surrogatepass").split("\n")


def normalize_joined_for_dedup(lines: list[str]) -> bytes:
    """UTF-8 of the newline-joined `normalize_for_dedup` forms of `lines`, never building a string per line
    (what line hashing and exact keys consume)."""
    joined = "\n".join(map(str.strip, lines)).lower()
    if joined.isascii():
        return joined.translate(_ASCII_DEDUP).encode("ascii")
    return _edit_utf8(joined.encode("utf-8", "surrogatepass"), "dedup")


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
    data = unicodedata.normalize("NFD", text).encode("utf-8", "surrogatepass")
    return _marks().sub(b"", data).decode("utf-8", "surrogatepass")


def normalize(text: str) -> str:
    """CCNet's normalisation before SentencePiece + KenLM scoring (also used to train them)."""
    text = text.strip()
    if not text:
        return text
    text = text.lower()
    if text.isascii():
        return text.translate(_ASCII_PERPLEXITY)
    data = unicodedata.normalize("NFD", text).encode("utf-8", "surrogatepass")
    return _edit_utf8(data, "perplexity").decode("utf-8", "surrogatepass")


def _edit_utf8(data: bytes, flavour: str) -> bytes:
    """The flavour's character edits on lowercased UTF-8 (NFD for perplexity): ASCII digits to 0 and
    controls removed (dedup keeps newlines), then the non-ASCII changes; perplexity also drops nonspacing marks."""
    if _edit is not None:
        return _edit(data, *_c_table(flavour))
    if flavour == "perplexity":
        data = _marks().sub(b"", data).translate(_ASCII_DIGITS_TO_ZERO, _ASCII_CONTROLS)
    else:
        data = data.translate(_ASCII_DIGITS_TO_ZERO, _ASCII_CONTROLS_BUT_NEWLINE)
    pattern, replace = _editor(flavour)
    return pattern.sub(replace, data)


def _c_table(flavour: str) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """corpus/_normalize.c's table of a flavour: (ascii map, code point bitmap, code points, offsets,
    replacements); built once each. One pass equals the sequential edits: no mark is a digit, a
    punctuation or a control character, and no replacement contains a character the table changes."""
    key = f"c-{flavour}"
    if key not in _BUILT:
        deleted = _ASCII_CONTROLS if flavour == "perplexity" else _ASCII_CONTROLS_BUT_NEWLINE
        ascii_map = bytes(range(128)).translate(_ASCII_DIGITS_TO_ZERO)
        ascii_map = bytes(0xFF if b in deleted else m for b, m in enumerate(ascii_map))
        punct = UNICODE_PUNCT if flavour == "perplexity" else dict.fromkeys(UNICODE_PUNCT, "")
        changes = {ord(c): r for c, r in _non_ascii_changes(punct).items()}
        if flavour == "perplexity":
            changes.update(dict.fromkeys(_nonspacing_marks(), ""))
        cps = np.array(sorted(changes), dtype="<u4")
        reps = [changes[c].encode("utf-8") for c in cps.tolist()]
        offsets = np.zeros(cps.size + 1, dtype="<u4")
        offsets[1:] = np.cumsum([len(r) for r in reps])
        present = np.zeros(0x110000, dtype=bool)
        present[cps] = True
        _BUILT[key] = (ascii_map, np.packbits(present, bitorder="little").tobytes(), cps.tobytes(),
                       offsets.tobytes(), b"".join(reps))
    return _BUILT[key]


def _utf8_trie(encodings: list[bytes]) -> bytes:
    """Regex source matching any of `encodings` (UTF-8 of distinct characters), branching on one byte
    at a time; UTF-8's lead byte fixes the length, so every branch ends in one byte class."""
    by_lead: dict[int, list[bytes]] = {}
    for e in encodings:
        by_lead.setdefault(e[0], []).append(e[1:])
    branches = []
    for lead, tails in sorted(by_lead.items()):
        head = re.escape(bytes([lead]))
        if tails == [b""]:
            branches.append(head)
        elif all(len(t) == 1 for t in tails):
            branches.append(head + b"[" + b"".join(re.escape(t) for t in sorted(tails)) + b"]")
        else:
            branches.append(head + b"(?:" + _utf8_trie(tails) + b")")
    return b"|".join(branches)


def _non_ascii_changes(punct: dict[str, str]) -> dict[str, str]:
    """Non-ASCII characters CCNet changes once accents are stripped, and into what: digits to 0 (the
    digit rule runs first), else `punct`'s replacement, else C1 control characters removed."""
    out = {chr(cp): "" for cp in range(0x80, 0xA0)}
    out.update((c, r) for c, r in punct.items() if not c.isascii())
    out.update((chr(cp), "0") for cp in _ND_BLOCK if chr(cp).isdecimal())
    return out


def _editor(flavour: str) -> Editor:
    """(bytes regex, replacement) of the non-ASCII characters a flavour changes; built once each."""
    if flavour not in _BUILT:
        punct = UNICODE_PUNCT if flavour == "perplexity" else dict.fromkeys(UNICODE_PUNCT, "")
        table = {c.encode("utf-8"): r.encode("utf-8") for c, r in _non_ascii_changes(punct).items()}
        _BUILT[flavour] = (re.compile(_utf8_trie(sorted(table))), lambda m: table[m.group()])
    return _BUILT[flavour]


def _marks() -> re.Pattern:
    """Bytes regex of every nonspacing mark's UTF-8 encoding; built once."""
    if "marks" not in _BUILT:
        _BUILT["marks"] = re.compile(_utf8_trie(sorted(chr(cp).encode("utf-8") for cp in _nonspacing_marks())))
    return _BUILT["marks"]
