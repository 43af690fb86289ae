"""`llamapipe dedup` end to end: planted near copies found, precision/recall on the sample's truth."""
from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from corpus.readers import read_documents
from corpus.counters import check_accounting
from corpus.wet import Fault
from dedup.minhash import MinHasher, shingle_hashes
from tests.conftest import DATA, SAMPLE_GLOB, SAMPLE_WET, read_stats, run_dedup

TRUTH = {d["id"]: d for d in map(json.loads, open(DATA / "sample" / "truth.jsonl", encoding="utf-8"))}


def _sample_docs():
    docs = []
    for path in sorted(SAMPLE_WET.glob("*.warc.wet.gz")):
        docs += [d for d in read_documents(path.read_bytes(), path.name) if not isinstance(d, Fault)]
    return docs


def _clusters(out: Path) -> list[dict]:
    return pq.read_table(out / "_clusters.parquet").to_pylist()


def test_accounting_and_outputs(dedup_run):
    stats = read_stats(dedup_run)
    assert check_accounting(stats) == []
    assert (dedup_run / "_SUCCESS").exists()
    assert stats["documents"]["read"] == len(TRUTH)
    assert stats["documents"]["dropped"]["exact_duplicate"] >= 45
    assert stats["documents"]["dropped"]["near_duplicate"] >= 150
    assert stats["connected_components"]["converged"]
    clusters = _clusters(dedup_run)
    kept_per_cluster = {}
    for r in clusters:
        kept_per_cluster.setdefault(r["cluster_id"], 0)
        kept_per_cluster[r["cluster_id"]] += r["kept"]
    assert set(kept_per_cluster.values()) == {1}          # exactly one survivor per cluster
    written = {r["id"] for f in dedup_run.glob("lang=*/bucket=*/*.parquet") for r in pq.read_table(f).to_pylist()}
    assert len(written) == stats["documents"]["written"]
    assert all((r["id"] in written) == r["kept"] for r in clusters)


def test_precision_and_recall_against_planted_truth(dedup_run):
    docs = _sample_docs()
    warc_of = {d.id: d.meta["warc_record_id"] for d in docs}
    predicted: dict[str, set[str]] = {}
    for r in _clusters(dedup_run):
        predicted.setdefault(r["cluster_id"], set()).add(warc_of[r["id"]])
    pred_pairs = {frozenset(p) for members in predicted.values() for p in combinations(sorted(members), 2)}
    truth_pairs = {frozenset((t["id"], t["dup_of"])) for t in TRUTH.values()
                   if t["cluster_role"] == "copy" and (t["jaccard_w5"] or 0) >= 0.8 and t["dup_of"] in TRUTH}
    same_planted = {frozenset(p) for p in pred_pairs
                    if len({TRUTH[x]["cluster"] for x in p} - {None}) == 1 and TRUTH[next(iter(p))]["cluster"]}
    precision = len(same_planted) / len(pred_pairs)
    recall = len(truth_pairs & pred_pairs) / len(truth_pairs)
    assert len(truth_pairs) > 150
    assert precision >= 0.999, precision
    assert recall >= 0.97, recall  # 0.974: exact Jaccard verification (0.94 with the estimate)


def test_no_near_duplicates_left(dedup_run):
    hasher = MinHasher()
    rows = [r for f in sorted(dedup_run.glob("lang=*/bucket=*/*.parquet")) for r in pq.read_table(f).to_pylist()]
    sigs = np.stack([hasher.text_signature(r["text"]) for r in rows])
    left = 0
    for i in range(len(sigs)):
        sims = (sigs[i + 1:] == sigs[i]).mean(axis=1)
        left += int((sims >= 0.8).sum())
    assert left <= 2, left


def test_one_worker_identical(dedup_run, tmp_path):
    out = tmp_path / "one"
    assert run_dedup(out, [SAMPLE_GLOB], "--workers", "1") == 0
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(dedup_run) for p in dedup_run.rglob("*") if p.is_file())
    for f in files:
        assert (out / f).read_bytes() == (dedup_run / f).read_bytes(), f


def test_shard_count_and_workers_do_not_change_output(dedup_run, tmp_path):
    """Six hash shards instead of one, on two workers: the same bytes; no scratch file left behind."""
    out = tmp_path / "sharded"
    assert run_dedup(out, [SAMPLE_GLOB], "--workers", "2", "--shard-mb", "0.4") == 0
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(dedup_run) for p in dedup_run.rglob("*") if p.is_file())
    for f in files:
        assert (out / f).read_bytes() == (dedup_run / f).read_bytes(), f
    assert not (out / "_temporary").exists() and not (dedup_run / "_temporary").exists()


