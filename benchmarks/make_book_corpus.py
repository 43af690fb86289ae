"""Build a book-mode near-duplicate benchmark corpus from real text, with exact-containment ground truth.

Originals are runs of consecutive real documents (make_wet_corpus.py's extracted pool: Debian
handbooks, manuals, man pages, Python docs in up to 15 languages), one document a chapter, cut into books
of --min-kb to --max-kb. Planted from them, seeded:
- `reformat`: the original rewrapped at another width (whitespace only);
- `edition`: rewrapped, a real preface added, 1-3 chapter pairs swapped, 0.2-1.5% of the words edited
  (replaced, deleted, inserted or swapped);
- `borderline`: an edition with 1.5-3% of the words edited (containment on either side of 0.9);
- `truncated`: the first 30-60% of the chapters;
- `rework` (hard negative): 4-9% of the words edited (containment ~0.65-0.8);
- `anthology` (hard negative): one chapter from each of 3-8 originals.
Then `llamapipe books --format txt` turns the .txt files into the corpus Parquet that `llamapipe dedup
--granularity book` reads, and the truth is computed on the texts it wrote: every pair's shared word
5-gram count (dedup.minhash.shingles, 64-bit hashed) over the smaller book's, for ALL pairs, so natural
overlaps count too. Output: OUT/txt/, OUT/books/ (corpus Parquet), OUT/books.jsonl (title, id, kind,
source, chars, shingles), OUT/truth.jsonl (every planted pair and every pair of containment >= 0.5),
OUT/summary.json.

    python benchmarks/make_book_corpus.py --pool /tmp/scale/.pool-cache/pool-*.jsonl.gz --out /tmp/h28/books \
        [--size-mb 150] [--seed 1] [--min-kb 50] [--max-kb 1000] [--workers 2]

The pool is make_wet_corpus.py's cache (`make_wet_corpus.py --pool-stats --cache-dir DIR` writes it):
gzipped JSON lines {src, lang, path, part, text} after a header line.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import math
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dedup.minhash import shingles  # noqa: E402

THRESHOLD = 0.9
RECORD_FROM = 0.5
# share of originals that get each plant (independently); anthologies per original
PLANT_SHARES = {"reformat": 0.05, "edition": 0.22, "borderline": 0.10, "truncated": 0.15, "rework": 0.13}
ANTHOLOGY_SHARE = 0.05
# a CJK character (dedup.minhash's ranges) is a token of its own; other tokens are runs of non-space
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_UNIT_RE = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+|\\s+")
EDIT_RATES = {"edition": (0.002, 0.015), "borderline": (0.015, 0.03), "rework": (0.04, 0.09)}


@dataclass(frozen=True)
class Book:
    """A planted or original book: its title (the .txt file name), kind, source titles and chapters."""

    title: str
    kind: str
    sources: tuple[str, ...]
    chapters: tuple[str, ...]

    def text(self) -> str:
        """The book as written to its .txt file: chapters separated by a blank line."""
        return "\n\n".join(self.chapters) + "\n"


def read_pool(path: str) -> list[dict]:
    """The pool's documents (header line skipped), each {src, lang, path, part, text}."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [r for r in rows if "text" in r]


def group_runs(pool: list[dict]) -> list[list[dict]]:
    """Documents grouped by (source, language, folder), in path and part order: the runs books are cut from."""
    groups: dict[tuple, list[dict]] = {}
    for d in pool:
        groups.setdefault((d["src"], d["lang"], os.path.dirname(d["path"])), []).append(d)
    return [sorted(g, key=lambda d: (d["path"], d["part"])) for _, g in sorted(groups.items())]


def cut_originals(runs: list[list[dict]], rng: random.Random, budget: int, min_bytes: int,
                  max_bytes: int) -> tuple[list[list[str]], list[str]]:
    """(originals as chapter lists, reserve chapters): runs in shuffled order cut into books of a
    log-uniform size in [min_bytes, max_bytes] until `budget` bytes; what is left over is the reserve."""
    order = list(range(len(runs)))
    rng.shuffle(order)
    books: list[list[str]] = []
    reserve: list[str] = []
    total = 0
    for i in order:
        current: list[str] = []
        size = 0
        target = math.exp(rng.uniform(math.log(min_bytes), math.log(max_bytes)))
        for d in runs[i]:
            if total >= budget:
                reserve.append(d["text"])
                continue
            current.append(d["text"])
            size += len(d["text"].encode("utf-8"))
            if size >= target:
                if len(current) >= 3:
                    books.append(current)
                    total += size
                else:
                    reserve.extend(current)
                current, size = [], 0
                target = math.exp(rng.uniform(math.log(min_bytes), math.log(max_bytes)))
        reserve.extend(current)
    return books, reserve


