"""The Model page's "Finish with the model" section through app.py: who sees it, what the file holds."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from superintendent_core.auth import Role
from superintendent_core.data.finish import plan_finish, write_finish
from superintendent_core.learning.training import run_retrain
from ui import auth as A
from ui import state as S

from .conftest import label_correctly, ok
from .test_roles import ADMIN_CODE, LABELLER_CODE, request_page, sign_in, team  # noqa: F401  (the team fixture)


@pytest.fixture
def media(monkeypatch):
    """Every media store AppTest creates (one per run), to read a download's bytes back."""
    stores: list[MemoryMediaFileStorage] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            stores.append(self)

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recording)
    return stores


def _downloaded(at, media) -> tuple[str, bytes]:
    """(label, bytes) of the section's download button, read from the run's media store."""
    buttons = [b for b in at.get("download_button") if b.proto.id.endswith(S.FINISH_DOWNLOAD)]
    assert len(buttons) == 1, [b.proto.id for b in at.get("download_button")]
    url = buttons[0].proto.url
    file = media[-1].get_file(url.rsplit("/", 1)[-1])
    return buttons[0].proto.label, bytes(file.content)


def _model_page(at):
    return ok(at.switch_page("pages/model.py").run())


def _section_keys(at) -> set[str]:
    keys = {b.key for b in at.button if b.key} | {r.key for r in at.radio if r.key}
    keys |= {b.proto.id for b in at.get("download_button")}
    return {k for k in keys if "finish_" in k}


def test_the_section_summarises_and_prepares_the_file_only_when_asked(app, project, media):
    label_correctly(app, project, 30)
    project.scheduler.run()
    _model_page(app)
    assert [s.value for s in app.subheader][-1] == "Finish with the model"
    markdown = [m.value for m in app.markdown]
    assert "1,797 items: 30 labelled by people, 1,767 by the model, 0 with neither." in markdown
    assert any(i.value.startswith("No estimate yet") for i in app.info)  # this main has no estimate yet
    assert not [b for b in app.get("download_button") if b.proto.id.endswith(S.FINISH_DOWNLOAD)]
    assert app.session_state[S.FINISH_FILE] is None  # nothing written on a plain run

    app.button(key=S.FINISH_PREPARE).click().run()
    ok(app)
    label, data = _downloaded(app, media)
    assert label.startswith("Download (CSV, ")
    df = pd.read_csv(io.BytesIO(data), keep_default_na=False)
    assert len(df) == 1797 and df["source"].value_counts().to_dict() == {"model": 1767, "human": 30}
    expected = io.BytesIO()
    write_finish(plan_finish(project.store, project.scheduler.suggestions()), expected, "csv")
    assert data == expected.getvalue()
    humans = df[df["source"] == "human"]
    truth = project.store.true_labels(humans["item_id"].to_numpy())
    assert humans["label"].astype(str).tolist() == list(truth)

    app.radio(key=S.FINISH_FORMAT).set_value("parquet").run()  # another format: prepared on request again
    ok(app)
    assert not [b for b in app.get("download_button") if b.proto.id.endswith(S.FINISH_DOWNLOAD)]
    app.button(key=S.FINISH_PREPARE).click().run()
    label, data = _downloaded(ok(app), media)
    assert label.startswith("Download (Parquet, ")
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(data))[["item_id", "source"]],
                                  df[["item_id", "source"]], check_dtype=False)


def test_a_label_after_the_file_was_prepared_is_pointed_out(app, project, media):
    label_correctly(app, project, 20)
    project.scheduler.run()
    _model_page(app)
    app.button(key=S.FINISH_PREPARE).click().run()
    ok(app)
    assert not app.warning  # the model is up to date
    project.store.submit(project.store.next_item("me"), "3", "me")
    app.run()
    ok(app)
    assert any("predate the latest labels: 1 item was labelled" in w.value for w in app.warning)
    assert any("have changed since: prepare it again" in c.value for c in app.caption)
    assert _downloaded(app, media)[1]  # the prepared file stays offered


def test_before_any_retrain_the_section_says_there_is_no_model(app, project):
    _model_page(app)
    assert any(i.value.startswith("No model yet") for i in app.info)
    assert "1,797 items: 0 labelled by people, 0 by the model, 1,797 with neither." in [m.value for m in app.markdown]


def test_a_model_saved_by_another_process_is_used_when_this_one_has_none(app, project, media):
    label_correctly(app, project, 20)
    run_retrain(project.store, random_state=0, source="orchestrate")  # as `orchestrate` would: not this scheduler
    assert project.scheduler.snapshot is None
    _model_page(app)
    assert "1,797 items: 20 labelled by people, 1,777 by the model, 0 with neither." in [m.value for m in app.markdown]
    app.button(key=S.FINISH_PREPARE).click().run()
    df = pd.read_csv(io.BytesIO(_downloaded(ok(app), media)[1]), keep_default_na=False)
    saved = project.store.suggestions()
    model = df[df["source"] == "model"]
    assert model["item_id"].tolist() == saved.ids.tolist()
    assert model["label"].astype(str).tolist() == saved.labels.tolist()


def test_a_role_without_the_download_right_sees_nothing_of_it(app, project, monkeypatch):
    _model_page(app)
    assert S.FINISH_PREPARE in _section_keys(app)
    monkeypatch.setattr("ui.finish.current_access", lambda: A.Access(Role.LABELLER, "lab", False))
    app.run()
    ok(app)
    assert _section_keys(app) == set()
    assert "Finish with the model" not in [s.value for s in app.subheader]


def test_in_team_mode_the_admin_has_it_and_a_labeller_never_reaches_it(team):  # noqa: F811
    admin = team().run()
    sign_in(admin, ADMIN_CODE, name="lead", role="admin")
    admin.switch_page("pages/model.py").run()
    assert S.FINISH_PREPARE in _section_keys(ok(admin))

    labeller = team().run()
    sign_in(labeller, LABELLER_CODE, name="lab", role="labeller")
    assert labeller.session_state[S.ROLE] == "labeller"
    asked = request_page(team, "pages/model.py", role="labeller", name="lab")  # the Model page's address typed in
    for at in (labeller, asked):
        assert _section_keys(ok(at)) == set()
        assert "Finish with the model" not in [s.value for s in at.subheader]


def test_the_plan_is_shared_by_the_sessions_and_replaced_after_a_retrain(app, project):
    """The plan holds a prediction per item: kept once per project, never in a session's state."""
    from superintendent_core.data.finish import FinishPlan
    from ui import finish as F
    from ui import runtime

    label_correctly(app, project, 30)
    first = project.scheduler.run()
    _model_page(app)
    state = app.session_state
    assert not any(isinstance(v, FinishPlan) or (isinstance(v, tuple) and any(isinstance(x, FinishPlan) for x in v))
                   for v in (state[k] for k in state))
    latest = runtime.registry().peek((F._PLAN_KEY, project.path, id(project.store)))
    assert latest is not None and latest.plan.predictions.ids is first.pool_ids  # shared with the model, no copy
    second = project.scheduler.run()
    _model_page(app)
    assert latest.plan.predictions.ids is second.pool_ids  # the old model's arrays are no longer held
