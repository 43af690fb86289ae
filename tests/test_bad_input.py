"""Bad input through the whole pipeline: counted with file and offset, nothing else lost; --strict stops."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from corpus.counters import check_accounting
from corpus.wet import WetRecord, decompress, read_wet
from tests.conftest import SAMPLE_WET, read_stats, run_ccnet

GOOD = sorted(SAMPLE_WET.glob("*.warc.wet.gz"))


def _bad_inputs(folder: Path) -> None:
    folder.mkdir()
    shutil.copy(GOOD[0], folder / "a-good.warc.wet.gz")
    data = GOOD[1].read_bytes()
    (folder / "b-truncated.warc.wet.gz").write_bytes(data[: len(data) // 2])
    (folder / "c-empty.warc.wet").write_bytes(b"")
    (folder / "d-notwet.warc.wet").write_bytes(b"<html><body>this is a web page, not WET</body></html>\n" * 20)
    raw, _ = decompress(GOOD[2].read_bytes())
    first = raw.index(b"WARC-Type: conversion")
    length_at = raw.index(b"Content-Length: ", first)
    end = raw.index(b"\r\n", length_at)
    lied = raw[:length_at] + b"Content-Length: 99" + raw[end:]
    (folder / "e-badlength.warc.wet").write_bytes(lied)


def _ids_in(out: Path) -> set[str]:
    ids = set()
    for f in out.glob("lang=*/bucket=*/*.parquet"):
        ids.update(json.loads(m)["warc_record_id"] for m in pq.read_table(f, columns=["meta"]).column(0).to_pylist())
    return ids


def test_faults_are_counted_and_everything_else_processed(tmp_path):
    folder = tmp_path / "in"
    _bad_inputs(folder)
    out = tmp_path / "out"
    assert run_ccnet(out, [str(folder / "*")], None, "--min-length", "0", "--lid-threshold", "0",
                     "--workers", "2") == 0
    stats = read_stats(out)
    assert check_accounting(stats) == []
    faults = {Path(m["file"]).name: m for m in stats["malformed"]}
    assert set(faults) == {"b-truncated.warc.wet.gz", "c-empty.warc.wet", "d-notwet.warc.wet",
                           "e-badlength.warc.wet"}
    assert "truncated gzip" in faults["b-truncated.warc.wet.gz"]["error"]
    assert faults["c-empty.warc.wet"]["offset"] == 0
    assert "Content-Length 99" in faults["e-badlength.warc.wet"]["error"]
    assert stats["documents"]["dropped"]["malformed"] == 4
    expected_read = 4  # one per fault
    for name in ("a-good.warc.wet.gz", "b-truncated.warc.wet.gz", "e-badlength.warc.wet"):
        recs = [r for r in read_wet((folder / name).read_bytes(), name) if isinstance(r, WetRecord)]
        expected_read += len(recs)
        assert recs, name
    assert stats["documents"]["read"] == expected_read
    # every valid document before and after each fault made it to the output or a counted drop
    written = _ids_in(out)
    good_ids = {r.headers["WARC-Record-ID"] for r in read_wet((folder / "e-badlength.warc.wet").read_bytes(), "e")
                if isinstance(r, WetRecord)}
    dropped = sum(v for k, v in stats["documents"]["dropped"].items() if k != "malformed")
    assert len(written) == stats["documents"]["written"]
    assert stats["documents"]["written"] + dropped + 4 == expected_read
    assert len(good_ids & written) > 100


def test_strict_stops_with_file_and_offset(tmp_path, capsys):
    folder = tmp_path / "in"
    _bad_inputs(folder)
    rc = run_ccnet(tmp_path / "out", [str(folder / "e-*")], None, "--strict", "--workers", "1")
    assert rc == 2
    err = capsys.readouterr().err
    assert "e-badlength.warc.wet" in err and "at byte" in err and "Content-Length 99" in err
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_missing_glob_and_missing_models_are_refused(tmp_path, capsys):
    assert run_ccnet(tmp_path / "o1", [str(tmp_path / "nothing-*.wet.gz")], None) == 2
    assert "matches no file" in capsys.readouterr().err
    models = tmp_path / "models"
    (models / "lm").mkdir(parents=True)
    assert run_ccnet(tmp_path / "o2", [str(GOOD[0])], models, "--langs", "en,xx") == 2
    err = capsys.readouterr().err
    assert "xx.sp.model" in err and "en.arpa.bin" in err
    assert not (tmp_path / "o2").exists()


def test_foreign_output_folder_is_not_wiped(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    assert run_ccnet(out, [str(GOOD[0])], None) == 2
    assert "not llamapipe output" in capsys.readouterr().err
    assert (out / "precious.txt").read_text() == "keep me"
