"""JSONL documents, line by line from a stream: one Document per line with a string `text` and an
`id` or `url` (other fields go to meta), a Fault with the line's byte offset for any other line."""
from __future__ import annotations

import itertools
import json
from typing import BinaryIO, Iterable, Iterator, Optional, Union

from corpus.compression import CannotDecompress, decompressed_chunks
from corpus.document import Document, document_id
from corpus.faults import Fault


def split_lines(chunks: Iterable[bytes], base: int = 0) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of each b"\\n"-separated line of a stream, the last one unterminated (maybe empty),
    as `bytes.split(b"\\n")` cuts them; a line is held whole, a chunk is not joined to the next."""
    pending: list[bytes] = []
    offset = base
    for chunk in chunks:
        if b"\n" not in chunk:
            pending.append(chunk)
            continue
        lines = (b"".join(pending) + chunk if pending else chunk).split(b"\n")
        for line in lines[:-1]:
            yield offset, line
            offset += len(line) + 1
        pending = [lines[-1]]
    yield offset, b"".join(pending)


def line_document(line: bytes, label: str, source: str) -> Union[Document, str, None]:
    """The Document of one JSONL line, None for a blank line, or why the line is not a document."""
    if not line.strip():
        return None
    try:
        rec = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return f"{label}: not JSON ({exc})"
    if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
        return f"{label}: no string 'text' field"
    rid, url = rec.get("id"), rec.get("url")
    if rid is None and url is None:
        return f"{label}: needs an 'id' or a 'url' field"
    src = str(rec.get("source") or source)
    meta = {k: v for k, v in rec.items() if k not in ("text", "id", "url", "source", "lang")}
    return Document(id=str(rid) if rid is not None else document_id(src, url, None), source=src,
                    text=rec["text"], url=url, lang=rec.get("lang"), meta=meta)


def jsonl_documents(lines: Iterable[tuple[int, bytes]], source: str = "jsonl", numbered: bool = True
                    ) -> Iterator[Union[Document, Fault]]:
    """Documents and Faults of (offset, line) pairs; faults name the line by number, or by offset when
    `numbered` is False (a part of a file that does not start at 0 cannot know its line numbers)."""
    for lineno, (offset, line) in enumerate(lines, start=1):
        doc = line_document(line, f"line {lineno}" if numbered else f"line at byte {offset}", source)
        if isinstance(doc, str):
            yield Fault(offset, doc)
        elif doc is not None:
            yield doc


def _until_broken(lines: Iterable[tuple[int, bytes]], offset: int, broken: list[Fault]
                  ) -> Iterator[tuple[int, bytes]]:
    """The lines of a stream up to where its decompression breaks; then `broken` holds that Fault."""
    try:
        for offset, line in lines:
            yield offset, line
            offset += len(line) + 1
    except CannotDecompress as exc:
        broken.append(Fault(offset, f"cannot decompress: {exc}"))


def stream_jsonl(f: BinaryIO, path: str, source: str = "jsonl", start: int = 0, end: Optional[int] = None
                 ) -> Iterator[Union[Document, Fault]]:
    """Documents and Faults of an open JSONL file (positioned at 0; .gz/.zst decompressed by suffix).

    Offsets are in the decompressed stream. [start, end) selects the lines of an uncompressed file
    that start there (needs a seekable file). A compressed stream that breaks ends the file with a
    `cannot decompress` Fault at the offset of the line it cut; the lines before it are kept.
    """
    first = max(0, start - 1)  # a part reads from the byte before it: a line starts at `start` after a newline
    if first:
        f.seek(first)
    lines: Iterable[tuple[int, bytes]] = split_lines(decompressed_chunks(f, path), first)
    if start:
        lines = itertools.islice(lines, 1, None)  # the line running into the part belongs to the one before
    broken: list[Fault] = []
    lines = _until_broken(lines, start, broken)
    if end is not None:
        lines = itertools.takewhile(lambda item: item[0] < end, lines)
    yield from jsonl_documents(lines, source, numbered=not start)
    yield from broken
