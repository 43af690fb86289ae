"""The trainer's outcomes other than success, light to import (no torch).

`python -m train` maps each to its exit status before the trainer is loaded.
"""
from __future__ import annotations


class CorruptCheckpoint(RuntimeError):
    """A checkpoint folder that cannot be read back (or none intact to resume from); names it."""


class Interrupted(Exception):
    """The run stopped on SIGINT/SIGTERM after saving its checkpoint; exit 128 + the signal number
    (130, 143), so a scheduler can tell an interrupted run from a finished one."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
