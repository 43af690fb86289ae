"""The quality classifier's data side: `wiki-refs` on the fixture dump (RedPajama parity, the parser
finding every kind of ref), url_norm, and `quality-data` joining the refs with a ccnet run of the
sample plus the planted reference pages (SOURCES.md 1(e) 1-2)."""
from __future__ import annotations

import bz2
import glob
import json
import re
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from corpus.counters import check_accounting
from corpus.wiki_refs import url_norm
from filters.quality import CC, WIKI, training_line
from corpus.faults import Fault
from pipelines import cli
from pipelines.steps.ccnet import wet_documents
from pipelines.steps.quality import order_key
from tests.conftest import SAMPLE_GLOB, read_stats, run_ccnet

QDATA = Path(__file__).parent / "data" / "quality"
DUMP = QDATA / "enwiki-20230401-pages-articles-multistream.xml.bz2"
QUALITY_WET = str(QDATA / "wet" / "*.warc.wet.gz")


def rp_extract_urls(dump: Path) -> list[str]:
    """RedPajama v1 data_prep/cc/classifier/extract_urls.py, reimplemented: its two regexes, line by line,
    over the decompressed dump file."""
    urls = []
    for line in bz2.decompress(dump.read_bytes()).decode("utf-8").splitlines(keepends=True):
        refs = re.search("&lt;ref&gt(.*)&lt;/ref&gt;", line)
        if refs is not None:
            urls += re.findall(r"\b(?:https?|telnet|gopher|file|wais|ftp):[\w/#~:.?+=&%@!\-.:?\\-]+?"
                               r"(?=[.:?\-]*(?:[^\w/#~:.?+=&%@!\-.:?\-]|$))", refs.group(0))
    return urls


def wiki_refs(out: Path, *extra: str) -> list[dict]:
    assert cli.main(["wiki-refs", "--input", str(DUMP), "--output", str(out), *extra]) == 0
    return pq.read_table(out / "refs" / "part-00000.parquet").to_pylist()


def test_redpajama_mode_equals_its_regexes(tmp_path):
    rows = wiki_refs(tmp_path / "rp", "--mode", "redpajama", "--workers", "1")
    expected = rp_extract_urls(DUMP)
    assert [r["url"] for r in rows] == expected
    assert "https://a.example/x" in expected and "https://c.example/z&lt" in expected
    assert not any("b.example" in u for u in expected)  # the named ref is missed, as RedPajama misses it
    assert not check_accounting(read_stats(tmp_path / "rp"))


def test_parser_mode_finds_all_three_clean(tmp_path):
    rows = wiki_refs(tmp_path / "p", "--workers", "1")
    urls = [r["url"] for r in rows]
    assert urls[:3] == ["https://a.example/x", "https://b.example/y", "https://c.example/z"]
    assert [r["title"] for r in rows[:3]] == ["Alpha", "Beta", "Gamma"]
    assert len(urls) == 34 and len(set(urls)) == 34 and "https://talk.example/t" not in urls
    norms = {r["url"]: r["url_norm"] for r in rows}
    assert norms["https://www.Ref3.example.org/page/3?utm_source=wiki"] == "https://ref3.example.org/page/3"
    stats = read_stats(tmp_path / "p")
    assert not check_accounting(stats)
    assert stats["documents"]["read"] == 7 and stats["documents"]["written"] == 4
    assert stats["documents"]["dropped"] == {"no_reference_urls": 1, "not_article": 1, "redirect": 1}
    manifest = json.loads((tmp_path / "p" / "_manifest.json").read_text())
    assert manifest["total_rows"] == 34 and (tmp_path / "p" / "_SUCCESS").exists()


@pytest.mark.parametrize("url,norm", [
    ("HTTPS://WWW.Example.COM/a/b/?utm_medium=x&q=1&ref=tw#top", "https://example.com/a/b?q=1"),
    ("http://example.com/", "http://example.com"),
    ("http://example.com:80/p?feed=rss", "http://example.com/p"),
    ("https://example.com:8443/p", "https://example.com:8443/p"),
    ("not a url", ""),
])
def test_url_norm(url, norm):
    assert url_norm(url) == norm


def test_training_line_blanks_labels():
    line = training_line(WIKI, "  A page\nthat says __label__evil twice: __label__evil\n")
    assert line.startswith(WIKI + " ") and line.count("__label__") == 1 and "\n" not in line


@pytest.fixture(scope="module")
def joined(tmp_path_factory, models_dir):
    """A ccnet run (English, 2 workers) of the sample and the planted reference pages, the parser-mode
    refs, and quality-data on them with 1 and 2 workers."""
    root = tmp_path_factory.mktemp("quality")
    corpus = root / "cc"
    assert run_ccnet(corpus, [SAMPLE_GLOB, QUALITY_WET], models_dir, "--langs", "en", "--workers", "2") == 0
    wiki_refs(root / "refs", "--workers", "1")
    for workers in ("1", "2"):
        assert cli.main(["quality-data", "--refs", str(root / "refs"), "--corpus", str(corpus),
                         "--output", str(root / f"data{workers}"), "--workers", workers]) == 0
    assert cli.main(["quality-data", "--refs", str(root / "refs"), "--corpus", str(corpus), "--positives", QUALITY_WET,
                     "--output", str(root / "crawl"), "--workers", "2"]) == 0
    return root


