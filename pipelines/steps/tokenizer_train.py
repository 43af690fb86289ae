"""The config of `llamapipe tokenizer-train`: everything that decides the tokenizer (no Beam)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

from corpus.mixture import Mixture
from corpus.paths import is_url
from pipelines.steps import checks


@dataclasses.dataclass(frozen=True)
class TokenizerTrainConfig:
    """Everything that decides the tokenizer: corpus folders per source, the mixture they are sampled
    by (already restricted to those sources), the sample and the vocabulary."""

    corpus: tuple[tuple[str, tuple[str, ...]], ...]
    mixture: Mixture
    out: str
    vocab_size: int = 32000
    sample_docs: int = 200_000
    seed: int = 0
    threads: Optional[int] = None
    buckets: Optional[frozenset[str]] = None
    allow_incomplete: bool = False
    warnings: tuple[str, ...] = ()

    def __post_init__(self):
        checks.at_least("--vocab-size", self.vocab_size, 300)
        checks.at_least("--sample-docs", self.sample_docs, 1)
        if is_url(self.out):
            raise checks.ConfigError("--out must be a local path (copy the model to remote storage afterwards)")
        if Path(self.out).is_dir():
            raise checks.ConfigError(f"--out {self.out} is a folder; give the model file to write, "
                                     f"e.g. {self.out}/tok.model")


class TrainingFailed(ValueError):
    """SentencePiece could not train on the sample; the message says which flag to change."""
