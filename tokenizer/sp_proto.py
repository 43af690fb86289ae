"""The settings of a SentencePiece model file read straight from its protobuf bytes.

sentencepiece's own `sentencepiece_model_pb2` needs a matching protobuf runtime (it refuses
other versions), so the few fields the Hugging Face export depends on are read here with the
protobuf wire format: ModelProto (pieces = 1, trainer_spec = 2, normalizer_spec = 3,
denormalizer_spec = 5), TrainerSpec (model_type = 3, treat_whitespace_as_suffix = 24,
byte_fallback = 35, unk/bos/eos_id = 40/41/42), NormalizerSpec (name = 1, precompiled_charsmap = 2,
add_dummy_prefix = 3, remove_extra_whitespaces = 4, escape_whitespaces = 5, normalization_rule_tsv = 6),
as sentencepiece_model.proto numbers them.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator

MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


class ModelFileError(ValueError):
    """A file that is not a SentencePiece model; the message names it."""


@dataclasses.dataclass(frozen=True)
class SentencePieceSettings:
    """What a SentencePiece model does to text before and around its pieces (protobuf defaults apply)."""

    model_type: str = "unigram"
    byte_fallback: bool = False
    treat_whitespace_as_suffix: bool = False
    unk_id: int = 0
    bos_id: int = 1
    eos_id: int = 2
    normalizer_name: str = ""
    precompiled_charsmap: bool = False
    normalization_rule_tsv: bool = False
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = True
    escape_whitespaces: bool = True
    denormalizer: bool = False


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of one message: an int for varints and fixed widths, bytes for the rest."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(data):
            raise ValueError("truncated field")
        yield number, value


def _int32(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def read_settings(path: str | Path) -> SentencePieceSettings:
    """The trainer and normaliser settings stored in a SentencePiece .model file."""
    data = Path(path).read_bytes()
    found: dict[str, object] = {}
    try:
        for number, value in _fields(data):
            if number == 2:
                for n, v in _fields(value):
                    key = {3: "model_type", 24: "treat_whitespace_as_suffix", 35: "byte_fallback",
                           40: "unk_id", 41: "bos_id", 42: "eos_id"}.get(n)
                    if key == "model_type":
                        found[key] = MODEL_TYPES.get(v, str(v))
                    elif key in ("treat_whitespace_as_suffix", "byte_fallback"):
                        found[key] = bool(v)
                    elif key:
                        found[key] = _int32(v)
            elif number == 3:
                for n, v in _fields(value):
                    if n == 1:
                        found["normalizer_name"] = v.decode("utf-8")
                    elif n in (2, 6):
                        found["precompiled_charsmap" if n == 2 else "normalization_rule_tsv"] = bool(v)
                    elif n in (3, 4, 5):
                        found[{3: "add_dummy_prefix", 4: "remove_extra_whitespaces", 5: "escape_whitespaces"}[n]] = bool(v)
            elif number == 5:
                found["denormalizer"] = any(n in (1, 2, 6) and v for n, v in _fields(value))
    except (ValueError, UnicodeDecodeError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{path} is not a SentencePiece model ({exc})") from None
    return SentencePieceSettings(**found)
