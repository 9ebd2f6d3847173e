"""Items from Python objects and the digits demo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from superintendent_core.data import add_features, digits_batch, digits_settings, load_digits_demo
from superintendent_core.store import InvalidInput, ProjectSettings
from superintendent_core.store.folder import FolderStore


@pytest.fixture
def store(tmp_path):
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("a", "b"))) as s:
        yield s


def test_array_with_labels(store):
    ids = add_features(store, np.arange(12.0).reshape(4, 3), ["a", None, "b", np.nan])
    assert ids.tolist() == [0, 1, 2, 3]
    assert store.progress().labelled == 2
    assert store.item(0).payload == {"x0": 0.0, "x1": 1.0, "x2": 2.0}
    ids2 = add_features(store, np.ones((2, 3)))
    assert ids2.tolist() == [4, 5] and store.names(ids2) == ["4", "5"]
    assert store.progress().labelled == 2


def test_image_stack(store):
    add_features(store, np.random.default_rng(0).integers(0, 255, (3, 5, 5)).astype(np.uint8))
    assert store.settings.kind == "image"
    assert store.item(2).mime == "image/png"
    assert store.features([0]).shape == (1, 25)


def test_dataframe_and_texts(tmp_path):
    with FolderStore(tmp_path / "t") as s:
        add_features(s, pd.DataFrame({"x": [1, 2]}, index=["k1", "k2"]), ["u", "v"])
        assert s.names([0, 1]) == ["k1", "k2"] and s.settings.classes == ("u", "v")
    with FolderStore(tmp_path / "x", settings=ProjectSettings(classes=("a",))) as s:
        add_features(s, ["some text", "more"])
        assert s.item(1).payload == "more" and s.settings.kind == "text"


@pytest.mark.parametrize("features,message", [
    (np.array([[1.0, np.nan]]), "NaN or infinite"),
    (np.array([[1.0, np.inf]]), "NaN or infinite"),
    (np.array([["a", "b"]], dtype=object), "numbers"),
    (np.empty((0, 3)), "no items"),
])
def test_bad_arrays(store, features, message):
    with pytest.raises(InvalidInput, match=message):
        add_features(store, features)
    assert len(store) == 0


def test_label_count_mismatch_and_unknown_label(store):
    with pytest.raises(InvalidInput, match="3 labels"):
        add_features(store, np.ones((2, 2)), ["a", "a", "b"])
    with pytest.raises(InvalidInput, match="'zzz'"):
        add_features(store, np.ones((2, 2)), ["a", "zzz"])
    assert len(store) == 0


def test_digits_demo(tmp_path):
    with FolderStore(tmp_path / "d", settings=digits_settings()) as s:
        ids = load_digits_demo(s)
        assert len(ids) == 1797 and len(s) == 1797
        assert s.settings.classes == tuple("0123456789")
        assert load_digits_demo(s).tolist() == []  # idempotent
        truth = s.true_labels(ids)
        assert sorted(set(truth)) == list("0123456789")
        assert s.labels().empty  # the true labels are not labels
        item = s.item(0)
        assert item.mime == "image/png" and item.name == "digit-0000"
        X = s.features([0, 1])
        assert X.shape == (2, 64) and X.dtype == np.float32 and X.max() <= 16
    b = digits_batch(10)
    assert len(b) == 10


def test_demo_into_project_without_classes(tmp_path):
    with FolderStore(tmp_path / "d") as s:
        load_digits_demo(s)
        assert s.settings.classes == tuple("0123456789") and s.settings.name == "Digits demo"
