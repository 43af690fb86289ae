"""The wiring of benchmarks/bench_sources.py (no timing): every source has a plain loop, generated inputs in
sub-folders are found again, and a rewrite keeps the blocks of sources measured by an earlier run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared_inputs import benchmark_modules

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    """bench_sources imported as their scripts run."""
    return benchmark_modules('bench_sources', 'bench_source_plain')


def test_every_source_has_a_plain_loop_and_its_command(bench):
    sources, plain = bench
    assert set(sources.SOURCES) == set(plain.SOURCES)
    assert sources.command("c4", ("--lid", "fasttext")) == "llamapipe c4 --from-wet --lid fasttext"
    assert sources.command("github") == "llamapipe github"


def test_written_blocks_keep_earlier_sources(bench, tmp_path):
    sources, _ = bench
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n<!-- sources:start -->\n## Dump sources\n\nMachine: x.\n\n### wikipedia\n\n"
                    "| a |\n\nResult: old.\n\n### arxiv\n\nResult: arxiv.\n<!-- sources:end -->\n\n## Other\n")
    blocks = sources.written_blocks(path)
    assert blocks == {"wikipedia": "### wikipedia\n\n| a |\n\nResult: old.", "arxiv": "### arxiv\n\nResult: arxiv."}
    assert sources.written_blocks(tmp_path / "missing.md") == {}


def test_books_inputs_in_a_subfolder_run_through_the_plain_loop(bench, tmp_path):
    sources, _ = bench
    data = sources.cached_inputs(tmp_path, "books", 0.05)
    assert data["files"] and all(Path(f).is_file() for f in data["files"])
    assert any("/gutenberg/" in f for f in data["files"])  # the relative path, not just the name, is kept
    assert data["text_bytes"] >= 50_000 and data["records"] >= 1
    assert sources.cached_inputs(tmp_path, "books", 0.05) == data  # reused, not generated again
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_source_plain.py"), "--source", "books",
                           "--output", str(tmp_path / "out"), *data["files"]], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert not line["accounting"]
    assert line["read"] == data["records"] and line["written"] >= 1
    assert list((tmp_path / "out").rglob("*.parquet"))
