"""cc_net's scored length, `len(" ".join(pieces).split()) + 1`, counted from the pieces without splitting."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

import sys

from filters.perplexity import _OTHER_WHITESPACE, MultiLanguageScorer, perplexity_from_score, token_count
from tests.test_pipeline_shape import SAMPLE
from pipelines.steps.ccnet import wet_documents

PIECE = st.one_of(st.text(max_size=4), st.sampled_from(["", " ", "  ", "\xa0", "\u3000", "\u2028", "▁the", "a b", "\x1c", "\t"]))


@settings(max_examples=500, deadline=None)
@given(st.lists(PIECE, max_size=10))
def test_token_count_equals_split(pieces):
    line = " ".join(pieces)
    assert token_count(line, pieces) == len(line.split()) + 1


def test_other_whitespace_is_every_whitespace_code_point_but_space():
    every = tuple(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() and c != " ")
    assert _OTHER_WHITESPACE == every


def test_scores_equal_the_split_formula(models_dir):
    texts = [d.text for d in wet_documents(str(SAMPLE[0]), "cc") if hasattr(d, "text")][:40]
    texts += ["", "  \n ", "１２ 　 x"]
    scorers = MultiLanguageScorer(models_dir)
    for lang in scorers.langs:
        s = scorers.scorer(lang)
        expected = []
        for t in texts:
            line = " ".join(s.tokenize(t))
            expected.append(perplexity_from_score(s.lm.score(line), len(line.split()) + 1))
        assert s.perplexities(texts) == expected
