"""Short terminal summary of a finished corpus run, read back from its _stats.json, with its cost:
wall time, CPU-seconds of the whole process tree and their rates per MB of text read."""
from __future__ import annotations

import dataclasses
import json
from typing import Optional

from rich.console import Console
from rich.table import Table

from corpus import shards
from pipelines import fileio


@dataclasses.dataclass(frozen=True)
class RunCost:
    """What a run cost: wall seconds, CPU-seconds of launcher and workers (None: not measured), and
    the text it read in MB (10^6 characters of documents read, the unit the benchmarks compare by)."""

    wall_s: float
    cpu_s: Optional[float]
    text_mb: float

    @property
    def mb_per_s(self) -> float:
        return self.text_mb / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_s_per_mb(self) -> Optional[float]:
        return self.cpu_s / self.text_mb if self.cpu_s is not None and self.text_mb > 0 else None


def run_cost(stats: dict, wall_s: float, cpu_s: Optional[float]) -> RunCost:
    """A run's cost from its _stats.json (characters read) and the launcher's measurements."""
    return RunCost(wall_s, cpu_s, stats["chars"]["read"] / 1e6)


def cost_table(cost: RunCost) -> Table:
    """One row: wall s, CPU s (all processes), text MB read, MB/s, CPU s per MB."""
    table = Table(title="run cost", caption="MB: 10^6 characters of text read; CPU s: user + system, launcher "
                                            "and workers")
    for name in ("wall s", "CPU s", "text MB", "MB/s", "CPU s per MB"):
        table.add_column(name, justify="right")
    cpu = "-" if cost.cpu_s is None else f"{cost.cpu_s:.1f}"
    per_mb = "-" if cost.cpu_s_per_mb is None else _figure(cost.cpu_s_per_mb)
    table.add_row(f"{cost.wall_s:.1f}", cpu, _figure(cost.text_mb), _figure(cost.mb_per_s), per_mb)
    return table


def _figure(x: float) -> str:
    return f"{x:,.2f}" if x >= 1 else f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def print_run_summary(out: str, seconds: float, console: Console | None = None,
                      cpu_seconds: Optional[float] = None) -> dict:
    """Print documents/lines/chars accounting, documents per partition and the run's cost
    (`cpu_seconds`: of the whole process tree, measured by the caller); return the stats."""
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
    console.print(cost_table(run_cost(stats, seconds, cpu_seconds)))
    console.print(f"{docs['written']:,} of {docs['read']:,} documents written to {out}")
    return stats
