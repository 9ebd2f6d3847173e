"""service.allowed_location / new_project_location: a pure rule over plain values; nothing is created."""

from __future__ import annotations

import os

import pytest

from superintendent_core.service import allowed_location, new_project_location
from superintendent_core.store import ProjectSettings, StoreError, open_store

DB = "postgresql+psycopg://app:pw@db.internal:5432/labels"


def _project(path):
    with open_store(str(path), settings=ProjectSettings(name="p", classes=("a", "b")), create=True):
        pass
    return str(path)


def test_folders_under_the_root_that_hold_a_project(tmp_path):
    root = tmp_path / "projects"
    inside = _project(root / "one")
    assert allowed_location(inside, projects_root=root) == inside
    assert allowed_location("one", projects_root=root) == inside  # relative to the projects folder
    assert allowed_location(str(root / "x" / ".." / "one"), projects_root=root) == inside
    default = str(root / "default-not-made-yet")
    assert allowed_location(default, projects_root=root, default=default) == default
    assert not os.path.exists(default)


@pytest.mark.parametrize("value", ["../outside", "/etc", "sqlite:///x.db", "file:///etc/passwd", "http://h/",
                                   "mysql://h/x", "a\x00b", "", "  ", "x" * 2000, None, 5, DB])
def test_everything_else_is_refused_without_repeating_it(tmp_path, value):
    root = tmp_path / "projects"
    _project(tmp_path / "outside")
    with pytest.raises(StoreError, match="nothing was opened or created") as info:
        allowed_location(value, projects_root=root)
    assert "\x00" not in str(info.value) and "passwd" not in str(info.value)
    assert sorted(os.listdir(tmp_path)) == ["outside"]


def test_the_configured_database_and_its_other_schemas(tmp_path):
    assert allowed_location(DB, projects_root=None, database_url=DB) == DB
    other = DB + "?schema=team_b"
    assert allowed_location(other, projects_root=None, database_url=DB) == other
    for bad in ["postgresql+psycopg://app:pw@evil:5432/labels?schema=team_b", DB + "?schema=Bad-Name",
                "postgresql+psycopg://app:pw@db.internal:5432/other?schema=x", "sqlite:///x.db"]:
        with pytest.raises(StoreError):
            allowed_location(bad, projects_root=None, database_url=DB)


def test_a_new_folder_goes_inside_the_root(tmp_path):
    root = tmp_path / "projects"
    root.mkdir()
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    assert new_project_location("new", projects_root=root) == str(root / "new")
    for bad in ["../escaped", "/tmp/x", "link/escaped", ".", "sqlite:///x.db"]:
        with pytest.raises(StoreError):
            new_project_location(bad, projects_root=root)
