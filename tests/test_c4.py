"""`llamapipe c4`: the fixture script, the allenai/c4 import byte for byte through the real Beam runner (bad
input counted, --strict), a cut WET file, and the --from-wet rules that need no Beam: C4's WET split, the paper's values,
the bad-words pattern and the pinned list's sha256 (the --from-wet graph: tests/test_c4_wet.py)."""
from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path

import pytest

from corpus.c4_input import read_c4_json, read_c4_wet
from corpus.counters import check_accounting
from corpus.document import document_id
from corpus.faults import Fault
from corpus.readers import open_local
from pipelines.steps import c4, checks

from tests.c4_helpers import DATA, JSON, MAKE, TEST_BADWORDS, WET
from tests.c4_helpers import rows as _rows, run_c4 as _c4, stats as _stats


def _members(path: Path) -> list[bytes]:
    """The decompressed gzip members of a file, one per WET record."""
    data, out = path.read_bytes(), []
    while data:
        d = zlib.decompressobj(31)
        out.append(d.decompress(data) + d.flush())
        data = d.unused_data
    return out


def test_fixture_script_writes_the_committed_files(tmp_path):
    if not MAKE.WRITER.exists():
        pytest.skip(f"{MAKE.WRITER} (the WET writer) is not here")
    MAKE.main(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in DATA.iterdir())
    for f in sorted(DATA.iterdir()):
        if f.name.endswith(".gz"):
            assert _members(tmp_path / f.name) == _members(f), f.name
        else:
            assert (tmp_path / f.name).read_bytes() == f.read_bytes()


# --- import mode ---

def test_import_keeps_url_timestamp_and_text_byte_for_byte(tmp_path):
    # both files in one folder, so their sorted order (the part numbers) is train, then validation
    train, valid = tmp_path / JSON.name, tmp_path / "c4-validation.00000-of-00008.json.gz"
    train.write_bytes(JSON.read_bytes())
    lines = gzip.decompress(JSON.read_bytes()).decode("utf-8").splitlines()
    valid.write_bytes(gzip.compress(("\n".join(lines[::-1]) + "\n").encode("utf-8")))
    assert _c4(tmp_path / "out", [valid, train], "--workers", "1") == 0
    rows = _rows(tmp_path / "out")
    raw = [json.loads(line) for line in lines]
    assert [(r["url"], r["date"], r["text"]) for r in rows] == [(x["url"], x["timestamp"], x["text"])
                                                                for x in raw + raw[::-1]]
    assert [json.loads(r["meta"])["split"] for r in rows] == ["train"] * 3 + ["validation"] * 3
    for r in rows:
        digest = hashlib.sha1(r["text"].encode("utf-8")).hexdigest()
        assert r["id"] == document_id("c4", r["url"], digest)
        assert (r["source"], r["lang"], r["bucket"], r["perplexity"]) == ("c4", "en", "all", None)
    stats = _stats(tmp_path / "out")
    assert not check_accounting(stats) and stats["documents"]["written"] == 6
    assert stats["config"] == {"files": 2, "mode": "import", "gopher": False}
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.parquet")) == [
        "lang=en/bucket=all/part-00000.parquet", "lang=en/bucket=all/part-00001.parquet"]


def _bad_json(path: Path) -> list[int]:
    """A c4 file with a good line, a line that is not JSON, one without 'timestamp', an empty text, a good
    line, then the gzip stream cut short; the offsets of the first two bad lines."""
    lines = [json.dumps({"text": "first", "timestamp": "t1", "url": "u1"}), "{not json",
             json.dumps({"text": "no time", "url": "u3"}), json.dumps({"text": "", "timestamp": "t4", "url": "u4"}),
             json.dumps({"text": "fifth " * 20000, "timestamp": "t5", "url": "u5"})]
    data = ("\n".join(lines) + "\n").encode()
    packed = gzip.compress(data, mtime=0)
    path.write_bytes(packed[:len(packed) - 40])
    return [len(lines[0]) + 1, len(lines[0]) + len(lines[1]) + 2]


def test_import_counts_bad_lines_and_a_cut_stream_and_goes_on(tmp_path):
    offsets = _bad_json(tmp_path / "c4-train.00001-of-01024.json.gz")
    items = list(read_c4_json(open_local, str(tmp_path / "c4-train.00001-of-01024.json.gz")))
    faults = [i for i in items if isinstance(i, Fault)]
    assert [f.offset for f in faults[:2]] == offsets
    assert "not JSON" in faults[0].error and "'timestamp'" in faults[1].error
    assert "cannot decompress" in faults[2].error and len(faults) == 3
    assert _c4(tmp_path / "out", [tmp_path / "c4-train.00001-of-01024.json.gz"], "--workers", "1") == 0
    stats = _stats(tmp_path / "out")
    assert not check_accounting(stats)
    assert stats["malformed_total"] == 3 and stats["documents"]["dropped"]["empty_text"] == 1
    assert [r["url"] for r in _rows(tmp_path / "out")] == ["u1"]


