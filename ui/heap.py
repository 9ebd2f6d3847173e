"""Keep the garbage collection Streamlit runs after every rerun cheap.

``streamlit run`` calls ``gc.collect(2)`` after each script run (the
``runner.postScriptGC`` option, on by default). A full collection walks every
object the collector tracks in the process. With the app's modules,
scikit-learn, pandas and pyarrow loaded and a project open, that is about
165,000 objects. On our 2-core machines it took 110–250 ms per collection
(measured in the server on a 1M-item project): the larger part of a label
click, whose own work is about 20 ms.

Almost all of those objects live as long as the process: modules, classes,
functions, the open project. They never become garbage, so walking them again
after every click buys nothing. :func:`settle` moves them out of the
collector's way with :func:`gc.freeze`, once they have piled up. Afterwards the
collection after a rerun walks only what was made since, about 0.01 ms per
thousand objects.

The first script run of a process is the exception: it imports the app and opens
the project (about 95,000 tracked objects at a 1M-item table project), and the
collection after it sits between the first item's last element and the browser
learning that the script finished (Streamlit sends that message from the event
loop, which waits for the collection to release the interpreter).
:func:`freeze_first_run`, called at the end of ``app.py``, freezes once without
collecting first: the first run leaves a few hundred unreachable objects
(382 measured at a 1M-item table project, 728 before its imports were made
lazy), kept for the life of the process.

Cost of freezing: a frozen object that later becomes part of a reference cycle
is never collected. An object freed by reference counting (nearly all of them)
is still freed as usual. Freezing happens only when at least
:data:`MIN_NEW_OBJECTS` long-lived objects have accumulated, and at most once
per :data:`CHECK_EVERY_S`, so what could be kept this way is bounded by what
was alive at those moments.

:func:`start` runs :func:`settle` in one daemon thread per process, every
:data:`CHECK_EVERY_S`: a rerun does not always pass through ``app.py`` (a click
inside ``@st.fragment`` reruns only the fragment), so the script is the wrong
place to call it.

This module never imports streamlit.
"""

from __future__ import annotations

import gc
import threading
import time

__all__ = ["CHECK_EVERY_S", "ENABLED", "MIN_NEW_OBJECTS", "freeze_first_run", "settle", "start"]

#: Tests of unrelated pages turn this off (see tests/app/conftest.py): a test
#: process runs hundreds of apps, and freezing their objects would keep them.
ENABLED = True
#: Look at the heap at most this often (seconds).
CHECK_EVERY_S = 2.0
#: Freeze once this many objects sit in the oldest (collected) generation.
MIN_NEW_OBJECTS = 20_000

_lock = threading.Lock()
_last_check = float("-inf")
_thread: threading.Thread | None = None
_first_run_frozen = False


def settle(now: float | None = None) -> bool:
    """Freeze the long-lived heap if it has grown; True when it froze.

    Cheap on most calls: a time check. Every :data:`CHECK_EVERY_S` it counts
    the objects of the oldest generation (a few ms for 100,000), and when
    there are :data:`MIN_NEW_OBJECTS` or more it collects once (dropping
    today's garbage, so it is not frozen) and freezes what is left.
    """
    global _last_check
    if not ENABLED:
        return False
    now = time.monotonic() if now is None else now
    if now - _last_check < CHECK_EVERY_S:
        return False
    if not _lock.acquire(blocking=False):
        return False  # another session is doing it
    try:
        _last_check = now
        if len(gc.get_objects(generation=2)) < MIN_NEW_OBJECTS:
            return False
        gc.collect()
        gc.freeze()
        return True
    finally:
        _lock.release()


def freeze_first_run() -> bool:
    """Freeze the heap once per process, without a collection first; True the one time it froze.

    For the end of the first script run (see the module's docstring): it makes the
    collection Streamlit runs right after it walk only what is made from then on.
    """
    global _first_run_frozen
    if not ENABLED or _first_run_frozen:
        return False
    with _lock:
        if _first_run_frozen:
            return False
        _first_run_frozen = True
        gc.freeze()
    return True


def _watch() -> None:
    while True:
        time.sleep(CHECK_EVERY_S)
        try:
            settle()
        except Exception:  # never let housekeeping end the thread
            pass


def start() -> None:
    """Start the process's watcher thread (once; later calls do nothing)."""
    global _thread
    if not ENABLED:
        return
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_watch, name="superintendent-heap", daemon=True)
            _thread.start()
