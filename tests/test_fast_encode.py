"""tokenizer.fast_encode: the chunk-cached encoder gives SentencePiece's ids exactly, or encodes plainly."""
import dataclasses
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.shards import local_parquet_files
from tokenizer.encode import encode_texts
from tokenizer.fast_encode import SPACE, ChunkEncoder, chunk_safety, text_keys
from tests.shared_inputs import reference_lines
from tokenizer.sp_proto import read_settings
from tokenizer.train import train_tokenizer

# lines with runs of spaces and tabs, so the model learns whitespace-only pieces ("▁▁", "▁▁▁▁") and "▁\t"
INDENTED = ["    indented code  here", "a  b   c    d", "\tx\ty", "x = 1   # comment", "  two  spaces  "] * 60
EDGES = ["", " ", "   ", "\n", "\n\n", " \n ", "x", "leading", " leading space", "trailing space ", "two  spaces",
         "a\nb", "a \nb", "a\n b", "a \n b", "\nstart", "end\n", "a\n\n  b \n\tc", "\t tab", "x\r\ny", "digits 1234567890",
         "3.14159", "emoji 🦙🚀", "NBSP\u00a0here", "zero\u200bwidth", "▁ literal", "a▁ b", "a ▁b", "▁\n▁", "▁▁x ▁",
         "中文 日本語 한국어", "\x00\x01 controls", "e\u0301 combining", "trailing\t", "  \n  \n"]


def _train(folder: Path, name: str, **overrides) -> str:
    text = folder / "train.txt"
    if not text.exists():
        text.write_text("\n".join(reference_lines(1200) + INDENTED) + "\n", encoding="utf-8")
    return str(train_tokenizer([text], 1500, folder / f"{name}.model", threads=1, **overrides))


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    """(SentencePieceProcessor, model path) of a 1,500-piece tokenizer with the LLaMA settings."""
    model = _train(tmp_path_factory.mktemp("fast_tok"), "llama")
    return spm.SentencePieceProcessor(model_file=model), model


def _assert_same(encoder: ChunkEncoder, sp, texts: list[str]) -> None:
    want_tokens, want_offsets = encode_texts(sp, texts)
    tokens, offsets = encoder.encode_packed(texts)
    assert tokens.dtype == np.uint32 and offsets.dtype == np.int64
    assert np.array_equal(offsets, want_offsets)
    if not np.array_equal(tokens, want_tokens):
        for i, text in enumerate(texts):
            got = tokens[offsets[i]:offsets[i + 1]].tolist()
            assert got == want_tokens[want_offsets[i]:want_offsets[i + 1]].tolist(), f"ids differ for {text!r}"


def test_llama_settings_take_the_chunk_path_and_match_on_documents_and_edges(llama):
    sp, model = llama
    encoder = ChunkEncoder(sp, model)
    assert encoder.exact_reason is None
    assert any(set(sp.id_to_piece(i)) == {SPACE} and len(sp.id_to_piece(i)) > 1 for i in range(sp.get_piece_size()))
    lines = reference_lines(600)[::-1]  # mostly other lines than the training text's first ones
    documents = ["\n".join(lines[i:i + 12]) for i in range(0, len(lines), 12)]
    _assert_same(encoder, sp, documents + EDGES + documents)  # the second copy is served from the cache
    _assert_same(encoder, sp, [])


def test_keys_cover_the_text_and_newlines_open_keys():
    assert text_keys("a b") == ["a", "b"]
    assert text_keys("a  b ") == ["a", " b", ""]
    assert text_keys("a\nb c") == ["a", "\nb", "c"]
    assert text_keys("a \nb") == ["a", "", "\nb"]
    assert text_keys("\n x") == ["", "\n", "x"]
    for text in EDGES:
        keys = text_keys(text)
        assert all("\n" not in k[1:] for k in keys)
        # each key is its chunk less the space (or "▁": the same to SentencePiece) the dummy prefix restores;
        # a newline key has none before it
        rebuilt = "".join(k if k[:1] == "\n" else " " + k for k in keys)
        assert rebuilt.replace(SPACE, " ") == (" " + text if text else "").replace(SPACE, " "), text


