"""The two inputs of `llamapipe c4`, streamed from an open file one record at a time.

`read_c4_json`: the published allenai/c4 files (gzip JSONL with `text`, `timestamp`, `url`), one
Document per line, imported byte for byte. `read_c4_wet`: CommonCrawl WET files split into pages the
way TFDS C4 3.0.1's `split_wet_file` does it (every line stripped, empty lines and lines starting with
WARC / CONTENT- / Content- skipped, including content lines that start so), not corpus/wet.py's record
parser, since the way C4 drops lines decides its output.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import BinaryIO, Callable, Iterable, Iterator, Optional, Union

from corpus.compression import CannotDecompress, decompressed_chunks
from corpus.document import Document, document_id
from corpus.faults import Fault
from corpus.jsonl import split_lines
from corpus.paths import file_name

SOURCE = "c4"
C4_JSON_KEYS = ("text", "timestamp", "url")
SPLIT_NAME = re.compile(r"c4-(train|validation)\.")
PAGE_DELIMITER = "WARC/1.0"
URL_KEY = "WARC-Target-URI:"
DATE_KEY = "WARC-Date:"
RECORD_ID_KEY = "WARC-Record-ID:"
METADATA_PREFIXES = ("WARC", "CONTENT-", "Content-")
Item = Union[Document, Fault]
Opener = Callable[[str], BinaryIO]


def split_of(path: str) -> Optional[str]:
    """'train' or 'validation' from an allenai/c4 file name (c4-train.00000-of-01024.json.gz), else None."""
    m = SPLIT_NAME.search(file_name(path))
    return m.group(1) if m else None


def text_sha1(text: str) -> str:
    """Hex SHA-1 of a text's UTF-8 bytes: the digest part of a C4 document's id."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def c4_document(url: str, timestamp: str, text: str, meta: dict) -> Document:
    """A C4 page as a Document: source c4, lang en, date = its timestamp, id from url and text."""
    return Document(id=document_id(SOURCE, url, text_sha1(text)), source=SOURCE, text=text, url=url,
                    date=timestamp, lang="en", bucket="all", meta=meta)


def json_line_document(line: bytes, label: str, split: Optional[str]) -> Union[Document, str, None]:
    """The Document of one allenai/c4 line, None for a blank line, or why the line is not one."""
    if not line.strip():
        return None
    try:
        rec = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return f"{label}: not JSON ({exc})"
    if not isinstance(rec, dict):
        return f"{label}: not a JSON object"
    for key in C4_JSON_KEYS:
        if not isinstance(rec.get(key), str):
            return f"{label}: no string {key!r} field"
    return c4_document(rec["url"], rec["timestamp"], rec["text"], {"split": split})


def read_c4_json(open_file: Opener, path: str) -> Iterator[Item]:
    """Documents of an allenai/c4 file (.json.gz, .json, .jsonl[.gz|.zst]) in file order; a line that is not
    a C4 record, or where decompression breaks, is a Fault at its offset in the decompressed stream."""
    split = split_of(path)
    end = 0
    with open_file(path) as f:
        try:
            for lineno, (offset, line) in enumerate(split_lines(decompressed_chunks(f, path)), start=1):
                end = offset + len(line) + 1
                doc = json_line_document(line, f"line {lineno}", split)
                if isinstance(doc, str):
                    yield Fault(offset, doc)
                elif doc is not None:
                    yield doc
        except CannotDecompress as exc:
            yield Fault(end, f"cannot decompress: {exc}")


class _Page:
    """A WET record being collected: its header values and kept lines."""

    def __init__(self, offset: int):
        self.offset = offset
        self.url = ""
        self.timestamp: Optional[str] = None
        self.record_id: Optional[str] = None
        self.lines: list[str] = []
        self.bad_utf8: Optional[int] = None


def _page_item(page: Optional[_Page], path: str) -> Optional[Item]:
    """The Document of a finished record, a Fault for one C4 cannot use, None for one without a URL
    (warcinfo, request records: C4 skips them)."""
    if page is None or not page.url:
        return None
    if page.bad_utf8 is not None:
        return Fault(page.bad_utf8, f"record of {page.url}: invalid UTF-8")
    if not page.timestamp:
        return Fault(page.offset, f"record of {page.url}: no WARC-Date")
    return c4_document(page.url, page.timestamp, "\n".join(page.lines),
                       {"warc_record_id": page.record_id, "file": file_name(path)})


def wet_pages(lines: Iterable[tuple[int, bytes]], path: str, broken: Optional[list[Fault]] = None) -> Iterator[Item]:
    """C4 pages of (offset, line) pairs of a decompressed WET stream, as TFDS 3.0.1 split_wet_file cuts them:
    a line is split further at a lone CR (its text reader's universal newlines), every piece stripped. When
    `broken` holds a Fault at the end (the stream was cut), the last page is incomplete and left out."""
    page: Optional[_Page] = None
    for offset, raw in lines:
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            if page is not None and page.bad_utf8 is None:
                page.bad_utf8 = offset
            continue
        for piece in decoded.split("\r"):
            line = piece.strip()
            if not line:
                continue
            if line == PAGE_DELIMITER:
                item = _page_item(page, path)
                if item is not None:
                    yield item
                page = _Page(offset)
            if page is None:
                page = _Page(offset)
            if line.startswith(URL_KEY):
                page.url = line[len(URL_KEY):].strip()
            if line.startswith(DATE_KEY):
                page.timestamp = line[len(DATE_KEY):].strip()
            if line.startswith(RECORD_ID_KEY):
                page.record_id = line[len(RECORD_ID_KEY):].strip()
            if line.startswith(METADATA_PREFIXES):
                continue
            page.lines.append(line)
    item = _page_item(page, path)
    if item is not None and not broken:
        yield item


def read_c4_wet(open_file: Opener, path: str) -> Iterator[Item]:
    """C4 pages of a WET file (.warc.wet.gz, multi-member gzip, or plain) in file order, one record held at a
    time; where decompression breaks, the page being read is lost and a Fault ends the file."""
    broken: list[Fault] = []
    with open_file(path) as f:
        yield from wet_pages(_until_broken(split_lines(decompressed_chunks(f, path)), broken), path, broken)
    yield from broken


def _until_broken(lines: Iterable[tuple[int, bytes]], broken: list[Fault]) -> Iterator[tuple[int, bytes]]:
    offset = 0
    try:
        for offset, line in lines:
            yield offset, line
            offset += len(line) + 1
    except CannotDecompress as exc:
        broken.append(Fault(offset, f"cannot decompress: {exc}"))


def read_json_unit(open_file: Opener, unit) -> Iterator[Item]:
    """read_c4_json of a unit (anything with a `path`): the import mode's reader for the source graph."""
    return read_c4_json(open_file, unit.path)


def read_wet_unit(open_file: Opener, unit) -> Iterator[Item]:
    """read_c4_wet of a unit (anything with a `path`)."""
    return read_c4_wet(open_file, unit.path)
