"""Importing a folder on the server: off unless a root is configured; never outside that root."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from ui import state as S
from ui.project import open_project

from .conftest import APP, errors
from .test_roles import ADMIN_CODE, LABELLER_CODE, SECRETS, _close, sign_in


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def _images(folder, n=2):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"secret-name-{i}.png").write_bytes(_png())
    return folder


def _folder_form(at: AppTest) -> AppTest:
    at.switch_page("pages/data.py").run()
    at.radio(key=S.DATA_SOURCE).set_value("folder").run()
    return at


@pytest.fixture
def data_page(project_dir):
    made = []

    def make(secrets=None):
        at = AppTest.from_file(APP, default_timeout=60)
        if secrets:
            at.secrets.update(secrets)
        at.run()
        made.append(at)
        return at

    yield make
    _close(project_dir)
    open_project.clear()


def test_without_a_root_the_form_says_how_to_enable_it(data_page, monkeypatch):
    monkeypatch.delenv("SUPERINTENDENT_IMPORT_ROOT", raising=False)
    at = _folder_form(data_page())
    assert at.exception == []
    assert not [t for t in at.text_input if t.key == "new" + S.DATA_FOLDER]
    assert any("import_root" in i.value and "off" in i.value for i in at.info)


@pytest.mark.parametrize("how", ["absolute outside", "dot-dot", "symlink", "system"])
def test_folders_outside_the_root_are_refused_and_not_listed(data_page, tmp_path, monkeypatch, how):
    root = tmp_path / "import-root"
    _images(root / "ok")
    outside = _images(tmp_path / "private")
    (root / "link").symlink_to(outside, target_is_directory=True)
    monkeypatch.setenv("SUPERINTENDENT_IMPORT_ROOT", str(root))
    value = {"absolute outside": str(outside), "dot-dot": "../private", "symlink": "link", "system": "/etc"}[how]
    at = _folder_form(data_page())
    at.text_input(key="new" + S.DATA_FOLDER).input(value).run()
    assert at.exception == []
    assert any("Only folders inside" in e for e in errors(at)), errors(at)
    everything = "\n".join([*errors(at), *(c.value for c in at.caption), *(m.value for m in at.markdown)])
    assert "secret-name" not in everything and "passwd" not in everything
    assert at.button(key=S.DATA_CREATE).disabled


def test_a_folder_inside_the_root_imports(data_page, tmp_path, monkeypatch):
    root = tmp_path / "import-root"
    _images(root / "cats", 3)
    monkeypatch.setenv("SUPERINTENDENT_IMPORT_ROOT", str(root))
    at = _folder_form(data_page())
    at.text_input(key="new" + S.DATA_FOLDER).input("cats").run()
    assert errors(at) == [] and not at.button(key=S.DATA_CREATE).disabled


def test_the_root_can_come_from_the_secrets_and_a_labeller_never_reaches_the_form(data_page, tmp_path, monkeypatch):
    monkeypatch.delenv("SUPERINTENDENT_IMPORT_ROOT", raising=False)
    root = tmp_path / "import-root"
    _images(root / "dogs", 2)
    secrets = {**SECRETS, "import_root": str(root)}
    at = data_page(secrets)
    sign_in(at, LABELLER_CODE, name="zoe", role="labeller")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/data.py")
    admin = data_page(secrets)
    sign_in(admin, ADMIN_CODE, name="lead", role="admin")
    _folder_form(admin)
    admin.text_input(key="new" + S.DATA_FOLDER).input(os.path.join(str(root), "dogs")).run()
    assert errors(admin) == [] and not admin.button(key=S.DATA_CREATE).disabled
