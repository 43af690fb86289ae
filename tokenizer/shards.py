"""Token shards (DESIGN.md): `part-NNNNN.bin` holds BOS + tokens + EOS of each document,
concatenated, little-endian uint16 (vocabulary <= 65536) or uint32; `part-NNNNN.idx` holds the
int64 start offset of every document plus the total length, so document i is bin[idx[i]:idx[i+1]].
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Union

import numpy as np

from corpus.histogram import log10_histogram

MIXTURE_FILE = "mixture.json"
FORMAT = "llamapipe-tokens/1"


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


def part_stem(index: int) -> str:
    return f"part-{index:05d}"


def shard_bytes(tokens: np.ndarray, offsets: np.ndarray, dtype: np.dtype) -> tuple[bytes, bytes]:
    """(.bin bytes, .idx bytes) of packed documents."""
    return tokens.astype(dtype, copy=False).tobytes(), offsets.astype("<i8", copy=False).tobytes()


class ShardError(ValueError):
    """A token shard that does not match its index or its mixture.json entry; names the file."""


@dataclasses.dataclass
class TokenShard:
    """One .bin/.idx pair opened read-only (memory-mapped)."""

    tokens: np.ndarray
    offsets: np.ndarray
    bin_path: str

    @property
    def documents(self) -> int:
        return len(self.offsets) - 1

    def document(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]


def open_shard(bin_path: Union[str, Path], dtype: Union[str, np.dtype]) -> TokenShard:
    """Memory-map a shard and check that its index and its length agree."""
    bin_path = Path(bin_path)
    idx_path = bin_path.with_suffix(".idx")
    dtype = np.dtype(dtype)
    for p in (bin_path, idx_path):
        if not p.is_file():
            raise ShardError(f"token shard file {p} is missing")
    size = bin_path.stat().st_size
    if size % dtype.itemsize:
        raise ShardError(f"{bin_path}: {size} bytes is not a whole number of {dtype.name} tokens (truncated?)")
    if idx_path.stat().st_size % 8 or idx_path.stat().st_size < 8:
        raise ShardError(f"{idx_path}: not an int64 offset index (truncated?)")
    offsets = np.fromfile(idx_path, dtype="<i8")
    n_tokens = size // dtype.itemsize
    if offsets[0] != 0 or offsets[-1] != n_tokens or np.any(np.diff(offsets) < 0):
        raise ShardError(f"{idx_path}: offsets end at {int(offsets[-1])} but {bin_path.name} holds {n_tokens} "
                         f"tokens (truncated or mismatched files)")
    tokens = np.memmap(bin_path, dtype=dtype, mode="r") if n_tokens else np.empty(0, dtype=dtype)
    return TokenShard(tokens, offsets, str(bin_path))


def read_mixture_json(folder: Union[str, Path]) -> dict:
    """Load TOKENS/mixture.json; a clear error when it is missing or not ours."""
    path = Path(folder) / MIXTURE_FILE
    if not path.is_file():
        raise ShardError(f"{path} does not exist: is {folder} the output of `llamapipe tokenize`?")
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("format") != FORMAT:
        raise ShardError(f"{path}: format {doc.get('format')!r}, expected {FORMAT!r}")
    check_mixture_totals(doc, path)
    return doc


def check_mixture_totals(doc: dict, path: Union[str, Path]) -> None:
    """Each source's documents and tokens must be the sums over its files: an edited mixture.json
    (a hand-changed total) is refused, naming the source."""
    for name, src in doc.get("sources", {}).items():
        for key in ("documents", "tokens"):
            total = sum(f.get(key, 0) for f in src.get("files", []))
            if src.get(key) != total:
                raise ShardError(f"{path}: source {name} says {key} = {src.get(key)} but its files hold {total} "
                                 f"(mixture.json was edited or is damaged; rerun `llamapipe tokenize`)")


def verify_shards(folder: Union[str, Path], mixture: dict | None = None) -> None:
    """Check every shard listed in mixture.json exists and holds the tokens and documents it says."""
    folder = Path(folder)
    mixture = mixture or read_mixture_json(folder)
    for name, src in mixture["sources"].items():
        for f in src["files"]:
            open_listed_shard(folder, f, mixture["dtype"])


def open_listed_shard(folder: Path, entry: dict, dtype: str) -> TokenShard:
    """Open a shard that mixture.json lists and check it holds the tokens and documents listed."""
    shard = open_shard(folder / entry["bin"], dtype)
    if len(shard.tokens) != entry["tokens"] or shard.documents != entry["documents"]:
        raise ShardError(f"{folder / entry['bin']}: holds {len(shard.tokens)} tokens in {shard.documents} "
                         f"documents; mixture.json says {entry['tokens']} in {entry['documents']}")
    return shard


def summarise_tokens(folder: Union[str, Path]) -> dict:
    """Tokens and documents per source, configured vs realised mixture, epochs, and document
    lengths in tokens (from the .idx files; the token files are only checked, never read)."""
    folder = Path(folder)
    mixture = read_mixture_json(folder)
    sources = {}
    for name, src in sorted(mixture["sources"].items()):
        lengths = []
        for f in src["files"]:
            shard = open_listed_shard(folder, f, mixture["dtype"])
            lengths.append(np.diff(shard.offsets))
        doc_tokens = np.concatenate(lengths) if lengths else np.empty(0, np.int64)
        sources[name] = {k: src[k] for k in ("documents", "tokens", "proportion", "epochs", "required_epochs",
                                              "epochs_used", "supplied_tokens", "realised_share")}
        sources[name]["files"] = len(src["files"])
        sources[name]["mean_doc_tokens"] = round(float(doc_tokens.mean()), 1) if doc_tokens.size else 0.0
        sources[name]["median_doc_tokens"] = float(np.median(doc_tokens)) if doc_tokens.size else 0.0
        sources[name]["doc_tokens_histogram_log10"] = log10_histogram(doc_tokens)
    return {"kind": "tokens", "path": str(folder), "tokenizer": mixture["tokenizer"], "dtype": mixture["dtype"],
            "token_budget": mixture["token_budget"], "total_tokens": mixture["total_tokens"],
            "documents": sum(s["documents"] for s in sources.values()),
            "tokens": sum(s["tokens"] for s in sources.values()),
            "sources": sources, "warnings": mixture.get("warnings", [])}
