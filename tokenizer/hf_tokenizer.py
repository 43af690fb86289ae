"""Hugging Face tokenizer files (tokenizer.json, tokenizer_config.json) from a llamapipe SentencePiece model.

tokenizer.json is built with the `tokenizers` package: a byte-fallback BPE over the model's
pieces, merges ranked by the id of the merged piece (SentencePiece BPE merges the
best-scoring pair, and its scores fall with the id), "▁" for spaces and a dummy prefix, BOS
added by the post-processor. This reproduces SentencePiece exactly only for a model that does not
normalise text (identity rule, extra whitespace kept), as `tokenizer.train.LLAMA_SETTINGS` trains:
any other model is refused naming the setting. ../shared/SOURCES.md section 8 measured why the
file is built by hand (transformers 5's LlamaTokenizer constructions lose BOS or spaces).
"""
from __future__ import annotations

import json
from pathlib import Path

from tokenizer.sp_proto import SentencePieceSettings, read_settings

SPACE = "\u2581"  # SentencePiece's whitespace symbol
SPECIALS = ("<unk>", "<s>", "</s>")

# setting -> the value the tokenizer.json pipeline reproduces
REQUIRED: dict[str, object] = {
    "model_type": "bpe",
    "byte_fallback": True,
    "normalizer_name": "identity",
    "precompiled_charsmap": False,
    "normalization_rule_tsv": False,
    "add_dummy_prefix": True,
    "remove_extra_whitespaces": False,
    "escape_whitespaces": True,
    "treat_whitespace_as_suffix": False,
    "denormalizer": False,
    "unk_id": 0,
    "bos_id": 1,
    "eos_id": 2,
}


class UnsupportedTokenizer(ValueError):
    """A SentencePiece model whose settings tokenizer.json cannot reproduce; names the model and setting."""


def check_settings(path: str | Path) -> SentencePieceSettings:
    """The model's settings, or UnsupportedTokenizer naming each one that differs from REQUIRED."""
    settings = read_settings(path)
    wrong = [f"{key}={getattr(settings, key)!r} (needs {want!r})" for key, want in REQUIRED.items()
             if getattr(settings, key) != want]
    if wrong:
        raise UnsupportedTokenizer(f"{path}: cannot export this SentencePiece model as tokenizer.json: "
                                   + ", ".join(wrong) + ". Train it with tokenizer.train.LLAMA_SETTINGS "
                                   "(llamapipe tokenizer-train)")
    return settings


def bpe_merges(vocab: dict[str, int]) -> list[tuple[str, str]]:
    """Every (left, right) whose concatenation is a piece, both halves being pieces, best first:
    by the merged piece's id, then the halves' ids (the order SentencePiece BPE applies them)."""
    found = []
    for piece, rank in vocab.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab:
                found.append((rank, vocab[left], vocab[right], left, right))
    found.sort()
    return [(left, right) for _, _, _, left, right in found]


def sentencepiece_vocab(model_path: str | Path) -> dict[str, int]:
    """piece -> id of every piece of the model."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    return {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}


def build_tokenizer_json(model_path: str | Path) -> str:
    """tokenizer.json's text for a LLaMA-settings SentencePiece model (checked first)."""
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE

    check_settings(model_path)
    vocab = sentencepiece_vocab(model_path)
    for want, piece in enumerate(SPECIALS):
        if vocab.get(piece) != want:
            raise UnsupportedTokenizer(f"{model_path}: piece {want} must be {piece!r} (unk/bos/eos), "
                                       f"found id {vocab.get(piece)}")
    tk = Tokenizer(BPE(vocab=vocab, merges=bpe_merges(vocab), unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tk.normalizer = normalizers.Sequence([normalizers.Prepend(SPACE), normalizers.Replace(" ", SPACE)])
    tk.pre_tokenizer = None
    tk.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse(),
                                    decoders.Strip(" ", 1, 0)])
    tk.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS])
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                      special_tokens=[("<s>", 1)])
    return tk.to_str(pretty=True)


def tokenizer_config(max_seq_len: int) -> str:
    """tokenizer_config.json, written by hand: transformers 5's save_pretrained names a class
    (TokenizersBackend) that transformers 4 does not know."""
    return json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "clean_up_tokenization_spaces": False,
        "model_max_length": max_seq_len,
    }, indent=2) + "\n"
