"""SentencePiece BPE training with the LLaMA tokenizer's settings.

LLaMA (Touvron et al., 2023, section 2.1): BPE as implemented by SentencePiece, numbers split
into single digits, unknown UTF-8 characters decomposed into bytes. The remaining values are
those of the released tokenizer.model: no normalisation (identity), a dummy prefix, extra
whitespace kept, whitespace-only pieces allowed, character coverage 0.99995, unk/bos/eos = 0/1/2.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterable, Iterator

from corpus.shards import write_local_atomic

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


def _lines(paths: list[Path]) -> Iterator[str]:
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield line.rstrip("\n")


def train_tokenizer(inputs: Iterable[str | Path], vocab_size: int, out: str | Path, threads: int | None = None,
                    **overrides) -> Path:
    """Train on text files (one sentence per line, read in the given order) and write `out` and
    its `.vocab` (piece, score) atomically.

    Every input line is used (no sentence sampling) and no path is recorded in the model, so the
    same lines give the same model bytes wherever they are trained.
    """
    import sentencepiece as spm

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = dict(LLAMA_SETTINGS, **overrides)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=_lines([Path(p) for p in inputs]), model_writer=model,
                                   vocab_size=vocab_size, num_threads=threads or os.cpu_count() or 1,
                                   minloglevel=2, **settings)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = "".join(f"{sp.id_to_piece(i)}\t{sp.get_score(i):g}\n" for i in range(sp.get_piece_size()))
    write_local_atomic(out.with_suffix(".vocab"), vocab.encode("utf-8"))
    write_local_atomic(out, model.getvalue())
    return out
