"""`llamapipe c4`: its flags, and the run of either the published allenai/c4 files through the single-pass
source graph (import mode), or WET files through the C4 rebuild graph (pipelines/c4.py, --from-wet)."""
from __future__ import annotations

import functools

from pipelines.cli.common import absolute, add_run_flags, checked, claim_out, run_pipeline, unreadable_inputs
from pipelines.steps import checks
from pipelines.steps.c4 import MIN_EN_PROB, C4Config

D = C4Config()  # the defaults, written once in the config


def add_parsers(sub) -> None:
    p = sub.add_parser("c4", allow_abbrev=False,
                       help="C4: import the published allenai/c4 files, or rebuild C4 en from WET files",
                       description=(
                           "Import mode (default): the published allenai/c4 files (c4-train.NNNNN-of-01024.json.gz, "
                           "gzip JSONL with text, timestamp, url) become corpus shards byte for byte, one document "
                           "per line (date = timestamp, meta.split from the file name). --from-wet: rebuild C4 en "
                           "from CommonCrawl WET files with the rules of TFDS C4 3.0.1 (the code that made "
                           "allenai/c4): page length, URL dedup (newest page), clean_page line rules with Punkt "
                           "sentence counts, cross-document line dedup, langdetect English >= 0.99, bad words. "
                           "Writes Parquet shards (part number = input index in sorted order) with _stats.json, "
                           "_manifest.json and _SUCCESS. Unknown --flags go to Beam."))
    p.add_argument("--input", action="append", required=True, metavar="GLOB",
                   help="input files, e.g. 'c4/en/c4-train.*-of-01024.json.gz' or with --from-wet "
                        "'crawl/*.warc.wet.gz'; repeat or quote a glob")
    p.add_argument("--output", required=True, metavar="OUT", help="output folder (local path or gs://...)")
    p.add_argument("--from-wet", action="store_true",
                   help="rebuild C4 en from WET files with TFDS C4's rules instead of importing allenai/c4")
    p.add_argument("--max-page-chars", type=checked(int, lambda v: checks.char_count("--max-page-chars", v)),
                   default=D.max_page_chars,
                   help=f"--from-wet: drop pages longer than this as too_long_page (default {D.max_page_chars})")
    p.add_argument("--max-word-length", type=checked(int, lambda v: checks.char_count("--max-word-length", v)),
                   default=D.max_word_length,
                   help=f"--from-wet: drop lines with a longer word (default {D.max_word_length})")
    p.add_argument("--min-words-per-line", type=checked(int, lambda v: checks.at_least("--min-words-per-line", v, 0)),
                   default=D.min_words_per_line,
                   help=f"--from-wet: drop lines with fewer words (default {D.min_words_per_line}, the TFDS code; "
                        "the C4 paper says 3)")
    p.add_argument("--min-sentences", type=checked(int, lambda v: checks.at_least("--min-sentences", v, 0)),
                   default=D.min_sentences,
                   help=f"--from-wet: drop pages with fewer Punkt sentences (default {D.min_sentences}, the TFDS "
                        "code; the C4 paper says 5)")
    p.add_argument("--lid", choices=tuple(MIN_EN_PROB), default=D.lid,
                   help="--from-wet: English by langdetect (TFDS, about 50 pages/s per core) or by fastText lid.176 "
                        f"(fast, not C4 parity) (default {D.lid})")
    p.add_argument("--min-en-prob", type=checked(float, lambda v: checks.fraction("--min-en-prob", v)), default=None,
                   help="--from-wet: English probability a page needs (default: "
                        + ", ".join(f"{k} {v}" for k, v in MIN_EN_PROB.items()) + ")")
    p.add_argument("--badwords", metavar="FILE", default=None,
                   help="--from-wet: bad-words list, one a line (default: the pinned C4 list, LDNOOBW en @ 25e679f, "
                        "CC-BY-4.0, checked by sha256)")
    p.add_argument("--dedup-shards", type=checked(int, lambda v: checks.at_least("--dedup-shards", v, 1)),
                   default=D.dedup_shards,
                   help=f"--from-wet: groups the URL and line dedup keys are spread over (default {D.dedup_shards})")
    p.add_argument("--gopher", action="store_true",
                   help="also apply the Gopher quality and repetition rules (Rae et al. 2021, the paper's "
                        "thresholds) after C4's, each measured value in meta.gopher (default off: not in LLaMA's C4)")
    add_run_flags(p, "stop at the first corrupt record with exit status 2")
    p.set_defaults(func=run_c4)


def import_run(cfg: C4Config):
    """Import mode's view of the config for the single-pass source graph: the allenai/c4 reader."""
    from corpus import c4_input
    from pipelines import fileio, source
    from pipelines.steps.c4 import import_recipe

    return source.SourceRun(files=cfg.files, out=cfg.out, make_steps=functools.partial(import_recipe, cfg),
                            run_info=cfg.run_info(), read=functools.partial(c4_input.read_json_unit, fileio.open_raw),
                            strict=cfg.strict, unreadable=cfg.unreadable)


def run_c4(args, beam_args: list[str]) -> int:
    """Inputs -> config -> claim OUT -> the import graph or the --from-wet graph."""
    from pipelines import c4 as c4_graph
    from pipelines import fileio, source

    files = fileio.expand_globs([absolute(i) for i in args.input])
    badwords = absolute(args.badwords) if args.badwords else None
    cfg = C4Config(files=tuple(files), out=absolute(args.output), strict=args.strict,
                   unreadable=tuple(unreadable_inputs(files, args.strict).items()), from_wet=args.from_wet,
                   max_page_chars=args.max_page_chars, max_word_length=args.max_word_length,
                   min_words_per_line=args.min_words_per_line, min_sentences=args.min_sentences, lid=args.lid,
                   min_en_prob=args.min_en_prob, badwords=badwords, dedup_shards=args.dedup_shards,
                   gopher=args.gopher)
    if cfg.from_wet:
        from pipelines.steps.c4 import load_badwords

        load_badwords(cfg.badwords)  # a missing or changed list fails here, not in a worker
        patterns = c4_graph.output_patterns()
        build = lambda p: c4_graph.build_pipeline(p, cfg, claim.run_id)  # noqa: E731
    else:
        patterns = source.output_patterns()
        build = lambda p: source.build_pipeline(p, import_run(cfg), claim.run_id)  # noqa: E731
    claim = claim_out(cfg.out, "c4", patterns, args.overwrite, input_files=files)
    run_pipeline("c4", len(files), cfg.out, beam_args, args.workers, build, claim=claim)
    return 0
