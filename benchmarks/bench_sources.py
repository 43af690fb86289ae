"""Benchmark the dump-source commands (`llamapipe wikipedia`, `stackexchange`, `arxiv`) against the
single-process way users run these steps today; write the "sources" section of BENCHMARKS.md.

Per source, on generated inputs in the real dump formats (bench_source_inputs.py): the llamapipe
command on the full input and on a quarter-size input (peak memory at two sizes), the same reader
and steps as a plain loop in one process (bench_source_plain.py), and for Wikipedia also the public
reproductions' method (bench_wikipedia_plain.py: iterparse + mwparserfromhell strip_code). Speed is
MB of input text per CPU-second (the fair number on a shared machine) and per wall-second per worker.

    python benchmarks/bench_sources.py [--sources wikipedia,stackexchange,arxiv] [--mb 100]
        [--workdir DIR] [--workers N] [--output BENCHMARKS.md] [--fresh]

Each source's measurements are kept in --workdir, so `--sources stackexchange` re-measures one source
and rewrites the section with the others' last results (each says when and on which commit it ran).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import bench_source_inputs as inputs
from bench_common import ROOT, machine, measure, write_section

HERE = Path(__file__).resolve().parent
SEED = 0


@dataclasses.dataclass(frozen=True)
class Source:
    """How to benchmark one source: its input generator, what its text MB and records are, and its
    baseline. `reference` (optional) is a public-reproduction script run as `[python, script, *files]`,
    printing a JSON line whose value under the docs key counts the documents it kept; without one the plain loop of
    llamapipe's own steps is the baseline. `note` says how the document counts compare.
    """

    make: Callable[[Path, float], dict]
    text: str
    records: str
    note: str
    reference: Optional[tuple[str, str, str]] = None  # (script in benchmarks/, row label, docs key)


SOURCES = {
    "wikipedia": Source(
        inputs.make_wikipedia, "wikitext of every page", "pages (5% redirects, 3% talk pages)",
        "Both keep namespace-0 pages that are not redirects and whose cleaned text is not empty.",
        ("bench_wikipedia_plain.py", "HF `wikipedia` script method (bz2 + ElementTree.iterparse + mwparserfromhell "
         "strip_code per section), 1 process", "pages")),
    "stackexchange": Source(
        inputs.make_stackexchange, "HTML bodies of questions and answers",
        "posts (questions, answers, tag wikis) in two site archives",
        "One document per question with its answers; tag wikis are dropped as not_qa_post. An output part "
        "(up to --questions-per-part questions, default 20,000) is joined on one worker, so the largest worker "
        "grows with a site's questions until its parts reach that size."),
    "arxiv": Source(
        inputs.make_arxiv, "LaTeX of the .tex files", "papers with LaTeX (PDF-only members not counted)",
        "One document per paper with LaTeX; PDF-only members are dropped."),
}


def available(name: str) -> bool:
    """Whether `llamapipe <name>` exists in this checkout (its --help runs)."""
    return subprocess.run([sys.executable, "-m", "pipelines.cli", name, "--help"], cwd=ROOT,
                          capture_output=True).returncode == 0


def cached_inputs(workdir: Path, name: str, mb: float) -> dict:
    """Inputs of `name` at `mb` MB under workdir, generated once per (source, size, seed) and reused:
    {"files": [paths], "text_bytes", "records"}."""
    folder = workdir / f"{name}-{mb:g}MB-seed{SEED}"
    info = folder / "inputs.json"
    if info.exists():
        print(f"  reusing {folder}", flush=True)
        return _inputs(folder)
    shutil.rmtree(folder, ignore_errors=True)
    print(f"  generating {mb:g} MB of {name} input in {folder}...", flush=True)
    building = folder.with_name(f"{folder.name}.building-{os.getpid()}")  # another run may generate it too
    shutil.rmtree(building, ignore_errors=True)
    made = SOURCES[name].make(building, mb)
    (building / "inputs.json").write_text(json.dumps({"names": [f.name for f in made["files"]],
                                                      "text_bytes": made["text_bytes"], "records": made["records"]}))
    try:
        building.rename(folder)
    except OSError:  # the other run finished first (or a stale folder without inputs.json is in the way)
        shutil.rmtree(building, ignore_errors=True)
        if not info.exists():
            raise
    return _inputs(folder)


def _inputs(folder: Path) -> dict:
    """A generated input folder's inputs.json with the file names made paths in `folder`."""
    info = json.loads((folder / "inputs.json").read_text())
    names = info.get("names") or [Path(f).name for f in info["files"]]  # "files": paths, as older runs wrote
    return {"files": [str(folder / n) for n in names], "text_bytes": info["text_bytes"],
            "records": info["records"]}


