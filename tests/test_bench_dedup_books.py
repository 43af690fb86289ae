"""The book-mode dedup benchmark end to end on a tiny corpus: make_book_corpus.py cuts real prose
(tests/data/reference) into books, plants editions, truncations and hard negatives, ingests them with
`llamapipe books` and computes exact containment; bench_dedup_books.py runs `llamapipe dedup
--granularity book` and datasketch's MinHashLSHEnsemble on it, scores both and writes its section."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_dedup_books as bench  # noqa: E402
import make_book_corpus as maker  # noqa: E402


def _prose():
    spec = importlib.util.spec_from_file_location("make_books", ROOT / "tests" / "data" / "make_books.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.prose_paragraphs


def _pool() -> list[dict]:
    """Pool documents of 6 reference paragraphs each (en, de, fr), in the pool cache's shape."""
    prose = _prose()
    pool = []
    for lang in ("en", "de", "fr"):
        paras = prose(lang)[:600]
        for n in range(0, len(paras) - 5, 6):
            pool.append({"src": "reference", "lang": lang, "path": f"/ref/{lang}/{n // 200}/doc{n:05d}.html",
                         "part": 0, "text": "\n".join(paras[n:n + 6])})
    return pool


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("bookbench") / "corpus"
    summary = maker.build(_pool(), out, size_mb=1.2, seed=3, min_kb=15, max_kb=40, workers=1, min_words=200)
    return out, summary


def test_truth_is_the_exact_containment_of_the_written_books(corpus):
    out, summary = corpus
    books, pairs = bench.load_corpus(out)
    assert summary["books_in_corpus"] == len(books) > 20 and not summary["dropped_by_books"]
    assert summary["truth_pairs"] >= 3 and summary["planted_negatives_by_kind"]
    texts = {r["id"]: r["text"] for r in maker.read_corpus(out / "books")}
    by_kind = {}
    for p in pairs:
        by_kind.setdefault(p["planted"], []).append(p)
        a, b = (set(maker.shingles(texts[p[k]])) for k in ("a_id", "b_id"))
        assert p["shared"] == len(a & b) and p["containment"] == len(a & b) / min(len(a), len(b))
    assert all(p["containment"] == 1.0 for p in by_kind.get("reformat", []))
    assert all(p["containment"] > 0.99 for p in by_kind.get("truncated", []))
    assert all(not p["duplicate"] for p in by_kind.get("anthology", []) + by_kind.get("rework", []))


def test_edit_words_changes_about_the_rate_of_tokens():
    text = " ".join(f"w{i}" for i in range(20000))
    edited = maker.edit_words(text, 0.02, maker.random.Random(1)).split()
    changed = len(set(text.split()) - set(edited))
    assert 0.005 * 20000 < changed < 0.03 * 20000
    assert maker.edit_words("日本語のテキスト", 1.0, maker.random.Random(2)) != "日本語のテキスト"


def test_benchmark_scores_llamapipe_and_datasketch_and_writes_its_section(corpus, tmp_path):
    out, _ = corpus
    result = bench.evaluate(out, 2, True, tmp_path / "scratch")
    s = result["ours_score"]
    assert (s.precision, s.recall, s.pair_recall) == (1.0, 1.0, 1.0), (s.wrong, s.missed)
    assert s.removed == s.expected > 0 and result["ours"]["cpu"] > 0
    assert 0 <= result["ds_score"].precision <= 1 and result["ds_score"].removed > 0
    md = tmp_path / "B.md"
    md.write_text("# Benchmarks\n\n<!-- dedup:start -->\nother\n<!-- dedup:end -->\n")
    bench.write_section(md, "dedup_books", bench.report(out, result, 2))
    text = md.read_text()
    assert "<!-- dedup:start -->\nother\n<!-- dedup:end -->" in text
    assert text.count("<!-- dedup_books:start -->") == 1 and "| llamapipe dedup --granularity book" in text


def test_score_counts_a_removal_right_only_when_its_truth_cluster_keeps_a_member():
    books = {i: {"id": i, "title": i, "kind": "x", "chars": n} for i, n in (("a", 9), ("b", 8), ("c", 7), ("d", 6))}
    pair = {"a": "a", "b": "b", "a_id": "a", "b_id": "b", "containment": 0.95}
    weak = {"a": "c", "b": "d", "a_id": "c", "b_id": "d", "containment": 0.6}
    s = bench.score(books, [pair, weak], [{"a", "b"}, {"c", "d"}], {"a", "c"})
    assert (s.removed, s.right, s.expected, s.precision, s.recall) == (2, 1, 1, 0.5, 1.0)
    assert s.wrong == ("d (x; closest kept book: c at containment 0.600)",) and not s.missed
    s = bench.score(books, [pair], [], set(books))
    assert (s.precision, s.recall, s.pair_recall) == (1.0, 0.0, 0.0) and len(s.missed) == 1
    assert bench.keep_longest(books, [{"a", "b"}, {"c", "d"}]) == {"a", "c"}
    assert np.isclose(bench.score(books, [pair], [{"a", "b"}], {"a", "c", "d"}).pair_precision, 1.0)
