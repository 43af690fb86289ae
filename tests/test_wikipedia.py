"""`llamapipe wikipedia` on real multistream dump pairs (tests/data/make_wikipedia.py): the plan from the
index and from a scan, the streaming reader and its faults, the cleaner's exact output, the recipe's
drop reasons, split and worker invariance through the CLI, language selection, and flat memory."""
from __future__ import annotations

import bz2
import importlib.util
import json
import logging
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus import bz2_streams
from corpus import wikipedia_dump as dump
from corpus.counters import check_accounting
from corpus.document import Document, content_digest, document_id
from corpus.faults import Fault
from corpus.readers import open_local
from pipelines import cli
from pipelines.steps import checks
from pipelines.steps.chain import run_file
from pipelines.steps.wikipedia import (LLAMA_LANGS, MEDIA_ALIASES, CATEGORY_ALIASES, Namespaces, WikipediaConfig,
                                       clean_wikitext, recipe)

DATA = Path(__file__).parent / "data" / "wikipedia"
REPO = Path(__file__).resolve().parents[1]
EN = DATA / "enwiki-20220701-pages-articles-multistream.xml.bz2"
DE = DATA / "dewiki-20220701-pages-articles-multistream.xml.bz2"
LOG = logging.getLogger("test_wikipedia")


def _maker():
    spec = importlib.util.spec_from_file_location("make_wikipedia", Path(__file__).parent / "data" / "make_wikipedia.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


MAKE = _maker()

GOLDEN = {
    "Alan Turing": (
        "Alan Mathison Turing (23 June 1912 – 7 June 1954) was an English mathematician and computer scientist. "
        "He is widely considered the father of theoretical computer science.\n\n"
        "Early life\n"
        "Turing was born in Maida Vale, London. See the archive or for more.\n\n"
        "Education\n"
        "He studied at King's College, Cambridge & Princeton."),
    "Zürich": "Zürich is the largest city in Switzerland.\nIt lies at the north-western tip of Lake Zurich.",
    "Ada Lovelace": "Ada Lovelace was an English mathematician.",
    "Berlin": ("Berlin ist die Hauptstadt der Bundesrepublik Deutschland.\n\n"
               "Geschichte\n"
               "Die erste urkundliche Erwähnung stammt von 1237."),
    "München": "München ist die Landeshauptstadt des Freistaates Bayern.",
}


def _documents(path: Path, start: int = 0, end=None) -> tuple[list[Document], dict]:
    docs, counters = run_file(dump.read_range(open_local, str(path), start, end), str(path), False, recipe(), LOG)
    return docs, counters.to_stats()


def _offsets(path: Path) -> list[int]:
    return dump.index_offsets(open_local, dump.index_path(str(path)))


def test_fixture_script_writes_the_committed_files(tmp_path):
    MAKE.main(tmp_path)
    for f in sorted(DATA.iterdir()):
        assert (tmp_path / f.name).read_bytes() == f.read_bytes(), f.name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in DATA.iterdir())


def test_cleaned_text_of_every_fixture_article_is_exact():
    docs = [d for path in (EN, DE) for d in _documents(path)[0]]
    assert {d.meta["title"]: d.text for d in docs} == GOLDEN
    turing = docs[0]
    assert turing.source == "wikipedia" and turing.lang == "en" and turing.bucket == "all"
    assert turing.url == "https://en.wikipedia.org/wiki/Alan_Turing" and turing.date == "2022-06-30T12:00:00Z"
    assert turing.meta == {"page_id": 10, "rev_id": 1070, "title": "Alan Turing", "dump": "enwiki-20220701",
                           "stream_offset": _offsets(EN)[0]}
    assert turing.lang_score is None and turing.perplexity is None
    zurich = next(d for d in docs if d.meta["title"] == "Zürich")
    assert zurich.url == "https://en.wikipedia.org/wiki/Z%C3%BCrich" and zurich.meta["stream_offset"] == _offsets(EN)[1]
    raw = next(p for s in MAKE.EN_STREAMS for p in s if p.title == "Zürich").text
    assert zurich.id == document_id("wikipedia", zurich.url, content_digest(raw))
    assert {d.lang for d in docs if d.meta["dump"] == "dewiki-20220701"} == {"de"}


def test_drop_reasons_are_counted_and_add_up():
    docs, stats = _documents(EN)
    assert [d.meta["title"] for d in docs] == ["Alan Turing", "Zürich", "Ada Lovelace"]
    assert stats["documents"]["read"] == 7 and stats["documents"]["written"] == 3
    assert {r: n for r, n in stats["documents"]["dropped"].items() if n} == {
        "not_article": 1, "redirect": 1, "empty_text": 1, "empty_after_clean": 1}
    assert stats["chars"]["dropped"]["markup"] > 0 and stats["lines"]["dropped"]["markup"] > 0
    assert not check_accounting(stats)


