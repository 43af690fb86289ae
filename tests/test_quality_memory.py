"""wiki-refs streams: one dump unit of 8,000 pages citing 240,000 URLs peaks at the same memory as one a
quarter its size (holding the unit's pages or reference rows would not)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_wikipedia import Page, write_dump  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAGES = 8000
REFS_PER_PAGE = 30

WRITE_REFS = """
import sys
from pipelines.quality import write_refs
from pipelines.source import Unit
from pipelines.steps.quality import WikiRefsConfig
entries, counters = write_refs(WikiRefsConfig(out=sys.argv[2], mode="redpajama"), 0, Unit(0, sys.argv[1]))
print(entries[0]["rows"])
"""
# The unit runs as this wrapper's only child, so RUSAGE_CHILDREN is its peak alone.
PEAK_OF_CHILD = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-c", *sys.argv[1:]], capture_output=True, text=True, check=True)
print(done.stdout.strip(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def synthetic_dump(folder: Path, pages: int) -> Path:
    """An enwiki multistream dump of `pages` articles, 100 to a bz2 stream, each citing REFS_PER_PAGE URLs."""
    streams = []
    for start in range(0, pages, 100):
        streams.append([Page(f"Page {i}", 0, i + 1, "".join(
            f"Fact {j} of page {i} is well sourced.<ref>https://site{j}.example.org/{i}/article-{j}.html</ref>\n"
            for j in range(REFS_PER_PAGE))) for i in range(start, min(start + 100, pages))])
    dump, _ = write_dump(folder, "en", streams, index=False)
    return dump


def peak_kb(dump: Path, out: Path) -> tuple[int, int]:
    done = subprocess.run([sys.executable, "-c", PEAK_OF_CHILD, WRITE_REFS, str(dump), str(out)], cwd=REPO,
                          capture_output=True, text=True, check=True)
    rows, peak = done.stdout.split()
    return int(rows), int(peak)


def test_wiki_refs_unit_memory_stays_flat(tmp_path):
    small = synthetic_dump(tmp_path / "small", PAGES // 4)
    large = synthetic_dump(tmp_path / "large", PAGES)
    small_rows, small_peak = peak_kb(small, tmp_path / "out-small")
    large_rows, large_peak = peak_kb(large, tmp_path / "out-large")
    assert (small_rows, large_rows) == (PAGES // 4 * REFS_PER_PAGE, PAGES * REFS_PER_PAGE)
    # 180,000 more rows (about 50 MB as Python dicts) and 4x the text: the unit may grow by a few MB at most.
    assert large_peak - small_peak < 12 << 10, (small_peak, large_peak)
