"""Stack Exchange threads: the config, which sites to read and keep, and one question's thread as a
document (no Beam; pipelines/stackexchange.py wires it).

A document is one question with its answers in RedPajama's format, `Q: {title} {body}\\nA: {answer}\\nA: ...`,
answers by integer score, highest first, ties by id (RedPajama sorted the score strings; `--compat
redpajama` keeps that order and its HTML cleaning). Accounting, in documents/lines/chars: a post of
another type (tag wiki, ...) is one document dropped as `not_qa_post` where it is read; a question
or answer of a site not selected is one document dropped as `site_not_selected`; a question with its
answers is one document whose raw size is the thread formatted from the raw HTML, and what cleaning
removes from it is counted under `markup`; answers whose question is missing are one document
dropped as `orphan_answer`; a second row with an Id already seen is `duplicate_post`.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import math
import re
import warnings
from typing import Iterable, Iterator, Optional, Union

from corpus.counters import Counters, Units
from corpus.document import Document, content_digest, document_id
from corpus.faults import Fault, report_fault
from corpus.stackexchange_dump import (ANSWER, QUESTION, SITE_NAME, NotADumpFile, Post, is_meta_site,
                                       site_of)
from pipelines.steps import checks
from pipelines.steps.chain import Batch, Filter, Step

LOG = logging.getLogger("llamapipe.stackexchange")
SOURCE = "stackexchange"
COMPAT = ("clean", "redpajama")
# LLaMA kept "the 28 largest websites" (Touvron et al. 2023, section 2.1).
DEFAULT_TOP_SITES = 28
# Documents one output part holds at most on average: a part is grouped and sorted on one worker.
DEFAULT_QUESTIONS_PER_PART = 20_000
# Sites whose posts are not in English: Stack Overflow's localized sites (and their meta sites), by
# the first label of the host name. Every other site is English.
SITE_LANGUAGES = {"ru": "ru", "es": "es", "pt": "pt", "ja": "ja"}
# Names of the PostTypeId values, from the data dump's schema (meta.stackexchange.com, "Database
# schema documentation for the public data dump and SEDE"); other values are tallied by number.
POST_TYPES = {1: "question", 2: "answer", 3: "orphaned_tag_wiki", 4: "tag_wiki_excerpt", 5: "tag_wiki",
              6: "moderator_nomination", 7: "wiki_placeholder", 8: "privilege_wiki", 9: "article",
              10: "help_article", 12: "collection", 13: "moderator_questionnaire_response",
              14: "announcement", 15: "collective_discussion", 17: "collective_collection"}


@dataclasses.dataclass(frozen=True)
class StackExchangeConfig:
    """Everything that decides a stackexchange run's output: the same config gives the same bytes.

    `files` are the expanded, sorted inputs, `unreadable` those (by index) that cannot be opened;
    `sites` pins the sites to keep (meta sites included when listed), else the `top_sites` largest
    non-meta sites by questions + answers are kept.
    """

    files: tuple[str, ...] = ()
    out: str = ""
    sites: Optional[tuple[str, ...]] = None
    top_sites: int = DEFAULT_TOP_SITES
    questions_per_part: int = DEFAULT_QUESTIONS_PER_PART
    require_answer: bool = False
    compat: str = "clean"
    strict: bool = False
    unreadable: tuple[tuple[int, str], ...] = ()

    def __post_init__(self):
        if self.sites is not None:
            object.__setattr__(self, "sites", site_names("--sites", self.sites))
        checks.at_least("--top-sites", self.top_sites, 1)
        checks.at_least("--questions-per-part", self.questions_per_part, 1)
        checks.one_of("--compat", self.compat, COMPAT)

    def run_info(self) -> dict:
        """The run section of `_stats.json`."""
        return {"files": len(self.files), "sites": list(self.sites) if self.sites is not None else None,
                "top_sites": None if self.sites is not None else self.top_sites,
                "questions_per_part": self.questions_per_part, "require_answer": self.require_answer,
                "compat": self.compat}


def site_names(flag: str, values: Iterable[str]) -> tuple[str, ...]:
    """Sorted, distinct site names (host names such as unix.stackexchange.com), at least one."""
    sites = tuple(sorted({v.strip().lower() for v in values if v.strip()}))
    if not sites:
        raise checks.ConfigError(f"{flag} needs at least one site, e.g. unix.stackexchange.com")
    for site in sites:
        if not SITE_NAME.match(site):
            raise checks.ConfigError(f"{flag}: {site!r} is not a site name such as unix.stackexchange.com")
    return sites


@dataclasses.dataclass(frozen=True)
class SitePlan:
    """Which input files are read (file index, path, site) and which are not, with why."""

    read: tuple[tuple[int, str, str], ...]
    skipped: tuple[tuple[str, Optional[str], str], ...]


def plan_sites(cfg: StackExchangeConfig) -> SitePlan:
    """The files to read: every site's Posts table, minus meta sites and sites outside `--sites`.

    Raises ConfigError for a file name that names no site, a site given by two files, a `--sites`
    entry no input holds, or inputs that leave nothing to read."""
    unreadable = dict(cfg.unreadable)
    read, skipped, seen = [], [], {}
    for i, path in enumerate(cfg.files):
        try:
            site = site_of(path)
        except NotADumpFile as exc:
            raise checks.ConfigError(str(exc)) from None
        if site is not None and site in seen:
            raise checks.ConfigError(f"site {site} is given twice: {seen[site]} and {path}; give one of them")
        if site is not None:
            seen[site] = path
        if i in unreadable:
            continue
        if site is None:
            skipped.append((path, None, "not the Posts table"))
        elif cfg.sites is not None and site not in cfg.sites:
            skipped.append((path, site, "not in --sites"))
        elif cfg.sites is None and is_meta_site(site):
            skipped.append((path, site, "meta site (list it in --sites to keep it)"))
        else:
            read.append((i, path, site))
    missing = sorted(set(cfg.sites or ()) - set(seen))
    if missing:
        raise checks.ConfigError(f"--sites names {', '.join(missing)}, which no --input file holds")
    if not read and not unreadable:
        raise checks.ConfigError("no --input file holds a site to keep: " +
                                 "; ".join(f"{path}: {why}" for path, _, why in skipped))
    return SitePlan(tuple(read), tuple(skipped))


def site_language(site: str) -> str:
    """The language of a site's posts: SITE_LANGUAGES for Stack Overflow's localized sites, else en."""
    first = site.split(".", 1)[0]
    if first in SITE_LANGUAGES and site.endswith(".stackoverflow.com"):
        return SITE_LANGUAGES[first]
    return "en"


@dataclasses.dataclass(frozen=True)
class SiteCount:
    """Posts read from one site's file, by kind: what ranking and the output parts are computed from."""

    site: str
    questions: int
    answers: int


