"""`llamapipe export-hf`: a llamapipe checkpoint as a Hugging Face LlamaForCausalLM folder.

The folder holds safetensors weights (sharded with model.safetensors.index.json above the shard
size), config.json and generation_config.json with the model's own values, tokenizer.json and
tokenizer_config.json built from the run's SentencePiece model, and that model as tokenizer.model.
It is written into a temporary sibling and renamed into place, so a folder that exists is complete.
An existing folder is replaced only with `overwrite` and only when it is an export of ours.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import torch

from corpus.shards import replace_local_folder
from tokenizer.hf_tokenizer import build_tokenizer_json, tokenizer_config
from train import checkpoint
from train.build import build_model
from train.config import TrainConfig
from train.hf_layout import hf_config, hf_tensors
from train.hf_options import DTYPE_NAMES, ExportConfig, ExportRefused
from train.model import rope_tables
from train.init_from import check_tokenizer_file, sha256_file, tokenizer_of

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
MARKER = "llamapipe_export.json"  # provenance; also marks a folder this exporter wrote
WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"
_OURS = re.compile(r"^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|tokenizer\.model|"
                   r"model\.safetensors|model\.safetensors\.index\.json|model-\d{5}-of-\d{5}\.safetensors|"
                   + re.escape(MARKER) + r")$")


def checkpoint_folder(path: str | Path) -> Path:
    """A checkpoint folder (it holds trainer.json), or a run's latest complete one."""
    path = Path(path)
    if (path / checkpoint.TRAINER_FILE).is_file():
        return path
    found = checkpoint.checkpoints(path)
    if not found:
        raise FileNotFoundError(f"--checkpoint {path} holds no complete checkpoint "
                                f"(neither {checkpoint.TRAINER_FILE} nor checkpoints/step-*/{checkpoint.TRAINER_FILE})")
    return found[-1]


def load_checkpoint_model(folder: Path, vocab_size: int) -> torch.nn.Module:
    """The checkpoint's model in fp32 on CPU (its shape from trainer.json's config)."""
    cfg = TrainConfig(**checkpoint.read_state(folder)["config"])
    model = build_model(cfg, vocab_size, "sdpa", on_meta=True)
    model.to_empty(device="cpu")
    with torch.no_grad():  # the RoPE tables are buffers, not saved: computed, not left as empty memory
        cos, sin = rope_tables(model.args.head_dim, model.args.max_seq_len, model.args.rope_theta)
        model.rope_cos.copy_(cos)
        model.rope_sin.copy_(sin)
    checkpoint.load(folder, model, None)
    return model.eval()


def _shards(tensors: list[tuple[str, torch.Tensor]], limit: int) -> list[list[tuple[str, torch.Tensor]]]:
    """Tensors in order, cut into groups of at most `limit` bytes (a larger tensor alone in its group)."""
    groups: list[list[tuple[str, torch.Tensor]]] = [[]]
    size = 0
    for name, t in tensors:
        n = t.numel() * t.element_size()
        if groups[-1] and size + n > limit:
            groups.append([])
            size = 0
        groups[-1].append((name, t))
        size += n
    return groups


def write_weights(folder: Path, tensors: list[tuple[str, torch.Tensor]], shard_size: int) -> list[str]:
    """model.safetensors, or model-NNNNN-of-MMMMM.safetensors + the index when over shard_size; the file names."""
    from safetensors.torch import save_file

    groups = _shards(tensors, shard_size)
    if len(groups) == 1:
        save_file(dict(groups[0]), str(folder / WEIGHTS), metadata={"format": "pt"})
        return [WEIGHTS]
    names, weight_map = [], {}
    for i, group in enumerate(groups, 1):
        name = f"model-{i:05d}-of-{len(groups):05d}.safetensors"
        save_file(dict(group), str(folder / name), metadata={"format": "pt"})
        names.append(name)
        weight_map.update({tensor: name for tensor, _ in group})
    total = sum(t.numel() * t.element_size() for _, t in tensors)
    _write_json(folder / INDEX, {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))})
    return names + [INDEX]


def _write_json(path: Path, doc: dict) -> None:
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def check_replaceable(out: Path, overwrite: bool) -> None:
    """Refuse an existing `out` without overwrite, or one holding anything an export does not write."""
    if not out.exists() and not out.is_symlink():
        return
    if not overwrite:
        raise ExportRefused(f"--out {out} exists; pass --overwrite to replace it")
    if not out.is_dir() or out.is_symlink():
        raise ExportRefused(f"--out {out} exists and is not a folder; it is left as it is")
    foreign = sorted(p.name for p in out.iterdir() if not _OURS.match(p.name) or not p.is_file())
    if foreign or not (out / MARKER).is_file():
        why = f"holds {out / foreign[0]}" if foreign else f"has no {MARKER}"
        raise ExportRefused(f"--out {out} {why}, which export-hf does not write; it is left as it is "
                            f"(remove it yourself or choose another --out)")


def export(cfg: ExportConfig) -> Path:
    """Write the Hugging Face folder for cfg.checkpoint at cfg.out; returns it."""
    out = Path(cfg.out).absolute()
    check_replaceable(out, cfg.overwrite)
    folder = checkpoint_folder(cfg.checkpoint)
    state = checkpoint.read_state(folder)
    tok_path, tok_sha = tokenizer_of(folder, state)
    check_tokenizer_file(tok_path, tok_sha, f"checkpoint {folder}")
    tokenizer_json = build_tokenizer_json(tok_path)  # refuses a model whose normaliser it cannot reproduce
    import sentencepiece as spm

    vocab_size = spm.SentencePieceProcessor(model_file=str(tok_path)).get_piece_size()
    model = load_checkpoint_model(folder, vocab_size)
    torch_dtype, dtype_name = DTYPES[cfg.dtype], DTYPE_NAMES[cfg.dtype]
    with torch.no_grad():
        tensors = [(name, t.to(torch_dtype).contiguous()) for name, t in hf_tensors(model.state_dict(), model.args)]
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        files = write_weights(tmp, tensors, cfg.shard_size)
        _write_json(tmp / "config.json", hf_config(model.args, dtype_name))
        _write_json(tmp / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2})
        (tmp / "tokenizer.json").write_text(tokenizer_json + "\n", encoding="utf-8")
        (tmp / "tokenizer_config.json").write_text(tokenizer_config(model.args.max_seq_len), encoding="utf-8")
        shutil.copyfile(tok_path, tmp / "tokenizer.model")
        _write_json(tmp / MARKER, {"checkpoint": str(folder.absolute()), "step": state["step"], "dtype": cfg.dtype,
                                   "tokenizer": {"path": str(tok_path), "sha256": sha256_file(tok_path)},
                                   "weights": files})
        check_replaceable(out, cfg.overwrite)  # again: the folder may have changed while the export ran
        replace_local_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out



