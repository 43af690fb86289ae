"""Checkpoints of a run: sharded model and optimizer plus the trainer's state, resumable on any number of ranks.

Model and optimizer go through torch.distributed.checkpoint (DCP), the trainer's own state
(step, data sampler, config) is JSON.

Layout: OUT/checkpoints/step-NNNNNNNN/ (DCP files + trainer.json). A checkpoint is written under
a temporary name and renamed when every rank has finished, so one that exists is complete. One
that was damaged afterwards (a truncated or missing file) is skipped on resume: the newest intact
one is loaded and the damaged ones are renamed to step-NNNNNNNN.corrupt, kept for inspection.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import warnings
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

from train.errors import CorruptCheckpoint
from train.ranks import agreed

TRAINER_FILE = "trainer.json"
_METADATA = ".metadata"
# One process without a process group is a normal way to run; DCP warns about it on every call.
warnings.filterwarnings("ignore", message="torch.distributed is disabled, unavailable or uninitialized")
_STEP_DIR = re.compile(r"^step-(\d{8})$")


def _is_main() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def _step_folders(out_dir: str | Path) -> list[Path]:
    """Every step-NNNNNNNN folder, oldest first, complete or not."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if _STEP_DIR.match(p.name) and p.is_dir())


def checkpoints(out_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    return [p for p in _step_folders(out_dir) if (p / TRAINER_FILE).is_file()]


def save(out_dir: str | Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         trainer_state: dict, keep: int) -> Path:
    """Save a checkpoint collectively (every rank calls this); returns its folder."""
    root = Path(out_dir) / "checkpoints"
    final = root / f"step-{step:08d}"
    tmp = root / f".step-{step:08d}.tmp"
    if _is_main():
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    model_sd, optim_sd = get_state_dict(model, optimizer)
    dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=str(tmp))
    _barrier()
    if _is_main():
        (tmp / TRAINER_FILE).write_text(json.dumps(trainer_state, indent=1, sort_keys=True) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in checkpoints(out_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    _barrier()
    return final


def read_state(folder: str | Path) -> dict:
    """A checkpoint's trainer.json; CorruptCheckpoint when it is unreadable or lacks the trainer's keys."""
    path = Path(folder) / TRAINER_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptCheckpoint(f"{path} is unreadable ({_one_line(exc)})") from None
    if not isinstance(state, dict) or not {"step", "sampler", "config"} <= state.keys() or not all(
            isinstance(state[k], dict) for k in ("sampler", "config")):
        raise CorruptCheckpoint(f"{path} lacks the trainer's keys (step, sampler, config)")
    return state


def _cause(exc: BaseException) -> BaseException:
    """The first rank's own error inside DCP's CheckpointException (its message is a traceback)."""
    if isinstance(exc, CheckpointException) and exc.failures:
        return next(iter(exc.failures.values()))[0]
    return exc


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__)[:300]


def load(folder: str | Path, model: torch.nn.Module, optimizer: Optional[torch.optim.Optimizer]) -> dict:
    """Load a checkpoint into model (and optimizer) in place, resharding as needed; returns trainer state.
    A checkpoint that cannot be read back raises CorruptCheckpoint naming it."""
    folder = Path(folder)
    if not (folder / TRAINER_FILE).is_file():
        raise FileNotFoundError(f"{folder} is not a complete checkpoint (no {TRAINER_FILE})")
    trainer_state = read_state(folder)
    if not (folder / _METADATA).is_file():
        raise CorruptCheckpoint(f"{folder} has no {_METADATA} (DCP's index of the saved tensors)")
    optimizers = [] if optimizer is None else optimizer  # no optimizer: the model's weights only
    model_sd, optim_sd = get_state_dict(model, optimizers)
    state = {"model": model_sd} if optimizer is None else {"model": model_sd, "optim": optim_sd}
    try:
        dcp.load(state, checkpoint_id=str(folder))
    except (Exception, CheckpointException) as exc:  # CheckpointException is a BaseException
        raise CorruptCheckpoint(f"{folder} cannot be read back: a file is damaged or missing "
                                f"({_one_line(_cause(exc))})") from None
    set_state_dict(model, optimizers, model_state_dict=state["model"], optim_state_dict=state.get("optim", {}))
    return trainer_state


def _set_aside(folder: Path) -> Path:
    """Rename a corrupt checkpoint out of the resume order (and out of keep_checkpoints' pruning)."""
    target = folder.with_name(f"{folder.name}.corrupt")
    n = 1
    while target.exists():
        n += 1
        target = folder.with_name(f"{folder.name}.corrupt{n}")
    os.replace(folder, target)
    return target


def resume(out_dir: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
           check: Callable[[Path, dict], None]) -> Optional[dict]:
    """Load the newest intact checkpoint collectively; its trainer state, or None when there is none.

    `check(folder, state)` refuses a checkpoint of another configuration (its error propagates).
    Corrupt newer checkpoints are named in a warning and set aside (renamed, never deleted); when
    no checkpoint is intact, CorruptCheckpoint names them all and nothing is renamed.
    """
    corrupt: list[tuple[Path, str]] = []
    for folder in reversed(_step_folders(out_dir)):
        try:
            state = agreed(lambda: read_state(folder), CorruptCheckpoint)
            check(folder, state)
            agreed(lambda: load(folder, model, optimizer), CorruptCheckpoint)
        except CorruptCheckpoint as exc:
            corrupt.append((folder, str(exc)))
            continue
        _report_fallback(corrupt, folder)
        return state
    if corrupt:
        raise CorruptCheckpoint(f"no intact checkpoint in {Path(out_dir) / 'checkpoints'}: "
                                + "; ".join(reason for _, reason in corrupt)
                                + ". Nothing was changed: move the damaged folders away to start afresh")
    return None


def _report_fallback(corrupt: list[tuple[Path, str]], resumed: Path) -> None:
    """Warn about each corrupt checkpoint newer than the one resumed from, and set it aside (rank 0)."""
    if corrupt and _is_main():
        for folder, reason in corrupt:
            kept = _set_aside(folder)
            print(f"train: warning: corrupt checkpoint: {reason}; resuming from {resumed.name} instead; "
                  f"the corrupt one is kept as {kept}", file=sys.stderr, flush=True)
    if corrupt:
        _barrier()
