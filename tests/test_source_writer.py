"""The single-pass source graph writes its shards as documents come (corpus.shards.ShardStream through
pipelines.fileio.AtomicFile): bounded memory for a unit of large documents, several partitions and row
groups per unit, the same bytes for any worker count, and nothing half-written on any failure."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from apache_beam.io.filesystem import FileMetadata, FileSystem

from corpus import shards
from corpus.counters import check_accounting
from corpus.document import Document
from corpus.faults import MalformedInput
from corpus.parquet_input import row_groups
from corpus.summary import constant_from_statistics
from pipelines import fileio, runner, source
from pipelines.steps.ccnet import CCNetConfig, admission

REPO = Path(__file__).resolve().parents[1]
DOC_CHARS = 200_000
LANGS = ("en", "de", "en", "fr", "en", None)

WRITE_UNIT = """
import json, sys
from pipelines import source
from pipelines.steps.ccnet import CCNetConfig, admission
run = source.SourceRun(files=(sys.argv[1],), out=sys.argv[2], make_steps=None, run_info={})
entries, counters = source.write_unit(run, admission(CCNetConfig(min_length=0)), 0, source.Unit(0, sys.argv[1]))
print(json.dumps({"entries": entries, "stats": counters.to_stats()}))
"""
# write_unit runs as this wrapper's only child, so RUSAGE_CHILDREN is its peak alone.
PEAK_OF_CHILD = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-c", *sys.argv[1:]], capture_output=True, text=True, check=True)
print(done.stdout.strip())
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _large_documents(path: Path, count: int) -> int:
    """A JSONL file of `count` documents of DOC_CHARS characters (lines of random words); its size."""
    rnd = random.Random(7)
    words = ["".join(rnd.choices("abcdefghijklmnopqrstuvwxyz", k=rnd.randint(2, 9))) for _ in range(3000)]
    lines = [" ".join(rnd.choices(words, k=25)) for _ in range(3000)]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(count):
            text = "\n".join(rnd.choices(lines, k=DOC_CHARS // 100))[:DOC_CHARS]
            f.write(json.dumps({"id": f"doc-{i}", "text": text}) + "\n")
    return path.stat().st_size


def _write_unit_peak(path: Path, out: Path) -> tuple[dict, int]:
    """write_unit's result for one JSONL unit, and the peak RSS (KB) of the process that ran it."""
    done = subprocess.run([sys.executable, "-c", PEAK_OF_CHILD, WRITE_UNIT, str(path), str(out)], cwd=REPO,
                          capture_output=True, text=True, check=True)
    result, peak = done.stdout.strip().splitlines()[-2:]
    return json.loads(result), int(peak)


def test_a_unit_of_large_documents_is_written_in_bounded_memory(tmp_path):
    sizes, peaks = {}, {}
    for count in (1, 200, 600):
        sizes[count] = _large_documents(tmp_path / f"in-{count}.jsonl", count)
        result, peaks[count] = _write_unit_peak(tmp_path / f"in-{count}.jsonl", tmp_path / f"out-{count}")
        assert not check_accounting(result["stats"]) and result["stats"]["documents"]["written"] == count
        [entry] = result["entries"]
        shard = tmp_path / f"out-{count}" / entry["path"]
        assert entry["rows"] == count and entry["bytes"] == shard.stat().st_size
        assert entry["sha256"] == hashlib.sha256(shard.read_bytes()).hexdigest()
    groups = _groups(tmp_path / "out-600" / "lang=unknown/bucket=all/part-00000.parquet")
    assert sum(groups) == 600 and max(groups) <= shards.ROW_GROUP_BYTES // DOC_CHARS + 1
    # 400 more documents (80 MB) add almost nothing (a whole-unit writer adds ~450 MB here), and the
    # 120 MB unit costs well under half its size over a one-document unit (measured: ~35 MB).
    assert peaks[600] - peaks[200] < 8 << 10, peaks
    assert (peaks[600] - peaks[1]) << 10 < sizes[600] // 2, (peaks, sizes)


def _partitioned_inputs(folder: Path) -> list[str]:
    """Two JSONL files whose documents cycle through LANGS; the first has 2,500+ English ones."""
    folder.mkdir()
    files = []
    for i, count in enumerate((6000, 40)):
        path = folder / f"part-{i}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for n in range(count):
                rec = {"id": f"{i}-{n}", "text": f"document {n} of file {i} " + "word " * (n % 50)}
                if LANGS[n % len(LANGS)]:
                    rec["lang"] = LANGS[n % len(LANGS)]
                f.write(json.dumps(rec) + "\n")
        files.append(str(path))
    return files


