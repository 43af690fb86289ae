"""`llamapipe tokenize`'s per-shard work: peak memory does not grow with the size of the input shard."""
from __future__ import annotations

import gzip
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tokenizer.train import train_tokenizer

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "tests" / "data" / "reference"

# One shard through TokenizeFileFn (read by row group, encode, write .bin/.idx), as a worker runs it.
TOKENIZE_ONE = """
import sys
from pipelines.steps.tokenize import TokenizeConfig
from pipelines.tokenize import TokenizeFileFn
shard, model, out = sys.argv[1:4]
cfg = TokenizeConfig(units=(("cc", 0, shard),), out=out, tokenizer=model, mixture=None)
fn = TokenizeFileFn(cfg, out)
fn.setup()
files = [x for x in fn.process(("cc", 0, shard)) if getattr(x, "tag", None) == "files"]
print(files[0].value["tokens"])
"""
# The work runs as the only child of this process, so the peak reported is its own.
MEASURE = """
import resource, subprocess, sys
child = subprocess.run([sys.executable, "-c", *sys.argv[1:]], capture_output=True, text=True, check=True)
print(child.stdout.strip(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _lines() -> list[str]:
    lines = []
    for lang in ("en", "fr", "de"):
        with gzip.open(REFERENCE / f"{lang}.txt.gz", "rt", encoding="utf-8") as f:
            lines += [line.rstrip("\n") for line in f if line.strip()]
    return lines


def _shard(path: Path, mb: int, seed: int) -> Path:
    """A corpus shard of about `mb` MB of text (documents of 30 reference lines), 400 documents a row group."""
    rng = random.Random(seed)
    lines = _lines()
    with pq.ParquetWriter(path, pa.schema([("id", pa.string()), ("text", pa.string())]), compression="zstd") as w:
        written, n = 0, 0
        while written < mb * 1_000_000:
            texts = ["\n".join(rng.choice(lines) for _ in range(30)) for _ in range(400)]
            written += sum(len(t.encode("utf-8")) for t in texts)
            w.write_table(pa.table({"id": [f"d{n + i}" for i in range(len(texts))], "text": texts}))
            n += len(texts)
    return path


def _peak(shard: Path, model: Path, out: Path) -> tuple[int, int]:
    done = subprocess.run([sys.executable, "-c", MEASURE, TOKENIZE_ONE, str(shard), str(model), str(out)], cwd=REPO,
                          capture_output=True, text=True, check=True)
    tokens, rss = done.stdout.split()
    return int(tokens), int(rss)


def test_tokenizing_a_shard_holds_one_row_group_not_the_shard(tmp_path):
    text = tmp_path / "train.txt"
    text.write_text("\n".join(_lines()[:6000]) + "\n", encoding="utf-8")
    model = train_tokenizer([text], 1000, tmp_path / "tok.model", threads=1)
    small_tokens, small_rss = _peak(_shard(tmp_path / "small.parquet", 6, 1), model, tmp_path / "out-small")
    large_tokens, large_rss = _peak(_shard(tmp_path / "large.parquet", 24, 2), model, tmp_path / "out-large")
    assert large_tokens > 3 * small_tokens
    # holding the shard's tokens would add ~4 bytes a token (plus copies): > 25 MB here
    assert large_rss - small_rss < 12 * 1024, (small_rss, large_rss)
