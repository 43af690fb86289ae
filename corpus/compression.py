"""Decompressed bytes of an open file by its suffix (.gz, .zst, else as is), streamed in chunks."""
from __future__ import annotations

import gzip
import zlib
from typing import BinaryIO, Iterator

from corpus.window import CHUNK, file_chunks


class CannotDecompress(Exception):
    """The compressed stream is corrupt or not what its suffix says; reading stops here."""


def decompressed_chunks(f: BinaryIO, path: str) -> Iterator[bytes]:
    """The decompressed bytes of an open file, CHUNK at a time; CannotDecompress where the stream breaks.

    Only decompression errors become CannotDecompress: an error reading the file itself (network,
    disk) propagates as it is, since it says nothing about the data.
    """
    name = path.lower()
    if name.endswith(".gz"):
        reader, errors = gzip.GzipFile(fileobj=f, mode="rb"), (gzip.BadGzipFile, EOFError, zlib.error)
    elif name.endswith(".zst"):
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True, closefd=False)
        errors = (zstandard.ZstdError,)
    else:
        yield from file_chunks(f)
        return
    try:
        yield from file_chunks(reader, CHUNK)
    except errors as exc:
        raise CannotDecompress(str(exc)) from exc
