"""The config of `llamapipe tokenize`: everything that decides the token shards (no Beam)."""
from __future__ import annotations

import dataclasses
from typing import Optional

from corpus.mixture import Mixture
from pipelines.steps import checks


@dataclasses.dataclass(frozen=True)
class TokenizeConfig:
    """Everything that decides a tokenize run's output.

    `units` are (source, part index, Parquet path) from `plan_units`; `mixture` is already
    restricted to the sources, and `warnings` say what restricting it changed.
    """

    units: tuple[tuple[str, int, str], ...]
    out: str
    tokenizer: str
    mixture: Mixture
    warnings: tuple[str, ...] = ()
    buckets: Optional[frozenset[str]] = None
    threads: int = 1
    token_budget: Optional[int] = None

    def __post_init__(self):
        checks.at_least("--encode-threads", self.threads, 1)
        if self.token_budget is not None:
            checks.at_least("--token-budget", self.token_budget, 1)

    def run_info(self) -> dict:
        """The run section of `_stats.json`."""
        return {"files": len(self.units), "tokenizer": self.tokenizer, "mixture": self.mixture.path,
                "buckets": sorted(self.buckets) if self.buckets else None, "token_budget": self.token_budget}

    def sources(self) -> list[str]:
        return sorted({source for source, _, _ in self.units})
