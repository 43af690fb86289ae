"""`llamapipe import-hf`: a transformers LLaMA folder, or Meta's consolidated.*.pth + params.json, as a
llamapipe checkpoint RUN/checkpoints/step-00000000 that `python -m train` starts from (`init_from`).

The checkpoint holds the model's weights in fp32 (DCP, as train/checkpoint.py writes them), its
tokenizer.model and a trainer.json whose config has the model's shape keys; no optimizer state
and no data position, so a run started from it begins at step 0. Only what train/model.py
computes is accepted: no grouped-query attention, biases, tied embeddings or RoPE scaling.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from pathlib import Path
from typing import Callable, Optional

import torch

from corpus.shards import replace_local_folder
from train.config import TrainConfig
from train.hf_layout import from_hf_tensors, from_meta_tensors, multiple_of_for
from train.hf_options import ImportConfig, ImportRefused
from train.init_from import TOKENIZER_FILE, sha256_file
from train.model import PRESETS, ModelArgs, Transformer

STEP_DIR = "step-00000000"
MARKER = "llamapipe_import.json"  # provenance; also marks a run folder this importer wrote


@dataclasses.dataclass(frozen=True)
class Imported:
    """A foreign model read into llamapipe's layout."""

    args: ModelArgs
    state: dict[str, torch.Tensor]
    layout: str  # "transformers" | "meta"


