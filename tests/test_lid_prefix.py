"""`--lid-max-chars N`: LID sees only each document's first N characters; off by default (cc_net parity)."""
from __future__ import annotations

import pytest

from corpus.counters import Counters, check_accounting
from corpus.document import Document
from filters.lid import LanguageIdentifier, default_lid_model
from pipelines.steps.ccnet import CCNetConfig, LanguageId
from pipelines.steps.chain import Batch
from pipelines.steps.checks import ConfigError
from tests.conftest import SAMPLE_GLOB, read_stats, run_ccnet

EN = "This is a plain English sentence about the weather and the garden. " * 4
DE = "Dies ist ein ganz normaler deutscher Satz über das Wetter und den Garten. " * 12


def test_prefix_decides_the_label():
    lid = LanguageIdentifier(default_lid_model())
    doc = lambda: Document(id="a", source="t", text=EN + "\n" + DE)
    whole = LanguageId(lid, 0.0)(Batch.of([(0, doc())]), Counters()).docs[0]
    prefix = LanguageId(lid, 0.0, max_chars=len(EN))(Batch.of([(0, doc())]), Counters()).docs[0]
    assert whole.lang == "de" and prefix.lang == "en"
    assert (prefix.lang, prefix.lang_score) == lid.predict_one(EN)
    assert prefix.text == EN + "\n" + DE          # the document itself is not cut


def test_config_and_run_info():
    assert CCNetConfig().lid_max_chars is None
    assert "lid_max_chars" not in CCNetConfig().run_info()
    assert CCNetConfig(lid_max_chars=2000).run_info()["lid_max_chars"] == 2000
    with pytest.raises(ConfigError, match="--lid-max-chars"):
        CCNetConfig(lid_max_chars=0)


def test_cli_flag(tmp_path, models_dir, capsys):
    with pytest.raises(SystemExit):
        run_ccnet(tmp_path / "bad", [SAMPLE_GLOB], models_dir, "--lid-max-chars", "0")
    assert "--lid-max-chars" in capsys.readouterr().err
    out = tmp_path / "out"
    assert run_ccnet(out, [SAMPLE_GLOB], models_dir, "--lid-max-chars", "200") == 0
    stats = read_stats(out)
    assert stats["config"]["lid_max_chars"] == 200
    assert check_accounting(stats) == []
