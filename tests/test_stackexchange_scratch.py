"""The Stack Exchange join without a shuffle of posts: hash ranges, scratch buckets written with a
bounded buffer and read back whole, output parts that do not depend on the buckets, the scratch
folder gone after a run, and the whole command's memory flat as its input grows."""
from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus.counters import Counters, Units
from corpus.stackexchange_dump import ANSWER, QUESTION, Post, read_posts
from pipelines import cli, fileio, outdir
from pipelines import stackexchange as graph
from pipelines.steps import stackexchange as se

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "stackexchange"
UNIX = "unix.stackexchange.com"


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # the benchmark modules import each other by name
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _posts(n_questions: int, seed: int = 1) -> list[Post]:
    """Questions with 0-3 answers each, answers in a different order than their questions, one orphan."""
    rnd = random.Random(seed)
    questions, answers, next_id = [], [], 1
    for _ in range(n_questions):
        qid = next_id
        next_id += 1
        questions.append(Post(qid, QUESTION, title=f"T{qid}", body=f"<p>{'x' * rnd.randint(10, 400)}</p>",
                              score=rnd.randint(-2, 9)))
        for _ in range(rnd.randint(0, 3)):
            answers.append(Post(next_id, ANSWER, parent_id=qid, body=f"<p>{'y' * rnd.randint(10, 400)}</p>",
                                score=rnd.randint(-2, 9), creation_date="2020-01-01T00:00:00.000"))
            next_id += 1
    answers.append(Post(next_id, ANSWER, parent_id=10 ** 9, body="<p>orphan</p>"))
    rnd.shuffle(answers)
    return questions + answers


def _write(folder: Path, posts: list[Post], buckets: int, **bounds) -> tuple[tuple[int, ...], list[int]]:
    """Posts through a ScratchWriter into `folder`; the buckets written and the rows waiting after each add."""
    waiting = []
    with se.ScratchWriter(3, buckets, lambda name: fileio.AtomicFile(str(folder / name)), **bounds) as scratch:
        for post in posts:
            scratch.add(post)
            waiting.append(scratch.waiting)
        written = scratch.close()
    return written, waiting


def _row_groups(folder: Path):
    for path in sorted(folder.glob("*.parquet")):
        f = pq.ParquetFile(path)
        for i in range(f.num_row_groups):
            yield f.read_row_group(i)


def test_hash_ranges_cover_the_space_once_in_order():
    rnd = random.Random(5)
    hashes = [0, 1, (1 << 64) - 1, 1 << 63] + [rnd.getrandbits(64) for _ in range(2000)]
    for n in (1, 2, 3, 7, 1000):
        ranges = [se.hash_range(k, n) for k in range(n)]
        assert ranges[0][0] == 0 and ranges[-1][1] == 1 << 64
        assert all(hi == lo for (_, hi), (lo, _) in zip(ranges, ranges[1:]))
        for h in hashes:
            k = se.range_index(h, n)
            assert ranges[k][0] <= h < ranges[k][1]
    assert se.scratch_buckets(0) == 1 and se.scratch_buckets(se.SCRATCH_INPUT_BYTES + 1) == 2
    assert se.scratch_buckets(1 << 50) == se.MAX_BUCKETS


