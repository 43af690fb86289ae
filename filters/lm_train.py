"""Train a language's perplexity models as CCNet did: SentencePiece unigram + 5-gram KenLM.

Reference text is CCNet-normalised line by line, SentencePiece (unigram) is trained on it,
the text is cut into pieces, and KenLM's lmplz builds a 5-gram ARPA model that build_binary
turns into MODELS/lm/<lang>.arpa.bin next to MODELS/lm/<lang>.sp.model.
"""
from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable

from corpus.normalize import normalize
from filters.kenlm_build import find_binary
from filters.perplexity import model_paths


def normalized_lines(paths: Iterable[str | Path]) -> Iterable[str]:
    """Non-empty CCNet-normalised lines of the reference files (plain or .gz)."""
    for path in paths:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="strict") as f:
            try:
                for line in f:
                    norm = normalize(line)
                    if norm:
                        yield norm
            except UnicodeDecodeError as exc:
                raise ValueError(f"reference text {path} is not valid UTF-8: {exc}") from None


def train_sentencepiece(text_file: Path, model_prefix: Path, vocab_size: int, seed_sentences: int) -> None:
    """Unigram SentencePiece with CCNet's defaults; shrinks the vocabulary if the text is too small."""
    import sentencepiece as spm

    kwargs = dict(input=str(text_file), model_prefix=str(model_prefix), model_type="unigram",
                  vocab_size=vocab_size, character_coverage=0.9999, input_sentence_size=seed_sentences,
                  shuffle_input_sentence=True, num_threads=os.cpu_count() or 1,
                  hard_vocab_limit=False, minloglevel=2)
    spm.SentencePieceTrainer.train(**kwargs)


def run_kenlm(pieces_file: Path, arpa: Path, binary: Path, order: int, memory: str) -> None:
    """lmplz then build_binary; discount fallback on for small reference texts."""
    lmplz = find_binary("lmplz")
    build_binary = find_binary("build_binary")
    with open(pieces_file, "rb") as src, open(arpa, "wb") as dst:
        res = subprocess.run([str(lmplz), "-o", str(order), "-S", memory, "-T", str(arpa.parent),
                              "--discount_fallback"], stdin=src, stdout=dst, stderr=subprocess.PIPE)
    if res.returncode != 0:
        raise RuntimeError(f"lmplz failed on {pieces_file}: {res.stderr.decode(errors='replace')[-2000:]}")
    res = subprocess.run([str(build_binary), str(arpa), str(binary)], capture_output=True)
    if res.returncode != 0:
        raise RuntimeError(f"build_binary failed on {arpa}: {res.stderr.decode(errors='replace')[-2000:]}")


def _say(message: str) -> None:
    print(f"lm-train {message}", file=sys.stderr, flush=True)


def train_language_models(lang: str, texts: list[str], out_dir: str | Path, vocab_size: int = 8000,
                          order: int = 5, memory: str = "20%", max_sentences: int = 2_000_000) -> tuple[Path, Path]:
    """Build MODELS/lm/<lang>.sp.model and <lang>.arpa.bin from reference text files."""
    for t in texts:
        if not Path(t).is_file():
            raise FileNotFoundError(f"reference text {t} does not exist")
    sp_path, lm_path = model_paths(out_dir, lang)
    sp_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"lm-train-{lang}-", dir=sp_path.parent) as tmp:
        tmpdir = Path(tmp)
        norm_file = tmpdir / "normalized.txt"
        n_lines = 0
        with open(norm_file, "w", encoding="utf-8") as f:
            for line in normalized_lines(texts):
                f.write(line + "\n")
                n_lines += 1
        if n_lines == 0:
            raise ValueError(f"reference text for {lang!r} ({', '.join(map(str, texts))}) has no usable lines")
        _say(f"{lang}: {n_lines:,} normalised lines; training SentencePiece (unigram, {vocab_size} pieces)")
        prefix = tmpdir / lang
        train_sentencepiece(norm_file, prefix, vocab_size, max_sentences)
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=str(prefix) + ".model")
        pieces_file = tmpdir / "pieces.txt"
        with open(norm_file, encoding="utf-8") as src, open(pieces_file, "w", encoding="utf-8") as dst:
            batch: list[str] = []
            for line in src:
                batch.append(line.rstrip("\n"))
                if len(batch) == 10_000:
                    dst.writelines(" ".join(p) + "\n" for p in sp.encode(batch, out_type=str))
                    batch = []
            if batch:
                dst.writelines(" ".join(p) + "\n" for p in sp.encode(batch, out_type=str))
        arpa = tmpdir / f"{lang}.arpa"
        tmp_bin = tmpdir / f"{lang}.arpa.bin"
        _say(f"{lang}: building the {order}-gram KenLM model (lmplz, build_binary)")
        run_kenlm(pieces_file, arpa, tmp_bin, order, memory)
        os.replace(str(prefix) + ".model", sp_path)
        os.replace(tmp_bin, lm_path)
    return sp_path, lm_path