def load() -> float:
    """The 1-minute load average now."""
    return os.getloadavg()[0]


def timed(label: str, cmd: list[str], loads: list[float]) -> dict:
    """measure(cmd) with progress printed and the load average before and after noted in `loads`."""
    print(f"  {label}...", flush=True)
    loads.append(load())
    result = measure(cmd)
    loads.append(load())
    print(f"    {result['wall']:.1f} s wall, {result['cpu']:.1f} CPU s, peak {result['peak_rss'] / 1e9:.2f} GB",
          flush=True)
    return result


def run_ours(name: str, data: dict, workers: int, scratch: Path, loads: list[float]) -> dict:
    """`llamapipe <name>` on the files; the measurement with the run's _stats.json."""
    out = scratch / f"{name}-out"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "pipelines.cli", name, "--output", str(out), "--workers", str(workers)]
    cmd += [x for f in data["files"] for x in ("--input", f)]
    result = timed(f"llamapipe {name}, {workers} workers, {fmt_mb(data['text_bytes'] / 1e6)} MB", cmd, loads)
    result["stats"] = json.loads((out / "_stats.json").read_text())
    result["written"] = result["stats"]["documents"]["written"]
    shutil.rmtree(out, ignore_errors=True)
    return result


def run_plain(name: str, data: dict, scratch: Path, loads: list[float]) -> dict:
    """llamapipe's reader and steps as a plain loop in one process (bench_source_plain.py)."""
    out = scratch / f"{name}-plain"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, str(HERE / "bench_source_plain.py"), "--source", name, "--output", str(out),
           *data["files"]]
    result = timed(f"{name} steps, plain loop, 1 process", cmd, loads)
    line = json.loads(result["last"])
    if line["accounting"]:
        sys.exit(f"plain {name} loop broke the accounting: {line['accounting']}")
    result["written"] = line["written"]
    shutil.rmtree(out, ignore_errors=True)
    return result


def run_reference(name: str, data: dict, loads: list[float]) -> dict:
    """The source's public-reproduction script, one process."""
    script, label, key = SOURCES[name].reference
    result = timed(label.split(" (")[0], [sys.executable, str(HERE / script), *data["files"]], loads)
    result["written"] = json.loads(result["last"])[key]
    return result


def fmt_mb(mb: float) -> str:
    """MB with the precision a table needs: 100, 25, 1.2."""
    return f"{mb:.0f}" if mb >= 10 else f"{mb:.1f}"


def row(label: str, mb: float, records: int, r: dict, cores: int, baseline_cpu_rate: float) -> str:
    """One table row: MB/s per core as MB per CPU-second and as MB per wall-second per core."""
    per_cpu = mb / r["cpu"]
    return (f"| {label} | {fmt_mb(mb)} | {records:,} | {r['written']:,} | {r['wall']:.1f} | {r['cpu']:.1f} | {cores} | "
            f"{per_cpu:.2f} | {mb / r['wall'] / cores:.2f} | {per_cpu / baseline_cpu_rate:.2f} | "
            f"{r['peak_rss'] / 1e9:.2f} | {r['peak_child'] / 1e9:.2f} |")


