"""Documents from any supported input file: WET, JSONL (.jsonl, .gz, .zst) or a corpus Parquet shard.

`stream_documents` reads an open file (or a byte range of it, see corpus/ranges.py) in chunks and
yields Documents in file order, or Faults for records it cannot read, each with a byte offset, so
callers can count them and go on. A document's ordinal (`enumerate_documents`) is its address in
the file. `read_documents` does the same on a file's bytes (tests, notebooks).
"""
from __future__ import annotations

import io
from typing import BinaryIO, Callable, Iterable, Iterator, Optional, Union

from corpus.document import Document, content_digest, document_id
from corpus.faults import Fault
from corpus.jsonl import stream_jsonl
from corpus.parquet_input import stream_parquet
from corpus.ranges import read_range, split_ranges
from corpus.wet import WetRecord, header, stream_wet

__all__ = ["JSONL_SUFFIXES", "WET_SUFFIXES", "input_kind", "wet_document", "open_local", "stream_documents",
           "enumerate_documents", "split_ranges", "read_documents"]

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".json")
WET_SUFFIXES = (".warc.wet", ".warc.wet.gz", ".wet", ".wet.gz")
Item = Union[Document, Fault]
DOCUMENT_FIELDS = ("WARC-Target-URI", "WARC-Block-Digest", "WARC-Record-ID", "WARC-Date")
"""The headers a document takes from its record: written as named, else matched regardless of case."""


def input_kind(path: str) -> str:
    """'parquet', 'jsonl' or 'wet' from the file name; ValueError for anything else."""
    name = path.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(WET_SUFFIXES):
        return "wet"
    raise ValueError(f"{path}: unsupported input (expected .parquet, .jsonl[.gz|.zst] or .warc.wet[.gz])")


def wet_document(rec: WetRecord, source: str = "cc") -> Document:
    """A conversion record as a Document (id from source, URL and block digest).

    A record with neither URL nor digest is identified by its WARC-Record-ID, else by a
    SHA-1 of its text, so that such records keep distinct, reproducible ids.
    """
    h = rec.headers
    url, digest, record_id, date = [h[name] if name in h else header(h, name) for name in DOCUMENT_FIELDS]
    url = url or None
    digest = digest or None
    fallback = None if url or digest else f"record-id:{record_id}" if record_id else content_digest(rec.text)
    meta = {"warc_record_id": record_id, "digest": digest}
    return Document(id=document_id(source, url, digest, fallback), source=source, text=rec.text, url=url,
                    date=date or None, meta=meta)


def open_local(path: str) -> BinaryIO:
    """The default opener: a local file's raw bytes."""
    return open(path, "rb")


def stream_documents(path: str, open_file: Callable[[str], BinaryIO] = open_local,
                     byte_range: Optional[tuple[int, int]] = None, source: Optional[str] = None
                     ) -> Iterator[Item]:
    """Documents and Faults of one input file, in file order, holding one record or row group at a time.

    `open_file` returns the file's raw bytes (pipelines pass Beam's FileSystems opener); the format
    and decompression follow the suffix. `byte_range` (start, end) reads the records that start in
    it (corpus/ranges.py; needs a seekable file; ValueError for a part of a .gz/.zst file).
    `source` names the documents of WET (default `cc`) and JSONL (default `jsonl`) files.
    """
    kind = input_kind(path)
    with open_file(path) as f:
        start, end = read_range(f, path, byte_range)
        if kind == "parquet":
            yield from stream_parquet(f, start, end)
        elif kind == "jsonl":
            yield from stream_jsonl(f, path, source or "jsonl", start, end)
        else:
            yield from wet_documents(f, path, source or "cc", start, end)


def wet_documents(f: BinaryIO, path: str, source: str = "cc", start: int = 0, end: Optional[int] = None
                  ) -> Iterator[Item]:
    """Documents (and Faults) of an open WET file, whatever its name (corpus.wet.stream_wet)."""
    for item in stream_wet(f, path, start, end):
        yield item if isinstance(item, Fault) else wet_document(item, source)


def enumerate_documents(items: Iterable[Item]) -> Iterator[tuple[Optional[int], Item]]:
    """(ordinal, Document) with ordinals 0, 1, ... over the Documents, (None, Fault) for Faults.

    The ordinal is a document's row in what was read: for a whole file, its address in the file;
    for a byte range, its row within that range (ranges number from 0 each), so an address built
    from a range must also name the range.
    """
    ordinal = 0
    for item in items:
        if isinstance(item, Fault):
            yield None, item
        else:
            yield ordinal, item
            ordinal += 1


def read_documents(data: bytes, path: str) -> Iterator[Item]:
    """Documents (and Faults) of one input file's bytes, in file order: `stream_documents` over them."""
    return stream_documents(path, lambda _: io.BytesIO(data))
