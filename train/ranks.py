"""Agreement between ranks on start-up failures, so every rank stops with the same one-line error."""
from __future__ import annotations

from typing import Callable, Optional, TypeVar

import torch.distributed as dist

T = TypeVar("T")


def first_error(exc: Optional[Exception]) -> Optional[Exception]:
    """The error of the lowest rank that had one, or None: the same answer on every rank (a rank
    that stopped alone would leave the others waiting in the next collective)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return exc
    errors: list[Optional[Exception]] = [None] * dist.get_world_size()
    dist.all_gather_object(errors, exc)
    return next((e for e in errors if e is not None), None)


def agreed(fn: Callable[[], T], *errors: type[Exception]) -> T:
    """fn() on every rank; when it raises one of `errors` on any rank, every rank raises that error."""
    mine: Optional[Exception] = None
    result = None
    try:
        result = fn()
    except errors as exc:
        mine = exc
    shared = first_error(mine)
    if shared is not None:
        raise shared
    return result
