"""The GitHub reader and recipe stream: peak memory does not grow with the size of the export."""
from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Reader and the whole recipe (pass 2 of the graph) over one export, nothing kept; no Beam import.
READ_ALL = """
import logging, sys
from corpus import github_input
from corpus.counters import Counters
from corpus.readers import open_local
from pipelines.steps import github as gh
from pipelines.steps.chain import read_rows, run_steps
counters = Counters()
rows = read_rows(github_input.read_file(open_local, sys.argv[1], "bigquery"), sys.argv[1], False, counters,
                 logging.getLogger("memory"))
print(sum(len(b) for b in run_steps(rows, gh.recipe(gh.GithubConfig()), counters, batch_size=64)))
"""
# The reader runs as the only child of this process, so the peak reported is the reader's own.
MEASURE = """
import resource, subprocess, sys
child = subprocess.run([sys.executable, "-c", *sys.argv[1:]], capture_output=True, text=True, check=True)
print(child.stdout.strip(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
WORDS = ("value", "count", "total", "result", "index", "buffer", "parser", "größe", "naïve", "données")


def _export(path: Path, files: int, seed: int) -> Path:
    """A BigQuery export of `files` source files of ~6 KB each, gzip JSON lines, written as it goes."""
    rng = random.Random(seed)
    with gzip.open(path, "wt", compresslevel=1) as out:
        for i in range(files):
            lines = [f"    {rng.choice(WORDS)}_{rng.randint(0, 999)} = compute_{rng.choice(WORDS)}"
                     f"({rng.choice(WORDS)}, {rng.randint(0, 99)})" for _ in range(120)]
            content = f"# Copyright {2000 + i % 20}\n\ndef function_{i}():\n" + "\n".join(lines) + "\n"
            row = {"repo_name": f"user{i % 97}/repo{i}", "path": f"src/module_{i}.py", "ref": "refs/heads/main",
                   "license": "mit", "content": content, "binary": False, "symlink_target": None}
            out.write(json.dumps(row) + "\n")
    return path


def _peak(path: Path) -> tuple[int, int]:
    done = subprocess.run([sys.executable, "-c", MEASURE, READ_ALL, str(path)], cwd=REPO, capture_output=True,
                          text=True, check=True)
    written, rss = done.stdout.split()
    return int(written), int(rss)


def test_reader_and_recipe_memory_stays_flat_as_the_export_grows(tmp_path):
    small = _export(tmp_path / "github_small.json.gz", 1500, 1)
    large = _export(tmp_path / "github_large.json.gz", 6000, 2)
    small_written, small_rss = _peak(small)
    large_written, large_rss = _peak(large)
    assert (small_written, large_written) == (1500, 6000)  # every file passes: the whole text went through
    # 4x the input (about 9 MB -> 36 MB of text) may cost a few MB of allocator noise, not 27 MB more
    assert large_rss - small_rss < 12 * 1024, (small_rss, large_rss)
