"""A hostile user's runs of `llamapipe wikipedia`, `stackexchange` and `arxiv`: outputs overlapping the
inputs (index files included), foreign and earlier outputs, wrong, empty, unreadable, reformatted and
doubled inputs, a Wikipedia index of another dump, bad flag values. Each ends in exit 2 with one line
naming the file, flag or folder and nothing touched, or in a finished run where every input is written
or counted (read == written + dropped). The tests of issues found in review failed before their fix:
doubled dumps and tars, the foreign index, non-tar arXiv inputs, --workers, case, the Posts.xml layout."""
from __future__ import annotations

import bz2
import gzip
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus import bz2_streams
from corpus import wikipedia_dump as dump
from corpus.counters import check_accounting
from corpus.readers import open_local
from pipelines import cli, fileio

DATA = Path(__file__).parent / "data"
WIKI = DATA / "wikipedia"
EN = WIKI / "enwiki-20220701-pages-articles-multistream.xml.bz2"
EN_INDEX = WIKI / "enwiki-20220701-pages-articles-multistream-index.txt.bz2"
DE = WIKI / "dewiki-20220701-pages-articles-multistream.xml.bz2"
DE_INDEX = WIKI / "dewiki-20220701-pages-articles-multistream-index.txt.bz2"
SE_7Z = DATA / "stackexchange" / "7z"
SE_XML = DATA / "stackexchange" / "xml"
UNIX_7Z = SE_7Z / "unix.stackexchange.com.7z"
TAR_2301 = DATA / "arxiv" / "arXiv_src_2301_001.tar"
TAR_0001 = DATA / "arxiv" / "arXiv_src_0001_001.tar"
EN_PAGES = 7  # pages in the enwiki fixture (tests/data/make_wikipedia.py)


def _lp(command: str, out: Path, inputs: list, *flags: str) -> int:
    args = [command, "--output", str(out)]
    for pattern in inputs:
        args += ["--input", str(pattern)]
    return cli.main(args + list(flags))


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _stats(out: Path) -> dict:
    return json.loads((out / "_stats.json").read_text())


