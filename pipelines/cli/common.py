"""What every command shares: the user-error type, absolute paths, claiming OUT, running a pipeline."""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, TypeVar

from corpus.paths import is_url
from corpus.wet import MalformedInput
from pipelines.steps import checks
from pipelines.steps.checks import ConfigError

T = TypeVar("T")


EXIT_BAD_INPUT = 2


class CLIError(Exception):
    """A user error: printed without a traceback, exit status 2."""


@contextmanager
def user_errors(*types: type[BaseException]) -> Iterator[None]:
    """Inside, an error of one of `types` is the user's: it becomes a CLIError with its message."""
    try:
        yield
    except types as exc:
        raise CLIError(str(exc)) from None


def user_error_types() -> tuple[type[BaseException], ...]:
    """What `llamapipe` prints as one line with exit status 2 wherever a command raises it: bad flags
    or config values, missing or unfinished inputs, an output it may not use, a broken mixture."""
    from corpus.integrity import IncompleteInput
    from corpus.mixture import MixtureError
    from pipelines.outdir import OutputRefused

    return CLIError, ConfigError, IncompleteInput, OutputRefused, MixtureError, FileNotFoundError


def unreadable_inputs(files: list[str], strict: bool) -> dict[int, str]:
    """Input files that cannot be opened, by index: counted as malformed (or refused with --strict)."""
    from pipelines import fileio

    found = {}
    for i, path in enumerate(files):
        why = fileio.unreadable(path)
        if why:
            if strict:
                raise CLIError(f"{path} at byte 0: {why}")
            print(f"warning: {path}: {why}; counted as malformed", file=sys.stderr)
            found[i] = why
    return found


def claim_out(out: str, command: str, patterns, overwrite: bool, input_folders=(), input_files=()):
    """Lock and clear `out` for this run (pipelines.outdir), or a CLIError saying why not."""
    from pipelines.outdir import claim_output

    try:
        return claim_output(out, command, patterns, overwrite, input_folders, input_files)
    except OSError as exc:
        raise CLIError(f"cannot use output {out}: {exc.strerror or exc}") from None


def run_pipeline(command: str, n_inputs: int, output: str, beam_args: list[str], workers: Optional[int],
                 build, show_progress: bool = True, summary: bool = True, claim=None):
    """Run `build(pipeline)` on the runner the flags choose and return Beam's result; malformed input
    and a full disk become a CLIError; print the run's summary (`summary`: read from OUT/_stats.json,
    with wall time and CPU-seconds of launcher and workers). `show_progress`: on a terminal, a bar of
    units done with documents/s and MB/s once the graph's workers leave progress marks
    (pipelines/progress_marks.py). `claim` (outdir.claim_output) is released however the run ends."""
    from pipelines import runner
    from pipelines.cli import progress
    from pipelines.report import summary as report

    try:
        opts = runner.pipeline_options(beam_args, workers)
        started, cpu_before = time.time(), tree_cpu_seconds()
        print(f"{command}: {n_inputs} input file(s) -> {output}", file=sys.stderr, flush=True)
        try:
            with progress.file_progress(output, n_inputs, enabled=show_progress and sys.stderr.isatty(),
                                        description=f"{command}: units done"):
                result = runner.run(build, opts)
        except Exception as exc:
            message = user_error_message(exc)
            if message:
                raise CLIError(message) from None
            raise
    finally:
        if claim is not None:
            claim.release()
    if summary:
        # on another runner the workers are not our children: their CPU is the cluster's to report
        from apache_beam.options.pipeline_options import StandardOptions

        local = opts.view_as(StandardOptions).runner in runner.LOCAL_RUNNERS
        cpu = tree_cpu_seconds() - cpu_before if local else None
        report.print_run_summary(output, time.time() - started, cpu_seconds=cpu)
    return result


def tree_cpu_seconds() -> float:
    """User + system CPU-seconds of this process and of every child it has reaped: the local runner's
    worker processes are its children and are waited for when the run ends, so a difference of two
    readings around a run is the CPU of launcher and workers."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def absolute(path: str) -> str:
    """Local paths made absolute, so workers started elsewhere find them; URLs unchanged."""
    return path if is_url(path) else os.path.abspath(path)


def user_error_message(exc: BaseException) -> Optional[str]:
    """The one-line message of a user-facing error (malformed input in --strict mode, a full
    disk) inside a possibly Beam-wrapped exception; None for anything else."""
    from pipelines.fileio import OutputFull

    if isinstance(exc, (MalformedInput, OutputFull)):
        return str(exc)
    markers = [f"{cls.__module__}.{cls.__name__}: " for cls in (MalformedInput, OutputFull)]
    for line in str(exc).splitlines():
        for marker in markers:
            idx = line.find(marker)
            if idx >= 0:
                return line[idx + len(marker):].split(" [while running")[0].strip()
    for line in str(exc).splitlines():
        if "No space left on device" in line:
            return f"no space left on the device: {line.strip()[:300]}"
    return None


def add_run_flags(p: argparse.ArgumentParser, strict_help: str = "stop at the first malformed input with exit "
                                                                  "status 2") -> None:
    """The flags every pipeline command takes the same way: --strict, --overwrite, --workers (>= 1)."""
    p.add_argument("--strict", action="store_true", help=strict_help)
    p.add_argument("--overwrite", action="store_true",
                   help="replace a finished OUT (only files a llamapipe run wrote there are removed)")
    p.add_argument("--workers", type=checked(int, lambda v: checks.at_least("--workers", v, 1)), default=None,
                   help="local worker processes (default: one per core)")


def checked(convert: Callable[[str], T], rule: Callable[[T], T]) -> Callable[[str], T]:
    """argparse type: `convert` the text, then apply a config rule (pipelines/steps/checks.py), whose
    message argparse prints on failure; the rule itself lives in one place."""
    def parse(text: str) -> T:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}") from None
        try:
            return rule(value)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse
