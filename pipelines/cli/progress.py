"""Live progress of a local run, read from the marks its workers leave (pipelines/progress_marks.py).

A poller thread sums OUT/_temporary/progress every half second; the bar appears with the first mark
(commands whose graph writes none show nothing) and shows units k/N, documents/s, MB/s of text read
and the elapsed time; it closes full when `_SUCCESS` appears or the run ends.
"""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Iterator, Optional

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from corpus import shards
from corpus.paths import is_url
from pipelines import progress_marks
from pipelines.progress_marks import Totals

POLL_SECONDS = 0.5


def status_text(totals: Totals, total_units: int, elapsed: float) -> str:
    """The bar's text: 'units 3/9 · 12,345 docs · 410 docs/s · 2.31 MB/s · 0:00:30' (MB: 10^6 characters
    of text read by the finished units, so the rate lags by up to one unit)."""
    rate = max(elapsed, 1e-9)
    minutes, seconds = divmod(int(elapsed), 60)
    hours, minutes = divmod(minutes, 60)
    return (f"units {totals.units}/{total_units} · {totals.documents:,} docs · {totals.documents / rate:,.0f} docs/s"
            f" · {totals.chars / 1e6 / rate:.2f} MB/s · {hours}:{minutes:02d}:{seconds:02d}")


def make_bar(console: Optional[Console] = None) -> Progress:
    """The rich progress display the poller drives: description, bar, status_text."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
                    console=console, transient=False)


def update(bar: Progress, task, totals: Totals, fallback_total: int, elapsed: float) -> None:
    """Move the bar to `totals`; the number of units is the marks' own count when they name it."""
    total = totals.units_total or fallback_total
    bar.update(task, total=max(total, 1), completed=min(totals.units, total),
               status=status_text(totals, total, elapsed))


@contextmanager
def file_progress(out: str, total: int, enabled: bool = True, description: str = "units done",
                  console: Optional[Console] = None) -> Iterator[None]:
    """While the block runs, show the throughput bar of a run writing into local folder `out` once its
    first progress mark appears; `total` is the expected number of units until a mark names it."""
    if not enabled or is_url(out):
        yield
        return
    stop = threading.Event()
    started = time.monotonic()
    bar = make_bar(console)
    state: dict = {}
    lock = threading.Lock()

    def refresh(final: bool) -> None:
        totals = progress_marks.read_totals(out)
        done = os.path.exists(os.path.join(out, shards.SUCCESS_FILE))
        with lock:
            if "task" not in state:
                if not totals.units:
                    return
                bar.start()
                state["task"] = bar.add_task(description, total=max(totals.units_total or total, 1), status="")
            if totals.units:
                state["last"] = totals
            last = state.get("last", totals)
            update(bar, state["task"], last, total, time.monotonic() - started)
            if done or final:
                n = last.units_total or total
                bar.update(state["task"], completed=n if done else min(last.units, n))

    def poll() -> None:
        while not stop.wait(POLL_SECONDS):
            refresh(False)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        refresh(True)
        if "task" in state:
            bar.stop()