def _one_line_error(capsys, *expected: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert all(e in err for e in expected), err
    return err


def _unreadable(path: Path) -> bool:
    """Make `path` a file whose reads fail even for root (chmod 000 does not stop root)."""
    path.symlink_to("/proc/self/mem")
    return fileio.unreadable(str(path)) is not None


# 1. an output overlapping what a command reads is refused before anything is touched

def test_outputs_overlapping_the_inputs_are_refused_for_each_command(tmp_path, capsys, monkeypatch):
    dumps = tmp_path / "dumps"
    for src, sub in ((EN, "wiki"), (EN_INDEX, "wiki"), (UNIX_7Z, "se"), (TAR_2301, "arxiv")):
        (dumps / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dumps / sub)
    (dumps / "se" / "unix.stackexchange.com").mkdir()
    shutil.copy(SE_XML / "unix.stackexchange.com" / "Posts.xml", dumps / "se" / "unix.stackexchange.com")
    link = tmp_path / "link"
    link.symlink_to(dumps)
    before = _tree(dumps)
    monkeypatch.chdir(dumps / "arxiv")
    cases = [
        ("wikipedia", dumps / "wiki", [dumps / "wiki" / "*.bz2"]),
        ("wikipedia", dumps, [dumps / "wiki" / "*multistream.xml.bz2"]),
        ("wikipedia", link / "wiki", [dumps / "wiki" / "*multistream.xml.bz2"]),
        ("stackexchange", dumps / "se", [dumps / "se" / "*.7z"]),
        ("stackexchange", dumps / "se" / "unix.stackexchange.com", [dumps / "se" / "*" / "Posts.xml"]),
        ("stackexchange", link, [dumps / "se" / "*" / "Posts.xml"]),
        ("arxiv", Path("."), ["*.tar"]),
        ("arxiv", tmp_path, [dumps / "arxiv" / "*.tar"]),
    ]
    for command, out, inputs in cases:
        assert _lp(command, out, inputs, "--overwrite") == 2
        _one_line_error(capsys, "contains the input file")
        assert _tree(dumps) == before and not list(dumps.rglob("_llamapipe*"))


def test_the_index_a_wikipedia_run_reads_is_an_input_too(tmp_path, capsys):
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    shutil.copy(EN, dumps)
    elsewhere = tmp_path / "indexes"
    elsewhere.mkdir()
    shutil.copy(EN_INDEX, elsewhere)
    (dumps / EN_INDEX.name).symlink_to(elsewhere / EN_INDEX.name)
    assert _lp("wikipedia", elsewhere, [dumps / EN.name], "--overwrite") == 2
    _one_line_error(capsys, "contains the input file", EN_INDEX.name)
    assert sorted(p.name for p in elsewhere.iterdir()) == [EN_INDEX.name]


# 2. only what a llamapipe run wrote is ever removed; a finished output needs --overwrite

def test_reruns_and_overwrites_across_commands_remove_only_llamapipe_files(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("years of work")
    assert _lp("arxiv", mine, [TAR_2301], "--overwrite") == 2
    _one_line_error(capsys, "notes.txt", "never deleted")
    assert _tree(mine) == {"notes.txt": b"years of work"}

    out = tmp_path / "out"
    assert _lp("arxiv", out, [TAR_2301, TAR_0001], "--workers", "1") == 0
    capsys.readouterr()
    finished = _tree(out)
    for command, inputs in (("arxiv", [TAR_2301]), ("wikipedia", [EN]), ("stackexchange", [UNIX_7Z])):
        assert _lp(command, out, inputs) == 2
        _one_line_error(capsys, "already holds a finished run", "--overwrite")
        assert _tree(out) == finished
    assert _lp("stackexchange", out, [UNIX_7Z], "--overwrite", "--workers", "1") == 0
    shards = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
    assert shards and all(r["source"] == "stackexchange" for s in shards for r in pq.read_table(out / s).to_pylist())
    capsys.readouterr()
    (out / "lang=en" / "README.txt").write_text("my notes on this partition")
    before = _tree(out)
    assert _lp("wikipedia", out, [EN], "--overwrite") == 2
    _one_line_error(capsys, "lang=en/README.txt")
    assert _tree(out) == before


# 3. inputs: wrong kinds are refused by name, empty and unreadable ones counted, nothing lost

def test_files_of_another_kind_are_refused_naming_them(tmp_path, capsys):
    history = tmp_path / "enwiki-20220701-pages-meta-history1.xml-p1p812.bz2"
    shutil.copy(EN, history)
    gz = tmp_path / "unix.stackexchange.com" / "Posts.xml.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress((SE_XML / "unix.stackexchange.com" / "Posts.xml").read_bytes()))
    cases = [
        ("wikipedia", [history], "not a Wikipedia dump name"),
        ("wikipedia", [EN_INDEX], "only multistream index files"),
        ("stackexchange", [gz], "not a Stack Exchange dump file"),
        ("arxiv", [UNIX_7Z], "not a source tar"),
        ("arxiv", [EN], "not a source tar"),
        ("wikipedia", [tmp_path / "nothing-*.bz2"], "matches no file"),
        ("arxiv", [tmp_path], "not a readable file"),
    ]
    for command, inputs, expected in cases:
        assert _lp(command, tmp_path / "out", inputs) == 2
        _one_line_error(capsys, expected, str(inputs[0]).split("*")[0])
        assert not (tmp_path / "out").exists()


def test_a_tarball_recompressed_as_tar_gz_is_read(tmp_path):
    packed = tmp_path / (TAR_0001.name + ".gz")
    packed.write_bytes(gzip.compress(TAR_0001.read_bytes()))
    assert _lp("arxiv", tmp_path / "out", [packed], "--workers", "1") == 0
    assert _stats(tmp_path / "out")["documents"]["written"] == 1


def test_empty_and_unreadable_inputs_are_counted_and_the_rest_is_read(tmp_path):
    wiki, se, arx = tmp_path / "wiki", tmp_path / "se", tmp_path / "arxiv"
    for folder in (wiki, se, arx):
        folder.mkdir()
    shutil.copy(EN, wiki)
    shutil.copy(EN_INDEX, wiki)
    shutil.copy(UNIX_7Z, se)
    shutil.copy(TAR_0001, arx)
    # One input of size 0 per run: fileio.expand_globs hashes same-size inputs and fails on an unreadable one.
    unreadable = _unreadable(wiki / "frwiki-20220701-pages-articles-multistream.xml.bz2")
    if not unreadable:
        (wiki / "frwiki-20220701-pages-articles-multistream.xml.bz2").unlink()
    (se / "empty.stackexchange.com.7z").write_bytes(b"")
    (arx / "arXiv_src_2301_002.tar").write_bytes(b"")
    (arx / "arXiv_src_2301_003.tar").write_bytes(TAR_2301.read_bytes()[:1100])  # cut inside its first paper
    runs = [("wikipedia", wiki / "*multistream.xml.bz2", [], int(unreadable)),
            ("stackexchange", se / "*.7z", [], 1), ("arxiv", arx / "*.tar", [], 2)]
    for command, pattern, flags, faults in runs:
        out = tmp_path / f"out-{command}"
        assert _lp(command, out, [pattern], "--workers", "1", *flags) == 0
        stats = _stats(out)
        assert check_accounting(stats) == [] and stats["documents"]["written"] > 0
        assert len(stats["malformed"]) == faults and stats["documents"]["dropped"].get("malformed", 0) == faults


def test_a_posts_xml_not_one_row_per_line_is_one_fault_saying_so(tmp_path):
    from corpus.stackexchange_dump import read_posts

    lines = (SE_XML / "unix.stackexchange.com" / "Posts.xml").read_bytes().split(b"\n")
    minified = tmp_path / "minified.xml"
    minified.write_bytes(b"".join(lines))
    rows_joined = tmp_path / "joined.xml"
    rows_joined.write_bytes(lines[0] + b"\n" + b"".join(lines[1:]))
    for path in (minified, rows_joined):
        items = list(read_posts(str(path)))
        assert len(items) == 1 and "one <row .../> per line" in items[0].error, items


# 4. the same documents are never read twice

def _part_of(dump: Path, streams: int) -> bytes:
    """The dump's header stream, its first `streams` page streams and its footer: a smaller dump."""
    data = dump.read_bytes()
    with open(dump, "rb") as f:
        starts = [o for o, _ in bz2_streams.stream_starts(f, 0, len(data))]  # header, pages..., footer
    return data[:starts[1 + streams]] + data[starts[-1]:]


def test_wikipedia_refuses_the_same_articles_given_twice(tmp_path, capsys):
    whole = tmp_path / "a" / EN.name
    whole.parent.mkdir()
    shutil.copy(EN, whole)
    part = tmp_path / "a" / "enwiki-20220701-pages-articles-multistream1.xml-p1p41242.bz2"
    part.write_bytes(_part_of(EN, 1))
    later = tmp_path / "b" / "enwiki-20230101-pages-articles-multistream.xml.bz2"
    later.parent.mkdir()
    later.write_bytes(_part_of(EN, 2))
    again = tmp_path / "c" / EN.name
    again.parent.mkdir()
    again.write_bytes(_part_of(EN, 2))
    single = tmp_path / "d" / "enwiki-20220701-pages-articles.xml.bz2"
    single.parent.mkdir()
    single.write_bytes(_part_of(EN, 1))
    for inputs, expected in (([whole, part], "whole dump and one of its parts"),
                             ([whole, later], "two dates"),
                             ([whole, again], "twice"),
                             ([whole, single], "multistream and a single-stream")):
        assert _lp("wikipedia", tmp_path / "out", inputs) == 2
        _one_line_error(capsys, expected, str(inputs[0]), str(inputs[1]))
        assert not (tmp_path / "out").exists()


def test_arxiv_refuses_one_tar_given_twice(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    shutil.copy(TAR_0001, tmp_path / "x")
    (tmp_path / "y" / TAR_0001.name).write_bytes(TAR_0001.read_bytes()[:5120])  # an earlier, cut download
    packed = tmp_path / "y" / (TAR_0001.name + ".gz")
    packed.write_bytes(gzip.compress(TAR_0001.read_bytes()[:6144]))
    for second in (tmp_path / "y" / TAR_0001.name, packed):
        assert _lp("arxiv", tmp_path / "out", [tmp_path / "x" / TAR_0001.name, second]) == 2
        _one_line_error(capsys, "given twice", str(tmp_path / "x" / TAR_0001.name), str(second))
        assert not (tmp_path / "out").exists()


# 5. a Wikipedia index must belong to its dump; a missing or empty one is said, never silent

def test_an_index_of_another_dump_is_refused(tmp_path, capsys):
    folder = tmp_path / "dumps"
    folder.mkdir()
    shutil.copy(EN, folder)
    shutil.copy(DE_INDEX, folder / EN_INDEX.name)  # e.g. a stale `latest` index beside a new dump
    assert _lp("wikipedia", tmp_path / "out", [folder / "*.bz2"]) == 2
    _one_line_error(capsys, str(folder / EN_INDEX.name), "does not match", str(folder / EN.name))
    assert not (tmp_path / "out").exists()
    lines = bz2.decompress(EN_INDEX.read_bytes()).decode().splitlines()
    first = lines[0].split(":")[0]
    later = "".join(line + "\n" for line in lines if not line.startswith(first + ":"))
    (folder / EN_INDEX.name).write_bytes(bz2.compress(later.encode()))  # real offsets, the first stream missing
    with pytest.raises(dump.DumpError, match=f"stream of pages at byte {first}, before the first offset"):
        dump.plan_file(open_local, str(folder / EN.name), EN.stat().st_size, 1, str(folder / EN_INDEX.name))


def test_an_empty_index_or_one_without_its_dump_is_reported_and_every_page_read(tmp_path, capsys):
    folder = tmp_path / "dumps"
    folder.mkdir()
    shutil.copy(EN, folder)
    (folder / EN_INDEX.name).write_bytes(b"")  # a download that never started: not a bz2 file
    assert _lp("wikipedia", tmp_path / "out", [folder / "*.bz2"]) == 2
    _one_line_error(capsys, str(folder / EN_INDEX.name), "remove it to scan the dump")
    (folder / EN_INDEX.name).write_bytes(bz2.compress(b""))  # a valid bz2 file listing no stream
    shutil.copy(DE_INDEX, folder)  # the dewiki dump itself is missing
    assert _lp("wikipedia", tmp_path / "out", [folder / "*.bz2"], "--workers", "1", "--streams-per-unit", "1") == 0
    err = capsys.readouterr().err
    assert f"{folder / EN_INDEX.name} lists no stream" in err
    assert f"{folder / DE_INDEX.name}: a multistream index whose dump is not among the inputs" in err
    stats = _stats(tmp_path / "out")
    assert stats["documents"]["read"] == EN_PAGES and not stats["malformed"] and check_accounting(stats) == []
    assert stats["config"]["units"] == 3


# 6. flags

@pytest.mark.parametrize("command", ["wikipedia", "stackexchange", "arxiv"])
def test_workers_must_be_a_positive_count(command, tmp_path, capsys):
    for value in ("0", "-3"):
        with pytest.raises(SystemExit) as exc:
            _lp(command, tmp_path / "out", [EN], "--workers", value)
        assert exc.value.code == 2
        assert "--workers must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_language_codes_and_site_names_are_not_case_sensitive(tmp_path, capsys):
    assert _lp("wikipedia", tmp_path / "w", [EN, DE], "--langs", "EN, De", "--workers", "1") == 0
    assert _stats(tmp_path / "w")["config"]["langs"] == ["de", "en"]
    folder = tmp_path / "Unix.StackExchange.com"
    folder.mkdir()
    shutil.copy(SE_XML / "unix.stackexchange.com" / "Posts.xml", folder)
    assert _lp("stackexchange", tmp_path / "s", [folder / "Posts.xml"], "--sites", " UNIX.stackexchange.com ",
               "--workers", "1") == 0
    assert _stats(tmp_path / "s")["sites"]["selected"] == ["unix.stackexchange.com"]
    capsys.readouterr()
    for flag, value in (("--langs", "en,../x"), ("--sites", "unix"), ("--streams-per-unit", "0"),
                        ("--top-sites", "0"), ("--include-depth", "-1")):
        command = {"--langs": "wikipedia", "--streams-per-unit": "wikipedia", "--include-depth": "arxiv"}.get(
            flag, "stackexchange")
        with pytest.raises(SystemExit):
            _lp(command, tmp_path / "x", [EN], flag, value)
        assert flag in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

