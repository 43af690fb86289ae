"""The books pipeline's config, named steps and recipe (no Beam).

Recipe: the Gutenberg licence header and footer stripped (corpus/gutenberg.py; what is cut counts
under gutenberg_boilerplate; a book with no start marker drops as no_gutenberg_markers unless
--keep-unmarked), with --catalog the RDF catalog's fields (a Gutenberg book the catalog lacks drops
as not_in_catalog, one whose rights are not "Public domain in the USA." as not_public_domain),
PG-19's metadata.csv fields, too_short under --min-words, the language of books that have none
(fastText lid.176 on a 4 KB sample from 10% into the book, past the title page and contents; PG-19
is "en", a catalogued book takes dcterms:language when its record has one), lang_not_selected
outside --langs, and last the id: document_id("books", url, sha1 of the final text).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Sequence

from corpus.books_input import DEFAULT_MAX_BOOK_BYTES, FORMATS, Pg19Entry, gutenberg_url
from corpus.counters import Counters, Units
from corpus.document import content_digest, document_id
from corpus.gutenberg import UNMARKED, header_fields, strip_book
from corpus.gutenberg_catalog import CatalogEntry
from pipelines.steps import checks
from pipelines.steps.chain import Batch, Filter, Step, drop_where_not

MB = 1 << 20
DEFAULT_MIN_WORDS = 1000
DEFAULT_JSONL_UNIT_MB = 128
LID_SAMPLE_CHARS = 4096


@dataclasses.dataclass(frozen=True)
class BooksConfig:
    """Everything that decides a books run's output: the same config gives the same bytes.

    `files` are the expanded, sorted inputs and `formats` the format of each (corpus.books_input);
    `unreadable` those (by index) that cannot be opened. `catalog` is the RDF tarball's path ("" for
    none) and `catalog_entries` its entries for the Gutenberg books among the inputs; `pg19_entries`
    the metadata.csv rows of the PG-19 books among them. `langs` (empty: all) keeps those languages;
    `min_words` drops shorter books; `keep_unmarked` keeps Gutenberg books without a start marker
    whole; `jsonl_unit_mb` is the byte range one worker reads of a large JSONL file.
    """

    files: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    out: str = ""
    strict: bool = False
    unreadable: tuple[tuple[int, str], ...] = ()
    catalog: str = ""
    catalog_entries: tuple[CatalogEntry, ...] = ()
    pg19_entries: tuple[Pg19Entry, ...] = ()
    langs: tuple[str, ...] = ()
    min_words: int = DEFAULT_MIN_WORDS
    keep_unmarked: bool = False
    jsonl_unit_mb: int = DEFAULT_JSONL_UNIT_MB
    max_book_mb: int = DEFAULT_MAX_BOOK_BYTES // MB

    def __post_init__(self):
        if len(self.formats) != len(self.files):
            raise checks.ConfigError(f"{len(self.formats)} formats for {len(self.files)} --input files")
        for path, fmt in zip(self.files, self.formats):
            if fmt not in FORMATS:
                raise checks.ConfigError(f"{path}: format {fmt!r} is not one of {', '.join(FORMATS)} (--format)")
        if self.langs:
            checks.languages("--langs", self.langs)
        checks.at_least("--min-words", self.min_words, 0)
        checks.at_least("--jsonl-unit-mb", self.jsonl_unit_mb, 1)
        checks.at_least("--max-book-mb", self.max_book_mb, 1)
        for idx, _ in self.unreadable:
            if not 0 <= idx < len(self.files):
                raise checks.ConfigError(f"unreadable file index {idx} is not one of the {len(self.files)} inputs")

    def run_info(self) -> dict:
        """The run section of `_stats.json`."""
        return {"files": len(self.files), "formats": {f: self.formats.count(f) for f in sorted(set(self.formats))},
                "catalog": self.catalog or None, "catalog_books": len(self.catalog_entries),
                "pg19_books": len(self.pg19_entries), "langs": list(self.langs), "min_words": self.min_words,
                "keep_unmarked": self.keep_unmarked, "lid": self.needs_lid, "jsonl_unit_mb": self.jsonl_unit_mb,
                "max_book_mb": self.max_book_mb}

    @property
    def needs_lid(self) -> bool:
        """True when some book may come without a language: any but PG-19 (a catalog record may lack
        dcterms:language too)."""
        return any(f != "pg19" for f in self.formats)


@dataclasses.dataclass(frozen=True)
class StripGutenberg:
    """Gutenberg books: the body between licence header and footer; what is cut counts under `name`.
    A book with no start marker drops as `unmarked` (kept whole with keep_unmarked). Meta gains
    `strip` (modern, legacy, none) and the header's Title:/Author: lines as title/author."""

    keep_unmarked: bool = False
    name: str = "gutenberg_boilerplate"
    unmarked: str = "no_gutenberg_markers"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        keep = []
        for i, doc in enumerate(batch.docs):
            if doc.meta.get("format") != "gutenberg":
                keep.append(True)
                continue
            stripped = strip_book(doc.text)
            keep.append(stripped.how != UNMARKED or self.keep_unmarked)
            doc.meta["strip"] = stripped.how
            for key, value in header_fields(stripped.header).items():
                doc.meta.setdefault(key, value)
            if stripped.body != doc.text:
                before, after = batch.units[i], Units.of(stripped.body)
                counters.drop(self.name, Units(0, before.lines - after.lines, before.chars - after.chars))
                doc.text, batch.units[i] = stripped.body, after
        return drop_where_not(self.unmarked, batch, keep, counters)


