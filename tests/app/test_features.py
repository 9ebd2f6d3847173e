"""Pretrained features computed in the background: the Label page does not wait for them; the admin's choice."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from superintendent_core.data.images import images_from_files
from superintendent_core.service import featurize
from superintendent_core.service.featurize import IMPORT_FEATURES_KEY, extractor_for_batch
from superintendent_core.service.project import create_project
from superintendent_core.store import ProjectSettings
from ui import runtime
from ui import state as S
from ui.project import open_project
from ui.widgets import text_label

from .conftest import APP, ok


def _photos(n: int) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(0)
    out = []
    for k in range(n):
        arr = rng.integers(0, 255, size=(48, 64, 3), dtype=np.uint8)
        arr[:, : 8 * (k % 8)] = (200, 30 * (k % 5), 20)  # colour: the rule picks the pretrained features
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG")
        out.append((f"p{k:03d}.jpg", buf.getvalue()))
    return out


@pytest.fixture
def photo_project(project_dir):
    result = images_from_files(_photos(12), featurize="pixels")  # what the Data page does
    settings = ProjectSettings(name="photos", kind="image", classes=("a", "b"),
                               feature_extractor=extractor_for_batch(result.batch),
                               extra=((IMPORT_FEATURES_KEY, "pixels"),))
    create_project(project_dir, settings, result.batch)
    yield project_dir
    try:
        project = open_project(project_dir)
        project.scheduler.wait(60)
    except Exception:
        pass
    runtime.reset_for_tests()
    open_project.clear()


@pytest.fixture
def held(monkeypatch):
    """Hold the background job's first chunk until the test lets it go."""
    go = threading.Event()
    original = featurize.FeaturizeJob._compute

    def compute(self, payloads):
        assert go.wait(120), "the test never released the feature job"
        return original(self, payloads)

    monkeypatch.setattr(featurize.FeaturizeJob, "_compute", compute)
    return go


def _jobs(path: str) -> list:
    """The feature jobs of the project at ``path`` in the process-wide registry (other tests' projects left out)."""
    reg = runtime.registry()
    return [reg.peek(k) for k in reg.keys() if isinstance(k, tuple) and k[:2] == ("featurize-job", path)]


def test_the_label_page_shows_the_first_item_while_features_are_computed(photo_project, held):
    at = ok(AppTest.from_file(APP, default_timeout=60).run())
    project = open_project(photo_project)
    store = project.store
    assert store.settings.feature_extractor == "efficientnet_lite0"
    assert len(at.get("image")) == 1  # the first item is on screen …
    assert store.feature_sets().get("efficientnet_lite0", (0, 0))[1] == 0  # … and no pretrained feature exists yet
    assert store.features_in_use() == ""
    running = _jobs(project.path)  # the app's job, in the process-wide registry
    assert len(running) == 1 and running[0].running
    at.button(key=S.label_class_key(0)).click().run()  # labelling goes on meanwhile
    ok(at)
    assert store.progress().labelled == 1
    held.set()
    running[0].join(120)
    assert store.features_in_use() == "efficientnet_lite0"
    assert store.features([0]).shape == (1, 1280)


def test_the_admin_switches_back_to_pixels_and_the_features_change_at_once(photo_project, held):
    held.set()
    at = ok(AppTest.from_file(APP, default_timeout=60).run())
    project = open_project(photo_project)
    for job in _jobs(project.path):
        job.join(120)
    assert project.store.features_in_use() == "efficientnet_lite0"
    at.switch_page("pages/data.py").run()
    ok(at)
    at.selectbox(key=S.DATA_FEATURES_CHOICE).select("pixels")
    at.button(key=S.DATA_FEATURES_SAVE).click().run()
    ok(at)
    assert project.store.settings.feature_extractor == "pixels"
    assert project.store.features_in_use() == "" and project.store.features([0]).shape == (1, 256)
    assert project.store.feature_sets()["efficientnet_lite0"] == (1280, 12)  # kept, for switching back


def test_switching_extractor_while_one_computes_stops_the_old_job(photo_project, held):
    at = ok(AppTest.from_file(APP, default_timeout=60).run())
    project = open_project(photo_project)
    (old,) = _jobs(project.path)
    assert old.extractor == "efficientnet_lite0" and old.running
    at.switch_page("pages/data.py").run()
    at.selectbox(key=S.DATA_FEATURES_CHOICE).select("pixels")
    at.button(key=S.DATA_FEATURES_SAVE).click().run()
    ok(at)
    held.set()  # the old job's chunk may end now; it must not go on to the next
    old.join(60)
    assert not old.running
    assert _jobs(project.path) == []  # dropped from the registry too
    assert project.store.settings.feature_extractor == "pixels"


def test_closing_the_project_stops_its_feature_job(photo_project, held):
    from ui.project import forget_project

    ok(AppTest.from_file(APP, default_timeout=60).run())
    project = open_project(photo_project)
    (job,) = _jobs(project.path)
    assert job.running
    held.set()
    forget_project(project.path)
    job.join(60)
    assert not job.running and _jobs(project.path) == []


def test_the_digits_demo_keeps_its_pixels_when_pixels_is_saved(app, project_dir):
    project = open_project(project_dir)
    store = project.store
    assert dict(store.settings.extra)[IMPORT_FEATURES_KEY] == "pixels"
    app.switch_page("pages/data.py").run()
    ok(app)
    assert app.selectbox(key=S.DATA_FEATURES_CHOICE).value == "pixels"
    app.button(key=S.DATA_FEATURES_SAVE).click().run()
    ok(app)
    assert _jobs(project.path) == []  # nothing computed
    assert store.features_in_use() == "" and store.features([0]).shape == (1, 64)
    assert store.feature_sets() == {}


def test_the_admin_stores_the_extractor_features_as_float16_and_the_model_reads_float32(photo_project, held):
    at = ok(AppTest.from_file(APP, default_timeout=60).run())
    project = open_project(photo_project)
    (job,) = _jobs(project.path)  # held before its first chunk: the set does not exist yet
    at.switch_page("pages/data.py").run()
    ok(at)
    assert at.radio(key=S.DATA_FEATURES_DTYPE).value == "float32"
    captions = " ".join(c.value for c in at.caption)
    assert text_label(featurize.FLOAT16_EFFECT) in captions and "from now on" in captions
    at.radio(key=S.DATA_FEATURES_DTYPE).set_value("float16")
    at.button(key=S.DATA_FEATURES_DTYPE_SAVE).click().run()
    ok(at)
    assert project.store.settings.feature_dtype == "float16"
    assert any("stored as float16" in s.value for s in at.success)
    held.set()
    job.join(120)
    store = project.store
    assert store.feature_set_dtypes() == {"efficientnet_lite0": "float16"}
    assert store.features_in_use() == "efficientnet_lite0"
    got = store.features([0, 5])
    assert got.dtype == np.float32 and got.shape == (2, 1280)
    at.run()
    ok(at)
    assert text_label("Feature sets now: efficientnet_lite0: float16.") in " ".join(c.value for c in at.caption)
