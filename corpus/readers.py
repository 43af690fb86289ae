"""Documents from any supported input file: WET, JSONL (.jsonl, .gz, .zst) or a corpus Parquet shard.

Every reader works on one file's bytes and yields Documents in file order, or Faults for
records it cannot read (with a byte offset, or the line number for JSONL), so callers can
count them and go on.
"""
from __future__ import annotations

import gzip
import io
import json
import zlib
from typing import Iterator, Union

import pyarrow.parquet as pq

from corpus.document import Document, content_digest, document_id, table_to_documents
from corpus.wet import Fault, WetRecord, header, read_wet, warc_date

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".json")
WET_SUFFIXES = (".warc.wet", ".warc.wet.gz", ".wet", ".wet.gz")


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
    url = header(rec.headers, "WARC-Target-URI") or None
    digest = header(rec.headers, "WARC-Block-Digest") or None
    record_id = header(rec.headers, "WARC-Record-ID")
    fallback = None if url or digest else f"record-id:{record_id}" if record_id else content_digest(rec.text)
    meta = {"warc_record_id": record_id, "digest": digest}
    return Document(id=document_id(source, url, digest, fallback), source=source, text=rec.text, url=url,
                    date=warc_date(rec.headers), meta=meta)


def _decompressed(data: bytes, path: str) -> tuple[bytes, list[Fault]]:
    name = path.lower()
    try:
        if name.endswith(".gz"):
            return gzip.decompress(data), []
        if name.endswith(".zst"):
            import zstandard

            with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
                return reader.read(), []
    except (OSError, EOFError, zlib.error) as exc:
        return b"", [Fault(0, f"cannot decompress: {exc}")]
    except Exception as exc:  # zstandard.ZstdError has no common base with the others
        return b"", [Fault(0, f"cannot decompress: {exc}")]
    return data, []


def read_jsonl(data: bytes, path: str, source: str = "jsonl") -> Iterator[Union[Document, Fault]]:
    """One Document per line with a string `text` and an `id` or `url`; other fields go to meta."""
    raw, faults = _decompressed(data, path)
    yield from faults
    offset = 0
    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        start, offset = offset, offset + len(line) + 1
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            yield Fault(start, f"line {lineno}: not JSON ({exc})")
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            yield Fault(start, f"line {lineno}: no string 'text' field")
            continue
        rid, url = rec.get("id"), rec.get("url")
        if rid is None and url is None:
            yield Fault(start, f"line {lineno}: needs an 'id' or a 'url' field")
            continue
        src = str(rec.get("source") or source)
        meta = {k: v for k, v in rec.items() if k not in ("text", "id", "url", "source", "lang")}
        yield Document(id=str(rid) if rid is not None else document_id(src, url, None), source=src,
                       text=rec["text"], url=url, lang=rec.get("lang"), meta=meta)


def read_parquet_shard(data: bytes, path: str) -> Iterator[Union[Document, Fault]]:
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        yield Fault(0, f"not a readable Parquet file: {exc}")
        return
    missing = {"id", "text"} - set(table.column_names)
    if missing:
        yield Fault(0, f"Parquet file lacks column(s) {', '.join(sorted(missing))}")
        return
    yield from table_to_documents(table)


def read_documents(data: bytes, path: str) -> Iterator[Union[Document, Fault]]:
    """Documents (and Faults) of one input file, in file order."""
    kind = input_kind(path)
    if kind == "parquet":
        yield from read_parquet_shard(data, path)
    elif kind == "jsonl":
        yield from read_jsonl(data, path)
    else:
        for item in read_wet(data, path):
            yield item if isinstance(item, Fault) else wet_document(item)
