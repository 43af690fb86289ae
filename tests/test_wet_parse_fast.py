"""The WET reading fast paths (issue 14, item 2) read exactly what the previous streaming reader read:
same records, same faults, in the same places, whatever the chunk sizes, the header spellings, the
gzip member boundaries, false gzip magics inside members, corrupt, truncated or padded files."""
from __future__ import annotations

import gzip
import io
import zlib

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from corpus import gzip_members, wet
from corpus.document import Document, content_digest, document_id
from corpus.faults import Fault
from corpus.readers import wet_document
from corpus.wet import WetRecord, header, stream_wet, warc_date
from corpus.window import ByteWindow
from tests import previous_wet_stream as previous
from tests.test_streaming_readers import Trickle

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHUNKS = (1, 3, 7, 64, 1000, 1 << 16)
MAGIC = gzip_members.GZIP_MAGIC


def _items(items) -> list[tuple]:
    """Records and faults as comparable tuples, header order included."""
    out = []
    for item in items:
        if isinstance(item, Fault):
            out.append(("fault", item.offset, item.error))
        else:
            assert isinstance(item, WetRecord)
            out.append(("record", item.offset, list(item.headers.items()), item.text))
    return out


def _both(data: bytes, name: str, limit: int = 1 << 16, **kw) -> tuple[list[tuple], list[tuple]]:
    return (_items(stream_wet(Trickle(data, limit), name, **kw)),
            _items(previous.stream_wet(io.BytesIO(data), name, **kw)))


# -- header blocks ---------------------------------------------------------------------------------

