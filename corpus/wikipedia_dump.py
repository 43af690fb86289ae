"""Wikimedia `pages-articles` dumps: their names, the split plan of a multistream file, and a
streaming reader of one planned byte range that yields a Document (raw wikitext) per `<page>`.

Plan: the multistream index (`offset:page_id:title` lines, offset = the byte offset of the page's
bz2 stream) gives the stream starts, checked against the dump's bytes so that an index of another
dump is refused; without it the file is scanned for verified stream starts
(corpus/bz2_streams.py). Only streams that hold pages are split points, so the siteinfo header
stream is never read and the `</mediawiki>` footer stream rides with the last unit.
"""
from __future__ import annotations

import bz2
import dataclasses
import io
import re
from typing import BinaryIO, Callable, Iterator, Optional, Union
from urllib.parse import quote

from lxml import etree

from corpus import bz2_streams
from corpus.document import Document, content_digest, document_id
from corpus.faults import Fault
from corpus.paths import file_name

SOURCE = "wikipedia"
OpenFile = Callable[[str], BinaryIO]

DUMP_NAME = re.compile(
    r"^(?P<db>[a-z][a-z0-9_]*?)wiki-(?P<date>\d{8}|latest)-pages-articles"
    r"(?P<multi>-multistream)?(?P<part>\d*)\.xml(?P<pages>-p\d+p\d+)?\.bz2$")
# Index offsets checked against the dump's bytes when planning (each check reads 10 bytes).
INDEX_SAMPLES = 64
INDEX_NAME = re.compile(r"^[a-z][a-z0-9_]*?wiki-(\d{8}|latest)-pages-articles-multistream-index\d*\.txt(-p\d+p\d+)?\.bz2$")


class DumpError(ValueError):
    """A dump or index that cannot be planned; the message names the file."""


@dataclasses.dataclass(frozen=True)
class DumpName:
    """What a dump's file name says: its language, database name (`enwiki`), date, and whether it
    is multistream; `index` is the file name of its multistream index; `part` says which part of a
    dump split in parts (`1-p1p41242`), "" for a whole dump."""

    lang: str
    dbname: str
    date: str
    multistream: bool
    index: Optional[str]
    part: str = ""

    @property
    def dump(self) -> str:
        """e.g. "enwiki-20220701"."""
        return f"{self.dbname}-{self.date}"


def is_index(path: str) -> bool:
    """True for a multistream index file name (an input companion, never a dump)."""
    return bool(INDEX_NAME.match(file_name(path)))


def parse_name(path: str) -> DumpName:
    """The DumpName of a `{lang}wiki-{date}-pages-articles[-multistream][N].xml[-pApB].bz2` path, or
    DumpError naming it. Database names spell a language's hyphen as `_` (`zh_yuewiki`)."""
    name = file_name(path)
    m = DUMP_NAME.match(name)
    if not m:
        raise DumpError(f"{path}: not a Wikipedia dump name ({{lang}}wiki-{{date}}-pages-articles-multistream.xml.bz2 "
                        f"or a part such as …-multistream1.xml-p1p41242.bz2)")
    db, date, multi, part, pages = m.group("db", "date", "multi", "part", "pages")
    index = f"{db}wiki-{date}-pages-articles-multistream-index{part}.txt{pages or ''}.bz2" if multi else None
    return DumpName(db.replace("_", "-"), f"{db}wiki", date, bool(multi), index, part + (pages or ""))


def index_path(path: str) -> Optional[str]:
    """Where a multistream dump's index lies (beside it), None for a single-stream dump."""
    index = parse_name(path).index
    if index is None:
        return None
    folder = path[:len(path) - len(file_name(path))]
    return folder + index


def page_url(lang: str, title: str) -> str:
    """The article's address: https://LANG.wikipedia.org/wiki/Title_with_underscores (percent-quoted)."""
    return f"https://{lang}.wikipedia.org/wiki/{quote(title.replace(' ', '_'))}"


def index_offsets(open_file: OpenFile, index: str) -> list[int]:
    """The distinct stream offsets of a bz2 multistream index, sorted, read line by line; DumpError
    naming the index and line for a line that is not `offset:page_id:title` or a broken file."""
    offsets: set[int] = set()
    last = None
    try:
        with open_file(index) as raw, bz2.open(raw, "rt", encoding="utf-8") as lines:
            for n, line in enumerate(lines, 1):
                head = line.split(":", 1)[0]
                if head == last:
                    continue
                if not head.isdigit() or ":" not in line:
                    raise DumpError(f"{index} line {n}: not an index line 'offset:page_id:title': {line[:80]!r}")
                last = head
                offsets.add(int(head))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DumpError(f"{index}: cannot read the multistream index ({exc}); remove it to scan the dump instead")
    return sorted(offsets)