def test_scratch_buckets_hold_every_post_once_with_a_bounded_buffer(tmp_path):
    posts = _posts(600)
    written, waiting = _write(tmp_path, posts, 5, buffer_bytes=20_000, group_bytes=8_000)
    assert written == (0, 1, 2, 3, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [se.scratch_name(3, b) for b in written]
    assert max(waiting) < 20_000  # never more than the buffer waits (a row is at most ~900 bytes here)
    rows = [r for t in _row_groups(tmp_path) for r in t.to_pylist()]
    assert sorted(r["id"] for r in rows) == sorted(p.id for p in posts)
    for r in rows:
        assert r["hash"] == se.stable_hash(r["thread"]) and r["thread"] == (r["parent_id"] or r["id"])
    by_file = {path.name: pq.read_table(path).column("hash").to_pylist() for path in tmp_path.glob("*.parquet")}
    assert all(se.range_index(h, 5) == int(name[6:11]) for name, hs in by_file.items() for h in hs)
    groups = [pq.ParquetFile(p).metadata.num_row_groups for p in tmp_path.glob("*.parquet")]
    assert sum(groups) > 2 * len(groups)  # written as the rows came, not once at the end
    groups = list(se.thread_groups(se.part_posts(_row_groups(tmp_path), 0, 1 << 64), slice_rows=7))
    threads = [{se.thread_id(p) for p in group} for group in groups]
    assert all(len(t) == 1 for t in threads) and [min(t) for t in threads] == sorted({min(t) for t in threads})
    assert {p.id: p for group in groups for p in group} == {p.id: p for p in posts}  # every field survives


def test_output_parts_do_not_depend_on_the_scratch_buckets(tmp_path):
    posts = _posts(300)
    cfg = se.StackExchangeConfig(questions_per_part=70)
    parts_of = {}
    for buckets in (1, 4, 9):
        folder = tmp_path / str(buckets)
        written, _ = _write(folder, posts, buckets, buffer_bytes=30_000)
        layout = se.choose_layout(cfg, [se.SiteCount(UNIX, 300, len(posts) - 300)])
        tasks, not_selected = se.plan_joins(layout, [se.SiteRead(layout.counts[0], 3, buckets, written, Units())])
        assert [t.part for t in tasks] == [0, 1, 2, 3, 4] and not not_selected.reads.docs
        if buckets == 9:  # each part reads only the buckets its range overlaps
            assert all(len(t.files) < 9 for t in tasks)
        steps, counters, parts = se.recipe(cfg), Counters(), {}
        for task in tasks:
            tables = (pq.read_table(folder / name) for name in task.files)
            docs = list(se.join_part(UNIX, se.part_posts(tables, task.lo, task.hi), cfg, steps, counters))
            ids = [d.meta["question_id"] for d in docs]
            assert ids == sorted(ids) and all(layout.part_of(UNIX, i) == task.part for i in ids)
            parts[task.part] = [(d.id, d.text) for d in docs]
        assert sum(len(p) for p in parts.values()) == 300
        assert counters.drops["orphan_answer"].docs == 1 and counters.reads.docs == 301
        parts_of[buckets] = parts
    assert parts_of[1] == parts_of[4] == parts_of[9]


def test_sites_not_kept_are_counted_from_their_read_sizes():
    counts = [se.SiteCount("a.com", 3, 1), se.SiteCount("b.com", 1, 0)]
    layout = se.choose_layout(se.StackExchangeConfig(top_sites=1), counts)
    reads = [se.SiteRead(counts[0], 0, 1, (0,), Units(4, 9, 100)), se.SiteRead(counts[1], 1, 2, (1,), Units(1, 2, 30))]
    tasks, counters = se.plan_joins(layout, reads)
    assert [(t.part, t.site, t.files) for t in tasks] == [(0, "a.com", ("00000-00000.parquet",))]
    assert counters.reads == counters.drops["site_not_selected"] == Units(1, 2, 30)


def test_a_failed_scratch_write_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError, match="stop"):
        with se.ScratchWriter(0, 2, lambda name: fileio.AtomicFile(str(tmp_path / name)), buffer_bytes=1000) as s:
            for post in _posts(50):
                s.add(post)
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_the_scratch_folder_is_claimed_and_gone_after_a_run(tmp_path):
    out = tmp_path / "out"
    assert outdir.matches(f"_temporary/stackexchange/{se.scratch_name(0, 0)}", graph.output_patterns())
    assert cli.main(["stackexchange", "--input", str(DATA / "7z" / "*.7z"), "--output", str(out),
                     "--workers", "1"]) == 0
    assert (out / "_SUCCESS").exists() and not (out / "_temporary").exists()
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "_SUCCESS", "_manifest.json", "_stats.json", "lang=en/bucket=all/part-00001.parquet",
        "lang=ru/bucket=all/part-00000.parquet"]
    posts = [p for p in read_posts(str(DATA / "xml" / UNIX / "Posts.xml")) if p.post_type in (QUESTION, ANSWER)]
    stats = json.loads((out / "_stats.json").read_text())
    assert stats["posts_read"][UNIX]["question"] + stats["posts_read"][UNIX]["answer"] == len(posts)