_ALPHABET = st.one_of(st.sampled_from([" ", " ", "  ", "\n", "\t", SPACE, "\r", "a", "b", "ab", "the", "é", "1"]),
                      st.characters(codec="utf-8", exclude_categories=("Cs",)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.lists(_ALPHABET, max_size=30).map("".join), max_size=6))
def test_arbitrary_unicode_matches_sentencepiece(llama, texts):
    sp, model = llama
    _assert_same(_shared_encoder(llama), sp, texts)


_ENCODERS: dict = {}


def _shared_encoder(llama) -> ChunkEncoder:
    """One small-cache encoder for all hypothesis examples: entries from earlier texts, and clears, in play."""
    sp, model = llama
    if model not in _ENCODERS:
        _ENCODERS[model] = ChunkEncoder(sp, model, max_entries=200, max_tokens=600)
    return _ENCODERS[model]


def test_seeded_mixed_scripts_with_a_tiny_cache(llama):
    sp, model = llama
    rng = random.Random(14)
    pieces = list("abcdefghij0123456789.,-()") + [" ", " ", " ", "  ", "\n", "\n\n", "\t", "\r", SPACE, "\x00", "\x7f",
                                                   "\u00a0", "\u200b", "\u3000", "\ufeff", "é", "ß", "ж", "中", "文",
                                                   "한", "ع", "😀", "🦙", "\U0010ffff", "the ", "and ", "der "]
    texts = []
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        if rng.random() < 0.2:
            text += "".join(chr(rng.choice([rng.randint(1, 0xD7FF), rng.randint(0xE000, 0x10FFFF)])) for _ in range(8))
        texts.append(text)
    encoder = ChunkEncoder(sp, model, max_entries=300, max_tokens=1000)
    _assert_same(encoder, sp, texts)
    unique = len({k for t in texts for k in text_keys(t)})
    assert len(encoder._starts) < unique  # the cache was cleared along the way


def test_sample_corpus_with_the_tokenizer_train_model(sample_run, tokenizer_model):
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_model))
    encoder = ChunkEncoder(sp, tokenizer_model)
    assert encoder.exact_reason is None
    for path, _ in local_parquet_files(str(sample_run)):
        texts = [t for t in pq.read_table(path, columns=["text"]).column("text").to_pylist() if t.strip()]
        encoder.clear()
        _assert_same(encoder, sp, texts)


def test_models_that_merge_across_spaces_encode_plainly(tmp_path, llama):
    sp, model = llama
    text = EDGES + ["\n".join(reference_lines(200)[::-1])]
    cases = {"remove_extra_whitespaces": _train(tmp_path, "squeeze", remove_extra_whitespaces=True),
             "piece": _train(tmp_path, "across", split_by_whitespace=False),
             "normalizer_name": _train(tmp_path, "nfkc", normalization_rule_name="nfkc")}
    for reason, path in cases.items():
        other = spm.SentencePieceProcessor(model_file=path)
        encoder = ChunkEncoder(other, path)
        assert encoder.exact_reason is not None and encoder.exact_reason.startswith(reason), encoder.exact_reason
        _assert_same(encoder, other, text)
    settings_ = read_settings(model)
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    assert chunk_safety(settings_, pieces) is None
    assert chunk_safety(settings_, pieces + ["of" + SPACE + "the"]).startswith("piece ")
    assert chunk_safety(settings_, pieces + [".\n"]).startswith("piece ")
    assert chunk_safety(settings_, [p for p in pieces if p != SPACE]).startswith("no piece")
    assert chunk_safety(dataclasses.replace(settings_, model_type="unigram"), pieces).startswith("model_type")