@dataclasses.dataclass(frozen=True)
class FilePlan:
    """A dump file's units as (start, end) byte ranges in order, and what the planner has to say."""

    ranges: tuple[tuple[int, int], ...]
    warnings: tuple[str, ...] = ()


def group(bounds: list[int], size: int, streams_per_unit: int) -> tuple[tuple[int, int], ...]:
    """Consecutive streams starting at `bounds` (sorted, < size) grouped `streams_per_unit` to a unit;
    the last unit ends at the file's size."""
    edges = bounds[::streams_per_unit] + [size]
    return tuple((a, b) for a, b in zip(edges, edges[1:]))


def plan_file(open_file: OpenFile, path: str, size: int, streams_per_unit: int,
              index: Optional[str]) -> FilePlan:
    """Split one dump file into units: by its index's offsets when `index` (an existing file) is
    given, else by scanning for verified stream starts that hold pages; a single-stream dump or a
    file with no page stream found is one unit."""
    name = parse_name(path)
    if not name.multistream:
        return FilePlan(((0, size),), (f"{path} is not a multistream dump: read as one unit by one worker "
                                       f"(use the -pages-articles-multistream dump to split it)",))
    offsets = index_offsets(open_file, index) if index is not None else []
    if offsets:
        inside = [o for o in offsets if o < size]
        warnings = ()
        if len(inside) < len(offsets):
            warnings = (f"{index} lists {len(offsets) - len(inside)} stream offset(s) at or past the end of {path} "
                        f"({size} bytes): the dump is truncated or the index belongs to another file",)
        if not inside:
            return FilePlan(((0, size),), warnings)
        with open_file(path) as f:
            check_index(f, path, index, inside)
        return FilePlan(group(inside, size, streams_per_unit), warnings)
    with open_file(path) as f:
        pages = [o for o, head in bz2_streams.stream_starts(f, 0, size) if head.lstrip().startswith(b"<page")]
    if index is None:
        warning = f"{path}: no multistream index beside it ({name.index})"
    else:
        warning = f"{index} lists no stream (an unfinished download?): {path} is scanned instead"
    warning += f"; found {len(pages)} page streams by scanning the file"
    if not pages:
        return FilePlan(((0, size),), (warning + "; read as one unit",))
    return FilePlan(group(pages, size, streams_per_unit), (warning,))


def check_index(f: BinaryIO, path: str, index: str, offsets: list[int]) -> None:
    """DumpError unless the index's `offsets` (sorted, inside the file) fit the dump open in `f`: a bz2 stream
    starts at each of up to INDEX_SAMPLES of them, spread evenly, and no stream of pages starts before
    the first (pages there would be read by no unit). A stale index beside a newer dump fails here."""
    step = max(1, len(offsets) // INDEX_SAMPLES)
    for offset in offsets[::step] + offsets[-1:]:
        f.seek(offset)
        head = f.read(bz2_streams.MAGIC_LEN)
        if len(head) == bz2_streams.MAGIC_LEN and not bz2_streams.MAGIC.match(head):
            raise DumpError(_mismatch(index, path, f"no bz2 stream starts at byte {offset}, which the index lists"))
    for offset, head in bz2_streams.stream_starts(f, 0, offsets[0]):
        if head.lstrip().startswith(b"<page"):
            raise DumpError(_mismatch(index, path, f"the dump has a stream of pages at byte {offset}, before the "
                                                   f"first offset the index lists ({offsets[0]})"))


def _mismatch(index: str, path: str, why: str) -> str:
    return (f"{index} does not match {path}: {why}; it belongs to another dump (or the dump changed since): fetch "
            f"the index of this dump, or remove it to scan the dump instead")


def check_distinct(paths: list[str]) -> None:
    """DumpError naming two of `paths` that hold the same articles: one file name twice, two dates of a
    wiki, a whole dump with one of its parts, or a multistream and a single-stream dump of one wiki."""
    seen: dict[str, str] = {}
    editions: dict[str, tuple[tuple[str, bool, bool], str]] = {}
    for path in paths:
        name = parse_name(path)
        if file_name(path) in seen:
            raise DumpError(f"{seen[file_name(path)]} and {path}: one dump given twice; give one of them")
        seen[file_name(path)] = path
        edition = (name.date, name.multistream, bool(name.part))
        if name.dbname not in editions:
            editions[name.dbname] = (edition, path)
            continue
        (date, multi, part), first = editions[name.dbname]
        if edition == (date, multi, part):
            continue
        what = ("two dates" if name.date != date else "a multistream and a single-stream dump"
                if name.multistream != multi else "a whole dump and one of its parts")
        raise DumpError(f"{first} and {path} hold the same {name.dbname} articles twice ({what}); give one dump "
                        f"of each wiki, whole or in parts")


def _localname(el) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el, name: str):
    for c in el:
        if _localname(c) == name:
            return c
    return None


