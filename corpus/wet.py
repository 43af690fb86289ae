"""CommonCrawl WET reader that survives bad input: every fault is reported with its byte offset.

Reads an open `.warc.wet` or `.warc.wet.gz` file in chunks (`stream_wet`), holding one record at a
time: a multi-member gzip is decompressed member by member, so a corrupt member is skipped and the
members after it are still read; a record whose Content-Length lies is reported and parsing resumes
at the next `WARC/` header. Offsets of record faults are in the decompressed stream; gzip faults
give the offset in the compressed file. `read_wet`, `decompress` and `iter_records` do the same on
a whole file's bytes.
"""
from __future__ import annotations

import dataclasses
import io
from typing import BinaryIO, Iterator, Optional, Union

from corpus.faults import Fault, MalformedInput, report_fault
from corpus.gzip_members import GZIP_MAGIC, gzip_members
from corpus.ranges import compressed_range_error
from corpus.window import ByteWindow, file_chunks

__all__ = ["Fault", "MalformedInput", "report_fault", "GZIP_MAGIC", "WetRecord", "stream_wet", "wet_records",
           "read_wet", "decompress", "iter_records", "header", "warc_date"]

WARC_PREFIX = b"WARC/"
RECORD_END = b"\r\n\r\n"
NEXT_RECORD = RECORD_END + WARC_PREFIX
"""What follows a record's body when its Content-Length is right and another record comes next."""
CONVERSION = ("conversion",)


@dataclasses.dataclass
class WetRecord:
    """A conversion record: headers (names as written) and the UTF-8 body."""

    offset: int
    headers: dict[str, str]
    text: str


def _parse_headers(block: bytes) -> dict[str, str]:
    """The `name: value` fields of a header block's CRLF-separated lines after the first (`WARC/1.0`),
    names as written, a repeated name keeping its last value; lines without a colon are ignored.

    The block is decoded once: UTF-8 never ends an invalid sequence's replacement inside an ASCII
    byte, so decoding the whole block equals decoding each name and value apart.
    """
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    return headers


