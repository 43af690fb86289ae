"""Keep glibc from hoarding freed memory between files.

A worker decompresses and parses one WET file at a time (tens of MB in a few large blocks).
glibc raises its mmap threshold after such blocks are freed, so later ones come from the heap
and are never returned: RSS then creeps up with every file. Pinning the threshold at 1 MiB
keeps large blocks mmapped and given back on free. No-op off glibc.
"""
from __future__ import annotations

import ctypes
import ctypes.util

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