@dataclasses.dataclass(frozen=True)
class Layout:
    """The sites kept, and the output parts of each: site -> (first global part number, parts)."""

    selected: tuple[str, ...]
    parts: tuple[tuple[str, int, int], ...]
    counts: tuple[SiteCount, ...]

    def part_of(self, site: str, question_id: int) -> int:
        """The global output part of a question: a stable hash of its id over the site's parts."""
        for name, first, n in self.parts:
            if name == site:
                return first + stable_hash(question_id) % n
        raise KeyError(f"site {site} has no output parts")

    def stats(self, cfg: StackExchangeConfig, plan: SitePlan) -> dict:
        """The `sites` section of `_stats.json`: how sites were chosen, their counts, what was skipped."""
        return {"sites": {
            "mode": "listed" if cfg.sites is not None else "top",
            "selected": list(self.selected),
            "posts": {c.site: {"questions": c.questions, "answers": c.answers} for c in self.counts},
            "parts": {name: {"first": first, "count": n} for name, first, n in self.parts},
            "skipped_files": [{"file": f, "site": s, "why": why} for f, s, why in plan.skipped]}}


def stable_hash(value: int) -> int:
    """A 64-bit hash of an integer, the same in every process (unlike Python's hash of a str)."""
    return int.from_bytes(hashlib.blake2b(str(value).encode(), digest_size=8).digest(), "big")


def choose_layout(cfg: StackExchangeConfig, counts: Iterable[SiteCount]) -> Layout:
    """The sites to keep and their parts: every read site with `--sites`, else the `top_sites` largest by
    questions + answers (ties by name); each kept site gets ceil(questions / questions_per_part) parts,
    numbered in site-name order."""
    counts = tuple(sorted(counts, key=lambda c: c.site))
    if cfg.sites is not None:
        selected = tuple(c.site for c in counts)
    else:
        ranked = sorted(counts, key=lambda c: (-(c.questions + c.answers), c.site))
        selected = tuple(sorted(c.site for c in ranked[:cfg.top_sites]))
    parts, first = [], 0
    by_site = {c.site: c for c in counts}
    for site in selected:
        n = math.ceil(by_site[site].questions / cfg.questions_per_part)
        if n:
            parts.append((site, first, n))
            first += n
    return Layout(selected, tuple(parts), counts)


def sort_posts(items: Iterable[Union[Post, Fault]], path: str, strict: bool, counters: Counters,
               by_type: collections.Counter) -> Iterator[Post]:
    """The questions and answers of a reader's output; other posts are counted as `not_qa_post`, faults
    as malformed (or raise MalformedInput under `strict`); `by_type` counts posts per PostTypeId."""
    for item in items:
        if isinstance(item, Fault):
            report_fault(item, path, strict, counters, LOG)
            continue
        by_type[item.post_type] += 1
        if item.post_type in (QUESTION, ANSWER):
            yield item
        else:
            u = Units.of(item.raw_text())
            counters.read(u)
            counters.drop("not_qa_post", u)


def tally_types(site: str, by_type: collections.Counter, counters: Counters) -> None:
    """Add one file's posts per type to the `posts_read` tally of `_stats.json`."""
    for post_type, n in sorted(by_type.items()):
        counters.tally("posts_read", site, POST_TYPES.get(post_type, f"type_{post_type}"), n)


def thread_key(site: str, post: Post) -> tuple[str, int]:
    """The join key of a question or answer: (site, the question's Id)."""
    return site, post.id if post.post_type == QUESTION else post.parent_id


