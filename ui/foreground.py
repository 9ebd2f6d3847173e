"""Tell the engine's background threads when a page is being drawn (``superintendent_core/foreground.py``).

A Streamlit script run, the whole app or one fragment, runs in a thread Streamlit
starts for it and names ``ScriptRunner.scriptThread``; the thread ends with the run.
The probe registered here names those threads, in every session: the cold start's
and the first retrain's imports wait (bounded) while one of them runs instead of
sharing the interpreter with it. If a later Streamlit names the thread otherwise,
the probe finds none and nothing waits (``tests/app/test_foreground.py`` says so).
"""

from __future__ import annotations

import threading

from superintendent_core import foreground

__all__ = ["SCRIPT_THREAD", "register", "script_threads"]

#: The name Streamlit (1.67) gives the thread of a script run (streamlit/runtime/scriptrunner/script_runner.py).
SCRIPT_THREAD = "ScriptRunner.scriptThread"


def script_threads() -> list[int]:
    """The idents of the threads running a script now, in any session of this process."""
    return [t.ident for t in threading.enumerate() if t.name == SCRIPT_THREAD and t.ident is not None]


def register() -> None:
    """Make :func:`script_threads` the engine's foreground probe (an assignment: cheap on every rerun)."""
    foreground.set_probe(script_threads)
