"""Benchmark parts for `llamapipe books` (wired into bench_sources.py): real-format inputs and the plain loop.

`make` writes Project Gutenberg plain-text files as a mirror holds them (modern UTF-8 files with CRLF
line breaks and the START/END markers, one in eight an old-style Latin-1 file with the small-print
header) plus one Books3-shaped JSONL file, from the bundled real sentences; seeded, so the same size
gives the same files. `plain` runs the command's own reader and recipe over every unit in one
process (pipelines.source.write_unit), writing the same Parquet shards.
"""
from __future__ import annotations

import json
import random
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "data"))

from benchmarks.bench_source_inputs import MB, sentences  # noqa: E402
from corpus.counters import Counters  # noqa: E402


def _book(rng: random.Random, pool: list[str], words: int) -> str:
    """Paragraphs of real sentences wrapped at 72 columns, about `words` words."""
    paras, count = [], 0
    while count < words:
        para = " ".join(rng.choice(pool) for _ in range(rng.randint(3, 9)))
        count += len(para.split())
        paras.append(textwrap.fill(para, 72))
    return "\n\n".join(paras)


def make(folder: Path, mb: float, seed: int = 0) -> dict:
    """Gutenberg files `pgN.txt` (N from 10000) and one `books3.jsonl` (a tenth of the text), about `mb`
    MB of book text in all; {"files", "text_mb", "records"}."""
    import make_books

    rng = random.Random(seed)
    pool = sentences("en")
    folder = Path(folder)
    (folder / "gutenberg").mkdir(parents=True, exist_ok=True)
    files, text_bytes, records, number = [], 0, 0, 10000
    jsonl_lines = []
    while text_bytes < mb * MB:
        body = _book(rng, pool, rng.randint(10_000, 60_000))
        text_bytes += len(body.encode("utf-8"))
        records += 1
        if records % 10 == 0:
            jsonl_lines.append(json.dumps({"title": f"Book {records}", "text": body}, ensure_ascii=False))
            continue
        number += 1
        path = folder / "gutenberg" / f"pg{number}.txt"
        if records % 8 == 0:
            latin = body.encode("latin-1", "replace").decode("latin-1")
            path.write_bytes(make_books.old_style(number, f"Volume {number}", "A. Author", latin).encode("latin-1"))
        else:
            text = make_books.modern(number, f"Volume {number}", "A. Author", body)
            path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
        files.append(str(path))
    if jsonl_lines:
        path = folder / "books3.jsonl"
        path.write_text("\n".join(jsonl_lines) + "\n", encoding="utf-8")
        files.append(str(path))
    return {"files": sorted(files), "text_mb": text_bytes / MB, "records": records}


def plain(files: list[str], out: str) -> Counters:
    """The books reader and recipe over the command's own plan of units, one unit after another in
    this process, writing the same shards under `out`."""
    from benchmarks.bench_source_plain import run_units
    from corpus.books_input import detect_format
    from pipelines import books
    from pipelines.cli import books as cli
    from pipelines.steps.books import BooksConfig

    files = sorted(files)
    formats = tuple(detect_format(f) for f in files)
    cfg = BooksConfig(files=tuple(files), formats=formats, out=out, pg19_entries=books.load_pg19(files, formats))
    return run_units(cli.source_run(cfg))
