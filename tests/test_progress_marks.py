"""Progress marks (pipelines/progress_marks.py) and the live bar that reads them (pipelines/cli/progress.py)."""
from __future__ import annotations

import functools
import io
from pathlib import Path

import pytest
from rich.console import Console

from corpus import shards
from corpus.counters import Counters
from pipelines import outdir, progress_marks, runner, source
from pipelines.cli import progress
from pipelines.progress_marks import Totals
from pipelines.steps.ccnet import CCNetConfig, admission

SAMPLE = sorted((Path(__file__).parent / "data" / "sample" / "wet").glob("*.warc.wet.gz"))


def _run(out: Path) -> source.SourceRun:
    return source.SourceRun(files=tuple(map(str, SAMPLE)), out=str(out),
                            make_steps=functools.partial(admission, CCNetConfig(min_length=300)), run_info={})


def test_each_unit_leaves_a_mark_with_the_documents_and_characters_it_read(tmp_path):
    run = _run(tmp_path / "out")
    fn = source.RecipeFn(run)
    fn.setup()
    read = Counters()
    for part, unit in enumerate(run.plan()):
        outputs = list(fn.process((part, unit)))
        read += next(o.value for o in outputs if getattr(o, "tag", None) == "stats")
    marks = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("unit-*.json"))
    assert marks == [f"_temporary/progress/unit-{i:05d}.json" for i in range(len(SAMPLE))]
    assert all(outdir.matches(m, source.output_patterns()) for m in marks)
    assert progress_marks.read_totals(str(tmp_path / "out")) == Totals(len(SAMPLE), read.reads.docs,
                                                                        read.reads.chars, len(SAMPLE))
    assert read.reads.docs > 0


def test_a_retried_unit_replaces_its_mark_and_remote_outputs_get_none(tmp_path):
    progress_marks.mark_done(str(tmp_path), 4, 10, 1000, 9)
    progress_marks.mark_done(str(tmp_path), 4, 12, 1500, 9)
    progress_marks.mark_done(str(tmp_path), 5, 3, 100, 9)
    assert progress_marks.read_totals(str(tmp_path)) == Totals(2, 15, 1600, 9)
    progress_marks.mark_done(str(tmp_path), "cc-00004", 1, 10)
    assert progress_marks.read_totals(str(tmp_path)) == Totals(3, 16, 1610, 9)
    with pytest.raises(ValueError, match="progress mark key '../x'"):
        progress_marks.mark_done(str(tmp_path), "../x", 1, 1)
    progress_marks.mark_done("gs://no-such-bucket/out", 0, 1, 1, 1)  # no-op: never touches the network
    assert progress_marks.read_totals(str(tmp_path / "missing")) == Totals()


def test_the_commit_removes_the_marks_the_run_wrote(tmp_path, monkeypatch):
    seen = []
    real = progress_marks.mark_done

    def spy(out, unit_index, *args):
        real(out, unit_index, *args)
        seen.append(Path(progress_marks.folder(out), f"unit-{unit_index:05d}.json").exists())

    monkeypatch.setattr(progress_marks, "mark_done", spy)
    out = tmp_path / "out"
    runner.run(lambda p: source.build_pipeline(p, _run(out)),
               runner.pipeline_options(["--direct_running_mode=in_memory"], 1))
    assert seen == [True] * len(SAMPLE)
    assert (out / shards.SUCCESS_FILE).exists() and not (out / shards.TEMP_DIR).exists()


def test_the_bar_shows_units_documents_per_second_and_mb_per_second():
    text = progress.status_text(Totals(3, 1200, 2_500_000, 9), 9, 10.0)
    assert text == "units 3/9 · 1,200 docs · 120 docs/s · 0.25 MB/s · 0:00:10"
    console = Console(file=io.StringIO(), width=200, force_terminal=False)
    bar = progress.make_bar(console)
    task = bar.add_task("ccnet: units done", total=1, status="")
    progress.update(bar, task, Totals(3, 1200, 2_500_000, 9), 2, 3725.0)
    console.print(bar.get_renderable())
    shown = console.file.getvalue()
    assert "ccnet: units done" in shown and "units 3/9 · 1,200 docs" in shown and "1:02:05" in shown


def test_the_bar_appears_with_the_first_mark_and_follows_them(tmp_path):
    console = Console(file=io.StringIO(), width=200, force_terminal=True)
    with progress.file_progress(str(tmp_path), 2, console=console, description="demo: units done"):
        assert "demo" not in console.file.getvalue()
        progress_marks.mark_done(str(tmp_path), 0, 5, 5000, 2)
        progress_marks.mark_done(str(tmp_path), 1, 7, 7000, 2)
    shown = console.file.getvalue()
    assert "demo: units done" in shown and "units 2/2 · 12 docs" in shown
