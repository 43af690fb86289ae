"""SentencePiece BPE training with the LLaMA tokenizer's settings.

LLaMA (Touvron et al., 2023, section 2.1): BPE as implemented by SentencePiece, numbers split
into single digits, unknown UTF-8 characters decomposed into bytes. The remaining values are
those of the released tokenizer.model: no normalisation (identity), a dummy prefix, extra
whitespace kept, whitespace-only pieces allowed, character coverage 0.99995, unk/bos/eos = 0/1/2.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

LLAMA_SETTINGS: dict[str, object] = {
    "model_type": "bpe",
    "split_digits": True,
    "byte_fallback": True,
    "normalization_rule_name": "identity",
    "add_dummy_prefix": True,
    "remove_extra_whitespaces": False,
    "allow_whitespace_only_pieces": True,
    "character_coverage": 0.99995,
    "unk_id": 0,
    "bos_id": 1,
    "eos_id": 2,
    "pad_id": -1,
    "split_by_unicode_script": True,
    "split_by_whitespace": True,
    "split_by_number": True,
    "max_sentence_length": 16384,
    "input_sentence_size": 0,
    "shuffle_input_sentence": False,
    "hard_vocab_limit": True,
}


def train_tokenizer(inputs: Iterable[str | Path], vocab_size: int, out: str | Path, threads: int | None = None,
                    seed_sentencepiece_size: int = 1_000_000, **overrides) -> Path:
    """Train on text files (one sentence per line) and write `out` (+ `.vocab` beside it) atomically.

    Every input line is used (no sentence sampling), so the same files give the same model.
    """
    import sentencepiece as spm

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = dict(LLAMA_SETTINGS, **overrides)
    tmp = Path(tempfile.mkdtemp(prefix=".tok-", dir=out.parent))
    try:
        spm.SentencePieceTrainer.train(
            input=[str(p) for p in inputs], model_prefix=str(tmp / "m"), vocab_size=vocab_size,
            num_threads=threads or os.cpu_count() or 1, seed_sentencepiece_size=seed_sentencepiece_size,
            minloglevel=2, **settings)
        os.replace(tmp / "m.vocab", out.with_suffix(".vocab"))
        os.replace(tmp / "m.model", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
