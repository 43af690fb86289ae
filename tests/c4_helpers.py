"""What the c4 test files share: the fixture paths, the fixture script, running the command and reading
its output."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pyarrow.parquet as pq

from pipelines import cli

DATA = Path(__file__).parent / "data" / "c4"
JSON = DATA / "c4-train.00000-of-01024.json.gz"
WET = DATA / "CC-MAIN-c4-test.warc.wet.gz"
TEST_BADWORDS = DATA / "badwords_test.txt"


def _maker():
    spec = importlib.util.spec_from_file_location("make_c4", Path(__file__).parent / "data" / "make_c4.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _maker()


def rows(out: Path) -> list[dict]:
    """Every row of the output's Parquet shards, in part order."""
    return [r for f in sorted(out.rglob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]


def stats(out: Path) -> dict:
    return json.loads((out / "_stats.json").read_text())


def run_c4(out: Path, inputs, *flags: str) -> int:
    """`llamapipe c4 --output OUT --input ...` with `flags`; its exit status."""
    args = ["c4", "--output", str(out)]
    for i in inputs:
        args += ["--input", str(i)]
    return cli.main(args + list(flags))
