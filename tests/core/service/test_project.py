"""The project lifecycle through superintendent_core.service, as a notebook would use it (no Streamlit)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from fresh_python import run_fresh

from superintendent_core.data.demo import digits_batch
from superintendent_core.service import (
    DEMO_NAME,
    Project,
    add_to_project,
    create_project,
    default_location,
    demo_settings,
    is_project,
    normalise_location,
    open_project,
)
from superintendent_core.store import ItemBatch, ProjectSettings, StoreError, open_store

# --------------------------------------------------------------------------- where a project lives


def test_default_location_environment_then_given_values(tmp_path):
    folder = str(tmp_path / "dir")
    assert default_location(environ={}) == os.path.abspath("labelling-project")
    assert default_location(project_dir="relative", environ={}) == os.path.abspath("relative")
    assert default_location(project_dir="x", environ={"SUPERINTENDENT_PROJECT_DIR": folder}) == folder
    # a database (from the environment or the caller) wins over any folder, and is kept as it is
    assert default_location(database_url="sqlite:///a.db", project_dir="x", environ={}) == "sqlite:///a.db"
    env = {"DATABASE_URL": "sqlite:///e.db", "SUPERINTENDENT_PROJECT_DIR": folder}
    assert default_location(database_url="sqlite:///a.db", environ=env) == "sqlite:///e.db"


def test_default_location_reads_os_environ(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SUPERINTENDENT_PROJECT_DIR", str(tmp_path / "p"))
    assert default_location() == str(tmp_path / "p")


def test_locations_are_normalised_and_recognised(tmp_path):
    assert normalise_location("sqlite:///rel.db") == "sqlite:///rel.db"
    assert normalise_location("rel") == os.path.abspath("rel")
    assert normalise_location(tmp_path) == str(tmp_path)
    assert not is_project(tmp_path)
    assert is_project("postgresql://somewhere/db")
    with open_store(tmp_path / "p", settings=ProjectSettings(name="p", classes=("a",))):
        pass
    assert is_project(tmp_path / "p")


# --------------------------------------------------------------------------- opening


def test_the_default_project_is_created_with_the_demo(tmp_path):
    with open_project(tmp_path / "new", is_default=True) as project:
        assert isinstance(project, Project)
        assert project.path == project.location == str(tmp_path / "new")
        assert project.store.settings.name == DEMO_NAME == demo_settings().name
        assert len(project.store) == 1797
        assert project.scheduler.store is project.store and project.scheduler.snapshot is None
    with open_project(tmp_path / "new", is_default=True) as again:  # not imported twice
        assert len(again.store) == 1797


def test_a_default_project_with_other_settings_gets_no_demo(tmp_path):
    with open_store(tmp_path / "mine", settings=ProjectSettings(name="mine", classes=("a", "b"))):
        pass
    with open_project(tmp_path / "mine", is_default=True) as project:
        assert len(project.store) == 0 and project.store.settings.name == "mine"


def test_another_location_must_hold_a_project(tmp_path):
    with pytest.raises(StoreError, match="No project at"):
        open_project(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


def test_a_database_default_project_gets_the_demo(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with open_project(url, is_default=True) as project:
        assert project.path == url and len(project.store) == 1797


# --------------------------------------------------------------------------- labelling, retrains, warm-up


def _truth(project: Project, item_id: int) -> str:
    return str(project.store.true_labels([item_id])[0])


def test_label_starts_an_automatic_retrain_when_due(tmp_path):
    with open_project(tmp_path / "p", is_default=True, random_state=0) as project:
        for _ in range(5):
            item_id = project.store.next_item("me")
            assert project.label(item_id, _truth(project, item_id), "me") is False  # no interval set
        project.store.update_settings(retrain_every=10)
        started = [project.label(i, _truth(project, i), "me") for i in (project.store.next_item("me"),)]
        while not any(started):
            item_id = project.store.next_item("me")
            started.append(project.label(item_id, _truth(project, item_id), "me", seconds=1.5))
        assert project.store.progress().labelled == 10
        assert project.scheduler.wait(120)
        assert project.scheduler.error is None and project.scheduler.snapshot.result.n_labels == 10
        assert project.labels_changed() is False  # nothing new since


def test_a_refused_label_starts_nothing(tmp_path):
    with open_project(tmp_path / "p", is_default=True) as project:
        project.store.update_settings(retrain_every=1)
        item_id = project.store.next_item("me")
        with pytest.raises(StoreError):
            project.label(item_id, "not a class", "me")
        assert project.scheduler.version == 0 and project.store.progress().labelled == 0


def test_retrain_and_warm_up_through_the_project(tmp_path):
    with open_project(tmp_path / "p", is_default=True, random_state=0) as project:
        assert project.warm_up() is True and project.warm_up() is False
        assert project.scheduler.wait(120) and project.scheduler.cold_start_error is None
        assert project.store.revision().order == 1  # the cold start ordered the pool
        for _ in range(20):
            item_id = project.store.next_item("me")
            project.label(item_id, _truth(project, item_id), "me")
        steps = []
        snapshot = project.retrain(progress=lambda fraction, message: steps.append(fraction))
        assert snapshot.result.n_labels == 20 and steps[0] == 0.0 and steps[-1] == 1.0
        order = snapshot.result.order
    # a restart: a new Project gets its model back when warmed up
    with open_project(tmp_path / "p", is_default=True, random_state=0) as project:
        assert project.scheduler.snapshot is None
        assert project.warm_up()
        assert project.scheduler.wait(120)
        np.testing.assert_array_equal(project.scheduler.snapshot.result.order, order)


def test_close_waits_for_the_background_retrain(tmp_path):
    project = open_project(tmp_path / "p", is_default=True, random_state=0)
    for _ in range(12):
        item_id = project.store.next_item("me")
        project.label(item_id, _truth(project, item_id), "me")
    assert project.scheduler.request()
    project.close()
    assert not project.scheduler.running and project.scheduler.snapshot is not None


# --------------------------------------------------------------------------- creating and adding


def _texts(labels, prefix: str = "r") -> ItemBatch:
    names = tuple(f"{prefix}{i}" for i in range(len(labels)))
    texts = [f"text {i}" for i in range(len(labels))]
    return ItemBatch(names=names, kind="text", features=texts, payloads=texts, labels=list(labels))


def test_create_project_splits_multi_label_cells_and_closes(tmp_path):
    settings = ProjectSettings(name="m", kind="text", classes=("a", "b"), multi_label=True, feature_kind="text")
    path = create_project(tmp_path / "m", settings, _texts(["a|b", None, "b", ""]))
    assert path == str(tmp_path / "m") and is_project(path)
    with open_project(path) as project:
        labels = project.store.labels().sort_values("item_id")
        assert labels["label"].tolist() == ["a|b", "b", ""]
        assert add_to_project(project.store, _texts(["a|b"], prefix="more")) == 1
        assert project.store.labels()["label"].tolist()[-1] == "a|b"


def test_create_project_refuses_a_project_or_a_folder_with_files(tmp_path):
    settings = ProjectSettings(name="d", kind="image", classes=tuple("0123456789"), feature_kind="array")
    create_project(tmp_path / "d", settings, digits_batch(20))
    with pytest.raises(StoreError, match="already holds a project"):
        create_project(tmp_path / "d", settings, digits_batch(20))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="files in it"):
        create_project(tmp_path / "busy", settings, digits_batch(20))
    assert os.listdir(tmp_path / "busy") == ["notes.txt"]


def test_create_project_is_all_or_nothing(tmp_path):
    settings = ProjectSettings(name="t", kind="text", classes=("a", "b"), feature_kind="text")
    with pytest.raises(StoreError):
        create_project(tmp_path / "new", settings, _texts(["a", "not a class"]))
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError):
        create_project(tmp_path / "empty", settings, _texts(["a", "not a class"]))
    assert (tmp_path / "empty").is_dir() and os.listdir(tmp_path / "empty") == []


# --------------------------------------------------------------------------- without Streamlit


def test_the_whole_lifecycle_runs_without_streamlit(tmp_path):
    code = f"""
import sys
from superintendent_core.service import open_project, agreement

loaded = {{m: m in sys.modules for m in ("streamlit", "sklearn", "sqlalchemy")}}
with open_project({str(tmp_path / "nb")!r}, is_default=True, random_state=0) as project:
    project.warm_up()
    project.scheduler.wait(120)
    for _ in range(20):
        item_id = project.store.next_item("me")
        project.label(item_id, str(project.store.true_labels([item_id])[0]), "me")
    snapshot = project.retrain()
    print(loaded["streamlit"], loaded["sklearn"], loaded["sqlalchemy"], snapshot.result.n_labels,
          len(project.store), agreement(project.store.labels()).method, "streamlit" in sys.modules)
"""
    assert run_fresh(code).split() == ["False", "False", "False", "20", "1797", "None", "False"]
