"""`llamapipe stackexchange` on real dump files (tests/data/make_stackexchange.py): site names, the
streaming row reader and its faults, the cleaner's exact text and answer order, drop reasons and
accounting, site ranking and meta sites, .7z vs Posts.xml and 1 vs 2 workers byte-identical, damaged
inputs, and the command end to end. Memory: tests/test_stackexchange_memory.py."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus.counters import Units, check_accounting
from corpus.document import content_digest, document_id
from corpus.faults import Fault
from corpus.stackexchange_dump import THREAD_NAME, NotADumpFile, Post, is_meta_site, read_posts, site_of
from pipelines import cli, runner
from pipelines import stackexchange as graph
from pipelines.steps import checks
from pipelines.steps.stackexchange import (SiteCount, StackExchangeConfig, choose_layout, clean_html,
                                           order_answers, plan_sites, site_language, thread_text)

DATA = Path(__file__).parent / "data" / "stackexchange"
UNIX, RU, META = "unix.stackexchange.com", "ru.stackoverflow.com", "unix.meta.stackexchange.com"
ARCHIVES = sorted(str(p) for p in (DATA / "7z").glob("*.7z"))
EXTRACTED = sorted(str(p) for p in (DATA / "xml").glob("*/Posts.xml"))

# The fixture's bodies as the dump holds them once the XML is parsed (tests/data/make_stackexchange.py).
Q1_BODY = "<p>How do I list files?</p>\n<ul>\n<li>in bash</li>\n<li>in zsh</li>\n</ul>\n"
A2 = "<p>Use <code>ls -la</code>.</p>\n"
A3 = ("<p>Use <code>find . -maxdepth 1</code>.</p>\n"
      "<pre><code>find . -maxdepth 1 -type f\nfind . -maxdepth 1 -type d\n</code></pre>\n")
A4 = "<p>Just guess.</p>\n"
Q5_BODY = "<p>Why does &lt;b&gt; show up literally in my prompt?</p>\n"
TAG_WIKIS = ["<p>The Bourne Again SHell.</p>\n",
             "<p><strong>Bash</strong> is a shell.</p>\n<ol>\n<li>interactive</li>\n</ol>\n"]
ORPHAN = "<p>An answer to a deleted question.</p>\n"

GOLDEN_Q1 = ("Q: Listing files & directories How do I list files?\n\n\n*in bash\n\n*in zsh\n\n\n"
             "A: Use find . -maxdepth 1.\nfind . -maxdepth 1 -type f\nfind . -maxdepth 1 -type d\n\n\n"
             "A: Use ls -la.\n\n"
             "A: Just guess.\n")
GOLDEN_Q5 = "Q: Bold tags in my terminal Why does <b> show up literally in my prompt?\n"
GOLDEN_RU = {10: "Q: Как отсортировать список? Есть список [3, 1, 2].\n\n"
                 "A: Используйте sorted():\nsorted([3, 1, 2])\n\n",
             12: "Q: Что такое &? Что значит амперсанд?\n"}


def _run(files, out: Path, workers: int = 1, **config) -> dict:
    cfg = StackExchangeConfig(files=tuple(str(f) for f in files), out=str(out), **config)
    runner.run(lambda p: graph.build_pipeline(p, cfg), runner.pipeline_options([], workers))
    return json.loads((out / "_stats.json").read_text())


def _shards(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def _rows(out: Path) -> dict[str, dict]:
    return {r["url"]: r for p in sorted(out.rglob("*.parquet")) for r in pq.read_table(p).to_pylist()}


@pytest.fixture(scope="module")
def archive_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("se") / "out"
    return out, _run(ARCHIVES, out)


def test_site_names_come_from_file_names():
    assert site_of("/d/unix.stackexchange.com.7z") == UNIX
    assert site_of("/d/stackoverflow.com-Posts.7z") == "stackoverflow.com"
    assert site_of("/d/unix.stackexchange.com/Posts.xml") == UNIX
    assert site_of("/d/stackoverflow.com-Users.7z") is None and site_of("/d/unix.stackexchange.com/Users.xml") is None
    with pytest.raises(NotADumpFile, match="notes.txt"):
        site_of("/d/notes.txt")
    with pytest.raises(NotADumpFile, match="'dump' is not a site name"):
        site_of("/data/dump/Posts.xml")
    assert is_meta_site(META) and is_meta_site("meta.stackoverflow.com")
    assert not is_meta_site("metaphysics.stackexchange.com")
    assert [site_language(s) for s in (RU, "es.stackoverflow.com", "ja.meta.stackoverflow.com", UNIX,
                                       "ru.stackexchange.com")] == ["ru", "es", "ja", "en", "en"]


def test_reader_gives_the_same_rows_from_the_archive_and_from_posts_xml():
    for archive, xml in zip(ARCHIVES, EXTRACTED):
        assert site_of(archive) == site_of(xml)
        rows = list(read_posts(archive))
        assert rows == list(read_posts(xml)) and all(isinstance(r, Post) for r in rows)
    ru = (DATA / "xml" / RU / "Posts.xml").read_bytes()
    assert ru.startswith(b"\xef\xbb\xbf<?xml") and b"\r\n" in ru  # a byte order mark and CRLF lines read too
    unix = {p.id: p for p in read_posts(str(DATA / "xml" / UNIX / "Posts.xml"))}
    assert [unix[i].post_type for i in sorted(unix)] == [1, 2, 2, 2, 1, 4, 5, 2]
    assert unix[1].title == "Listing files & directories" and unix[1].body == Q1_BODY and unix[1].tags == "<bash><ls>"
    assert unix[3].body == A3 and unix[3].score == 10 and unix[8].parent_id == 99
    assert unix[1].accepted_answer_id == 3 and unix[1].content_license == "CC BY-SA 4.0"


def test_broken_rows_are_faults_at_their_byte_offset_and_the_rest_still_reads(tmp_path):
    data = (DATA / "xml" / UNIX / "Posts.xml").read_bytes()
    lines = data.split(b"\n")
    broken_at = data.index(b'  <row Id="5"')
    lines[6] = lines[6].replace(b'Score="2"', b'Score="2')  # row Id=5: an attribute never closed
    lines[7] = lines[7].replace(b'Score="0"', b'Score="zero"')  # row Id=6: not a number
    damaged = b"\n".join(lines[:10])  # ends after the orphan answer: no </posts>
    path = tmp_path / UNIX / "Posts.xml"
    path.parent.mkdir()
    path.write_bytes(damaged)
    items = list(read_posts(str(path)))
    faults = [i for i in items if isinstance(i, Fault)]
    assert [f.offset for f in faults] == [broken_at, damaged.index(b'  <row Id="6"'), len(damaged)]
    assert "broken row" in faults[0].error and "non-integer" in faults[1].error and "truncated" in faults[2].error
    assert [p.id for p in items if isinstance(p, Post)] == [1, 2, 3, 4, 7, 8]
    users = tmp_path / "x.stackexchange.com" / "Posts.xml"
    users.parent.mkdir()
    users.write_bytes(b'<?xml version="1.0" encoding="utf-8"?>\n<users>\n  <row Id="1" />\n</users>\n')
    assert [(f.offset, "not a Posts table" in f.error) for f in read_posts(str(users))] == [(39, True)]


def test_cleaning_keeps_list_items_code_lines_and_entities():
    assert clean_html(Q1_BODY) == "How do I list files?\n\n\n*in bash\n\n*in zsh\n\n"
    assert clean_html("<ol>\n<li>one</li>\n<li class=\"x\">two</li>\n</ol>") == "\n\n*one\n\n*two\n"
    assert clean_html(A3) == "Use find . -maxdepth 1.\nfind . -maxdepth 1 -type f\nfind . -maxdepth 1 -type d\n\n"
    assert clean_html(Q5_BODY) == "Why does <b> show up literally in my prompt?\n"
    assert clean_html("<p>a &amp; b &gt; c</p>") == "a & b > c"
    # RedPajama's replacements: <ol> itself becomes one more "*" line (lxml drops the leading newline).
    assert clean_html("<ol><li>one</li></ol>", "redpajama") == "*\n*one"


def test_answers_sort_by_integer_score_and_redpajama_by_string():
    q = Post(1, 1, title="T", body="<p>B</p>")
    answers = [Post(2, 2, 1, score=9, body="<p>nine</p>"), Post(3, 2, 1, score=10, body="<p>ten</p>"),
               Post(4, 2, 1, score=-1, body="<p>minus</p>"), Post(5, 2, 1, score=9, body="<p>nine again</p>")]
    assert [a.id for a in order_answers(reversed(answers))] == [3, 2, 5, 4]
    assert [a.id for a in order_answers(answers, "redpajama")] == [2, 5, 3, 4]
    assert thread_text(q, order_answers(answers)) == "Q: T B\nA: ten\nA: nine\nA: nine again\nA: minus"
    assert thread_text(Post(6, 1, title="Why <b>?", body="x"), [], "clean") == "Q: Why <b>? x"
    assert thread_text(Post(6, 1, title="Why <b>?", body="x"), [], "redpajama") == "Q: Why ? x"


def test_threads_have_the_golden_text_fields_and_every_post_is_accounted_for(archive_run):
    out, stats = archive_run
    rows = _rows(out)
    assert sorted(rows) == [f"https://{RU}/questions/10", f"https://{RU}/questions/12",
                            f"https://{UNIX}/questions/1", f"https://{UNIX}/questions/5"]
    q1 = rows[f"https://{UNIX}/questions/1"]
    assert q1["text"] == GOLDEN_Q1
    assert rows[f"https://{UNIX}/questions/5"]["text"] == GOLDEN_Q5
    assert {qid: rows[f"https://{RU}/questions/{qid}"]["text"] for qid in GOLDEN_RU} == GOLDEN_RU
    assert q1["id"] == document_id("stackexchange", q1["url"], content_digest(GOLDEN_Q1))
    assert (q1["source"], q1["date"], q1["lang"], q1["bucket"], q1["perplexity"]) == \
        ("stackexchange", "2010-08-10T15:43:21.437", "en", "all", None)
    assert json.loads(q1["meta"]) == {"site": UNIX, "question_id": 1, "question_score": 5, "answer_ids": [3, 2, 4],
                                      "answer_scores": [10, 9, -1], "answer_count": 3, "accepted_answer_id": 3,
                                      "tags": ["bash", "ls"], "content_license": "CC BY-SA 4.0"}
    assert rows[f"https://{RU}/questions/10"]["lang"] == "ru"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet")) == \
        ["lang=en/bucket=all/part-00001.parquet", "lang=ru/bucket=all/part-00000.parquet"]

    raw_q1 = f"Q: Listing files & directories {Q1_BODY}\nA: {A3}\nA: {A2}\nA: {A4}"
    raw_q5 = f"Q: Bold tags in my terminal {Q5_BODY}"
    written = [GOLDEN_Q1, GOLDEN_Q5, *GOLDEN_RU.values()]
    raw_ru = ["Q: Как отсортировать список? <p>Есть список <code>[3, 1, 2]</code>.</p>\n\nA: <p>Используйте "
              "<code>sorted()</code>:</p>\n<pre><code>sorted([3, 1, 2])\n</code></pre>\n",
              "Q: Что такое &? <p>Что значит <em>амперсанд</em>?</p>\n"]
    raw_threads = sum((Units.of(t) for t in [raw_q1, raw_q5, *raw_ru]), Units())
    out_units = sum((Units.of(t) for t in written), Units())
    tag_wikis = sum((Units.of(t) for t in TAG_WIKIS), Units())
    orphan = Units.of(f"A: {ORPHAN}")
    expect = {"not_qa_post": tag_wikis, "orphan_answer": orphan,
              "markup": Units(0, raw_threads.lines - out_units.lines, raw_threads.chars - out_units.chars)}
    for i, unit in enumerate(("documents", "lines", "chars")):
        assert stats[unit]["dropped"] == {reason: u.values()[i] for reason, u in expect.items()}
        assert stats[unit]["written"] == out_units.values()[i]
        assert stats[unit]["read"] == (raw_threads + tag_wikis + orphan).values()[i]
    assert not check_accounting(stats) and stats["malformed_total"] == 0
    assert stats["posts_read"] == {RU: {"question": 2, "answer": 1},
                                   UNIX: {"question": 2, "answer": 4, "tag_wiki_excerpt": 1, "tag_wiki": 1}}
    assert stats["sites"]["mode"] == "top" and stats["sites"]["selected"] == [RU, UNIX]
    assert stats["sites"]["posts"] == {RU: {"questions": 2, "answers": 1}, UNIX: {"questions": 2, "answers": 4}}
    assert stats["sites"]["skipped_files"] == [{"file": str(DATA / "7z" / f"{META}.7z"), "site": META,
                                                "why": "meta site (list it in --sites to keep it)"}]
    assert stats["config"]["top_sites"] == 28 and (out / "_SUCCESS").exists()


def test_archives_and_extracted_posts_give_the_same_bytes_for_any_worker_count(archive_run, tmp_path):
    out, stats = archive_run
    two = tmp_path / "two"
    stats_two = _run(EXTRACTED, two, workers=2)
    assert _shards(out) == _shards(two) and _shards(out)
    assert (out / "_manifest.json").read_bytes() == (two / "_manifest.json").read_bytes()
    for key in ("documents", "lines", "chars", "posts_read"):
        assert stats[key] == stats_two[key]

    # One part per question: each document lands in the part its site's range and its id's hash say,
    # sorted by question id inside the part.
    cfg = StackExchangeConfig(questions_per_part=1)
    parts = _run(ARCHIVES, tmp_path / "parts", workers=2, questions_per_part=1)
    assert parts["sites"]["parts"] == {RU: {"first": 0, "count": 2}, UNIX: {"first": 2, "count": 2}}
    layout = choose_layout(cfg, [SiteCount(RU, 2, 1), SiteCount(UNIX, 2, 4)])
    found = {}
    for path in sorted((tmp_path / "parts").rglob("*.parquet")):
        metas = [json.loads(m) for m in pq.read_table(path).column("meta").to_pylist()]
        assert [m["question_id"] for m in metas] == sorted(m["question_id"] for m in metas)
        found.update({(m["site"], m["question_id"]): path.name for m in metas})
    assert found == {key: f"part-{layout.part_of(*key):05d}.parquet" for key in
                     [(RU, 10), (RU, 12), (UNIX, 1), (UNIX, 5)]}
    assert sorted(_rows(tmp_path / "parts")) == sorted(_rows(out))


def test_top_sites_ranks_questions_and_answers_and_meta_sites_need_listing(tmp_path):
    stats = _run(ARCHIVES, tmp_path / "top1", top_sites=1)
    assert stats["sites"]["selected"] == [UNIX]
    assert stats["documents"]["dropped"]["site_not_selected"] == 3  # ru's two questions and one answer
    assert {r["lang"] for r in _rows(tmp_path / "top1").values()} == {"en"} and not check_accounting(stats)
    listed = _run(ARCHIVES, tmp_path / "listed", sites=(META, RU))
    assert listed["sites"]["mode"] == "listed" and listed["sites"]["selected"] == [RU, META]
    assert listed["sites"]["skipped_files"][0]["why"] == "not in --sites"
    urls = sorted(_rows(tmp_path / "listed"))
    assert len(urls) == 6 and sum(u.startswith(f"https://{META}/") for u in urls) == 4
    layout = choose_layout(StackExchangeConfig(top_sites=2), [SiteCount("b.com", 5, 5), SiteCount("a.com", 9, 1),
                                                             SiteCount("c.com", 1, 1)])
    assert layout.selected == ("a.com", "b.com")  # 10 posts each: the tie goes by name, c.com is out


def test_config_refuses_what_it_cannot_run(tmp_path):
    with pytest.raises(checks.ConfigError, match="--top-sites"):
        StackExchangeConfig(top_sites=0)
    with pytest.raises(checks.ConfigError, match="--sites: 'not a site'"):
        StackExchangeConfig(sites=("not a site",))
    with pytest.raises(checks.ConfigError, match="--compat"):
        StackExchangeConfig(compat="raw")
    with pytest.raises(checks.ConfigError, match="given twice"):
        plan_sites(StackExchangeConfig(files=(ARCHIVES[1], EXTRACTED[1])))
    with pytest.raises(checks.ConfigError, match="--sites names math.stackexchange.com"):
        plan_sites(StackExchangeConfig(files=tuple(ARCHIVES), sites=("math.stackexchange.com",)))
    with pytest.raises(checks.ConfigError, match="no --input file holds a site to keep: .*meta site"):
        plan_sites(StackExchangeConfig(files=(str(DATA / "7z" / f"{META}.7z"),)))


def _damaged_inputs(folder: Path) -> list[str]:
    """A truncated archive, an archive with flipped bytes in its stream, and a Posts.xml with a broken
    row that ends early (no </posts>), next to a good archive."""
    folder.mkdir()
    good = (DATA / "7z" / f"{UNIX}.7z").read_bytes()
    (folder / "cut.stackexchange.com.7z").write_bytes(good[:len(good) // 2])
    (folder / "flipped.stackexchange.com.7z").write_bytes(good[:100] + bytes(b ^ 0xFF for b in good[100:140]) +
                                                          good[140:])
    xml = (DATA / "xml" / UNIX / "Posts.xml").read_bytes().replace(b'Score="2"', b'Score="2', 1)
    (folder / "broken.stackexchange.com").mkdir()
    (folder / "broken.stackexchange.com" / "Posts.xml").write_bytes(xml[:xml.index(b"</posts>")])
    shutil.copy(DATA / "7z" / f"{RU}.7z", folder)
    return sorted(str(p) for p in folder.rglob("*") if p.is_file())


def test_damaged_inputs_are_counted_as_malformed_and_strict_stops(tmp_path, capsys):
    files = _damaged_inputs(tmp_path / "in")
    stats = _run(files, tmp_path / "out")
    faults = {(Path(m["file"]).name if m["file"].endswith(".7z") else Path(m["file"]).parent.name, m["offset"]):
              m["error"] for m in stats["malformed"]}
    xml = (tmp_path / "in" / "broken.stackexchange.com" / "Posts.xml").read_bytes()
    assert sorted(faults) == [("broken.stackexchange.com", xml.index(b'  <row Id="5"')),
                              ("broken.stackexchange.com", len(xml)),
                              ("cut.stackexchange.com.7z", 0), ("flipped.stackexchange.com.7z", 0)]
    assert "not a readable 7z archive" in faults[("cut.stackexchange.com.7z", 0)]
    assert "damaged archive" in faults[("flipped.stackexchange.com.7z", 0)]
    assert stats["documents"]["dropped"]["malformed"] == stats["malformed_total"] == 4
    urls = sorted(_rows(tmp_path / "out"))
    assert "https://broken.stackexchange.com/questions/1" in urls and len(urls) == 3  # two ru questions too
    assert not check_accounting(stats) and (tmp_path / "out" / "_SUCCESS").exists()
    rc = cli.main(["stackexchange", "--input", str(tmp_path / "in" / "*.7z"), "--output", str(tmp_path / "strict"),
                   "--strict", "--workers", "1"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "cut.stackexchange.com.7z at byte 0: not a readable 7z archive" in err
    assert not (tmp_path / "strict" / "_SUCCESS").exists()


def test_command_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["stackexchange", "--input", str(DATA / "7z" / "*.7z"), "--output", str(out), "--top-sites", "1",
            "--require-answer", "--workers", "1"]
    assert cli.main(argv) == 0
    stats = json.loads((out / "_stats.json").read_text())
    assert stats["config"] == {"files": 3, "sites": None, "top_sites": 1, "questions_per_part": 20000,
                               "require_answer": True, "compat": "clean"}
    assert [r["text"] for r in _rows(out).values()] == [GOLDEN_Q1]
    assert stats["documents"]["dropped"]["unanswered"] == 1 and (out / "_SUCCESS").exists()
    assert cli.main(argv) == 2 and "--overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        cli.main(["stackexchange", "--input", str(DATA / "7z" / "*.7z"), "--output", str(tmp_path / "x"),
                  "--sites", "Bad Site"])
    assert refused.value.code == 2 and "'bad site' is not a site name" in capsys.readouterr().err
    assert cli.main(["stackexchange", "--input", str(DATA / "7z" / "*.7z"), "--output", str(tmp_path / "x"),
                     "--sites", "math.stackexchange.com"]) == 2
    assert "which no --input file holds" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_reader_and_steps_import_no_beam():
    code = ("import sys, corpus.stackexchange_dump, pipelines.steps.stackexchange; "
            "print('apache_beam' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "False"


def test_closing_the_archive_reader_early_stops_its_decompressing_thread(tmp_path):
    import random
    import threading

    import py7zr

    rnd = random.Random(3)
    rows = [f'  <row Id="{i}" PostTypeId="1" Score="0" Title="t{i}" Body="{rnd.randbytes(300).hex()}" />'
            for i in range(1, 20_001)]
    xml = ('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "\n".join(rows) + "\n</posts>\n").encode()
    archive = tmp_path / "big.stackexchange.com.7z"
    with py7zr.SevenZipFile(archive, "w", filters=[{"id": py7zr.FILTER_LZMA2, "preset": 0}]) as z:
        z.writestr(xml, "Posts.xml")
    def decompressing() -> int:
        return sum(t.name == THREAD_NAME and t.is_alive() for t in threading.enumerate())

    posts = read_posts(str(archive))
    assert next(posts).id == 1 and decompressing() == 1  # the thread waits on the full queue
    posts.close()
    assert decompressing() == 0
    assert sum(1 for _ in read_posts(str(archive))) == 20_000
