"""SentencePiece + KenLM document perplexity, exactly as cc_net/perplexity.py computes it.

The whole document goes through CCNet's `normalize` (which also removes the newlines, so
the document is scored as one line), is cut into SentencePiece pieces, and KenLM scores
the space-joined pieces with sentence boundaries. perplexity = 10^(-log10 p / (pieces + 1)),
rounded to 0.1. Models use CCNet's names: MODELS/lm/<lang>.sp.model and <lang>.arpa.bin.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from corpus.normalize import normalize

# Whitespace that str.split() splits on, other than the space that joins the pieces: 28 characters,
# none above U+3000 (tests/test_perplexity_count.py checks every code point).
_OTHER_WHITESPACE = tuple(c for c in map(chr, range(0x3001)) if c.isspace() and c != " ")


def model_paths(models_dir: str | Path, lang: str) -> tuple[Path, Path]:
    """(SentencePiece model, KenLM binary) paths of a language in a CCNet models folder."""
    lm_dir = Path(models_dir) / "lm"
    return lm_dir / f"{lang}.sp.model", lm_dir / f"{lang}.arpa.bin"


def languages_with_models(models_dir: str | Path) -> list[str]:
    """Languages for which both model files exist, sorted."""
    lm_dir = Path(models_dir) / "lm"
    langs = [p.name[: -len(".sp.model")] for p in lm_dir.glob("*.sp.model")]
    return sorted(l for l in langs if (lm_dir / f"{l}.arpa.bin").exists())


def missing_model_files(models_dir: str | Path, langs: list[str]) -> list[Path]:
    """Model files that selected languages need and that do not exist."""
    return [p for lang in langs for p in model_paths(models_dir, lang) if not p.exists()]


def token_count(line: str, pieces: list[str]) -> int:
    """cc_net's length of a scored line, `len(line.split()) + 1`, for `line = " ".join(pieces)`: the piece
    count + 1 without splitting again, unless a piece is empty or holds whitespace (then it splits).

    With as many spaces as separators no piece holds a space, so an empty piece shows as a doubled,
    leading or trailing space; each other whitespace character is one C-level search.
    """
    n = len(pieces)
    if (line and line.count(" ") == n - 1 and "  " not in line and line[0] != " " and line[-1] != " "
            and not any(c in line for c in _OTHER_WHITESPACE)):
        return n + 1
    return len(line.split()) + 1


def perplexity_from_score(log10_score: float, length: int) -> float:
    """CCNet's pp(): 10^(-score / length), rounded to 0.1."""
    return round(10.0 ** (-log10_score / length), 1)


class PerplexityScorer:
    """Holds one language's SentencePiece and KenLM models, loaded once."""

    def __init__(self, sp_model: str | Path, lm_model: str | Path):
        import kenlm
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_model))
        self.lm = kenlm.Model(str(lm_model))

    def tokenize(self, text: str) -> list[str]:
        """CCNet-normalised text as SentencePiece pieces."""
        return self.sp.encode(normalize(text), out_type=str)

    def score(self, text: str) -> tuple[float, int]:
        """(log10 probability, token count) of a document; tokens = pieces + 1 (end of sentence)."""
        pieces = self.tokenize(text)
        line = " ".join(pieces)
        return self.lm.score(line), token_count(line, pieces)

    def perplexity(self, text: str) -> float:
        """Document perplexity rounded to 0.1."""
        log_score, length = self.score(text)
        return perplexity_from_score(log_score, length)

    def perplexities(self, texts: list[str]) -> list[float]:
        """`perplexity` of each text, the SentencePiece pass done in one batch call."""
        out = []
        score = self.lm.score
        for pieces in self.sp.encode([normalize(t) for t in texts], out_type=str):
            line = " ".join(pieces)
            out.append(perplexity_from_score(score(line), token_count(line, pieces)))
        return out


class MultiLanguageScorer:
    """Per-language scorers, loaded lazily on first use of each language (once per worker)."""

    def __init__(self, models_dir: Optional[str | Path], langs: Optional[list[str]] = None):
        """Languages: those with both model files in `models_dir` (none without it), within `langs`."""
        self.models_dir = Path(models_dir) if models_dir else None
        available = languages_with_models(self.models_dir) if self.models_dir else []
        self.langs = sorted(set(available) & set(langs)) if langs is not None else available
        self._scorers: dict[str, PerplexityScorer] = {}

    def has(self, lang: Optional[str]) -> bool:
        return lang in self.langs

    def scorer(self, lang: str) -> PerplexityScorer:
        """The language's scorer, loaded on first use."""
        if lang not in self._scorers:
            self._scorers[lang] = PerplexityScorer(*model_paths(self.models_dir, lang))
        return self._scorers[lang]

    def perplexity(self, lang: str, text: str) -> float:
        return self.scorer(lang).perplexity(text)

    def perplexities(self, lang: str, texts: list[str]) -> list[float]:
        return self.scorer(lang).perplexities(texts)
