"""CommonCrawl WET reader that survives bad input: every fault is reported with its byte offset.

Works on the bytes of one file (`.warc.wet` or `.warc.wet.gz`): a multi-member gzip is
decompressed member by member, so a corrupt member is skipped and the members after it
are still read; a record whose Content-Length lies is reported and parsing resumes at
the next `WARC/` header. Offsets of record faults are in the decompressed stream;
gzip faults give the offset in the compressed file.
"""
from __future__ import annotations

import dataclasses
import zlib
from typing import Iterator, Optional, Union

from corpus.stats import add_malformed

GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_PREFIX = b"WARC/"
RECORD_END = b"\r\n\r\n"
_CHUNK = 16384


@dataclasses.dataclass
class WetRecord:
    """A conversion record: headers (names as written) and the UTF-8 body."""

    offset: int
    headers: dict[str, str]
    text: str


@dataclasses.dataclass
class Fault:
    """Something in the file that could not be read; `offset` is a byte offset."""

    offset: int
    error: str


class MalformedInput(ValueError):
    """Raised in strict mode at the first fault; the message names file, offset and error."""


def report_fault(fault: Fault, path: str, strict: bool, stats: Optional[dict], log) -> None:
    """Strict: raise MalformedInput naming file and offset. Else log it and count it in `stats`."""
    if strict:
        raise MalformedInput(f"{path} at byte {fault.offset}: {fault.error}")
    if stats is not None:
        log.warning("malformed input: %s at byte %d: %s", path, fault.offset, fault.error)
        add_malformed(stats, path, fault.offset, fault.error)


def decompress(data: bytes) -> tuple[bytes, list[Fault]]:
    """Decompress all gzip members of `data`; corrupt or truncated members become Faults.

    Input is fed in small chunks so that files of many small members (WET: one per record)
    decompress in linear time. After a corrupt member, reading resumes at the next gzip
    header found in the bytes, so every intact member is recovered.
    """
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


def header(headers: dict[str, str], name: str) -> Optional[str]:
    """A header's value, its name matched regardless of case (WARC field names are case-insensitive)."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value


def _next_record_start(raw: bytes, start: int) -> int:
    """Offset of the next line that starts with `WARC/` at or after `start`, or -1."""
    if raw.startswith(WARC_PREFIX, start):
        return start
    idx = raw.find(b"\n" + WARC_PREFIX, start)
    return -1 if idx < 0 else idx + 1


def iter_records(raw: bytes, record_types: tuple[str, ...] = ("conversion",)
                 ) -> Iterator[Union[WetRecord, Fault]]:
    """Yield the records of a decompressed WARC/WET stream whose WARC-Type is in `record_types`.

    Faults (not WARC, bad header, lying Content-Length, no WARC-Type, invalid UTF-8) are
    yielded in place and parsing continues with the next record. Records of other types
    (warcinfo, metadata, ...) are not documents and are skipped.
    """
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
    """Records and faults of one WET file's bytes; gzip is detected by its magic number."""
    if data[:3] == GZIP_MAGIC or name.endswith(".gz"):
        raw, gz_faults = decompress(data)
        yield from gz_faults
        if not raw and gz_faults:
            return
    else:
        raw = data
    yield from iter_records(raw)


def warc_date(headers: dict[str, str]) -> Optional[str]:
    """ISO-8601 WARC-Date of a record, or None."""
    return header(headers, "WARC-Date") or None
