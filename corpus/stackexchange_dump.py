"""The Stack Exchange data dump's Posts table, streamed: which site a dump file holds, and its rows.

A site comes as `<site>.7z` (every table of the site), as Stack Overflow's per-table
`stackoverflow.com-Posts.7z`, or as an extracted `<site>/Posts.xml`. Posts.xml holds one `<row .../>`
per line (newlines inside attributes are written `&#xA;`), so rows are framed by line and parsed one
at a time: a broken row is a Fault at its byte offset and the rows after it still read. Archives are
decompressed by py7zr in a thread that pushes blocks through a small bounded queue, so neither the
archive nor Posts.xml is ever held whole.
"""
from __future__ import annotations

import dataclasses
import os
import queue
import re
import threading
from typing import BinaryIO, Callable, Iterable, Iterator, Optional, Union

from lxml import etree

from corpus.faults import Fault
from corpus.paths import file_name
from corpus.readers import open_local

POSTS_XML = "posts.xml"
QUESTION, ANSWER = 1, 2
# The dump's other tables; `stackoverflow.com-<Table>.7z` holds one of them.
OTHER_TABLES = ("badges", "comments", "posthistory", "postlinks", "tags", "users", "votes")
SITE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
BLOCK = 1 << 20
MAX_LINE = 64 << 20  # a row is at most a few hundred KB (bodies are capped at 30,000 characters)
QUEUE_BLOCKS = 4
BOM = b"\xef\xbb\xbf"
THREAD_NAME = "posts-7z-decompress"
LAYOUT = ("not the dump's layout of one <row .../> per line (was the file reformatted?): no row is read; "
          "extract Posts.xml from the site's .7z again")


@dataclasses.dataclass(frozen=True)
class Post:
    """The attributes of one Posts.xml row that the pipeline uses (the others are not kept)."""

    id: int
    post_type: int
    parent_id: Optional[int] = None
    accepted_answer_id: Optional[int] = None
    creation_date: Optional[str] = None
    score: int = 0
    title: str = ""
    body: str = ""
    tags: str = ""
    content_license: Optional[str] = None

    def raw_text(self) -> str:
        """The post's text before any cleaning: `Title Body` when it has a title, else its body."""
        return f"{self.title} {self.body}" if self.title else self.body


Item = Union[Post, Fault]


class NotADumpFile(ValueError):
    """A file whose name says neither its site nor that it holds the Posts table."""


def site_of(path: str) -> Optional[str]:
    """The site a dump file holds (`X.7z`, `X-Posts.7z`, `X/Posts.xml` -> X); None for another table
    of a per-table dump (`X-Users.7z`, `X/Users.xml`). Raises NotADumpFile naming the file otherwise."""
    name = file_name(path)
    lower = name.lower()
    if lower.endswith(".7z"):
        stem, lower_stem = name[:-3], lower[:-3]
        if lower_stem.endswith("-posts"):
            site = stem[:-len("-posts")]
        elif any(lower_stem.endswith(f"-{t}") for t in OTHER_TABLES):
            return None
        else:
            site = stem
    elif lower == POSTS_XML:
        site = os.path.basename(os.path.dirname(path.rstrip("/")))
    elif lower.endswith(".xml") and lower[:-4] in OTHER_TABLES:
        return None
    else:
        raise NotADumpFile(f"{path}: not a Stack Exchange dump file (expected <site>.7z, <site>-Posts.7z "
                           f"or <site>/Posts.xml)")
    site = site.lower()  # host names are not case-sensitive
    if not SITE_NAME.match(site):
        raise NotADumpFile(f"{path}: {site!r} is not a site name such as unix.stackexchange.com (name the "
                           f"file <site>.7z, <site>-Posts.7z or <site>/Posts.xml)")
    return site


def is_meta_site(site: str) -> bool:
    """A site about the network itself (meta.stackoverflow.com, math.meta.stackexchange.com)."""
    return site.startswith("meta.") or ".meta." in site


def read_posts(path: str, open_file: Callable[[str], BinaryIO] = open_local) -> Iterator[Item]:
    """Posts and Faults of one dump file (.7z or Posts.xml), in file order, one row in memory at a time.

    A Fault's offset is the byte offset of the row in Posts.xml (inside the archive for a .7z)."""
    with open_file(path) as f:
        if path.lower().endswith(".7z"):
            yield from _rows(_archive_blocks(f))
        else:
            yield from _rows(iter(lambda: f.read(BLOCK), b""))


