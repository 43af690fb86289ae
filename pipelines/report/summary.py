"""Short terminal summary of a finished corpus run, read back from its _stats.json."""
from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from corpus import shards
from pipelines import fileio


def print_run_summary(out: str, seconds: float, console: Console | None = None) -> dict:
    """Print documents/lines/chars accounting and documents per partition; return the stats."""
    console = console or Console(stderr=True)
    stats = json.loads(fileio.read_bytes(fileio.join(out, shards.STATS_FILE)))
    docs = stats["documents"]
    table = Table(title=f"{out}  ({seconds:.1f} s)")
    table.add_column("")
    for unit in ("documents", "lines", "chars"):
        table.add_column(unit, justify="right")
    table.add_row("read", *(f"{stats[u]['read']:,}" for u in ("documents", "lines", "chars")))
    table.add_row("written", *(f"{stats[u]['written']:,}" for u in ("documents", "lines", "chars")))
    for reason in sorted(set().union(*(stats[u]["dropped"] for u in ("documents", "lines", "chars")))):
        table.add_row(f"dropped: {reason}",
                      *(f"{stats[u]['dropped'].get(reason, 0):,}" for u in ("documents", "lines", "chars")))
    console.print(table)
    parts = Table(title="documents per partition")
    parts.add_column("partition")
    parts.add_column("documents", justify="right")
    for part, n in sorted(stats.get("partitions", {}).items()):
        parts.add_row(part, f"{n:,}")
    console.print(parts)
    if stats.get("malformed_total"):
        console.print(f"[yellow]{stats['malformed_total']} malformed record(s); first: "
                      f"{stats['malformed'][0]}[/yellow]")
    console.print(f"{docs['written']:,} of {docs['read']:,} documents written to {out}")
    return stats
