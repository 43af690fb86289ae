"""Scale benchmark and cost model: ccnet -> dedup -> tokenize on one machine, per stage, then per TB.

Builds (or reuses) a WET corpus of --mb MB of text with ../shared/bench/make_wet_corpus.py, runs
`llamapipe ccnet`, `llamapipe dedup`, `llamapipe tokenizer-train` (on a sample, unless --tokenizer is
given) and `llamapipe tokenize`, each measured by bench_common.measure: wall s, CPU-seconds of the whole
process tree, peak RSS (tree, launcher, largest worker), the largest size OUT/_temporary reached
(sampled once a second) and the bytes the tree wrote to storage. From those it writes the "Scale"
section of BENCHMARKS.md with a cost model per TB of WET text and for a 100 TB crawl on Dataflow.

    python benchmarks/bench_scale.py --models MODELS --mb 2000
    python benchmarks/bench_scale.py --models MODELS --mb 50 --out /tmp/scale.md
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Optional
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench_common import ROOT, machine, measure, write_section

MAKE_CORPUS = ROOT.parent / "shared" / "bench" / "make_wet_corpus.py"
# Dataflow batch worker list prices, us-central1, as assumed here (flags override them).
PRICES_URL = "https://cloud.google.com/dataflow/pricing"
VCPU_HOUR_USD = 0.056
GB_HOUR_USD = 0.003557
SHUFFLE_GB_USD = 0.011
PRICES_DATE = "2026-11-29"


@dataclass(frozen=True)
class Stage:
    """One measured command: what it read (MB of text) and what measure() returned."""

    name: str
    text_mb: float
    m: dict

    @property
    def cpu_per_mb(self) -> float:
        return self.m["cpu"] / self.text_mb if self.text_mb else 0.0


def build_corpus(out: Path, mb: float, seed: int, file_mb: float, pool_cache: str | None) -> Path:
    """A WET corpus of `mb` MB of text under `out` (reused when its summary says the same size and seed);
    `pool_cache`: make_wet_corpus.py's extracted-text cache (default: next to `out`)."""
    summary = out / "summary.json"
    if summary.exists():
        info = json.loads(summary.read_text())
        if info.get("target_mb") == mb and info.get("seed") == seed:
            return out
    if not MAKE_CORPUS.exists():
        sys.exit(f"{MAKE_CORPUS} not found; give --corpus")
    subprocess.run([sys.executable, str(MAKE_CORPUS), "--out", str(out), "--size-mb", str(mb), "--file-mb",
                    str(file_mb), "--seed", str(seed), "--fill-with-variants", "--jobs", str(os.cpu_count() or 1),
                    *(["--cache-dir", pool_cache] if pool_cache else [])], check=True)
    return out


def wet_text_mb(corpus: Path) -> float:
    """MB of document text in the corpus, from its ground truth."""
    with open(corpus / "truth.jsonl", encoding="utf-8") as f:
        return sum(json.loads(line)["text_bytes"] for line in f) / 1e6


def llamapipe(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args]


def chars_mb(out: Path, key: str = "read") -> float:
    """MB (10^6 characters) of text a finished corpus run read or wrote, from its _stats.json."""
    return json.loads((out / "_stats.json").read_text())["chars"][key] / 1e6


def run_stages(args, corpus: Path, work: Path) -> list[Stage]:
    """ccnet, dedup, tokenizer-train (unless --tokenizer) and tokenize, each measured; outputs under `work`."""
    files = sorted((corpus / "wet").glob("*.warc.wet.gz"))
    workers = ["--workers", str(args.workers)]
    stages = []
    ccnet_out, dedup_out, tok_out = work / "ccnet", work / "dedup", work / "tokens"
    print(f"ccnet on {len(files)} files...", flush=True)
    cmd = llamapipe("ccnet", "--output", str(ccnet_out), "--models", str(args.models), "--overwrite", *workers)
    for f in files:
        cmd += ["--input", str(f)]
    stages.append(Stage("ccnet (parse, line dedup, LID, perplexity, buckets)", wet_text_mb(corpus),
                        measure(cmd, watch=ccnet_out / "_temporary")))
    print("dedup...", flush=True)
    stages.append(Stage("dedup (exact + MinHash near duplicates)", chars_mb(ccnet_out, "written"),
                        measure(llamapipe("dedup", "--input", str(ccnet_out), "--output", str(dedup_out),
                                          "--overwrite", *workers), watch=dedup_out / "_temporary")))
    tokenizer = args.tokenizer
    if not tokenizer:
        print("tokenizer-train on a sample...", flush=True)
        tokenizer = str(work / "tok" / "tok.model")
        (work / "tok").mkdir(parents=True, exist_ok=True)
        stages.append(Stage(f"tokenizer-train ({args.sample_docs:,} sampled documents, 32k BPE)", 0.0,
                            measure(llamapipe("tokenizer-train", "--corpus", f"cc={dedup_out}", "--renormalize",
                                              "--sample-docs", str(args.sample_docs), "--out", tokenizer,
                                              *workers))))
    print("tokenize...", flush=True)
    stages.append(Stage("tokenize (SentencePiece into token shards)", chars_mb(dedup_out, "written"),
                        measure(llamapipe("tokenize", "--corpus", f"cc={dedup_out}", "--renormalize", "--tokenizer",
                                          tokenizer, "--out", str(tok_out), "--overwrite", *workers),
                                watch=tok_out / "_temporary")))
    return stages