def corpus_rows(folder: Path) -> list[dict]:
    return ds.dataset(folder, format="parquet", partitioning="hive").to_table(
        columns=["id", "url", "text", "bucket"]).to_pylist()


def data_lines(folder: Path) -> list[str]:
    return [line for name in ("train.txt", "valid.txt")
            for line in (folder / name).read_text(encoding="utf-8").splitlines()]


def test_join_positives_are_exactly_the_planted_docs(joined):
    refs = {r["url_norm"] for r in pq.read_table(joined / "refs" / "refs").to_pylist()}
    rows = [r for r in corpus_rows(joined / "cc") if r["bucket"] in ("head", "middle")]
    planted = {r["url"] for r in rows if url_norm(r["url"]) in refs}
    assert {"https://a.example/x", "https://b.example/y", "https://c.example/z",
            "https://ref3.example.org/page/3/"} <= planted
    expected = sorted(training_line(WIKI, r["text"]) for r in rows if url_norm(r["url"]) in refs
                      and len(r["text"]) >= 1000)
    lines = data_lines(joined / "data1")
    positives = sorted(line for line in lines if line.startswith(WIKI + " "))
    assert positives == expected and len(positives) >= 25
    stats = read_stats(joined / "data1")
    assert stats["selection"]["reference_too_short"] == len(planted) - len(expected)


def test_negatives_equal_count_no_overlap_same_for_two_workers(joined):
    refs = {r["url_norm"] for r in pq.read_table(joined / "refs" / "refs").to_pylist()}
    rows = [r for r in corpus_rows(joined / "cc") if r["bucket"] in ("head", "middle")]
    by_line = {training_line(CC, r["text"]): r for r in rows}
    lines = data_lines(joined / "data1")
    negatives = [by_line[line] for line in lines if line.startswith(CC + " ")]
    positives = [line for line in lines if line.startswith(WIKI + " ")]
    assert len(negatives) == len(positives)
    assert not any(url_norm(r["url"] or "") in refs for r in negatives)
    for name in ("train.txt", "valid.txt", "_stats.json"):
        assert (joined / "data1" / name).read_bytes() == (joined / "data2" / name).read_bytes()
    stats = read_stats(joined / "data1")
    assert not check_accounting(stats)
    assert stats["documents"]["read"] == len(rows)
    assert stats["documents"]["written"] == len(lines) == stats["selection"]["train_lines"] + \
        stats["selection"]["valid_lines"]
    assert 0 < stats["selection"]["valid_lines"] < stats["selection"]["train_lines"]
    ids = {training_line(CC, r["text"]): r["id"] for r in rows} | {training_line(WIKI, r["text"]): r["id"] for r in rows}
    train = (joined / "data1" / "train.txt").read_text(encoding="utf-8").splitlines()
    keys = [order_key(0, ids[line]) for line in train]
    assert keys == sorted(keys)


def test_quality_data_refuses_unfinished_refs(tmp_path, capsys):
    (tmp_path / "refs").mkdir()
    rc = cli.main(["quality-data", "--refs", str(tmp_path / "refs"), "--corpus", str(tmp_path / "refs"),
                   "--output", str(tmp_path / "out")])
    assert rc == 2 and str(tmp_path / "refs") in capsys.readouterr().err


def test_positives_from_a_crawl(joined):
    refs = {r["url_norm"] for r in pq.read_table(joined / "refs" / "refs").to_pylist()}
    crawl = [d for d in wet_documents(glob.glob(QUALITY_WET)[0], "cc") if not isinstance(d, Fault)]
    expected = sorted(training_line(WIKI, d.text) for d in crawl if url_norm(d.url) in refs and len(d.text) >= 1000)
    lines = data_lines(joined / "crawl")
    assert sorted(line for line in lines if line.startswith(WIKI + " ")) == expected
    assert len(expected) == len(crawl) - 1  # all but the short page
    rows = [r for r in corpus_rows(joined / "cc") if r["bucket"] in ("head", "middle")]
    negatives = {training_line(CC, r["text"]): r for r in rows}
    chosen = [negatives[line] for line in lines if line.startswith(CC + " ")]
    assert len(chosen) == len(expected) and not any(url_norm(r["url"] or "") in refs for r in chosen)
    stats = read_stats(joined / "crawl")
    assert not check_accounting(stats)
    assert stats["documents"]["read"] == len(rows) + len(crawl)
    assert stats["selection"]["cited_corpus_document"] == sum(url_norm(r["url"]) in refs for r in rows)


def test_outputs_overlapping_inputs_are_refused(tmp_path, joined, capsys):
    import shutil

    dumps = tmp_path / "dumps"
    dumps.mkdir()
    shutil.copy(DUMP, dumps / DUMP.name)
    assert cli.main(["wiki-refs", "--input", str(dumps / DUMP.name), "--output", str(dumps)]) == 2
    assert sorted(p.name for p in dumps.iterdir()) == [DUMP.name]
    inside = joined / "cc" / "data"
    assert cli.main(["quality-data", "--refs", str(joined / "refs"), "--corpus", str(joined / "cc"),
                     "--output", str(inside)]) == 2
    assert not inside.exists() and str(joined / "cc") in capsys.readouterr().err
