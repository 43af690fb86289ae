"""Keep glibc from hoarding freed memory between files and tasks.

A worker decompresses and parses one WET file at a time (tens of MB in a few large blocks).
glibc raises its mmap threshold after such blocks are freed, so later ones come from the heap
and are never returned: RSS then creeps up with every file. Pinning the threshold at 1 MiB
keeps large blocks mmapped and given back on free. What many small blocks leave behind (a task's
Python objects, spread over the heap) is handed back by `release` after a large task. No-op off glibc.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_MMAP_THRESHOLD = -3
_THRESHOLD = 1 << 20
_done = False


def pin_mmap_threshold() -> bool:
    """Set glibc's M_MMAP_THRESHOLD once per process; True when it took effect."""
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        _done = bool(libc.mallopt(M_MMAP_THRESHOLD, _THRESHOLD))
    except (OSError, AttributeError):
        return False
    return _done


def release() -> bool:
    """After a large task: give the heap's free pages back (glibc malloc_trim), so a long-lived worker's
    RSS follows what it holds, not the largest task it ran; True when trimmed. Cheap (no garbage
    collection), but still a walk of the heap: call it after tasks of megabytes, not per small file."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
