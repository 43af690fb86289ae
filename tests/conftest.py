"""Shared fixtures: demo models trained once per session, one pipeline run on the sample."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines import cli

DATA = Path(__file__).parent / "data"
SAMPLE_WET = DATA / "sample" / "wet"
SAMPLE_GLOB = str(SAMPLE_WET / "*.warc.wet.gz")
MODEL_LANGS = ("de", "en", "fr")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """CCNet-layout models for de/en/fr, trained by `llamapipe lm-train` on the bundled reference text."""
    out = tmp_path_factory.mktemp("models")
    for lang in MODEL_LANGS:
        rc = cli.main(["lm-train", "--lang", lang, "--text", str(DATA / "reference" / f"{lang}.txt.gz"),
                       "--out", str(out), "--vocab-size", "4000"])
        assert rc == 0
    return out


def run_ccnet(out: Path, inputs: list[str], models: Path | None, *extra: str) -> int:
    args = ["ccnet", "--output", str(out)]
    for pattern in inputs:
        args += ["--input", pattern]
    if models is not None:
        args += ["--models", str(models)]
    return cli.main(args + list(extra))


def read_stats(out: Path) -> dict:
    return json.loads((out / "_stats.json").read_text())


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory, models_dir) -> Path:
    """The sample through the whole pipeline with two worker processes."""
    out = tmp_path_factory.mktemp("run") / "out"
    assert run_ccnet(out, [SAMPLE_GLOB], models_dir, "--workers", "2") == 0
    return out


def run_dedup(out: Path, inputs: list[str], *extra: str) -> int:
    args = ["dedup", "--output", str(out)]
    for pattern in inputs:
        args += ["--input", pattern]
    return cli.main(args + list(extra))


@pytest.fixture(scope="session")
def dedup_run(tmp_path_factory) -> Path:
    """The sample's WET files through `llamapipe dedup` with two worker processes."""
    out = tmp_path_factory.mktemp("dedup") / "out"
    assert run_dedup(out, [SAMPLE_GLOB], "--workers", "2") == 0
    return out


@pytest.fixture(scope="session")
def tokenizer_model(tmp_path_factory, sample_run) -> Path:
    """A 4,000-piece LLaMA-style BPE tokenizer trained by `llamapipe tokenizer-train` on the sample run."""
    out = tmp_path_factory.mktemp("tok") / "tok.model"
    rc = cli.main(["tokenizer-train", "--corpus", f"cc={sample_run}", "--renormalize", "--vocab-size", "4000",
                   "--sample-docs", "400", "--seed", "3", "--out", str(out), "--workers", "2"])
    assert rc == 0
    return out


TWO_SOURCE_MIXTURE = "sources:\n  cc: {proportion: 0.8, epochs: 1.0}\n  wikipedia: {proportion: 0.2, epochs: 2.0}\n"


def run_tokenize(out: Path, corpus: list[str], tokenizer: Path, mixture: Path, *extra: str) -> int:
    args = ["tokenize", "--out", str(out), "--tokenizer", str(tokenizer), "--mixture", str(mixture)]
    for spec in corpus:
        args += ["--corpus", spec]
    return cli.main(args + list(extra))


@pytest.fixture(scope="session")
def token_run(tmp_path_factory, sample_run, tokenizer_model) -> Path:
    """The sample run tokenized as two sources (cc: everything, wikipedia: the French shards), 2 workers."""
    work = tmp_path_factory.mktemp("tokens")
    mixture = work / "mix.yaml"
    mixture.write_text(TWO_SOURCE_MIXTURE)
    out = work / "out"
    assert run_tokenize(out, [f"cc={sample_run}", f"wikipedia={sample_run / 'lang=fr'}"], tokenizer_model,
                        mixture, "--workers", "2") == 0
    return out
