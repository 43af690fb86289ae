"""What a reader cannot read, for every input format: a `Fault` with its byte offset, and the
strict/count policy that either stops the run (`MalformedInput`) or counts the fault and goes on."""
from __future__ import annotations

import dataclasses
from typing import Optional

from corpus.counters import Counters


@dataclasses.dataclass
class Fault:
    """Something in the file that could not be read; `offset` is a byte offset."""

    offset: int
    error: str


class MalformedInput(ValueError):
    """Raised in strict mode at the first fault; the message names file, offset and error."""


def report_fault(fault: Fault, path: str, strict: bool, counters: Optional[Counters], log) -> None:
    """Strict: raise MalformedInput naming file and offset. Else, when counting (`counters` given),
    log it and count it as one malformed record."""
    if strict:
        raise MalformedInput(f"{path} at byte {fault.offset}: {fault.error}")
    if counters is not None:
        log.warning("malformed input: %s at byte %d: %s", path, fault.offset, fault.error)
        counters.malformed(path, fault.offset, fault.error)