def code_state() -> str:
    """The commit measured, and whether the checkout had uncommitted changes to tracked files."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True)
    changed = len(dirty.stdout.splitlines())
    return (head.stdout.strip() or "unknown") + (f" with uncommitted changes to {changed} files" if changed else "")


def bench_source(name: str, args, scratch: Path) -> dict:
    """Every measurement of one source: ours at full and quarter size, the plain loop, the reference;
    with when, on which code and with how many workers it ran."""
    src = SOURCES[name]
    print(f"{name}:", flush=True)
    started = time.time()
    full = cached_inputs(Path(args.workdir), name, args.mb)
    quarter = cached_inputs(Path(args.workdir), name, args.mb / 4)
    loads: list[float] = []
    res = {"full": full, "quarter": quarter, "loads": loads, "workers": args.workers, "code": code_state(),
           "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "ours": run_ours(name, full, args.workers, scratch, loads),
           "ours_quarter": run_ours(name, quarter, args.workers, scratch, loads),
           "plain": run_plain(name, full, scratch, loads)}
    if src.reference:
        res["reference"] = run_reference(name, full, loads)
    res["minutes"] = (time.time() - started) / 60
    return res


def results_path(workdir: Path, name: str, mb: float) -> Path:
    """Where one source's measurements at `mb` MB are kept, so a later run of other sources keeps them."""
    return workdir / "results" / f"{name}-{mb:g}MB.json"


def summary(name: str, r: dict) -> list[str]:
    """The table and the sentences of one source. Two sizes also split llamapipe's CPU time into a
    fixed start-up cost and a cost per MB (a line through both runs)."""
    src = SOURCES[name]
    mb, mbq = r["full"]["text_bytes"] / 1e6, r["quarter"]["text_bytes"] / 1e6
    base = r.get("reference", r["plain"])
    base_rate = mb / base["cpu"]
    ours, ourq, plain, workers = r["ours"], r["ours_quarter"], r["plain"], r["workers"]
    base_label = src.reference[1] if src.reference else "llamapipe's reader and steps, plain loop, 1 process"
    lines = [f"### {name}", "",
             f"Run {r['when']}, {r['minutes']:.1f} min, code at {r['code']}. Input: {len(r['full']['files'])} file(s), {fmt_mb(mb)} MB of {src.text}, {r['full']['records']:,} "
             f"{src.records}; quarter-size input {fmt_mb(mbq)} MB. Baseline (ratio 1.00): {base_label}.", "",
             "| system | text MB | records | documents written | wall s | CPU s | cores | MB per CPU s | "
             "MB/s per core (wall) | vs baseline per CPU s | peak RSS GB (tree) | largest worker GB |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
             row(f"llamapipe {name}, Beam FnApi runner, {workers} workers", mb, r["full"]["records"], ours, workers,
                 base_rate),
             row(f"llamapipe {name}, Beam FnApi runner, {workers} workers (quarter input)", mbq,
                 r["quarter"]["records"], ourq, workers, base_rate),
             row("llamapipe's reader and steps, plain loop, 1 process (no Beam)", mb, r["full"]["records"], plain, 1,
                 base_rate)]
    if "reference" in r:
        lines.append(row(base_label, mb, r["full"]["records"], r["reference"], 1, base_rate))
    ratio = (mb / ours["cpu"]) / base_rate
    per_mb = (ours["cpu"] - ourq["cpu"]) / (mb - mbq) if mb > mbq else 0.0  # tiny inputs: one size for both
    fixed = ours["cpu"] - per_mb * mb
    verdict = "meets" if ratio >= 1.0 else "misses"
    if per_mb > 0:
        marginal = (f"Through the two sizes, llamapipe's CPU time is {fixed:.1f} s of start-up (Beam, worker "
                    f"processes) plus {per_mb:.2f} s per MB, i.e. {1 / per_mb:.2f} MB per CPU-second once started "
                    f"({(1 / per_mb) / base_rate:.2f}× the baseline); ")
    else:
        marginal = ("The two sizes give no usable cost per MB (the quarter run took as long, or both inputs came "
                    "out the same size); ")
    lines += ["",
              f"Result: per CPU-second llamapipe {name} does {mb / ours['cpu']:.2f} MB/s against the baseline's "
              f"{base_rate:.2f} MB/s (**{ratio:.2f}×**), so at {fmt_mb(mb)} MB it {verdict} the target of being at "
              f"least as fast per core. {marginal}the same steps in a plain loop do {mb / plain['cpu']:.2f} MB/s. "
              f"Memory from {fmt_mb(mbq)} MB to {fmt_mb(mb)} MB of input ({mb / mbq:.1f}×): largest worker "
              f"{ourq['peak_child'] / 1e9:.2f} → {ours['peak_child'] / 1e9:.2f} GB "
              f"({ours['peak_child'] / max(ourq['peak_child'], 1):.2f}×), whole tree {ourq['peak_rss'] / 1e9:.2f} → "
              f"{ours['peak_rss'] / 1e9:.2f} GB ({ours['peak_rss'] / max(ourq['peak_rss'], 1):.2f}×). Documents "
              f"written: llamapipe {ours['written']:,}, baseline {base['written']:,}"
              + (" (the same). " if ours["written"] == base["written"] else
                 f" ({ours['written'] - base['written']:+,}). ") + src.note,
              f"Load average (1 min) around these runs: {min(r['loads']):.1f} to {max(r['loads']):.1f} on "
              f"{os.cpu_count()} cores."]
    return lines


