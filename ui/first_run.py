"""Work Streamlit does on a process's first script run that a ``streamlit run`` app never needs.

Issue 17 asks for the first item within 2.5 s of ``streamlit run``. Streamlit
(1.67) checks once per process, on the first element any script draws, whether
to print "to view this Streamlit app on a browser, run it with ``streamlit
run``" (``delta_generator._maybe_print_use_warning``). The check first calls
``env_util.is_repl()``, which is ``inspect.stack()``: it reads the source file
of every frame on the stack and, through ``inspect.getmodule``, works out the
file of every loaded module (about a thousand by the time our first element is
drawn). Measured on the 2-core machine, CPU time of that call from a thread:
39 ms with Streamlit's own 784 modules loaded, 94 ms with 2,211.

Under ``streamlit run`` that check can print nothing: a script thread's
outermost frame is ``threading``'s, so ``is_repl()`` is false, and the other
warning is only for scripts run without a Streamlit runtime. So when a runtime
exists, :func:`skip_use_warning_check` marks the warning as already shown.
Streamlit's own flag is private; if a later Streamlit renames it, this does
nothing (and ``tests/app/test_first_run.py`` says so).
"""

from __future__ import annotations

__all__ = ["skip_use_warning_check"]

#: Streamlit's module-level flag: "the use warning was displayed" (streamlit/delta_generator.py).
FLAG = "_use_warning_has_been_displayed"


def skip_use_warning_check() -> bool:
    """Under a Streamlit runtime, skip its once-per-process "use streamlit run" check; True if skipped."""
    from streamlit import delta_generator, runtime

    if not runtime.exists() or not hasattr(delta_generator, FLAG):
        return False
    setattr(delta_generator, FLAG, True)
    return True
