"""Background threads give way, while they import modules, whenever the app draws a page.

Why: the app's cold start and retrains run in background threads of the same
process as the pages. Most of their work is numpy and scikit-learn code that lets
go of the interpreter lock (GIL), but their first run imports scikit-learn, SciPy
and pandas, about 0.8 s of pure Python that holds it. A page run in the meantime
gets the lock only every few milliseconds: measured at 1M × 64 items on the
2-core machine, clicks during the cold start took 90–210 ms instead of 60–95 ms,
and the 90th percentile of click → next rose to 1.4–1.7× the median (issue 17 asks
for ≤ 1.5×).

How: a thread inside :func:`background` waits before each module it imports
while a *foreground* thread runs — the registered probe names them; the app's
names the threads of Streamlit's script runs (``ui/foreground.py``). A
``sys.meta_path`` finder does the waiting and finds nothing itself. Waiting is
bounded, so background work is delayed, never starved:

* at most :data:`MAX_WAIT_S` per module and :data:`BUDGET_S` in all per
  ``background`` block;
* not at all while a foreground thread makes no progress (the same frame at the
  same instruction over one poll): it may be waiting for a lock this thread
  holds — a store's lock, a module being imported — and waiting for it in turn
  would stall both. Measured before this rule: a label click waited 1.1 s for the
  store's lock, held by a cold start importing pandas inside a store call;
* not at all while any thread waits for a module's import lock.

:func:`preload` imports modules at a point of the caller's choosing (one holding
no lock), so the waits happen there rather than inside later calls.

Only imports wait (before each module, and in :func:`preload` every :data:`CHECK_S` inside
one): the rest of a background thread's work runs as before.
Without a probe (a notebook, a test, ``orchestrate``) nothing waits.

This module never imports streamlit.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

__all__ = ["BUDGET_S", "MAX_WAIT_S", "background", "foreground_threads", "preload", "set_probe", "waited"]

#: The longest one import waits for foreground work (seconds).
MAX_WAIT_S = 0.5
#: The most a ``background`` block waits in all (seconds).
BUDGET_S = 10.0
#: How often a preloading thread checks for foreground work while a module runs (seconds).
CHECK_S = 0.002
#: How often a waiting import looks again (seconds; the wait sleeps, holding no lock of its own).
POLL_S = 0.004

_probe: Callable[[], Iterable[int]] | None = None
_local = threading.local()
_install_lock = threading.Lock()


def set_probe(probe: Callable[[], Iterable[int]] | None) -> None:
    """Register the function that gives the idents of the threads doing foreground work now (None: none)."""
    global _probe
    _probe = probe


def foreground_threads() -> frozenset[int]:
    """The idents the probe gives (empty without a probe, or if it fails)."""
    probe = _probe
    if probe is None:
        return frozenset()
    try:
        return frozenset(int(i) for i in probe())
    except Exception:  # a probe must never break an import
        return frozenset()


def _import_awaited(me: int, frames: dict) -> bool:
    """Whether another thread waits for a module's import lock (perhaps one this thread holds)."""
    for ident, frame in frames.items():
        code = frame.f_code
        if ident != me and code.co_name == "acquire" and code.co_filename == "<frozen importlib._bootstrap>":
            return True
    return False


def _positions(idents: frozenset[int], frames: dict) -> dict[int, tuple[int, int]]:
    return {i: (id(f), f.f_lasti) for i in idents if (f := frames.get(i)) is not None}


def _give_way(left: float) -> float:
    """Wait while foreground threads make progress (at most ``left`` and MAX_WAIT_S); seconds waited."""
    start = time.monotonic()
    deadline = start + min(MAX_WAIT_S, left)
    me = threading.get_ident()
    stalled = getattr(_local, "stalled", {})
    before: dict[int, tuple[int, int]] | None = None
    while True:
        idents = foreground_threads()
        if not idents:
            break
        frames = sys._current_frames()
        now = _positions(idents, frames)
        if not now or _import_awaited(me, frames):
            break
        if any(stalled.get(i) == p for i, p in now.items()):
            break  # still where it stood still before: no waiting until it moves
        if before is not None:
            still = {i: p for i, p in now.items() if before.get(i) == p}
            if still:
                _local.stalled = still
                break
        if time.monotonic() >= deadline:
            break
        before = now
        time.sleep(POLL_S)
    return time.monotonic() - start


def _give_way_in_budget() -> None:
    """Inside :func:`background` with a probe: give way, and take the wait from this thread's budget."""
    left = getattr(_local, "left", None)
    if not left or left <= 0 or _probe is None:
        return
    try:
        spent = _give_way(left)
    except Exception:  # never let the waiting break an import (e.g. no sys._current_frames)
        return
    _local.left = left - spent
    _local.waited = getattr(_local, "waited", 0.0) + spent


class _GiveWay:
    """A ``sys.meta_path`` finder that finds nothing: in ``background`` threads it only waits."""

    @staticmethod
    def find_spec(fullname: str, path: object = None, target: object = None) -> None:
        _give_way_in_budget()
        return None

    @staticmethod
    def invalidate_caches() -> None:
        return None


def _install() -> None:
    with _install_lock:
        if not any(isinstance(f, _GiveWay) for f in sys.meta_path):
            sys.meta_path.insert(0, _GiveWay())


@contextmanager
def background(budget: float = BUDGET_S) -> Iterator[None]:
    """In this thread, let each module import wait while foreground work runs (at most ``budget`` s in all).

    An inner block restores the outer one's remaining budget when it ends.
    """
    _install()
    previous = getattr(_local, "left", None)
    _local.left = float(budget)
    try:
        yield
    finally:
        _local.left = previous


def _yield_point(frame: object, event: str, arg: object) -> None:
    """A profile function (this thread only): every CHECK_S, give way as an import would."""
    now = time.monotonic()
    if now < getattr(_local, "next_check", 0.0):
        return
    _local.next_check = now + CHECK_S
    _give_way_in_budget()


def preload(modules: Iterable[str]) -> list[str]:
    """Import ``modules`` now; the names that failed.

    Inside :func:`background`, with a probe registered, the thread gives way not only before
    each module but every :data:`CHECK_S` while a module runs (a profile function on this
    thread, for the imports only): some modules run 0.1 s of code between two imports
    (SciPy's distributions build their docstrings), long enough to slow a click twofold.
    """
    failed = []
    hook = _probe is not None and getattr(_local, "left", None) is not None and sys.getprofile() is None
    if hook:
        sys.setprofile(_yield_point)
    try:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # the caller's own import will raise it where it matters
                failed.append(name)
    finally:
        if hook:
            sys.setprofile(None)
    return failed


def waited() -> float:
    """Seconds this thread's imports have waited for foreground work so far."""
    return float(getattr(_local, "waited", 0.0))
