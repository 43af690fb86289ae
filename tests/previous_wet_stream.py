"""The streaming WET reader as it was before the parsing fast paths (commit 37d0771: corpus/window.py,
corpus/gzip_members.py, corpus/wet.py), frozen as the oracle tests/test_wet_parse_fast.py checks the
current reader against, gzip faults' places in the stream included; not used by the product."""
from __future__ import annotations

import zlib
from typing import BinaryIO, Iterable, Iterator, Optional, Union

from corpus.faults import Fault
from corpus.wet import WetRecord, header
from tests.legacy_readers import _parse_headers  # the header parse did not change between the two oracles

GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_PREFIX = b"WARC/"
RECORD_END = b"\r\n\r\n"
FEED = 16384
MEMBER_HOLD = 32 << 20


def file_chunks(f: BinaryIO, size: int = 1 << 16) -> Iterator[bytes]:
    while True:
        chunk = f.read(size)
        if not chunk:
            return
        yield chunk


class ByteWindow:
    def __init__(self, chunks: Iterable[bytes], base: int = 0):
        self._chunks = iter(chunks)
        self._buf = bytearray()
        self.base = base

    @property
    def end(self) -> int:
        return self.base + len(self._buf)

    def _more(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self._buf += chunk
                return True
        return False

    def fill(self, upto: int) -> bool:
        while self.end < upto:
            if not self._more():
                return False
        return True

    def get(self, start: int, stop: int) -> bytes:
        self.fill(stop)
        return bytes(self._buf[start - self.base:stop - self.base])

    def startswith(self, prefix: bytes, at: int) -> bool:
        return self.get(at, at + len(prefix)) == prefix

    def find(self, pattern: bytes, start: int, forget: bool = False) -> int:
        scan = start
        while True:
            idx = self._buf.find(pattern, scan - self.base)
            if idx >= 0:
                found = idx + self.base
                if forget:
                    self.drop(found)
                return found
            scan = max(start, self.end - len(pattern) + 1)
            if forget:
                self.drop(scan)
            if not self._more():
                return -1

    def rest_is(self, start: int, chars: Optional[bytes]) -> bool:
        scan = start
        while True:
            if self._buf[scan - self.base:].strip(chars):
                return False
            scan = self.end
            if not self._more():
                return True

    def drop(self, before: int) -> None:
        cut = min(before, self.end) - self.base
        if cut > 0:
            del self._buf[:cut]
            self.base += cut


def gzip_members(w: ByteWindow, faults: list[tuple[int, Fault]]) -> Iterator[bytes]:
    pos = w.base
    out = 0
    while w.fill(pos + 1):
        w.drop(pos)
        if w.get(pos, pos + 3) != GZIP_MAGIC:
            if w.rest_is(pos, b"\x00"):
                return
            nxt = w.find(GZIP_MAGIC, pos + 1, forget=True)
            faults.append((out, Fault(pos, f"not gzip data (compressed offset {pos}); skipped to "
                                           f"{'end of file' if nxt < 0 else f'offset {nxt}'}")))
            if nxt < 0:
                return
            pos = nxt
            continue
        dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
        held: list[bytes] = []
        size = 0
        fed = pos
        try:
            while not dec.eof and w.fill(fed + 1):
                chunk = w.get(fed, fed + FEED)
                held.append(dec.decompress(chunk))
                size += len(held[-1])
                fed += len(chunk)
                if size > MEMBER_HOLD:
                    yield b"".join(held)
                    out += size
                    held, size = [], 0
                    w.drop(fed - len(dec.unused_data))
        except zlib.error as exc:
            nxt = w.find(GZIP_MAGIC, max(pos + 1, w.base), forget=True)
            faults.append((out, Fault(pos, f"corrupt gzip member at compressed offset {pos}: {exc}")))
            if nxt < 0:
                return
            pos = nxt
            continue
        if not dec.eof:
            faults.append((out, Fault(pos, f"truncated gzip member at compressed offset {pos} "
                                           f"(file ends before the member does)")))
            return
        if size:
            yield b"".join(held)
            out += size
        pos = fed - len(dec.unused_data)


def _next_record_start(w: ByteWindow, start: int) -> int:
    if w.startswith(WARC_PREFIX, start):
        return start
    idx = w.find(b"\n" + WARC_PREFIX, start, forget=True)
    return -1 if idx < 0 else idx + 1


def _first_record(w: ByteWindow) -> tuple[Optional[Fault], int]:
    if not w.fill(1):
        return Fault(0, "empty file (no WARC records)"), -1
    if w.startswith(WARC_PREFIX, 0):
        return None, 0
    head = w.get(0, 40)
    first = head.decode("utf-8", "replace").splitlines()[0] if head.strip() else ""
    return (Fault(0, f"not a WARC/WET file: expected a 'WARC/1.0' header, found {first!r}"),
            _next_record_start(w, 0))


def _record_boundary(w: ByteWindow) -> int:
    idx = w.find(RECORD_END + WARC_PREFIX, w.base, forget=True)
    return -1 if idx < 0 else idx + len(RECORD_END)


def _record_at(w: ByteWindow, pos: int, record_types: tuple[str, ...]
               ) -> tuple[Union[WetRecord, Fault, None], int]:
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
        text = w.get(body_start, body_end).decode("utf-8")
    except UnicodeDecodeError as exc:
        return Fault(pos, f"invalid UTF-8 in record body at byte {body_start + exc.start}: {exc.reason}"), next_start
    return WetRecord(pos, headers, text), next_start


def wet_records(w: ByteWindow, record_types: tuple[str, ...] = ("conversion",), start: int = 0,
                end: Optional[int] = None) -> Iterator[Union[WetRecord, Fault]]:
    item, pos = _first_record(w) if start == 0 else (None, _record_boundary(w))
    while True:
        if item is not None:
            yield item
        if pos < 0 or (end is not None and pos >= end) or not w.fill(pos + 1):
            return
        w.drop(pos)
        item, pos = _record_at(w, pos, record_types)


def _gzipped_records(w: ByteWindow, record_types: tuple[str, ...]) -> Iterator[Union[WetRecord, Fault]]:
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
               record_types: tuple[str, ...] = ("conversion",)) -> Iterator[Union[WetRecord, Fault]]:
    """Whole files (gzipped or plain) and ranges of plain files, as the reader did."""
    base = max(0, start - len(RECORD_END))
    gzipped = name.endswith(".gz")
    if base:
        gzipped = gzipped or f.read(len(GZIP_MAGIC)) == GZIP_MAGIC
        f.seek(base)
    w = ByteWindow(file_chunks(f), base)
    gzipped = gzipped or (not base and w.get(0, len(GZIP_MAGIC)) == GZIP_MAGIC)
    if not gzipped:
        yield from wet_records(w, record_types, start, end)
    else:
        assert not start and end is None, "the oracle reads gzipped files whole"
        yield from _gzipped_records(w, record_types)
