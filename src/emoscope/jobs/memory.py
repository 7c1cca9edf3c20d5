"""Memory of processes that analyse one video after another for a long time: the malloc arena cap, and
readings of resident memory."""

from __future__ import annotations

import resource

MALLOC_ARENAS = 2
"""glibc arenas a process that analyses video after video may use (a web job worker, a Ray worker).
Each analysis starts new threads (decoder, detectors, face mesh, hands), and glibc gives new threads
their own arena, up to 8 per core; freed memory fragments across them, so a web job worker's memory
rose with every job until about 16 arenas were full: from 330 MB to 975 MB over 25 two-second videos
(`emoscope bench soak` found it). With 2 arenas it levels off at 470 MB after about 5 jobs."""


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Cap glibc's malloc arenas for this process (``mallopt(M_ARENA_MAX)``); nothing where libc is not glibc."""
    import ctypes
    import ctypes.util

    m_arena_max = -8  # glibc's malloc.h
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(m_arena_max, arenas)
    except (OSError, AttributeError):
        pass  # musl, macOS, Windows: their allocators have no arenas to cap


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