def _run(files: list[str], out: Path, workers: int) -> None:
    run = source.SourceRun(files=tuple(files), out=str(out), run_info={},
                           make_steps=functools.partial(admission, CCNetConfig(min_length=40)))
    runner.run(lambda p: source.build_pipeline(p, run), runner.pipeline_options([], workers))


def test_partitions_and_row_groups_of_a_unit_are_the_same_for_any_worker_count(tmp_path):
    files = _partitioned_inputs(tmp_path / "in")
    _run(files, tmp_path / "one", 1)
    _run(files, tmp_path / "two", 2)
    one = sorted(str(p.relative_to(tmp_path / "one")) for p in (tmp_path / "one").rglob("*.parquet"))
    assert one == [f"lang={lang}/bucket=all/part-0000{i}.parquet"
                   for lang in ("de", "en", "fr", "unknown") for i in (0, 1)]
    for rel in one:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()
    stats = json.loads((tmp_path / "one" / "_stats.json").read_text())
    assert not check_accounting(stats) and stats["documents"]["dropped"]["too_short"] > 0
    manifest = {e["path"]: e for e in json.loads((tmp_path / "one" / "_manifest.json").read_text())["files"]}
    assert sorted(manifest) == one
    records = [json.loads(line) for f in files for line in Path(f).read_text().splitlines()]
    for rel in one:
        data = (tmp_path / "one" / rel).read_bytes()
        pf = pq.ParquetFile(tmp_path / "one" / rel)
        assert manifest[rel] == shards.manifest_entry(rel, data, pf.metadata.num_rows)
        lang = rel.split("/")[0][5:]
        if lang != "unknown":
            assert constant_from_statistics(pf, "lang") == (True, lang)
        assert constant_from_statistics(pf, "source") == (True, "jsonl")
        texts = [t for table in row_groups(pf, ["text"]) for t in table.column("text").to_pylist()]
        part = int(rel[-13:-8])
        assert texts == [r["text"] for r in records if r["id"].startswith(f"{part}-")
                         and r.get("lang", "unknown") == lang and len(r["text"]) >= 40]
    english = sum(r["id"].startswith("0-") and r.get("lang") == "en" and len(r["text"]) >= 40 for r in records)
    assert english == 2760
    assert _groups(tmp_path / "one" / "lang=en/bucket=all/part-00000.parquet") == [2048, 712]


def _doc(n: int, lang: str, chars: int = 298) -> Document:
    return Document(id=f"{lang}-{n}", source="t", text="x" * chars, lang=lang, bucket="all")


def _stream(out: Path, **caps) -> shards.ShardStream:
    return shards.ShardStream(3, lambda rel: fileio.AtomicFile(fileio.under(str(out), rel)), **caps)


def _groups(path: Path) -> list[int]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def test_row_groups_end_at_a_row_or_byte_cap_and_the_fullest_partition_is_written_first(tmp_path):
    # Each row is 300 bytes of text and meta ("{}"): a 1,000-byte group ends at its fourth row.
    docs = [_doc(n, "en") for n in range(10)]
    for name, batches in (("whole", [docs]), ("one-by-one", [[d] for d in docs])):
        with _stream(tmp_path / name, row_group_rows=100, row_group_bytes=1000) as stream:
            for batch in batches:
                stream.add(batch)
            entries = stream.close()
        assert [e["rows"] for e in entries] == [10]
        assert _groups(tmp_path / name / "lang=en/bucket=all/part-00003.parquet") == [4, 4, 2]
    same = "lang=en/bucket=all/part-00003.parquet"
    assert (tmp_path / "whole" / same).read_bytes() == (tmp_path / "one-by-one" / same).read_bytes()

    with _stream(tmp_path / "rows", row_group_rows=3) as stream:
        stream.add(docs)
        stream.close()
    assert _groups(tmp_path / "rows" / same) == [3, 3, 3, 1]

    with _stream(tmp_path / "mixed", row_group_rows=100, row_group_bytes=10_000, buffer_bytes=2000) as stream:
        stream.add([_doc(n, "en") for n in range(5)] + [_doc(n, "de") for n in range(2)])  # 2,100 bytes wait
        stream.add([_doc(n, "de") for n in range(2, 5)])  # de holds 1,500 of 2,100: de goes
        stream.add([_doc(n, "fr") for n in range(2)])
        entries = stream.close()
    assert [(e["path"], e["rows"]) for e in entries] == [
        ("lang=de/bucket=all/part-00003.parquet", 5), ("lang=en/bucket=all/part-00003.parquet", 5),
        ("lang=fr/bucket=all/part-00003.parquet", 2)]
    assert _groups(tmp_path / "mixed" / "lang=en/bucket=all/part-00003.parquet") == [5]
    assert _groups(tmp_path / "mixed" / "lang=de/bucket=all/part-00003.parquet") == [5]
    with pytest.raises(ValueError, match="at least 1"):
        _stream(tmp_path / "bad", buffer_bytes=0)


