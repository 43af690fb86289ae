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

Between reading and joining, posts wait in scratch Parquet buckets by the hash of their thread
(ScratchWriter, plan_joins, part_posts, thread_groups at the end of this file), not in a Beam shuffle.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import math
import operator
import re
import threading
import warnings
from typing import Any, Callable, Iterable, Iterator, Optional, Union

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from lxml import etree

from corpus.counters import Counters, Units
from corpus.document import Document, content_digest, document_id
from corpus.faults import Fault, report_fault
from corpus.shards import TargetSink
from corpus.stackexchange_dump import (ANSWER, QUESTION, SITE_NAME, NotADumpFile, Post, is_meta_site,
                                       site_of)
from pipelines.steps import checks
from pipelines.steps.chain import Batch, Filter, Step, apply_steps

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
        """The global output part of a question: which of its site's parts, equal ranges of the 64-bit
        hash space, holds the stable hash of its id."""
        for name, first, n in self.parts:
            if name == site:
                return first + range_index(stable_hash(question_id), n)
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


def range_index(h: int, n: int) -> int:
    """Which of `n` equal ranges of the 64-bit hash space holds `h` (0..n-1, increasing with `h`)."""
    return (h * n) >> 64


def hash_range(k: int, n: int) -> tuple[int, int]:
    """[lo, hi) of the hashes in range `k` of `n`: exactly those with range_index(h, n) == k."""
    return -(-(k << 64) // n), -(-((k + 1) << 64) // n)


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


def thread_id(post: Post) -> int:
    """The Id of the question whose thread a question or answer belongs to (an answer's ParentId)."""
    return post.id if post.post_type == QUESTION else post.parent_id


def thread_key(site: str, post: Post) -> tuple[str, int]:
    """The join key of a question or answer: (site, the question's Id)."""
    return site, thread_id(post)


_LI_OPEN = re.compile(r"<li(?:\s[^>]*)?>")


def clean_html(html: str, compat: str = "clean") -> str:
    """Readable text of a post body: entities unescaped, list items as lines starting with "*" (in <ul>
    and <ol>), code blocks with their line breaks; the text BeautifulSoup's lxml parser gives, as
    RedPajama, but taken straight from lxml's parse events (`html_text`). `redpajama`: RedPajama's
    replacements (only <ol> opens with an extra "*", attributes of <li> not matched) and BeautifulSoup."""
    if compat == "redpajama":
        html = html.replace("<li>", "\n*").replace("</li>", "").replace("<ol>", "\n*").replace("</ol>", "")
        return soup_text(html)
    return html_text(_LI_OPEN.sub("\n*", html).replace("</li>", ""))


def soup_text(html: str) -> str:
    """BeautifulSoup(html, "lxml").get_text(): RedPajama's cleaning, and the reference `html_text` matches."""
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():  # a body that is a word or starts with <?xml is still a body
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(html, "lxml").get_text()


# bs4 4.x with lxml (bs4/builder/_lxml.py, bs4/__init__.py): strings inside these tags are not
# NavigableStrings (Script, Stylesheet, TemplateString, RubyTextString, RubyParenthesisString) and
# get_text() skips them; whitespace-only strings outside <pre>/<textarea> become "\n" or " ".
_HIDDEN_TAGS = frozenset(("script", "style", "template", "rt", "rp"))
_PRESERVE_TAGS = frozenset(("pre", "textarea"))
_ASCII_SPACES = " \n\t\x0c\r"


class _TextTarget:
    """An lxml parser target that keeps the text BeautifulSoup's get_text() returns for the same parse:
    runs of data between two other events are one string (BeautifulSoup's endData), comments,
    processing instructions and doctypes end a string and are left out, and an end tag closes up to
    the latest open tag of its name (BeautifulSoup's _popToTag)."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.out: list[str] = []
        self.data_run: list[str] = []
        self.open: list[str] = []
        self.hidden = 0
        self.preserve = 0

    def _end_string(self) -> None:
        if not self.data_run:
            return
        s = "".join(self.data_run)
        self.data_run = []
        if self.hidden:
            return
        if not self.preserve and not s.strip(_ASCII_SPACES):
            s = "\n" if "\n" in s else " "
        self.out.append(s)

    def start(self, tag: str, attrib) -> None:
        self._end_string()
        self.open.append(tag)
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
        if tag in _PRESERVE_TAGS:
            self.preserve += 1

    def end(self, tag: str) -> None:
        self._end_string()
        if tag not in self.open:
            return
        while True:
            name = self.open.pop()
            if name in _HIDDEN_TAGS:
                self.hidden -= 1
            if name in _PRESERVE_TAGS:
                self.preserve -= 1
            if name == tag:
                return

    def data(self, data: str) -> None:
        self.data_run.append(data)

    def comment(self, text: str) -> None:
        self._end_string()

    def pi(self, target: str, data: str) -> None:
        self._end_string()

    def doctype(self, name: str, pubid: str, system: str) -> None:
        self._end_string()

    def close(self) -> str:
        self._end_string()
        text = "".join(self.out)
        self.reset()
        return text


_PARSERS = threading.local()


def html_text(html: str) -> str:
    """BeautifulSoup(html, "lxml").get_text() without building BeautifulSoup's tree: the same lxml
    parser with the same options, its events kept by _TextTarget (one parser per thread, reused).
    Markup lxml rejects goes through BeautifulSoup itself, which retries it as UTF-8 bytes."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.HTMLParser(target=_TextTarget(), recover=True, huge_tree=False,
                                                    encoding=None)
    try:
        parser.feed(html[1:] if html[:1] == "\ufeff" else html)  # BeautifulSoup drops a leading BOM
        return parser.close()
    except Exception:
        _PARSERS.parser = None
        return soup_text(html)


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
    batch = apply_steps(Batch.of([(0, doc)]), steps, counters)
    return batch.docs[0] if batch else None


