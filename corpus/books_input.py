"""Book files, streamed: one Document per book (Gutenberg text, PG-19, plain .txt) or per JSONL line.

Formats (`detect_format` picks one per file by its name and folder):
- gutenberg: `pgNNNN.txt`, `NNNN-0.txt`, `NNNN.txt` from a Gutenberg mirror; decoded by
  corpus.gutenberg.decode_book (UTF-8, cp1252 or Latin-1, meta.encoding), newlines as \\n; the
  licence header and footer are left for the recipe to strip (so their size is counted there).
- pg19: `<root>/{train,validation,test}/NNNN.txt` of a PG-19 checkout; the text as it is, lang "en",
  meta.book_id and meta.split (metadata.csv is applied by the recipe).
- txt: any other `.txt`, title from the file name.
- jsonl: one `{"title": ..., "text": ...}` book per line (the Books3 shape), other fields to meta;
  a line that is not such an object is a Fault at its offset. A large uncompressed file is read in
  byte ranges (the lines that start in [start, end): corpus/ranges.py's rule).
A book file is one record: it is read whole (at most `max_book_bytes`, else a Fault), never more
than one at a time.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import posixpath
import re
from typing import BinaryIO, Callable, Collection, Iterable, Iterator, Optional, Union

from corpus import gutenberg
from corpus.compression import CannotDecompress, decompressed_chunks
from corpus.document import Document, content_digest, document_id
from corpus.faults import Fault
from corpus.jsonl import split_lines
from corpus.paths import file_name

SOURCE = "books"
FORMATS = ("gutenberg", "pg19", "txt", "jsonl")
PG19_SPLITS = ("train", "validation", "test")
PG19_NAME = re.compile(r"^(\d+)\.txt$")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst")
DEFAULT_MAX_BOOK_BYTES = 512 << 20
OpenFile = Callable[[str], BinaryIO]


def gutenberg_url(number: int) -> str:
    """The canonical page of a Gutenberg book."""
    return f"https://www.gutenberg.org/ebooks/{number}"


def detect_format(path: str) -> Optional[str]:
    """The format of one input by its name (module docstring); None when it is none of them."""
    name = file_name(path)
    lower = name.lower()
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if not lower.endswith(".txt"):
        return None
    parent = posixpath.basename(posixpath.dirname(path.replace("\\", "/")))
    if parent in PG19_SPLITS and PG19_NAME.match(name):
        return "pg19"
    if gutenberg.FILE_NAME.match(name):
        return "gutenberg"
    return "txt"


def pg19_root(path: str) -> str:
    """The checkout folder of a PG-19 book file (the folder above its split), where metadata.csv lies."""
    return posixpath.dirname(posixpath.dirname(path))


def pg19_book_id(path: str) -> Optional[str]:
    """The PG-19 book id of a file (`train/10146.txt` -> "10146")."""
    m = PG19_NAME.match(file_name(path))
    return m.group(1) if m else None


def read_unit(open_file: OpenFile, unit, fmt: str, max_book_bytes: int = DEFAULT_MAX_BOOK_BYTES
              ) -> Iterator[Union[Document, Fault]]:
    """The books of a planned unit (anything with path, start, end: pipelines.source.Unit) in format `fmt`."""
    with open_file(unit.path) as f:
        if fmt == "jsonl":
            yield from read_jsonl(f, unit.path, unit.start, unit.end)
            return
        data = f.read(max_book_bytes + 1)
        if len(data) > max_book_bytes:
            yield Fault(0, f"more than {max_book_bytes} bytes: larger than any book")
            return
        yield book_document(data, unit.path, fmt)


def book_document(data: bytes, path: str, fmt: str) -> Union[Document, Fault]:
    """The Document of one book file's bytes (gutenberg, pg19 or txt), or a Fault when it is not text."""
    try:
        text, encoding = gutenberg.decode_book(data)
    except gutenberg.NotText as exc:
        return Fault(exc.offset, str(exc))
    name = file_name(path)
    meta: dict = {"format": fmt, "file": name, "encoding": encoding}
    url, lang = None, None
    if fmt == "pg19":
        meta.update(book_id=pg19_book_id(path), split=posixpath.basename(posixpath.dirname(path)),
                    has_dw_placeholders="<DW>" in text)
        lang = "en"
    else:
        text = gutenberg.normalize_newlines(text)
        if fmt == "gutenberg":
            number = gutenberg.book_number(name, text[:8192])
            meta["gutenberg_id"] = number
            url = gutenberg_url(number) if number is not None else None
        else:
            meta["title"] = name[:-len(".txt")] if name.lower().endswith(".txt") else name
    return Document(id=document_id(SOURCE, url, content_digest(text)), source=SOURCE, text=text, url=url,
                    lang=lang, bucket="all", meta=meta)


