"""Label page through app.py: the demo opens ready, clicks label, skip, undo, suggestion, end."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from superintendent_core.data.tables import table_batch
from superintendent_core.store import ItemBatch, ProjectSettings
from ui import state as S
from ui.project import create_project, open_project

from .conftest import APP, ROOT, captions, click_class, errors, label_buttons, label_correctly, ok


def test_opens_on_the_digits_demo_ready_to_label(app, project):
    ok(app)
    buttons = label_buttons(app)
    assert [b.label for b in buttons] == [str(i) for i in range(10)]
    assert [b.proto.shortcut for b in buttons] == [str(i) for i in range(10)]  # digit d is key d
    assert app.button(key=S.LABEL_SKIP).proto.shortcut.lower() == "s"
    assert app.button(key=S.LABEL_UNDO).proto.shortcut.lower() == "backspace"
    assert len(app.get("image")) == 1
    assert app.query_params[S.QP_LABELLER] == "me"
    assert len(project.store) == 1797
    assert any("0 / 1,797 labelled" in p.proto.text for p in app.get("progress"))


def test_a_click_labels_the_item_and_serves_the_next(app, project):
    first = project.store.next_item("me")
    click_class(app, 3)
    ok(app)
    labels = project.store.labels()
    assert labels["item_id"].tolist() == [first]
    assert labels["label"].tolist() == ["3"]
    assert labels["labeller"].tolist() == ["me"]
    assert labels["seconds"].notna().all()
    assert project.store.next_item("me") != first
    assert any("1 / 1,797 labelled" in p.proto.text for p in app.get("progress"))
    assert any("3: 1" in c for c in captions(app))


def test_skip_serves_another_item_without_a_label(app, project):
    first = project.store.next_item("me")
    app.button(key=S.LABEL_SKIP).click().run()
    ok(app)
    assert project.store.next_item("me") != first
    assert len(project.store.labels()) == 0


def test_undo_removes_the_label_and_serves_the_item_again(app, project):
    first = project.store.next_item("me")
    click_class(app, 0)
    click_class(app, 1)
    app.button(key=S.LABEL_UNDO).click().run()
    ok(app)
    assert project.store.labels()["item_id"].tolist() == [first]
    second = project.store.next_item("me")
    click_class(app, 7)
    assert project.store.labels().set_index("item_id").loc[second, "label"] == "7"


def test_undo_with_nothing_to_undo_says_so(app):
    app.button(key=S.LABEL_UNDO).click().run()
    assert any("Nothing to undo" in i.value for i in app.info)


def test_the_models_suggestion_is_highlighted_after_a_retrain(app, project):
    label_correctly(app, project, 30)
    project.scheduler.run()
    app.run()
    ok(app)
    item_id = project.store.next_item("me")
    suggested, probability = project.scheduler.snapshot.suggestion(item_id)
    primary = [b.label for b in label_buttons(app) if b.proto.type == "primary"]
    assert primary == [suggested]
    assert any(f"Model suggests **{suggested}**" in c for c in captions(app))


def test_labeller_comes_from_the_url_and_survives_navigation(project_dir):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params[S.QP_LABELLER] = "alice"
    at.run()
    click_class(at, 2)
    at.switch_page("pages/model.py").run()
    assert at.query_params[S.QP_LABELLER] == "alice"
    at.switch_page("pages/label.py").run()
    assert at.query_params[S.QP_LABELLER] == "alice"
    click_class(at, 4)
    assert open_project(project_dir).store.labels()["labeller"].tolist() == ["alice", "alice"]


def test_typing_a_name_changes_the_labeller(app, project):
    app.text_input(key=S.LABELLER_INPUT).input("Zoë").run()
    assert app.query_params[S.QP_LABELLER] == "Zoë"
    click_class(app, 5)
    assert project.store.labels()["labeller"].tolist() == ["Zoë"]


def test_an_empty_name_is_refused_and_the_old_one_kept(app):
    app.text_input(key=S.LABELLER_INPUT).input("   ").run()
    assert any("empty" in e for e in errors(app))
    assert app.query_params[S.QP_LABELLER] == "me"


def _small_project(tmp_path, n: int, *, multi: bool = False, classes=("cat", "dog")) -> str:
    pixels = (np.arange(n * 4, dtype=np.uint8).reshape(n, 4) * 7) % 255
    batch = ItemBatch(names=tuple(f"x{i}" for i in range(n)), kind="image", features=pixels,
                      image_shape=(2, 2), pixel_max=255.0)
    settings = ProjectSettings(name="small", kind="image", classes=tuple(classes), multi_label=multi)
    return create_project(str(tmp_path / "small"), settings, batch)


def _open(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params[S.QP_PROJECT] = path
    return at.run()


def test_an_empty_pool_ends_clearly(tmp_path):
    at = _open(_small_project(tmp_path, 2))
    ok(at)
    click_class(at, 0)
    click_class(at, 1)
    ok(at)
    assert label_buttons(at) == []
    assert any("Done: all 2 items are labelled" in s.value for s in at.success)
    at.button(key=S.LABEL_UNDO).click().run()
    assert len(label_buttons(at)) == 2


def _toggle(at: AppTest, index: int) -> AppTest:
    return at.button(key=S.label_toggle_key(index)).click().run()


def _is_on(at: AppTest, index: int) -> bool:
    return at.button(key=S.label_toggle_key(index)).proto.type == "primary"


def test_multi_label_toggles_and_submit(tmp_path):
    path = _small_project(tmp_path, 3, multi=True, classes=("red", "round", "big"))
    at = _open(path)
    ok(at)
    assert at.button(key=S.LABEL_SUBMIT).proto.shortcut.lower() == "enter"
    _toggle(at, 0)
    _toggle(at, 2)
    assert [_is_on(at, i) for i in range(3)] == [True, False, True]
    at.button(key=S.LABEL_SUBMIT).click().run()
    ok(at)
    assert open_project(path).store.labels()["label"].tolist() == ["red|big"]
    assert [_is_on(at, i) for i in range(3)] == [False, False, False]  # the next item starts with none on


def test_multi_label_toggle_flips_back_off(tmp_path):
    path = _small_project(tmp_path, 3, multi=True, classes=("red", "round", "big"))
    at = _open(path)
    _toggle(at, 1)
    _toggle(at, 1)
    _toggle(at, 0)
    at.button(key=S.LABEL_SUBMIT).click().run()
    assert open_project(path).store.labels()["label"].tolist() == ["red"]


def test_multi_label_every_toggle_has_a_key_shown_on_it(tmp_path):
    at = _open(_small_project(tmp_path, 3, multi=True, classes=("red", "n", "s", "big")))
    ok(at)
    keys = [at.button(key=S.label_toggle_key(i)).proto.shortcut for i in range(4)]
    none_key = at.button(key=S.LABEL_NONE).proto.shortcut
    assert all(keys) and len(set(keys)) == 4
    assert none_key.upper() == "N"
    # none clashes with Streamlit's C / R, Skip's S, None-of-these's N or Enter
    assert not {k.upper() for k in keys} & {"C", "R", "S", "N", "ENTER"}


def test_multi_label_submit_with_nothing_on_is_a_hint_not_an_empty_label(tmp_path):
    path = _small_project(tmp_path, 3, multi=True, classes=("red", "round", "big"))
    at = _open(path)
    at.button(key=S.LABEL_SUBMIT).click().run()
    ok(at)
    assert len(open_project(path).store.labels()) == 0
    assert any("Nothing is toggled on" in i.value for i in at.info)


def test_multi_label_none_of_these_records_the_empty_label(tmp_path):
    path = _small_project(tmp_path, 3, multi=True, classes=("red", "round", "big"))
    at = _open(path)
    _toggle(at, 0)  # toggled on, then "None of these": the empty label, on purpose
    at.button(key=S.LABEL_NONE).click().run()
    ok(at)
    assert open_project(path).store.labels()["label"].tolist() == [""]
    assert not _is_on(at, 0)


def test_a_project_without_classes_asks_for_them(tmp_path):
    at = _open(_small_project(tmp_path, 2, classes=()))
    assert any("no classes" in w.value for w in at.warning)
    assert label_buttons(at) == []


def test_a_store_error_is_a_message_not_a_traceback(app, project):
    project.store.close()  # every store call now raises StoreError
    click_class(app, 1)
    assert app.exception == []
    assert errors(app)


def test_an_unknown_project_in_the_url_is_a_message(tmp_path):
    at = _open(str(tmp_path / "nowhere"))
    assert at.exception == []
    assert any("holds no project" in e for e in errors(at))  # refused by the location rule; the default opens


def test_the_label_page_does_not_import_scikit_learn():
    code = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({APP!r}, default_timeout=60).run()\n"
        "for i in range(3):\n"
        "    at.button(key='label_class_%d' % i).click().run()\n"
        "assert not at.exception, at.exception\n"
        "print(sorted(m for m in sys.modules if m == 'sklearn' or m.startswith('sklearn.'))[:3])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_first_item_of_a_table_project_imports_neither_pandas_nor_pillow(tmp_path):
    """Issue 17's first item: the script run that draws it leaves pandas (~0.3 s), Pillow and
    scikit-learn unimported; the background warm-up after it may load them (not counted here)."""
    folder = str(tmp_path / "table")
    frame = pd.DataFrame({"title": [f"row {i}" for i in range(50)], "f0": np.arange(50.0), "f1": np.ones(50)})
    batch = table_batch(frame, kind="table", display_columns=["title"], feature_columns=["f0", "f1"])
    create_project(folder, ProjectSettings(name="table", kind="table", classes=("a", "b")), batch)
    code = (
        "import os, sys\n"
        f"os.environ['SUPERINTENDENT_PROJECT_DIR'] = {folder!r}\n"
        "from streamlit.runtime.scriptrunner import get_script_run_ctx\n"
        "LIBS = ('pandas', 'PIL', 'sklearn', 'scipy')\n"
        "seen = []\n"
        "class Watch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in LIBS and name not in sys.modules and get_script_run_ctx() is not None:\n"
        "            seen.append(name)\n"
        "sys.meta_path.insert(0, Watch())\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({APP!r}, default_timeout=60).run()\n"
        "assert not at.exception, at.exception\n"
        "assert at.button(key='label_class_0').label == 'a'\n"
        "print(sorted(set(seen)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_new_demo_is_served_in_its_cold_start_order(app, project):
    """Opening a never-ordered project orders it (in the background) by the strategy's cold start."""
    from superintendent_core.strategies.coverage import coverage_order

    ok(app)
    assert project.scheduler.cold_start_error is None
    assert project.store.revision().order == 1
    pool = np.arange(len(project.store))
    expected = pool[coverage_order(project.store.features(pool), random_state=0)]
    held_by_me = project.store.next_item("me")  # served to "me" before the order existed
    newcomer = project.store.next_item("newcomer")
    assert newcomer == next(i for i in expected if i != held_by_me)
    app.run()  # later reruns do not order again
    assert project.scheduler.wait(60) and project.store.revision().order == 1


def test_after_a_restart_the_model_and_its_suggestion_come_back(app, project, project_dir):
    label_correctly(app, project, 30)
    project.scheduler.run()  # a retrain, then the app process "restarts":
    project.store.close()
    open_project.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    reopened = open_project(project_dir)
    assert reopened is not project and reopened.scheduler.wait(60)
    assert reopened.scheduler.snapshot is not None and reopened.scheduler.error is None
    at.run()
    ok(at)
    assert any("Model suggests" in c for c in captions(at)) or any(
        "Model suggests" in m.value for m in at.markdown
    )
