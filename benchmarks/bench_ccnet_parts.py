"""Benchmark ccnet's output part size (--part-mb) and what it costs the stages after it; write BENCHMARKS.md.

One part per input file and partition (--part-mb 0) fans a multilingual crawl out into languages x
buckets tiny files per input file, and every later stage pays per file. This runs `llamapipe ccnet` on
one WET corpus at each --part-mb, then `llamapipe dedup` (and, given --tokenizer, `llamapipe tokenize`)
on each output, measuring wall time, CPU-seconds of the whole process tree and peak RSS, and counts the
files written. It checks that every run holds the same rows in the same order in each partition (the
part size must change the files, never the corpus).

    python benchmarks/bench_ccnet_parts.py --corpus WET_FOLDER --models MODELS [--part-mb 0 --part-mb 64]
        [--tokenizer tok.model] [--workers 2] [--work DIR] [--output BENCHMARKS.md]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from bench_common import ROOT, machine, measure, write_section


def parts(out: Path) -> list[Path]:
    return sorted(out.glob("lang=*/bucket=*/part-*.parquet"))


def partition_digests(out: Path) -> dict[str, str]:
    """Partition -> sha256 of its rows' ids and texts, in part order (the corpus, whatever its files)."""
    digests: dict[str, hashlib._Hash] = {}
    for path in parts(out):
        table = pq.read_table(path, columns=["id", "text"])
        h = digests.setdefault(str(path.parent.relative_to(out)), hashlib.sha256())
        for doc_id, text in zip(table.column("id").to_pylist(), table.column("text").to_pylist()):
            h.update(doc_id.encode() + b"\0" + text.encode() + b"\0")
    return {k: h.hexdigest() for k, h in digests.items()}


def run(cmd: list[str], out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    r = measure([sys.executable, "-m", "pipelines.cli", *cmd])
    if not (out / "_SUCCESS").exists():
        sys.exit(f"{' '.join(cmd[:1])} into {out} failed: {r['last']}")
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="a folder of *.warc.wet.gz files")
    ap.add_argument("--models", required=True, help="ccnet's MODELS folder (lm/<lang>.sp.model, .arpa.bin)")
    ap.add_argument("--part-mb", type=float, action="append", help="repeatable (default: 0 and 64)")
    ap.add_argument("--tokenizer", help="a SentencePiece model: tokenize each output too")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--work", help="where the outputs go (default: a temporary folder, removed)")
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    corpus = Path(args.corpus).resolve()
    wet = sorted(corpus.glob("*.warc.wet.gz"))
    if not wet:
        sys.exit(f"{corpus}: no *.warc.wet.gz files")
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-ccnet-parts-"))
    work.mkdir(parents=True, exist_ok=True)
    mixture = work / "mixture.yaml"
    mixture.write_text("sources:\n  cc: {proportion: 1.0, epochs: 1.0}\n")
    workers = ["--workers", str(args.workers)]
    rows, digests = [], {}
    for mb in args.part_mb or [0.0, 64.0]:
        out = work / f"ccnet-part-mb-{mb:g}"
        r = {"ccnet": run(["ccnet", "--input", str(corpus / "*.warc.wet.gz"), "--models", args.models,
                           "--output", str(out), "--part-mb", f"{mb:g}", *workers], out)}
        files = parts(out)
        sizes = [p.stat().st_size for p in files]
        digests[mb] = partition_digests(out)
        r["dedup"] = run(["dedup", "--input", str(out), "--output", str(work / f"dedup-{mb:g}"), *workers],
                         work / f"dedup-{mb:g}")
        if args.tokenizer:
            r["tokenize"] = run(["tokenize", "--corpus", f"cc={out}", "--tokenizer", args.tokenizer, "--mixture",
                                 str(mixture), "--out", str(work / f"tokens-{mb:g}"), *workers],
                                work / f"tokens-{mb:g}")
        rows.append((mb, len(files), sum(sizes), statistics.median(sizes), r))
        print(f"--part-mb {mb:g}: {len(files)} files, " + ", ".join(
            f"{k} {v['wall']:.1f} s wall {v['cpu']:.1f} CPU-s" for k, v in r.items()), flush=True)
    same = all(d == next(iter(digests.values())) for d in digests.values())
    stages = list(rows[0][4])
    wet_mb = sum(p.stat().st_size for p in wet) / 1e6
    lines = ["## ccnet output parts", "",
             f"`python benchmarks/bench_ccnet_parts.py --corpus {corpus.parent.name}/{corpus.name} "
             f"--workers {args.workers}"
             f"{' --tokenizer ' + Path(args.tokenizer).name if args.tokenizer else ''}` on {machine()}: "
             f"{len(wet)} WET files, {wet_mb:,.0f} MB gzipped. Each row is one `llamapipe ccnet` run at that "
             f"--part-mb, then {' and '.join(stages[1:])} on its output; CPU is user + system of the whole "
             "process tree (launcher and workers), RSS the tree's peak.", "",
             "| --part-mb | files | median file KB | total MB | "
             + " | ".join(f"{s} wall s | {s} CPU s | {s} RSS GB" for s in stages) + " |",
             "| ---: | ---: | ---: | ---: | " + " | ".join("---: | ---: | ---:" for _ in stages) + " |"]
    for mb, n, total, median, r in rows:
        lines.append(f"| {mb:g} | {n:,} | {median / 1e3:,.0f} | {total / 1e6:,.1f} | " + " | ".join(
            f"{r[s]['wall']:.1f} | {r[s]['cpu']:.1f} | {r[s]['peak_rss'] / 2 ** 30:.2f}" for s in stages) + " |")
    lines += ["", f"Same rows in the same order in every partition across the runs: {'yes' if same else '**no**'} "
              f"({len(next(iter(digests.values())))} partitions, sha256 of ids and texts in part order)."]
    write_section(Path(args.output), "ccnet-parts", "\n".join(lines))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    if not same:
        sys.exit("the part size changed the corpus")


if __name__ == "__main__":
    main()
