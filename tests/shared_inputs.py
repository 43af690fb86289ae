"""Helpers several test files share: the reference text's lines, and benchmark scripts imported as they run."""
from __future__ import annotations

import gzip
import importlib
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
REFERENCE = Path(__file__).parent / "data" / "reference"


def reference_lines(per_language: int, langs: tuple[str, ...] = ("en", "fr", "de")) -> list[str]:
    """The first `per_language` lines of each language's real reference text (tests/data/reference)."""
    lines = []
    for lang in langs:
        with gzip.open(REFERENCE / f"{lang}.txt.gz", "rt", encoding="utf-8") as f:
            lines += [line.rstrip("\n") for _, line in zip(range(per_language), f)]
    return lines


def benchmark_modules(*names: str) -> tuple[ModuleType, ...]:
    """benchmarks/<name>.py imported as the script runs (benchmarks/ first on sys.path, for their own imports)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        return tuple(importlib.import_module(name) for name in names)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
