"""`llamapipe tokenize`: token shards decode back to the corpus, mixture.json, accounting, determinism."""
import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm

from conftest import TWO_SOURCE_MIXTURE, run_tokenize
from corpus.shards import local_parquet_files
from pipelines import cli
from tokenizer.shards import ShardError, open_shard, read_mixture_json, summarise_tokens, verify_shards


def _texts(folder) -> list[str]:
    return [t for path, _ in local_parquet_files(str(folder)) for t in pq.read_table(path, columns=["text"]).column("text").to_pylist()]


@pytest.fixture(scope="module")
def mix_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mix") / "mix.yaml"
    path.write_text(TWO_SOURCE_MIXTURE)
    return path


def test_shards_decode_back_to_the_corpus(token_run, sample_run, tokenizer_model):
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_model))
    mixture = read_mixture_json(token_run)
    assert mixture["dtype"] == "uint16" and mixture["tokenizer"]["vocab_size"] == 4000
    for source, folder in (("cc", sample_run), ("wikipedia", sample_run / "lang=fr")):
        texts = _texts(folder)
        files = mixture["sources"][source]["files"]
        assert [f["input"] for f in files] == [p for p, _ in local_parquet_files(str(folder))]
        decoded = []
        for f in files:
            shard = open_shard(token_run / f["bin"], "uint16")
            assert shard.tokens.dtype == np.dtype("<u2")
            for i in range(shard.documents):
                doc = shard.document(i)
                assert doc[0] == sp.bos_id() and doc[-1] == sp.eos_id()
                assert sp.bos_id() not in doc[1:-1] and sp.eos_id() not in doc[1:-1]
                decoded.append(sp.decode(doc[1:-1].tolist()))
        assert decoded == texts
        assert mixture["sources"][source]["documents"] == len(texts)


def test_mixture_json_plans_the_budget(token_run):
    m = read_mixture_json(token_run)
    cc, wiki = m["sources"]["cc"], m["sources"]["wikipedia"]
    assert cc["tokens"] == sum(f["tokens"] for f in cc["files"])
    assert (cc["proportion"], cc["epochs"], wiki["proportion"], wiki["epochs"]) == (0.8, 1.0, 0.2, 2.0)
    # default budget: the largest that neither source needs more than its epochs for
    expected = int(min(1.0 * cc["tokens"] / 0.8, 2.0 * wiki["tokens"] / 0.2))
    assert m["token_budget"] == expected
    assert cc["realised_share"] == pytest.approx(0.8, abs=1e-5) and wiki["realised_share"] == pytest.approx(0.2, abs=1e-5)
    assert max(cc["required_epochs"], wiki["required_epochs"] / 2.0) == pytest.approx(1.0, abs=1e-5)
    assert len(m["tokenizer"]["sha256"]) == 64 and m["warnings"] == []
    verify_shards(token_run)


def test_accounting_manifest_and_success(token_run):
    stats = json.loads((token_run / "_stats.json").read_text())
    d = stats["documents"]
    assert d["read"] == d["written"] + sum(d["dropped"].values())
    m = read_mixture_json(token_run)
    assert d["written"] == sum(s["documents"] for s in m["sources"].values())
    assert stats["tokens"]["written"] == sum(s["tokens"] for s in m["sources"].values())
    manifest = json.loads((token_run / "_manifest.json").read_text())
    paths = {e["path"] for e in manifest["files"]}
    assert "mixture.json" in paths and "cc/part-00000.bin" in paths and "cc/part-00000.idx" in paths
    assert (token_run / "_SUCCESS").exists() and not (token_run / "_temporary").exists()
    assert stats["partitions"] == {"cc": m["sources"]["cc"]["documents"], "wikipedia": m["sources"]["wikipedia"]["documents"]}


