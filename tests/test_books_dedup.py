"""`llamapipe books` then `llamapipe dedup --granularity book` on real-prose books (~2,500 words each, made
here from tests/data/reference/en.txt.gz): a 95%-identical edition and a book that is the first half of
another are removed; the original, a heavily reworked edition and unrelated books are kept."""
from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path

import pyarrow.parquet as pq

from corpus.counters import check_accounting
from pipelines import cli


def _maker():
    spec = importlib.util.spec_from_file_location("make_books", Path(__file__).parent / "data" / "make_books.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _maker()
WORDS = 2500


def _edited(paragraph: str) -> str:
    """An edited paragraph: every second word changed (spelt backwards: no 5-word shingle survives, in any
    case) and its last sentence cut."""
    cut = paragraph.rfind(". ", 0, len(paragraph) - 2)
    words = (paragraph[:cut + 1] if cut > len(paragraph) // 2 else paragraph[:len(paragraph) * 3 // 4]).split()
    return " ".join(w[::-1] if i % 2 == 0 else w for i, w in enumerate(words))


def _books(folder: Path) -> dict[str, list[str]]:
    """The planted books as paragraph lists: original A; B = A with every 20th paragraph edited (5%);
    C = the first half of A's paragraphs; D and E unrelated; F = A with a third of its paragraphs edited
    (about 70% contained in A: below the 90% rule, so kept)."""
    paras = MAKE.prose_paragraphs()
    a = MAKE.book_text(paras[1000:], WORDS)
    b = [_edited(p) if i % 20 == 10 else p for i, p in enumerate(a)]
    c = a[:len(a) // 2]
    f = [_edited(p) if i % 3 == 1 else p for i, p in enumerate(a)]
    d = MAKE.book_text(paras[1400:], WORDS)
    e = MAKE.book_text(paras[1800:], WORDS)
    books = {"A original": a, "B edition": b, "C first half": c, "D unrelated": d, "E unrelated": e,
             "F reworked": f}
    for title, ps in books.items():
        (folder / f"{title}.txt").write_text("\n\n".join(textwrap.fill(p, 72) for p in ps) + "\n", encoding="utf-8")
    return books


def _titles(out: Path) -> list[str]:
    rows = [r for f in sorted(out.glob("lang=*/bucket=*/*.parquet")) for r in pq.read_table(f).to_pylist()]
    return sorted(json.loads(r["meta"])["title"] for r in rows)


def test_book_dedup_removes_the_edition_and_the_half_and_keeps_the_rest(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    books = _books(src)
    assert all(sum(len(p.split()) for p in ps) >= 1000 for ps in books.values())
    edited = sum(x != y for x, y in zip(books["A original"], books["B edition"]))
    assert edited == len(books["A original"]) // 20 + (len(books["A original"]) % 20 > 10) > 1
    assert sum(map(len, books["B edition"])) < sum(map(len, books["A original"]))  # the original is the longest
    assert cli.main(["books", "--input", str(src / "*.txt"), "--output", str(tmp_path / "books"),
                     "--workers", "1"]) == 0
    assert _titles(tmp_path / "books") == sorted(books)
    assert cli.main(["dedup", "--input", str(tmp_path / "books"), "--output", str(tmp_path / "dedup"),
                     "--granularity", "book", "--workers", "1"]) == 0
    assert _titles(tmp_path / "dedup") == ["A original", "D unrelated", "E unrelated", "F reworked"]
    stats = json.loads((tmp_path / "dedup" / "_stats.json").read_text())
    assert not check_accounting(stats)
    assert stats["documents"]["dropped"]["near_duplicate"] == 2
    clusters = pq.read_table(tmp_path / "dedup" / "_clusters.parquet").to_pylist()
    assert len({r["cluster_id"] for r in clusters}) == 1 and sum(r["kept"] for r in clusters) == 1
