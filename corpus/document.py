"""The `Document` record every stage reads and writes, and its Parquet row form (DESIGN.md)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Optional

import pyarrow as pa

BUCKETS = ("head", "middle", "tail", "all")
ROW_BITS = 32

PARQUET_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("url", pa.string()),
        ("date", pa.string()),
        ("text", pa.string()),
        ("lang", pa.string()),
        ("lang_score", pa.float64()),
        ("perplexity", pa.float64()),
        ("bucket", pa.string()),
        ("meta", pa.string()),
    ]
)


@dataclasses.dataclass
class Document:
    """One document; `meta` holds JSON-serialisable provenance and counts."""

    id: str
    source: str
    text: str
    url: Optional[str] = None
    date: Optional[str] = None
    lang: Optional[str] = None
    lang_score: Optional[float] = None
    perplexity: Optional[float] = None
    bucket: Optional[str] = None
    meta: dict = dataclasses.field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """Parquet row: the Document fields with `meta` as a JSON string (sorted keys, stable bytes)."""
        return {"id": self.id, "source": self.source, "url": self.url, "date": self.date, "text": self.text,
                "lang": self.lang, "lang_score": self.lang_score, "perplexity": self.perplexity,
                "bucket": self.bucket, "meta": json.dumps(self.meta, sort_keys=True, ensure_ascii=False)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Document":
        """Inverse of `to_row`."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in row.items() if k in fields}
        values["meta"] = json.loads(values.get("meta") or "{}")
        values.setdefault("source", "unknown")
        return cls(**values)


def address(file_idx: int, row: int) -> int:
    """A document's 64-bit address: its input file's index, then its row (ordinal) in that file;
    unique, ordered like the input, small enough to shuffle. Works on ints and int64 arrays alike."""
    return (file_idx << ROW_BITS) | row


def file_of(addr):
    """The input file index of an address (or of an int64 array of them)."""
    return addr >> ROW_BITS


def row_of(addr):
    """The row of an address in its file (or of an int64 array of them)."""
    return addr & ((1 << ROW_BITS) - 1)


def document_id(source: str, url: Optional[str], digest: Optional[str], fallback: Optional[str] = None) -> str:
    """Stable id from source, URL and content digest: the same record always gets the same id.

    Without URL and digest, `fallback` (a record id or content hash) keys it, so such records
    do not all share one id; ids of records with a URL or a digest do not depend on it.
    """
    if url or digest or not fallback:
        key = f"{source}\t{url or ''}\t{digest or ''}"
    else:
        key = f"{source}\t\t\t{fallback}"
    return f"{source}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:20]}"


def content_digest(text: str) -> str:
    """`sha1:` + hex SHA-1 of a text's UTF-8 bytes: an id of last resort for records that carry none."""
    return "sha1:" + hashlib.sha1(text.encode("utf-8")).hexdigest()


def documents_to_table(docs: list[Document]) -> pa.Table:
    """Arrow table in `PARQUET_SCHEMA` column order."""
    rows = [d.to_row() for d in docs]
    return pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA)


def table_to_documents(table: pa.Table) -> list[Document]:
    """Arrow table (any column order, extra columns ignored) back to Documents."""
    return [Document.from_row(r) for r in table.to_pylist()]
