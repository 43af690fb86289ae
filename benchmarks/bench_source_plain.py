"""A source's llamapipe reader and steps as a plain single-process loop (no Beam), for bench_sources.py.

The "same steps as a plain loop" baseline: the functions the `llamapipe <source>` graph calls, run
one after the other in one process, and the documents written as the same Parquet shards under
--output. Wikipedia and arXiv: the command's own plan of units, each written by
pipelines.source.write_unit (reader, recipe, shard stream) in turn. Stack Exchange: every site's
posts grouped under their question in a dict, then each thread joined. GitHub, books and C4 (--from-wet):
the `plain` function of bench_github_parts.py, bench_books_parts.py and bench_c4_parts.py.
Prints one JSON line: documents read and written, characters written, seconds.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the bench_*_parts modules import benchmarks.*

from corpus import shards  # noqa: E402
from corpus.counters import Counters, check_accounting  # noqa: E402
from pipelines import fileio  # noqa: E402
from pipelines.source import SourceRun, write_unit  # noqa: E402


def run_units(run: SourceRun) -> Counters:
    """Every unit of the plan, in order, through the source graph's own per-unit function."""
    total = Counters()
    steps = run.make_steps()
    for part, unit in enumerate(run.plan()):
        _, counters = write_unit(run, steps, part, unit)
        total += counters
    return total


def wikipedia(files: list[str], out: str) -> Counters:
    """The dumps split as `llamapipe wikipedia` splits them (index offsets, --streams-per-unit default)."""
    from corpus import wikipedia_dump
    from pipelines.cli import wikipedia as cli
    from pipelines.steps.wikipedia import WikipediaConfig

    cfg = WikipediaConfig(files=tuple(files), out=out,
                          dump_langs=tuple(wikipedia_dump.parse_name(f).lang for f in files))
    units, unindexed, _ = cli.plan(files, {}, cfg.streams_per_unit)
    return run_units(cli.source_run(dataclasses.replace(cfg, units=units, unindexed=unindexed)))


def arxiv(files: list[str], out: str) -> Counters:
    """Each source tar whole, as `llamapipe arxiv` reads it."""
    from pipelines.cli import arxiv as cli
    from pipelines.steps.arxiv import ArxivConfig

    return run_units(cli.source_run(ArxivConfig(files=tuple(files), out=out)))


def stackexchange(files: list[str], out: str) -> Counters:
    """Every site's questions and answers into one dict keyed by (site, question Id), the sites chosen
    from their counts, then each thread joined in key order and written as one part per site."""
    from corpus.stackexchange_dump import read_posts
    from pipelines.steps import stackexchange as se

    cfg = se.StackExchangeConfig(files=tuple(files))
    total, threads, counts = Counters(), collections.defaultdict(list), []
    for _, path, site in se.plan_sites(cfg).read:
        by_type: collections.Counter = collections.Counter()
        for post in se.sort_posts(read_posts(path, fileio.open_raw), path, False, total, by_type):
            threads[se.thread_key(site, post)].append(post)
        se.tally_types(site, by_type, total)
        counts.append(se.SiteCount(site, by_type[se.QUESTION], by_type[se.ANSWER]))
    layout = se.choose_layout(cfg, counts)
    steps = se.recipe(cfg)
    by_site: dict[str, list] = collections.defaultdict(list)
    for (site, qid) in sorted(threads):
        doc = se.join_thread(site, threads.pop((site, qid)), site in layout.selected, cfg, steps, total)
        if doc is not None:
            by_site[site].append(doc)
    for part, site in enumerate(sorted(by_site)):
        list(fileio.write_partitions(out, shards.documents_to_table(by_site[site]), part))
    return total


def github(files: list[str], out: str) -> Counters:
    """Dedup keys of every file, the decisions, then each file through the whole recipe (bench_github_parts)."""
    from benchmarks import bench_github_parts

    return bench_github_parts.plain(files, out)


def books(files: list[str], out: str) -> Counters:
    """The command's plan of units, each through the books reader and recipe (bench_books_parts)."""
    from benchmarks import bench_books_parts

    return bench_books_parts.plain(files, out)


def c4(files: list[str], out: str) -> Counters:
    """`llamapipe c4 --from-wet` (langdetect, C4's LID) as one loop: URL dedup, clean, line dedup, final rules
    (bench_c4_parts)."""
    from benchmarks import bench_c4_parts

    return bench_c4_parts.plain(files, out)


SOURCES: dict[str, Callable[[list[str], str], Counters]] = {
    "wikipedia": wikipedia, "stackexchange": stackexchange, "arxiv": arxiv, "github": github, "books": books,
    "c4": c4}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, choices=sorted(SOURCES))
    ap.add_argument("--output", required=True, help="folder for the Parquet shards")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    started = time.time()
    counters = SOURCES[args.source](args.files, args.output)
    stats = counters.to_stats()
    print(json.dumps({"read": stats["documents"]["read"], "written": stats["documents"]["written"],
                      "chars_written": stats["chars"]["written"], "dropped": stats["documents"]["dropped"],
                      "accounting": check_accounting(stats), "seconds": time.time() - started}))


if __name__ == "__main__":
    main()