def wrap(text: str, width: int) -> str:
    """Each line's words greedily refilled to `width` columns (a reformatted edition: same words)."""
    out = []
    for line in text.split("\n"):
        words = line.split()
        if not words:
            out.append("")
            continue
        cur, n = [], 0
        for w in words:
            if cur and n + 1 + len(w) > width:
                out.append(" ".join(cur))
                cur, n = [], 0
            n += len(w) + (1 if cur else 0)
            cur.append(w)
        out.append(" ".join(cur))
    return "\n".join(out)


def edit_words(text: str, rate: float, rng: random.Random) -> str:
    """`rate` of the tokens (words; CJK characters, as dedup.minhash.tokens counts them) replaced by another
    token of the text, deleted, doubled or swapped with the next one, in equal shares; spacing stays."""
    units = _UNIT_RE.findall(text)
    vocab = [u for u in units if not u.isspace()]
    if not vocab:
        return text
    out: list[str] = []
    i = 0
    while i < len(units):
        u = units[i]
        if u.isspace() or rng.random() >= rate:
            out.append(u)
            i += 1
            continue
        op = rng.randrange(4)
        if op == 0:
            out.append(rng.choice(vocab))
        elif op == 2:
            out += [u, " ", rng.choice(vocab)]
        elif op == 3 and i + 2 < len(units):
            out += [units[i + 2], units[i + 1], u]
            i += 2
        i += 1
    return "".join(out)


def plant(originals: list[Book], reserve: list[str], rng: random.Random) -> list[Book]:
    """The planted books (module docstring), titled after their kind and first source."""
    planted: list[Book] = []
    for book in originals:
        for kind, share in PLANT_SHARES.items():
            if rng.random() >= share:
                continue
            chapters = list(book.chapters)
            width = rng.choice((60, 66, 70, 76, 80))
            if kind == "truncated":
                chapters = chapters[:max(1, round(len(chapters) * rng.uniform(0.3, 0.6)))]
            elif kind in EDIT_RATES:
                rate = rng.uniform(*EDIT_RATES[kind])
                chapters = [edit_words(c, rate, rng) for c in chapters]
                if kind != "rework":
                    for _ in range(rng.randint(1, 3)):
                        a, b = rng.randrange(len(chapters)), rng.randrange(len(chapters))
                        chapters[a], chapters[b] = chapters[b], chapters[a]
                    if reserve:
                        chapters.insert(0, reserve.pop(rng.randrange(len(reserve))))
            chapters = [wrap(c, width) for c in chapters]
            planted.append(Book(f"{kind}-{len(planted):05d}-of-{book.title}", kind, (book.title,), tuple(chapters)))
    for _ in range(max(1, round(len(originals) * ANTHOLOGY_SHARE)) if len(originals) >= 3 else 0):
        picked = rng.sample(originals, min(len(originals), rng.randint(3, 8)))
        chapters = tuple(wrap(rng.choice(b.chapters), 72) for b in picked)
        planted.append(Book(f"anthology-{len(planted):05d}", "anthology", tuple(b.title for b in picked), chapters))
    return planted


def write_txt(books: list[Book], folder: Path) -> None:
    """One UTF-8 .txt file per book, named after its title."""
    folder.mkdir(parents=True, exist_ok=True)
    for b in books:
        (folder / f"{b.title}.txt").write_text(b.text(), encoding="utf-8")


def run_books(txt: Path, out: Path, workers: int, min_words: Optional[int] = None) -> None:
    """`llamapipe books --format txt` over the .txt files into the corpus Parquet at `out` (its own
    --min-words unless `min_words` is given)."""
    cmd = [sys.executable, "-m", "pipelines.cli", "books", "--input", str(txt / "*.txt"), "--output", str(out),
           "--format", "txt", "--workers", str(workers)]
    if min_words is not None:
        cmd += ["--min-words", str(min_words)]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def read_corpus(folder: Path) -> list[dict]:
    """Rows {id, title, lang, text} of a corpus Parquet folder (llamapipe's lang=*/bucket=*/*.parquet), by title."""
    import pyarrow.parquet as pq

    rows = []
    for f in sorted(glob.glob(str(folder / "lang=*" / "bucket=*" / "*.parquet"))):
        for r in pq.read_table(f, columns=["id", "text", "lang", "meta"]).to_pylist():
            rows.append({"id": r["id"], "title": json.loads(r["meta"])["title"], "lang": r["lang"], "text": r["text"]})
    return sorted(rows, key=lambda r: r["title"])


def shingle_set(text: str) -> np.ndarray:
    """Sorted unique 64-bit hashes (BLAKE2b) of the text's word 5-grams: llamapipe's shingles, not its hash."""
    digests = b"".join([hashlib.blake2b(s, digest_size=8).digest() for s in shingles(text)])
    return np.unique(np.frombuffer(digests, dtype="<i8"))


def shared_counts(sets: list[np.ndarray]) -> np.ndarray:
    """(n, n) matrix of shared shingle counts of every pair of sets: a sparse book x shingle product."""
    from scipy import sparse

    values, columns = np.unique(np.concatenate(sets), return_inverse=True)
    rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    m = sparse.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, columns)), shape=(len(sets), len(values)))
    return (m @ m.T).toarray()


