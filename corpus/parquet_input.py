"""Documents of a corpus Parquet shard, one row group at a time, so a reader holds one row group."""
from __future__ import annotations

from typing import BinaryIO, Iterator, Optional, Union

import pyarrow as pa
import pyarrow.parquet as pq

from corpus.document import Document, table_to_documents
from corpus.faults import Fault

REQUIRED = {"id", "text"}
UNREADABLE = "not a readable Parquet file"


def missing_columns(names: list[str]) -> Optional[Fault]:
    """The Fault of a shard that lacks a column every Document needs, else None."""
    missing = REQUIRED - set(names)
    return Fault(0, f"Parquet file lacks column(s) {', '.join(sorted(missing))}") if missing else None


def row_group_offset(meta: pq.FileMetaData, index: int) -> int:
    """Byte offset where a row group's data starts: its first dictionary or data page."""
    group = meta.row_group(index)
    starts = []
    for c in range(group.num_columns):
        col = group.column(c)
        starts.append(col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset)
    return min(starts)


def parquet_file(f: BinaryIO) -> Union[pq.ParquetFile, Fault]:
    """An open (seekable) Parquet file, or a Fault at offset 0 whose error is pyarrow's reason."""
    try:
        return pq.ParquetFile(f)
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        return Fault(0, str(exc))


def row_groups(pf: pq.ParquetFile, columns: Optional[list[str]] = None, start: int = 0,
               end: Optional[int] = None) -> Iterator[Union[pa.Table, Fault]]:
    """Each row group whose data starts in [start, end) as a table (of `columns`, those the file has;
    all when None), or a Fault at its offset ("row group N: reason") when it cannot be read."""
    have = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
    for index in range(pf.num_row_groups):
        offset = row_group_offset(pf.metadata, index)
        if offset < start or (end is not None and offset >= end):
            continue
        try:
            yield pf.read_row_group(index, columns=have)
        except Exception as exc:  # as above
            yield Fault(offset, f"row group {index}: {exc}")


def stream_parquet(f: BinaryIO, start: int = 0, end: Optional[int] = None) -> Iterator[Union[Document, Fault]]:
    """Documents of an open (seekable) shard in row order; [start, end) selects the row groups whose data
    starts there. A row group that cannot be read is a Fault at its offset and the next one is read."""
    pf = parquet_file(f)
    if isinstance(pf, Fault):
        if not start:
            yield Fault(0, f"{UNREADABLE}: {pf.error}")
        return
    fault = missing_columns(pf.schema_arrow.names)
    if fault:
        if not start:
            yield fault
        return
    for item in row_groups(pf, None, start, end):
        if isinstance(item, Fault):
            yield Fault(item.offset, f"{UNREADABLE}: {item.error}")
        else:
            yield from table_to_documents(item)