def _sites(folder: Path, mb: float) -> list[str]:
    """Two extracted sites of about `mb` MB of HTML bodies (3:1), in the dump's Posts.xml layout."""
    inputs = _module(REPO / "benchmarks" / "bench_source_inputs.py")
    rng, pool, files = random.Random(7), inputs.sentences("en"), []
    for site, share in ((UNIX, 0.75), ("math.stackexchange.com", 0.25)):
        data, _, _ = inputs.posts_xml(rng, pool, mb * share)
        path = folder / site / "Posts.xml"
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        files.append(str(path))
    return files


def test_command_memory_stays_flat_as_the_dump_grows(tmp_path):
    bench = _module(REPO / "benchmarks" / "bench_common.py")
    peaks = {}
    for mb in (4, 16):
        files = _sites(tmp_path / f"in{mb}", mb)
        out = tmp_path / f"out{mb}"
        cmd = [sys.executable, "-m", "pipelines.cli", "stackexchange", "--output", str(out), "--workers", "2",
               "--questions-per-part", "200"] + [a for f in files for a in ("--input", f)]
        peaks[mb] = bench.measure(cmd)
        stats = json.loads((out / "_stats.json").read_text())
        assert stats["documents"]["written"] > 1000 * mb / 4 and not (out / "_temporary").exists()
    grown = {k: peaks[16][k] - peaks[4][k] for k in ("peak_rss", "peak_root", "peak_child")}
    # 12 MB more of bodies (about 20 MB more of Posts.xml): with the posts shuffled through Beam the tree
    # grew by 175 MB (12-15 MB per MB of bodies), the launcher holding the shuffle. Scratch buckets and
    # bounded parts keep the launcher flat; a worker's peak varies by a few tens of MB with what the
    # 0.1 s sampling catches of a row group being written (+3 to +38 MB seen on a loaded machine).
    assert grown["peak_root"] < 25 << 20, (peaks, grown)
    assert grown["peak_rss"] < 120 << 20 and grown["peak_child"] < 60 << 20, (peaks, grown)


def test_the_shards_do_not_depend_on_how_many_scratch_buckets_a_file_gets(tmp_path, monkeypatch):
    from pipelines import runner

    files = tuple(sorted(str(p) for p in (DATA / "xml").glob("*/Posts.xml")))
    opts = runner.pipeline_options(["--direct_running_mode=in_memory"], 1)  # in this process: the patch holds
    buckets, shards = [], {}
    real = se.scratch_buckets
    monkeypatch.setattr(se, "scratch_buckets", lambda size: buckets.append(real(size)) or buckets[-1])
    for name, per_bucket in (("one", se.SCRATCH_INPUT_BYTES), ("many", 300)):
        monkeypatch.setattr(se, "SCRATCH_INPUT_BYTES", per_bucket)
        out = tmp_path / name
        cfg = se.StackExchangeConfig(files=files, out=str(out), questions_per_part=1,
                                     sites=(UNIX, "ru.stackoverflow.com"))
        runner.run(lambda p: graph.build_pipeline(p, cfg), opts)
        shards[name] = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
                        and p.name != "_stats.json"}
    assert buckets[:2] == [1, 1] and min(buckets[2:]) > 3
    assert sum(name.endswith(".parquet") for name in shards["one"]) >= 3 and shards["one"] == shards["many"]
