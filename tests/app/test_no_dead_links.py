"""Nobody is sent to a page they do not have: a labeller on a project without items, classes, or that cannot open.

The Data page is registered for admins only; a link to it for anyone else ends in
Streamlit's ``StreamlitPageNotFoundError`` (with server paths in its traceback).
A labeller gets a plain sentence instead; an admin still gets the link.
"""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from superintendent_core.store import ProjectSettings, open_store
from ui import runtime
from ui import state as S
from ui.widgets import PROJECT_UNAVAILABLE

from .conftest import APP, errors, exceptions

SECRETS = {"auth": {"admin_passcode": "admin-phrase-0123", "labeller_passcode": "labeller-phrase-4567"}}
NO_ITEMS = "This project has no items yet: ask your project's admin to add some, then come back."
NO_CLASSES = "This project has no classes yet: ask your project's admin to define them, then come back."


@pytest.fixture(autouse=True)
def _fresh_registry():
    runtime.reset_for_tests()
    yield
    runtime.reset_for_tests()


def session(role: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets.update(SECRETS)
    at.session_state[S.ROLE] = role
    at.session_state[S.AUTH_NAME] = None
    return at.run()


def page_links(at: AppTest) -> list[str]:
    return [link.proto.page for link in at.get("page_link")]


def shown(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("error", "warning", "info", "markdown", "caption")
                     for e in getattr(at, kind))


def empty_default_project(classes=("cat", "dog")) -> str:
    path = os.environ["SUPERINTENDENT_PROJECT_DIR"]
    with open_store(path, settings=ProjectSettings(name="Empty one", classes=classes), create=True):
        pass
    return path


def test_a_labeller_on_a_project_without_items_is_told_to_ask_the_admin():
    empty_default_project()
    at = session("labeller")
    assert exceptions(at) == []
    assert [i.value for i in at.info] == [NO_ITEMS]
    assert page_links(at) == []


def test_a_labeller_on_a_project_without_classes_is_told_to_ask_the_admin():
    empty_default_project(classes=())
    at = session("labeller")
    assert exceptions(at) == []
    assert [w.value for w in at.warning] == [NO_CLASSES]
    assert page_links(at) == []


def test_a_labeller_whose_project_cannot_open_reads_no_server_path(tmp_path):
    path = os.environ["SUPERINTENDENT_PROJECT_DIR"]
    with open(path, "w") as f:  # a file where the project folder should be
        f.write("not a project")
    at = session("labeller")
    assert exceptions(at) == []
    assert errors(at) == [PROJECT_UNAVAILABLE]
    assert page_links(at) == [] and str(tmp_path) not in shown(at)


def test_an_admin_on_a_project_without_items_still_gets_the_data_page_link():
    empty_default_project()
    at = session("admin")
    assert exceptions(at) == []
    assert [i.value for i in at.info] == ["This project has no items yet. Add some on the Data page."]
    assert page_links(at) == ["data"]
