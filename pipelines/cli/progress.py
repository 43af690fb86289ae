"""Progress of a local run, read from the files the pipeline writes (no Beam internals needed).

Stage 3 of the CCNet pipeline leaves one temporary Parquet file per input file, so counting
them tells how many input files are done; the bar closes when `_SUCCESS` appears or the run ends.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from corpus import shards
from corpus.paths import is_url


def _count(folder: str) -> int:
    try:
        return sum(1 for n in os.listdir(folder) if n.endswith(".parquet"))
    except OSError:
        return 0


@contextmanager
def file_progress(out: str, total: int, enabled: bool = True) -> Iterator[None]:
    """Show 'files processed k/N' for a run writing into local folder `out`."""
    if not enabled or is_url(out):
        yield
        return
    stop = threading.Event()
    docs_dir = os.path.join(out, shards.TEMP_DIR, "docs")
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=False) as bar:
        task = bar.add_task("ccnet: files deduplicated, language-tagged, scored", total=total)

        def poll() -> None:
            while not stop.wait(0.5):
                if os.path.exists(os.path.join(out, shards.SUCCESS_FILE)):
                    bar.update(task, completed=total)
                    return
                bar.update(task, completed=min(total, _count(docs_dir)))

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            if os.path.exists(os.path.join(out, shards.SUCCESS_FILE)):
                bar.update(task, completed=total)
