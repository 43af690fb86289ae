"""A training run's record, OUT/log.jsonl and OUT/config.json: written by the trainer, read back here.

The trainer writes through `Logger` (rank 0: a line per interval to stdout, log.jsonl and, when
installed, TensorBoard). `llamapipe stats RUN_DIR` reads it back with `summarise_run` (no torch
needed) for a terminal summary and an HTML page of curves.
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

LOG_FILE = "log.jsonl"
CONFIG_FILE = "config.json"


class Logger:
    """Rank 0 writes config.json once, then a line per interval to stdout, log.jsonl and (when
    installed) TensorBoard; on other ranks (`enabled` false) every call does nothing."""

    def __init__(self, out_dir: Path, config: dict[str, Any], enabled: bool, tensorboard: bool):
        self.enabled = enabled
        self.jsonl = None
        self.tb = None
        if not enabled:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl = open(out_dir / LOG_FILE, "a", encoding="utf-8")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out_dir / "tensorboard"))
            except ImportError:
                print("tensorboard is not installed: TensorBoard logs skipped (pip install tensorboard)", file=sys.stderr)
        (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")

    def __enter__(self) -> Logger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log(self, record: dict, text: str) -> None:
        """Print `text` and append `record` (which has a "step") to log.jsonl and TensorBoard."""
        if not self.enabled:
            return
        print(text, flush=True)
        self.jsonl.write(json.dumps(record, sort_keys=True) + "\n")
        self.jsonl.flush()
        if self.tb:
            step = record["step"]
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "step":
                    self.tb.add_scalar(f"train/{key}", value, step)
            for source, value in record.get("eval_perplexity", {}).items():
                self.tb.add_scalar(f"eval/perplexity/{source}", value, step)

    def close(self) -> None:
        if self.jsonl:
            self.jsonl.close()
        if self.tb:
            self.tb.close()


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
        "benchmarks": benchmark_results(folder),
    }


def benchmark_results(folder: Path) -> list[dict]:
    """`llamapipe eval` results of the run (RUN/eval/step-N.json): one row per step, task and metric."""
    rows = []
    for path in sorted((folder / "eval").glob("step-*.json")):
        try:
            doc = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise ValueError(f"{path}: not JSON (an eval result file)") from None
        for task, metrics in sorted(doc.get("results", {}).items()):
            for key, value in sorted(metrics.items()):
                name, _, _filter = key.partition(",")
                if isinstance(value, (int, float)) and not name.endswith("_stderr") and name != "alias":
                    rows.append({"step": doc.get("step"), "task": task, "metric": name, "value": value,
                                 "fewshot": doc.get("num_fewshot"), "limit": doc.get("limit")})
    return rows