def read_jsonl(f: BinaryIO, path: str, start: int = 0, end: Optional[int] = None
               ) -> Iterator[Union[Document, Fault]]:
    """The books of the lines of a JSONL file that start in [start, end) (all: 0, None); offsets are in
    the decompressed stream; a compressed stream that breaks ends with a Fault where it broke."""
    first = max(0, start - 1)  # read from the byte before: a line starts at `start` only after a newline
    if first:
        f.seek(first)
    lines: Iterable[tuple[int, bytes]] = split_lines(decompressed_chunks(f, path), first)
    if start:
        lines = itertools.islice(lines, 1, None)
    if end is not None:
        lines = itertools.takewhile(lambda item: item[0] < end, lines)
    name, at = file_name(path), start
    try:
        for at, line in lines:
            item = jsonl_book(line, at, name)
            if item is not None:
                yield item
    except CannotDecompress as exc:
        yield Fault(at, f"cannot decompress: {exc}")


def jsonl_book(line: bytes, offset: int, name: str) -> Union[Document, Fault, None]:
    """The Document of one JSONL line, None for a blank line, a Fault for anything but {"text": str, ...}."""
    if not line.strip():
        return None
    try:
        rec = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Fault(offset, f"line at byte {offset}: not JSON ({exc})")
    if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
        return Fault(offset, f"line at byte {offset}: not an object with a string 'text' field")
    text = gutenberg.normalize_newlines(rec["text"])
    title = rec.get("title")
    meta = {k: v for k, v in rec.items() if k not in ("text", "title", "lang")}
    meta.update(format="jsonl", file=name, offset=offset, title=title if isinstance(title, str) else None)
    lang = rec.get("lang") if isinstance(rec.get("lang"), str) else None
    return Document(id=document_id(SOURCE, None, content_digest(text)), source=SOURCE, text=text, lang=lang,
                    bucket="all", meta=meta)


@dataclasses.dataclass(frozen=True)
class Pg19Entry:
    """One row of a PG-19 checkout's metadata.csv."""

    book_id: str
    short_book_title: str
    publication_date: str
    url: str


def read_pg19_metadata(f: BinaryIO, wanted: Optional[Collection[str]] = None) -> Iterator[Pg19Entry]:
    """The rows of a PG-19 metadata.csv (`book_id, short_book_title, publication_date, url`; a header
    row is skipped) for the book ids in `wanted` (all when None), streamed row by row; ValueError
    naming the row for one that does not have four fields."""
    rows = csv.reader(io.TextIOWrapper(f, encoding="utf-8", newline=""))
    for n, row in enumerate(rows, start=1):
        if not row or (n == 1 and row[0].strip() == "book_id"):
            continue
        if len(row) != 4:
            raise ValueError(f"row {n}: {len(row)} fields, expected book_id, short_book_title, publication_date, url")
        if wanted is None or row[0].strip() in wanted:
            yield Pg19Entry(row[0].strip(), row[1], row[2].strip(), row[3].strip())