@pytest.mark.parametrize("lang", LLAMA_LANGS)
def test_media_and_category_links_of_each_language_are_removed(lang):
    ns = Namespaces.of(lang)
    for media in ["File", "image", *MEDIA_ALIASES[lang]]:
        for category in ["Category", *CATEGORY_ALIASES[lang]]:
            raw = (f"[[{media}:Photo 1.jpg|thumb|A [[caption]]]]\nText with [[Target page|shown words]].\n"
                   f"[[{category}:Things|sort key]]\n[[ {category.lower()} : Other ]]")
            assert clean_wikitext(raw, ns) == "Text with shown words.", (media, category)


def test_cleaner_keeps_headings_as_lines_and_drops_empty_sections():
    ns = Namespaces.of("en")
    raw = ("Lead <!-- c --> {{convert|5|km}} text.\n== History ==\n=== Early ===\nOld times.\n"
           "== See also ==\n* {{Portal|X}}\n== Notes ==\n<references />\n__NOTOC__ __FORCETOC__")
    assert clean_wikitext(raw, ns) == "Lead text.\n\nHistory\n\nEarly\nOld times."
    assert clean_wikitext("A __not_magic__ word\n\n\n\nB", ns) == "A __not_magic__ word\n\nB"
    assert clean_wikitext("A <math>x^2</math> b\n<gallery>\nX.jpg|x\n</gallery>\nC\n{{Navbox}}\nD", ns) == "A b\nC\nD"


def test_index_and_scan_plan_the_same_units(tmp_path):
    for path in (EN, DE):
        size = path.stat().st_size
        for per_unit in (1, 2, 50):
            indexed = dump.plan_file(open_local, str(path), size, per_unit, dump.index_path(str(path)))
            scanned = dump.plan_file(open_local, str(path), size, per_unit, None)
            assert indexed.ranges == scanned.ranges and not indexed.warnings
            assert "no multistream index" in scanned.warnings[0]
        starts = [a for a, _ in dump.plan_file(open_local, str(path), size, 1, None).ranges]
        assert starts == _offsets(path)
    # The header stream and the footer stream are verified stream starts too, but hold no pages.
    with open(EN, "rb") as f:
        found = [o for o, _ in bz2_streams.stream_starts(f, 0, EN.stat().st_size)]
    assert found[0] == 0 and found[1:-1] == _offsets(EN) and len(found) == len(_offsets(EN)) + 2


def test_split_parts_name_their_index_and_an_index_is_no_dump():
    part = "/d/enwiki-20220701-pages-articles-multistream1.xml-p1p41242.bz2"
    assert dump.index_path(part) == "/d/enwiki-20220701-pages-articles-multistream-index1.txt-p1p41242.bz2"
    assert dump.is_index(dump.index_path(part)) and not dump.is_index(part)
    assert dump.parse_name("zh_yuewiki-20220701-pages-articles.xml.bz2").lang == "zh-yue"
    with pytest.raises(dump.DumpError, match="not a Wikipedia dump name"):
        dump.parse_name(dump.index_path(part))


def test_a_single_stream_dump_is_one_unit_with_the_same_pages(tmp_path):
    xml = (MAKE.SITEINFO.format(lang="en") + "".join(MAKE.page_xml(p) for s in MAKE.EN_STREAMS for p in s)
           + MAKE.FOOTER)
    single = tmp_path / "enwiki-20220701-pages-articles.xml.bz2"
    single.write_bytes(bz2.compress(xml.encode("utf-8")))
    planned = dump.plan_file(open_local, str(single), single.stat().st_size, 50, dump.index_path(str(single)))
    assert planned.ranges == ((0, single.stat().st_size),) and "not a multistream dump" in planned.warnings[0]
    docs, stats = _documents(single)
    assert [(d.meta["title"], d.text) for d in docs] == [(d.meta["title"], d.text) for d in _documents(EN)[0]]
    assert {d.meta["stream_offset"] for d in docs} == {0} and not stats["malformed"]


