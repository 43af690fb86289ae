"""`llamapipe wikipedia`: its flags, the split plan of the dumps, and the run through the single-pass
source graph (pipelines/source.py) with the Wikipedia reader and recipe."""
from __future__ import annotations

import dataclasses
import functools
import sys

from pipelines.cli.common import (CLIError, absolute, add_run_flags, checked, claim_out, run_pipeline,
                                  unreadable_inputs, user_errors)
from pipelines.steps import checks
from pipelines.steps.wikipedia import WikipediaConfig

D = WikipediaConfig()  # the defaults, written once in the config


def add_parsers(sub) -> None:
    p = sub.add_parser("wikipedia", allow_abbrev=False,
                       help="Wikipedia pages-articles(-multistream) dumps -> cleaned article text shards",
                       description=(
                           "Read Wikimedia pages-articles-multistream dumps (split into units of bz2 streams by "
                           "the -index file beside each dump), keep articles (namespace 0, not redirects), "
                           "strip the wikitext markup with mwparserfromhell and write Parquet shards with "
                           "_stats.json, _manifest.json and _SUCCESS. Unknown --flags go to Beam."))
    p.add_argument("--input", action="append", required=True, metavar="GLOB",
                   help="dump files, e.g. 'dumps/*wiki-*-pages-articles-multistream*.xml*.bz2'; repeat or quote a "
                        "glob; index files it matches are skipped (each dump's -index file is found beside it by name)")
    p.add_argument("--output", required=True, metavar="OUT", help="output folder (local path or gs://...)")
    p.add_argument("--langs", type=checked(lambda v: [x.strip().lower() for x in v.split(",") if x.strip()],
                                           lambda v: checks.languages("--langs", v)),
                   default=D.langs, help=f"dump languages to accept (default the 20 of LLaMA: {','.join(D.langs)}); "
                                         f"a dump of another language is refused")
    p.add_argument("--streams-per-unit", type=checked(int, lambda v: checks.at_least("--streams-per-unit", v, 1)),
                   default=D.streams_per_unit,
                   help=f"bz2 streams (about 100 pages each) one worker reads in one piece (default "
                        f"{D.streams_per_unit})")
    add_run_flags(p)
    p.set_defaults(func=run_wikipedia)


def warn(message: str) -> None:
    """A planning remark on stderr (a missing index, a single-stream dump): the run goes on."""
    print(f"warning: {message}", file=sys.stderr)


def plan(files: list[str], unreadable: dict[int, str], streams_per_unit: int
         ) -> tuple[tuple[tuple[int, int, int], ...], tuple[int, ...], list[str]]:
    """(units as (file index, start, end), indexes of files planned without an index, index files read)
    for the readable dumps, in file then offset order; warnings go to stderr."""
    from corpus import wikipedia_dump as dump
    from pipelines import fileio

    units, unindexed, indexes = [], [], []
    for i, path in enumerate(files):
        if i in unreadable:
            continue
        index = dump.index_path(path)
        if index is not None and not fileio.exists(index):
            unindexed.append(i)
            index = None
        elif index is not None:
            indexes.append(index)
        with user_errors(dump.DumpError):
            found = dump.plan_file(fileio.open_raw, path, fileio.size(path), streams_per_unit, index)
        for message in found.warnings:
            warn(message)
        units += [(i, start, end) for start, end in found.ranges]
    return tuple(units), tuple(unindexed), indexes


def source_run(cfg: WikipediaConfig):
    """The single-pass graph's view of the config: the planned units, the dump reader, the recipe."""
    from corpus import wikipedia_dump
    from pipelines import fileio, source
    from pipelines.steps.wikipedia import recipe

    return source.SourceRun(files=cfg.files, out=cfg.out, make_steps=functools.partial(recipe, cfg),
                            run_info=cfg.run_info(), read=functools.partial(wikipedia_dump.read_unit, fileio.open_raw),
                            strict=cfg.strict, unreadable=cfg.unreadable,
                            units=tuple(source.Unit(i, cfg.files[i], start, end) for i, start, end in cfg.units))


def run_wikipedia(args, beam_args: list[str]) -> int:
    """Dumps -> config (languages checked before anything is read) -> plan -> claim OUT -> the source graph."""
    from corpus import wikipedia_dump as dump
    from pipelines import fileio, source
    from pipelines.steps.wikipedia import has_alias_table

    matched = fileio.expand_globs([absolute(i) for i in args.input])
    files = [f for f in matched if not dump.is_index(f)]
    if not files:
        raise CLIError(f"--input matches only multistream index files ({matched[0]}); give the dumps")
    with user_errors(dump.DumpError):
        names = [dump.parse_name(f) for f in files]
        dump.check_distinct(files)
    beside = {dump.index_path(f) for f in files}
    for index in matched:
        if dump.is_index(index) and index not in beside:
            warn(f"{index}: a multistream index whose dump is not among the inputs; skipped")
    langs = tuple(args.langs)
    cfg = WikipediaConfig(files=tuple(files), out=absolute(args.output), langs=langs,
                          streams_per_unit=args.streams_per_unit, strict=args.strict,
                          dump_langs=tuple(n.lang for n in names))
    for lang in sorted({n.lang for n in names if not has_alias_table(n.lang)}):
        warn(f"no media/category namespace table for '{lang}': only File:, Image:, Media: and Category: links "
             f"are recognised in its dumps")
    unreadable = unreadable_inputs(files, args.strict)
    units, unindexed, indexes = plan(files, unreadable, args.streams_per_unit)
    cfg = dataclasses.replace(cfg, unreadable=tuple(unreadable.items()), units=units, unindexed=unindexed)
    claim = claim_out(cfg.out, "wikipedia", source.output_patterns(), args.overwrite, input_files=files + indexes)
    run_pipeline("wikipedia", len(files), cfg.out, beam_args, args.workers,
                 lambda p: source.build_pipeline(p, source_run(cfg), claim.run_id), claim=claim)
    return 0
