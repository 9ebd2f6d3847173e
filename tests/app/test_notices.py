"""Notices survive one rerun the page starts by itself, and only one (ui.widgets.rerun_keeping_notices)."""

from __future__ import annotations

import pytest

from ui import state as S
from ui import widgets


class Rerun(Exception):
    pass


@pytest.fixture
def page(monkeypatch):
    state: dict = {}
    shown: list[str] = []
    monkeypatch.setattr(widgets.st, "session_state", state)
    monkeypatch.setattr(widgets.st, "rerun", lambda: (_ for _ in ()).throw(Rerun()))
    monkeypatch.setattr(widgets, "say", lambda kind, text: shown.append(text))
    return state, shown


def _run(state, shown, poll: bool) -> list[str]:
    """One script run: notices at the top, then a poll that may rerun the page."""
    shown.clear()
    widgets.show_notices()
    if poll:
        with pytest.raises(Rerun):
            widgets.rerun_keeping_notices()
    return list(shown)


def test_a_notice_is_drawn_again_after_one_automatic_rerun_then_not_again(page):
    state, shown = page
    S.notify(state, "success", "Item 3 settled as '7'")
    assert _run(state, shown, poll=True) == ["Item 3 settled as '7'"]
    assert _run(state, shown, poll=True) == ["Item 3 settled as '7'"]  # the rerun the poll started
    assert _run(state, shown, poll=True) == []  # polling again does not keep it on screen for ever
    assert _run(state, shown, poll=False) == []


def test_a_new_notice_during_polling_is_shown(page):
    state, shown = page
    _run(state, shown, poll=True)
    S.notify(state, "info", "new")
    assert _run(state, shown, poll=False) == ["new"]
