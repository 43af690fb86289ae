"""ccnet's output parts: consecutive input files packed per partition, never a file split, the same rows
in the same order as one part per file, and row groups as if the rows had come as documents."""
from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus import spill
from corpus.document import PARQUET_SCHEMA, Document, documents_to_table
from corpus.shards import ShardStream
from pipelines.steps.ccnet_parts import Slice, plan_partition, spill_unit, text_bytes, write_part
from tests.conftest import SAMPLE_GLOB, read_stats, run_ccnet

PARTITION = "lang=en/bucket=head"


def _slice(file_idx: int, unit: int, size: int) -> Slice:
    return Slice(file_idx, unit, f"u{file_idx}-{unit}", 0, 1, size)


def _files(plans) -> list[list[int]]:
    return [sorted({m.file_idx for m in p.members}) for p in plans]


def test_files_are_packed_in_order_up_to_the_part_size():
    slices = [_slice(0, 0, 40), _slice(1, 0, 30), _slice(2, 0, 50), _slice(3, 0, 120), _slice(5, 0, 10)]
    plans = plan_partition(PARTITION, reversed(slices), 100)
    assert _files(plans) == [[0, 1], [2], [3], [5]]
    assert [p.rel for p in plans] == [f"{PARTITION}/part-0000{i}.parquet" for i in (0, 2, 3, 5)]


def test_a_file_of_several_units_is_never_split():
    slices = [_slice(0, 0, 60), _slice(1, 1, 30), _slice(1, 0, 30), _slice(2, 0, 10)]
    plans = plan_partition(PARTITION, slices, 100)
    assert _files(plans) == [[0], [1, 2]]
    assert [(m.file_idx, m.unit_index) for m in plans[1].members] == [(1, 0), (1, 1), (2, 0)]


def test_part_size_zero_gives_one_part_per_file_and_negative_is_refused():
    slices = [_slice(0, 0, 1), _slice(0, 1, 1), _slice(4, 0, 0)]
    assert _files(plan_partition(PARTITION, slices, 0)) == [[0], [4]]
    with pytest.raises(ValueError, match="at least 0"):
        plan_partition(PARTITION, slices, -1)


def _docs(n: int, start: int = 0, size: int = 300) -> list[Document]:
    return [Document(id=f"d{i}", source="cc", url=None, date=None, text=f"line {i} " + "x" * size, lang="en",
                     lang_score=0.9, perplexity=100.0 + i, bucket="head", meta={"i": i})
            for i in range(start, start + n)]


