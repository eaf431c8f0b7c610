"""Keep freed memory in the process so that big numpy temporaries are reused, not re-faulted (glibc only).

A month at full scale allocates and frees dozens of temporary arrays of 10-20 MB each. By default glibc
hands such blocks back to the kernel when they are freed (mmap threshold, heap trimming), so each month
the kernel maps and zeroes them again: about 0.1 s of system time per month at 2.6 M rows, a fifth of the
month (measured, see benchmarks/README.md). Raising the two thresholds keeps freed blocks in the heap for
reuse. The setting is process-wide and changes no result; elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_applied = False


def retain_freed_memory(mmap_threshold: int = 256 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Ask glibc to serve blocks up to ``mmap_threshold`` bytes from the heap and to keep up to
    ``trim_threshold`` bytes of freed heap. Returns whether the setting is in force."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    _applied = mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1
    return _applied
