"""The whole-bytes readers as they were before streaming (commit 4e3474e), frozen as the oracle the
streaming readers are checked against; not used by the product."""
from __future__ import annotations

import gzip
import io
import json
import zlib
from typing import Iterator, Union

import pyarrow.parquet as pq

from corpus.document import Document, document_id, table_to_documents
from corpus.faults import Fault
from corpus.readers import input_kind, wet_document
from corpus.wet import WetRecord, header

GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_PREFIX = b"WARC/"
RECORD_END = b"\r\n\r\n"
_CHUNK = 16384


def decompress(data: bytes) -> tuple[bytes, list[Fault]]:
    out: list[bytes] = []
    faults: list[Fault] = []
    view = memoryview(data)
    n = len(data)
    pos = 0
    while pos < n:
        if data[pos:pos + 3] != GZIP_MAGIC:
            if not data[pos:].strip(b"\x00"):
                break
            nxt = data.find(GZIP_MAGIC, pos + 1)
            faults.append(Fault(pos, f"not gzip data (compressed offset {pos}); skipped to "
                                     f"{'end of file' if nxt < 0 else f'offset {nxt}'}"))
            if nxt < 0:
                break
            pos = nxt
            continue
        dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
        member: list[bytes] = []
        fed = pos
        try:
            while not dec.eof and fed < n:
                chunk = view[fed:fed + _CHUNK]
                member.append(dec.decompress(chunk))
                fed += len(chunk)
        except zlib.error as exc:
            nxt = data.find(GZIP_MAGIC, pos + 1)
            faults.append(Fault(pos, f"corrupt gzip member at compressed offset {pos}: {exc}"))
            if nxt < 0:
                break
            pos = nxt
            continue
        if not dec.eof:
            faults.append(Fault(pos, f"truncated gzip member at compressed offset {pos} "
                                     f"(file ends before the member does)"))
            break
        out.extend(member)
        pos = fed - len(dec.unused_data)
    return b"".join(out), faults


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\r\n")[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.decode("utf-8", "replace").strip()] = value.decode("utf-8", "replace").strip()
    return headers


def _next_record_start(raw: bytes, start: int) -> int:
    if raw.startswith(WARC_PREFIX, start):
        return start
    idx = raw.find(b"\n" + WARC_PREFIX, start)
    return -1 if idx < 0 else idx + 1


def iter_records(raw: bytes, record_types: tuple[str, ...] = ("conversion",)
                 ) -> Iterator[Union[WetRecord, Fault]]:
    if not raw:
        yield Fault(0, "empty file (no WARC records)")
        return
    if not raw.startswith(WARC_PREFIX):
        first = raw[:40].decode("utf-8", "replace").splitlines()[0] if raw[:40].strip() else ""
        nxt = _next_record_start(raw, 0)
        yield Fault(0, f"not a WARC/WET file: expected a 'WARC/1.0' header, found {first!r}")
        if nxt < 0:
            return
        pos = nxt
    else:
        pos = 0
    n = len(raw)
    while pos < n:
        head_end = raw.find(RECORD_END, pos)
        if head_end < 0:
            yield Fault(pos, "truncated record header (file ends inside the WARC header)")
            return
        headers = _parse_headers(raw[pos:head_end])
        body_start = head_end + 4
        try:
            length = int(headers["Content-Length"])
            if length < 0:
                raise ValueError(length)
        except (KeyError, ValueError):
            yield Fault(pos, f"record without a valid Content-Length "
                             f"(got {headers.get('Content-Length')!r})")
            nxt = _next_record_start(raw, body_start)
            if nxt < 0:
                return
            pos = nxt
            continue
        body_end = body_start + length
        next_start = body_end + 4
        consistent = body_end <= n and (
            (raw[body_end:next_start] == RECORD_END
             and (next_start >= n or raw.startswith(WARC_PREFIX, next_start)))
            or not raw[body_end:].strip())
        if not consistent:
            nxt = _next_record_start(raw, body_start)
            if body_end > n:
                yield Fault(pos, f"record truncated: Content-Length {length} runs past the end "
                                 f"of the file ({n - body_start} bytes left)")
            else:
                yield Fault(pos, f"Content-Length {length} does not match the record "
                                 f"(no record boundary at offset {body_end})")
            if nxt < 0:
                return
            pos = nxt
            continue
        wtype = header(headers, "WARC-Type")
        if not wtype:
            yield Fault(pos, "record without a WARC-Type header (mandatory in WARC; its body could be a "
                             "warcinfo or metadata block, so it is not read as a document)")
        elif wtype in record_types:
            try:
                text = raw[body_start:body_end].decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Fault(pos, f"invalid UTF-8 in record body at byte "
                                 f"{body_start + exc.start}: {exc.reason}")
            else:
                yield WetRecord(pos, headers, text)
        pos = min(n, next_start)


def read_wet(data: bytes, name: str) -> Iterator[Union[WetRecord, Fault]]:
    if data[:3] == GZIP_MAGIC or name.endswith(".gz"):
        raw, gz_faults = decompress(data)
        yield from gz_faults
        if not raw and gz_faults:
            return
    else:
        raw = data
    yield from iter_records(raw)


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
    except Exception as exc:
        return b"", [Fault(0, f"cannot decompress: {exc}")]
    return data, []


def read_jsonl(data: bytes, path: str, source: str = "jsonl") -> Iterator[Union[Document, Fault]]:
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
    except Exception as exc:
        yield Fault(0, f"not a readable Parquet file: {exc}")
        return
    missing = {"id", "text"} - set(table.column_names)
    if missing:
        yield Fault(0, f"Parquet file lacks column(s) {', '.join(sorted(missing))}")
        return
    yield from table_to_documents(table)


def read_documents(data: bytes, path: str) -> Iterator[Union[Document, Fault]]:
    kind = input_kind(path)
    if kind == "parquet":
        yield from read_parquet_shard(data, path)
    elif kind == "jsonl":
        yield from read_jsonl(data, path)
    else:
        for item in read_wet(data, path):
            yield item if isinstance(item, Fault) else wet_document(item)