class _Memory:
    """Targets and files in a dict, as the pipeline's AtomicFile and open_raw would be."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def open_target(self, rel: str):
        store, buf = self.files, io.BytesIO()

        class Target:
            def write(self, data):
                buf.write(data)

            def commit(self):
                store[rel] = buf.getvalue()

            def discard(self):
                pass

        return Target()

    def open_file(self, name: str):
        return io.BytesIO(self.files[name])


def test_a_part_streams_its_members_with_the_row_groups_of_a_document_stream():
    memory = _Memory()
    units = [_docs(2500, 0), _docs(10, 2500), _docs(1800, 2510)]
    members = []
    for u, docs in enumerate(units):
        data, slices = spill_unit([(PARTITION, documents_to_table(docs))], u, 0, f"unit-{u}.spill")
        memory.files[f"unit-{u}.spill"] = data
        members += [s for _, s in slices]
    [plan] = plan_partition(PARTITION, members, 1 << 30)
    entry = write_part(plan, memory.open_file, memory.open_target)
    written = pq.ParquetFile(io.BytesIO(memory.files[plan.rel]))
    assert entry["rows"] == written.metadata.num_rows == 4310
    assert written.read().column("id").to_pylist() == [f"d{i}" for i in range(4310)]
    reference = _Memory()
    with ShardStream(0, reference.open_target, path=plan.rel) as stream:
        for docs in units:
            stream.add(docs)
        stream.close()
    assert memory.files[plan.rel] == reference.files[plan.rel]
    assert [written.metadata.row_group(i).num_rows for i in range(written.num_row_groups)] == [2048, 2048, 214]


def test_a_member_with_other_rows_than_planned_is_named():
    memory = _Memory()
    data, slices = spill_unit([(PARTITION, documents_to_table(_docs(5)))], 0, 0, "unit-0.spill")
    memory.files["unit-0.spill"] = data
    [(_, member)] = slices
    assert member.rows == 5 and member.bytes == text_bytes(documents_to_table(_docs(5)))
    [plan] = plan_partition(PARTITION, [Slice(0, 0, "unit-0.spill", 0, 6, member.bytes)], 0)
    with pytest.raises(ValueError, match="unit-0.spill: partition 0 holds 5 rows, 6 were written"):
        write_part(plan, memory.open_file, memory.open_target)
    assert plan.rel not in memory.files


def test_table_spill_refuses_unordered_partitions_and_names_a_corrupt_file():
    table = documents_to_table(_docs(3))
    with pytest.raises(ValueError, match="ascend"):
        spill.encode_tables([(1, table), (0, table)], 2, PARQUET_SCHEMA)
    data = bytearray(spill.encode_tables([(0, table)], 1, PARQUET_SCHEMA))
    data[48:80] = b"\xff" * 32   # inside the IPC stream's schema message (the spill index is 40 bytes)
    with pytest.raises(ValueError, match="bad.spill"):
        spill.read_tables(io.BytesIO(bytes(data)), [0], PARQUET_SCHEMA, "bad.spill")
    other = pa.schema([("x", pa.int64())])
    good = spill.encode_tables([(0, pa.table({"x": [1]}))], 1, other)
    with pytest.raises(ValueError, match="expected"):
        spill.read_tables(io.BytesIO(good), [0], PARQUET_SCHEMA, "other.spill")


def _partitions(root) -> dict[str, pa.Table]:
    out: dict[str, list[pa.Table]] = {}
    for path in sorted(root.glob("lang=*/bucket=*/part-*.parquet")):
        out.setdefault(str(path.parent.relative_to(root)), []).append(pq.read_table(path))
    return {k: pa.concat_tables(v) for k, v in out.items()}


def _parts(root) -> dict[str, list[tuple[int, pa.Table]]]:
    """partition -> (part number, rows) of each part, in part order."""
    out: dict[str, list[tuple[int, pa.Table]]] = {}
    for path in sorted(root.glob("lang=*/bucket=*/part-*.parquet")):
        out.setdefault(str(path.parent.relative_to(root)), []).append((int(path.stem[5:]), pq.read_table(path)))
    return out


def test_part_size_changes_the_files_not_the_rows(tmp_path, sample_run, models_dir):
    """One part per file (--part-mb 0), parts of 0.1 MB of text, and the sample run's default (one part per
    partition here): the same rows in each partition; a part is consecutive files' rows, named by the first,
    within the size unless it is one file, and the next file would not have fitted."""
    runs = {}
    for part_mb in ("0", "0.1"):
        out = runs[part_mb] = tmp_path / part_mb
        assert run_ccnet(out, [SAMPLE_GLOB], models_dir, "--workers", "2", "--part-mb", part_mb) == 0
        assert read_stats(out)["config"]["part_bytes"] == int(float(part_mb) * (1 << 20))
        manifest = json.loads((out / "_manifest.json").read_text())
        assert sorted(e["path"] for e in manifest["files"] if e["path"].endswith(".parquet")) == [
            str(p.relative_to(out)) for p in sorted(out.glob("lang=*/bucket=*/part-*.parquet"))]
    per_file, packed, default = _parts(runs["0"]), _parts(runs["0.1"]), _parts(sample_run)
    assert sorted(per_file) == sorted(packed) == sorted(default)
    assert sum(map(len, per_file.values())) == 57 and sum(map(len, default.values())) == 19
    limit = 0.1 * (1 << 20)
    multi_file = split = 0
    for partition, files in per_file.items():
        rows = pa.concat_tables([t for _, t in files])
        assert pa.concat_tables([t for _, t in default[partition]]).equals(rows)
        assert pa.concat_tables([t for _, t in packed[partition]]).equals(rows)
        sizes = {number: text_bytes(t) for number, t in files}
        numbers = [number for number, _ in files]
        starts = [number for number, _ in packed[partition]]
        split += len(starts) > 1
        for i, (start, table) in enumerate(packed[partition]):
            end = starts[i + 1] if i + 1 < len(starts) else numbers[-1] + 1
            members = [n for n in numbers if start <= n < end]
            assert members and members[0] == start
            assert table.num_rows == sum(t.num_rows for n, t in files if n in members)
            multi_file += len(members) > 1
            assert len(members) == 1 or sum(sizes[n] for n in members) <= limit
            if end in sizes:
                assert sum(sizes[n] for n in members) + sizes[end] > limit
    assert multi_file and split


def test_a_negative_part_size_is_refused_before_anything_is_written(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_ccnet(tmp_path / "out", [SAMPLE_GLOB], None, "--part-mb", "-1")
    assert exit_info.value.code == 2
    assert "--part-mb must be >= 0.0, got -1.0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
