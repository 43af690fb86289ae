"""`llamapipe books` on real-shaped book files (tests/data/make_books.py): Gutenberg decoding and header/
footer stripping byte-exact, the RDF catalog streamed and applied, PG-19, txt and JSONL, each planted case
under its reason, ids and urls, bad input counted, the command end to end with 1 and 2 workers, --strict,
JSONL byte ranges, and flat memory as the catalog and a JSONL file grow."""
from __future__ import annotations

import bz2
import importlib.util
import io
import json
import logging
import random
import subprocess
import sys
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus import books_input, gutenberg, gutenberg_catalog
from corpus.counters import check_accounting
from corpus.document import content_digest, document_id
from corpus.faults import Fault
from corpus.readers import open_local
from pipelines import cli
from pipelines.source import Unit
from pipelines.steps import checks
from pipelines.steps.books import BooksConfig, lid_sample, recipe
from pipelines.steps.chain import run_file

DATA = Path(__file__).parent / "data" / "books"
REPO = Path(__file__).resolve().parents[1]
LOG = logging.getLogger("test_books")


def _maker():
    spec = importlib.util.spec_from_file_location("make_books", Path(__file__).parent / "data" / "make_books.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _maker()
GUTENBERG = sorted(str(p) for p in (DATA / "gutenberg").glob("*.txt"))


def _catalog(wanted=None) -> list:
    with open(DATA / "rdf-files.tar.bz2", "rb") as f:
        return list(gutenberg_catalog.read_catalog(f, wanted))


def _run(paths: list[str], **kw):
    """Reader and recipe over `paths` (formats by name), as one worker does; (documents, counters)."""
    formats = tuple(books_input.detect_format(p) for p in paths)
    cfg = BooksConfig(files=tuple(paths), formats=formats, **kw)
    docs, total = [], None
    steps = recipe(cfg)
    for i, path in enumerate(paths):
        items = books_input.read_unit(open_local, Unit(i, path), formats[i])
        kept, counters = run_file(items, path, False, steps, LOG)
        docs += kept
        total = counters if total is None else total + counters
    return docs, total


def _tar_members(data: bytes) -> list[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(bz2.decompress(data))) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


def test_fixture_script_writes_the_committed_files(tmp_path):
    MAKE.main(tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert made == sorted(p.relative_to(DATA) for p in DATA.rglob("*") if p.is_file())
    for rel in made:
        new, old = (tmp_path / rel).read_bytes(), (DATA / rel).read_bytes()
        if rel.name.endswith(".bz2"):
            new, old = _tar_members(new), _tar_members(old)
        assert new == old, rel


# --- Gutenberg text ---

def test_stripped_bodies_are_the_known_middle_byte_for_byte():
    docs, _ = _run(GUTENBERG, catalog="rdf-files.tar.bz2", catalog_entries=tuple(_catalog()))
    by_id = {d.meta["gutenberg_id"]: d for d in docs}
    assert sorted(by_id) == [1001, 1002]
    assert by_id[1001].text == MAKE.BODIES["pg1001"] and by_id[1001].meta["strip"] == "modern"
    assert by_id[1002].text == MAKE.BODIES["1002"] and by_id[1002].meta["strip"] == "legacy"
    for doc in by_id.values():
        assert "Project Gutenberg" not in doc.text[:2048] and "Project Gutenberg" not in doc.text[-2048:]
        assert "\r" not in doc.text and not doc.text.startswith("\ufeff")
    # the "End of the Project Gutenberg EBook" line before a modern END marker goes too
    assert gutenberg.strip_book((DATA / "gutenberg" / "1004-0.txt").read_text()).body == MAKE.BODIES["1004"]


def test_latin1_utf8_bom_and_cp1252_decode_right():
    text, enc = gutenberg.decode_book((DATA / "gutenberg" / "1002.txt").read_bytes())
    assert enc == "latin-1" and MAKE.CAFE in " ".join(text.split()) and "caf\u00e9" in text
    text, enc = gutenberg.decode_book((DATA / "gutenberg" / "pg1001.txt").read_bytes())
    assert enc == "utf-8" and text.startswith("The Project Gutenberg eBook")
    text, enc = gutenberg.decode_book("\u201cQuoted\u201d caf\u00e9 \u2014 ok\n".encode("cp1252"))
    assert (text, enc) == ("\u201cQuoted\u201d caf\u00e9 \u2014 ok\n", "cp1252")


def test_a_file_that_is_not_text_is_a_fault_at_its_first_bad_byte(tmp_path):
    binary = bytes(range(256)) * 40
    with pytest.raises(gutenberg.NotText) as bad:
        gutenberg.decode_book(binary)
    assert bad.value.offset == 0  # NUL at byte 0
    noisy = b"plain words " * 50 + b"\x81\x01\x02\x03\x04\x05\x06" * 30
    with pytest.raises(gutenberg.NotText) as bad:
        gutenberg.decode_book(noisy)
    assert bad.value.offset == 600 and "control bytes" in str(bad.value)
    path = tmp_path / "pg77.txt"
    path.write_bytes(noisy)
    [fault] = list(books_input.read_unit(open_local, Unit(0, str(path)), "gutenberg"))
    assert isinstance(fault, Fault) and fault.offset == 600


def test_the_old_marker_walk_keeps_its_line_rules():
    body = [f"line {i} of the story" for i in range(150)]
    text = "\n".join(["The Project Gutenberg Etext of X", "header"] + body[:50]
                     + ["End of the Project Gutenberg Etext (too early to end)"] + body[50:]
                     + ["End of the Project Gutenberg Etext of X", "licence"])
    stripped = gutenberg.strip_book(text)
    assert stripped.how == "legacy"
    assert stripped.body.split("\n") == ["header"] + body[:50] + [
        "End of the Project Gutenberg Etext (too early to end)"] + body[50:]
    late = "\n".join(body * 5 + ["*END*THE SMALL PRINT! (past line 600: not a start)"] + body)
    assert gutenberg.strip_book(late).how == "none"
    legalese = "\n".join(["*END*THE SMALL PRINT!", "<<THIS ELECTRONIC VERSION OF X", "hidden",
                          "SERVICE THAT CHARGES FOR DOWNLOAD", "kept"])
    assert gutenberg.strip_book(legalese).body == "kept"


def test_book_numbers_from_names_and_headers():
    assert [gutenberg.book_number(n) for n in ("pg84.txt", "84-0.txt", "84-8.txt", "84.txt", "x.txt")] == [
        84, 84, 84, 84, None]
    assert gutenberg.book_number("x.txt", "Release Date: May 1 [EBook #1342]") == 1342
    assert gutenberg.book_number("x.txt", "[Etext #1002]") == 1002


# --- the catalog ---

def test_catalog_fields_are_read_from_the_rdf_records():
    entries = {e.gutenberg_id: e for e in _catalog()}
    assert entries[1001] == gutenberg_catalog.CatalogEntry(
        1001, "en", "Disks and Their Keepers", ("Shelley, Mary Wollstonecraft",), "Public domain in the USA.",
        "2004-03-03")
    assert entries[1002].authors == ("Writer, A.", "Helper, B.") and entries[1002].title == "The Quiet Caf\u00e9"
    assert not entries[1004].public_domain and entries[1001].public_domain
    assert [e.gutenberg_id for e in _catalog({1002, 9999})] == [1002]


def test_catalog_is_applied_and_not_public_domain_drops():
    docs, counters = _run(GUTENBERG, catalog="rdf-files.tar.bz2", catalog_entries=tuple(_catalog()))
    stats = counters.to_stats()
    assert not check_accounting(stats)
    assert stats["documents"]["dropped"] == {"gutenberg_boilerplate": 0, "no_gutenberg_markers": 1,
                                             "not_public_domain": 1}
    assert stats["chars"]["dropped"]["gutenberg_boilerplate"] > 2000
    doc = next(d for d in docs if d.meta["gutenberg_id"] == 1002)
    assert (doc.url, doc.date, doc.lang) == ("https://www.gutenberg.org/ebooks/1002", "1997-05-07", "en")
    assert doc.meta["authors"] == ["Writer, A.", "Helper, B."] and doc.meta["rights"] == "Public domain in the USA."
    assert doc.meta["encoding"] == "latin-1" and doc.meta["title"] == "The Quiet Caf\u00e9"
    assert doc.id == document_id("books", doc.url, content_digest(MAKE.BODIES["1002"]))
    # a book the catalog lacks
    docs, counters = _run(GUTENBERG, catalog="rdf-files.tar.bz2",
                          catalog_entries=tuple(e for e in _catalog() if e.gutenberg_id != 1001))
    assert counters.to_stats()["documents"]["dropped"]["not_in_catalog"] == 1


def test_a_corrupt_catalog_member_is_a_fault_and_the_rest_is_read(tmp_path):
    records = [(n, r.encode()) for n, r in MAKE.CATALOG]
    records[1] = (1002, b"<rdf:RDF><pgterms:ebook>cut short")
    data = MAKE.catalog_tar(records)
    items = list(gutenberg_catalog.read_catalog(io.BytesIO(data)))
    with tarfile.open(fileobj=io.BytesIO(bz2.decompress(data))) as tar:
        bad_at = tar.getmember("cache/epub/1002/pg1002.rdf").offset
    assert [type(i).__name__ for i in items] == ["CatalogEntry", "Fault", "CatalogEntry", "CatalogEntry"]
    assert items[1].offset == bad_at and "cache/epub/1002/pg1002.rdf" in items[1].error
    cut = list(gutenberg_catalog.read_catalog(io.BytesIO(data[:len(data) // 2])))
    assert isinstance(cut[-1], Fault)


# --- PG-19, txt, JSONL ---

def test_pg19_txt_and_jsonl_books():
    paths = sorted(str(p) for p in (DATA / "pg19" / "train").glob("*.txt"))
    paths += [str(DATA / "txt" / "Notes on Disks.txt"), str(DATA / "books3.jsonl")]
    formats = tuple(books_input.detect_format(p) for p in paths)
    assert formats == ("pg19", "pg19", "txt", "jsonl")
    from pipelines.books import load_pg19
    docs, counters = _run(paths, pg19_entries=load_pg19(paths, formats))
    by = {(d.meta["format"], d.meta.get("book_id") or d.meta.get("title")): d for d in docs}
    pg = by[("pg19", "2002")]
    assert pg.text == MAKE.BODIES["2002"] and pg.meta["has_dw_placeholders"] is True and pg.lang == "en"
    assert (pg.url, pg.date, pg.meta["short_book_title"], pg.meta["split"]) == (
        "http://www.gutenberg.org/ebooks/2002", "1905", "Arrays, Mirrors and Stripes", "train")
    assert by[("pg19", "2001")].meta["has_dw_placeholders"] is False
    txt = by[("txt", "Notes on Disks")]
    assert txt.text == MAKE.BODIES["txt"] and txt.url is None and txt.lang == "en" and txt.lang_score > 0.5
    assert txt.id == document_id("books", None, content_digest(MAKE.BODIES["txt"]))
    fr = by[("jsonl", "Les Disques")]
    assert fr.lang == "fr" and fr.text == MAKE.BODIES["jsonl_fr"]
    assert by[("jsonl", "Mirrors of Memory")].meta["meta"] == {"isbn": "none"}
    stats = counters.to_stats()
    assert not check_accounting(stats) and stats["documents"]["written"] == 5
    assert stats["malformed"][0]["offset"] == MAKE.jsonl_lines().index(b'{"title": "Broken"')


def test_too_short_keep_unmarked_and_langs():
    paths = GUTENBERG + [str(DATA / "books3.jsonl")]
    docs, counters = _run(paths, keep_unmarked=True, langs=("fr",))
    assert [d.meta["title"] for d in docs] == ["Les Disques"]
    dropped = counters.to_stats()["documents"]["dropped"]
    assert dropped["lang_not_selected"] == 5 and "no_gutenberg_markers" not in dropped
    docs, counters = _run(GUTENBERG, keep_unmarked=True, min_words=1250)
    assert counters.to_stats()["documents"]["dropped"]["too_short"] == 4 - len(docs) > 0
    assert all(len(d.text.split()) >= 1250 for d in docs)
    unmarked, _ = _run([str(DATA / "gutenberg" / "1003-0.txt")], keep_unmarked=True)
    assert unmarked[0].meta["strip"] == "none" and unmarked[0].text == "UNMARKED BOOK\n\n" + MAKE.BODIES["1003"] + "\n"
    assert lid_sample("word " * 10_000).startswith("word ") and len(lid_sample("word " * 10_000)) == 4096


def test_config_rules_name_the_flag():
    with pytest.raises(checks.ConfigError, match="--min-words"):
        BooksConfig(min_words=-1)
    with pytest.raises(checks.ConfigError, match="--langs"):
        BooksConfig(langs=("e n",))
    with pytest.raises(checks.ConfigError, match="--format"):
        BooksConfig(files=("a.txt",), formats=("pdf",))
    with pytest.raises(checks.ConfigError, match="--jsonl-unit-mb"):
        BooksConfig(jsonl_unit_mb=0)


def test_a_large_jsonl_file_is_read_in_ranges_each_book_once(tmp_path):
    from pipelines.books import plan_units

    path = tmp_path / "big.jsonl"
    text = MAKE.BODIES["jsonl"]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(300):
            f.write(json.dumps({"title": f"book {i}", "text": text}) + "\n")
    cfg = BooksConfig(files=(str(path),), formats=("jsonl",), jsonl_unit_mb=1)
    units = plan_units(cfg)
    assert len(units) == 3 and units[0].start == 0 and units[-1].end is None
    titles = [d.meta["title"] for u in units for d in books_input.read_unit(open_local, u, "jsonl")]
    assert titles == [f"book {i}" for i in range(300)]


# --- the command, end to end ---

def _cli(out: Path, *flags: str, reverse: bool = False) -> int:
    patterns = [str(DATA / "gutenberg" / "*.txt"), str(DATA / "pg19" / "train" / "*.txt"), str(DATA / "txt" / "*.txt"),
                str(DATA / "books3.jsonl")]
    inputs = [a for p in (patterns[::-1] if reverse else patterns) for a in ("--input", p)]
    return cli.main(["books", *inputs, "--catalog", str(DATA / "rdf-files.tar.bz2"), "--output", str(out), *flags])


def test_cli_end_to_end_is_the_same_for_one_and_two_workers_and_any_input_order(tmp_path):
    assert _cli(tmp_path / "one", "--workers", "1") == 0
    assert _cli(tmp_path / "two", "--workers", "2", reverse=True) == 0  # and the inputs in another order
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.parquet"))
    assert [str(p.parent) for p in one].count("lang=en/bucket=all") == 6 and len(one) == 7
    for rel in one:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()
    assert (tmp_path / "one" / "_stats.json").read_text() == (tmp_path / "two" / "_stats.json").read_text()
    rows = [r for rel in one for r in pq.read_table(tmp_path / "one" / rel).to_pylist()]
    assert all(r["source"] == "books" and r["bucket"] == "all" and r["perplexity"] is None for r in rows)
    assert all(r["id"] == document_id("books", r["url"], content_digest(r["text"])) for r in rows)
    urls = sorted(r["url"] for r in rows if r["url"])
    assert urls == ["http://www.gutenberg.org/ebooks/2001", "http://www.gutenberg.org/ebooks/2002",
                    "https://www.gutenberg.org/ebooks/1001", "https://www.gutenberg.org/ebooks/1002"]
    stats = json.loads((tmp_path / "one" / "_stats.json").read_text())
    assert not check_accounting(stats)
    assert stats["documents"]["read"] == 10 and stats["documents"]["written"] == 7
    assert stats["documents"]["dropped"] == {"gutenberg_boilerplate": 0, "malformed": 1, "no_gutenberg_markers": 1,
                                             "not_public_domain": 1}
    assert stats["config"]["catalog_books"] == 4 and stats["config"]["formats"] == {
        "gutenberg": 4, "jsonl": 1, "pg19": 2, "txt": 1}
    assert (tmp_path / "one" / "_SUCCESS").exists()


def test_bad_inputs_are_counted_and_the_rest_processed_and_strict_exits_2(tmp_path, capsys):
    src = tmp_path / "src"
    (src / "gutenberg").mkdir(parents=True)
    for p in (DATA / "gutenberg").glob("*.txt"):
        (src / "gutenberg" / p.name).write_bytes(p.read_bytes())
    (src / "gutenberg" / "pg1005.txt").write_bytes(bytes(range(256)) * 64)  # not text
    records = [(n, r.encode()) for n, r in MAKE.CATALOG] + [(1005, b"<not rdf")]
    (src / "rdf-files.tar.bz2").write_bytes(MAKE.catalog_tar(records))
    args = ["books", "--input", str(src / "gutenberg" / "*.txt"), "--input", str(DATA / "books3.jsonl"),
            "--catalog", str(src / "rdf-files.tar.bz2"), "--workers", "1"]
    assert cli.main(args + ["--output", str(tmp_path / "out")]) == 0
    stats = json.loads((tmp_path / "out" / "_stats.json").read_text())
    assert not check_accounting(stats)
    assert stats["documents"]["written"] == 4 and stats["malformed_total"] == 3
    assert sorted(Path(m["file"]).name for m in stats["malformed"]) == ["books3.jsonl", "pg1005.txt",
                                                                        "rdf-files.tar.bz2"]
    capsys.readouterr()
    assert cli.main(args + ["--output", str(tmp_path / "strict"), "--strict"]) == 2
    assert "rdf-files.tar.bz2" in capsys.readouterr().err and not (tmp_path / "strict" / "_SUCCESS").exists()
    assert cli.main(["books", "--input", str(DATA / "books3.jsonl"), "--output", str(tmp_path / "strict2"),
                     "--strict", "--workers", "1"]) == 2
    assert "books3.jsonl" in capsys.readouterr().err


# --- memory ---

# The catalog streamed for a few wanted books, then a JSONL file's books read and dropped: neither
# may hold more than a record, so the peak must not grow with the number of records.
READ_ALL = """
import sys
from corpus import books_input, gutenberg_catalog
from pipelines.source import Unit
from corpus.readers import open_local
with open(sys.argv[1], "rb") as f:
    kept = [e for e in gutenberg_catalog.read_catalog(f, {1, 2, 3})]
books = sum(1 for _ in books_input.read_unit(open_local, Unit(0, sys.argv[2]), "jsonl"))
print(len(kept), books)
"""
MEASURE = """
import resource, subprocess, sys
child = subprocess.run([sys.executable, "-c", *sys.argv[1:]], capture_output=True, text=True, check=True)
print(child.stdout.strip(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _big_inputs(folder: Path, records: int, n: int) -> tuple[Path, Path]:
    folder.mkdir()
    rng = random.Random(records)  # titles of random words: the real catalog compresses ~8x, not ~200x
    words = MAKE.BODIES["jsonl"].split()
    catalog = folder / "rdf-files.tar.bz2"
    catalog.write_bytes(MAKE.catalog_tar([(i, MAKE.rdf(i, " ".join(rng.choices(words, k=60)), [(i, "Author, A.")],
                                                       "en", "2001-01-01", MAKE.PUBLIC_DOMAIN).encode())
                                          for i in range(1, records + 1)]))
    jsonl = folder / "books.jsonl"
    line = json.dumps({"title": "t", "text": MAKE.BODIES["jsonl"]}) + "\n"
    with open(jsonl, "w", encoding="utf-8") as f:
        for _ in range(n):
            f.write(line)
    return catalog, jsonl


def test_reader_memory_stays_flat_as_catalog_and_jsonl_grow(tmp_path):
    def peak(records: int, n: int) -> int:
        catalog, jsonl = _big_inputs(tmp_path / str(n), records, n)
        done = subprocess.run([sys.executable, "-c", MEASURE, READ_ALL, str(catalog), str(jsonl)], cwd=REPO,
                              capture_output=True, text=True, check=True)
        kept, books, rss = done.stdout.split()
        assert (int(kept), int(books)) == (3, n)
        return int(rss)  # kB

    # 4x the records: the large JSONL is ~20 MB of text, the large catalog 16 MB of XML (bz2 buffers
    # reach their steady size by ~1,000 records)
    small, large = peak(1500, 600), peak(6000, 2400)
    assert large - small < 3 * 1024, (small, large)


def test_an_output_over_an_input_or_the_catalog_is_refused(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    book = src / "pg1001.txt"
    book.write_bytes((DATA / "gutenberg" / "pg1001.txt").read_bytes())
    cat = tmp_path / "cat"
    cat.mkdir()
    (cat / "rdf-files.tar.bz2").write_bytes((DATA / "rdf-files.tar.bz2").read_bytes())
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for out in (src, cat, tmp_path):
        assert cli.main(["books", "--input", str(book), "--catalog", str(cat / "rdf-files.tar.bz2"),
                         "--output", str(out), "--workers", "1"]) == 2
        assert "llamapipe books: error" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    with pytest.raises(SystemExit):
        cli.main(["books", "--input", str(book), "--output", str(tmp_path / "o"), "--min-words", "-1"])
    assert "--min-words must be >= 0" in capsys.readouterr().err