def test_one_worker_gives_identical_bytes_and_rerun_is_safe(token_run, sample_run, tokenizer_model, tmp_path, capsys):
    out = tmp_path / "one"
    corpus = [f"cc={sample_run}", f"wikipedia={sample_run / 'lang=fr'}"]
    mix_file = token_run.parent / "mix.yaml"  # mixture.json records the mixture's path
    assert run_tokenize(out, corpus, tokenizer_model, mix_file, "--workers", "1") == 0
    for f in sorted(p.relative_to(token_run) for p in token_run.rglob("*") if p.is_file()):
        if f.name != "_stats.json":
            assert (out / f).read_bytes() == (token_run / f).read_bytes(), f
    assert run_tokenize(out, corpus, tokenizer_model, mix_file) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_shards_are_read_row_group_by_row_group(token_run, sample_run, tokenizer_model, tmp_path):
    """Shards rewritten with row groups of 7 documents tokenize to the same bytes, and a sample drawn
    from them by tokenizer-train is the same sample."""
    copy = tmp_path / "groups"
    shutil.copytree(sample_run, copy)
    for name in ("_SUCCESS", "_manifest.json"):
        (copy / name).unlink()
    for path, _ in local_parquet_files(str(copy)):
        table = pq.read_table(path)
        pq.write_table(table, path, row_group_size=7)
        assert pq.ParquetFile(path).num_row_groups == -(-table.num_rows // 7)
    out = tmp_path / "tokens"
    corpus = [f"cc={copy}", f"wikipedia={copy / 'lang=fr'}"]
    assert run_tokenize(out, corpus, tokenizer_model, token_run.parent / "mix.yaml", "--allow-incomplete",
                        "--workers", "1") == 0
    for f in sorted(p.relative_to(token_run) for p in token_run.rglob("*.bin")) + \
            sorted(p.relative_to(token_run) for p in token_run.rglob("*.idx")):
        assert (out / f).read_bytes() == (token_run / f).read_bytes(), f
    tok = tmp_path / "tok" / "tok.model"
    assert cli.main(["tokenizer-train", "--corpus", f"cc={copy}", "--renormalize", "--vocab-size", "4000",
                     "--sample-docs", "400", "--seed", "3", "--out", str(tok), "--workers", "1",
                     "--allow-incomplete"]) == 0
    assert tok.read_bytes() == tokenizer_model.read_bytes()
    assert json.loads(tok.with_suffix(".json").read_text())["sample"] == \
        json.loads(tokenizer_model.with_suffix(".json").read_text())["sample"]


def test_bucket_selection_counts_what_it_drops(sample_run, tokenizer_model, tmp_path):
    mix = tmp_path / "cc.yaml"
    mix.write_text("sources:\n  cc: {proportion: 1.0, epochs: 1.0}\n")
    out = tmp_path / "heads"
    assert run_tokenize(out, [f"cc={sample_run}"], tokenizer_model, mix, "--bucket", "head", "--workers", "1") == 0
    stats = json.loads((out / "_stats.json").read_text())
    heads = _texts(sample_run / "lang=en" / "bucket=head") + _texts(sample_run / "lang=de" / "bucket=head") \
        + _texts(sample_run / "lang=fr" / "bucket=head")
    assert stats["documents"]["written"] == len(heads)
    assert stats["documents"]["dropped"]["bucket_not_selected"] == len(_texts(sample_run)) - len(heads)
    assert stats["chars"]["read"] == stats["chars"]["written"] + sum(stats["chars"]["dropped"].values())


def test_budget_beyond_epochs_warns_naming_the_source(sample_run, tokenizer_model, mix_file, tmp_path, capsys):
    out = tmp_path / "big"
    corpus = [f"cc={sample_run}", f"wikipedia={sample_run / 'lang=fr'}"]
    assert run_tokenize(out, corpus, tokenizer_model, mix_file, "--token-budget", "100000000", "--workers", "1") == 0
    m = read_mixture_json(out)
    assert any(w.startswith("source wikipedia:") for w in m["warnings"])
    assert any(w.startswith("source cc:") for w in m["warnings"])
    assert "warning: source wikipedia:" in capsys.readouterr().err
    assert m["sources"]["wikipedia"]["epochs_used"] == pytest.approx(2.0)


def test_mixture_problems_are_refused(sample_run, tokenizer_model, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  cc: {proportion: 0.5}\n  wikipedia: {proportion: 0.3}\n")
    assert run_tokenize(tmp_path / "a", [f"cc={sample_run}"], tokenizer_model, bad) == 2
    assert "proportions sum to 0.8, not 1" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text(TWO_SOURCE_MIXTURE)
    assert run_tokenize(tmp_path / "b", [f"cc={sample_run}"], tokenizer_model, good) == 2
    assert "wikipedia are in the mixture but have no --corpus" in capsys.readouterr().err
    assert run_tokenize(tmp_path / "c", [f"cc={sample_run}", f"books={sample_run}"], tokenizer_model, good,
                        "--renormalize") == 2
    assert "no proportion for source(s) books" in capsys.readouterr().err
    assert cli.main(["tokenize", "--corpus", f"cc={sample_run}", "--tokenizer", str(tmp_path / "no.model"),
                     "--out", str(tmp_path / "d")]) == 2
    assert "no.model does not exist" in capsys.readouterr().err


def test_corrupt_input_shard_is_named(sample_run, tokenizer_model, tmp_path, capsys):
    mix = tmp_path / "cc.yaml"
    mix.write_text("sources:\n  cc: {proportion: 1.0, epochs: 1.0}\n")
    finished = tmp_path / "finished"
    shutil.copytree(sample_run, finished)
    victim = sorted(finished.rglob("*.parquet"))[1]
    victim.write_bytes(victim.read_bytes()[:200])
    assert run_tokenize(tmp_path / "out", [f"cc={finished}"], tokenizer_model, mix, "--workers", "1") == 2
    err = capsys.readouterr().err
    assert str(victim) in err and "holds 200 bytes" in err
    assert not (tmp_path / "out").exists()
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_run / "lang=en", corpus / "lang=en")
    victim = sorted(corpus.rglob("*.parquet"))[1]
    victim.write_bytes(victim.read_bytes()[:200])
    assert run_tokenize(tmp_path / "out", [f"cc={corpus}"], tokenizer_model, mix, "--workers", "1",
                        "--allow-incomplete") == 2
    err = capsys.readouterr().err
    assert str(victim) in err and "not a readable Parquet corpus shard" in err
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_truncated_or_missing_token_files_are_named(token_run, tmp_path):
    copy = tmp_path / "tokens"
    shutil.copytree(token_run, copy)
    victim = copy / "cc" / "part-00001.bin"
    victim.write_bytes(victim.read_bytes()[:-4])
    with pytest.raises(ShardError, match="part-00001"):
        verify_shards(copy)
    with pytest.raises(ShardError, match="part-00001"):
        summarise_tokens(copy)
    victim.unlink()
    with pytest.raises(ShardError, match=r"part-00001.bin is missing"):
        verify_shards(copy)