def _rows(blocks: Iterable[Union[bytes, Fault]]) -> Iterator[Item]:
    """Posts of a Posts.xml byte stream: the declaration and `<posts>`, rows, then `</posts>`."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    opened = closed = False
    end = 0
    for offset, line in _lines(blocks):
        if isinstance(line, Fault):
            yield line
            if offset < 0:  # the stream itself broke: nothing more to read
                return
            continue
        end = offset + len(line)
        text = line.strip()
        if text.startswith((b"<?xml", BOM + b"<?xml")) and not opened:
            text = text[text.find(b"?>") + 2:].strip() if b"?>" in text else b""
        if not text:
            continue
        if text.startswith(b"<row") and opened and not closed:
            yield _post(text, offset, parser)
        elif text == b"<posts>" and not opened:
            opened = True
        elif text.startswith(b"<posts>") and not opened:
            yield Fault(offset, LAYOUT)
            return
        elif text == b"</posts>" and opened and not closed:
            closed = True
        elif not opened:
            yield Fault(offset, f"not a Posts table: it starts with {text[:40]!r}, not <posts>")
            return
        else:
            yield Fault(offset, f"unexpected line {text[:60]!r}")
    if not closed:
        yield Fault(end, "Posts.xml ends before </posts>: the file is truncated")


def _post(text: bytes, offset: int, parser) -> Item:
    """One `<row .../>` line as a Post, or a Fault at `offset` saying what is wrong with it."""
    try:
        attrs = etree.fromstring(text, parser).attrib
    except etree.XMLSyntaxError as exc:
        return Fault(offset, f"broken row: {exc}")
    try:
        post = Post(id=int(attrs["Id"]), post_type=int(attrs["PostTypeId"]),
                    parent_id=_int_or_none(attrs.get("ParentId")),
                    accepted_answer_id=_int_or_none(attrs.get("AcceptedAnswerId")),
                    creation_date=attrs.get("CreationDate"), score=int(attrs.get("Score", "0")),
                    title=attrs.get("Title", ""), body=attrs.get("Body", ""), tags=attrs.get("Tags", ""),
                    content_license=attrs.get("ContentLicense"))
    except KeyError as exc:
        return Fault(offset, f"row without the {exc.args[0]} attribute")
    except ValueError as exc:
        return Fault(offset, f"row with a non-integer number: {exc}")
    if post.post_type == ANSWER and post.parent_id is None:
        return Fault(offset, f"answer {post.id} without a ParentId")
    return post


def _int_or_none(value: Optional[str]) -> Optional[int]:
    return None if value is None or value == "" else int(value)


def _lines(blocks: Iterable[Union[bytes, Fault]]) -> Iterator[tuple[int, Union[bytes, Fault]]]:
    """(byte offset, line without its newline) of a byte stream given in blocks, then (its length, b"").
    A line longer than MAX_LINE is one Fault and is skipped; a Fault among the blocks (a decompression
    error) comes as (-1, Fault at the bytes decompressed so far) and ends the stream."""
    buf = bytearray()
    base = 0
    skipping = False
    for block in blocks:
        if isinstance(block, Fault):
            yield -1, Fault(base + len(buf), block.error)
            return
        buf += block
        start = 0
        while (nl := buf.find(b"\n", start)) >= 0:
            if skipping:
                skipping = False
            else:
                yield base + start, bytes(buf[start:nl])
            start = nl + 1
        if not skipping and len(buf) - start > MAX_LINE:
            yield base + start, Fault(base + start, f"a line longer than {MAX_LINE} bytes: not a Posts.xml row")
            skipping = True
        if skipping:
            start = len(buf)
        del buf[:start]
        base += start
    if buf and not skipping:
        yield base, bytes(buf)
    yield base + len(buf), b""  # where the stream ends: the offset of a missing </posts>


class _Stopped(Exception):
    """The reader stopped early: the decompressing thread ends."""


_END = object()


def _archive_blocks(f: BinaryIO) -> Iterator[Union[bytes, Fault]]:
    """Decompressed blocks of the archive's Posts.xml; a Fault (last) if the archive cannot be read."""
    import py7zr

    try:
        archive = py7zr.SevenZipFile(f, "r")
        names = [n for n in archive.getnames() if os.path.basename(n).lower() == POSTS_XML]
    except Exception as exc:  # py7zr raises many types for a damaged header
        yield Fault(0, f"not a readable 7z archive: {type(exc).__name__}: {exc}")
        return
    if len(names) != 1:
        archive.close()
        yield Fault(0, f"the archive holds {len(names)} Posts.xml members, expected one")
        return
    blocks: queue.Queue = queue.Queue(maxsize=QUEUE_BLOCKS)
    stop = threading.Event()
    thread = threading.Thread(target=_extract, args=(archive, names[0], blocks, stop), name=THREAD_NAME, daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = blocks.get(timeout=1.0)
            except queue.Empty:
                if thread.is_alive():
                    continue
                item = Fault(-1, "the decompressing thread ended without finishing Posts.xml")
            if item is _END:
                return
            yield item
            if isinstance(item, Fault):
                return
    finally:
        stop.set()
        thread.join()
        archive.close()


def _extract(archive, member: str, blocks: queue.Queue, stop: threading.Event) -> None:
    """Thread body: decompress `member` into `blocks`, then _END (or a Fault naming the error)."""
    import py7zr.io

    def put(item) -> None:
        while True:
            try:
                blocks.put(item, timeout=0.1)
                return
            except queue.Full:
                if stop.is_set():
                    raise _Stopped() from None

    class Pipe(py7zr.io.Py7zIO):
        """The member's bytes, block by block, into the queue."""

        written = 0

        def write(self, s) -> int:
            view = memoryview(s)
            for start in range(0, len(view), BLOCK):
                if stop.is_set():
                    raise _Stopped()
                put(bytes(view[start:start + BLOCK]))
            Pipe.written += len(view)
            return len(view)

        def read(self, size=None) -> bytes:
            return b""

        def seek(self, offset, whence=0) -> int:
            return 0

        def flush(self) -> None:
            pass

        def size(self) -> int:
            return Pipe.written

    class Factory(py7zr.io.WriterFactory):
        def create(self, filename: str) -> py7zr.io.Py7zIO:
            return Pipe()

    try:
        archive.extract(targets=[member], factory=Factory())
        put(_END)
    except _Stopped:
        pass
    except Exception as exc:  # a damaged stream: CRC mismatch, LZMA data error, truncation
        try:
            put(Fault(-1, f"damaged archive after {Pipe.written} bytes of {member}: {type(exc).__name__}: {exc}"))
        except _Stopped:
            pass
