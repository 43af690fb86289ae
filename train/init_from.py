"""`init_from`: start a new run from another checkpoint's weights (llamapipe import-hf's, or another run's).

The run begins at step 0 with a fresh optimizer and data sampler; only the model's weights are
loaded. The checkpoint must describe the same model (shape keys, vocabulary) and have been made
with the same tokenizer as the run's token shards: the same tokenizer.model bytes (sha256), or a
model with the same pieces in the same order.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

import torch

from train import checkpoint
from train.build import SHAPE_KEYS
from train.config import ConfigError, TrainConfig
from train.errors import CorruptCheckpoint
from train.ranks import agreed

TOKENIZER_FILE = "tokenizer.model"  # kept inside an imported checkpoint folder


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tokenizer_of(folder: Path, state: dict) -> tuple[Path, str]:
    """(tokenizer.model path, its recorded sha256) of a checkpoint: the copy an imported checkpoint
    holds, else the tokenizer named by the mixture.json of the run's token folder."""
    if isinstance(state.get("tokenizer"), dict):
        info = state["tokenizer"]
        return folder / info.get("file", TOKENIZER_FILE), info.get("sha256", "")
    from tokenizer.shards import ShardError, read_mixture_json

    tokens = state["config"].get("tokens", "")
    try:
        info = read_mixture_json(tokens)["tokenizer"]
    except ShardError as exc:
        raise FileNotFoundError(f"cannot find the tokenizer of checkpoint {folder}: {exc}") from None
    return Path(info["path"]), info["sha256"]


def check_tokenizer_file(path: Path, sha256: str, what: str) -> None:
    """FileNotFoundError or ConfigError naming `path` when it is missing or not the file recorded."""
    if not path.is_file():
        raise FileNotFoundError(f"the tokenizer of {what} ({path}) does not exist")
    if sha256 and sha256_file(path) != sha256:
        raise ConfigError(f"the tokenizer of {what} ({path}) has changed since: its sha256 is not the "
                          f"recorded {sha256}")


def same_vocabulary(a: Path, b: Path) -> bool:
    """Whether two SentencePiece models have the same pieces with the same ids."""
    import sentencepiece as spm

    x, y = spm.SentencePieceProcessor(model_file=str(a)), spm.SentencePieceProcessor(model_file=str(b))
    n = x.get_piece_size()
    return n == y.get_piece_size() and all(x.id_to_piece(i) == y.id_to_piece(i) for i in range(n))


def _check_compatible(cfg: TrainConfig, folder: Path, state: dict, mixture: dict) -> None:
    """Refuse an init_from checkpoint of another model shape or another tokenizer, naming the keys or files."""
    saved = state["config"]
    keys = ("model",) + SHAPE_KEYS
    if any(saved.get(k) != getattr(cfg, k) for k in keys):
        want = " ".join(f"{k}={saved.get(k)}" for k in keys if saved.get(k) is not None)
        raise ConfigError(f"config key 'init_from': {folder} holds another model; set these keys as it has them: {want}")
    path, sha256 = tokenizer_of(folder, state)
    check_tokenizer_file(path, sha256, f"init_from checkpoint {folder}")
    ours = mixture["tokenizer"]
    if sha256 == ours["sha256"]:
        return
    if not Path(ours["path"]).is_file() or not same_vocabulary(path, Path(ours["path"])):
        raise ConfigError(f"config key 'init_from': {folder} was made with tokenizer {path} (sha256 {sha256[:12]}…) "
                          f"but {cfg.tokens} was tokenized with {ours['path']} (sha256 {ours['sha256'][:12]}…), "
                          f"whose vocabulary differs")


def load_initial_weights(cfg: TrainConfig, model: torch.nn.Module, mixture: dict) -> Optional[Path]:
    """Load init_from's weights into `model` collectively (all ranks); the folder, or None without init_from."""
    if not cfg.init_from:
        return None
    folder = Path(cfg.init_from)
    if not (folder / checkpoint.TRAINER_FILE).is_file():
        raise ConfigError(f"config key 'init_from': {folder} is not a checkpoint folder (no {checkpoint.TRAINER_FILE})")
    state = agreed(lambda: checkpoint.read_state(folder), CorruptCheckpoint)
    agreed(lambda: _check_compatible(cfg, folder, state, mixture), ConfigError, FileNotFoundError)
    agreed(lambda: checkpoint.load(folder, model, None), CorruptCheckpoint)
    return folder
