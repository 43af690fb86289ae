"""The C4 readers stream: the peak memory of reading a WET file (and an allenai/c4 file) through
corpus/c4_input.py and the first steps stays flat when the file grows fourfold."""
from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Reader and the page steps up to the URL dedup (empty_text, too_long_page), nothing kept; no Beam import.
READ_ALL = """
import logging, sys
from corpus.c4_input import read_c4_json, read_c4_wet
from corpus.counters import Counters
from corpus.readers import open_local
from pipelines.steps.c4 import C4Config, import_recipe, url_recipe
from pipelines.steps.chain import read_rows, run_steps
counters = Counters()
wet = sys.argv[1].endswith(".wet.gz")
items = (read_c4_wet if wet else read_c4_json)(open_local, sys.argv[1])
steps = url_recipe(C4Config()) if wet else import_recipe()
rows = read_rows(items, sys.argv[1], False, counters, logging.getLogger("memory"))
print(sum(len(b) for b in run_steps(rows, steps, counters, batch_size=16)))
"""
# The reader runs as the only child of this process, so its reported peak is the reader's own.
MEASURE = """
import resource, subprocess, sys
child = subprocess.run([sys.executable, "-c", *sys.argv[1:]], capture_output=True, text=True, check=True)
print(child.stdout.strip(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _text() -> str:
    """About 20 KB of incompressible text in lines of 76 characters."""
    words = base64.b64encode(os.urandom(15000)).decode()
    return "\n".join(words[j:j + 76] + "." for j in range(0, len(words), 76))


def _wet(path: Path, pages: int) -> Path:
    with open(path, "wb") as f:
        for i in range(pages):
            body = _text().encode()
            record = (f"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: https://example.com/{i}\r\n"
                      f"WARC-Date: 2019-04-18T10:00:00Z\r\nContent-Type: text/plain\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n").encode() + body + b"\r\n\r\n"
            c = zlib.compressobj(1, zlib.DEFLATED, 31)
            f.write(c.compress(record) + c.flush())
    return path


def _json(path: Path, records: int) -> Path:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as f:
        for i in range(records):
            f.write(json.dumps({"text": _text(), "timestamp": "2019-04-25T12:57:54Z",
                                "url": f"https://example.com/{i}"}) + "\n")
    return path


def _peak(path: Path, docs: int) -> int:
    done = subprocess.run([sys.executable, "-c", MEASURE, READ_ALL, str(path)], cwd=REPO, capture_output=True,
                          text=True, check=True)
    count, rss = done.stdout.split()
    assert int(count) == docs
    return int(rss)  # kB


def test_wet_and_json_readers_hold_one_record_at_a_time(tmp_path):
    for make, name in ((_wet, "x.warc.wet.gz"), (_json, "c4-train.00000-of-01024.json.gz")):
        small = make(tmp_path / f"small-{name}", 400)
        large = make(tmp_path / f"large-{name}", 1600)
        assert large.stat().st_size > 3.9 * small.stat().st_size and large.stat().st_size > 20 << 20
        small_peak, large_peak = _peak(small, 400), _peak(large, 1600)
        assert large_peak - small_peak < 4 * 1024, (name, small_peak, large_peak)  # keeping the texts: +30 MB
