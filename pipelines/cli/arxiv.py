"""`llamapipe arxiv`: its flags, and the run of arXiv bulk source tars through the single-pass source
graph (pipelines/source.py) with the tar reader (corpus/arxiv_tar.py) and the arXiv recipe."""
from __future__ import annotations

import argparse
import functools

from corpus.arxiv_tar import INFLATE_FACTOR
from pipelines.cli.common import absolute, add_run_flags, checked, claim_out, run_pipeline, unreadable_inputs
from pipelines.steps import checks
from pipelines.steps.arxiv import ArxivConfig

D = ArxivConfig()  # the defaults, written once in the config


def add_parsers(sub) -> None:
    p = sub.add_parser("arxiv", allow_abbrev=False,
                       help="arXiv bulk source tars -> cleaned LaTeX paper shards",
                       description=(
                           "Read arXiv bulk source tars (arXiv_src_YYMM_NNN.tar) as streams, one paper per "
                           "member; find each paper's main .tex file, inline its \\input/\\include files, remove "
                           "comments, expand user macros, keep the text from the first section to the "
                           "bibliography or appendix, and write Parquet shards (part number = tar index in sorted "
                           "order) with _stats.json, _manifest.json and _SUCCESS. Unknown --flags go to Beam."))
    p.add_argument("--input", action="append", required=True, metavar="GLOB",
                   help="source tars, e.g. 'src/arXiv_src_*.tar'; repeat or quote a glob")
    p.add_argument("--output", required=True, metavar="OUT", help="output folder (local path or gs://...)")
    p.add_argument("--expand-arg-macros", action=argparse.BooleanOptionalAction, default=D.expand_arg_macros,
                   help="also expand user macros with [n] arguments (one definition, balanced braces) "
                        f"(default {'on' if D.expand_arg_macros else 'off'})")
    p.add_argument("--include-depth", type=checked(int, lambda v: checks.at_least("--include-depth", v, 0)),
                   default=D.include_depth,
                   help=f"levels of nested \\input/\\include inlined (default {D.include_depth})")
    p.add_argument("--min-chars", type=checked(int, lambda v: checks.at_least("--min-chars", v, 0)),
                   default=D.min_chars,
                   help=f"drop cleaned papers shorter than this many characters as too_short (default "
                        f"{D.min_chars}: off)")
    p.add_argument("--max-paper-mb", type=checked(int, lambda v: checks.at_least("--max-paper-mb", v, 1)),
                   default=D.max_paper_mb,
                   help=f"drop a paper whose .tex files hold more than this many MB (2^20 bytes), or whose member "
                        f"inflates to more than {INFLATE_FACTOR} times that, as too_large; bounds a worker's "
                        f"memory (default {D.max_paper_mb})")
    p.add_argument("--lid", action=argparse.BooleanOptionalAction, default=D.lid,
                   help="tag each paper's language with fastText lid.176 (lowercased text; nothing is dropped); "
                        f"without it every paper is 'en' (default {'on' if D.lid else 'off'})")
    add_run_flags(p, "stop at the first corrupt member or tar with exit status 2")
    p.set_defaults(func=run_arxiv)


def source_run(cfg: ArxivConfig):
    """The single-pass graph's view of the config: one unit per tar, the tar reader, the recipe."""
    from corpus import arxiv_tar
    from pipelines import fileio, source
    from pipelines.steps.arxiv import recipe

    read = functools.partial(arxiv_tar.read_unit, fileio.open_raw, max_paper_bytes=cfg.max_paper_bytes)
    return source.SourceRun(files=cfg.files, out=cfg.out, make_steps=functools.partial(recipe, cfg),
                            run_info=cfg.run_info(), read=read, strict=cfg.strict, unreadable=cfg.unreadable)


def run_arxiv(args, beam_args: list[str]) -> int:
    """Tars -> config -> claim OUT -> the source graph."""
    from pipelines import fileio, source

    files = fileio.expand_globs([absolute(i) for i in args.input])
    cfg = ArxivConfig(files=tuple(files), out=absolute(args.output), strict=args.strict,
                      unreadable=tuple(unreadable_inputs(files, args.strict).items()),
                      expand_arg_macros=args.expand_arg_macros, include_depth=args.include_depth,
                      min_chars=args.min_chars, lid=args.lid, max_paper_mb=args.max_paper_mb)
    claim = claim_out(cfg.out, "arxiv", source.output_patterns(), args.overwrite, input_files=files)
    run_pipeline("arxiv", len(files), cfg.out, beam_args, args.workers,
                 lambda p: source.build_pipeline(p, source_run(cfg), claim.run_id), claim=claim)
    return 0
