"""Unexpected failures: a sentence with an error id in the browser, the traceback only in the server log."""

from __future__ import annotations

import logging
import re
import tomllib

import pytest

import ui.widgets
from ui import errors as E

from .conftest import ROOT, errors, exceptions

SERVER_PATH = "/srv/private/projects/items-0001.npy"


def test_the_config_sends_no_error_details_to_the_browser():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"


def test_the_config_never_reloads_the_apps_modules_under_open_projects():
    # Streamlit's file watcher drops a changed module from sys.modules: ui.runtime's registry would be
    # made again beside the projects the old one holds open (and it costs ~0.3 s of the first item).
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["runOnSave"] is False


@pytest.mark.parametrize("where", ["require_project", "draw_item"])  # app.py's wrapper / the fragment's
def test_a_failing_page_shows_an_error_id_and_logs_the_traceback(app, monkeypatch, caplog, where):
    def broken(*args, **kwargs):
        raise RuntimeError(f"cannot read {SERVER_PATH}")

    monkeypatch.setattr(ui.widgets, where, broken)
    with caplog.at_level(logging.ERROR, logger="superintendent.app"):
        app.run()

    assert exceptions(app) == []  # no exception element: no type, message or traceback in the page
    [shown] = errors(app)
    match = re.fullmatch(re.escape(E.FAILED).replace(r"\{error_id\}", "([0-9a-f]{8})"), shown)
    assert match is not None, shown
    assert SERVER_PATH not in shown and "Traceback" not in shown and "RuntimeError" not in shown
    error_id = match.group(1)
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info is not None and SERVER_PATH in str(record.exc_info[1])


def test_each_failure_gets_its_own_id():
    assert len({E.new_error_id() for _ in range(50)}) == 50
