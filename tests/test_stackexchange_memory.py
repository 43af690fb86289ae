"""The Stack Exchange reader streams: a synthetic Posts.xml of 200k rows, read as an extracted file and
out of a .7z, peaks at the same memory as one a quarter its size (a whole-file read would not)."""
from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
from pathlib import Path

import py7zr

REPO = Path(__file__).resolve().parents[1]
ROWS = 200_000

COUNT_ROWS = """
import sys
from corpus.stackexchange_dump import Post, read_posts
from pipelines.fileio import open_raw
print(sum(isinstance(p, Post) for p in read_posts(sys.argv[1], open_raw)))
"""
# The reader runs as this wrapper's only child, so RUSAGE_CHILDREN is its peak alone (the test
# process itself may have had larger children before, e.g. Beam workers).
PEAK_OF_CHILD = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-c", sys.argv[1], sys.argv[2]], capture_output=True, text=True, check=True)
print(done.stdout.strip(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _fixture_maker():
    spec = importlib.util.spec_from_file_location("make_stackexchange",
                                                  Path(__file__).parent / "data" / "make_stackexchange.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _synthetic_site(folder: Path, rows: int) -> tuple[Path, Path]:
    """`folder`/synthetic.stackexchange.com/Posts.xml of `rows` rows (a question, then two answers to it,
    bodies of random words), and the same as a .7z (LZMA2, fast preset)."""
    make = _fixture_maker()
    rnd = random.Random(rows)
    words = ["".join(rnd.choices("abcdefghijklmnopqrstuvwxyz", k=rnd.randint(2, 9))) for _ in range(5000)]
    xml = folder / "synthetic.stackexchange.com" / "Posts.xml"
    xml.parent.mkdir(parents=True)
    with open(xml, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"{make.HEADER}\n<posts>\n")
        for i in range(1, rows + 1):
            body = f"<p>{' '.join(rnd.choices(words, k=12))}</p>\n"
            if i % 3 == 1:
                f.write(make.question(i, f"Title {i}", body, 1, "2020-01-01T00:00:00.000", "<x>") + "\n")
            else:
                f.write(make.answer(i, i - (i - 1) % 3, body, i % 7, "2020-01-01T00:00:00.000") + "\n")
        f.write("</posts>\n")
    archive = folder / "synthetic.stackexchange.com.7z"
    with py7zr.SevenZipFile(archive, "w", filters=[{"id": py7zr.FILTER_LZMA2, "preset": 0}]) as z:
        z.write(xml, "Posts.xml")
    return xml, archive


def _peak_kb(path: Path, rows: int) -> int:
    done = subprocess.run([sys.executable, "-c", PEAK_OF_CHILD, COUNT_ROWS, str(path)], cwd=REPO,
                          capture_output=True, text=True, check=True)
    count, peak = done.stdout.split()
    assert int(count) == rows
    return int(peak)


def test_reader_memory_stays_flat_as_posts_xml_grows(tmp_path):
    small = _synthetic_site(tmp_path / "small", ROWS // 4)
    large = _synthetic_site(tmp_path / "large", ROWS)
    assert large[0].stat().st_size > max(60 << 20, 3.5 * small[0].stat().st_size)
    for small_input, large_input in zip(small, large):
        grown = large_input.stat().st_size - small_input.stat().st_size
        small_peak, large_peak = _peak_kb(small_input, ROWS // 4), _peak_kb(large_input, ROWS)
        # The large input is 45+ MB bigger uncompressed; the reader may grow by a few MB at most.
        assert large_peak - small_peak < 8 << 10, (large_input.name, small_peak, large_peak, grown)