def versions() -> str:
    """Versions of Python and the libraries the sources use."""
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"Python {platform.python_version()}"]
    for pkg in ("apache-beam", "mwparserfromhell", "lxml", "beautifulsoup4", "py7zr", "pyarrow"):
        try:
            parts.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            pass
    return ", ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", default=None,
                    help="comma-separated, of wikipedia,stackexchange,arxiv (default: each that exists as a "
                         "llamapipe command)")
    ap.add_argument("--mb", type=float, default=100, help="MB of input text per source (default 100)")
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "llamapipe-bench-sources"),
                    help="generated inputs are kept here and reused for the same size and seed")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--fresh", action="store_true",
                    help="write only the sources measured now (default: also the other sources' last results "
                         "at this size kept in --workdir)")
    args = ap.parse_args()
    if args.sources:
        names = [s.strip() for s in args.sources.split(",") if s.strip()]
        unknown = [s for s in names if s not in SOURCES]
        if unknown:
            ap.error(f"--sources: unknown {', '.join(unknown)} (known: {', '.join(SOURCES)})")
        missing = [s for s in names if not available(s)]
        if missing:
            ap.error(f"--sources: `llamapipe {missing[0]} --help` fails in this checkout")
    else:
        names = [s for s in SOURCES if available(s)]
    workdir = Path(args.workdir)
    (workdir / "results").mkdir(parents=True, exist_ok=True)
    scratch = workdir / f"runs-{os.getpid()}"  # two runs sharing a workdir must not share outputs
    failed = {}
    for name in names:
        try:
            result = bench_source(name, args, scratch)
        except SystemExit as exc:  # measure() exits with the failing command's stderr
            failed[name] = str(exc.code).strip().splitlines()[0]
            print(f"  {name} failed: {exc.code}", flush=True)
            results_path(workdir, name, args.mb).unlink(missing_ok=True)
            continue
        results_path(workdir, name, args.mb).write_text(json.dumps(result))
    shutil.rmtree(scratch, ignore_errors=True)
    kept = [n for n in SOURCES if n not in failed and (n in names or not args.fresh)
            and results_path(workdir, n, args.mb).exists()]

    lines = ["## Dump sources (`benchmarks/bench_sources.py`)", "",
             f"Machine: {machine()}. {versions()}. Inputs: bench_source_inputs.py, seed {SEED}, in the dumps' "
             f"real formats with real prose (tests/data/reference) in generated markup; MB are UTF-8 bytes of "
             f"the input text before cleaning. CPU s is user + system time of the whole process tree, so MB per "
             f"CPU s is throughput per core whatever else the machine was doing; MB/s per core (wall) divides "
             f"by the workers given. Peak RSS samples every process of the tree each 0.1 s. One run per source "
             f"(its time and the code measured are given with it).", ""]
    for name in kept:
        lines += summary(name, json.loads(results_path(workdir, name, args.mb).read_text())) + [""]
    for name, why in failed.items():
        lines += [f"### {name}", "", f"Not measured: the run failed ({why}).", ""]
    write_section(Path(args.output), "sources", "\n".join(lines).rstrip("\n"))
    print("\n".join(lines))
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