def duplicate_share(corpus: Path) -> Optional[float]:
    """Share of the corpus's documents that are planted exact or near copies, from its ground truth (None
    without one)."""
    if not (corpus / "truth.jsonl").is_file():
        return None
    planted = Counter()
    with open(corpus / "truth.jsonl", encoding="utf-8") as f:
        for line in f:
            planted[json.loads(line)["planted"]] += 1
    return (planted["exact_dup"] + planted["near_dup"]) / max(1, sum(planted.values()))


def copies_note(share: Optional[float]) -> str:
    """What the corpus's share of planted copies means for the figures ('' when unknown)."""
    if share is None:
        return ""
    return (f" {share:.0%} of its documents are planted exact or near copies (the real text the generator draws "
            f"from is short of the size), so line dedup leaves little for LID and perplexity, and CPU-seconds per MB "
            f"of WET text sit below what a real crawl costs: take the per-TB rows as a lower bound and the CCNet "
            f"throughput section's corpus for the per-MB cost of ordinary text.")


def report(args, corpus: Path, stages: list[Stage], wet_mb: float) -> list[str]:
    """The Scale section: per-stage table, cost model per TB of WET text, a 100 TB crawl on Dataflow."""
    gb = 1e9
    lines = [
        "## Scale: ccnet -> dedup -> tokenize on one machine, and a cost model (`benchmarks/bench_scale.py`)",
        "",
        f"Machine: {machine()}. Python {platform.python_version()}. Corpus: {len(list((corpus / 'wet').glob('*.gz')))} "
        f"WET files from make_wet_corpus.py (--fill-with-variants), {wet_mb:,.0f} MB of WET text. Default local "
        f"runner, {args.workers} workers. One run, {time.strftime('%Y-%m-%d')}.{copies_note(duplicate_share(corpus))}",
        "",
        "Stage input MB: text the stage read (ccnet: the WET text; dedup and tokenize: the characters the previous "
        "stage wrote). CPU s: user + system of the whole process tree. Scratch peak: the largest size OUT/_temporary "
        "reached, sampled once a second (the local runner's shuffle itself stays in the launcher's memory, so it "
        "shows in the launcher's RSS, not here). Disk writes: bytes the process tree wrote to storage "
        "(/proc/PID/io write_bytes less cancelled writes: output, scratch and Beam's own files).",
        "",
        "| stage | input MB | wall s | CPU s | CPU s per MB | peak RSS GB (tree) | launcher GB | largest worker GB "
        "| scratch peak GB | disk writes GB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in stages:
        m = s.m
        per_mb = f"{s.cpu_per_mb:.3f}" if s.text_mb else "-"
        lines.append(f"| {s.name} | {s.text_mb:,.0f} | {m['wall']:.1f} | {m['cpu']:.1f} | {per_mb} | "
                     f"{m['peak_rss'] / gb:.2f} | {m['peak_root'] / gb:.2f} | {m['peak_child'] / gb:.2f} | "
                     f"{m['peak_watch'] / gb:.3f} | {m['written'] / gb:.3f} |")
    total_cpu = sum(s.m["cpu"] for s in stages)
    total_wall = sum(s.m["wall"] for s in stages)
    lines.append(f"| all stages | {wet_mb:,.0f} | {total_wall:.1f} | {total_cpu:.1f} | {total_cpu / wet_mb:.3f} | "
                 f"| | | | {sum(s.m['written'] for s in stages) / gb:.3f} |")
    tb_mb = 1e6
    lines += ["", "Cost model, per TB of WET text (every stage scaled by its share of the WET input; the "
                  "tokenizer is trained once on a sample, so its cost does not grow with the crawl and is left "
                  "out of the per-TB rows):", "",
              "| stage | CPU-hours per TB | scratch peak GB per TB | disk writes GB per TB | launcher RSS GB at this size |",
              "| --- | ---: | ---: | ---: | ---: |"]
    per_tb_cpu_h = 0.0
    shuffle_gb_tb = 0.0
    for s in stages:
        if not s.text_mb:
            continue
        scale = tb_mb / wet_mb
        cpu_h = s.m["cpu"] * scale / 3600
        per_tb_cpu_h += cpu_h
        scratch = s.m["peak_watch"] * scale / gb
        shuffle_gb_tb += scratch
        lines.append(f"| {s.name} | {cpu_h:,.0f} | {scratch:,.0f} | {s.m['written'] * scale / gb:,.0f} | "
                     f"{s.m['peak_root'] / gb:.2f} |")
    crawl_tb = args.crawl_tb
    cpu_h = per_tb_cpu_h * crawl_tb
    # memory billed per vCPU-hour at the worker shape's ratio (n1-standard: 3.75 GB per vCPU)
    mem_gb_h = cpu_h * args.gb_per_vcpu
    shuffle_gb = shuffle_gb_tb * crawl_tb
    usd = cpu_h * args.vcpu_hour_usd + mem_gb_h * args.gb_hour_usd + shuffle_gb * args.shuffle_gb_usd
    lines += ["", f"**{crawl_tb:,.0f} TB of WET text on Dataflow batch workers**: {cpu_h:,.0f} vCPU-hours "
                  f"(the CPU-seconds measured here, assuming a Dataflow vCPU does the work of one core of this "
                  f"machine and workers run busy), {mem_gb_h:,.0f} GB-hours of memory ({args.gb_per_vcpu} GB per "
                  f"vCPU, n1-standard shape), and about {shuffle_gb:,.0f} GB through Dataflow Shuffle (taking the "
                  f"scratch peak per TB as the data a cluster runner would shuffle). At "
                  f"${args.vcpu_hour_usd}/vCPU-hour, ${args.gb_hour_usd}/GB-hour and ${args.shuffle_gb_usd}/GB "
                  f"shuffled (list prices for batch workers in us-central1 assumed on {PRICES_DATE}, "
                  f"{PRICES_URL}; the stored copy of that page did not show its price table, so check the current "
                  f"figures there and rerun with --vcpu-hour-usd/--gb-hour-usd/--shuffle-gb-usd): "
                  f"**~${usd:,.0f}**, or ${usd / crawl_tb:,.0f} per TB, before storage, network and the tokenizer "
                  f"training run. Idle cores, worker start-up and autoscaling slack come on top: the measured "
                  f"wall time on {args.workers} cores was {total_wall:,.0f} s for {total_cpu:,.0f} CPU-s "
                  f"({total_cpu / max(total_wall * args.workers, 1e-9):.0%} of the cores busy).",
              "",
              "cc_net's own compute for the same work: its paper (Wenzek et al., arXiv 1911.00359) describes "
              "sharding a snapshot into 5 GB shards and running on a cluster, but no CPU-hour figure for the "
              "mining steps was found in the sources searched for this benchmark, so no published number is "
              "compared here; the measured per-CPU-second ratio against cc_net 1.0.0 on the same work is in the "
              "CCNet throughput section."]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", required=True, help="MODELS with lm/<lang>.sp.model and .arpa.bin for ccnet")
    ap.add_argument("--mb", type=float, default=2000, help="MB of WET text to build (default 2000)")
    ap.add_argument("--corpus", default=None, help="an existing make_wet_corpus.py output instead of building one")
    ap.add_argument("--work", default="/tmp/bench-scale", help="corpus and stage outputs (default /tmp/bench-scale)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--file-mb", type=float, default=25, help="MB of text per WET file (default 25)")
    ap.add_argument("--pool-cache", default=None, help="make_wet_corpus.py --cache-dir (extracted text, reusable)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--tokenizer", default=None, help="a SentencePiece model; default: train one on a sample")
    ap.add_argument("--sample-docs", type=int, default=20000, help="documents to train the tokenizer on")
    ap.add_argument("--crawl-tb", type=float, default=100, help="crawl size for the Dataflow estimate (TB of text)")
    ap.add_argument("--vcpu-hour-usd", type=float, default=VCPU_HOUR_USD)
    ap.add_argument("--gb-hour-usd", type=float, default=GB_HOUR_USD)
    ap.add_argument("--shuffle-gb-usd", type=float, default=SHUFFLE_GB_USD)
    ap.add_argument("--gb-per-vcpu", type=float, default=3.75)
    ap.add_argument("--keep", action="store_true", help="keep the stage outputs under --work")
    ap.add_argument("--output", "--out", dest="output", default=str(ROOT / "BENCHMARKS.md"),
                    help="markdown file whose scale section is (re)written")
    args = ap.parse_args()
    args.models = str(Path(args.models).resolve())
    work = Path(args.work).resolve()
    corpus = Path(args.corpus).resolve() if args.corpus else build_corpus(work / f"corpus-{args.mb:g}mb", args.mb,
                                                                         args.seed, args.file_mb, args.pool_cache)
    runs = work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir(parents=True)
    try:
        stages = run_stages(args, corpus, runs)
    finally:
        if not args.keep:
            shutil.rmtree(runs, ignore_errors=True)
    lines = report(args, corpus, stages, wet_text_mb(corpus))
    write_section(Path(args.output), "scale", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