def _read_json(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImportRefused(f"{path} is unreadable ({exc})") from None
    if not isinstance(doc, dict):
        raise ImportRefused(f"{path} is not a JSON object")
    return doc


def _require(path: Path, doc: dict, key: str, want: object) -> None:
    """ImportRefused unless doc[key] is `want` (absent or null: the default, which is `want`)."""
    if doc.get(key) is not None and doc[key] != want:
        raise ImportRefused(f"{path}: {key} = {doc.get(key)!r}; train/model.py computes only {key} = {want!r}")


def _int_field(path: Path, doc: dict, key: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ImportRefused(f"{path}: {key} must be a positive integer, got {value!r}")
    return value


def hf_args(path: Path, config: dict, vocab_size: int) -> ModelArgs:
    """ModelArgs of a transformers config.json, refusing what train/model.py does not compute."""
    if config.get("model_type") != "llama":
        raise ImportRefused(f"{path}: model_type = {config.get('model_type')!r}, expected 'llama'")
    dim, heads = _int_field(path, config, "hidden_size"), _int_field(path, config, "num_attention_heads")
    for key, want in (("num_key_value_heads", heads), ("head_dim", dim // heads), ("hidden_act", "silu"),
                      ("attention_bias", False), ("mlp_bias", False), ("tie_word_embeddings", False),
                      ("rope_scaling", None)):
        _require(path, config, key, want)
    rope = config.get("rope_parameters") or {}
    _require(path, rope, "rope_type", "default")
    theta = rope.get("rope_theta", config.get("rope_theta", 10000.0))
    ffn = _int_field(path, config, "intermediate_size")
    if config.get("vocab_size", vocab_size) != vocab_size:
        raise ImportRefused(f"{path}: vocab_size {config.get('vocab_size')} but the embedding has {vocab_size} rows")
    return _args(path, dim, _int_field(path, config, "num_hidden_layers"), heads, vocab_size, ffn,
                 float(config.get("rms_norm_eps", 1e-6)), float(theta), _int_field(path, config, "max_position_embeddings"))


def _args(path: Path, dim: int, layers: int, heads: int, vocab: int, ffn: int, eps: float, theta: float,
          max_seq_len: int) -> ModelArgs:
    if dim % heads or (dim // heads) % 2:
        raise ImportRefused(f"{path}: dimension {dim} is not {heads} heads of an even size")
    try:
        multiple_of = multiple_of_for(dim, ffn)
    except ValueError as exc:
        raise ImportRefused(f"{path}: {exc}; train/model.py's FFN is at least 8/3 of the dimension") from None
    return ModelArgs(dim=dim, n_layers=layers, n_heads=heads, vocab_size=vocab, multiple_of=multiple_of,
                     norm_eps=eps, rope_theta=theta, max_seq_len=max_seq_len)


def read_transformers(folder: Path) -> Imported:
    """A transformers LlamaForCausalLM folder (model.safetensors, or shards with their index)."""
    from safetensors import safe_open

    config_path = folder / "config.json"
    config = _read_json(config_path)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = _read_json(index).get("weight_map")
        if not isinstance(weight_map, dict):
            raise ImportRefused(f"{index} has no weight_map")
    else:
        single = folder / "model.safetensors"
        if not single.is_file():
            raise ImportRefused(f"{folder} has neither model.safetensors nor model.safetensors.index.json "
                                f"(pytorch_model.bin is not read: convert it to safetensors)")
        with safe_open(str(single), "pt") as f:
            weight_map = {name: single.name for name in f.keys()}
    handles: dict[str, object] = {}

    def get(name: str) -> torch.Tensor:
        if name not in weight_map:
            raise ImportRefused(f"{folder}: tensor {name} is missing")
        file = weight_map[name]
        if file not in handles:
            path = folder / file
            if not path.is_file():
                raise ImportRefused(f"{path} (listed in {index.name}) does not exist")
            handles[file] = safe_open(str(path), "pt")
        used.add(name)
        return handles[file].get_tensor(name).float()

    used: set[str] = set()
    vocab = get("model.embed_tokens.weight").shape[0]
    args = hf_args(config_path, config, vocab)
    state = from_hf_tensors(get, args)
    _refuse_unused(folder, set(weight_map) - used, r"\.rotary_emb\.inv_freq$")
    return Imported(args, state, "transformers")


def _refuse_unused(folder: Path, unused: set[str], ignorable: str) -> None:
    """Tensors train/model.py has no place for (biases, extra layers) would be silently dropped: refuse."""
    left = sorted(n for n in unused if not re.search(ignorable, n))
    if left:
        raise ImportRefused(f"{folder}: {len(left)} tensor(s) train/model.py has no place for, e.g. {left[0]}")


# Meta's model-parallel shards: the dimension each tensor is split along (None: replicated)
_META_SPLIT = {"tok_embeddings.weight": 1, "output.weight": 0, "wq.weight": 0, "wk.weight": 0, "wv.weight": 0,
               "wo.weight": 1, "w1.weight": 0, "w3.weight": 0, "w2.weight": 1}


def read_meta(folder: Path, max_seq_len: int) -> Imported:
    """Meta's original layout: params.json and consolidated.NN.pth (model-parallel shards joined)."""
    params_path = folder / "params.json"
    params = _read_json(params_path)
    files = sorted(folder.glob("consolidated.*.pth"))
    if not files:
        raise ImportRefused(f"{folder} has params.json but no consolidated.*.pth")
    try:
        shards = [torch.load(f, map_location="cpu", mmap=True, weights_only=True) for f in files]
    except Exception as exc:  # torch reports a damaged pickle/zip in many types
        raise ImportRefused(f"{folder}: a consolidated.*.pth file is unreadable ({exc})") from None
    used: set[str] = set()

    def get(name: str) -> torch.Tensor:
        if name not in shards[0]:
            raise ImportRefused(f"{files[0]}: tensor {name} is missing")
        used.add(name)
        axis = _META_SPLIT.get(name.rsplit(".", 2)[-2] + ".weight" if name.count(".") >= 2 else name)
        if len(shards) == 1 or axis is None:
            return shards[0][name].float()
        return torch.cat([s[name] for s in shards], dim=axis).float()

    dim, heads, layers = (_int_field(params_path, params, k) for k in ("dim", "n_heads", "n_layers"))
    if params.get("n_kv_heads") not in (None, heads):
        raise ImportRefused(f"{params_path}: n_kv_heads = {params['n_kv_heads']}; train/model.py has no grouped-query attention")
    multiple_of = params.get("multiple_of", 256)
    hidden = int(2 * 4 * dim / 3)
    if params.get("ffn_dim_multiplier") is not None:
        hidden = int(params["ffn_dim_multiplier"] * hidden)
    ffn = multiple_of * ((hidden + multiple_of - 1) // multiple_of)
    vocab = get("tok_embeddings.weight").shape[0]
    if params.get("vocab_size", -1) not in (-1, vocab):
        raise ImportRefused(f"{params_path}: vocab_size {params['vocab_size']} but the embedding has {vocab} rows")
    args = _args(params_path, dim, layers, heads, vocab, ffn, float(params.get("norm_eps", 1e-6)),
                 float(params.get("rope_theta", 10000.0)), max_seq_len)
    state = from_meta_tensors(get, args)
    _refuse_unused(folder, set(shards[0]) - used, r"^rope\.freqs$")
    return Imported(args, state, "meta")


def find_tokenizer(model: Path, given: Optional[str]) -> Path:
    """--tokenizer, else tokenizer.model in the model folder or its parent (Meta's download layout)."""
    if given:
        if not Path(given).is_file():
            raise FileNotFoundError(f"--tokenizer {given} does not exist")
        return Path(given)
    for candidate in (model / TOKENIZER_FILE, model.parent / TOKENIZER_FILE):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no {TOKENIZER_FILE} in {model} or {model.parent}: llamapipe trains with a "
                            f"SentencePiece model; pass --tokenizer PATH")


def train_config(args: ModelArgs, out: Path) -> TrainConfig:
    """The config keys that rebuild `args`: a preset of the same shape, or the nearest preset reshaped
    (multiple_of only when the preset's own rounding gives another FFN width)."""
    def same(preset: ModelArgs) -> bool:
        mine = dataclasses.replace(preset, dim=args.dim)
        return (mine.ffn_hidden == args.ffn_hidden and
                all(getattr(preset, k) == getattr(args, k) for k in ("dim", "n_layers", "n_heads", "norm_eps", "rope_theta")))

    for name, preset in PRESETS.items():
        if same(preset.args):
            return TrainConfig(out_dir=str(out), model=name, seq_len=args.max_seq_len)
    name = min(PRESETS, key=lambda n: (abs(PRESETS[n].args.dim - args.dim), n))
    base = PRESETS[name].args
    changed = {k: getattr(args, k) for k in ("dim", "n_layers", "n_heads", "norm_eps", "rope_theta")
               if getattr(args, k) != getattr(base, k)}
    if dataclasses.replace(base, dim=args.dim).ffn_hidden != args.ffn_hidden:
        changed["multiple_of"] = args.multiple_of
    return TrainConfig(out_dir=str(out), model=name, seq_len=args.max_seq_len, **changed)


def layout_of(folder: Path) -> str:
    """"transformers" (config.json) or "meta" (params.json); FileNotFoundError naming the folder otherwise."""
    if (folder / "config.json").is_file():
        return "transformers"
    if (folder / "params.json").is_file():
        return "meta"
    raise FileNotFoundError(f"--model {folder} is neither a transformers folder (config.json + model.safetensors) "
                            f"nor Meta's layout (params.json + consolidated.*.pth)")


def read_model(cfg: ImportConfig) -> Imported:
    """The model folder in either layout."""
    folder = Path(cfg.model)
    return read_transformers(folder) if layout_of(folder) == "transformers" else read_meta(folder, cfg.max_seq_len)


def check_replaceable(out: Path, overwrite: bool) -> None:
    """Refuse an existing RUN without overwrite, or one that is not a previous import."""
    if not out.exists() and not out.is_symlink():
        return
    if not overwrite:
        raise ImportRefused(f"--out {out} exists; pass --overwrite to replace it")
    names = sorted(p.name for p in out.iterdir()) if out.is_dir() and not out.is_symlink() else None
    step_dirs = sorted(p.name for p in (out / "checkpoints").iterdir()) if (out / "checkpoints").is_dir() else []
    if names != sorted(["checkpoints", MARKER]) or step_dirs != [STEP_DIR]:
        raise ImportRefused(f"--out {out} is not a folder import-hf wrote (it holds more than checkpoints/{STEP_DIR} "
                            f"and {MARKER}); it is left as it is")


def import_model(cfg: ImportConfig, say: Callable[[str], None] = lambda _: None) -> Path:
    """Write cfg.out/checkpoints/step-00000000 from cfg.model; returns that checkpoint folder."""
    import sentencepiece as spm
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    out = Path(cfg.out).absolute()
    check_replaceable(out, cfg.overwrite)
    layout_of(Path(cfg.model))
    tokenizer = find_tokenizer(Path(cfg.model), cfg.tokenizer)
    try:
        pieces = spm.SentencePieceProcessor(model_file=str(tokenizer)).get_piece_size()
    except (OSError, RuntimeError) as exc:
        raise ImportRefused(f"{tokenizer} is not a SentencePiece model ({str(exc).strip()[:200]})") from None
    imported = read_model(cfg)
    if pieces != imported.args.vocab_size:
        raise ImportRefused(f"{tokenizer} has {pieces} pieces but the model's embedding has {imported.args.vocab_size} rows")
    with torch.device("meta"):
        model = Transformer(imported.args)
    try:
        model.load_state_dict(imported.state, strict=True, assign=True)
    except RuntimeError as exc:
        raise ImportRefused(f"{cfg.model}: tensor shapes do not fit the model its config describes ({exc})") from None
    config = train_config(imported.args, out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    step = tmp / "checkpoints" / STEP_DIR
    step.mkdir(parents=True)
    try:
        model_sd, _ = get_state_dict(model, [])
        dcp.save({"model": model_sd}, checkpoint_id=str(step))
        shutil.copyfile(tokenizer, step / TOKENIZER_FILE)
        sha = sha256_file(tokenizer)
        trainer_state = {"step": 0, "sampler": {}, "config": config.to_dict(),
                         "tokenizer": {"file": TOKENIZER_FILE, "sha256": sha, "vocab_size": pieces},
                         "imported_from": {"path": str(Path(cfg.model).absolute()), "layout": imported.layout}}
        (step / "trainer.json").write_text(json.dumps(trainer_state, indent=1, sort_keys=True) + "\n")
        (tmp / MARKER).write_text(json.dumps({"model": str(Path(cfg.model).absolute()), "layout": imported.layout,
                                              "tokenizer_sha256": sha}, indent=1) + "\n")
        check_replaceable(out, cfg.overwrite)
        replace_local_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    keys = " ".join(f"{k}={v}" for k, v in config.to_dict().items()
                    if k in ("model", "dim", "n_layers", "n_heads", "multiple_of", "norm_eps", "rope_theta") and v is not None)
    say(f"import-hf: {imported.layout} model -> {out / 'checkpoints' / STEP_DIR}; start a run from it with "
        f"init_from={out / 'checkpoints' / STEP_DIR} {keys}")
    return out / "checkpoints" / STEP_DIR