_LI_OPEN = re.compile(r"<li(?:\s[^>]*)?>")


def clean_html(html: str, compat: str = "clean") -> str:
    """Readable text of a post body: entities unescaped, list items as lines starting with "*" (in <ul>
    and <ol>), code blocks with their line breaks; BeautifulSoup's lxml parser as RedPajama. `redpajama`:
    RedPajama's replacements (only <ol> opens with an extra "*", attributes of <li> not matched)."""
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

    if compat == "redpajama":
        html = html.replace("<li>", "\n*").replace("</li>", "").replace("<ol>", "\n*").replace("</ol>", "")
    else:
        html = _LI_OPEN.sub("\n*", html).replace("</li>", "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        return BeautifulSoup(html, "lxml").get_text()


def order_answers(answers: Iterable[Post], compat: str = "clean") -> list[Post]:
    """Answers highest score first by integer score, ties by id; `redpajama`: RedPajama's sort of the
    score strings (stable from id order, so still deterministic)."""
    by_id = sorted(answers, key=lambda a: a.id)
    if compat == "redpajama":
        return sorted(by_id, key=lambda a: str(a.score), reverse=True)
    return sorted(by_id, key=lambda a: -a.score)


def raw_thread(question: Post, answers: list[Post]) -> str:
    """The thread formatted from the raw HTML: its size is what the document reads as."""
    return f"Q: {question.raw_text()}" + "".join(f"\nA: {a.body}" for a in answers)


def thread_text(question: Post, answers: list[Post], compat: str = "clean") -> str:
    """`Q: {title} {body}\\nA: {answer}...` with the HTML cleaned. The title is plain text and kept as is
    (`redpajama` runs title and body together through the HTML cleaning, so a title's `<b>` vanishes)."""
    if compat == "redpajama":
        q = clean_html(question.raw_text(), compat)
    else:
        body = clean_html(question.body, compat)
        q = f"{question.title} {body}" if question.title else body
    return f"Q: {q}" + "".join(f"\nA: {clean_html(a.body, compat)}" for a in answers)


def tag_list(tags: str) -> list[str]:
    """Tags of a question: `<bash><ls>` (dumps up to 2023) or `|bash|ls|` (later dumps)."""
    if "<" in tags:
        return re.findall(r"<([^<>]+)>", tags)
    return [t for t in tags.split("|") if t]


def thread_document(site: str, question: Post, answers: list[Post], compat: str = "clean") -> Document:
    """One question's document, answers in the order given (`order_answers`)."""
    text = thread_text(question, answers, compat)
    url = f"https://{site}/questions/{question.id}"
    meta = {"site": site, "question_id": question.id, "question_score": question.score,
            "answer_ids": [a.id for a in answers], "answer_scores": [a.score for a in answers],
            "answer_count": len(answers), "accepted_answer_id": question.accepted_answer_id,
            "tags": tag_list(question.tags), "content_license": question.content_license}
    return Document(id=document_id(SOURCE, url, content_digest(text)), source=SOURCE, text=text, url=url,
                    date=question.creation_date, lang=site_language(site), bucket="all", meta=meta)


def recipe(cfg: StackExchangeConfig) -> list[Step]:
    """The steps a formatted thread goes through: `unanswered` with `require_answer`, else none."""
    steps: list[Step] = []
    if cfg.require_answer:
        steps.append(Filter("unanswered", lambda b: [d.meta["answer_count"] > 0 for d in b.docs]))
    return steps


def join_thread(site: str, posts: Iterable[Post], selected: bool, cfg: StackExchangeConfig, steps: list[Step],
                counters: Counters) -> Optional[Document]:
    """The document of one join group (a question and the answers whose ParentId is its Id), counting
    every post of the group as read and then written or dropped (see the module docstring)."""
    posts = sorted(posts, key=lambda p: (p.post_type, p.id, p.raw_text()))
    if not selected:
        for p in posts:
            u = Units.of(p.raw_text())
            counters.read(u)
            counters.drop("site_not_selected", u)
        return None
    questions, answers, seen = [], [], set()
    for p in posts:
        if (p.post_type, p.id) in seen:
            u = Units.of(p.raw_text())
            counters.read(u)
            counters.drop("duplicate_post", u)
            continue
        seen.add((p.post_type, p.id))
        (questions if p.post_type == QUESTION else answers).append(p)
    if not questions:
        orphans = Units.of("\n".join(f"A: {a.body}" for a in answers))
        counters.read(orphans)
        counters.drop("orphan_answer", orphans)
        return None
    question = questions[0]
    answers = order_answers(answers, cfg.compat)
    doc = thread_document(site, question, answers, cfg.compat)
    before, after = Units.of(raw_thread(question, answers)), Units.of(doc.text)
    counters.read(before)
    counters.drop("markup", Units(0, before.lines - after.lines, before.chars - after.chars))
    batch = Batch.of([(0, doc)])
    for step in steps:
        if not batch:
            break
        batch = step(batch, counters)
    for u in batch.units:
        counters.write(u)
    return batch.docs[0] if batch else None