def header(headers: dict[str, str], name: str) -> Optional[str]:
    """A header's value, its name matched regardless of case (WARC field names are case-insensitive)."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value


def warc_date(headers: dict[str, str]) -> Optional[str]:
    """ISO-8601 WARC-Date of a record, or None."""
    return header(headers, "WARC-Date") or None


def _next_record_start(w: ByteWindow, start: int) -> int:
    """Offset of the next line that starts with `WARC/` at or after `start`, or -1 (forgets what it passes)."""
    if w.startswith(WARC_PREFIX, start):
        return start
    idx = w.find(b"\n" + WARC_PREFIX, start, forget=True)
    return -1 if idx < 0 else idx + 1


def _first_record(w: ByteWindow) -> tuple[Optional[Fault], int]:
    """(file-level fault or None, offset of the first record or -1) of a stream read from its start."""
    if not w.fill(1):
        return Fault(0, "empty file (no WARC records)"), -1
    if w.startswith(WARC_PREFIX, 0):
        return None, 0
    head = w.get(0, 40)
    first = head.decode("utf-8", "replace").splitlines()[0] if head.strip() else ""
    return (Fault(0, f"not a WARC/WET file: expected a 'WARC/1.0' header, found {first!r}"),
            _next_record_start(w, 0))


def _record_boundary(w: ByteWindow) -> int:
    """First record start after the window's first 4 bytes: a `WARC/` line right after a record's end."""
    idx = w.find(RECORD_END + WARC_PREFIX, w.base, forget=True)
    return -1 if idx < 0 else idx + len(RECORD_END)


def _record_at(w: ByteWindow, pos: int, record_types: tuple[str, ...]
               ) -> tuple[Union[WetRecord, Fault, None], int]:
    """(the record at `pos`, a Fault, or None for a skipped type; offset of the next record or -1)."""
    head_end = w.find(RECORD_END, pos)
    if head_end < 0:
        return Fault(pos, "truncated record header (file ends inside the WARC header)"), -1
    headers = _parse_headers(w.get(pos, head_end))
    body_start = head_end + 4
    try:
        length = int(headers["Content-Length"])
        if length < 0:
            raise ValueError(length)
    except (KeyError, ValueError):
        fault = Fault(pos, f"record without a valid Content-Length (got {headers.get('Content-Length')!r})")
        return fault, _next_record_start(w, body_start)
    body_end = body_start + length
    next_start = body_end + 4
    if w.get(body_end, next_start + len(WARC_PREFIX)) == NEXT_RECORD:
        complete = consistent = True
    else:
        complete = w.fill(body_end)
        consistent = complete and (
            (w.get(body_end, next_start) == RECORD_END
             and (not w.fill(next_start + 1) or w.startswith(WARC_PREFIX, next_start)))
            or w.rest_is(body_end, None))
    if not consistent:
        if not complete:
            fault = Fault(pos, f"record truncated: Content-Length {length} runs past the end "
                               f"of the file ({w.end - body_start} bytes left)")
        else:
            fault = Fault(pos, f"Content-Length {length} does not match the record "
                               f"(no record boundary at offset {body_end})")
        return fault, _next_record_start(w, body_start)
    wtype = header(headers, "WARC-Type")
    if not wtype:
        return Fault(pos, "record without a WARC-Type header (mandatory in WARC; its body could be a "
                          "warcinfo or metadata block, so it is not read as a document)"), next_start
    if wtype not in record_types:
        return None, next_start
    try:
        text = w.text(body_start, body_end)
    except UnicodeDecodeError as exc:
        return Fault(pos, f"invalid UTF-8 in record body at byte {body_start + exc.start}: {exc.reason}"), next_start
    return WetRecord(pos, headers, text), next_start


def wet_records(w: ByteWindow, record_types: tuple[str, ...] = CONVERSION, start: int = 0,
                end: Optional[int] = None) -> Iterator[Union[WetRecord, Fault]]:
    """Records of an uncompressed WARC/WET stream whose WARC-Type is in `record_types`, Faults in place.

    Faults (not WARC, bad header, lying Content-Length, no WARC-Type, invalid UTF-8) are yielded
    in place and parsing continues with the next record; other types (warcinfo, metadata, ...) are
    skipped. With `start` > 0 (the window then begins at most 4 bytes before it) reading begins at
    the first record boundary at or after `start`; it stops before the first record at or past `end`.
    File-level faults (empty file, not WARC) belong to the part that starts at 0.
    """
    item, pos = _first_record(w) if start == 0 else (None, _record_boundary(w))
    while True:
        if item is not None:
            yield item
        if pos < 0 or (end is not None and pos >= end) or not w.fill(pos + 1):
            return
        w.drop(pos)
        item, pos = _record_at(w, pos, record_types)


def _gzipped_records(w: ByteWindow, record_types: tuple[str, ...]) -> Iterator[Union[WetRecord, Fault]]:
    """Records of a gzipped WET stream; a gzip fault comes before the first record at or after where
    it cut the decompressed stream, whatever the read sizes."""
    faults: list[tuple[int, Fault]] = []
    raw = ByteWindow(gzip_members(w, faults))
    if not raw.fill(1) and faults:
        yield from (fault for _, fault in faults)
        return
    for item in wet_records(raw, record_types):
        while faults and faults[0][0] <= item.offset:
            yield faults.pop(0)[1]
        yield item
    yield from (fault for _, fault in faults)


def stream_wet(f: BinaryIO, name: str, start: int = 0, end: Optional[int] = None,
               record_types: tuple[str, ...] = CONVERSION) -> Iterator[Union[WetRecord, Fault]]:
    """Records and faults of an open WET file (positioned at 0), read in chunks; gzip by suffix or magic.

    [start, end) selects the records of an uncompressed file whose `WARC/` line starts there (needs
    a seekable file); a part of a gzipped file is a ValueError. `end` None: to the end of the file.
    """
    base = max(0, start - len(RECORD_END))
    gzipped = name.endswith(".gz")
    if base:
        gzipped = gzipped or f.read(len(GZIP_MAGIC)) == GZIP_MAGIC
        f.seek(base)
    w = ByteWindow(file_chunks(f), base)
    gzipped = gzipped or (not base and w.get(0, len(GZIP_MAGIC)) == GZIP_MAGIC)
    if not gzipped:
        yield from wet_records(w, record_types, start, end)
    elif start or end is not None:
        raise compressed_range_error(name, (start, end))
    else:
        yield from _gzipped_records(w, record_types)


def decompress(data: bytes) -> tuple[bytes, list[Fault]]:
    """Decompress all gzip members of `data`; corrupt or truncated members become Faults."""
    faults: list[tuple[int, Fault]] = []
    raw = b"".join(gzip_members(ByteWindow(file_chunks(io.BytesIO(data))), faults))
    return raw, [fault for _, fault in faults]


def iter_records(raw: bytes, record_types: tuple[str, ...] = CONVERSION) -> Iterator[Union[WetRecord, Fault]]:
    """`wet_records` over the bytes of a decompressed WARC/WET stream."""
    return wet_records(ByteWindow(file_chunks(io.BytesIO(raw))), record_types)


def read_wet(data: bytes, name: str) -> Iterator[Union[WetRecord, Fault]]:
    """Records and faults of one WET file's bytes, gzip faults first; gzip is detected by its magic number."""
    if data[:3] == GZIP_MAGIC or name.endswith(".gz"):
        raw, gz_faults = decompress(data)
        yield from gz_faults
        if not raw and gz_faults:
            return
    else:
        raw = data
    yield from iter_records(raw)