def test_a_stream_with_one_path_writes_every_partition_there_and_an_empty_shard_when_none_come(tmp_path):
    one = "lang=xx/bucket=head/part-00007.parquet"
    with _stream(tmp_path / "one", row_group_rows=3, path=one) as stream:
        stream.add([_doc(0, "en"), _doc(1, "de")])
        stream.add([_doc(n, "fr") for n in range(2, 6)])
        entries = stream.close()
    table = pq.read_table(tmp_path / "one" / one)
    assert [(e["path"], e["rows"]) for e in entries] == [(one, 6)]
    assert table.column("lang").to_pylist() == ["en", "de", "fr", "fr", "fr", "fr"]
    assert _groups(tmp_path / "one" / one) == [3, 3]
    assert [p.relative_to(tmp_path / "one").as_posix() for p in (tmp_path / "one").rglob("*.parquet")] == [one]
    with _stream(tmp_path / "empty", path=one) as stream:
        stream.add([])
        entries = stream.close()
    assert [(e["path"], e["rows"]) for e in entries] == [(one, 0)]
    data = (tmp_path / "empty" / one).read_bytes()
    assert entries[0]["bytes"] == len(data) and entries[0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert data == shards.documents_parquet([])     # as a whole-table write: one empty row group
    docs = [_doc(n, "en") for n in range(5)]        # under both caps: the bytes of a whole-table write
    with _stream(tmp_path / "few", path=one) as stream:
        stream.add(docs)
        stream.close()
    assert (tmp_path / "few" / one).read_bytes() == shards.documents_parquet(docs)


def test_a_shard_appears_only_when_its_unit_is_done(tmp_path):
    folder = tmp_path / "out" / "lang=en" / "bucket=all"
    with _stream(tmp_path / "out", row_group_rows=2) as stream:
        stream.add([_doc(n, "en") for n in range(5)])
        assert [p.name for p in folder.iterdir()] == [f".part-00003.parquet.tmp-{os.getpid()}"]
        stream.close()
    assert [p.name for p in folder.iterdir()] == ["part-00003.parquet"]
    assert _groups(folder / "part-00003.parquet") == [2, 2, 1]
    with _stream(tmp_path / "failed", row_group_rows=2) as stream:
        stream.add([_doc(n, "en") for n in range(5)])
    assert not [p for p in (tmp_path / "failed").rglob("*") if p.is_file()]


def _unit_with_bad_line(path: Path) -> None:
    """30 documents of DOC_CHARS (more than a row group), then a line that is not JSON."""
    _large_documents(path, 30)
    with open(path, "a", encoding="utf-8") as f:
        f.write("{not json\n")


def test_a_strict_failure_after_row_groups_were_written_leaves_nothing(tmp_path):
    _unit_with_bad_line(tmp_path / "in.jsonl")
    run = source.SourceRun(files=(str(tmp_path / "in.jsonl"),), out=str(tmp_path / "out"), make_steps=None,
                           run_info={}, strict=True)
    with pytest.raises(MalformedInput, match="in.jsonl"):
        source.write_unit(run, admission(CCNetConfig(min_length=0)), 0, source.Unit(0, run.files[0]))
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    lenient = dataclasses.replace(run, strict=False)
    entries, counters = source.write_unit(lenient, admission(CCNetConfig(min_length=0)), 0,
                                          source.Unit(0, run.files[0]))
    assert [e["rows"] for e in entries] == [30] and counters.faults_total == 1
    assert len(_groups(tmp_path / "out" / entries[0]["path"])) > 1


def test_a_full_device_is_output_full_naming_the_shard_and_leaves_nothing(tmp_path):
    _large_documents(tmp_path / "in.jsonl", 3)
    folder = tmp_path / "out" / "lang=unknown" / "bucket=all"
    folder.mkdir(parents=True)
    tmp = folder / f".part-00000.parquet.tmp-{os.getpid()}"
    tmp.symlink_to("/dev/full")  # the shard's temporary name: every write fails with ENOSPC
    run = source.SourceRun(files=(str(tmp_path / "in.jsonl"),), out=str(tmp_path / "out"), make_steps=None,
                           run_info={})
    with pytest.raises(fileio.OutputFull, match="lang=unknown/bucket=all/part-00000.parquet"):
        source.write_unit(run, admission(CCNetConfig(min_length=0)), 0, source.Unit(0, run.files[0]))
    assert not os.path.lexists(tmp) and not list(folder.iterdir())


class MemoryFileSystem(FileSystem):
    """An object store held in a dict, registered with Beam for memtest:// paths, so the remote branch
    of AtomicFile (create a temporary object, rename it into place) runs in a test."""

    objects: dict[str, bytes] = {}

    @classmethod
    def scheme(cls):
        return "memtest"

    def join(self, base, *parts):
        return "/".join([base.rstrip("/"), *parts])

    def split(self, path):
        return tuple(path.rsplit("/", 1))

    def mkdirs(self, path):
        pass

    def has_dirs(self):
        return False

    def _list(self, dir_or_prefix):
        return [FileMetadata(p, len(b)) for p, b in self.objects.items() if p.startswith(dir_or_prefix)]

    def create(self, path, mime_type="application/octet-stream", compression_type=None):
        objects = self.objects

        class Upload(io.BytesIO):
            def close(self):
                if not self.closed:
                    objects[path] = self.getvalue()
                super().close()

        return Upload()

    def open(self, path, mime_type="application/octet-stream", compression_type=None):
        return io.BytesIO(self.objects[path])

    def copy(self, source_file_names, destination_file_names):
        for src, dst in zip(source_file_names, destination_file_names):
            self.objects[dst] = self.objects[src]

    def rename(self, source_file_names, destination_file_names):
        for src, dst in zip(source_file_names, destination_file_names):
            self.objects[dst] = self.objects.pop(src)

    def exists(self, path):
        return path in self.objects

    def size(self, path):
        return len(self.objects[path])

    def last_updated(self, path):
        return 0.0

    def checksum(self, path):
        return hashlib.sha256(self.objects[path]).hexdigest()

    def metadata(self, path):
        return FileMetadata(path, len(self.objects[path]))

    def delete(self, paths):
        for path in paths:
            del self.objects[path]


def test_a_remote_output_gets_each_shard_by_a_rename_and_nothing_of_a_failed_unit(tmp_path):
    _unit_with_bad_line(tmp_path / "in.jsonl")
    out = "memtest://bucket/run"
    MemoryFileSystem.objects.clear()
    MemoryFileSystem.objects[f"{out}/lang=unknown/bucket=all/part-00004.parquet"] = b"from an earlier attempt"
    run = source.SourceRun(files=(str(tmp_path / "in.jsonl"),), out=out, make_steps=None, run_info={}, strict=True)
    with pytest.raises(MalformedInput):
        source.write_unit(run, admission(CCNetConfig(min_length=0)), 4, source.Unit(0, run.files[0]))
    assert list(MemoryFileSystem.objects.values()) == [b"from an earlier attempt"]
    entries, _ = source.write_unit(dataclasses.replace(run, strict=False), admission(CCNetConfig(min_length=0)), 4,
                                   source.Unit(0, run.files[0]))
    [entry] = entries
    assert sorted(MemoryFileSystem.objects) == [f"{out}/{entry['path']}"]
    data = MemoryFileSystem.objects[f"{out}/{entry['path']}"]
    assert entry == shards.streamed_entry("lang=unknown/bucket=all/part-00004.parquet", len(data),
                                          hashlib.sha256(data).hexdigest(), 30)
    assert pq.ParquetFile(io.BytesIO(data)).metadata.num_row_groups > 1
