"""arXiv bulk source tars (`arXiv_src_YYMM_NNN.tar`), streamed: one Document per paper member.

A tar holds `YYMM/<id>.gz` members (a gzipped tar of a LaTeX project, or one gzipped file, usually
TeX) and `YYMM/<id>.pdf` members (PDF-only submissions). Both tar layers are read as streams
(tarfile mode "r|"), nothing is extracted to disk, and only one paper's .tex files are held at a
time; figures and other files inside a project are read and discarded in chunks. A paper's text is
its .tex files concatenated in tar order, their names and lengths in meta["tex_files"]
(`split_tex_files` takes them apart again), so what was read is counted as read. Papers that cannot
be cleaned go on marked in meta["status"] (pdf_only, not_utf8, no_tex, too_large) for the steps to
drop under that reason; a member whose gzip or inner tar is corrupt is a Fault at the member's
header offset in the tar.

A hostile or corrupt member cannot exhaust memory: a paper whose .tex files hold more than
`max_paper_bytes`, or whose member inflates to more than INFLATE_FACTOR times that in all (figures
included, though they are never held), is marked too_large as soon as the bound is passed.
"""
from __future__ import annotations

import datetime
import gzip
import io
import posixpath
import re
import tarfile
import zlib
from typing import BinaryIO, Callable, Iterator, Optional, Union

from corpus.document import Document, content_digest, document_id
from corpus.faults import Fault
from corpus.paths import file_name

SOURCE = "arxiv"
OpenFile = Callable[[str], BinaryIO]
OK, PDF_ONLY, NOT_UTF8, NO_TEX, TOO_LARGE = "ok", "pdf_only", "not_utf8", "no_tex", "too_large"
DEFAULT_MAX_PAPER_BYTES = 64 << 20
"""The .tex bytes one paper may hold (real papers are far below: a few hundred KB at most)."""
INFLATE_FACTOR = 16
"""A member may inflate to this many times max_paper_bytes in all, figures and other files included."""
DISCARD_CHUNK = 1 << 20
NEW_ID = re.compile(r"^\d{4}\.\d{4,5}(v\d+)?$")
OLD_ID = re.compile(r"^(?P<archive>[a-z][a-z-]*(?:\.[A-Z]{2})?)(?P<number>\d{7}(v\d+)?)$")
# Single gzipped files that are not TeX: PDF, PostScript, HTML (arXiv serves these as they came).
NOT_TEX_MAGIC = (b"%PDF", b"%!PS", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"<!DOCTYPE", b"<html", b"<HTML",
                 b"PK\x03\x04")
READ_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error)
# What `read_tar` opens (tarfile "r|*"): a tar, or a tar re-compressed with gzip, bzip2 or xz.
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def tar_stem(path: str) -> Optional[str]:
    """A source tar's file name without its suffix (`arXiv_src_2301_001`), None for a name that is not
    a tar's (TAR_SUFFIXES)."""
    name = file_name(path)
    for suffix in TAR_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)]
    return None


def format_arxiv_id(stem: str) -> str:
    """The public id of a member's file stem: old-style `astro-ph0001001` -> `astro-ph/0001001`;
    new-style `2301.00001` and anything unrecognised unchanged."""
    m = OLD_ID.match(stem)
    return f"{m.group('archive')}/{m.group('number')}" if m and not NEW_ID.match(stem) else stem


def split_tex_files(text: str, tex_files: list) -> list[tuple[str, str]]:
    """(name, text) of each .tex file of a paper read by this module, from its text and meta["tex_files"]."""
    out, at = [], 0
    for name, length in tex_files:
        out.append((name, text[at:at + length]))
        at += length
    return out


def read_unit(open_file: OpenFile, unit, max_paper_bytes: int = DEFAULT_MAX_PAPER_BYTES
              ) -> Iterator[Union[Document, Fault]]:
    """The papers of a planned unit (anything with `path`, e.g. pipelines.source.Unit: a whole tar)."""
    with open_file(unit.path) as f:
        yield from read_tar(f, file_name(unit.path), max_paper_bytes)


def read_tar(f: BinaryIO, tar_name: str, max_paper_bytes: int = DEFAULT_MAX_PAPER_BYTES
             ) -> Iterator[Union[Document, Fault]]:
    """Documents (and Faults) of the paper members of an arXiv source tar read from `f`, in tar order;
    `tar_name` goes to meta. Fault offsets are member header offsets in the (uncompressed) tar; a
    paper over `max_paper_bytes` is marked too_large (module docstring)."""
    try:
        tar = tarfile.open(fileobj=f, mode="r|*")  # a bundle re-compressed as .tar.gz/.tar.bz2 reads too
    except READ_ERRORS as exc:
        yield Fault(0, f"not a readable tar: {exc}")
        return
    at, last = 0, None
    while True:
        try:
            member = tar.next()
        except READ_ERRORS as exc:
            if not isinstance(last, Fault):  # else the tar ends inside the member already reported
                yield Fault(at, f"unreadable tar header after the member at byte {at}: {exc}")
            return
        if member is None:
            return
        tar.members = []  # stream mode appends every header to this list; keep memory flat
        at = member.offset
        if member.isfile():
            last = read_member(tar, member, tar_name, max_paper_bytes)
            yield last


