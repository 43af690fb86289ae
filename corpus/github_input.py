"""GitHub file rows, streamed: RedPajama's BigQuery export (gzip JSON lines) and The Stack v1 Parquet.

Two things describe an input file: its container, from the name (`.json.gz`/`.jsonl.gz`/`.json`/
`.jsonl`: JSON lines, decompressed as a stream; `.parquet`: read a row group at a time), and its row
schema, from the first record (JSON) or the Parquet schema: BigQuery rows (`repo_name`, `path`,
`content`, `license`, ...; RedPajama's query joined contents, files and licenses) or The Stack v1 rows
(`content`, `max_stars_repo_name`, `max_stars_repo_path`, `max_stars_repo_licenses`, ...). Each row
becomes one Document holding the file's raw content, with its repository, path, ref, licence and the
md5 of the raw content (the dedup key) in meta; rows the recipe must drop by their flags (binary,
symlinks) are read as documents too, so they are counted. A line that is not JSON, a row without a
required key and a gzip stream that breaks (a corrupt block, a truncated tail) are Faults with their
byte offset (decompressed offset for JSON lines, compressed offset for a broken stream); the rows
before them, and for a bad line the rows after it, are read.
"""
from __future__ import annotations

import hashlib
import json
import zlib
from typing import BinaryIO, Callable, Iterable, Iterator, Optional, Sequence, Union

from corpus.document import Document, document_id
from corpus.faults import Fault
from corpus.jsonl import split_lines
from corpus.parquet_input import parquet_file, row_group_offset, row_groups

SOURCE = "github"
LANG = "code"
BIGQUERY, THE_STACK = "bigquery", "the-stack"
FORMATS = (BIGQUERY, THE_STACK)
JSON_SUFFIXES = (".json.gz", ".jsonl.gz", ".json", ".jsonl")
PARQUET_SUFFIXES = (".parquet",)
REQUIRED = {BIGQUERY: ("repo_name", "path", "content", "license"),
            THE_STACK: ("max_stars_repo_name", "max_stars_repo_path", "content", "max_stars_repo_licenses")}
OPTIONAL = {BIGQUERY: ("ref", "binary", "symlink_target", "id", "mode"),
            THE_STACK: ("max_stars_repo_head_hexsha", "hexsha", "ext", "lang")}
FEED = 1 << 16
SNIFF_LINES = 100
OpenFile = Callable[[str], BinaryIO]
Item = Union[Document, Fault]


class UnknownInput(ValueError):
    """An input file whose name or rows are neither a BigQuery export nor The Stack; names the file."""


class BrokenStream(Exception):
    """The compressed stream cannot be read on from here; `fault` says where and why."""

    def __init__(self, fault: Fault):
        super().__init__(fault.error)
        self.fault = fault


def container(path: str) -> str:
    """'json' or 'parquet' from the file name; UnknownInput for any other name."""
    name = path.lower()
    if name.endswith(JSON_SUFFIXES):
        return "json"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise UnknownInput(f"{path}: not a GitHub export by its name (expected {', '.join(JSON_SUFFIXES)} "
                       f"or {', '.join(PARQUET_SUFFIXES)})")


def schema_of(keys: Iterable[str]) -> Optional[str]:
    """The row schema whose required keys `keys` all hold (The Stack first: its rows carry no
    `repo_name`), else None."""
    have = set(keys)
    for fmt in (THE_STACK, BIGQUERY):
        if set(REQUIRED[fmt]) <= have:
            return fmt
    return None


def gunzip_chunks(f: BinaryIO) -> Iterator[bytes]:
    """Decompressed bytes of a (multi-member) gzip stream as they come, FEED compressed bytes at a
    time; BrokenStream at a corrupt block or a truncated end, after every byte decompressed before it."""
    dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
    consumed = 0  # compressed bytes fed to finished members and to `dec`
    member_start, fed = 0, False
    while True:
        chunk = f.read(FEED)
        if not chunk:
            break
        while chunk:
            if dec.eof:
                if not chunk.strip(b"\x00"):  # zero padding after the last member
                    return
                dec, member_start, fed = zlib.decompressobj(16 + zlib.MAX_WBITS), consumed, False
            try:
                out = dec.decompress(chunk)
            except zlib.error as exc:
                raise BrokenStream(Fault(member_start, f"corrupt gzip data in the member at compressed byte "
                                                       f"{member_start}: {exc}")) from None
            fed = True
            rest = dec.unused_data if dec.eof else b""
            consumed += len(chunk) - len(rest)
            chunk = rest
            if out:
                yield out
    if fed and not dec.eof:
        raise BrokenStream(Fault(member_start, f"truncated gzip member at compressed byte {member_start} "
                                               f"(the file ends before the member does)"))


def raw_chunks(f: BinaryIO, path: str) -> Iterator[bytes]:
    """The decompressed bytes of an open JSON-lines file: gunzipped by a .gz suffix, else as they are."""
    if path.lower().endswith(".gz"):
        yield from gunzip_chunks(f)
        return
    while True:
        chunk = f.read(FEED)
        if not chunk:
            return
        yield chunk


def github_url(repo: str, ref: Optional[str], path: str) -> str:
    """The file's address on GitHub: refs/heads/ dropped from the ref, HEAD where there is none."""
    branch = (ref or "").removeprefix("refs/heads/") or "HEAD"
    return f"https://github.com/{repo}/blob/{branch}/{path}"