def truth_pairs(rows: list[dict], planted: dict[frozenset, str]) -> tuple[list[dict], list[int]]:
    """(pairs of containment >= RECORD_FROM or planted, each with its exact counts; shingle count per row)."""
    sets = [shingle_set(r["text"]) for r in rows]
    sizes = [len(s) for s in sets]
    shared = shared_counts(sets)
    out = []
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            common = int(shared[i, j])
            smaller = min(sizes[i], sizes[j])
            containment = common / smaller if smaller else 0.0
            kind = planted.get(frozenset((rows[i]["title"], rows[j]["title"])))
            if containment >= RECORD_FROM or kind:
                a, b = rows[i], rows[j]
                out.append({"a": a["title"], "b": b["title"], "a_id": a["id"], "b_id": b["id"],
                            "a_shingles": sizes[i], "b_shingles": sizes[j], "shared": common,
                            "a_in_b": common / sizes[i] if sizes[i] else 0.0,
                            "b_in_a": common / sizes[j] if sizes[j] else 0.0,
                            "containment": containment, "planted": kind, "duplicate": containment >= THRESHOLD})
    return out, sizes


def build(pool: list[dict], out: Path, size_mb: float, seed: int, min_kb: float, max_kb: float, workers: int,
          min_words: Optional[int] = None) -> dict:
    """Cut, plant, write and ingest the corpus into `out`; write books.jsonl, truth.jsonl, summary.json."""
    rng = random.Random(seed)
    expected_ratio = 1 + sum(PLANT_SHARES.values()) - PLANT_SHARES["truncated"] * 0.55
    chapters, reserve = cut_originals(group_runs(pool), rng, int(size_mb * 1e6 / expected_ratio),
                                      int(min_kb * 1e3), int(max_kb * 1e3))
    originals = [Book(f"original-{i:05d}", "original", (), tuple(c)) for i, c in enumerate(chapters)]
    books = originals + plant(originals, reserve, rng)
    write_txt(books, out / "txt")
    run_books(out / "txt", out / "books", workers, min_words)
    rows = read_corpus(out / "books")
    by_title = {b.title: b for b in books}
    planted = {frozenset((b.title, s)): b.kind for b in books for s in b.sources}
    pairs, sizes = truth_pairs(rows, planted)
    with open(out / "books.jsonl", "w", encoding="utf-8") as f:
        for r, n in zip(rows, sizes):
            b = by_title[r["title"]]
            f.write(json.dumps({"title": r["title"], "id": r["id"], "kind": b.kind, "lang": r["lang"],
                                "sources": list(b.sources),
                                "chars": len(r["text"]), "bytes": len(r["text"].encode("utf-8")),
                                "shingles": n}) + "\n")
    with open(out / "truth.jsonl", "w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(p) + "\n")
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[by_title[r["title"]].kind] = kinds.get(by_title[r["title"]].kind, 0) + 1
    summary = {"seed": seed, "books_written": len(books), "books_in_corpus": len(rows),
               "dropped_by_books": sorted(set(by_title) - {r["title"] for r in rows}),
               "mb": sum(len(r["text"].encode("utf-8")) for r in rows) / 1e6, "kinds": kinds,
               "truth_pairs": sum(p["duplicate"] for p in pairs),
               "planted_pairs": sum(1 for p in pairs if p["planted"]),
               "planted_duplicates_by_kind": _by_kind(pairs, True), "planted_negatives_by_kind": _by_kind(pairs, False),
               "unplanted_duplicates": sum(1 for p in pairs if p["duplicate"] and not p["planted"])}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _by_kind(pairs: list[dict], duplicate: bool) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in pairs:
        if p["planted"] and p["duplicate"] == duplicate:
            counts[p["planted"]] = counts.get(p["planted"], 0) + 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", required=True, help="make_wet_corpus.py pool cache (pool-*.jsonl.gz)")
    ap.add_argument("--out", required=True, help="output folder (must not exist)")
    ap.add_argument("--size-mb", type=float, default=150.0, help="target MB of book text, plants included")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-kb", type=float, default=50.0)
    ap.add_argument("--max-kb", type=float, default=1000.0)
    ap.add_argument("--workers", type=int, default=2, help="workers of `llamapipe books`")
    ap.add_argument("--min-words", type=int, help="`llamapipe books --min-words` (default: its own)")
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists():
        sys.exit(f"--out {out} exists: choose a new folder")
    pools = sorted(glob.glob(args.pool))
    if len(pools) != 1:
        sys.exit(f"--pool {args.pool} matches {len(pools)} files, need one")
    summary = build(read_pool(pools[0]), out, args.size_mb, args.seed, args.min_kb, args.max_kb, args.workers,
                    args.min_words)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