# Scratch: the join without a shuffle of posts. A site file's questions and answers go to Parquet files
# under OUT/_temporary/stackexchange, bucketed by the stable hash of their thread's question Id into
# equal ranges of the hash space; an output part, a range of the same space, reads the buckets its
# range overlaps. Output parts never depend on the number of buckets (a site's .7z and its Posts.xml
# have different sizes, hence different buckets, and give the same bytes).
SCRATCH_DIR = "stackexchange"
SCRATCH_INPUT_BYTES = 64 << 20
"""A site file gets one scratch bucket per this many bytes of input file (at least 1, at most MAX_BUCKETS)."""
MAX_BUCKETS = 256
SCRATCH_BUFFER_BYTES = 16 << 20
"""Rows of a site file waiting for their scratch buckets, all buckets together, stay under about this."""
SCRATCH_GROUP_BYTES = 1 << 20
"""A bucket's waiting rows are written as one row group once they reach this many bytes."""
SCRATCH_COMPRESSION = "snappy"
POST_FIELDS = tuple(f.name for f in dataclasses.fields(Post))
_POST_VALUES = operator.attrgetter(*POST_FIELDS)
_FIELD_TYPES = {"creation_date": pa.string(), "title": pa.string(), "body": pa.string(), "tags": pa.string(),
                "content_license": pa.string()}
SCRATCH_SCHEMA = pa.schema([("hash", pa.uint64()), ("thread", pa.int64())] +
                           [(name, _FIELD_TYPES.get(name, pa.int64())) for name in POST_FIELDS])
ROW_OVERHEAD = 64  # bytes a scratch row's numbers take, for the buffer's bound
WRITE_BATCH = 512  # documents handed to the shard writer at a time


def scratch_buckets(input_bytes: int) -> int:
    """How many scratch buckets a site file of `input_bytes` bytes is split into."""
    return max(1, min(MAX_BUCKETS, math.ceil(input_bytes / SCRATCH_INPUT_BYTES)))


