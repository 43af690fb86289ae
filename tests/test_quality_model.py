"""The quality classifier's model side (SOURCES.md 1(e) 3-8): the fastText CLI trains byte-identical
models, fasttext-predict scores as the CLI does, `__label__` in text makes no label, held-out P@1, the
threshold (kept at exactly it) in quality-filter and `ccnet --quality-model`, and clean errors for a
missing binary or model before anything runs."""
from __future__ import annotations

import glob
import gzip
import hashlib
import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from corpus.counters import Counters, check_accounting
from corpus.document import Document
from corpus.faults import Fault
from corpus.sampling import sample_key
from filters.fasttext_build import find_fasttext
from filters.quality import CC, WIKI, QualityScorer, scoring_text, training_line, wiki_probability
from pipelines import cli
from pipelines.steps.ccnet import wet_documents
from pipelines.steps.chain import Batch
from pipelines.steps.quality import WikiReference
from tests.conftest import DATA, SAMPLE_GLOB, read_stats, run_ccnet

QUALITY_WET = str(DATA / "quality" / "wet" / "*.warc.wet.gz")
EVIL = "__label__evil"
TEXT_CHARS = 1000  # each synthetic document's first characters: keeps a training to a few seconds


def synthetic_data(folder: Path) -> None:
    """2 x ~1000 lines: reference prose (wiki) against the sample's WET records (cc, random web pages),
    TEXT_CHARS of each; every 10th line by hash held out; a few lines carry `__label__evil` in their text."""
    lines = gzip.decompress((DATA / "reference" / "en.txt.gz").read_bytes()).decode("utf-8").splitlines()
    wiki = [line for line in lines if len(line) > 200][:1000]
    web = [d.text for f in sorted(glob.glob(SAMPLE_GLOB)) for d in wet_documents(f, "cc") if not isinstance(d, Fault)]
    rows = [(WIKI, t[:TEXT_CHARS]) for t in wiki] + [(CC, t[:TEXT_CHARS]) for t in web]
    rows += [(CC, f"buy now {EVIL} cheap offer {i}") for i in range(5)]
    rows.sort(key=lambda r: sample_key(0, r[1]))
    folder.mkdir()
    with open(folder / "train.txt", "w", encoding="utf-8") as train, open(folder / "valid.txt", "w",
                                                                          encoding="utf-8") as valid:
        for i, (label, text) in enumerate(rows):
            (valid if i % 10 == 0 else train).write(training_line(label, text) + "\n")


def train(data: Path, out: Path, *extra: str) -> int:
    return cli.main(["quality-train", "--data", str(data), "--output", str(out), "--epoch", "20", *extra])


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("qmodel")
    synthetic_data(root / "data")
    assert train(root / "data", root / "m1") == 0
    return root


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_trainings_are_byte_identical(model):
    assert train(model / "data", model / "m2") == 0
    assert sha256(model / "m1" / "model.bin") == sha256(model / "m2" / "model.bin")
    report = json.loads((model / "m1" / "model.json").read_text())
    assert report["model_sha256"] == sha256(model / "m1" / "model.bin")
    assert report["train_sha256"] == sha256(model / "data" / "train.txt")


def test_label_in_text_makes_no_third_label(model):
    assert EVIL not in (model / "data" / "train.txt").read_text()
    assert json.loads((model / "m1" / "model.json").read_text())["labels"] == [CC, WIKI]


def test_held_out_precision(model):
    report = json.loads((model / "m1" / "model.json").read_text())
    assert report["test"]["n"] > 150 and report["test"]["precision_at_1"] >= 0.9
    per_label = report["per_label"]
    assert set(per_label) == {CC, WIKI} and min(v["recall"] for v in per_label.values()) > 0.8


def test_training_into_a_model_dir_needs_overwrite(model, capsys):
    assert train(model / "data", model / "m1") == 2
    assert "--overwrite" in capsys.readouterr().err


def test_predict_equals_the_cli(model):
    import subprocess

    texts = [line.split(" ", 1)[1] for line in (model / "data" / "valid.txt").read_text().splitlines()[:100]]
    bin_path = model / "m1" / "model.bin"
    out = subprocess.run([str(find_fasttext()), "predict-prob", str(bin_path), "-", "1"],
                         input="".join(scoring_text(t) + "\n" for t in texts), capture_output=True, text=True,
                         check=True).stdout.splitlines()
    scorer = QualityScorer(bin_path)
    assert len(out) == len(texts) == 100
    for text, line in zip(texts, out):
        label, prob = line.split()
        ours = scorer.top(text)
        assert ours[0] == label
        assert abs(wiki_probability(*ours, decimals=None) - wiki_probability(label, float(prob), decimals=None)) <= 1e-6