def row_document(rec: dict, fmt: str) -> Union[Document, str]:
    """The Document of one row of schema `fmt` (text = the raw content), or why the row is not one."""
    if not isinstance(rec, dict):
        return f"not a JSON object ({type(rec).__name__})"
    for key in REQUIRED[fmt]:
        if key not in rec:
            return f"row lacks required key {key!r}"
    if fmt == BIGQUERY:
        repo, path, ref, licence = rec["repo_name"], rec["path"], rec.get("ref"), rec["license"]
        binary, symlink = bool(rec.get("binary")), rec.get("symlink_target") or None
        extra = {"blob_id": rec.get("id"), "mode": rec.get("mode")}
    else:
        repo, path, ref = rec["max_stars_repo_name"], rec["max_stars_repo_path"], rec.get("max_stars_repo_head_hexsha")
        licences = rec["max_stars_repo_licenses"]
        if not isinstance(licences, (list, tuple)) or not all(isinstance(x, str) for x in licences):
            return "key 'max_stars_repo_licenses' is not a list of strings"
        licence, binary, symlink = ",".join(licences), False, None
        extra = {"blob_id": rec.get("hexsha"), "ext": rec.get("ext"), "stack_lang": rec.get("lang")}
    content = rec["content"]
    if content is None and binary:
        content = ""
    for key, value in (("repo_name", repo), ("path", path), ("content", content), ("license", licence)):
        if not isinstance(value, str):
            return f"key {key!r} is not a string ({type(value).__name__})"
    if ref is not None and not isinstance(ref, str):
        return f"key 'ref' is not a string ({type(ref).__name__})"
    url = github_url(repo, ref, path)
    try:
        digest = hashlib.md5(content.encode("utf-8")).hexdigest()
        url.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"content, repo_name, ref or path is not valid Unicode ({exc.reason})"
    meta = {"repo_name": repo, "path": path, "ref": ref, "license": licence, "content_hash": digest,
            "binary": binary, "symlink_target": symlink, "format": fmt, **extra}
    return Document(id=document_id(SOURCE, url, digest), source=SOURCE, text=content, url=url, lang=LANG,
                    bucket="all", meta=meta)


def json_rows(f: BinaryIO, path: str, fmt: str) -> Iterator[Item]:
    """Documents and Faults of an open JSON-lines file of schema `fmt`, line by line; a broken stream
    ends the file with its Fault."""
    try:
        for lineno, (offset, line) in enumerate(split_lines(raw_chunks(f, path)), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield Fault(offset, f"line {lineno}: not JSON ({exc})")
                continue
            doc = row_document(rec, fmt)
            yield Fault(offset, f"line {lineno}: {doc}") if isinstance(doc, str) else doc
    except BrokenStream as exc:
        yield exc.fault


def parquet_rows(f: BinaryIO, fmt: str) -> Iterator[Item]:
    """Documents and Faults of an open Parquet file of schema `fmt`, a row group at a time."""
    pf = parquet_file(f)
    if isinstance(pf, Fault):
        yield Fault(0, f"not a readable Parquet file: {pf.error}")
        return
    missing = [k for k in REQUIRED[fmt] if k not in pf.schema_arrow.names]
    if missing:
        yield Fault(0, f"Parquet file lacks column(s) {', '.join(missing)}")
        return
    for group, table in enumerate(row_groups(pf, list(REQUIRED[fmt] + OPTIONAL[fmt]))):
        if isinstance(table, Fault):
            yield table
            continue
        offset = row_group_offset(pf.metadata, group)
        for i, rec in enumerate(table.to_pylist()):
            doc = row_document(rec, fmt)
            yield Fault(offset, f"row group {group}, row {i}: {doc}") if isinstance(doc, str) else doc


def read_file(open_file: OpenFile, path: str, fmt: str) -> Iterator[Item]:
    """Every row of one input file of schema `fmt`, in file order."""
    with open_file(path) as f:
        if container(path) == "parquet":
            yield from parquet_rows(f, fmt)
        else:
            yield from json_rows(f, path, fmt)


def read_unit(open_file: OpenFile, formats: Sequence[str], unit) -> Iterator[Item]:
    """The rows of a planned unit (anything with `file_idx` and `path`: a whole input file), whose
    schema is formats[file_idx]."""
    yield from read_file(open_file, unit.path, formats[unit.file_idx])


def _first_keys(f: BinaryIO, path: str) -> Optional[list[str]]:
    """The keys of the first JSON object among a JSON-lines file's first lines; None when there is none
    (an empty file, a stream broken before its first row)."""
    try:
        for n, (_, line) in enumerate(split_lines(raw_chunks(f, path))):
            if n >= SNIFF_LINES:
                break
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(rec, dict):
                return sorted(rec)
    except BrokenStream:
        pass
    return None


def detect_format(open_file: OpenFile, path: str, wanted: str = "auto") -> str:
    """The row schema of an input file (BIGQUERY or THE_STACK) from its first record or Parquet schema;
    `wanted` (not "auto") must agree. A file with no record to tell by is `wanted` (BigQuery under
    "auto"); one whose keys match neither is UnknownInput naming the file and its keys."""
    kind = container(path)
    with open_file(path) as f:
        if kind == "parquet":
            pf = parquet_file(f)
            keys = None if isinstance(pf, Fault) else list(pf.schema_arrow.names)
        else:
            keys = _first_keys(f, path)
    if keys is None:
        return BIGQUERY if wanted == "auto" else wanted
    found = schema_of(keys)
    if found is None:
        raise UnknownInput(f"{path}: neither BigQuery rows (needs {', '.join(REQUIRED[BIGQUERY])}) nor The Stack "
                           f"rows (needs {', '.join(REQUIRED[THE_STACK])}); its first record has "
                           f"{', '.join(keys[:20]) or 'no keys'}")
    if wanted != "auto" and found != wanted:
        raise UnknownInput(f"{path}: --format {wanted} was given, but its rows are {found} rows")
    return found
