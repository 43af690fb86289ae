"""`--line-dedup keep-first`, `--bucket-cutoffs FILE`, `--langs`, and the models lm-train writes."""
from __future__ import annotations

import json
from collections import Counter

import kenlm
import pyarrow.parquet as pq
import sentencepiece

from corpus.document import table_to_documents
from corpus.counters import check_accounting
from dedup.lines import line_hashes
from filters.buckets import read_cutoffs_csv, write_cutoffs_csv
from tests.conftest import SAMPLE_GLOB, read_stats, run_ccnet
from tests.test_ccnet_pipeline import TRUTH, output_rows


def test_keep_first_keeps_one_copy(sample_run, models_dir, tmp_path):
    out = tmp_path / "kf"
    assert run_ccnet(out, [SAMPLE_GLOB], models_dir, "--line-dedup", "keep-first") == 0
    stats, ccnet_stats = read_stats(out), read_stats(sample_run)
    assert check_accounting(stats) == []
    assert stats["lines"]["written"] > ccnet_stats["lines"]["written"]
    rows = output_rows(out)
    seen = Counter(h for r in rows for h in set(line_hashes(r["text"].split("\n")).tolist()))
    assert max(seen.values()) == 1
    # of each planted exact-duplicate cluster, exactly one document survives
    written_ids = {json.loads(r["meta"])["warc_record_id"] for r in rows}
    clusters: dict[str, list[str]] = {}
    for t in TRUTH.values():
        if t["cluster_kind"] == "exact" and t["text_chars"] >= 300:
            clusters.setdefault(t["cluster"], []).append(t["id"])
    checked = 0
    for ids in clusters.values():
        if len(ids) >= 2:
            assert len(written_ids & set(ids)) <= 1
            checked += 1
    assert checked >= 5


def test_cutoff_file_and_langs(sample_run, models_dir, tmp_path):
    cut = {"en": [float(p * 10) for p in range(101)]}  # head below 300, tail from 600
    csv_path = tmp_path / "cutoff.csv"
    csv_path.write_text(write_cutoffs_csv(cut))
    assert read_cutoffs_csv(csv_path.read_text())["en"][30] == 300.0
    out = tmp_path / "cf"
    assert run_ccnet(out, [SAMPLE_GLOB], models_dir, "--bucket-cutoffs", str(csv_path), "--langs", "en,de") == 0
    rows = output_rows(out)
    assert {r["lang"] for r in rows} == {"en", "de"}
    for r in rows:
        if r["lang"] == "en":
            want = "head" if r["perplexity"] < 300 else ("middle" if r["perplexity"] < 600 else "tail")
        else:
            want = "all"  # no cutoffs for de in the file, as CCNet does
        assert r["bucket"] == want
    stats = read_stats(out)
    assert stats["documents"]["dropped"]["lang_not_selected"] > 300
    assert check_accounting(stats) == []


def test_bad_cutoff_file_is_refused(tmp_path, capsys):
    bad = tmp_path / "cutoff.csv"
    bad.write_text(",en\n0,1.0\n")
    assert run_ccnet(tmp_path / "o", [SAMPLE_GLOB], None, "--bucket-cutoffs", str(bad)) == 2
    assert "lacks percentile 30" in capsys.readouterr().err


def test_lm_train_writes_ccnet_named_models(models_dir):
    for lang in ("de", "en", "fr"):
        sp = sentencepiece.SentencePieceProcessor(model_file=str(models_dir / "lm" / f"{lang}.sp.model"))
        lm = kenlm.Model(str(models_dir / "lm" / f"{lang}.arpa.bin"))
        assert lm.order == 5 and 1000 < sp.get_piece_size() <= 4000
    sp = sentencepiece.SentencePieceProcessor(model_file=str(models_dir / "lm" / "en.sp.model"))
    lm = kenlm.Model(str(models_dir / "lm" / "en.arpa.bin"))
    def pp(text):
        pieces = sp.encode(text, out_type=str)
        return 10 ** (-lm.score(" ".join(pieces)) / (len(pieces) + 1))
    # in-domain English scores far better than shuffled words
    good = "the package manager installs the software and its dependencies on the system"
    assert pp(good) * 5 < pp(" ".join(reversed(good.split())) + " zq xv")


def test_lm_train_bad_input(tmp_path, capsys):
    from pipelines import cli
    assert cli.main(["lm-train", "--lang", "en", "--text", str(tmp_path / "missing.txt"), "--out", str(tmp_path)]) == 2
    assert "missing.txt does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9 latin-1 text\n")
    assert cli.main(["lm-train", "--lang", "en", "--text", str(bad), "--out", str(tmp_path)]) == 2
    assert "not valid UTF-8" in capsys.readouterr().err


def test_shards_are_readable_as_one_hive_dataset(sample_run):
    import pyarrow.dataset as ds
    dataset = ds.dataset(str(sample_run), format="parquet", partitioning="hive",
                         exclude_invalid_files=True, ignore_prefixes=["_"])
    table = dataset.to_table(columns=["id", "lang", "bucket"])
    assert table.num_rows == read_stats(sample_run)["documents"]["written"]
    part = next(sample_run.glob("lang=en/bucket=head/*.parquet"))
    assert pq.read_metadata(part).row_group(0).column(0).compression == "ZSTD"
    docs = table_to_documents(pq.read_table(part))
    assert docs and all(d.lang == "en" and d.bucket == "head" and "warc_record_id" in d.meta for d in docs)
