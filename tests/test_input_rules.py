"""Input rules that keep a user's data from being lost silently (issue 9): every WET record read or
counted, unique document ids, a length limit per document, strict mixture files, unique ids in dedup."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus.document import document_id
from corpus.mixture import MixtureError, check_source_name, load_mixture, parse_mixture
from corpus.readers import read_documents
from corpus.counters import check_accounting
from corpus.wet import Fault, WetRecord, decompress, read_wet
from pipelines import cli
from pipelines.steps.ccnet import DEFAULT_MAX_CHARS
from tests.conftest import SAMPLE_WET, read_stats, run_ccnet, run_dedup

GOOD = sorted(SAMPLE_WET.glob("*.warc.wet.gz"))
LAX = ("--min-length", "0", "--lid-threshold", "0", "--workers", "1")


def _records(n: int) -> list[bytes]:
    """The warcinfo record and the first n conversion records of the first sample file, uncompressed."""
    raw, _ = decompress(GOOD[0].read_bytes())
    starts = [0]
    while len(starts) <= n + 1:
        starts.append(raw.index(b"\r\n\r\nWARC/1.0\r\n", starts[-1] + 1) + 4)
    return [raw[a:b] for a, b in zip(starts, starts[1:])]


def _without(record: bytes, *names: bytes) -> bytes:
    """A record with the named header lines removed (the body and its Content-Length unchanged)."""
    head, body = record.split(b"\r\n\r\n", 1)
    lines = [l for l in head.split(b"\r\n") if not any(l.startswith(n + b":") for n in names)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _record(text: str, uri: str) -> bytes:
    body = text.encode("utf-8")
    return (b"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: " + uri.encode() +
            b"\r\nWARC-Record-ID: <urn:uuid:" + uri.encode() + b">\r\nContent-Type: text/plain\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body + b"\r\n\r\n")


def _written(out: Path) -> list[dict]:
    return [r for f in sorted(out.glob("lang=*/bucket=*/*.parquet")) for r in pq.read_table(f).to_pylist()]


def _clusters(out: Path) -> list[dict]:
    return pq.read_table(out / "_clusters.parquet").to_pylist()


# 1. a record without WARC-Type is counted, with file and offset; a lower-case header name still reads


def test_record_without_warc_type_is_counted(tmp_path):
    recs = _records(4)
    recs[2] = _without(recs[2], b"WARC-Type")
    recs[3] = recs[3].replace(b"WARC-Type: conversion", b"warc-type: conversion")
    path = tmp_path / "in" / "notype.warc.wet"
    path.parent.mkdir()
    path.write_bytes(b"".join(recs))
    items = list(read_wet(path.read_bytes(), path.name))
    faults = [i for i in items if isinstance(i, Fault)]
    assert len(faults) == 1 and faults[0].offset == len(b"".join(recs[:2])) and "WARC-Type" in faults[0].error
    assert len([i for i in items if isinstance(i, WetRecord)]) == 3
    out = tmp_path / "out"
    assert run_ccnet(out, [str(path)], None, *LAX) == 0
    stats = read_stats(out)
    assert check_accounting(stats) == []
    assert stats["documents"]["read"] == 4 and stats["documents"]["dropped"]["malformed"] == 1
    assert stats["malformed"] == [{"file": str(path), "offset": len(b"".join(recs[:2])), "error": faults[0].error}]


# 2. records without URI and digest get distinct, stable ids; ids of the others do not change


def test_ids_without_uri_and_digest_are_unique_and_stable(tmp_path):
    recs = _records(5)
    recs[2] = _without(recs[2], b"WARC-Target-URI", b"WARC-Block-Digest")
    recs[3] = _without(recs[3], b"WARC-Target-URI", b"WARC-Block-Digest")
    recs[4] = _without(recs[4], b"WARC-Target-URI", b"WARC-Block-Digest", b"WARC-Record-ID")
    recs[5] = _without(recs[5], b"WARC-Target-URI", b"WARC-Block-Digest", b"WARC-Record-ID")
    path = tmp_path / "noid.warc.wet"
    path.write_bytes(b"".join(recs))
    out = tmp_path / "out"
    assert run_dedup(out, [str(path)], "--workers", "1") == 0
    stats = read_stats(out)
    assert check_accounting(stats) == [] and stats["documents"]["read"] == 5
    ids = [r["id"] for r in _written(out)]
    assert len(ids) == len(set(ids)) == stats["documents"]["written"]
    docs = [d for d in read_documents(path.read_bytes(), path.name)]
    assert len({d.id for d in docs}) == 5
    assert docs[0].id == "cc-81e8ae4d7a0b6abe8a7f"                     # the sample's first record, as before
    assert docs[1].id == document_id("cc", None, None, f"record-id:{docs[1].meta['warc_record_id']}")
    assert docs[1].id == "cc-4238c1558d697cf2810a"
    assert docs[3].meta["warc_record_id"] is None and docs[3].id.startswith("cc-")
    assert [d.id for d in read_documents(path.read_bytes(), path.name)] == [d.id for d in docs]


# 3. one enormous document is dropped as too_long before it costs memory


def test_too_long_document_is_dropped_and_counted(tmp_path):
    words = " ".join(f"word{i % 5000}" for i in range(DEFAULT_MAX_CHARS // 8))
    huge = (words * 2)[:DEFAULT_MAX_CHARS + 1]
    recs = _records(3)
    path = tmp_path / "huge.warc.wet"
    path.write_bytes(b"".join(recs[:2]) + _record(huge, "http://huge.example/") + b"".join(recs[2:]))
    out = tmp_path / "out"
    assert run_ccnet(out, [str(path)], None, "--lid-threshold", "0", "--workers", "1") == 0
    stats = read_stats(out)
    assert check_accounting(stats) == []
    assert stats["documents"]["read"] == 4
    assert stats["documents"]["dropped"]["too_long"] == 1
    assert stats["chars"]["dropped"]["too_long"] == DEFAULT_MAX_CHARS + 1
    assert all(r["url"] != "http://huge.example/" for r in _written(out))
    out2 = tmp_path / "out2"
    assert run_ccnet(out2, [str(path)], None, "--lid-threshold", "0", "--workers", "1",
                     "--max-chars", str(DEFAULT_MAX_CHARS + 1)) == 0
    assert "too_long" not in read_stats(out2)["documents"]["dropped"]
    with pytest.raises(SystemExit):
        run_ccnet(tmp_path / "out3", [str(path)], None, "--max-chars", "0")


def test_dedup_keeps_too_long_documents_uncompared(tmp_path):
    big = " ".join(f"w{i}" for i in range(1000))
    small = " ".join(f"s{i}" for i in range(100))
    rows = [{"id": "big1", "text": big}, {"id": "big2", "text": big}, {"id": "a", "text": small},
            {"id": "a-copy", "text": small}]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    assert run_dedup(out, [str(src)], "--max-chars", "2000", "--workers", "1") == 0
    stats = read_stats(out)
    assert check_accounting(stats) == []
    assert {r["id"] for r in _written(out)} == {"big1", "big2", "a"}
    assert stats["not_compared"] == {"too_long": 2}
    assert stats["documents"]["dropped"] == {"exact_duplicate": 1}


# 4. mixture files: numbers only, no key twice, source names that are identifiers


@pytest.mark.parametrize("spec,message", [
    ({"cc": {"proportion": "1.0"}}, r"source 'cc': proportion and epochs must be numbers, got proportion '1.0' \(str\)"),
    ({"cc": {"proportion": True}}, r"source 'cc': proportion and epochs must be numbers, got proportion True"),
    ({"cc": {"proportion": 1, "epochs": "2"}}, r"source 'cc': .* got epochs '2'"),
    ({"../../escaped": {"proportion": 1}}, r"m.yaml: source name '../../escaped' is not an identifier"),
    ({"/abs": {"proportion": 1}}, r"source name '/abs' is not an identifier"),
    ({2019: {"proportion": 1}}, r"source name 2019 is not an identifier"),
])
def test_mixture_values_and_names_are_checked(spec, message):
    with pytest.raises(MixtureError, match=message):
        parse_mixture({"sources": spec}, "m.yaml")


def test_check_source_name():
    for good in ("cc", "c4", "stack_exchange", "books-3", "2019"):
        check_source_name(good)
    for bad in ("", "-x", "_x", "a/b", "..", "a b", "é"):
        with pytest.raises(MixtureError, match="not an identifier"):
            check_source_name(bad)


def test_duplicate_yaml_keys_are_refused_by_the_cli(tmp_path, capsys):
    mix = tmp_path / "mix.yaml"
    mix.write_text("sources:\n  cc: {proportion: 0.5, epochs: 1}\n  wiki: {proportion: 0.5}\n"
                   "  cc: {proportion: 0.5, epochs: 2}\n")
    with pytest.raises(MixtureError, match=r"mix.yaml: .*duplicate key 'cc' \(first on line 2\)"):
        load_mixture(mix)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rc = cli.main(["tokenizer-train", "--corpus", f"cc={corpus}", "--mixture", str(mix), "--renormalize",
                   "--out", str(tmp_path / "tok.model")])
    assert rc == 2
    err = capsys.readouterr().err
    assert str(mix) in err and "duplicate key 'cc'" in err
    mix.write_text("sources:\n  cc: {proportion: '1'}\n")
    assert cli.main(["tokenizer-train", "--corpus", f"cc={corpus}", "--mixture", str(mix),
                     "--out", str(tmp_path / "tok.model")]) == 2
    assert "source 'cc': proportion and epochs must be numbers" in capsys.readouterr().err


# 5. dedup: a duplicate input id has one row and one decision in _clusters


def _one_row_per_id(out: Path) -> list[dict]:
    rows = _clusters(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    kept: dict[str, int] = {}
    for r in rows:
        kept[r["cluster_id"]] = kept.get(r["cluster_id"], 0) + r["kept"]
    assert set(kept.values()) == {1}
    return rows


def test_wet_file_read_twice_keeps_one_copy_per_id(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(GOOD[0], folder / "a.warc.wet.gz")
    (folder / "b.warc.wet").write_bytes(b"".join(_records(50)))     # the same 50 records, uncompressed
    n = sum(isinstance(r, WetRecord) for r in read_wet(GOOD[0].read_bytes(), GOOD[0].name))
    out = tmp_path / "out"
    assert run_dedup(out, [str(folder / "*.warc.wet*")], "--workers", "2") == 0
    stats = read_stats(out)
    assert check_accounting(stats) == []
    assert stats["documents"]["read"] == n + 50 and stats["documents"]["dropped"]["duplicate_id"] == 50
    written = [r["id"] for r in _written(out)]
    assert len(written) == len(set(written)) == stats["documents"]["written"]
    assert pq.read_table(out / "lang=unknown" / "bucket=all" / "part-00001.parquet").num_rows == 0
    rows = _one_row_per_id(out)
    assert all((r["id"] in written) == r["kept"] for r in rows)


@pytest.mark.parametrize("keep", ["perplexity", "first"])
def test_jsonl_id_in_two_files(tmp_path, capsys, keep):
    text = " ".join(f"t{i}" for i in range(200))
    other = " ".join(f"o{i}" for i in range(200))
    (tmp_path / "one.jsonl").write_text(json.dumps({"id": "r1", "text": text}) + "\n" +
                                        json.dumps({"id": "r2", "text": other}) + "\n")
    (tmp_path / "two.jsonl").write_text(json.dumps({"id": "r1", "text": text}) + "\n" +
                                        json.dumps({"id": "r3", "text": " ".join(f"t{i}" for i in range(199))}) + "\n")
    out = tmp_path / "out"
    assert run_dedup(out, [str(tmp_path / "one.jsonl"), str(tmp_path / "two.jsonl")], "--keep", keep,
                     "--workers", "1") == 0
    stats = read_stats(out)
    assert check_accounting(stats) == []
    assert stats["documents"]["dropped"] == {"duplicate_id": 1, "near_duplicate": 1}
    assert sorted(r["id"] for r in _written(out)) == ["r1", "r2"]
    rows = {r["id"]: r for r in _one_row_per_id(out)}
    assert rows["r1"]["kept"] and rows["r3"]["reason"] == "near_duplicate" and rows["r3"]["cluster_id"] == "r1"
    (tmp_path / "three.jsonl").write_text(json.dumps({"id": "r2", "text": "a different text"}) + "\n")
    rc = run_dedup(tmp_path / "out2", [str(tmp_path / "one.jsonl"), str(tmp_path / "three.jsonl")],
                   "--keep", keep, "--workers", "1")
    assert rc == 2
    err = capsys.readouterr().err
    assert "id 'r2' names two different documents" in err and "one.jsonl" in err and "three.jsonl" in err
    assert not (tmp_path / "out2" / "_SUCCESS").exists()


@pytest.mark.parametrize("argv, message", [
    (["stackexchange", "--site", "a"], "unknown flag --site (did you mean --sites"),
    (["ccnet", "--min-lenght", "3"], "unknown flag --min-lenght (did you mean --min-length"),
    (["arxiv", "--runer", "DirectRunner"], "unknown flag --runer (did you mean --runner"),
])
def test_a_mistyped_flag_is_refused_not_passed_to_beam(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert cli.main([argv[0], "--input", str(tmp_path / "x"), "--output", str(out), *argv[1:]]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_beam_flags_still_pass_through():
    from pipelines.runner import unknown_flags

    unknown, known = unknown_flags(["--runner", "DirectRunner", "--direct_num_workers=2", "--project", "p",
                                    "--temp_location", "gs://b/t", "--experiments", "x", "--flink_master", "h:1"])
    assert unknown == [] and "--runner" in known


def test_an_input_scheme_without_a_filesystem_is_a_user_error(tmp_path, capsys):
    assert cli.main(["ccnet", "--input", "nosuchscheme://bucket/x.warc.wet.gz", "--output", str(tmp_path / "o")]) == 2
    assert "nosuchscheme://bucket/x.warc.wet.gz" in capsys.readouterr().err


def test_an_unreadable_input_of_the_same_size_as_another_is_counted_not_a_crash(tmp_path, monkeypatch):
    from pipelines import fileio

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"text": "x"}\n')
    b.write_text('{"text": "y"}\n')
    real = fileio.file_digest
    monkeypatch.setattr(fileio, "file_digest", lambda p: (_ for _ in ()).throw(PermissionError(13, "denied"))
                        if p.endswith("b.jsonl") else real(p))
    assert fileio.expand_globs([str(tmp_path / "*.jsonl")]) == [str(a), str(b)]
