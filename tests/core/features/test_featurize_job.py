"""The background feature job: chunks into a feature set, resumes, names failures, switches the project."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from superintendent_core.features import image_features
from superintendent_core.service.featurize import (
    IMPORT_FEATURES_KEY,
    FeaturizeJob,
    apply_feature_choice,
    wanted_feature_set,
)
from superintendent_core.store import ItemBatch, ProjectSettings
from superintendent_core.store.folder import FolderStore

FIXTURES = Path(__file__).parent / "fixtures"


def _crops(n: int) -> list[bytes]:
    photo = Image.open(FIXTURES / "coffee.png").convert("RGB")
    out = []
    for k in range(n):
        box = (k * 7 % 60, k * 5 % 40, k * 7 % 60 + 120, k * 5 % 40 + 100)
        buf = io.BytesIO()
        photo.crop(box).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def _store(tmp_path, payloads, extractor="efficientnet_lite0") -> FolderStore:
    settings = ProjectSettings(classes=("a", "b"), feature_extractor=extractor,
                               extra=((IMPORT_FEATURES_KEY, "pixels"),))
    store = FolderStore(tmp_path / "p", settings=settings)
    feats = np.arange(len(payloads) * 4, dtype=np.float32).reshape(len(payloads), 4)
    store.add_items(ItemBatch(names=tuple(f"i{k}.png" for k in range(len(payloads))), kind="image",
                              features=feats, payloads=payloads))
    return store


def test_the_job_fills_the_set_switches_the_project_and_calls_back(tmp_path):
    payloads = _crops(5)
    payloads[3] = b"\x89PNG\r\n\x1a\n not really a picture"  # a damaged picture: zeros and a reason
    store = _store(tmp_path, payloads)
    assert wanted_feature_set(store.settings) == "efficientnet_lite0"
    assert apply_feature_choice(store) == "efficientnet_lite0"  # the set must be computed first
    assert store.features([0]).shape == (1, 4)
    called = []
    job = FeaturizeJob(store, "efficientnet_lite0", chunk_size=2, mode="thread", on_complete=lambda: called.append(1))
    job.start()
    job.join(120)
    status = job.status()
    assert status.error is None, status.error
    assert (status.stored, status.total, status.complete, status.in_use) == (5, 5, True, True)
    assert [i for i, _ in status.failed] == [3] and "not a readable image" in status.failed[0][1]
    assert called == [1]
    assert store.settings.feature_set == "efficientnet_lite0"
    X = store.features(np.arange(5))
    assert X.shape == (5, 1280)
    assert not X[3].any()
    expected = image_features([payloads[k] for k in (0, 1, 2, 4)], "efficientnet_lite0")
    np.testing.assert_allclose(X[[0, 1, 2, 4]], expected, atol=1e-5)
    store.close()


def test_a_restart_resumes_from_what_is_stored(tmp_path):
    payloads = _crops(4)
    store = _store(tmp_path, payloads)
    store.write_feature_set("efficientnet_lite0", [0, 1], image_features(payloads[:2], "efficientnet_lite0"))
    before = store.features_in_use()
    job = FeaturizeJob(store, "efficientnet_lite0", chunk_size=8, mode="thread")
    job.start()
    job.join(120)
    assert before == "" and job.status().complete
    assert job._done_here == 2  # only the two missing items were computed
    store.close()


def test_the_process_mode_gives_the_same_features(tmp_path):
    payloads = _crops(3)
    store = _store(tmp_path, payloads)
    job = FeaturizeJob(store, "efficientnet_lite0", mode="process")
    job.start()
    job.join(300)
    assert job.status().error is None and store.features_in_use() == "efficientnet_lite0"
    np.testing.assert_allclose(store.features([0, 1, 2]), image_features(payloads, "efficientnet_lite0"), atol=1e-5)
    store.close()


def test_choosing_the_import_extractor_switches_back_at_once(tmp_path):
    store = _store(tmp_path, _crops(2))
    store.write_feature_set("efficientnet_lite0", [0, 1], np.ones((2, 3)))
    assert apply_feature_choice(store) is None and store.features_in_use() == "efficientnet_lite0"
    store.update_settings(feature_extractor="pixels")
    changed = []
    assert apply_feature_choice(store, lambda: changed.append(1)) is None
    assert store.settings.feature_set == "" and changed == [1]
    assert store.features([0]).shape == (1, 4)
    store.close()


def test_unknown_extractor_and_mode_are_refused(tmp_path):
    store = _store(tmp_path, _crops(1))
    with pytest.raises(ValueError, match="Unknown image feature extractor"):
        FeaturizeJob(store, "resnet")
    with pytest.raises(ValueError, match="mode"):
        FeaturizeJob(store, "pixels", mode="gpu")
    store.close()


def test_vectors_brought_by_hand_are_not_computed_and_stay_chosen_when_items_are_added(tmp_path):
    store = _store(tmp_path, _crops(2))
    store.write_feature_set("mine", [0, 1], np.ones((2, 3)))
    store.update_settings(feature_extractor="mine", feature_set="mine")
    assert apply_feature_choice(store) is None and store.features_in_use() == "mine"
    store.add_items(ItemBatch(names=("new.png",), kind="image", features=np.zeros((1, 4), dtype=np.float32),
                              payloads=_crops(1)))
    assert apply_feature_choice(store) is None  # nothing to start: no extractor makes "mine"
    assert store.settings.feature_set == "mine" and store.features_in_use() == ""
    store.close()


def test_an_image_project_without_the_import_key_keeps_its_pixels(tmp_path):
    """The digits demo and image projects made before the key: "pixels" are their import features."""
    from superintendent_core.service.project import demo_settings

    old = ProjectSettings(name="old", kind="image", classes=("a", "b"), feature_extractor="pixels")
    assert IMPORT_FEATURES_KEY not in dict(old.extra)
    assert wanted_feature_set(old) == ""  # no 256-d thumbnail set computed
    assert wanted_feature_set(dataclasses.replace(old, feature_extractor="efficientnet_lite0")) == "efficientnet_lite0"
    assert wanted_feature_set(dataclasses.replace(old, kind="text")) == "pixels"  # not an image project
    demo = demo_settings()
    assert dict(demo.extra)[IMPORT_FEATURES_KEY] == "pixels"
    assert wanted_feature_set(dataclasses.replace(demo, feature_extractor="pixels")) == ""
    store = FolderStore(tmp_path / "p", settings=old)
    store.add_items(ItemBatch(names=("a.png", "b.png"), kind="image", features=np.ones((2, 4), np.float32),
                              payloads=_crops(2)))
    assert apply_feature_choice(store) is None  # nothing to compute
    assert store.features_in_use() == "" and store.features([0]).shape == (1, 4)
    store.close()


def test_the_worker_starts_from_any_working_directory_and_a_crash_says_why(tmp_path, monkeypatch):
    """``streamlit run /path/to/app.py`` from elsewhere: the child still imports the package."""
    from superintendent_core.service import featurize

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    worker = featurize._Worker("pixels", 0)
    try:
        matrix, failed = worker.compute(_crops(1))
        assert matrix.shape == (1, 256) and failed == []
    finally:
        worker.close()
    # a worker that dies: its stderr's last lines are in the error, not just "ended"
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.stderr.write('boom-from-the-worker')\nsys.exit(3)\n")
    worker = featurize._Worker("pixels", 0)
    try:
        with pytest.raises(RuntimeError, match="boom-from-the-worker"):
            worker.compute(_crops(1))
    finally:
        worker.close()
