"""`llamapipe eval`: zero- and few-shot evaluation of a checkpoint with lm-eval-harness, offline.

The checkpoint is exported (export-hf) to RUN/eval/hf-step-NNNNNNNN and evaluated by lm-eval's
`hf` model on task YAMLs from a local folder whose data files are local too (`dataset_path: json`,
paths relative to that folder: lm-eval runs from there). Nothing is downloaded: the Hugging Face
offline switches are set before lm-eval is imported. Results go to RUN/eval/step-NNNNNNNN.json
(and the per-request samples to step-NNNNNNNN.samples.jsonl with log_samples).
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Callable

from corpus.shards import write_local_atomic
from train import checkpoint
from train.hf_export import checkpoint_folder, export
from train.hf_options import EvalConfig, ExportConfig, ExportRefused

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _samples_lines(samples: dict) -> bytes:
    """One JSON line per request: task, document, the model's arguments and responses."""
    keep = ("doc_id", "target", "arguments", "resps", "filtered_resps")
    lines = [json.dumps({"task": task, **{k: s[k] for k in keep if k in s}}, default=str)
             for task, rows in sorted(samples.items()) for s in rows]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def evaluate(cfg: EvalConfig, say: Callable[[str], None] = lambda _: None) -> Path:
    """Export, run the tasks, write the results into the run's eval/ folder; returns the results file."""
    tasks_dir = Path(cfg.include_path).absolute()
    if not tasks_dir.is_dir():
        raise FileNotFoundError(f"--include-path {tasks_dir} is not a folder of lm-eval task YAMLs")
    folder = checkpoint_folder(cfg.checkpoint)
    step = checkpoint.read_state(folder)["step"]
    eval_dir = folder.parent.parent / "eval"
    eval_dir.mkdir(parents=True, exist_ok=True)
    hf_dir = export(ExportConfig(checkpoint=str(folder), out=str(eval_dir / f"hf-{folder.name}"), dtype=cfg.dtype,
                                 overwrite=True))
    say(f"eval: {folder} exported to {hf_dir}; running {', '.join(cfg.tasks)} offline")
    os.environ.update(OFFLINE)
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError as exc:
        raise ExportRefused(f"eval needs lm-eval: pip install 'lm-eval==0.4.13' accelerate ({exc})") from None

    manager = TaskManager(include_path=str(tasks_dir))
    unknown = [t for t in cfg.tasks if t not in manager.all_tasks]
    if unknown:
        raise ExportRefused(f"--tasks: {', '.join(unknown)} not found in {tasks_dir} (nor among lm-eval's own tasks)")
    dtype = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}[cfg.dtype]
    with contextlib.chdir(tasks_dir):
        result = lm_eval.simple_evaluate(
            model="hf", model_args={"pretrained": str(hf_dir), "dtype": dtype, "add_bos_token": True},
            tasks=list(cfg.tasks), task_manager=manager, num_fewshot=cfg.num_fewshot, limit=cfg.limit,
            batch_size=cfg.batch_size, device=cfg.device, log_samples=cfg.log_samples)
    doc = {"checkpoint": str(folder), "step": step, "export": str(hf_dir), "tasks": list(cfg.tasks),
           "include_path": str(tasks_dir), "num_fewshot": cfg.num_fewshot, "limit": cfg.limit,
           "lm_eval": lm_eval.__version__ if hasattr(lm_eval, "__version__") else None,
           "results": result["results"], "n-samples": result.get("n-samples"), "versions": result.get("versions")}
    out = eval_dir / f"{folder.name}.json"
    write_local_atomic(out, (json.dumps(doc, indent=1, default=str) + "\n").encode("utf-8"))
    if cfg.log_samples:
        write_local_atomic(eval_dir / f"{folder.name}.samples.jsonl", _samples_lines(result["samples"]))
    return out


def summary_lines(results: dict) -> list[str]:
    """One line per task and metric: `task  metric  value`."""
    lines = []
    for task, metrics in sorted(results.items()):
        for key, value in sorted(metrics.items()):
            if isinstance(value, float) and "_stderr" not in key:
                lines.append(f"{task:<24} {key.split(',')[0]:<18} {value:.4f}")
    return lines
