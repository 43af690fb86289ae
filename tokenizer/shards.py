"""Token shards (DESIGN.md): `part-NNNNN.bin` holds BOS + tokens + EOS of each document,
concatenated, little-endian uint16 (vocabulary <= 65536) or uint32; `part-NNNNN.idx` holds the
int64 start offset of every document plus the total length, so document i is bin[idx[i]:idx[i+1]].
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Optional, Union

import numpy as np

from corpus.histogram import log10_histogram
from corpus.integrity import IncompleteInput, check_complete

MIXTURE_FILE = "mixture.json"
FORMAT = "llamapipe-tokens/1"
_CHUNK = 8 << 20  # bytes read at a time when verifying; a multiple of every token size


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


def check_token_ids(top: int, vocab_size: int, bin_path: Union[str, Path]) -> None:
    """Refuse a token id outside the vocabulary, naming the file: the embedding lookup would fail
    with a bare IndexError (or, on a GPU, a device-side assert) deep inside training."""
    if top >= vocab_size:
        raise ShardError(f"{bin_path}: token id {top} is outside the vocabulary of {vocab_size} (mixture.json "
                         f"tokenizer.vocab_size); the shards were made with another tokenizer or are damaged")


def _digest_and_max(path: Path, dtype: Optional[np.dtype]) -> tuple[str, int]:
    """(sha256, largest token id or -1) of a file in one read; the id only when `dtype` is given."""
    h, top = hashlib.sha256(), -1
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
            if dtype is not None and len(block) >= dtype.itemsize:
                top = max(top, int(np.frombuffer(block, dtype, len(block) // dtype.itemsize).max()))
    return h.hexdigest(), top


def _check_listed(folder: Path, mixture: dict, listed: Optional[set[str]]) -> None:
    """Every .bin/.idx that mixture.json names must be a file the manifest lists (read nothing else)."""
    if listed is None:
        return
    for name, src in mixture["sources"].items():
        for f in src["files"]:
            for key in ("bin", "idx"):
                if f[key] not in listed:
                    raise IncompleteInput(f"tokens {folder}: mixture.json lists {folder / f[key]} (source {name}) "
                                          f"but _manifest.json does not")


def check_token_folder(folder: Union[str, Path], allow_incomplete: bool = False, sha256: bool = True,
                       part: tuple[int, int] = (0, 1)) -> dict:
    """Refuse a TOKENS folder that is unfinished or altered before training reads it; returns mixture.json.

    Always (cheap): `_SUCCESS` (unless `allow_incomplete`), every manifest file present with its
    size, mixture.json's per-source totals equal to the sums over its files, and every file it
    names listed in the manifest. With `sha256`: the digest of every manifest file and the token
    ids of every .bin (below the vocabulary), in one read per file; `part` = (rank, world) checks
    only files i with i % world == rank, so ranks share the reading. Raises IncompleteInput or
    ShardError naming the file (or the source).
    """
    folder = Path(folder)
    checked = check_complete(str(folder), allow_incomplete=allow_incomplete, what="tokens")
    mixture = read_mixture_json(folder)
    listed = None if checked.entries is None else {e["path"] for e in checked.entries}
    _check_listed(folder, mixture, listed)
    if not sha256:
        return mixture
    dtype, vocab = np.dtype(mixture["dtype"]), mixture["tokenizer"]["vocab_size"]
    entries = checked.entries if checked.entries is not None else [
        {"path": f["bin"]} for src in mixture["sources"].values() for f in src["files"]]
    rank, world = part
    for i, entry in enumerate(sorted(entries, key=lambda e: e["path"])):
        if i % world != rank:
            continue
        path = folder / entry["path"]
        digest, top = _digest_and_max(path, dtype if entry["path"].endswith(".bin") else None)
        if entry.get("sha256") and digest != entry["sha256"]:
            raise IncompleteInput(f"tokens {folder}: {path} does not match its sha256 in _manifest.json "
                                  f"(changed since it was written)")
        check_token_ids(top, vocab, path)
    return mixture


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
