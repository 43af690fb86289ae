"""A training run's record, read back from OUT/log.jsonl and OUT/config.json (no torch needed).

Used by `llamapipe stats RUN_DIR` for a terminal summary and an HTML page of curves.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

LOG_FILE = "log.jsonl"
CONFIG_FILE = "config.json"


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / LOG_FILE).is_file() and (Path(path) / CONFIG_FILE).is_file()


def summarise_run(path: str | Path) -> dict:
    """Curves (loss, lr, tokens/s, MFU, held-out perplexity per source) and the latest state.

    A resumed run appends to the log; for a step logged twice (steps re-run after a kill) the
    later record wins.
    """
    folder = Path(path)
    config = json.loads((folder / CONFIG_FILE).read_text())
    train: dict[int, dict] = {}
    evals: dict[int, dict] = {}
    for n, line in enumerate((folder / LOG_FILE).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise ValueError(f"{folder / LOG_FILE}: line {n} is not JSON") from None
        if "eval_perplexity" in record:
            evals[record["step"]] = record["eval_perplexity"]
        elif "loss" in record:
            train[record["step"]] = record
    steps = sorted(train)
    sources = sorted({s for e in evals.values() for s in e})
    rates = [train[s]["tokens_per_s"] for s in steps[1:]] or [train[s]["tokens_per_s"] for s in steps]
    mfus = [train[s]["mfu"] for s in steps[1:] if "mfu" in train[s]]
    checkpoints = sorted(p.name for p in (folder / "checkpoints").glob("step-*")) if (folder / "checkpoints").is_dir() else []
    last = train[steps[-1]] if steps else {}
    return {
        "kind": "run", "path": str(folder), "config": config,
        "steps": steps,
        "loss": [train[s]["loss"] for s in steps],
        "lr": [train[s]["lr"] for s in steps],
        "tokens_per_s": [train[s]["tokens_per_s"] for s in steps],
        "mfu": [train[s].get("mfu") for s in steps],
        "eval": {src: [[s, evals[s][src]] for s in sorted(evals) if src in evals[s]] for src in sources},
        "last": last,
        "median_tokens_per_s": statistics.median(rates) if rates else None,
        "median_mfu": statistics.median(mfus) if mfus else None,
        "checkpoints": checkpoints,
    }