def read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, tar_name: str,
                max_paper_bytes: int = DEFAULT_MAX_PAPER_BYTES) -> Union[Document, Fault]:
    """One paper member of the tar being streamed: a Document (status in meta) or a Fault naming it."""
    name = member.name
    folder, base = posixpath.split(name)
    stem, _, suffix = base.rpartition(".")
    arxiv_id = format_arxiv_id(stem or base)
    url = f"https://arxiv.org/abs/{arxiv_id}"
    meta = {"arxiv_id": arxiv_id, "yymm": posixpath.basename(folder), "tar": tar_name, "member": name}
    if suffix.lower() != "gz":
        status = PDF_ONLY if suffix.lower() == "pdf" else NO_TEX
        return _paper(url, member, meta, status, [])
    try:
        status, files = _tex_files(tar.extractfile(member), stem, max_paper_bytes)
    except READ_ERRORS as exc:
        return Fault(member.offset, f"member {name}: corrupt gzip or tar: {exc}")
    except TooLarge as exc:
        return _paper(url, member, {**meta, "too_large": str(exc)}, TOO_LARGE, [])
    return _paper(url, member, meta, status, files)


def _paper(url: str, member: tarfile.TarInfo, meta: dict, status: str, files: list[tuple[str, str]]) -> Document:
    text = "".join(t for _, t in files)
    meta = {**meta, "status": status, "n_tex_files": len(files), "tex_files": [[n, len(t)] for n, t in files]}
    return Document(id=document_id(SOURCE, url, content_digest(text) if files else None), source=SOURCE, text=text,
                    url=url, date=member_date(member.mtime), lang="en", bucket="all", meta=meta)


def _tex_files(raw: BinaryIO, stem: str, max_bytes: int) -> tuple[str, list[tuple[str, str]]]:
    """(status, [(name, text)]) of a `.gz` member: the .tex files of a gzipped tar in tar order, or
    the one gzipped file as `<stem>.tex`; raises one of READ_ERRORS on corrupt data, TooLarge past
    `max_bytes` of .tex or INFLATE_FACTOR times that inflated in all."""
    gz = _Capped(gzip.GzipFile(fileobj=raw, mode="rb"), max_bytes * INFLATE_FACTOR)
    head = gz.read(tarfile.BLOCKSIZE)
    if _is_tar_header(head):
        files, held = [], 0
        inner = tarfile.open(fileobj=_Prefixed(head, gz), mode="r|")
        for m in inner:
            inner.members = []
            path = posixpath.normpath(m.name).lstrip("/")
            if m.isfile() and path.lower().endswith(".tex"):
                held += m.size
                if held > max_bytes:
                    raise TooLarge(f"its .tex files hold more than {max_bytes} bytes (at {path})")
                files.append((path, inner.extractfile(m).read()))
    elif head.startswith(NOT_TEX_MAGIC) or not head.strip():
        while gz.read(DISCARD_CHUNK):  # read to the end, so a corrupt tail is still a fault
            pass
        return NO_TEX, []
    else:
        data = head + gz.read(max(0, max_bytes + 1 - len(head)))
        if len(data) > max_bytes:
            raise TooLarge(f"its .tex file holds more than {max_bytes} bytes")
        files = [(f"{stem}.tex", data)]
    if not files:
        return NO_TEX, []
    try:
        return OK, [(n, _text(b)) for n, b in files]
    except UnicodeDecodeError:
        return NOT_UTF8, []


def _is_tar_header(block: bytes) -> bool:
    """True when `block` is a valid tar header (checksum included), so a gzipped file is a tar."""
    if len(block) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _text(data: bytes) -> str:
    """Strict UTF-8 (a leading BOM dropped), lines separated by \\n."""
    text = data.decode("utf-8")
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


class TooLarge(Exception):
    """A paper's .tex files, or all its member inflates to, are past the bounds (module docstring)."""


class _Capped:
    """A readable stream that raises TooLarge once more than `limit` bytes have been read from it."""

    def __init__(self, stream: BinaryIO, limit: int):
        self.stream, self.limit, self.done = stream, limit, 0

    def read(self, size: int = -1) -> bytes:
        room = self.limit + 1 - self.done  # never more than one byte past the limit is inflated
        data = self.stream.read(room if size is None or size < 0 else min(size, room))
        self.done += len(data)
        if self.done > self.limit:
            raise TooLarge(f"it inflates to more than {self.limit} bytes")
        return data


class _Prefixed(io.RawIOBase):
    """A readable stream of `head` then the rest of `rest`: the block read to sniff a tar, put back."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        if self.head:
            n = min(len(buf), len(self.head))
            buf[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buf))
        buf[:len(data)] = data
        return len(data)


def member_date(mtime: float) -> str:
    """ISO 8601 UTC of a tar member's mtime."""
    return datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
