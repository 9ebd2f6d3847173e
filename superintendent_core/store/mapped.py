"""Memory-mapped feature files that give their pages back after a read.

A project folder's numeric features (``items-*.npy``, feature-set chunks) are read
through read-only memory maps (``np.load(mmap_mode="r")``). Every page of a map
that a read touches stays in the process's resident set (RSS) until the process
unmaps it or the kernel reclaims it, on top of the copy the read returned: a
retrain that reads a 1M × 64 pool (244 MB) held 244 MB of copy *and* 244 MB of
mapped pages. :func:`release_rows` tells the kernel this process no longer needs
a range of rows (``MADV_DONTNEED``); the pages stay in the kernel's page cache,
shared and reclaimable, so the next read of them is a page-table fill, not a disk
read. Mapped pages therefore count in a process's memory only while a read runs.

Only maps opened read-only (``np.memmap`` with ``mode == "r"``, i.e. shared and
never written) are touched: for those, dropping pages loses nothing.
Elsewhere (no ``madvise``: not Linux) :func:`release_rows` does nothing.
"""

from __future__ import annotations

import mmap
from typing import Any

import numpy as np

__all__ = ["release_rows"]

_PAGE = mmap.PAGESIZE
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)


def _read_only_map(arr: Any) -> tuple[mmap.mmap, int] | None:
    """The read-only map under ``arr`` and the byte offset of ``arr[0]`` in it, or None."""
    base = arr
    memmap: np.memmap | None = None
    while base is not None and not isinstance(base, mmap.mmap):
        if isinstance(base, np.memmap):
            memmap = base
        base = getattr(base, "base", None)
    if base is None or memmap is None or getattr(memmap, "mode", None) != "r":
        return None
    try:
        start = np.frombuffer(base, dtype=np.uint8).ctypes.data
    except (TypeError, ValueError):  # a closed map
        return None
    return base, int(arr.ctypes.data) - int(start)


def release_rows(arr: Any, lo: int = 0, hi: int | None = None) -> None:
    """Drop rows ``lo:hi`` of a read-only memory-mapped array from this process's resident pages.

    The data is not changed: reading those rows again faults the pages back in
    from the page cache (or the file). Does nothing for an array that is not a
    read-only map, and on systems without ``madvise``.

    Parameters
    ----------
    arr : ndarray
        A read-only map (``np.load(path, mmap_mode="r")``) or a view of one whose
        rows are its first axis; views that are not C-contiguous are left alone.
    lo, hi : int
        Rows to drop (``hi`` None: to the end). The span is widened to whole pages,
        so a neighbouring row on a shared page may be dropped too (it is re-read
        when needed).
    """
    if _DONTNEED is None or not isinstance(arr, np.ndarray) or arr.ndim == 0 or len(arr) == 0:
        return
    found = _read_only_map(arr)
    if found is None:
        return
    mm, offset = found
    n = len(arr)
    hi = n if hi is None else min(int(hi), n)
    lo = max(int(lo), 0)
    if hi <= lo:
        return
    if not arr.flags.c_contiguous:  # rows are not one span each (never so for the store's files)
        return
    step = arr.strides[0] if arr.ndim > 1 or arr.strides[0] else arr.itemsize
    first, last = offset + lo * step, offset + hi * step
    first -= first % _PAGE
    last = min(last, len(mm))
    if last <= first:
        return
    try:
        mm.madvise(_DONTNEED, first, last - first)
    except (OSError, ValueError):  # a closed map, or the kernel refused: the pages simply stay
        pass
