"""corpus/spill.py's additions for consumers of many partitions: records written already grouped
(encode_counts), one file's whole index read once (SpillReader), every record at once (read_all)."""
from __future__ import annotations

import numpy as np
import pytest

from corpus import spill

DTYPE = np.dtype([("node", "<i8"), ("reason", "u1")])


def _records(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    records = np.zeros(n, DTYPE)
    records["node"] = rng.integers(0, 2 ** 40, n)
    records["reason"] = rng.integers(0, 3, n)
    return records, rng.integers(0, 50, n)


def test_encode_counts_is_encode_of_grouped_records():
    records, parts = _records(3000, 0)
    order = np.argsort(parts, kind="stable")
    counts = np.bincount(parts, minlength=53)
    assert spill.encode_counts(records[order], counts) == spill.encode(records, parts, 53)
    assert spill.encode_counts(records[:0], np.zeros(4, np.int64)) == spill.encode(records[:0], parts[:0], 4)
    with pytest.raises(ValueError, match="must cover the 3000 records"):
        spill.encode_counts(records, counts + (np.arange(53) == 0))   # one record too many


def test_spill_reader_reads_any_partitions_like_read_partitions(tmp_path):
    records, parts = _records(5000, 1)
    path = tmp_path / "d.spill"
    path.write_bytes(spill.encode(records, parts, 60))
    with open(path, "rb") as f:
        reader = spill.SpillReader(f, DTYPE, str(path))
        assert reader.partitions == 60
        assert reader.sizes().tolist() == np.bincount(parts, minlength=60).tolist()
        for lo, hi in ((0, 60), (7, 8), (49, 51), (50, 60), (12, 12), (30, 31), (0, 1)):
            assert reader.read(lo, hi).tobytes() == spill.read_partitions(f, DTYPE, lo, hi, str(path)).tobytes()
        with pytest.raises(ValueError, match="partitions 59..61 outside 0..60"):
            reader.read(59, 61)
        assert spill.read_all(f, DTYPE, str(path)).tobytes() == reader.read(0, 60).tobytes()
    with open(path, "rb") as f, pytest.raises(ValueError, match="records are 9 bytes"):
        spill.SpillReader(f, np.dtype("<i8"), str(path))
    path.write_bytes(spill.encode(records, parts, 60)[:-9])
    with open(path, "rb") as f, pytest.raises(ValueError, match="truncated spill file"):
        spill.SpillReader(f, DTYPE, str(path)).read(0, 60)
    with open(path, "rb") as f, pytest.raises(ValueError, match="truncated spill file"):
        spill.read_all(f, DTYPE, str(path))
    path.write_bytes(spill.MAGIC + b"\x01")
    with open(path, "rb") as f, pytest.raises(ValueError, match="truncated spill file"):
        spill.read_partitions(f, DTYPE, 0, 0, str(path))
    path.write_bytes(b"not a spill file at all")
    with open(path, "rb") as f, pytest.raises(ValueError, match="bad magic"):
        spill.SpillReader(f, DTYPE, str(path))


def test_one_table_of_a_table_spill_reads_two_index_entries_whatever_the_partitions():
    """A consumer of one partition (an exact or keys shard) must not parse the whole index: with many
    partitions that would make a stage over S shards read O(S^2) index bytes per file."""
    import io

    import pyarrow as pa

    schema = pa.schema([("x", pa.int64())])
    data = spill.encode_tables([(7, pa.table({"x": [1, 2]})), (4000, pa.table({"x": [3]}))], 4096, schema)

    class Counting(io.BytesIO):
        read_bytes = 0

        def read(self, n=-1):
            out = super().read(n)
            Counting.read_bytes += len(out)
            return out

    f = Counting(data)
    assert spill.read_tables(f, [4000], schema, "t.spill").column("x").to_pylist() == [3]
    assert Counting.read_bytes < 2048 < 8 * 4096
    assert spill.read_tables(io.BytesIO(data), [4000, 5, 7], schema).column("x").to_pylist() == [3, 1, 2]