def scratch_name(file_idx: int, bucket: int) -> str:
    """The file name of a scratch bucket, under OUT/_temporary/stackexchange."""
    return f"{file_idx:05d}-{bucket:05d}.parquet"


class ScratchWriter:
    """One site file's questions and answers written to its scratch buckets as they come.

    A row waits in its bucket until the bucket holds `group_bytes` (then it is written as one row
    group) or all buckets together hold `buffer_bytes` (then the fullest bucket is written), so memory
    holds about `buffer_bytes` whatever the file's size. `open_target(name)` makes each file's Target;
    `close` commits them and returns the buckets written; leaving a `with` block without `close`
    discards them.
    """

    def __init__(self, file_idx: int, buckets: int, open_target: Callable[[str], Any],
                 buffer_bytes: int = SCRATCH_BUFFER_BYTES, group_bytes: int = SCRATCH_GROUP_BYTES):
        self.file_idx = file_idx
        self.buckets = buckets
        self.open_target = open_target
        self.buffer_bytes = buffer_bytes
        self.group_bytes = group_bytes
        self.pending: dict[int, list[tuple]] = {}
        self.pending_bytes: dict[int, int] = {}
        self.waiting = 0
        self.files: dict[int, tuple[Any, pq.ParquetWriter]] = {}
        self.done = False

    def __enter__(self) -> "ScratchWriter":
        return self

    def __exit__(self, *exc) -> None:
        if not self.done:
            self.abort()

    def add(self, post: Post) -> None:
        """Queue a question or answer for the bucket of its thread's hash, writing what fills up."""
        thread = thread_id(post)
        h = stable_hash(thread)
        bucket = range_index(h, self.buckets)
        self.pending.setdefault(bucket, []).append((h, thread, *_POST_VALUES(post)))
        size = len(post.body) + len(post.title) + len(post.tags) + ROW_OVERHEAD
        self.pending_bytes[bucket] = self.pending_bytes.get(bucket, 0) + size
        self.waiting += size
        if self.pending_bytes[bucket] >= self.group_bytes:
            self._flush(bucket)
        while self.waiting >= self.buffer_bytes:
            self._flush(max(self.pending_bytes, key=lambda b: (self.pending_bytes[b], -b)))

    def _flush(self, bucket: int) -> None:
        """Write a bucket's waiting rows as one row group (opening its file first if needed)."""
        rows = self.pending.pop(bucket, [])
        self.waiting -= self.pending_bytes.pop(bucket, 0)
        if not rows:
            return
        if bucket not in self.files:
            target = self.open_target(scratch_name(self.file_idx, bucket))
            self.files[bucket] = target, pq.ParquetWriter(TargetSink(target, digest=False), SCRATCH_SCHEMA,
                                                          compression=SCRATCH_COMPRESSION)
        table = pa.Table.from_arrays([pa.array(column, type=field.type)
                                      for column, field in zip(zip(*rows), SCRATCH_SCHEMA)], schema=SCRATCH_SCHEMA)
        self.files[bucket][1].write_table(table, row_group_size=table.num_rows)

    def close(self) -> tuple[int, ...]:
        """Write what waits, finish and commit every bucket file; the buckets written, in order."""
        try:
            for bucket in sorted(self.pending):
                self._flush(bucket)
            for bucket in sorted(self.files):
                self.files[bucket][1].close()
            for bucket in sorted(self.files):
                self.files[bucket][0].commit()
        except BaseException:
            self.abort()
            raise
        self.done = True
        return tuple(sorted(self.files))

    def abort(self) -> None:
        """Discard every bucket file begun; the error that brought us here is the one reported."""
        self.done = True
        for target, writer in self.files.values():
            try:
                writer.close()
            except Exception:  # the first error is the one to report
                pass
            target.discard()


