"""ui/foreground.py: the engine's background imports know when Streamlit is running a script."""

from __future__ import annotations

import inspect

from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

from superintendent_core import foreground as engine_foreground
from ui import foreground

from .conftest import ok

SCRIPT = """
import threading

import streamlit as st

from ui import foreground

st.write(str(threading.get_ident() in foreground.script_threads()))
"""


def test_streamlit_still_names_the_thread_of_a_script_run():
    """If this fails, Streamlit renamed the thread: the probe finds none and background imports never wait."""
    assert f'name="{foreground.SCRIPT_THREAD}"' in inspect.getsource(script_runner.ScriptRunner.start)
    at = AppTest.from_string(SCRIPT).run()
    assert [m.value for m in at.markdown] == ["True"]
    assert foreground.script_threads() == []  # the run is over: its thread has ended


def test_the_app_registers_the_probe(app):
    engine_foreground.set_probe(None)
    ok(app.run())
    assert engine_foreground._probe is foreground.script_threads
