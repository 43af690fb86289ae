"""The options of `llamapipe export-hf` and `import-hf`, light to import (no torch): the CLI reads its defaults here."""
from __future__ import annotations

import dataclasses
import re
from typing import Optional

DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}  # flag -> config.json torch_dtype
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


class ExportRefused(ValueError):
    """An export that cannot be made as asked; the message names the path or flag."""


class ImportRefused(ValueError):
    """A model folder that cannot become a llamapipe checkpoint; the message names the file and field."""


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """One export: which checkpoint, where to, in which dtype, the largest weights file."""

    checkpoint: str
    out: str
    dtype: str = "bf16"
    shard_size: int = 5 * 10**9
    overwrite: bool = False

    def __post_init__(self):
        if self.dtype not in DTYPE_NAMES:
            raise ExportRefused(f"--dtype must be one of {', '.join(DTYPE_NAMES)}, got {self.dtype!r}")
        if self.shard_size <= 0:
            raise ExportRefused(f"--shard-size must be positive, got {self.shard_size}")


def parse_size(text: str) -> int:
    """Bytes in '5GB', '500MB', '2GiB' or a plain number (decimal units, as transformers reads them)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise ExportRefused(f"--shard-size {text!r} is not a size such as 5GB, 500MB or 2GiB")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@dataclasses.dataclass(frozen=True)
class ImportConfig:
    """One import: the model folder, the run folder to create, the tokenizer (default: found beside the model)."""

    model: str
    out: str
    tokenizer: Optional[str] = None
    max_seq_len: int = 2048  # Meta's params.json does not say it
    overwrite: bool = False

    def __post_init__(self):
        if self.max_seq_len <= 0:
            raise ImportRefused(f"--max-seq-len must be positive, got {self.max_seq_len}")


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """One evaluation: the checkpoint, lm-eval task names and the folder of their YAMLs, how to run them."""

    checkpoint: str
    tasks: tuple[str, ...]
    include_path: str
    num_fewshot: Optional[int] = None
    limit: Optional[int] = None
    batch_size: int = 8
    device: str = "cpu"
    dtype: str = "fp32"
    log_samples: bool = False

    def __post_init__(self):
        if not self.tasks or not all(self.tasks):
            raise ExportRefused("--tasks must name at least one task, e.g. --tasks piqa_local,arc_easy_local")
        if self.dtype not in DTYPE_NAMES:
            raise ExportRefused(f"--dtype must be one of {', '.join(DTYPE_NAMES)}, got {self.dtype!r}")
        for flag, value in (("--num-fewshot", self.num_fewshot), ("--limit", self.limit)):
            if value is not None and value < 0:
                raise ExportRefused(f"{flag} must be >= 0, got {value}")
        if self.batch_size <= 0:
            raise ExportRefused(f"--batch-size must be positive, got {self.batch_size}")
