"""WET reading on the real sample, and every kind of bad input the issue names."""
import gzip
import json
from pathlib import Path

from corpus.wet import Fault, WetRecord, decompress, iter_records, read_wet

SAMPLE = Path(__file__).parent / "data" / "sample"
FILES = sorted((SAMPLE / "wet").glob("*.warc.wet.gz"))


def _truth_ids(name: str) -> list[str]:
    with open(SAMPLE / "truth.jsonl", encoding="utf-8") as f:
        return [d["id"] for d in map(json.loads, f) if d["wet_file"] == name]


def _records(data: bytes, name: str = "x.warc.wet"):
    items = list(read_wet(data, name))
    return [i for i in items if isinstance(i, WetRecord)], [i for i in items if isinstance(i, Fault)]


def _plain_records(n: int = 4) -> tuple[bytes, list[bytes]]:
    """The first n records of the first sample file, uncompressed, split at record starts."""
    raw, _ = decompress(FILES[0].read_bytes())
    starts = [0]
    while len(starts) <= n + 1:
        starts.append(raw.index(b"\r\n\r\nWARC/1.0\r\n", starts[-1] + 1) + 4)
    chunks = [raw[a:b] for a, b in zip(starts, starts[1:])]
    return b"".join(chunks), chunks


def test_sample_files_parse_completely():
    total = 0
    for path in FILES:
        recs, faults = _records(path.read_bytes(), path.name)
        assert faults == []
        assert [r.headers["WARC-Record-ID"] for r in recs] == _truth_ids(path.name)
        assert all(r.headers["WARC-Type"] == "conversion" for r in recs)
        total += len(recs)
    assert total == 843


def test_truncated_gzip_keeps_everything_before():
    data = FILES[0].read_bytes()
    full, _ = _records(data, FILES[0].name)
    recs, faults = _records(data[: len(data) - 300], FILES[0].name)
    assert len(faults) == 1 and "truncated gzip" in faults[0].error
    assert [r.headers["WARC-Record-ID"] for r in recs] == [r.headers["WARC-Record-ID"] for r in full[:-1]]


def test_corrupt_gzip_member_skips_only_that_member():
    data = bytearray(FILES[0].read_bytes())
    members = [i for i in range(len(data)) if data[i:i + 3] == b"\x1f\x8b\x08"]
    target = members[10]
    data[target + 40: target + 60] = b"\xff" * 20            # garble the deflate stream of one member
    recs, faults = _records(bytes(data), FILES[0].name)
    full, _ = _records(FILES[0].read_bytes(), FILES[0].name)
    assert len(faults) >= 1 and faults[0].offset == target
    assert len(recs) == len(full) - 1                        # member 10 held exactly one record


def test_content_length_too_long_and_too_short():
    raw, chunks = _plain_records(4)
    for delta in (+500, -7):
        bad = chunks[2]
        length = int(bad.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        bad = bad.replace(f"Content-Length: {length}".encode(), f"Content-Length: {length + delta}".encode())
        recs, faults = _records(b"".join(chunks[:2] + [bad] + chunks[3:]))
        assert len(faults) == 1 and "Content-Length" in faults[0].error, faults
        assert faults[0].offset == len(b"".join(chunks[:2]))
        ids = [r.headers["WARC-Record-ID"] for r in recs]
        expected = [r.headers["WARC-Record-ID"] for r in _records(raw)[0]]
        assert ids == expected[:1] + expected[2:]              # only the lying record is lost


def test_invalid_utf8_is_a_fault_and_neighbours_survive():
    _, chunks = _plain_records(4)
    bad = chunks[2]
    head, body = bad.split(b"\r\n\r\n", 1)
    body = body[:10] + b"\xc3\x28" + body[12:]                # invalid 2-byte sequence, same length
    recs, faults = _records(b"".join(chunks[:2] + [head + b"\r\n\r\n" + body] + chunks[3:]))
    assert len(faults) == 1 and "invalid UTF-8" in faults[0].error
    assert len(recs) == 3


def test_empty_and_non_wet_files():
    assert _records(b"", "empty.warc.wet")[1][0].error.startswith("empty file")
    recs, faults = _records(b'{"text": "this is json, not WET"}\n', "data.warc.wet")
    assert recs == [] and "not a WARC/WET file" in faults[0].error
    recs, faults = _records(gzip.compress(b"plain words\n"), "x.warc.wet.gz")
    assert recs == [] and "not a WARC/WET file" in faults[0].error
    recs, faults = _records(b"\x00\x01garbage" * 10, "x.warc.wet.gz")
    assert recs == [] and "not gzip data" in faults[0].error


def test_truncated_plain_record():
    raw, _ = _plain_records(3)
    recs, faults = _records(raw[:-50])
    assert len(recs) == 2 and len(faults) == 1 and "truncated" in faults[0].error  # warcinfo + 3 records


def test_iter_records_filters_types():
    raw, _ = decompress(FILES[0].read_bytes())
    types = {r.headers["WARC-Type"] for r in iter_records(raw, ("warcinfo", "conversion")) if isinstance(r, WetRecord)}
    assert types == {"warcinfo", "conversion"}