def test_cli_plans_a_dump_without_index_by_scanning_and_says_so(tmp_path, capsys):
    from pipelines.cli import wikipedia as command

    alone = tmp_path / DE.name
    shutil.copy(DE, alone)
    files = [str(alone), str(EN)]
    units, unindexed, indexes = command.plan(files, {}, 1)
    assert units == tuple((0, a, b) for a, b in dump.plan_file(open_local, str(DE), DE.stat().st_size, 1, None).ranges) \
        + tuple((1, a, b) for a, b in dump.plan_file(open_local, str(EN), EN.stat().st_size, 1, None).ranges)
    assert unindexed == (0,) and indexes == [dump.index_path(str(EN))]
    assert f"{alone}: no multistream index beside it" in capsys.readouterr().err
    odd = tmp_path / "notes.xml.bz2"
    odd.write_bytes(bz2.compress(b"<x/>"))
    assert cli.main(["wikipedia", "--input", str(odd), "--output", str(tmp_path / "out")]) == 2
    assert "not a Wikipedia dump name" in capsys.readouterr().err


def _copy_pair(src: Path, folder: Path) -> Path:
    folder.mkdir()
    shutil.copy(src, folder / src.name)
    shutil.copy(dump.index_path(str(src)), folder)
    return folder / src.name


