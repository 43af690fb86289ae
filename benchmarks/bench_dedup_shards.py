"""Benchmark how `llamapipe dedup`'s cost grows with its hash shard count; write BENCHMARKS.md.

Dedup's shard stages read their partition of every producer's scratch file, so a run over many shards
(a large corpus: one shard per 32 MB of input, up to 4,096) pays per-file and per-shard costs that a
small run never shows. This runs dedup on one input at several --shard-mb values (the default and ones
that force hundreds or thousands of shards on a small corpus) and reports wall time, CPU-seconds of the
whole process tree, CPU-s per MB of input and peak RSS, and checks that every run wrote the same
shards (the shard count must never change the output).

    python benchmarks/bench_dedup_shards.py --input CORPUS_FOLDER [--shard-mb 32 --shard-mb 0.35 ...]
        [--workers 2] [--work DIR] [--output BENCHMARKS.md]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench_common import ROOT, machine, measure, write_section

sys.path.insert(0, str(ROOT))
from dedup.spill import shard_count  # noqa: E402


def input_bytes(folder: Path) -> int:
    """Bytes of the corpus shards dedup reads from a folder (Parquet files outside _-prefixed folders)."""
    return sum(p.stat().st_size for p in folder.rglob("*.parquet")
               if not any(part.startswith("_") for part in p.relative_to(folder).parts))


def shard_files(out: Path) -> dict[str, str]:
    """Output shard -> sha256, from the run's manifest."""
    manifest = json.loads((out / "_manifest.json").read_text())
    return {f["path"]: f["sha256"] for f in manifest["files"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, help="a finished corpus shard folder (e.g. a ccnet output)")
    ap.add_argument("--shard-mb", type=float, action="append", help="repeatable (default: 32 and 0.35)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--work", help="where the outputs go (default: a temporary folder, removed)")
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    folder = Path(args.input).resolve()
    size = input_bytes(folder)
    files = sum(1 for _ in folder.rglob("*.parquet"))
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-dedup-shards-"))
    rows, outputs = [], {}
    for mb in args.shard_mb or [32.0, 0.35]:
        out = work / f"shard-mb-{mb:g}"
        shutil.rmtree(out, ignore_errors=True)
        r = measure([sys.executable, "-m", "pipelines.cli", "dedup", "--input", str(folder), "--output", str(out),
                     "--shard-mb", f"{mb:g}", "--workers", str(args.workers)])
        if not (out / "_SUCCESS").exists():
            sys.exit(f"dedup --shard-mb {mb:g} failed: {r['last']}")
        outputs[mb] = shard_files(out)
        shards = shard_count(size, max(1, int(mb * 2 ** 20)))
        rows.append((mb, shards, r))
        print(f"--shard-mb {mb:g}: {shards} shards, {r['wall']:.1f} s wall, {r['cpu']:.1f} CPU-s", flush=True)
    same = all(o == next(iter(outputs.values())) for o in outputs.values())
    lines = ["## Dedup across shard counts", "",
             f"`python benchmarks/bench_dedup_shards.py --input {folder.name} --workers {args.workers}` on "
             f"{machine()}: {files:,} input Parquet files, {size / 1e6:,.0f} MB. Each row is one `llamapipe dedup` "
             "run; CPU is user + system of the whole process tree (launcher and workers).", "",
             "| --shard-mb | shards | wall s | CPU s | CPU s/MB | peak RSS tree GB | written GB |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for mb, shards, r in rows:
        lines.append(f"| {mb:g} | {shards:,} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['cpu'] / (size / 1e6):.3f} | "
                     f"{r['peak_rss'] / 2 ** 30:.2f} | {r['written'] / 1e9:.2f} |")
    lines += ["", f"Output shards byte-identical across the runs: {'yes' if same else '**no**'} "
              f"({len(next(iter(outputs.values())))} files, sha256 from each run's _manifest.json)."]
    write_section(Path(args.output), "dedup-shards", "\n".join(lines))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    if not same:
        sys.exit("outputs differ across shard counts")


if __name__ == "__main__":
    main()
