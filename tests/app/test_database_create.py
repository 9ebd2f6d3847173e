"""Create project with a database configured: in that database (a schema per project), or a clear refusal.

Never a silent local folder (on a hosted app it would vanish at the next restart).
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from conftest import POSTGRES_URL, postgres_available, require
from sql_helpers import drop_schemas, fresh_schema
from streamlit.testing.v1 import AppTest

from superintendent_core.store import open_store
from ui import state as S
from ui.project import open_project

from .conftest import APP, click_class, errors


def _listing(*roots) -> set[str]:
    return {os.path.join(d, f) for root in roots for d, dirs, files in os.walk(root) for f in files + dirs}


def _create(at: AppTest, name: str) -> AppTest:
    at.switch_page("pages/data.py").run()
    at.text_input(key=S.DATA_NAME).input(name).run()
    assert not [t for t in at.text_input if t.key == S.DATA_PATH]  # no folder to choose
    at.radio(key=S.DATA_SOURCE).set_value("demo").run()
    return at.button(key=S.DATA_CREATE).click().run()


def _close_all(*urls):
    for url in urls:
        try:
            project = open_project(url)
            project.scheduler.wait(60)
            project.store.close()
        except Exception:
            pass
    open_project.clear()


def test_with_sqlite_configured_create_refuses_clearly_and_writes_no_folder(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    at = AppTest.from_file(APP, default_timeout=60).run()
    try:
        before = _listing(tmp_path)
        _create(at, "second")
        assert at.exception == []
        assert any("SQLite database" in e and "Nothing was created" in e for e in errors(at)), errors(at)
        assert {p for p in _listing(tmp_path) - before if not p.startswith(str(tmp_path / "shared.db"))} == set()
        assert S.QP_PROJECT not in at.query_params
    finally:
        _close_all(url)


def test_with_postgresql_configured_create_makes_a_schema_beside_the_default(tmp_path, monkeypatch):
    require(postgres_available(), "PostgreSQL on 127.0.0.1:5432")
    default_schema, new_schema = fresh_schema(), fresh_schema()
    default_url = f"{POSTGRES_URL}?schema={default_schema}"
    monkeypatch.setenv("DATABASE_URL", default_url)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    new_url = None
    try:
        at = AppTest.from_file(APP, default_timeout=60).run()
        before = _listing(tmp_path)
        _create(at, new_schema)
        assert at.exception == [] and errors(at) == []
        assert at.query_params[S.QP_PROJECT] == new_schema  # the schema, never the URL (it may hold a password)
        click_class(at, 3)
        new_url = at.session_state[S.PROJECT]
        assert new_url.endswith(f"schema={new_schema}")
        assert _listing(tmp_path) == before  # no local folder, no file
        with open_store(new_url, create=False) as created:
            assert len(created) == 1797 and created.progress().labelled == 1
        with open_store(default_url, create=False) as default:
            assert default.progress().labelled == 0  # the default project is untouched
        # A link with the schema opens it; the same name again is refused.
        again = AppTest.from_file(APP, default_timeout=60)
        again.query_params[S.QP_PROJECT] = new_schema
        again.run()
        assert errors(again) == [] and again.session_state[S.PROJECT] == new_url
        _create(again, new_schema)
        assert any("already in the database" in e for e in errors(again)), errors(again)
    finally:
        _close_all(default_url, *( [new_url] if new_url else []))
        drop_schemas([default_schema, new_schema])


def test_a_failed_create_in_postgresql_leaves_no_schema(monkeypatch):
    require(postgres_available(), "PostgreSQL on 127.0.0.1:5432")
    from superintendent_core.service import create_project, database_project_location
    from superintendent_core.store import ItemBatch, ProjectSettings, StoreError

    schema = fresh_schema()
    url = database_project_location(POSTGRES_URL, schema)
    bad = ItemBatch(names=("a", "a"), kind="text", features=["x", "y"], payloads=["x", "y"])  # duplicate names
    try:
        with pytest.raises(StoreError):
            create_project(url, ProjectSettings(name="x", kind="text", classes=("a", "b")), bad)
        engine = sa.create_engine(POSTGRES_URL)
        try:
            with engine.connect() as conn:
                assert conn.exec_driver_sql(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %(s)s", {"s": schema}).first() is None
        finally:
            engine.dispose()
    finally:
        drop_schemas([schema])