def _child_text(el, name: str) -> Optional[str]:
    c = _child(el, name) if el is not None else None
    return None if c is None else (c.text or "")


def page_document(page, lang: str, dump: str, stream_offset: int) -> Union[Document, Fault]:
    """The Document of one parsed `<page>` element: raw wikitext, with its ns and redirect flag in
    meta for the recipe's filters; a page without title, ns or id is a Fault at its stream."""
    title, ns, page_id = _child_text(page, "title"), _child_text(page, "ns"), _child_text(page, "id")
    if title is None or ns is None or page_id is None or not ns.strip().lstrip("-").isdigit():
        return Fault(stream_offset, f"a <page> without title, ns or id in the stream at byte {stream_offset}")
    revision = _child(page, "revision")
    text = _child_text(revision, "text") or ""
    url = page_url(lang, title)
    meta = {"page_id": int(page_id), "rev_id": _int_or_none(_child_text(revision, "id")), "title": title,
            "dump": dump, "stream_offset": stream_offset, "ns": int(ns), "redirect": _child(page, "redirect") is not None}
    return Document(id=document_id(SOURCE, url, content_digest(text)), source=SOURCE, text=text, url=url,
                    date=_child_text(revision, "timestamp"), lang=lang, bucket="all", meta=meta)


def _int_or_none(text: Optional[str]) -> Optional[int]:
    return int(text) if text and text.strip().isdigit() else None


class _StreamParser:
    """Incremental XML of one decompressed stream. A page stream is a run of `<page>` elements with no
    root, so it is parsed inside a `<mediawiki>` wrapper; the header stream brings its own (unclosed)
    root and the footer stream its closing tag, so the wrapper is added only where missing."""

    HEAD = 64

    def __init__(self):
        self.parser = etree.XMLPullParser(events=("end",), tag="{*}page", huge_tree=True, resolve_entities=False,
                                          no_network=True)
        self.head = b""
        self.started = False
        self.tail = b""

    def feed(self, data: bytes) -> Iterator:
        if not self.started:
            self.head += data
            if len(self.head.lstrip()) < self.HEAD:
                return iter(())
            data, self.head = self.head, b""
            self._start(data)
        self.tail = (self.tail + data)[-32:]
        self.parser.feed(data)
        return self._pages()

    def close(self) -> Iterator:
        if not self.started:
            data, self.head = self.head, b""
            self._start(data)
            self.tail = data[-32:]
            self.parser.feed(data)
        if not self.tail.rstrip().endswith(b"</mediawiki>"):
            self.parser.feed(b"</mediawiki>")
        self.parser.close()
        return self._pages()

    def _start(self, data: bytes) -> None:
        self.started = True
        first = data.lstrip()
        if not (first.startswith(b"<mediawiki") or first.startswith(b"<?xml")):
            self.parser.feed(b"<mediawiki>")

    def _pages(self) -> Iterator:
        for _, page in self.parser.read_events():
            yield page
            page.clear()
            parent = page.getparent()
            while parent is not None and page.getprevious() is not None:
                del parent[0]


def read_range(open_file: OpenFile, path: str, start: int = 0, end: Optional[int] = None
               ) -> Iterator[Union[Document, Fault]]:
    """Documents (raw wikitext, one per `<page>`) and Faults of the bz2 streams starting in [start, end)
    of a dump, in file order; a corrupt or truncated stream, or one whose XML breaks, is one Fault at
    its byte offset and reading goes on with the next stream. Holds one page and one chunk of a stream."""
    name = parse_name(path)
    with open_file(path) as f:
        if end is None:
            f.seek(0, io.SEEK_END)
            end = f.tell()
        if end <= start:
            yield Fault(start, "no bz2 stream here: the dump file is empty")
            return
        parser: Optional[_StreamParser] = None
        broken: Optional[int] = None
        for piece in bz2_streams.decompress_range(f, start, end):
            if piece.kind == "error":
                if broken != piece.offset:
                    yield Fault(piece.offset, f"{piece.error} (stream at byte {piece.offset})")
                parser, broken = None, None
                continue
            if broken == piece.offset:
                continue
            if parser is None:
                parser = _StreamParser()
            try:
                pages = parser.feed(piece.data) if piece.kind == "data" else parser.close()
                for page in pages:
                    yield page_document(page, name.lang, name.dump, piece.offset)
            except etree.XMLSyntaxError as exc:
                yield Fault(piece.offset, f"broken XML in the bz2 stream at byte {piece.offset}: {exc}")
                parser, broken = None, piece.offset
                continue
            if piece.kind == "end":
                parser = None


def read_unit(open_file: OpenFile, unit) -> Iterator[Union[Document, Fault]]:
    """`read_range` of a planned unit (anything with `path`, `start` and `end`, e.g. pipelines.source.Unit)."""
    return read_range(open_file, unit.path, unit.start, unit.end)
