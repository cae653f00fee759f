"""Handing the memory that polls and body builds free back to the OS (glibc; elsewhere no-op).

A poll parses answers of tens to hundreds of KiB and drops them once translated; a `/metrics`
build joins every array's bytes into one body of many MiB and drops it once gzipped. glibc keeps
such freed memory for reuse instead of returning it: blocks over its mmap threshold go back at
once, but the threshold rises to the largest block ever freed (up to 32 MiB), so after the first
big body every later one lands on the heap and stays there as free pages. In the memory bench
(20 to 200 arrays) that idle memory was 100-150 KiB of resident size per array.

So the threshold is fixed at glibc's default (128 KiB), which also fixes the heap's trim
threshold, and `malloc_trim(0)` hands back the free pages between live blocks after polls: when
the fleet goes quiet, and at least once a second while polls overlap (well under a millisecond
each when one poll's garbage is all there is).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's default, kept from moving up
TRIM_AT_LEAST_EVERY_SECONDS = 1.0
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


def _glibc() -> Any | None:
    """The C library when it is glibc (it has malloc_trim), else None (musl, macOS, ...)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


def _glibc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, its mmap threshold fixed first (process-wide, idempotent)."""
    libc = _glibc()
    if libc is None:
        return None
    if not libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
        log.debug("mallopt(M_MMAP_THRESHOLD) refused; freed bodies may stay resident")
    trim: Callable[[int], int] = libc.malloc_trim
    return trim


class HeapTrimmer:
    """Counts the polls in flight; trims the heap when the last ends, or once a second."""

    def __init__(self, trim: Callable[[int], int] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._trim = trim if trim is not None else _glibc_trim()
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last = clock()
        self.trims = 0

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def ended(self) -> None:
        """A poll ended: trim now if it was the last one running, or a second has passed."""
        with self._lock:
            self._in_flight -= 1
            now = self._clock()
            due = self._in_flight == 0 or now - self._last >= TRIM_AT_LEAST_EVERY_SECONDS
            if not due or self._trim is None:
                return
            self._last = now
            self.trims += 1
        self._trim(0)  # outside the lock: ctypes releases the GIL, polls go on meanwhile
