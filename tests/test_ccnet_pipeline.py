"""End-to-end: the CCNet pipeline on the real sample, checked against oracles and the ground truth."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import kenlm
import numpy as np
import pyarrow.parquet as pq
import pytest
import sentencepiece

from corpus.normalize import normalize
from corpus.counters import check_accounting
from corpus.wet import WetRecord, read_wet
from dedup.lines import first_occurrences, line_hashes
from filters.lid import LanguageIdentifier, default_lid_model
from tests.conftest import DATA, SAMPLE_GLOB, SAMPLE_WET, read_stats, run_ccnet

TRUTH = {d["id"]: d for d in map(json.loads, open(DATA / "sample" / "truth.jsonl", encoding="utf-8"))}


def output_rows(out: Path) -> list[dict]:
    rows = []
    for f in sorted(out.glob("lang=*/bucket=*/part-*.parquet")):
        for r in pq.read_table(f).to_pylist():
            r["_partition"] = str(f.parent.relative_to(out))
            rows.append(r)
    return rows


def input_documents(min_length: int = 300) -> list[WetRecord]:
    docs = []
    for path in sorted(SAMPLE_WET.glob("*.warc.wet.gz")):
        docs += [r for r in read_wet(path.read_bytes(), path.name)
                 if isinstance(r, WetRecord) and len(r.text) >= min_length]
    return docs


def test_run_is_complete_and_accounted(sample_run):
    out = sample_run
    assert (out / "_SUCCESS").exists() and not (out / "_temporary").exists()
    stats = read_stats(out)
    assert check_accounting(stats) == []
    assert stats["documents"]["read"] == len(TRUTH)
    assert stats["documents"]["written"] > 400
    for reason in ("too_short", "empty_after_dedup", "lid_below_threshold"):
        assert stats["documents"]["dropped"][reason] > 0, reason
    assert stats["lines"]["dropped"]["duplicate_line"] > 1000
    manifest = json.loads((out / "_manifest.json").read_text())
    on_disk = sorted(str(p.relative_to(out)) for p in out.glob("lang=*/bucket=*/*.parquet"))
    assert [e["path"] for e in manifest["files"]] == on_disk
    for e in manifest["files"]:
        data = (out / e["path"]).read_bytes()
        assert e["bytes"] == len(data) and e["sha256"] == hashlib.sha256(data).hexdigest()
        assert e["rows"] == pq.read_metadata(out / e["path"]).num_rows
    assert manifest["total_rows"] == stats["documents"]["written"]
    assert sum(stats["partitions"].values()) == stats["documents"]["written"]


def test_rows_match_their_partition_and_trace_back(sample_run):
    rows = output_rows(sample_run)
    for r in rows:
        assert r["_partition"] == f"lang={r['lang']}/bucket={r['bucket']}"
        meta = json.loads(r["meta"])
        assert meta["warc_record_id"] in TRUTH
        assert meta["digest"].startswith("sha1:")
        assert meta["original_length"] >= 300 and meta["original_nlines"] >= r["text"].count("\n") + 1
        assert r["source"] == "cc" and r["id"].startswith("cc-") and r["url"]
    assert len({r["id"] for r in rows}) == len(rows)
    models_langs = {"de", "en", "fr"}
    assert {r["bucket"] for r in rows if r["lang"] in models_langs} == {"head", "middle", "tail"}
    assert {r["bucket"] for r in rows if r["lang"] not in models_langs} == {"all"}
    assert all(r["perplexity"] is None for r in rows if r["lang"] not in models_langs)


def test_line_dedup_matches_oracle(sample_run):
    """Every written text equals: its lines that occur in no other document, first occurrence only."""
    docs = input_documents()
    per_doc = [line_hashes(d.text.split("\n")) for d in docs]
    doc_count = Counter(h for hs in per_doc for h in set(hs.tolist()))
    expected = {}
    for d, hs in zip(docs, per_doc):
        first = first_occurrences(hs)
        lines = [l for l, h, f in zip(d.text.split("\n"), hs.tolist(), first) if f and doc_count[h] == 1]
        expected[d.headers["WARC-Record-ID"]] = "\n".join(lines)
    rows = output_rows(sample_run)
    assert len(rows) > 400
    for r in rows:
        assert r["text"] == expected[json.loads(r["meta"])["warc_record_id"]]
    seen = Counter(h for r in rows for h in set(line_hashes(r["text"].split("\n")).tolist()))
    assert max(seen.values()) == 1  # no line survives in two documents


def test_planted_boilerplate_is_gone(sample_run):
    docs = input_documents()
    template_lines = Counter()
    for d in docs:
        t = TRUTH[d.headers["WARC-Record-ID"]]
        lines = d.text.split("\n")
        template_lines.update(lines[: t["bp_head"]] + (lines[-t["bp_tail"]:] if t["bp_tail"] else []))
    repeated = {l for l, n in template_lines.items() if n >= 2 and l.strip()}
    assert len(repeated) > 50
    out_lines = Counter(l for r in output_rows(sample_run) for l in r["text"].split("\n"))
    assert not repeated & set(out_lines)


def test_lid_accuracy_on_ground_truth():
    lid = LanguageIdentifier(default_lid_model())
    docs = [d for d in input_documents(301) if TRUTH[d.headers["WARC-Record-ID"]]["lang"] != "zxx"]
    correct = sum(lid.predict_one(d.text)[0] == TRUTH[d.headers["WARC-Record-ID"]]["lang"] for d in docs)
    assert len(docs) > 700
    assert correct / len(docs) >= 0.98, correct / len(docs)


def test_written_languages_agree_with_truth(sample_run):
    rows = output_rows(sample_run)
    truth_lang = [TRUTH[json.loads(r["meta"])["warc_record_id"]]["lang"] for r in rows]
    agree = sum(r["lang"] == t for r, t in zip(rows, truth_lang)) / len(rows)
    assert agree >= 0.98, agree


def test_perplexity_equals_direct_kenlm(sample_run, models_dir):
    rows = [r for r in output_rows(sample_run) if r["lang"] == "en"]
    sp = sentencepiece.SentencePieceProcessor(model_file=str(models_dir / "lm" / "en.sp.model"))
    lm = kenlm.Model(str(models_dir / "lm" / "en.arpa.bin"))
    assert len(rows) > 50
    for r in rows[:60]:
        pieces = sp.encode(normalize(r["text"]), out_type=str)
        score = sum(prob for prob, _, _ in lm.full_scores(" ".join(pieces)))
        assert r["perplexity"] == round(10 ** (-score / (len(pieces) + 1)), 1)


def test_buckets_follow_cutoffs(sample_run):
    stats = read_stats(sample_run)
    rows = output_rows(sample_run)
    for lang, cut in stats["bucket_cutoffs"].items():
        pps = np.array([r["perplexity"] for r in rows if r["lang"] == lang])
        assert cut["head_below"] == pytest.approx(np.percentile(pps, 30))
        assert cut["tail_from"] == pytest.approx(np.percentile(pps, 60))
        for r in (r for r in rows if r["lang"] == lang):
            want = "head" if r["perplexity"] < cut["head_below"] else (
                "middle" if r["perplexity"] < cut["tail_from"] else "tail")
            assert r["bucket"] == want
        assert 0.2 < np.mean(pps < cut["head_below"]) < 0.4


def test_one_worker_gives_identical_bytes(sample_run, models_dir, tmp_path):
    out = tmp_path / "one"
    assert run_ccnet(out, [SAMPLE_GLOB], models_dir, "--workers", "1") == 0
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(sample_run) for p in sample_run.rglob("*") if p.is_file())
    for f in files:
        assert (out / f).read_bytes() == (sample_run / f).read_bytes(), f


def test_rerun_refused_without_overwrite(sample_run, models_dir, capsys):
    assert run_ccnet(sample_run, [SAMPLE_GLOB], models_dir) == 2
    assert "--overwrite" in capsys.readouterr().err