@dataclasses.dataclass(frozen=True)
class ApplyCatalog:
    """Gutenberg books take the catalog's language, title, authors, rights and issued date; a book
    the catalog lacks drops as `missing`, one not public domain in the USA as `name`."""

    entries: Mapping[int, CatalogEntry]
    name: str = "not_public_domain"
    missing: str = "not_in_catalog"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        status = []
        for doc in batch.docs:
            entry = self.entries.get(doc.meta.get("gutenberg_id")) if doc.meta.get("format") == "gutenberg" else None
            if entry is not None:
                doc.lang, doc.date, doc.url = entry.lang, entry.issued, gutenberg_url(entry.gutenberg_id)
                doc.meta.update(title=entry.title, authors=list(entry.authors), rights=entry.rights)
            missing = entry is None and doc.meta.get("format") == "gutenberg"
            status.append(self.missing if missing else self.name if entry and not entry.public_domain else "")
        batch = drop_where_not(self.missing, batch, [s != self.missing for s in status], counters)
        status = [s for s in status if s != self.missing]
        return drop_where_not(self.name, batch, [s != self.name for s in status], counters)


@dataclasses.dataclass(frozen=True)
class ApplyPg19:
    """PG-19 books take metadata.csv's title, publication date and url; drops nothing."""

    entries: Mapping[str, Pg19Entry]
    name: str = "pg19_metadata"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        for doc in batch.docs:
            entry = self.entries.get(doc.meta.get("book_id")) if doc.meta.get("format") == "pg19" else None
            if entry is not None:
                doc.url, doc.date = entry.url or None, entry.publication_date or None
                doc.meta.update(short_book_title=entry.short_book_title, publication_date=entry.publication_date)
            elif doc.meta.get("format") == "pg19":
                doc.meta["short_book_title"] = None
        return batch


def too_short(min_words: int) -> Filter:
    """Drops books of fewer than `min_words` words (whitespace-separated) as too_short."""
    return Filter("too_short", lambda b: [len(d.text.split()) >= min_words for d in b.docs])


def lid_sample(text: str, chars: int = LID_SAMPLE_CHARS) -> str:
    """`chars` characters from 10% into `text` (past a title page and contents), from a word start."""
    at = len(text) // 10
    space = text.find(" ", at)
    at = space + 1 if 0 <= space < at + 200 else at
    return text[at:at + chars] if len(text) - at >= chars // 2 else text[:chars]


@dataclasses.dataclass(frozen=True)
class TagLanguage:
    """Books without a language get fastText's on their `lid_sample`; drops nothing."""

    lid: Any
    name: str = "lid"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        todo = [d for d in batch.docs if d.lang is None]
        for doc, (lang, score) in zip(todo, self.lid.predict([lid_sample(d.text) for d in todo])):
            doc.lang, doc.lang_score = lang, score
        return batch


def lang_not_selected(langs: Sequence[str]) -> Filter:
    """Drops books whose language is not one of `langs`."""
    wanted = set(langs)
    return Filter("lang_not_selected", lambda b: [d.lang in wanted for d in b.docs])


@dataclasses.dataclass(frozen=True)
class SetId:
    """Each book's id from its final text: document_id("books", url, sha1); drops nothing."""

    name: str = "id"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        for doc in batch.docs:
            doc.id = document_id("books", doc.url, content_digest(doc.text))
        return batch


def recipe(cfg: Optional[BooksConfig] = None) -> list[Step]:
    """The books chain (module docstring); the lid.176 model loads here, once per worker, when some
    input may need it."""
    cfg = cfg or BooksConfig()
    steps: list[Step] = [StripGutenberg(cfg.keep_unmarked)]
    if cfg.catalog:
        steps.append(ApplyCatalog({e.gutenberg_id: e for e in cfg.catalog_entries}))
    if "pg19" in cfg.formats:
        steps.append(ApplyPg19({e.book_id: e for e in cfg.pg19_entries}))
    if cfg.min_words:
        steps.append(too_short(cfg.min_words))
    if cfg.needs_lid:
        from filters.lid import LanguageIdentifier, default_lid_model

        steps.append(TagLanguage(LanguageIdentifier(default_lid_model())))
    if cfg.langs:
        steps.append(lang_not_selected(cfg.langs))
    steps.append(SetId())
    return steps
