"""A model fitted by ``python -m superintendent_core.orchestrate`` reaches the app's Label page."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from sklearn.datasets import load_digits
from streamlit.testing.v1 import AppTest

from superintendent_core.store import ItemBatch, ProjectSettings
from superintendent_core.store.sql import SQLStore
from ui import state as S
from ui.project import open_project

from .conftest import APP, ROOT, captions, ok

N_ITEMS, N_LABELS = 200, 60


def _digits_project(url: str) -> None:
    """A SQL digits project with 60 true labels, no retrain yet, no automatic retrains."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:N_ITEMS].astype(np.uint8), y[:N_ITEMS].astype(str)
    settings = ProjectSettings(name="digits", classes=tuple(str(c) for c in range(10)), strategy="margin")
    with SQLStore(url, settings=settings) as store:
        store.add_items(ItemBatch(names=tuple(f"d{i}" for i in range(N_ITEMS)), kind="image", features=X,
                                  image_shape=(8, 8), pixel_max=16))
        for i in range(N_LABELS):
            store.submit(i, y[i], "ann")


def _orchestrate_once(url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "superintendent_core.orchestrate", "--database-url", url, "--random-state", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_label_page_shows_the_suggestion_of_a_model_fitted_by_orchestrate(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    _digits_project(url)
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=60)
    try:
        ok(at.run())
        project = open_project(url)
        project.scheduler.wait(60)  # the warm-up's cold start: no model in this process
        assert any("No model yet" in c for c in captions(at))

        _orchestrate_once(url)  # another process retrains and saves its suggestions in the project
        ok(at.run())
        assert not any("No model yet" in c for c in captions(at)), captions(at)
        labeller = at.query_params[S.QP_LABELLER]
        item_id = project.store.next_item(labeller)  # the item shown (still leased to the labeller)
        assert project.scheduler.snapshot is None  # nothing was fitted in the app's process
        stored = project.store.suggestions()
        assert stored.meta["by"] == "orchestrate"
        label, probability = stored.suggestion(item_id)
        assert any(f"Model suggests **{label}** ({probability:.0%})" in c for c in captions(at)), captions(at)
        class_keys = {S.label_class_key(i) for i in range(10)}
        primary = [b.label for b in at.button if b.key in class_keys and b.proto.type == "primary"]
        assert primary == [label]
    finally:
        try:
            open_project(url).store.close()
        finally:
            open_project.clear()
