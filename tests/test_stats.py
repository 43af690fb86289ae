"""`llamapipe stats`: numbers equal a direct computation; footers answer label columns; HTML report."""
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus.shards import local_parquet_files
from corpus.summary import constant_from_statistics
from pipelines import cli


def _stats_json(path, capsys) -> dict:
    assert cli.main(["stats", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_corpus_summary_equals_direct_computation(sample_run, capsys):
    s = _stats_json(sample_run, capsys)
    table = pa.concat_tables(pq.read_table(p, columns=["lang", "bucket", "text", "perplexity"])
                             for p, _ in local_parquet_files(str(sample_run)))
    lengths = np.array([len(t) for t in table.column("text").to_pylist()])
    langs = np.array(table.column("lang").to_pylist())
    buckets = np.array(table.column("bucket").to_pylist())
    assert s["documents"] == table.num_rows and s["chars"] == int(lengths.sum())
    for g in s["groups"]:
        mask = (langs == g["lang"]) & (buckets == g["bucket"])
        assert g["source"] == "cc" and g["documents"] == int(mask.sum()) and g["chars"] == int(lengths[mask].sum())
        assert g["median_chars"] == pytest.approx(float(np.median(lengths[mask])))
    ppl = np.array(table.column("perplexity").to_pylist(), dtype=float)
    en = ppl[(langs == "en") & ~np.isnan(ppl)]
    assert s["perplexity"]["en"]["percentiles"]["50"] == pytest.approx(np.percentile(en, 50), abs=0.01)
    assert set(s["perplexity"]) == {"de", "en", "fr"}
    run = json.loads((sample_run / "_stats.json").read_text())
    assert s["dropped"] == run["documents"]["dropped"] and s["read"] == run["documents"]["read"]
    assert s["bucket_cutoffs"] == run["bucket_cutoffs"]
    assert sum(v["doc_share"] for v in s["shares"]["lang"].values()) == pytest.approx(1.0, abs=1e-3)


def test_label_columns_come_from_footers(sample_run, tmp_path):
    shard = sorted(sample_run.rglob("lang=en/bucket=head/*.parquet"))[0]
    pf = pq.ParquetFile(shard)
    assert constant_from_statistics(pf, "lang") == (True, "en")
    assert constant_from_statistics(pf, "bucket") == (True, "head")
    mixed = tmp_path / "mixed.parquet"
    pq.write_table(pa.table({"lang": ["en", "de"], "text": ["a", "b"]}), mixed)
    assert constant_from_statistics(pq.ParquetFile(mixed), "lang") == (False, None)


def test_token_summary(token_run, capsys):
    s = _stats_json(token_run, capsys)
    m = json.loads((token_run / "mixture.json").read_text())
    assert s["kind"] == "tokens"
    for name in ("cc", "wikipedia"):
        assert s["sources"][name]["tokens"] == m["sources"][name]["tokens"]
        assert s["sources"][name]["realised_share"] == m["sources"][name]["realised_share"]
    assert s["tokens"] == sum(v["tokens"] for v in m["sources"].values())
    assert cli.main(["stats", str(token_run)]) == 0
    out = capsys.readouterr().out
    assert "wikipedia" in out and "realised" in out


def test_html_reports_are_self_contained(sample_run, token_run, tmp_path, capsys):
    corpus_html, tokens_html = tmp_path / "corpus.html", tmp_path / "tokens.html"
    assert cli.main(["stats", str(sample_run), "--html", str(corpus_html)]) == 0
    assert cli.main(["stats", str(token_run), "--html", str(tokens_html)]) == 0
    page = corpus_html.read_text()
    assert page.count("<svg") == 3 + 3  # perplexity per language (de, en, fr) + length + 2 share charts
    assert "head &lt;" in page and "tail ≥" in page  # bucket cutoffs marked
    assert not re.search(r"(src|href)=", page) and "<script" not in page
    tpage = tokens_html.read_text()
    assert "share of training tokens" in tpage and tpage.count("<svg") == 3


def test_not_a_shard_folder(tmp_path, capsys):
    assert cli.main(["stats", str(tmp_path)]) == 2
    assert "neither corpus shards" in capsys.readouterr().err
    assert cli.main(["stats", str(tmp_path / "nope")]) == 2


def test_several_corpus_folders_side_by_side_with_drop_reasons(sample_run, dedup_run, token_run, capsys, tmp_path):
    s = json.loads(cli.main(["stats", str(sample_run), str(dedup_run), "--json"]) == 0 and capsys.readouterr().out)
    assert s["kind"] == "corpora" and [c["path"] for c in s["corpora"]] == [str(sample_run), str(dedup_run)]
    for row, folder in zip(s["overview"], (sample_run, dedup_run)):
        run = json.loads((folder / "_stats.json").read_text())
        assert row["read"] == run["documents"]["read"]
        assert row["dropped"] == {r: n for r, n in run["documents"]["dropped"].items() if n}
    assert set(s["reasons"]) == set(s["overview"][0]["dropped"]) | set(s["overview"][1]["dropped"])
    assert cli.main(["stats", str(sample_run), str(dedup_run), "--html", str(tmp_path / "r.html")]) == 0
    out = capsys.readouterr().out
    assert "drop reasons by source" in out and "exact_duplicate" in out
    assert "Drop reasons by source" in (tmp_path / "r.html").read_text()
    assert cli.main(["stats", str(sample_run), str(token_run)]) == 2
    assert "each holds corpus shards" in capsys.readouterr().err
