"""Handing the heap's free pages back to the system (glibc's ``malloc_trim``).

A worker's detector state lives in large numpy arrays, but every scoring step also makes
and frees temporaries of tens to hundreds of kilobytes. Once a large block has been freed,
glibc raises its mmap threshold, so later temporaries come from the heap, and the free
holes they leave between live blocks stay resident. Measured with
``benchmarks/detection_memory.py`` (10,000 series): 19.9-20.0 KB of RSS per live series
for 15.2 KB of state arrays, and 15.7 KB after ``malloc_trim(0)``. Fixing the threshold
instead (``MALLOC_MMAP_THRESHOLD_=4194304``) saved as much but cost 15 % of the worker's
CPU (77k and 75k against 91k and 89k samples per CPU-second, alternating runs of
``benchmarks/worker.py --series 20000 --rounds 140``), so the worker trims after each
checkpoint instead: one walk of the heap a minute.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

__all__ = ["release_free_memory"]


def _malloc_trim() -> Callable[[int], int] | None:
    """The C library's ``malloc_trim``, or None where it has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library this process runs on
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return free heap pages to the system; whether any were (False without glibc)."""
    return _TRIM is not None and _TRIM(0) == 1