def test_strict_stops_at_the_first_bad_line_with_exit_2(tmp_path, capsys):
    _bad_json(tmp_path / "c4-train.00001-of-01024.json.gz")
    assert _c4(tmp_path / "out", [tmp_path / "c4-train.00001-of-01024.json.gz"], "--strict", "--workers", "1") == 2
    err = capsys.readouterr().err
    assert "c4-train.00001-of-01024.json.gz" in err and "line 2: not JSON" in err
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_inputs_of_the_wrong_kind_and_bad_values_name_the_flag(tmp_path, capsys):
    assert _c4(tmp_path / "out", [WET]) == 2
    assert "add --from-wet" in capsys.readouterr().err
    assert _c4(tmp_path / "out", [JSON], "--from-wet") == 2
    assert "not a WET file" in capsys.readouterr().err
    with pytest.raises(checks.ConfigError, match="--min-sentences"):
        c4.C4Config(min_sentences=-1)
    with pytest.raises(checks.ConfigError, match="--min-en-prob"):
        c4.C4Config(min_en_prob=1.5)


def test_a_cut_wet_file_is_counted_and_strict_exits_2(tmp_path, capsys):
    cut = tmp_path / "cut.warc.wet.gz"
    cut.write_bytes(WET.read_bytes()[:-300])
    items = list(read_c4_wet(open_local, str(cut)))
    assert isinstance(items[-1], Fault) and "cannot decompress" in items[-1].error
    assert _c4(tmp_path / "out", [cut], "--from-wet", "--workers", "1") == 0
    stats = _stats(tmp_path / "out")
    assert stats["malformed_total"] == 1 and not check_accounting(stats)
    assert _c4(tmp_path / "strict", [cut], "--from-wet", "--strict", "--workers", "1") == 2
    assert "cut.warc.wet.gz" in capsys.readouterr().err


# --- --from-wet rules, without Beam ---

def test_wet_split_follows_c4s_line_rules():
    pages = [p for p in read_c4_wet(open_local, str(WET))]
    assert [p.url for p in pages] == list(MAKE.PLANTED)
    one = pages[0]
    assert "Content-Length hints" not in one.text  # a content line starting with Content- goes, as in C4
    assert one.date == "2019-04-18T10:00:00Z" and one.meta["warc_record_id"] == "<urn:uuid:c4-test-0000>"
    assert all(line == line.strip() and line for p in pages if p.text for line in p.text.split("\n"))


def _clean(url: str, cfg: c4.C4Config):
    page = next(p for p in read_c4_wet(open_local, str(WET)) if p.url == url)
    return c4.clean_page(page.text, cfg, c4.punkt_sentences())


def test_paper_values_flip_the_documented_pages():
    code, paper = c4.C4Config(), c4.C4Config(min_words_per_line=3, min_sentences=5)
    four = _clean(MAKE.FOUR_SENTENCE_PAGE, code)
    assert four.page_reason is None and MAKE.SHORT_LINE not in four.text
    assert four.cut["line:too_short"].lines == 1
    four_paper = _clean(MAKE.FOUR_SENTENCE_PAGE, paper)
    assert four_paper.page_reason is None and four_paper.text.endswith(MAKE.SHORT_LINE)
    assert _clean("https://rules.example.com/short-line", code).page_reason is None
    assert _clean("https://rules.example.com/short-line", paper).page_reason == "too_few_sentences"
    assert _clean(MAKE.FOUR_SENTENCE_PAGE, c4.C4Config(min_sentences=5)).page_reason == "too_few_sentences"


def test_badwords_match_whole_words_only():
    pattern = c4.badwords_regex(c4.load_badwords())
    assert "ass" in c4.load_badwords() and len(c4.load_badwords()) == 377
    hit = lambda text: pattern.search(text.lower()) is not None  # noqa: E731
    assert not hit("a class of its own, passed by the assistant.")
    assert hit("what an ass.")
    assert hit("Ass hat is a line-initial match.")
    assert hit("first line\nass at the start of a line")
    assert not hit("bass and grass and classic")


def test_the_packaged_list_is_checked_by_sha256(tmp_path, monkeypatch):
    changed = tmp_path / "c4_badwords_en.txt"
    changed.write_bytes(c4.BADWORDS_FILE.read_bytes() + b"extra\n")
    monkeypatch.setattr(c4, "BADWORDS_FILE", changed)
    with pytest.raises(checks.ConfigError, match="sha256"):
        c4.load_badwords()
    assert c4.load_badwords(str(TEST_BADWORDS)) == list(MAKE.TEST_BADWORDS)