def test_a_truncated_dump_gives_the_first_streams_pages_and_one_fault(tmp_path):
    second, third = _offsets(EN)[1:3]
    cut = _copy_pair(EN, tmp_path / "cut")
    cut.write_bytes(EN.read_bytes()[:(second + third) // 2])
    items = list(dump.read_range(open_local, str(cut), _offsets(EN)[0]))
    faults = [i for i in items if isinstance(i, Fault)]
    assert [i.meta["title"] for i in items if isinstance(i, Document)] == ["Alan Turing", "Turing"]
    assert len(faults) == 1 and faults[0].offset == second and "truncated" in faults[0].error

    plan = dump.plan_file(open_local, str(cut), cut.stat().st_size, 1, dump.index_path(str(cut)))
    assert [a for a, _ in plan.ranges] == [_offsets(EN)[0], second] and "past the end" in plan.warnings[0]
    assert cli.main(["wikipedia", "--input", str(cut), "--output", str(tmp_path / "out"), "--workers", "1",
                     "--streams-per-unit", "1"]) == 0
    stats = json.loads((tmp_path / "out" / "_stats.json").read_text())
    assert stats["malformed"] == [{"file": str(cut), "offset": second, "error": faults[0].error}]
    assert stats["documents"]["written"] == 1 and not check_accounting(stats)
    assert cli.main(["wikipedia", "--input", str(cut), "--output", str(tmp_path / "strict"), "--workers", "1",
                     "--strict"]) == 2
    assert not (tmp_path / "strict" / "_SUCCESS").exists()


def test_a_corrupt_stream_is_one_fault_and_reading_resumes_after_it(tmp_path):
    first, second, third = _offsets(EN)
    data = bytearray(EN.read_bytes())
    for i in range(second + 20, second + 60):
        data[i] ^= 0x5A
    bad = tmp_path / EN.name
    bad.write_bytes(bytes(data))
    items = list(dump.read_range(open_local, str(bad), first))  # one range: resync by scanning
    assert [i.offset for i in items if isinstance(i, Fault)] == [second]
    assert [i.meta["title"] for i in items if isinstance(i, Document)] == [
        "Alan Turing", "Turing", "Empty page", "Ada Lovelace", "Only markup"]

    broken_xml = tmp_path / "xml" / EN.name
    streams = [MAKE.EN_STREAMS[0], [MAKE.Page("Broken", 0, 99, "x")], MAKE.EN_STREAMS[2]]
    MAKE.write_dump(broken_xml.parent, "en", streams)
    offsets = _offsets(broken_xml)
    raw = bytearray(broken_xml.read_bytes())
    good = bz2.decompress(raw[offsets[1]:offsets[2]])
    raw[offsets[1]:offsets[2]] = bz2.compress(good.replace(b"</title>", b"</titel>"))
    broken_xml.write_bytes(bytes(raw))
    items = list(dump.read_range(open_local, str(broken_xml), offsets[0]))
    faults = [i for i in items if isinstance(i, Fault)]
    assert len(faults) == 1 and faults[0].offset == offsets[1] and "broken XML" in faults[0].error
    assert [i.meta["title"] for i in items if isinstance(i, Document)][-1] == "Only markup"


def _rows(out: Path) -> list[dict]:
    parts = sorted(out.rglob("part-*.parquet"), key=lambda p: p.name)
    return [r for p in parts for r in pq.read_table(p).to_pylist()]


def _run(tmp_path: Path, name: str, *flags: str) -> Path:
    out = tmp_path / name
    assert cli.main(["wikipedia", "--input", str(DATA / "*.bz2"), "--output", str(out), *flags]) == 0
    return out


def test_cli_end_to_end_split_and_worker_invariance(tmp_path):
    one = _run(tmp_path, "one", "--workers", "1", "--streams-per-unit", "1")
    two = _run(tmp_path, "two", "--workers", "2", "--streams-per-unit", "1")
    whole = _run(tmp_path, "whole", "--workers", "1")
    names = sorted(str(p.relative_to(one)) for p in one.rglob("*.parquet"))
    assert names == ["lang=de/bucket=all/part-00000.parquet", "lang=de/bucket=all/part-00001.parquet",
                     "lang=en/bucket=all/part-00002.parquet", "lang=en/bucket=all/part-00003.parquet",
                     "lang=en/bucket=all/part-00004.parquet"]
    for rel in names + ["_manifest.json"]:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel
    assert _rows(one) == _rows(whole)
    assert [r["text"] for r in _rows(one)] == [GOLDEN[t] for t in ("Berlin", "München", "Alan Turing", "Zürich",
                                                                  "Ada Lovelace")]
    stats = json.loads((one / "_stats.json").read_text())
    assert stats["config"]["files"] == 2 and stats["config"]["units"] == 5  # the index files are no dumps
    assert json.loads((whole / "_stats.json").read_text())["config"]["units"] == 2
    assert stats["documents"]["dropped"]["not_article"] == 2 and stats["documents"]["written"] == 5
    assert not check_accounting(stats) and (one / "_SUCCESS").exists()


def test_all_llama_languages_are_accepted_and_others_refused(tmp_path, capsys):
    files = tuple(f"/d/{lang}wiki-20220701-pages-articles-multistream.xml.bz2" for lang in LLAMA_LANGS)
    cfg = WikipediaConfig(files=files, dump_langs=tuple(dump.parse_name(f).lang for f in files))
    assert cfg.dump_langs == LLAMA_LANGS == cfg.langs
    args = cli.build_parser().parse_args(["wikipedia", "--input", "x", "--output", "y", "--langs", ",".join(LLAMA_LANGS)])
    assert tuple(args.langs) == LLAMA_LANGS
    with pytest.raises(checks.ConfigError, match="'de' is not in --langs"):
        WikipediaConfig(files=files[4:5], dump_langs=("de",), langs=("en",))
    out = tmp_path / "out"
    assert cli.main(["wikipedia", "--input", str(DATA / "*.bz2"), "--output", str(out), "--langs", "en"]) == 2
    err = capsys.readouterr().err
    assert "dewiki-20220701-pages-articles-multistream.xml.bz2 is a 'de' Wikipedia dump" in err and "--langs" in err
    assert not out.exists()
    with pytest.raises(checks.ConfigError, match="--streams-per-unit"):
        WikipediaConfig(streams_per_unit=0)


READ_ALL = """
import sys
from corpus import wikipedia_dump
from corpus.readers import open_local
print(sum(1 for _ in wikipedia_dump.read_range(open_local, sys.argv[1])))
"""
# Runs the reader as its only child, so the peak it reports is the reader's alone (this test process
# may have had larger children before: Beam workers).
MEASURE = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-c", sys.argv[1], sys.argv[2]], capture_output=True, text=True, check=True)
print(done.stdout.strip(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _synthetic_dump(folder: Path, pages: int) -> Path:
    rnd = random.Random(pages)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9))) for _ in range(5000)]

    def page(i: int):
        text = " ".join(rnd.choice(words) for _ in range(120)) + f"\n[[Category:C{i % 50}]]"
        return MAKE.Page(f"Page {i}", 0, i + 1, text)

    streams = [[page(s * 100 + j) for j in range(100)] for s in range(pages // 100)]
    return MAKE.write_dump(folder, "en", streams, index=False)[0]


def test_reader_memory_stays_flat_as_the_dump_grows(tmp_path):
    small = _synthetic_dump(tmp_path / "small", 5000)
    large = _synthetic_dump(tmp_path / "large", 20000)
    assert large.stat().st_size > 3 * small.stat().st_size > 3 << 20

    def peak(path: Path, pages: int) -> int:
        done = subprocess.run([sys.executable, "-c", MEASURE, READ_ALL, str(path)], cwd=REPO, capture_output=True,
                              text=True, check=True)
        count, rss = done.stdout.split()
        assert int(count) == pages
        return int(rss)  # kB

    small_peak = peak(small, 5000)
    large_peak = peak(large, 20000)
    assert large_peak - small_peak < 8 * 1024, (small_peak, large_peak)