HEADER_PIECES = [b"WARC-Type", b"warc-type", b"Content-Length", b"WARC-Target-URI", b"X", b":", b": ", b"::",
                 b"\r\n", b"\r", b"\n", b" ", b"\t", b"\x0b", b"\x1c", b"conversion", b"12", b"\xc3\xa9",
                 b"\xc2\xa0", b"\xc2\x85", b"\xe3\x80\x80", b"\xe2\x80\xa8", b"\xc3", b"\xe2\x82", b"\x80",
                 b"\xff", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\xf0\x9f\x98\x80", b"WARC/1.0"]


@SETTINGS
@given(st.lists(st.sampled_from(HEADER_PIECES), max_size=40))
def test_header_blocks_parse_as_before(pieces):
    block = b"WARC/1.0\r\n" + b"".join(pieces)
    assert list(wet._parse_headers(block).items()) == list(previous._parse_headers(block).items())


@SETTINGS
@given(st.binary(max_size=200))
def test_any_header_bytes_parse_as_before(block):
    assert list(wet._parse_headers(block).items()) == list(previous._parse_headers(block).items())


# -- the byte window -------------------------------------------------------------------------------

@SETTINGS
@given(st.binary(max_size=300), st.integers(1, 40), st.data())
def test_window_reads_like_the_whole_bytes(data, chunk, draw):
    w = ByteWindow([data[i:i + chunk] for i in range(0, len(data), chunk)])
    pos = 0
    for _ in range(12):
        a = draw.draw(st.integers(pos, len(data) + 5))
        b = draw.draw(st.integers(a, len(data) + 20))
        pattern = draw.draw(st.sampled_from([b"\r\n", b"\x00", b"ab", data[a:a + 3] or b"z", data[b:b + 2] or b"y",
                                             data[b - 1:b + 1] or b"x"]))
        assert w.get(a, b) == data[a:b]
        assert w.startswith(pattern, a) == data.startswith(pattern, a)
        expected = data.find(pattern, a, b + len(pattern) - 1)
        assert w.find_before(pattern, a, b) == expected
        assert w.find(pattern, a) == data.find(pattern, a)
        assert w.rest_is(a, b"\x00") == (not data[a:].strip(b"\x00"))
        try:
            text = data[a:b].decode("utf-8")
        except UnicodeDecodeError as exc:
            with pytest.raises(UnicodeDecodeError) as got:
                w.text(a, b)
            assert (got.value.start, got.value.reason) == (exc.start, exc.reason)
        else:
            assert w.text(a, b) == text
        assert w.fill(b) == (b <= len(data))
        assert w.end >= b if b <= len(data) else w.end == len(data)
        pos = draw.draw(st.integers(pos, a))
        w.drop(pos)
        assert w.base == min(pos, w.end)
        pos = w.base


@pytest.mark.parametrize("chunk", [1, 2, 5, 100])
def test_find_before_finds_only_what_begins_before_stop(chunk):
    data = b"0123456789abcdef012345"
    for start, stop, want in [(0, 4, -1), (0, 5, 4), (5, 21, 20), (5, 20, -1), (4, 5, 4), (20, 21, 20), (21, 30, -1)]:
        w = ByteWindow([data[i:i + chunk] for i in range(0, len(data), chunk)])
        w.drop(start)
        assert w.find_before(b"45", start, stop) == want
        w.fill(len(data))
        assert w.find_before(b"45", start, stop) == want                       # the same with all of it read


# -- whole WET streams -----------------------------------------------------------------------------

TYPE_LINES = [b"WARC-Type: conversion", b"warc-type: conversion", b"WARC-TYPE:conversion  ", b"WARC-Type: warcinfo",
              b"WARC-Type: ", b"WARC-Type: conversion\r\nWARC-Type: metadata", b""]
BODIES = st.one_of(st.text(max_size=80).map(lambda t: t.encode("utf-8")),
                   st.sampled_from([b"caf\xc3\xa9\n", b"bad \xc3\x28 utf8", b"line\r\n\r\nWARC/1.0 inside",
                                    b"x\nWARC/", b"magic \x1f\x8b\x08 inside", b"\x00\x00", b"", b"  \r\n"]))


@st.composite
def records(draw) -> bytes:
    body = draw(BODIES) * draw(st.sampled_from([1, 1, 1, 2, 40]))
    length = len(body) + draw(st.sampled_from([0, 0, 0, 0, 1, -1, 4, -4, 100]))
    length_line = draw(st.sampled_from([f"Content-Length: {length}", f"Content-Length:{length} ", "content-length: 3",
                                        "Content-Length: x", "Content-Length: -2", ""])).encode()
    lines = [draw(st.sampled_from(TYPE_LINES)), b"WARC-Target-URI: http://example.com/" + str(length).encode(),
             b"WARC-Date: 2023-01-01T00:00:00Z", length_line]
    lines += draw(st.lists(st.sampled_from([b" continued", b"no colon here", b"X-Odd: a:b", b"\xc3\xa9t\xc3\xa9: v",
                                            b"WARC-Record-ID: <urn:uuid:1>"]), max_size=2))
    order = draw(st.permutations(range(len(lines))))
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n"]))
    head = b"WARC/1.0\r\n" + eol.join(lines[i] for i in order if lines[i])
    tail = draw(st.sampled_from([b"\r\n\r\n", b"\r\n\r\n", b"\r\n\r\n", b"\r\n", b"", b"\r\n\r\n\r\n", b"junk\n"]))
    return head + b"\r\n\r\n" + body + tail


@st.composite
def plain_streams(draw) -> bytes:
    data = draw(st.sampled_from([b"", b"", b"junk line\n", b"\n"])) + b"".join(draw(st.lists(records(), max_size=6)))
    cut = draw(st.sampled_from([None, None, None, -1, -7, -40]))
    return data if cut is None else data[:cut]


@SETTINGS
@given(plain_streams(), st.sampled_from(CHUNKS), st.sampled_from([("conversion",), ("conversion", "warcinfo")]))
def test_plain_streams_read_as_before(data, chunk, types):
    new, old = _both(data, "x.warc.wet", chunk, record_types=types)
    assert new == old


@SETTINGS
@given(plain_streams(), st.data())
def test_plain_ranges_read_as_before(data, draw):
    assume(len(data) > 2)
    start = draw.draw(st.integers(1, len(data) - 1))
    end = draw.draw(st.one_of(st.none(), st.integers(start, len(data))))
    new, old = _both(data, "x.warc.wet", draw.draw(st.sampled_from(CHUNKS)), start=start, end=end)
    assert new == old


@st.composite
def gzip_streams(draw) -> bytes:
    """One member per record (sometimes two records in one), stored or deflated, then damaged or not."""
    recs = draw(st.lists(records(), min_size=1, max_size=6))
    if draw(st.booleans()):
        recs = [b"WARC/1.0\r\nWARC-Type: warcinfo\r\nContent-Length: 4\r\n\r\ninfo\r\n\r\n"] + recs
    members = []
    i = 0
    while i < len(recs):
        n = draw(st.sampled_from([1, 1, 1, 2]))
        members.append(gzip.compress(b"".join(recs[i:i + n]), compresslevel=draw(st.sampled_from([0, 1, 6, 9])),
                                     mtime=0))
        i += n
    if draw(st.booleans()):
        members.insert(draw(st.integers(0, len(members))), gzip.compress(b"", mtime=0))
    data = bytearray(b"".join(members))
    damage = draw(st.sampled_from(["none", "none", "junk", "junk-between", "corrupt", "truncate", "pad",
                                   "magic-junk"]))
    at = draw(st.integers(0, max(0, len(data) - 1)))
    if damage == "junk":
        data[at:at] = b"junk"
    elif damage == "junk-between":
        at = sum(map(len, members[:draw(st.integers(1, len(members)))]))
        data[at:at] = draw(st.sampled_from([b"junk", b"\x00\x00", MAGIC[:2]]))
    elif damage == "corrupt" and len(data) > 30:
        data[at:at + 8] = b"\xff" * 8
    elif damage == "truncate":
        del data[at:]
    elif damage == "pad":
        data += b"\x00" * draw(st.integers(1, 50))
    elif damage == "magic-junk":
        data[at:at] = MAGIC + b"\x00junk"
    return bytes(data)


@SETTINGS
@given(gzip_streams(), st.sampled_from(CHUNKS))
def test_gzip_streams_read_as_before(data, chunk):
    new, old = _both(data, "x.warc.wet.gz", chunk)
    assert new == old


@SETTINGS
@given(gzip_streams(), st.sampled_from(CHUNKS), st.sampled_from([1, 3, 64, 600]), st.sampled_from([1, 100, 1 << 16]))
def test_gzip_reads_the_same_with_tiny_feeds_and_runs(data, chunk, feed, run):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gzip_members, "FEED", feed)
        mp.setattr(gzip_members, "RUN", run)
        new, old = _both(data, "x.warc.wet.gz", chunk)
    assert new == old


