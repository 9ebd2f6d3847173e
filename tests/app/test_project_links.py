"""``?project=`` is input from anyone with the link: it may name only the projects the app serves.

The default project, a project folder under the projects folder (the default
folder's parent), or the configured database. Anything else — another folder, a
``..`` or symlink escape, ``sqlite:`` / ``postgresql:`` / ``mysql:`` / ``file:`` /
``http:`` URLs, control characters — is refused with a message, and nothing is
created or connected to.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from superintendent_core.store import ProjectSettings, open_store
from ui import state as S
from ui.project import open_project

from .conftest import APP, captions, errors
from .test_roles import ADMIN_CODE, SECRETS, _close, sign_in


def _make_project(path: Path, name: str) -> str:
    with open_store(str(path), settings=ProjectSettings(name=name, classes=("a", "b")), create=True):
        pass
    return str(path)


def _files(*roots: Path) -> set[str]:
    return {os.path.join(d, f) for root in roots for d, dirs, files in os.walk(root) for f in files + dirs}


@pytest.fixture
def listener():
    """A listening socket on 127.0.0.1: ``port``, and ``touched()`` — whether anything connected."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)

    def touched() -> bool:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True

    yield sock.getsockname()[1], touched
    sock.close()


@pytest.fixture
def outside(tmp_path_factory):
    """A folder outside the projects folder, holding a real project."""
    return _make_project(tmp_path_factory.mktemp("elsewhere") / "secret-project", "Secret elsewhere")


def _hostile(tmp_path: Path, outside: str, port: int) -> dict[str, str]:
    link = tmp_path / "link-out"
    link.symlink_to(outside, target_is_directory=True)
    return {
        "other folder with a project": outside,
        "dot-dot escape": str(tmp_path / "labelling-project" / ".." / ".." / Path(outside).parent.name
                              / "secret-project"),
        "symlink escape": str(link),
        "relative escape": os.path.relpath(outside, tmp_path),
        "new folder": str(tmp_path / "would-be-created"),
        "system folder": "/etc",
        "sqlite file": f"sqlite:///{tmp_path / 'evil.db'}",
        "sqlite relative": "sqlite:///evil-relative.db",
        "postgresql": f"postgresql://postgres@127.0.0.1:{port}/x",
        "postgres+driver": f"postgresql+psycopg://postgres@127.0.0.1:{port}/x?schema=evil",
        "mysql": f"mysql://root@127.0.0.1:{port}/x",
        "file url": "file:///etc/passwd",
        "http url": f"http://127.0.0.1:{port}/",
        "nul byte": str(tmp_path / "labelling-project") + "\x00evil",
        "newline": str(tmp_path) + "/a\nb",
    }


HOSTILE = ["other folder with a project", "dot-dot escape", "symlink escape", "relative escape", "new folder",
           "system folder", "sqlite file", "sqlite relative", "postgresql", "postgres+driver", "mysql", "file url",
           "http url", "nul byte", "newline"]


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_project_link_is_refused_and_creates_nothing(kind, tmp_path, outside, listener, project_dir,
                                                                monkeypatch):
    port, touched = listener
    value = _hostile(tmp_path, outside, port)[kind]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # a relative sqlite file would land here
    before = _files(tmp_path, Path(outside).parent)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params[S.QP_PROJECT] = value
    try:
        at.run()
        assert at.exception == []
        assert any("was not opened" in e and "nothing was opened or created" in e for e in errors(at)), errors(at)
        assert S.QP_PROJECT not in at.query_params
        assert at.session_state[S.PROJECT] is None
        assert not any("Secret" in c for c in captions(at))
        assert any("Digits demo" in c for c in captions(at))  # the default project, as without a link
        assert not touched(), "a connection was attempted"
        created = _files(tmp_path, Path(outside).parent) - before
        assert {p for p in created if not p.startswith(project_dir)} == set(), created  # only the default project
        assert "\x00" not in "".join(errors(at)) and "evil" not in "".join(errors(at))  # the value is not echoed
    finally:
        _close(project_dir)


def test_a_project_under_the_projects_folder_still_opens_from_a_link(tmp_path, project_dir):
    other = _make_project(tmp_path / "next-door", "Next door")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params[S.QP_PROJECT] = other
    try:
        at.run()
        assert at.exception == [] and errors(at) == []
        assert any("Next door" in c for c in captions(at))
        assert at.query_params[S.QP_PROJECT] == other
    finally:
        _close(project_dir)
        open_project.clear()


def test_an_admin_cannot_reach_outside_the_projects_folder_either(tmp_path, outside, project_dir):
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets.update(SECRETS)
    try:
        at.run()
        sign_in(at, ADMIN_CODE, name="lead", role="admin")
        at.query_params[S.QP_PROJECT] = outside
        at.run()
        assert S.QP_PROJECT not in at.query_params
        assert not any("Secret" in c for c in captions(at))
        assert any("was not opened" in e for e in errors(at))
    finally:
        _close(project_dir)


@pytest.mark.parametrize("kind", ["other folder with a project", "sqlite file", "symlink escape", "postgresql"])
def test_the_data_pages_open_form_follows_the_same_rule(kind, tmp_path, outside, listener, project_dir):
    port, touched = listener
    value = _hostile(tmp_path, outside, port)[kind]
    at = AppTest.from_file(APP, default_timeout=60).run()
    try:
        at.switch_page("pages/data.py").run()
        at.text_input(key=S.DATA_OPEN_PATH).input(value).run()
        at.button(key=S.DATA_OPEN).click().run()
        assert at.exception == []
        assert any("nothing was opened or created" in e for e in errors(at)), errors(at)
        assert S.QP_PROJECT not in at.query_params
        assert not touched()
        assert not (tmp_path / "evil.db").exists()
    finally:
        _close(project_dir)


def test_a_new_project_folder_must_be_inside_the_projects_folder(tmp_path, project_dir):
    at = AppTest.from_file(APP, default_timeout=60).run()
    target = tmp_path.parent / f"{tmp_path.name}-escaped"
    try:
        at.switch_page("pages/data.py").run()
        at.text_input(key=S.DATA_PATH).input(str(tmp_path / ".." / target.name)).run()
        at.button(key=S.DATA_CREATE).click().run()
        assert at.exception == []
        assert any("must be inside" in e for e in errors(at)), errors(at)
        assert not target.exists()
    finally:
        _close(project_dir)
