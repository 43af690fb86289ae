"""Checkpoints with torch.distributed.checkpoint: sharded model and optimizer, resumable on any
number of ranks, plus the trainer's own state (step, data sampler, config) as JSON.

Layout: OUT/checkpoints/step-NNNNNNNN/ (DCP files + trainer.json). A checkpoint is written under
a temporary name and renamed when every rank has finished, so one that exists is complete.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Optional

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

TRAINER_FILE = "trainer.json"
# One process without a process group is a normal way to run; DCP warns about it on every call.
warnings.filterwarnings("ignore", message="torch.distributed is disabled, unavailable or uninitialized")
_STEP_DIR = re.compile(r"^step-(\d{8})$")


def _is_main() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def checkpoints(out_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if _STEP_DIR.match(p.name) and (p / TRAINER_FILE).is_file())


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


def load(folder: str | Path, model: torch.nn.Module, optimizer: Optional[torch.optim.Optimizer]) -> dict:
    """Load a checkpoint into model (and optimizer) in place, resharding as needed; returns trainer state."""
    folder = Path(folder)
    state_file = folder / TRAINER_FILE
    if not state_file.is_file():
        raise FileNotFoundError(f"{folder} is not a complete checkpoint (no {TRAINER_FILE})")
    optimizers = [] if optimizer is None else optimizer  # no optimizer: the model's weights only
    model_sd, optim_sd = get_state_dict(model, optimizers)
    state = {"model": model_sd} if optimizer is None else {"model": model_sd, "optim": optim_sd}
    dcp.load(state, checkpoint_id=str(folder))
    set_state_dict(model, optimizers, model_state_dict=state["model"], optim_state_dict=state.get("optim", {}))
    return json.loads(state_file.read_text())
