"""What `llamapipe books` reads in the launcher before its graph, and its units: the graph is the
single-pass source graph (pipelines/source.py, the catalog's faults passed as its `extra` counters) over
one unit per book file (byte ranges of a large JSONL file).

The RDF catalog is streamed once by the launcher (corpus/gutenberg_catalog.py), keeping only the
entries of the Gutenberg books among the inputs (a few hundred bytes each); they travel inside the
config to the workers, where the recipe builds its lookup once per worker. PG-19's metadata.csv is
read the same way, its rows for the input books only.
"""
from __future__ import annotations

import posixpath

from corpus import books_input, gutenberg, gutenberg_catalog
from corpus.counters import Counters
from corpus.paths import file_name
from corpus.ranges import is_compressed, split_ranges
from pipelines import fileio
from pipelines.source import Unit
from pipelines.steps import checks
from pipelines.steps.books import MB, BooksConfig


def wanted_books(files, formats) -> set[int]:
    """The Gutenberg numbers of the gutenberg-format inputs (from their names or first bytes)."""
    wanted = set()
    for path, fmt in zip(files, formats):
        if fmt == "gutenberg":
            number = gutenberg.book_number(file_name(path))
            if number is None:
                with fileio.open_raw(path) as f:
                    head = f.read(8192).decode("latin-1")
                number = gutenberg.book_number("", head)
            if number is not None:
                wanted.add(number)
    return wanted


def load_catalog(path: str, wanted: set[int]) -> tuple[tuple[gutenberg_catalog.CatalogEntry, ...], Counters]:
    """The catalog entries of the `wanted` books, sorted by number, and the catalog's faults as
    malformed records of `path` (one stream over the tarball; only wanted members are parsed)."""
    entries, counters = {}, Counters()
    with fileio.open_raw(path) as f:
        for item in gutenberg_catalog.read_catalog(f, wanted):
            if isinstance(item, gutenberg_catalog.CatalogEntry):
                entries[item.gutenberg_id] = item
            else:
                counters.malformed(path, item.offset, item.error)
    return tuple(entries[k] for k in sorted(entries)), counters


def load_pg19(files, formats) -> tuple[books_input.Pg19Entry, ...]:
    """The metadata.csv rows of the PG-19 inputs, from each checkout's metadata.csv; ConfigError
    naming a checkout without one or a malformed row."""
    by_root: dict[str, set[str]] = {}
    for path, fmt in zip(files, formats):
        if fmt == "pg19":
            by_root.setdefault(books_input.pg19_root(path), set()).add(books_input.pg19_book_id(path))
    found: dict[str, books_input.Pg19Entry] = {}
    for root in sorted(by_root):
        csv_path = posixpath.join(root, "metadata.csv")
        if not fileio.exists(csv_path):
            raise checks.ConfigError(f"{csv_path}: not found; a PG-19 checkout has metadata.csv beside its "
                                     f"train/ validation/ test/ folders (or give --format txt)")
        try:
            with fileio.open_raw(csv_path) as f:
                for entry in books_input.read_pg19_metadata(f, by_root[root]):
                    found.setdefault(entry.book_id, entry)
        except (ValueError, UnicodeDecodeError) as exc:
            raise checks.ConfigError(f"{csv_path}: {exc}") from None
    return tuple(found[k] for k in sorted(found, key=lambda b: (len(b), b)))


def plan_units(cfg: BooksConfig) -> tuple[Unit, ...]:
    """One unit per readable input, a large uncompressed JSONL file cut into byte ranges of about
    cfg.jsonl_unit_mb (each reads the lines that start in it)."""
    skip = dict(cfg.unreadable)
    units = []
    for i, (path, fmt) in enumerate(zip(cfg.files, cfg.formats)):
        if i in skip:
            continue
        if fmt == "jsonl" and not is_compressed(path):
            size = fileio.size(path)
            ranges = split_ranges(path, size, cfg.jsonl_unit_mb * MB)
            units.extend(Unit(i, path, s, e if e < size else None) for s, e in ranges)
        else:
            units.append(Unit(i, path))
    return tuple(units)


def read_book_unit(formats: tuple[str, ...], max_book_bytes: int, unit: Unit):
    """The books of one unit in its file's format (corpus.books_input.read_unit through Beam's FileSystems)."""
    return books_input.read_unit(fileio.open_raw, unit, formats[unit.file_idx], max_book_bytes)
