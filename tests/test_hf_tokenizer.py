"""tokenizer.json built from our SentencePiece model: same ids (with BOS) and decodes in transformers' AutoTokenizer."""
import shutil

import pytest
import sentencepiece as spm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenizer.hf_tokenizer import (SPECIALS, UnsupportedTokenizer, bpe_merges, build_tokenizer_json, check_settings,
                                    tokenizer_config)
from tests.shared_inputs import reference_lines
from tokenizer.sp_proto import ModelFileError, read_settings
from tokenizer.train import train_tokenizer

EDGES = ["", " ", "   ", " leading space", "trailing space ", "two  spaces", "\n", "a\nb", "\t tab", "x\r\ny",
         "digits 1234567890", "3.14159", "emoji 🦙🚀 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "NBSP\u00a0here", "zero\u200bwidth", "▁ literal",
         "ﬁ ligature and ｆｕｌｌ width", "e\u0301 combining", "中文 日本語 한국어", "العربية", "\x00\x01 controls"]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    """A 1,500-piece LLaMA-settings tokenizer, and its Hugging Face files loaded with AutoTokenizer."""
    from transformers import AutoTokenizer

    work = tmp_path_factory.mktemp("hf_tok")
    text = work / "train.txt"
    text.write_text("\n".join(reference_lines(1500)) + "\n", encoding="utf-8")
    model = train_tokenizer([text], 1500, work / "tok.model", threads=1)
    folder = work / "hf"
    folder.mkdir()
    (folder / "tokenizer.json").write_text(build_tokenizer_json(model), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(tokenizer_config(2048), encoding="utf-8")
    shutil.copyfile(model, folder / "tokenizer.model")
    return spm.SentencePieceProcessor(model_file=str(model)), AutoTokenizer.from_pretrained(str(folder)), model


def _mismatch(sp, hf, text: str):
    ours = [sp.bos_id()] + sp.encode(text)
    theirs = hf(text)["input_ids"]
    if ours != theirs:
        return f"ids differ for {text!r}: {ours[:12]} vs {theirs[:12]}"
    if hf.decode(theirs, skip_special_tokens=True) != sp.decode(ours[1:]):
        return f"decode differs for {text!r}"
    return None


def test_documents_and_edge_cases_match_sentencepiece(tok):
    sp, hf, _ = tok
    texts = reference_lines(400)[::-1] + EDGES  # other lines than most of the training text's
    problems = [m for m in (_mismatch(sp, hf, t) for t in texts) if m]
    assert not problems, problems[:5]
    assert type(hf).__name__ in ("PreTrainedTokenizerFast", "TokenizersBackend") and hf.bos_token_id == 1
    assert hf.eos_token_id == 2 and hf.unk_token_id == 0
    assert any(sp.id_to_piece(i).startswith("<0x") for i in hf("🦙")["input_ids"])  # byte fallback was exercised


_NO_SPECIALS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60).filter(
    lambda s: not any(t in s for t in SPECIALS))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_NO_SPECIALS)
def test_arbitrary_unicode_matches_sentencepiece(tok, text):
    sp, hf, _ = tok
    assert _mismatch(sp, hf, text) is None


def test_literal_special_token_text_is_special_in_transformers(tok):
    """Documented difference: transformers reads "<s>" in text as the BOS token, SentencePiece as characters."""
    sp, hf, _ = tok
    assert hf("a <s> b")["input_ids"].count(1) == 2 and ([1] + sp.encode("a <s> b")).count(1) == 1


def test_merges_rank_by_the_merged_piece_then_its_halves():
    vocab = {"<unk>": 0, "a": 1, "b": 2, "c": 3, "ab": 4, "bc": 5, "abc": 6}
    assert bpe_merges(vocab) == [("a", "b"), ("b", "c"), ("a", "bc"), ("ab", "c")]


def test_settings_are_read_from_the_model_file(tok):
    settings_ = check_settings(tok[2])
    assert (settings_.model_type, settings_.normalizer_name, settings_.byte_fallback) == ("bpe", "identity", True)
    assert settings_.add_dummy_prefix and not settings_.remove_extra_whitespaces


def test_a_normalising_model_is_refused_naming_it_and_the_settings(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("\n".join(reference_lines(300)) + "\n", encoding="utf-8")
    model = train_tokenizer([text], 400, tmp_path / "nfkc.model", threads=1,
                            normalization_rule_name="nmt_nfkc", remove_extra_whitespaces=True)
    with pytest.raises(UnsupportedTokenizer) as err:
        build_tokenizer_json(model)
    message = str(err.value)
    assert str(model) in message and "normalizer_name='nmt_nfkc'" in message
    assert "remove_extra_whitespaces=True" in message and "precompiled_charsmap=True" in message


def test_a_file_that_is_no_model_is_named(tmp_path):
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"\xff\xff\xff")
    with pytest.raises(ModelFileError, match="junk.model"):
        read_settings(junk)