def test_threshold_is_inclusive_and_counted(model):
    scorer = QualityScorer(model / "m1" / "model.bin")
    texts = [line.split(" ", 1)[1] for line in (model / "data" / "valid.txt").read_text().splitlines()[:20]]
    probs = scorer.wiki_probs(texts)
    at = sorted(probs)[10]
    docs = [Document(id=f"d{i}", source="cc", text=t) for i, t in enumerate(texts)]
    counters = Counters()
    kept = WikiReference(scorer, at)(Batch.of(list(enumerate(docs))), counters)
    assert [d.meta["wiki_prob"] for d in kept.docs] == [p for p in probs if p >= at]
    assert any(d.meta["wiki_prob"] == at for d in kept.docs)
    assert counters.drops["not_wiki_reference"].docs == sum(p < at for p in probs)


def corpus_docs(folder: Path) -> list[dict]:
    return ds.dataset(folder, format="parquet", partitioning="hive").to_table().to_pylist()


def test_quality_filter_and_ccnet_flag(model, tmp_path):
    corpus = tmp_path / "cc"
    assert run_ccnet(corpus, [QUALITY_WET], None, "--workers", "1") == 0
    docs = corpus_docs(corpus)
    scorer = QualityScorer(model / "m1" / "model.bin")
    probs = {d["id"]: p for d, p in zip(docs, scorer.wiki_probs([d["text"] for d in docs]))}
    threshold = sorted(probs.values())[len(probs) // 3]
    for workers in ("1", "2"):
        rc = cli.main(["quality-filter", "--corpus", str(corpus), "--model", str(model / "m1" / "model.bin"),
                       "--output", str(tmp_path / f"qf{workers}"), "--threshold", str(threshold),
                       "--buckets", "all", "--workers", workers])
        assert rc == 0
    kept = corpus_docs(tmp_path / "qf1")
    assert {d["id"] for d in kept} == {i for i, p in probs.items() if p >= threshold}
    assert all(json.loads(d["meta"])["wiki_prob"] == probs[d["id"]] for d in kept)
    stats = read_stats(tmp_path / "qf1")
    assert not check_accounting(stats)
    assert stats["documents"]["dropped"] == {"not_wiki_reference": sum(p < threshold for p in probs.values())}
    for part in (tmp_path / "qf1").rglob("*.parquet"):
        assert part.read_bytes() == (tmp_path / "qf2" / part.relative_to(tmp_path / "qf1")).read_bytes()

    from pipelines.report.stats import summarise, write_html

    summary = summarise(str(tmp_path / "qf1"))
    assert summary["wiki_prob"]["documents"] == len(kept) and summary["wiki_prob"]["threshold"] == threshold
    assert sum(summary["wiki_prob"]["histogram"]["counts"]) == len(kept)
    write_html(summary, str(tmp_path / "report.html"))
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"wiki_prob ({len(kept):,} docs)" in page and f"keep ≥ {threshold:g}" in page
    assert "wiki_prob" not in summarise(str(corpus))

    out = tmp_path / "ccq"
    assert run_ccnet(out, [QUALITY_WET], None, "--workers", "1", "--quality-model", str(model / "m1" / "model.bin"),
                     "--quality-threshold", str(threshold)) == 0
    assert sorted(d["text"] for d in corpus_docs(out)) == sorted(d["text"] for d in kept)
    stats = read_stats(out)
    assert stats["documents"]["dropped"]["not_wiki_reference"] == len(docs) - len(kept)
    assert stats["config"]["quality_threshold"] == threshold
    assert stats["config"]["quality_model_sha256"] == sha256(model / "m1" / "model.bin")


def test_missing_binary_or_model_is_a_clean_error(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.txt").write_text(f"{WIKI} a\n{CC} b\n")
    (data / "valid.txt").write_text(f"{WIKI} a\n")
    monkeypatch.setenv("LLAMAPIPE_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("FASTTEXT_BIN", raising=False)
    assert train(data, tmp_path / "m") == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "empty-cache" / "fasttext-0.9.3" / "bin" / "fasttext") in err
    assert "filters.fasttext_build" in err and not (tmp_path / "m").exists()

    missing = tmp_path / "nope.bin"
    rc = cli.main(["quality-filter", "--corpus", str(tmp_path), "--model", str(missing), "--output", str(tmp_path / "o")])
    assert rc == 2 and str(missing) in capsys.readouterr().err and not (tmp_path / "o").exists()
    rc = run_ccnet(tmp_path / "c", [QUALITY_WET], None, "--quality-model", str(missing))
    assert rc == 2 and str(missing) in capsys.readouterr().err and not (tmp_path / "c").exists()
