"""The arXiv pipeline's config, named steps and recipe (no Beam).

Recipe: pdf_only, not_utf8, no_tex, too_large (papers the reader marked: PDF-only submissions,
non-UTF-8 TeX, no .tex file, more .tex than --max-paper-mb or a member inflating past
arxiv_tar.INFLATE_FACTOR times that), the LaTeX cleaner (pipelines/steps/latex.py; a paper without a
sectioning command drops as no_section, what cleaning removes from the others counts under
latex_cleanup), empty_after_clean, too_short with --min-chars, and with --lid the fastText language
of each paper (lid.176 on the lowercased text, as RedPajama tagged arXiv; nothing is dropped for it:
LLaMA did not filter arXiv by language). Every dropped paper is logged with its tar and member, so
a reviewer finds it in the source.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Optional, Sequence

from corpus.arxiv_tar import (DEFAULT_MAX_PAPER_BYTES, NO_TEX, NOT_UTF8, PDF_ONLY, TAR_SUFFIXES, TOO_LARGE,
                              split_tex_files, tar_stem)
from corpus.counters import Counters, Units
from pipelines.steps import checks
from pipelines.steps.chain import Batch, Step, drop_where_not
from pipelines.steps.latex import clean_project

LOG = logging.getLogger("llamapipe.arxiv")
DEFAULT_INCLUDE_DEPTH = 10
MB = 1 << 20


@dataclasses.dataclass(frozen=True)
class ArxivConfig:
    """Everything that decides an arxiv run's output: the same config gives the same bytes.

    `files` are the expanded, sorted source tars (part number = index); `unreadable` those (by
    index) that cannot be opened, counted as malformed; `expand_arg_macros` expands simple macros
    with [n] arguments too; `include_depth` bounds nested \\input; `min_chars` (0: off) drops
    cleaned papers shorter than that as too_short; `lid` tags each paper's language with fastText
    (else every paper is "en"); `max_paper_mb` (MB of 2^20 bytes) bounds the .tex one paper may hold
    and, INFLATE_FACTOR times over, what its member may inflate to: a paper past it drops as too_large.
    """

    files: tuple[str, ...] = ()
    out: str = ""
    strict: bool = False
    unreadable: tuple[tuple[int, str], ...] = ()
    expand_arg_macros: bool = True
    include_depth: int = DEFAULT_INCLUDE_DEPTH
    min_chars: int = 0
    lid: bool = False
    max_paper_mb: int = DEFAULT_MAX_PAPER_BYTES // MB

    def __post_init__(self):
        check_tars(self.files)
        checks.at_least("--include-depth", self.include_depth, 0)
        checks.at_least("--min-chars", self.min_chars, 0)
        checks.at_least("--max-paper-mb", self.max_paper_mb, 1)
        for idx, _ in self.unreadable:
            if not 0 <= idx < len(self.files):
                raise checks.ConfigError(f"unreadable file index {idx} is not one of the {len(self.files)} inputs")

    def run_info(self) -> dict:
        """The run section of `_stats.json`."""
        return {"files": len(self.files), "expand_arg_macros": self.expand_arg_macros,
                "include_depth": self.include_depth, "min_chars": self.min_chars, "lid": self.lid,
                "max_paper_mb": self.max_paper_mb}

    @property
    def max_paper_bytes(self) -> int:
        """max_paper_mb in bytes: what the tar reader is given."""
        return self.max_paper_mb * MB


def check_tars(files: Sequence[str]) -> None:
    """ConfigError naming an input that is not a tar by its name (a .7z, a Wikipedia dump, a shard: its
    bytes would only be malformed) or a tar given twice (from two folders, or as .tar and .tar.gz: its
    papers would be written twice)."""
    seen: dict[str, str] = {}
    for path in files:
        stem = tar_stem(path)
        if stem is None:
            raise checks.ConfigError(f"{path}: not a source tar (expected arXiv_src_YYMM_NNN.tar; "
                                     f"{', '.join(TAR_SUFFIXES)} are read)")
        if stem.lower() in seen:
            raise checks.ConfigError(f"{seen[stem.lower()]} and {path}: one source tar given twice; give one of them")
        seen[stem.lower()] = path


def drop_logged(reason: str, batch: Batch, keep: Sequence[bool], counters: Counters) -> Batch:
    """drop_where_not, logging the tar and member of each paper dropped."""
    for doc, k in zip(batch.docs, keep):
        if not k:
            LOG.info("%s: %s dropped as %s", doc.meta.get("tar"), doc.meta.get("member"), reason)
    return drop_where_not(reason, batch, keep, counters)


@dataclasses.dataclass(frozen=True)
class DropMarked:
    """Drops the papers the reader marked with status `name` (pdf_only, not_utf8, no_tex, too_large)."""

    name: str

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        return drop_logged(self.name, batch, [d.meta.get("status") != self.name for d in batch.docs], counters)


@dataclasses.dataclass(frozen=True)
class MinChars:
    """Drops cleaned papers with fewer than `min_chars` characters (or no text at all) under `name`."""

    name: str
    min_chars: int

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        return drop_logged(self.name, batch, [bool(d.text.strip()) and u.chars >= self.min_chars
                                              for d, u in zip(batch.docs, batch.units)], counters)


@dataclasses.dataclass(frozen=True)
class CleanLatex:
    """Replaces each paper's .tex files with its cleaned body (latex.clean_project): the lines and
    characters removed count under `name`; a paper without a sectioning command drops as
    `no_section`. Meta keeps the provenance and gains main_file and macros_expanded."""

    expand_args: bool = True
    max_depth: int = DEFAULT_INCLUDE_DEPTH
    name: str = "latex_cleanup"
    no_section: str = "no_section"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        keep = []
        for i, doc in enumerate(batch.docs):
            files = split_tex_files(doc.text, doc.meta.get("tex_files", []))
            cleaned = clean_project(files, self.expand_args, self.max_depth)
            keep.append(cleaned.has_section)
            if not cleaned.has_section:
                continue
            before, after = batch.units[i], Units.of(cleaned.text)
            counters.drop(self.name, Units(0, before.lines - after.lines, before.chars - after.chars))
            doc.text = cleaned.text
            doc.meta = {**{k: v for k, v in doc.meta.items() if k not in ("status", "tex_files")},
                        "main_file": cleaned.main_file, "macros_expanded": cleaned.macros_expanded}
            batch.units[i] = after
        return drop_logged(self.no_section, batch, keep, counters)


@dataclasses.dataclass(frozen=True)
class TagLanguage:
    """Sets each paper's language and score from fastText LID on its lowercased text; drops nothing."""

    lid: Any
    name: str = "lid"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        for doc, (lang, score) in zip(batch.docs, self.lid.predict([d.text.lower() for d in batch.docs])):
            if lang is not None:
                doc.lang, doc.lang_score = lang, score
        return batch


def recipe(cfg: Optional[ArxivConfig] = None) -> list[Step]:
    """The arXiv chain: pdf_only, not_utf8, no_tex, too_large, the cleaner (latex_cleanup / no_section),
    empty_after_clean, too_short when cfg.min_chars > 0, language tags with cfg.lid (the lid.176
    model loads here, once per worker)."""
    cfg = cfg or ArxivConfig()
    steps: list[Step] = [DropMarked(PDF_ONLY), DropMarked(NOT_UTF8), DropMarked(NO_TEX), DropMarked(TOO_LARGE),
                         CleanLatex(cfg.expand_arg_macros, cfg.include_depth),
                         MinChars("empty_after_clean", 0)]
    if cfg.min_chars:
        steps.append(MinChars("too_short", cfg.min_chars))
    if cfg.lid:
        from filters.lid import LanguageIdentifier, default_lid_model

        steps.append(TagLanguage(LanguageIdentifier(default_lid_model())))
    return steps

