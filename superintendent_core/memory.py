"""Giving freed memory back to the operating system after a pass over the pool.

A retrain or a cold start allocates and frees hundreds of MB (the pool's features,
its probabilities, orders) in a background or script thread. glibc's ``malloc``
keeps much of what such a thread freed in its arena for later reuse instead of
returning it: in the app at 1M × 64 items the server's resident size stayed
90–150 MB above what its live objects needed after each retrain, and the next
retrain's peak was stacked on top of it. :func:`trim` asks ``malloc`` to return
every free page (``malloc_trim(0)``, glibc only; a no-op elsewhere). It takes a few
milliseconds and frees nothing that is in use.
"""

from __future__ import annotations

import ctypes
import functools
import sys

__all__ = ["trim"]


@functools.cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        # the process's own C library: glibc has malloc_trim, musl has not
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


def trim() -> bool:
    """Return the C heap's free pages to the operating system; True when any was returned.

    Safe to call from any thread at any time (glibc locks each arena while it
    trims it). Does nothing where ``malloc_trim`` does not exist.
    """
    function = _malloc_trim()
    if function is None:
        return False
    return bool(function(0))
