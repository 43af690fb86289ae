"""The single-pass source graph (pipelines/source.py) a new source plugs into: reader + recipe -> shards."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import pyarrow.parquet as pq

from corpus.counters import check_accounting
from corpus.wet import Fault
from pipelines import runner, source
from pipelines.steps.ccnet import CCNetConfig, admission, wet_documents

SAMPLE = sorted((Path(__file__).parent / "data" / "sample" / "wet").glob("*.warc.wet.gz"))


def _jsonl_inputs(folder: Path) -> list[str]:
    """The sample's WET documents as three JSONL files, one malformed line in the second."""
    folder.mkdir()
    files = []
    for i, wet in enumerate(SAMPLE):
        lines = [json.dumps({"id": d.id, "url": d.url, "text": d.text})
                 for d in wet_documents(str(wet), "cc") if not isinstance(d, Fault)]
        if i == 1:
            lines.insert(3, "{not json")
        path = folder / f"part-{i}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        files.append(str(path))
    return files


def _run(files: list[str], out: Path, workers: int, min_length: int) -> dict:
    run = source.SourceRun(files=tuple(files), out=str(out),
                           make_steps=functools.partial(admission, CCNetConfig(min_length=min_length)),
                           run_info={"files": len(files), "min_length": min_length})
    runner.run(lambda p: source.build_pipeline(p, run), runner.pipeline_options([], workers))
    return json.loads((out / "_stats.json").read_text())


def test_reader_and_recipe_make_shards_the_same_for_any_worker_count(tmp_path):
    files = _jsonl_inputs(tmp_path / "in")
    stats = _run(files, tmp_path / "one", 1, 300)
    _run(files, tmp_path / "two", 2, 300)
    assert not check_accounting(stats)
    assert stats["malformed_total"] == 1 and stats["malformed"][0]["file"].endswith("part-1.jsonl")
    assert stats["config"] == {"files": 3, "min_length": 300}
    texts = [json.loads(line)["text"] for f in files for line in Path(f).read_text().splitlines()
             if line.startswith("{\"")]
    short = sum(len(t) < 300 for t in texts)
    assert stats["documents"]["dropped"]["too_short"] == short
    assert stats["documents"]["written"] == len(texts) - short
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.parquet"))
    assert one == [Path(f"lang=unknown/bucket=all/part-0000{i}.parquet") for i in range(3)]
    for rel in one:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()
    written = [t for rel in one for t in pq.read_table(tmp_path / "one" / rel).column("text").to_pylist()]
    assert written == [t for t in texts if len(t) >= 300]
    assert (tmp_path / "one" / "_SUCCESS").exists()


def test_units_split_a_file_into_parts_that_read_each_record_once(tmp_path):
    files = _jsonl_inputs(tmp_path / "in")
    size = Path(files[0]).stat().st_size
    units = (source.Unit(0, files[0], 0, size // 3), source.Unit(0, files[0], size // 3, None))
    run = source.SourceRun(files=(files[0],), out=str(tmp_path / "out"),
                           make_steps=functools.partial(admission, CCNetConfig(min_length=0)),
                           run_info={}, units=units)
    runner.run(lambda p: source.build_pipeline(p, run), runner.pipeline_options([], 2))
    parts = sorted((tmp_path / "out").rglob("*.parquet"))
    assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet"]
    written = [t for p in parts for t in pq.read_table(p).column("text").to_pylist()]
    assert written == [json.loads(line)["text"] for line in Path(files[0]).read_text().splitlines()]