def test_verification_uses_exact_jaccard(tmp_path):
    """Pairs a little either side of 0.8: each copy is dropped exactly when the exact Jaccard of its
    shingle set to its source reaches the threshold (the 128-permutation estimate errs by ~0.035)."""
    lines, jaccards = [], {}
    for i, changed in enumerate([7, 8, 9, 10, 11, 12, 13, 14] * 2):
        base = [f"{_letters(i)}q{_letters(w)}" for w in range(400)]    # letters only: CCNet normalisation
        copy = list(base)                                              # maps every digit to 0
        for k in range(changed):
            copy[10 + k * (380 // changed) + i % 5] = f"edit{_letters(i)}x{_letters(k)}"
        a, b = set(np.unique(shingle_hashes(" ".join(base))).tolist()), set(
            np.unique(shingle_hashes(" ".join(copy))).tolist())
        jaccards[f"copy{i}"] = len(a & b) / len(a | b)
        lines += [{"id": f"src{i}", "text": " ".join(base)}, {"id": f"copy{i}", "text": " ".join(copy)}]
    assert min(jaccards.values()) < 0.78 and max(jaccards.values()) > 0.82
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = tmp_path / "out"
    assert run_dedup(out, [str(src)], "--keep", "first") == 0
    kept = {r["id"] for r in pq.read_table(out / "lang=unknown" / "bucket=all" / "part-00000.parquet").to_pylist()}
    assert {i for i in jaccards if i not in kept} == {i for i, j in jaccards.items() if j >= 0.8}


def _letters(n: int) -> str:
    return "".join(chr(97 + int(c, 26)) for c in np.base_repr(n, 26))


def _words(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def test_jsonl_chain_edits_empty_and_one_word(tmp_path):
    base = _words("w", 300)
    a = " ".join(base)
    b = " ".join(base[:290] + _words("x", 10))                     # ~0.9 to a
    c = " ".join(base[:280] + _words("x", 10) + _words("y", 10))     # ~0.9 to b, ~0.83 to a
    d = " ".join(base[:250] + _words("z", 50))                     # ~0.7 to a: not a duplicate
    unrelated = " ".join(_words("u", 300))
    lines = [{"id": "a", "text": a}, {"id": "b", "text": b}, {"id": "c", "text": c}, {"id": "d", "text": d},
             {"id": "u", "text": unrelated}, {"id": "e1", "text": ""}, {"id": "e2", "text": "   "},
             {"id": "one", "text": "hello"}, {"id": "one-bis", "text": "Hello"}, {"url": "http://x/y", "text": "solo"}]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(l) for l in lines) + "\n{broken json\n")
    out = tmp_path / "out"
    assert run_dedup(out, [str(src)], "--keep", "first") == 0
    stats = read_stats(out)
    assert check_accounting(stats) == []
    assert stats["documents"]["dropped"]["malformed"] == 1 and "line 11" in stats["malformed"][0]["error"]
    kept = {r["id"] for r in pq.read_table(out / "lang=unknown" / "bucket=all" / "part-00000.parquet").to_pylist()}
    assert {"a", "d", "u", "e1", "one"} <= kept                    # first of each cluster, unrelated kept
    assert not {"b", "c", "e2", "one-bis"} & kept
    clusters = {r["id"]: r for r in _clusters(out)}
    assert clusters["b"]["cluster_id"] == clusters["c"]["cluster_id"] == "a"
    assert clusters["one-bis"]["reason"] == "exact_duplicate"


def test_corpus_shard_folder_keeps_layout_and_lowest_perplexity(sample_run, tmp_path):
    out = tmp_path / "out"
    assert run_dedup(out, [str(sample_run)]) == 0
    in_files = sorted(str(p.relative_to(sample_run)) for p in sample_run.glob("lang=*/bucket=*/*.parquet"))
    out_files = sorted(str(p.relative_to(out)) for p in out.glob("lang=*/bucket=*/*.parquet"))
    assert out_files == in_files
    ppl = {r["id"]: r["perplexity"] for f in sample_run.glob("lang=*/bucket=*/*.parquet")
           for r in pq.read_table(f, columns=["id", "perplexity"]).to_pylist()}
    by_cluster: dict[str, list[dict]] = {}
    for r in _clusters(out):
        by_cluster.setdefault(r["cluster_id"], []).append(r)
    checked = 0
    for members in by_cluster.values():
        values = [ppl[m["id"]] for m in members]
        if all(v is not None for v in values):
            kept = next(m for m in members if m["kept"])
            assert ppl[kept["id"]] == min(values)
            checked += 1
    assert check_accounting(read_stats(out)) == []
    assert checked >= 1


def test_bad_options_refused(tmp_path, capsys):
    assert run_dedup(tmp_path / "o", [SAMPLE_GLOB], "--candidate-threshold", "0.9") == 2
    assert "above --threshold" in capsys.readouterr().err
    assert run_dedup(tmp_path / "o", [str(tmp_path / "none-*.jsonl")]) == 2
    assert "matches no file" in capsys.readouterr().err
    (tmp_path / "x.csv").write_text("a,b\n")
    assert run_dedup(tmp_path / "o", [str(tmp_path / "x.csv")]) == 2
    assert "unsupported input" in capsys.readouterr().err


def test_book_granularity_removes_contained_book(tmp_path):
    book = " ".join(f"chapter{i % 97} word{i}" for i in range(4000))
    omnibus = book + " " + " ".join(f"sequel{i}" for i in range(6000))
    other = " ".join(f"other{i}" for i in range(5000))
    src = tmp_path / "books.jsonl"
    src.write_text("\n".join(json.dumps({"id": i, "text": t}) for i, t in
                             [("book", book), ("omnibus", omnibus), ("other", other)]) + "\n")
    out_doc, out_book = tmp_path / "as-docs", tmp_path / "as-books"
    assert run_dedup(out_doc, [str(src)]) == 0
    assert read_stats(out_doc)["documents"]["written"] == 3        # Jaccard ~0.4: no document duplicates
    assert run_dedup(out_book, [str(src)], "--granularity", "book") == 0
    kept = {r["id"] for r in pq.read_table(out_book / "lang=unknown" / "bucket=all").to_pylist()}
    assert kept == {"omnibus", "other"}                           # the contained book goes, the longest stays
    assert read_stats(out_book)["config"]["granularity"] == "book"


def test_dedup_strict_and_bad_parquet(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\n{"id": "b"}\n')
    assert run_dedup(tmp_path / "o1", [str(bad)], "--strict") == 2
    err = capsys.readouterr().err
    assert "bad.jsonl" in err and "line 2" in err and "'text'" in err
    shard_dir = tmp_path / "shards" / "lang=en" / "bucket=all"
    shard_dir.mkdir(parents=True)
    (shard_dir / "part-00000.parquet").write_bytes(b"PAR1 not really parquet")
    assert run_dedup(tmp_path / "o2", [str(tmp_path / "shards")]) == 2  # no _SUCCESS: not a finished corpus
    assert "--allow-incomplete" in capsys.readouterr().err
    assert run_dedup(tmp_path / "o2", [str(tmp_path / "shards")], "--allow-incomplete") == 0
    stats = read_stats(tmp_path / "o2")
    assert stats["documents"]["dropped"]["malformed"] == 1
    assert "not a readable Parquet file" in stats["malformed"][0]["error"]
    assert check_accounting(stats) == []


def test_components_over_fewer_round_shards_than_hash_shards_give_the_same_output(dedup_run, tmp_path,
                                                                                   monkeypatch):
    """Six hash shards folded into four round shards and three verification shards (those steps size their
    shards by the edges and pairs): the same bytes. In-process runner, so the patched counts reach the steps."""
    from pipelines import dedup
    from pipelines.steps import dedup_clusters

    monkeypatch.setattr(dedup_clusters, "component_shards", lambda edges, shards: min(shards, 4))
    monkeypatch.setattr(dedup, "verify_shards", lambda pairs, shards: min(shards, 3))
    out = tmp_path / "folded"
    assert run_dedup(out, [SAMPLE_GLOB], "--workers", "1", "--shard-mb", "0.4",
                     "--direct_running_mode=in_memory") == 0
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(dedup_run) for p in dedup_run.rglob("*") if p.is_file())
    for f in files:
        assert (out / f).read_bytes() == (dedup_run / f).read_bytes(), f