def test_a_false_gzip_magic_inside_a_member_is_read_through():
    recs = [b"WARC/1.0\r\nWARC-Type: conversion\r\nContent-Length: %d\r\n\r\n%s\r\n\r\n" % (len(b), b)
            for b in (b"first", b"body with \x1f\x8b\x08 in it", b"third")]
    data = b"".join(gzip.compress(r, compresslevel=0, mtime=0) for r in recs)
    assert data.count(MAGIC) == 4                                                  # 3 members + 1 false
    new, old = _both(data, "x.warc.wet.gz")
    assert new == old
    assert [i[0] for i in new] == ["record", "fault", "record"] and "invalid UTF-8" in new[1][2]


def test_members_larger_than_a_feed_and_the_hold(monkeypatch):
    body = ("word " * 20_000).encode()
    rec = b"WARC/1.0\r\nWARC-Type: conversion\r\nContent-Length: %d\r\n\r\n%s\r\n\r\n" % (len(body), body)
    data = bytearray(gzip.compress(rec, compresslevel=0, mtime=0) + gzip.compress(rec, mtime=0) * 2)
    assert len(data) > 3 * gzip_members.FEED
    monkeypatch.setattr(gzip_members, "MEMBER_HOLD", 1000)
    monkeypatch.setattr(previous, "MEMBER_HOLD", 1000)
    for damaged in (bytes(data), bytes(data[:60_000] + b"\xff" * 9 + data[60_009:])):
        for chunk in (1000, 1 << 16):
            new, old = _both(damaged, "x.warc.wet.gz", chunk)
            assert new == old


def test_sample_files_read_as_before():
    from tests.conftest import SAMPLE_WET
    for path in sorted(SAMPLE_WET.glob("*.warc.wet.gz")):
        data = path.read_bytes()
        new, old = _both(data, path.name)
        assert new == old and len(new) > 100
        raw = zlib.decompress(data, 16 + zlib.MAX_WBITS) if data.count(MAGIC) == 1 else gzip.decompress(data)
        for chunk in (7, 1 << 16):
            new, old = _both(raw, "x.warc.wet", chunk)
            assert new == old


def _previous_wet_document(rec: WetRecord, source: str = "cc") -> Document:
    """corpus.readers.wet_document before the fast path (commit 37d0771)."""
    url = header(rec.headers, "WARC-Target-URI") or None
    digest = header(rec.headers, "WARC-Block-Digest") or None
    record_id = header(rec.headers, "WARC-Record-ID")
    fallback = None if url or digest else f"record-id:{record_id}" if record_id else content_digest(rec.text)
    meta = {"warc_record_id": record_id, "digest": digest}
    return Document(id=document_id(source, url, digest, fallback), source=source, text=rec.text, url=url,
                    date=warc_date(rec.headers), meta=meta)


FIELD_NAMES = ["WARC-Target-URI", "warc-target-uri", "WARC-Block-Digest", "WARC-BLOCK-DIGEST", "WARC-Record-ID",
               "warc-record-id", "WARC-Date", "Warc-Date", "WARC-Type"]


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(FIELD_NAMES), st.sampled_from(["", "v1", "sha1:X", "2023-01-01"])),
                max_size=8), st.text(max_size=20))
def test_documents_take_the_same_fields_as_before(fields, text):
    rec = WetRecord(0, dict(fields), text)
    assert wet_document(rec, "cc") == _previous_wet_document(rec, "cc")
