"""Streaming readers (issue 10, item 5): the same Documents and Faults as the whole-bytes readers, byte
ranges that cover every record once, row groups for Parquet, and memory bounded by a record."""
from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard

from corpus import gzip_members
from corpus.document import Document, documents_to_table
from corpus.faults import Fault
from corpus.parquet_input import row_group_offset
from corpus.readers import enumerate_documents, read_documents, stream_documents
from corpus.ranges import split_ranges
from corpus.wet import decompress, read_wet, stream_wet
from tests import legacy_readers as legacy
from tests.conftest import SAMPLE_WET

GOOD = sorted(SAMPLE_WET.glob("*.warc.wet.gz"))
REPO = Path(__file__).resolve().parent.parent


class Trickle(io.BytesIO):
    """A file that returns at most `limit` bytes a read, to put chunk ends everywhere."""

    def __init__(self, data: bytes, limit: int):
        super().__init__(data)
        self.limit = limit

    def read(self, size: int = -1) -> bytes:
        return super().read(self.limit if size is None or size < 0 else min(size, self.limit))


def _opener(limit: int):
    return lambda path: Trickle(Path(path).read_bytes(), limit)


def _split(items) -> tuple[list[Document], list[Fault]]:
    items = list(items)
    return [i for i in items if not isinstance(i, Fault)], [i for i in items if isinstance(i, Fault)]


def _plain(*files: Path) -> bytes:
    return b"".join(decompress(f.read_bytes())[0] for f in files)


def _record_starts(raw: bytes) -> list[int]:
    return [0] + [m.start() + 4 for m in re.finditer(rb"\r\n\r\nWARC/1\.0\r\n", raw)]