def write_scratch(posts: Iterable[Post], scratch: ScratchWriter) -> Units:
    """Every question and answer into `scratch`; their raw size (one document each), which is what a
    site not kept drops as `site_not_selected` without reading its scratch files again."""
    read = Units()
    for post in posts:
        scratch.add(post)
        read += Units.of(post.raw_text())
    return read


@dataclasses.dataclass(frozen=True)
class SiteRead:
    """What reading one site file leaves for the layout: its counts, the raw size of its questions and
    answers, and its scratch buckets (`buckets` ranges, of which `written` hold rows)."""

    count: SiteCount
    file_idx: int
    buckets: int
    written: tuple[int, ...]
    posts: Units


@dataclasses.dataclass(frozen=True)
class JoinTask:
    """One output part's work: the scratch files holding site `site`'s posts whose thread hash is in
    [lo, hi). `part` is None for a kept site without questions (its answers are all orphans)."""

    part: Optional[int]
    site: str
    lo: int
    hi: int
    files: tuple[str, ...]


def plan_joins(layout: Layout, reads: Iterable[SiteRead]) -> tuple[list[JoinTask], Counters]:
    """The join tasks of the kept sites, one per output part with the scratch buckets its range
    overlaps, and the Counters of the sites not kept: their posts are dropped as `site_not_selected`
    by their raw size from the read, without reading their scratch files."""
    parts = {name: (first, n) for name, first, n in layout.parts}
    tasks, counters = [], Counters()
    for r in sorted(reads, key=lambda r: r.count.site):
        site = r.count.site
        if site not in layout.selected:
            if r.posts.docs:
                counters.read(r.posts)
                counters.drop("site_not_selected", r.posts)
            continue
        first, n = parts.get(site, (None, 1))
        for k in range(n):
            lo, hi = hash_range(k, n)
            files = tuple(scratch_name(r.file_idx, b) for b in r.written
                          if range_index(lo, r.buckets) <= b <= range_index(hi - 1, r.buckets))
            if files:
                tasks.append(JoinTask(None if first is None else first + k, site, lo, hi, files))
    return tasks, counters


def part_posts(tables: Iterable[pa.Table], lo: int, hi: int) -> pa.Table:
    """The scratch rows whose thread hash is in [lo, hi), in the order read."""
    kept = []
    for table in tables:
        h = table.column("hash")
        mask = pc.greater_equal(h, pa.scalar(lo, pa.uint64()))
        if hi < 1 << 64:
            mask = pc.and_(mask, pc.less(h, pa.scalar(hi, pa.uint64())))
        kept.append(table.filter(mask))
    if not kept:
        return SCRATCH_SCHEMA.empty_table()
    return pa.concat_tables(kept)


def thread_groups(table: pa.Table, slice_rows: int = 1024) -> Iterator[list[Post]]:
    """The posts of scratch rows, one thread at a time by question Id: the rows are sorted by index and
    taken (and made Posts) `slice_rows` at a time, so the table is not copied whole in sorted order."""
    order = pc.sort_indices(table, sort_keys=[("thread", "ascending"), ("post_type", "ascending"),
                                              ("id", "ascending")])
    group: list[Post] = []
    current = None
    for start in range(0, len(order), slice_rows):
        batch = table.take(order.slice(start, slice_rows))
        columns = [batch.column(name).to_pylist() for name in ("thread",) + POST_FIELDS]
        for thread, *values in zip(*columns):
            if thread != current and group:
                yield group
                group = []
            current = thread
            group.append(Post(*values))
    if group:
        yield group


def join_part(site: str, table: pa.Table, cfg: StackExchangeConfig, steps: list[Step],
              counters: Counters) -> Iterator[Document]:
    """The documents of one output part of a kept site, by question Id: each thread of its scratch rows
    joined and counted by `join_thread`."""
    for posts in thread_groups(table):
        doc = join_thread(site, posts, True, cfg, steps, counters)
        if doc is not None:
            yield doc
