"""Training configuration: a YAML file of flat keys, overridden by `key=value` arguments.

Every key is a field of `TrainConfig`; an unknown key, a value of the wrong type or out of range
is refused with a message naming the key. The model comes from a named size (`model: 1b`) and
may be reshaped by `dim`, `n_layers`, `n_heads`; the vocabulary always comes from mixture.json.
"""
from __future__ import annotations

import dataclasses
import json
import os
import types
from pathlib import Path
from typing import Any, Optional, Union, get_args, get_origin, get_type_hints

from train.attention import BACKENDS
from train.model import PRESETS


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key."""


@dataclasses.dataclass
class TrainConfig:
    tokens: str = ""  # TOKENS folder of `llamapipe tokenize` (mixture.json)
    allow_incomplete: bool = False  # train on a TOKENS folder without _SUCCESS (an unfinished run) as it is
    verify_shards: str = "sha256"  # sha256: every file's digest and token ids at start-up | size: sizes only
    out_dir: str = "runs/llama"
    model: str = "tiny"
    dim: Optional[int] = None
    n_layers: Optional[int] = None
    n_heads: Optional[int] = None
    multiple_of: Optional[int] = None  # FFN width rounding; default: the named model's (import-hf sets these three)
    norm_eps: Optional[float] = None  # RMSNorm epsilon; default: the named model's (1e-6)
    rope_theta: Optional[float] = None  # RoPE base; default: the named model's (10000)
    seq_len: int = 2048
    batch_tokens: int = 4_194_304  # tokens per optimizer step, all ranks together (LLaMA: 4M)
    micro_batch: int = 1  # sequences per rank per forward/backward
    max_steps: int = 0  # 0: the mixture's token budget (mixture.json total_tokens) / batch_tokens
    lr: Optional[float] = None  # default: the named model's (Table 2)
    min_lr_ratio: float = 0.1
    warmup_steps: int = 2000
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0
    seed: int = 0
    attention: str = "auto"
    init: str = "auto"  # full | meta | auto (meta when sharded over ranks and over 2B parameters)
    doc_mask: bool = True
    compile: bool = False
    activation_checkpointing: str = "none"  # CHECKPOINTING
    dtype: str = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    device: str = "auto"
    checkpoint_every: int = 500  # also at the end and on SIGTERM; 0: never (benchmarks)
    keep_checkpoints: int = 2
    log_every: int = 10
    eval_every: int = 500
    eval_windows: int = 16
    eval_batches: int = 4
    tensorboard: bool = True
    peak_tflops: Optional[float] = None  # for MFU; default by GPU name (H100/H200 989)
    threads: Optional[int] = None  # torch CPU threads
    prefetch: int = 2  # steps of batches built ahead by a background thread; 0: built in the loop
    init_from: str = ""  # a checkpoint folder (llamapipe import-hf, or another run's) whose weights start this run at step 0

    @property
    def lr_value(self) -> float:
        return self.lr if self.lr is not None else PRESETS[self.model].lr

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# none; matmul: every block keeps its matmul and attention outputs and recomputes the element-wise rest;
# selective: every other block recomputed whole; full: every block recomputed whole.
CHECKPOINTING = ("none", "matmul", "selective", "full")
_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_TYPES = get_type_hints(TrainConfig)
_POSITIVE = ("seq_len", "batch_tokens", "micro_batch", "log_every", "eval_every", "keep_checkpoints")


def _coerce(key: str, value: Any) -> Any:
    """`value` as the type TrainConfig declares for `key`; ConfigError naming the key otherwise."""
    kind = _TYPES[key]
    optional = get_origin(kind) in (Union, types.UnionType) and type(None) in get_args(kind)
    if optional:
        kind = Union[tuple(a for a in get_args(kind) if a is not type(None))]
    if value is None:
        if optional:
            return None
        raise ConfigError(f"config key {key!r} may not be empty")
    return _as_type(key, kind, value)


def _as_type(key: str, kind: Any, value: Any) -> Any:
    """A non-empty value as `kind`: bool, int, float, str, or a tuple or list of them."""
    container = get_origin(kind)
    if container in (tuple, list):
        return _as_sequence(key, container, get_args(kind), value)
    if kind is Any:
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key {key!r} must be true or false, got {value!r}")
        return value
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"config key {key!r} must be {getattr(kind, '__name__', kind)}, got {value!r}")


def _as_sequence(key: str, container: type, elements: tuple, value: Any) -> Any:
    """A YAML list as list[X], tuple[X, ...] or tuple[X, Y, ...] (fixed length), each item coerced."""
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"config key {key!r} must be a list, got {value!r}")
    if container is tuple and elements and elements[-1] is not Ellipsis:
        if len(value) != len(elements):
            raise ConfigError(f"config key {key!r} must be a list of {len(elements)} values, got {value!r}")
        return tuple(_as_type(key, kind, item) for kind, item in zip(elements, value))
    kind = elements[0] if elements else Any
    return container(_as_type(key, kind, item) for item in value)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_no_overlap(cfg: TrainConfig) -> None:
    """out_dir must not be, lie inside or contain the tokens folder (symlinks resolved): checkpoints
    and logs written there would mix with, or be taken for, the training data."""
    out, tokens = os.path.realpath(cfg.out_dir), os.path.realpath(cfg.tokens)
    if _inside(out, tokens) or _inside(tokens, out):
        relation = "is" if out == tokens else "is inside" if _inside(out, tokens) else "contains"
        raise ConfigError(f"config keys 'out_dir' ({cfg.out_dir}) and 'tokens' ({cfg.tokens}) overlap: out_dir "
                          f"{relation} the tokens folder ({tokens}); pick an out_dir outside it")


def validate(cfg: TrainConfig) -> TrainConfig:
    if not cfg.tokens:
        raise ConfigError("config key 'tokens' is required: the TOKENS folder of `llamapipe tokenize`")
    if not (Path(cfg.tokens) / "mixture.json").is_file():
        raise ConfigError(f"config key 'tokens': {cfg.tokens} has no mixture.json (run `llamapipe tokenize` first)")
    check_no_overlap(cfg)
    if cfg.verify_shards not in ("sha256", "size"):
        raise ConfigError(f"config key 'verify_shards' must be sha256 or size, got {cfg.verify_shards!r}")
    if cfg.model not in PRESETS:
        raise ConfigError(f"config key 'model' must be one of {', '.join(PRESETS)}, got {cfg.model!r}")
    for key in _POSITIVE:
        if getattr(cfg, key) <= 0:
            raise ConfigError(f"config key {key!r} must be positive, got {getattr(cfg, key)}")
    for key in ("multiple_of", "norm_eps", "rope_theta"):
        if getattr(cfg, key) is not None and not getattr(cfg, key) > 0:
            raise ConfigError(f"config key {key!r} must be positive, got {getattr(cfg, key)}")
    if cfg.lr is not None and not cfg.lr > 0:
        raise ConfigError(f"config key 'lr' must be positive, got {cfg.lr}")
    for key in ("warmup_steps", "weight_decay", "grad_clip", "eval_windows", "eval_batches", "checkpoint_every", "max_steps",
                "prefetch"):
        if getattr(cfg, key) < 0:
            raise ConfigError(f"config key {key!r} must be >= 0, got {getattr(cfg, key)}")
    if not 0 <= cfg.min_lr_ratio <= 1:
        raise ConfigError(f"config key 'min_lr_ratio' must be within [0, 1], got {cfg.min_lr_ratio}")
    for key in ("beta1", "beta2"):
        if not 0 <= getattr(cfg, key) < 1:
            raise ConfigError(f"config key {key!r} must be within [0, 1), got {getattr(cfg, key)}")
    if cfg.attention not in BACKENDS:
        raise ConfigError(f"config key 'attention' must be one of {', '.join(BACKENDS)}, got {cfg.attention!r}")
    if cfg.activation_checkpointing not in CHECKPOINTING:
        raise ConfigError(f"config key 'activation_checkpointing' must be one of {', '.join(CHECKPOINTING)}, "
                          f"got {cfg.activation_checkpointing!r}")
    if cfg.init not in ("auto", "full", "meta"):
        raise ConfigError(f"config key 'init' must be auto, full or meta, got {cfg.init!r}")
    if cfg.dtype not in ("auto", "bf16", "fp32"):
        raise ConfigError(f"config key 'dtype' must be auto, bf16 or fp32, got {cfg.dtype!r}")
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"config key 'device' must be auto, cpu or cuda, got {cfg.device!r}")
    if cfg.batch_tokens % cfg.seq_len:
        raise ConfigError(f"config key 'batch_tokens' ({cfg.batch_tokens}) must be a multiple of seq_len ({cfg.seq_len})")
    return cfg


def _parse_value(raw: str) -> Any:
    """An override's value as YAML reads it (numbers, true/false, null, strings)."""
    try:
        import yaml
    except ImportError:  # a bare GPU machine: JSON scalars, else the string itself
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return yaml.safe_load(raw)


def load_config(path: Optional[str], overrides: list[str]) -> TrainConfig:
    """TrainConfig from a YAML file (optional) and `key=value` overrides (values parsed as YAML)."""
    values: dict[str, Any] = {}
    if path:
        import yaml

        try:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys")
        values.update(doc)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} is not key=value")
        values[key.strip()] = _parse_value(raw) if raw.strip() else None
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(map(repr, unknown))}; known: {', '.join(_FIELDS)}")
    return validate(TrainConfig(**{k: _coerce(k, v) for k, v in values.items()}))


def config_from_json(text: str) -> TrainConfig:
    return TrainConfig(**json.loads(text))