def _set_length(record: bytes, delta: int) -> bytes:
    length = int(record.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    return record.replace(f"Content-Length: {length}".encode(), f"Content-Length: {length + delta}".encode())


def _wet_cases() -> dict[str, bytes]:
    """The sample files and every bad WET input of tests/test_wet.py and tests/test_bad_input.py."""
    cases = {f.name: f.read_bytes() for f in GOOD}
    first, second = GOOD[0].read_bytes(), GOOD[1].read_bytes()
    members = [m.start() for m in re.finditer(re.escape(b"\x1f\x8b\x08"), first)]
    corrupt = bytearray(first)
    corrupt[members[10] + 40: members[10] + 60] = b"\xff" * 20
    raw = _plain(GOOD[0])
    starts = _record_starts(raw)
    chunks = [raw[a:b] for a, b in zip(starts, starts[1:6])]
    head, body = chunks[2].split(b"\r\n\r\n", 1)
    lied = _plain(GOOD[2])
    length_at = lied.index(b"Content-Length: ", lied.index(b"WARC-Type: conversion"))
    cases.update({
        "truncated-tail.warc.wet.gz": first[:-300],
        "truncated-half.warc.wet.gz": second[:len(second) // 2],
        "corrupt-member.warc.wet.gz": bytes(corrupt),
        "junk-between-members.warc.wet.gz": first[:members[5]] + b"junk" + first[members[5]:],
        "null-padded.warc.wet.gz": first + b"\x00" * 100,
        "gzip-named-plain.warc.wet": first,
        "empty.warc.wet": b"",
        "notwet.warc.wet": b"<html><body>this is a web page, not WET</body></html>\n" * 20,
        "json.warc.wet": b'{"text": "this is json, not WET"}\n',
        "plain-words.warc.wet.gz": gzip.compress(b"plain words\n"),
        "garbage.warc.wet.gz": b"\x00\x01garbage" * 10,
        "badlength-99.warc.wet": lied[:length_at] + b"Content-Length: 99" + lied[lied.index(b"\r\n", length_at):],
        "too-long.warc.wet": b"".join(chunks[:2] + [_set_length(chunks[2], 500)] + chunks[3:]),
        "too-short.warc.wet": b"".join(chunks[:2] + [_set_length(chunks[2], -7)] + chunks[3:]),
        "bad-utf8.warc.wet": b"".join(chunks[:2] + [head + b"\r\n\r\n" + body[:10] + b"\xc3\x28" + body[12:]]
                                      + chunks[3:]),
        "no-type.warc.wet": b"".join(chunks[:2] + [chunks[2].replace(b"WARC-Type: conversion\r\n", b"")]
                                     + [chunks[3].replace(b"WARC-Type:", b"warc-type:")] + chunks[4:]),
        "truncated-record.warc.wet": b"".join(chunks[:4])[:-50],
        "garbage-before.warc.wet": b"junk line\n" + b"".join(chunks),
    })
    return cases


WET_CASES = _wet_cases()


def _fault_key(f: Fault) -> tuple[int, str]:
    return f.offset, f.error


@pytest.mark.parametrize("name", sorted(WET_CASES))
def test_wet_streams_the_same_documents_and_faults(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(WET_CASES[name])
    old = list(legacy.read_documents(WET_CASES[name], str(path)))
    assert list(read_wet(WET_CASES[name], name)) == list(legacy.read_wet(WET_CASES[name], name))
    old_docs, old_faults = _split(old)
    for opener in (None, _opener(1000), _opener(7), "bytes"):
        if opener == "bytes":  # the whole-bytes API is the stream over the bytes
            new = list(read_documents(WET_CASES[name], str(path)))
        else:
            new = list(stream_documents(str(path), opener) if opener else stream_documents(str(path)))
        docs, faults = _split(new)
        assert docs == old_docs
        if name.endswith(".gz") or WET_CASES[name][:2] == b"\x1f\x8b":
            # gzip faults come where they are found, not all first; same faults, same offsets
            assert sorted(faults, key=_fault_key) == sorted(old_faults, key=_fault_key)
        else:
            assert new == old


def test_wet_faults_keep_their_place_in_the_stream(tmp_path):
    path = tmp_path / "corrupt-member.warc.wet.gz"
    path.write_bytes(WET_CASES[path.name])
    items = list(stream_documents(str(path)))
    at = next(i for i, item in enumerate(items) if isinstance(item, Fault))
    assert "corrupt gzip member" in items[at].error and at == 9                # after the 9 records before it


def _jsonl_lines() -> list[bytes]:
    docs = [d for d in legacy.read_documents(GOOD[0].read_bytes(), GOOD[0].name) if isinstance(d, Document)]
    lines = []
    for i, d in enumerate(docs[:120]):
        rec = {"text": d.text, "lang": "en", "n": i}
        rec.update({"id": d.id} if i % 2 else {"url": d.url, "source": "web"})
        lines.append(json.dumps(rec, ensure_ascii=i % 3 == 0).encode("utf-8"))
    lines[5:5] = [b"", b"   ", b"{not json", b'{"id": "x"}', b'["text"]', b'{"text": "no id or url"}',
                  b'{"id": "bad-utf8", "text": "\xc3\x28"}', b'{"id": "crlf", "text": "windows line"}\r']
    return lines


JSONL = b"\n".join(_jsonl_lines()) + b'\n{"id": "last", "text": "no newline at the end"}'


def _compressed(name: str, data: bytes) -> bytes:
    if name.endswith(".gz"):
        return gzip.compress(data, mtime=0)
    if name.endswith(".zst"):
        return zstandard.ZstdCompressor().compress(data)
    return data


@pytest.mark.parametrize("name", ["a.jsonl", "a.json", "a.jsonl.gz", "a.json.gz", "a.jsonl.zst"])
def test_jsonl_streams_the_same_documents_and_faults(tmp_path, name):
    data = _compressed(name, JSONL)
    path = tmp_path / name
    path.write_bytes(data)
    old = list(legacy.read_documents(data, str(path)))
    assert len(_split(old)[1]) == 5 and len(_split(old)[0]) == 122
    assert list(read_documents(data, str(path))) == old
    for opener in (None, _opener(1000), _opener(7)):
        assert list(stream_documents(str(path), opener) if opener else stream_documents(str(path))) == old
    assert {d.source for d in _split(stream_documents(str(path), source="news"))[0]} == {"news", "web"}


@pytest.mark.parametrize("name,data", [("bad.jsonl.gz", b"not gzip at all\n"),
                                       ("bad.jsonl.zst", b"garbage" * 10),
                                       ("empty.jsonl", b""), ("empty.jsonl.gz", b"")])
def test_jsonl_bad_files_as_before(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    assert list(stream_documents(str(path))) == list(legacy.read_documents(data, str(path)))


def test_truncated_jsonl_gz_keeps_the_lines_before_the_break(tmp_path):
    data = gzip.compress(JSONL, mtime=0)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[:len(data) // 2])
    old = list(legacy.read_documents(data[:len(data) // 2], str(path)))
    assert len(old) == 1 and old[0].error.startswith("cannot decompress")    # the whole-bytes reader: nothing
    items = list(stream_documents(str(path)))
    whole = list(stream_documents(str(tmp_path / "cut.jsonl.gz"), lambda p: io.BytesIO(data)))
    assert items[:-1] == whole[:len(items) - 1] and len(items) > 20
    broken = items[-1]
    assert broken.error == old[0].error
    assert JSONL[:broken.offset].endswith(b"\n") and broken.offset > len(JSONL) // 4


def _shard(tmp_path: Path, rows: int) -> tuple[Path, list[Document]]:
    docs = [d for f in GOOD for d in legacy.read_documents(f.read_bytes(), f.name) if isinstance(d, Document)]
    path = tmp_path / "part-00000.parquet"
    pq.write_table(documents_to_table(docs), path, row_group_size=rows, compression="zstd")
    return path, docs


def test_parquet_streams_row_groups_like_the_whole_read(tmp_path):
    path, docs = _shard(tmp_path, 37)
    old = list(legacy.read_documents(path.read_bytes(), str(path)))
    assert old == docs and list(read_documents(path.read_bytes(), str(path))) == old
    assert list(stream_documents(str(path))) == old
    meta = pq.ParquetFile(path).metadata
    offsets = [row_group_offset(meta, i) for i in range(meta.num_row_groups)]
    assert meta.num_row_groups == -(-len(docs) // 37) and offsets == sorted(set(offsets))
    size = path.stat().st_size
    for parts in (2, 3, 7, 40):
        ranges = split_ranges(str(path), size, -(-size // parts))
        assert [d for r in ranges for d in stream_documents(str(path), byte_range=r)] == old
    one = list(stream_documents(str(path), byte_range=(offsets[3], offsets[3] + 1)))
    assert one == old[3 * 37: 4 * 37]


def test_parquet_bad_files(tmp_path):
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1" + b"x" * 100)
    (old,) = legacy.read_documents(garbage.read_bytes(), str(garbage))
    (new,) = stream_documents(str(garbage))
    assert new.offset == old.offset == 0 and new.error.startswith("not a readable Parquet file: ")
    assert old.error.endswith(new.error[len("not a readable Parquet file: "):])   # less pyarrow's '<Buffer>' prefix
    assert list(stream_documents(str(garbage), byte_range=(50, 104))) == []      # file-level faults: part at 0
    lacking = tmp_path / "lacking.parquet"
    pq.write_table(documents_to_table([Document(id="a", source="s", text="t")]).drop(["text"]), lacking)
    assert list(stream_documents(str(lacking))) == list(legacy.read_documents(lacking.read_bytes(), str(lacking)))


def _wet_file(tmp_path: Path) -> Path:
    path = tmp_path / "two.warc.wet"
    path.write_bytes(_plain(GOOD[0], GOOD[1]))
    return path


def _jsonl_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain.jsonl"
    path.write_bytes(JSONL)
    return path


@pytest.mark.parametrize("make", [_wet_file, _jsonl_file])
def test_byte_ranges_cover_every_document_once(tmp_path, make):
    path = make(tmp_path)
    size = path.stat().st_size
    whole = list(stream_documents(str(path)))
    for parts in (2, 3, 7):
        ranges = split_ranges(str(path), size, -(-size // parts))
        assert len(ranges) == parts and ranges[0][0] == 0 and ranges[-1][1] == size
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        got = [item for r in ranges for item in stream_documents(str(path), _opener(999), byte_range=r)]
        assert _split(got)[0] == _split(whole)[0]


def test_split_points_at_and_around_record_and_line_starts(tmp_path):
    for path, starts in ((_wet_file(tmp_path), _record_starts(_wet_file(tmp_path).read_bytes())),
                         (_jsonl_file(tmp_path), [m.end() for m in re.finditer(b"\n", JSONL)])):
        whole = _split(stream_documents(str(path)))[0]
        size = path.stat().st_size
        for start in starts[1:4] + starts[-2:]:
            for cut in range(start - 5, start + 6):
                got = [d for r in ((0, cut), (cut, size)) for d in stream_documents(str(path), byte_range=r)]
                assert _split(got)[0] == whole, (path.name, cut)


def test_range_faults_are_those_of_the_whole_file(tmp_path):
    path = tmp_path / "too-long.warc.wet"
    path.write_bytes(WET_CASES[path.name])
    whole = list(stream_documents(str(path)))
    size = path.stat().st_size
    for parts in (2, 3, 7):
        got = [i for r in split_ranges(str(path), size, -(-size // parts)) for i in stream_documents(str(path),
                                                                                                      byte_range=r)]
        assert got == whole
    lines = _jsonl_file(tmp_path)
    whole = _split(stream_documents(str(lines)))[1]
    cut = JSONL.index(b"{not json")
    later = _split(stream_documents(str(lines), byte_range=(cut, len(JSONL))))[1]
    assert [f.offset for f in later] == [f.offset for f in whole]
    assert later[0].error.startswith(f"line at byte {cut}: not JSON")        # a part cannot number its lines


@pytest.mark.parametrize("name", ["a.warc.wet.gz", "a.jsonl.gz", "a.jsonl.zst"])
def test_a_part_of_a_compressed_file_is_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(_compressed(name, b"x" * 1000) if "jsonl" in name else GOOD[0].read_bytes())
    size = path.stat().st_size
    assert split_ranges(str(path), size, 100) == [(0, size)]
    with pytest.raises(ValueError, match=re.escape(str(path))):
        list(stream_documents(str(path), byte_range=(0, size // 2)))
    with pytest.raises(ValueError, match="compressed"):
        list(stream_documents(str(path), byte_range=(size // 2, size)))
    assert list(stream_documents(str(path), byte_range=(0, size))) == list(stream_documents(str(path)))


def test_gzip_under_a_plain_name_is_refused_by_parts(tmp_path):
    path = tmp_path / "gzip-named-plain.warc.wet"
    path.write_bytes(GOOD[0].read_bytes())
    for r in ((0, 1000), (1000, 5000)):
        with pytest.raises(ValueError, match=re.escape(str(path))):
            list(stream_documents(str(path), byte_range=r))


def test_bad_ranges_and_small_files():
    assert split_ranges("a.jsonl", 10, 100) == [(0, 10)]
    assert split_ranges("a.jsonl", 0, 100) == [(0, 0)]
    assert split_ranges("a.jsonl", 10, 3) == [(0, 2), (2, 5), (5, 7), (7, 10)]
    with pytest.raises(ValueError):
        split_ranges("a.jsonl", 10, 0)
    with pytest.raises(ValueError, match="a.warc.wet"):
        list(stream_documents("a.warc.wet", lambda p: io.BytesIO(b"WARC/1.0\r\n"), byte_range=(5, 2)))


def test_enumerate_documents_numbers_documents_only(tmp_path):
    path = tmp_path / "too-long.warc.wet"
    path.write_bytes(WET_CASES[path.name])
    numbered = list(enumerate_documents(stream_documents(str(path))))
    assert [n for n, _ in numbered] == [0, None, 1, 2]
    assert all(isinstance(item, Fault) == (n is None) for n, item in numbered)


def test_a_gzip_member_larger_than_the_hold_is_passed_on(tmp_path, monkeypatch):
    raw = _plain(GOOD[0])
    path = tmp_path / "one-member.warc.wet.gz"
    path.write_bytes(gzip.compress(raw, mtime=0))
    whole = list(stream_documents(str(path)))
    monkeypatch.setattr(gzip_members, "MEMBER_HOLD", 10_000)
    assert list(stream_documents(str(path))) == whole and len(whole) == 276
    broken = bytearray(path.read_bytes())
    broken[len(broken) // 2: len(broken) // 2 + 50] = b"\xff" * 50
    path.write_bytes(bytes(broken))
    docs, faults = _split(stream_documents(str(path)))
    assert 50 < len(docs) < 276 and docs == whole[:len(docs)]            # what came out before the break is kept
    assert any("corrupt gzip member" in f.error for f in faults)


def test_streams_read_like_files():
    raw = _plain(GOOD[0])
    recs = list(stream_wet(io.BytesIO(raw), "x.warc.wet", record_types=("warcinfo", "conversion")))
    assert [r.headers["WARC-Type"] for r in recs[:2]] == ["warcinfo", "conversion"] and len(recs) == 277


MEMORY_PROBE = """
import os, sys
from corpus.readers import stream_documents

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

before = peak = rss()
docs = 0
for _ in stream_documents(sys.argv[1]):
    docs += 1
    peak = max(peak, rss())
print(docs, peak - before)
"""
"""Resident memory sampled after every document, from after the imports: the whole-bytes reader grows
by 100 MB (plain) to 230 MB (gzip) here, the streaming one by under 1 MB."""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads resident memory from /proc")
@pytest.mark.parametrize("name", ["big.warc.wet", "big.warc.wet.gz"])
def test_memory_stays_bounded_by_a_record(tmp_path, name):
    path = tmp_path / name
    unit = b"".join(f.read_bytes() for f in GOOD) if name.endswith(".gz") else _plain(*GOOD)
    copies = -(-100_000_000 // len(_plain(*GOOD)))                # about 100 MB of WET text either way
    with open(path, "wb") as f:
        for _ in range(copies):
            f.write(unit)
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(path)], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.split()
    docs, growth = int(out[0]), int(out[1])
    assert docs == 843 * copies
    assert growth < 10_000_000, f"resident memory grew by {growth / 1e6:.1f} MB"


def test_fault_types_are_shared():
    from corpus import faults, wet

    assert (wet.Fault, wet.MalformedInput, wet.report_fault) == (faults.Fault, faults.MalformedInput,
                                                                 faults.report_fault)
    assert list(read_wet(b"", "e.warc.wet")) == [faults.Fault(0, "empty file (no WARC records)")]
