"""ui/first_run.py: Streamlit's once-per-process "use streamlit run" check is skipped under a runtime."""

from __future__ import annotations

import inspect

from streamlit import delta_generator, env_util

from ui import first_run


def test_streamlit_still_has_the_check_and_its_flag():
    """If this fails, Streamlit changed: ui/first_run.py no longer skips anything and may go."""
    assert hasattr(delta_generator, first_run.FLAG)
    source = inspect.getsource(delta_generator._maybe_print_use_warning)
    assert first_run.FLAG in source and "is_repl()" in source
    assert "inspect.stack()" in inspect.getsource(env_util.is_repl)


def test_without_a_runtime_nothing_is_changed(monkeypatch):
    monkeypatch.setattr(delta_generator, first_run.FLAG, False)
    assert not first_run.skip_use_warning_check()  # a bare test process: no Streamlit runtime
    assert getattr(delta_generator, first_run.FLAG) is False


def test_under_a_runtime_the_check_is_marked_done(monkeypatch):
    from streamlit import runtime

    monkeypatch.setattr(delta_generator, first_run.FLAG, False)
    monkeypatch.setattr(runtime, "exists", lambda: True)
    assert first_run.skip_use_warning_check()
    assert getattr(delta_generator, first_run.FLAG) is True
