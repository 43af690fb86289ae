"""A sliding window over a byte stream, addressed by absolute offsets, so parsers can look ahead
and search like on a whole file while holding only the bytes from the record they are at."""
from __future__ import annotations

from typing import BinaryIO, Iterable, Iterator, Optional

CHUNK = 1 << 16


def file_chunks(f: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    """The bytes of an open file from where it stands, `size` at a time."""
    while True:
        chunk = f.read(size)
        if not chunk:
            return
        yield chunk


class ByteWindow:
    """Bytes of a stream from absolute offset `base` on: read on demand, forgotten by `drop`.

    `base` and `end` (just past the bytes read so far) are plain attributes, kept up to date by
    reading and dropping, because parsers consult them once or more per record.
    """

    def __init__(self, chunks: Iterable[bytes], base: int = 0):
        self._chunks = iter(chunks)
        self._buf = bytearray()
        self.base = base
        self.end = base

    def _more(self) -> bool:
        """Append the next non-empty chunk; False at the end of the stream."""
        for chunk in self._chunks:
            if chunk:
                self._buf += chunk
                self.end += len(chunk)
                return True
        return False

    def fill(self, upto: int) -> bool:
        """Read until the window reaches `upto`; False if the stream ends before."""
        while self.end < upto:
            if not self._more():
                return False
        return True

    def get(self, start: int, stop: int) -> bytes:
        """Bytes [start, stop), cut short at the end of the stream like a slice."""
        if stop > self.end:
            self.fill(stop)
        base = self.base
        return bytes(self._buf[start - base:stop - base])

    def text(self, start: int, stop: int) -> str:
        """Bytes [start, stop) decoded as strict UTF-8 (UnicodeDecodeError positions are relative to `start`)."""
        if stop > self.end:
            self.fill(stop)
        base = self.base
        return self._buf[start - base:stop - base].decode("utf-8")

    def startswith(self, prefix: bytes, at: int) -> bool:
        """True when the bytes at `at` begin with `prefix`."""
        return self.get(at, at + len(prefix)) == prefix

    def find(self, pattern: bytes, start: int, forget: bool = False) -> int:
        """Offset of the first `pattern` at or after `start`, or -1; `forget` drops what it passes."""
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

    def find_before(self, pattern: bytes, start: int, stop: int) -> int:
        """Offset of the first `pattern` that begins in [start, stop), or -1; reads only what that needs."""
        self.fill(stop + len(pattern) - 1)
        base = self.base
        idx = self._buf.find(pattern, start - base, stop - base + len(pattern) - 1)
        return -1 if idx < 0 else idx + base

    def rest_is(self, start: int, chars: Optional[bytes]) -> bool:
        """True when every byte from `start` to the end of the stream is in `chars` (None: whitespace)."""
        scan = start
        while True:
            if self._buf[scan - self.base:].strip(chars):
                return False
            scan = self.end
            if not self._more():
                return True

    def drop(self, before: int) -> None:
        """Forget the bytes before `before` (never past what was read)."""
        cut = min(before, self.end) - self.base
        if cut > 0:
            del self._buf[:cut]
            self.base += cut
