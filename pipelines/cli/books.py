"""`llamapipe books`: its flags, and the run of book files (Gutenberg, PG-19, .txt, JSONL) through the
books graph (pipelines/books.py) with the book reader (corpus/books_input.py) and the books recipe."""
from __future__ import annotations

import functools
import sys

from pipelines.cli.common import CLIError, absolute, add_run_flags, checked, claim_out, run_pipeline, unreadable_inputs
from pipelines.steps import checks
from pipelines.steps.books import BooksConfig

D = BooksConfig()  # the defaults, written once in the config
FORMAT_CHOICES = ("auto", "gutenberg", "pg19", "txt", "jsonl")


def add_parsers(sub) -> None:
    p = sub.add_parser("books", allow_abbrev=False,
                       help="books (Project Gutenberg, PG-19, .txt, Books3-shaped JSONL) -> book shards",
                       description=(
                           "Read book files, one book per file (one per line of JSONL); strip Project Gutenberg's "
                           "licence header and footer, take language, title, authors and rights from the Gutenberg "
                           "RDF catalog (--catalog; only books public domain in the USA are kept) or PG-19's "
                           "metadata.csv, drop short books, and write Parquet shards (lang=xx/bucket=all, part "
                           "number = unit index) with _stats.json, _manifest.json and _SUCCESS. Then run "
                           "`llamapipe dedup --granularity book` on OUT. Unknown --flags go to Beam."))
    p.add_argument("--input", action="append", required=True, metavar="GLOB",
                   help="book files, e.g. 'gutenberg/cache/epub/*/pg*.txt' or 'pg19/train/*.txt'; repeat or quote")
    p.add_argument("--output", required=True, metavar="OUT", help="output folder (local path or gs://...)")
    p.add_argument("--format", choices=FORMAT_CHOICES, default="auto",
                   help="input format; auto (default): .jsonl -> jsonl, <split>/NNNN.txt under a PG-19 checkout "
                        "-> pg19, pgNNNN.txt / NNNN-0.txt / NNNN.txt -> gutenberg, other .txt -> txt")
    p.add_argument("--catalog", default="", metavar="rdf-files.tar.bz2",
                   help="Project Gutenberg's RDF catalog tarball: language, title, authors, release date; keeps "
                        "only books 'Public domain in the USA.' (not_public_domain; not_in_catalog)")
    p.add_argument("--langs", default="", metavar="en,...",
                   help="keep only these languages (default: all); others drop as lang_not_selected")
    p.add_argument("--min-words", type=checked(int, lambda v: checks.at_least("--min-words", v, 0)),
                   default=D.min_words, help=f"drop books of fewer words as too_short (default {D.min_words}; 0: off)")
    p.add_argument("--keep-unmarked", action="store_true", default=D.keep_unmarked,
                   help="keep Gutenberg files without a START marker whole (default: drop as no_gutenberg_markers)")
    p.add_argument("--jsonl-unit-mb", type=checked(int, lambda v: checks.at_least("--jsonl-unit-mb", v, 1)),
                   default=D.jsonl_unit_mb,
                   help=f"a worker reads an uncompressed JSONL file in ranges of about this many MB "
                        f"(default {D.jsonl_unit_mb})")
    p.add_argument("--max-book-mb", type=checked(int, lambda v: checks.at_least("--max-book-mb", v, 1)),
                   default=D.max_book_mb,
                   help=f"a book file larger than this is malformed, never read whole (default {D.max_book_mb})")
    add_run_flags(p, "stop at the first unreadable book, JSONL line or catalog record with exit status 2")
    p.set_defaults(func=run_books)


def input_formats(files: list[str], fmt: str) -> tuple[str, ...]:
    """The format of each input: `fmt`, or by name with auto; CLIError naming a file auto cannot place."""
    from corpus.books_input import detect_format

    if fmt != "auto":
        return tuple(fmt for _ in files)
    formats = []
    for path in files:
        found = detect_format(path)
        if found is None:
            raise CLIError(f"{path}: not a book file by its name (.txt or .jsonl); give --format")
        formats.append(found)
    return tuple(formats)


def source_run(cfg: BooksConfig):
    """The graph's view of the config: its units, the book reader, the recipe."""
    from pipelines import books, source
    from pipelines.steps.books import MB, recipe

    read = functools.partial(books.read_book_unit, cfg.formats, cfg.max_book_mb * MB)
    return source.SourceRun(files=cfg.files, out=cfg.out, make_steps=functools.partial(recipe, cfg),
                            run_info=cfg.run_info(), read=read, strict=cfg.strict, unreadable=cfg.unreadable,
                            units=books.plan_units(cfg))


def run_books(args, beam_args: list[str]) -> int:
    """Book files -> catalog and metadata for them -> config -> claim OUT -> the books graph."""
    from corpus.counters import Counters
    from pipelines import books, fileio, source

    files = fileio.expand_globs([absolute(i) for i in args.input])
    formats = input_formats(files, args.format)
    unreadable = unreadable_inputs(files, args.strict)
    readable = [(f, k) for i, (f, k) in enumerate(zip(files, formats)) if i not in unreadable]
    catalog, entries, faults = absolute(args.catalog) if args.catalog else "", (), Counters()
    if catalog:
        if not fileio.exists(catalog):
            raise CLIError(f"--catalog {catalog}: not found")
        entries, faults = books.load_catalog(catalog, books.wanted_books(*zip(*readable)) if readable else set())
        for fault in faults.faults[:1] if args.strict else faults.faults:
            if args.strict:
                raise CLIError(f"{fault['file']} at byte {fault['offset']}: {fault['error']}")
            print(f"warning: {fault['file']} at byte {fault['offset']}: {fault['error']}; counted as malformed",
                  file=sys.stderr)
    langs = tuple(s.strip() for s in args.langs.split(",") if s.strip())
    cfg = BooksConfig(files=tuple(files), formats=formats, out=absolute(args.output), strict=args.strict,
                      unreadable=tuple(unreadable.items()), catalog=catalog, catalog_entries=entries,
                      pg19_entries=books.load_pg19(*zip(*readable)) if readable else (),
                      langs=langs, min_words=args.min_words, keep_unmarked=args.keep_unmarked,
                      jsonl_unit_mb=args.jsonl_unit_mb, max_book_mb=args.max_book_mb)
    claim = claim_out(cfg.out, "books", source.output_patterns(), args.overwrite,
                      input_files=files + ([catalog] if catalog else []))
    run_pipeline("books", len(files), cfg.out, beam_args, args.workers,
                 lambda p: source.build_pipeline(p, source_run(cfg), claim.run_id, faults), claim=claim)
    return 0
