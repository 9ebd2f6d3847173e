"""The app on a shared database: DATABASE_URL (or secrets) decides where the project lives."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from superintendent_core.store import display_location, open_store
from ui import state as S
from ui.project import open_project

from .conftest import APP, click_class, ok


def test_database_url_opens_the_demo_in_the_database_and_labels_go_there(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=60)
    try:
        ok(at.run())
        assert S.QP_PROJECT not in at.query_params  # the URL (maybe with a password) is never in the address
        labeller = at.query_params[S.QP_LABELLER]
        ok(click_class(at, 3))
        project = open_project(url)
        assert type(project.store).__name__ == "SQLStore"
        assert len(project.store) == 1797
        labels = project.store.labels()
        assert labels["label"].tolist() == ["3"]
        assert labels["labeller"].tolist() == [labeller]
    finally:
        try:
            open_project(url).store.close()
        finally:
            open_project.clear()
    # A second process (here: a second store object) sees the same label.
    with open_store(url, create=False) as again:
        assert again.progress().labelled == 1


def test_unreadable_database_url_is_a_message_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:s3cret@127.0.0.1:1/none")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert at.exception == []
    shown = " ".join(e.value for e in at.error)
    assert shown, "expected an error message on the page"
    assert "s3cret" not in shown
    open_project.clear()


def test_display_location_masks_a_password():
    assert display_location("postgresql+psycopg://ann:hunter22@db/x") == "postgresql+psycopg://ann:***@db/x"
    assert display_location("/srv/projects/birds") == "/srv/projects/birds"
