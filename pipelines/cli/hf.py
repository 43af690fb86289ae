"""`llamapipe export-hf` and `llamapipe import-hf`: trained models to and from Hugging Face transformers (no Beam)."""
from __future__ import annotations

import sys

from pipelines.cli.common import CLIError, user_errors


def add_parsers(sub) -> None:
    from train.hf_options import DTYPE_NAMES, EvalConfig, ExportConfig, ImportConfig

    p = sub.add_parser("export-hf", allow_abbrev=False,
                       help="write a checkpoint as a Hugging Face LlamaForCausalLM folder (safetensors + tokenizer)",
                       description=(
                           "Writes OUT with safetensors weights under transformers' LlamaForCausalLM names (q/k rows "
                           "reordered for its half rotation), config.json and generation_config.json with the model's "
                           "own values, tokenizer.json/tokenizer_config.json built from the run's SentencePiece model "
                           "(checked against the sha256 the run recorded) and tokenizer.model. Loads with "
                           "AutoModelForCausalLM / AutoTokenizer, lm-eval and vLLM."))
    p.add_argument("--checkpoint", required=True, metavar="RUN_or_STEP",
                   help="a training run (its latest checkpoint) or one RUN/checkpoints/step-NNNNNNNN folder")
    p.add_argument("--out", required=True, metavar="DIR", help="the folder to create")
    p.add_argument("--dtype", default=ExportConfig.dtype, choices=sorted(DTYPE_NAMES),
                   help=f"weights dtype (default {ExportConfig.dtype})")
    p.add_argument("--shard-size", default="5GB",
                   help="largest weights file, e.g. 5GB, 500MB; above it: model-NNNNN-of-MMMMM.safetensors + index")
    p.add_argument("--overwrite", action="store_true", help="replace DIR when it is an earlier export")
    p.set_defaults(func=run_export)

    p = sub.add_parser("import-hf", allow_abbrev=False,
                       help="turn a transformers LLaMA folder (or Meta's consolidated.*.pth) into a checkpoint to train from",
                       description=(
                           "Writes RUN/checkpoints/step-00000000 (weights, tokenizer.model, trainer.json) from a "
                           "transformers LlamaForCausalLM folder (model.safetensors or shards with their index) or "
                           "Meta's params.json + consolidated.NN.pth. Continue pre-training with "
                           "`python -m train ... init_from=RUN/checkpoints/step-00000000` plus the shape keys it prints; "
                           "the run's token shards must use the same tokenizer (sha256 or identical vocabulary)."))
    p.add_argument("--model", required=True, metavar="DIR", help="the transformers or Meta model folder")
    p.add_argument("--out", required=True, metavar="RUN", help="the run folder to create")
    p.add_argument("--tokenizer", default=None, metavar="tokenizer.model",
                   help="SentencePiece model (default: tokenizer.model in DIR or its parent)")
    p.add_argument("--max-seq-len", type=int, default=ImportConfig.max_seq_len,
                   help=f"context length of a Meta model (params.json lacks it; default {ImportConfig.max_seq_len})")
    p.add_argument("--overwrite", action="store_true", help="replace RUN when it is an earlier import")
    p.set_defaults(func=run_import)

    p = sub.add_parser("eval", allow_abbrev=False,
                       help="zero-/few-shot evaluation of a checkpoint with lm-eval, offline on local task files",
                       description=(
                           "Exports the checkpoint to RUN/eval/hf-step-N (export-hf) and runs lm-eval-harness's hf model "
                           "on the named tasks with the Hugging Face offline switches on: task YAMLs come from "
                           "--include-path, their data from local files (dataset_path: json, data_files relative to that "
                           "folder). Results: RUN/eval/step-N.json. Needs `pip install lm-eval accelerate`."))
    p.add_argument("--checkpoint", required=True, metavar="RUN_or_STEP",
                   help="a training run (its latest checkpoint) or one RUN/checkpoints/step-NNNNNNNN folder")
    p.add_argument("--tasks", required=True, help="comma-separated lm-eval task names, e.g. piqa_local,arc_easy_local")
    p.add_argument("--include-path", required=True, metavar="DIR", help="folder of the task YAMLs and their data")
    p.add_argument("--num-fewshot", type=int, default=EvalConfig.num_fewshot, help="examples in the prompt (default: the task's)")
    p.add_argument("--limit", type=int, default=EvalConfig.limit, help="at most this many documents per task")
    p.add_argument("--batch-size", type=int, default=EvalConfig.batch_size)
    p.add_argument("--device", default=EvalConfig.device, help="cpu, cuda, cuda:0 ...")
    p.add_argument("--dtype", default=EvalConfig.dtype, choices=sorted(DTYPE_NAMES))
    p.add_argument("--log-samples", action="store_true", help="also write every request and response (step-N.samples.jsonl)")
    p.set_defaults(func=run_eval)


def _errors():
    """The exceptions export/import raise for a user's input: printed as one line, exit 2."""
    from tokenizer.hf_tokenizer import UnsupportedTokenizer
    from tokenizer.sp_proto import ModelFileError
    from train.config import ConfigError
    from train.errors import CorruptCheckpoint
    from train.hf_options import ExportRefused, ImportRefused

    return ExportRefused, ImportRefused, UnsupportedTokenizer, ModelFileError, ConfigError, CorruptCheckpoint, FileNotFoundError


def run_export(args, beam_args: list[str]) -> int:
    from train.hf_export import export
    from train.hf_options import ExportConfig, parse_size

    if beam_args:
        raise CLIError(f"export-hf does not take {' '.join(beam_args)}")
    with user_errors(*_errors()):
        cfg = ExportConfig(checkpoint=args.checkpoint, out=args.out, dtype=args.dtype,
                           shard_size=parse_size(args.shard_size), overwrite=args.overwrite)
        out = export(cfg)
    print(f"export-hf: {args.checkpoint} -> {out}", file=sys.stderr)
    return 0


def run_import(args, beam_args: list[str]) -> int:
    from train.hf_import import import_model
    from train.hf_options import ImportConfig

    if beam_args:
        raise CLIError(f"import-hf does not take {' '.join(beam_args)}")
    with user_errors(*_errors()):
        cfg = ImportConfig(model=args.model, out=args.out, tokenizer=args.tokenizer, max_seq_len=args.max_seq_len,
                           overwrite=args.overwrite)
        import_model(cfg, say=lambda line: print(line, file=sys.stderr))
    return 0


def run_eval(args, beam_args: list[str]) -> int:
    from train.hf_options import EvalConfig

    if beam_args:
        raise CLIError(f"eval does not take {' '.join(beam_args)}")
    with user_errors(*_errors()):
        cfg = EvalConfig(checkpoint=args.checkpoint, tasks=tuple(t.strip() for t in args.tasks.split(",")),
                         include_path=args.include_path, num_fewshot=args.num_fewshot, limit=args.limit,
                         batch_size=args.batch_size, device=args.device, dtype=args.dtype, log_samples=args.log_samples)
        from train.hf_eval import evaluate, summary_lines

        out = evaluate(cfg, say=lambda line: print(line, file=sys.stderr))
    import json

    for line in summary_lines(json.loads(out.read_text())["results"]):
        print(line)
    print(f"eval: results in {out}", file=sys.stderr)
    return 0
