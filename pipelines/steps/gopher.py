"""The Gopher (MassiveText, Rae et al. 2021, appendix A) quality and repetition rules as named steps (no Beam).

`Measure` writes every value a rule uses into meta["gopher"] (so a reviewer can re-check a threshold
from the output); then one Filter per rule, in the paper's order, drops the pages outside its bound
under `gopher:<rule>`. Thresholds are the paper's (SOURCES.md 2(a)). Words are whitespace-separated
tokens (as dolma's gopher tagger counts them; datatrove uses NLTK's word_tokenize instead). A duplicate
n-gram's characters are those of every occurrence after its first, each word counted once however many
duplicate n-grams cover it.
"""
from __future__ import annotations

import collections
import re
from typing import Callable

from corpus.counters import Counters
from pipelines.steps.chain import Batch, Filter, Step

STOP_WORDS = frozenset(("the", "be", "to", "of", "and", "that", "have", "with"))
BULLETS = ("\u2022", "\u2023", "\u25e6", "\u2043", "\u2219", "\u25cf", "\u25cb", "*", "-")
ELLIPSES = ("...", "\u2026")
PARAGRAPH_BREAK = re.compile(r"\n{2,}")
MIN_WORDS, MAX_WORDS = 50, 100_000
MIN_MEAN_WORD, MAX_MEAN_WORD = 3.0, 10.0
MAX_SYMBOL_RATIO = 0.1
MAX_BULLET_LINES, MAX_ELLIPSIS_LINES = 0.9, 0.3
MIN_ALPHA_WORDS = 0.8
MIN_STOP_WORDS = 2
MAX_DUP_LINES, MAX_DUP_PARAGRAPHS = 0.30, 0.30
MAX_DUP_LINE_CHARS, MAX_DUP_PARAGRAPH_CHARS = 0.20, 0.20
MAX_TOP_NGRAM = {2: 0.20, 3: 0.18, 4: 0.16}
MAX_DUP_NGRAM = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


def _duplicates(parts: list[str]) -> tuple[float, float]:
    """Fraction of the parts that repeat an earlier one, and of the characters in them."""
    seen: set[str] = set()
    dup = dup_chars = 0
    for part in parts:
        if part in seen:
            dup += 1
            dup_chars += len(part)
        seen.add(part)
    total_chars = sum(len(p) for p in parts)
    return (dup / len(parts) if parts else 0.0), (dup_chars / total_chars if total_chars else 0.0)


def _top_ngram(words: list[str], n: int, total_chars: int) -> float:
    """Characters of the most frequent n-gram (all its occurrences) over all word characters; 0 when no
    n-gram occurs twice."""
    counts = collections.Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    if not counts or not total_chars:
        return 0.0
    top = max(counts.items(), key=lambda kv: (kv[1], sum(len(w) for w in kv[0]), kv[0]))
    return top[1] * sum(len(w) for w in top[0]) / total_chars if top[1] > 1 else 0.0


def _dup_ngram(words: list[str], n: int, total_chars: int) -> float:
    """Characters of the words inside a repeated occurrence of some n-gram, over all word characters."""
    seen: set[tuple[str, ...]] = set()
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        gram = tuple(words[i:i + n])
        if gram in seen:
            for j in range(i, i + n):
                covered[j] = True
        seen.add(gram)
    return sum(len(w) for w, c in zip(words, covered) if c) / total_chars if total_chars else 0.0


def measure(text: str) -> dict[str, float]:
    """Every value the Gopher rules test, rounded to 4 decimals."""
    words = text.split()
    n = len(words)
    chars = sum(len(w) for w in words)
    stripped = [line.strip() for line in text.split("\n") if line.strip()]
    paragraphs = [p for p in PARAGRAPH_BREAK.split(text.strip()) if p]
    lower = [w.lower() for w in words]
    values = {
        "words": n,
        "mean_word_length": chars / n if n else 0.0,
        "hash_ratio": text.count("#") / n if n else 0.0,
        "ellipsis_ratio": sum(text.count(e) for e in ELLIPSES) / n if n else 0.0,
        "bullet_lines": sum(s.startswith(BULLETS) for s in stripped) / len(stripped) if stripped else 0.0,
        "ellipsis_lines": sum(s.endswith(ELLIPSES) for s in stripped) / len(stripped) if stripped else 0.0,
        "alpha_words": sum(any(c.isalpha() for c in w) for w in words) / n if n else 0.0,
        "stop_words": sum(w in STOP_WORDS for w in lower),
    }
    values["dup_lines"], values["dup_line_chars"] = _duplicates(stripped)
    values["dup_paragraphs"], values["dup_paragraph_chars"] = _duplicates(paragraphs)
    for k in MAX_TOP_NGRAM:
        values[f"top_{k}gram"] = _top_ngram(lower, k, chars)
    for k in MAX_DUP_NGRAM:
        values[f"dup_{k}gram"] = _dup_ngram(lower, k, chars)
    return {k: round(float(v), 4) if isinstance(v, float) else v for k, v in values.items()}


class Measure:
    """Writes measure(text) to meta["gopher"] of every page; drops nothing."""

    name = "gopher:measure"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        for doc in batch.docs:
            doc.meta["gopher"] = measure(doc.text)
        return batch


def _rule(name: str, ok: Callable[[dict], bool]) -> Filter:
    return Filter(f"gopher:{name}", lambda b: [ok(d.meta["gopher"]) for d in b.docs])


def recipe() -> list[Step]:
    """Measure, then the quality rules and the repetition rules in the paper's order."""
    steps: list[Step] = [
        Measure(),
        _rule("word_count", lambda g: MIN_WORDS <= g["words"] <= MAX_WORDS),
        _rule("mean_word_length", lambda g: MIN_MEAN_WORD <= g["mean_word_length"] <= MAX_MEAN_WORD),
        _rule("symbol_ratio",
              lambda g: g["hash_ratio"] <= MAX_SYMBOL_RATIO and g["ellipsis_ratio"] <= MAX_SYMBOL_RATIO),
        _rule("bullet_lines", lambda g: g["bullet_lines"] <= MAX_BULLET_LINES),
        _rule("ellipsis_lines", lambda g: g["ellipsis_lines"] <= MAX_ELLIPSIS_LINES),
        _rule("alpha_words", lambda g: g["alpha_words"] >= MIN_ALPHA_WORDS),
        _rule("stop_words", lambda g: g["stop_words"] >= MIN_STOP_WORDS),
        _rule("dup_lines", lambda g: g["dup_lines"] <= MAX_DUP_LINES),
        _rule("dup_paragraphs", lambda g: g["dup_paragraphs"] <= MAX_DUP_PARAGRAPHS),
        _rule("dup_line_chars", lambda g: g["dup_line_chars"] <= MAX_DUP_LINE_CHARS),
        _rule("dup_paragraph_chars", lambda g: g["dup_paragraph_chars"] <= MAX_DUP_PARAGRAPH_CHARS),
    ]
    for k, limit in MAX_TOP_NGRAM.items():
        steps.append(_rule(f"top_{k}gram", lambda g, k=k, limit=limit: g[f"top_{k}gram"] <= limit))
    for k, limit in MAX_DUP_NGRAM.items():
        steps.append(_rule(f"dup_{k}gram", lambda g, k=k, limit=limit: g[f"dup_{k}gram"] <= limit))
    return steps
