"""Model page through app.py: retrain, its errors, settings, automatic retrains, charts."""

from __future__ import annotations

from ui import state as S

from .conftest import captions, click_class, errors, label_correctly, ok


def _model_page(app):
    app.switch_page("pages/model.py").run()
    return ok(app)


def _charts(app) -> int:
    return len(app.get("vega_lite_chart"))


def test_retrain_shows_score_time_and_the_chart(app, project):
    label_correctly(app, project, 40)
    _model_page(app)
    app.button(key=S.MODEL_RETRAIN).click().run()
    ok(app)
    assert any("Retrained on 40 labels" in s.value and "accuracy" in s.value for s in app.success)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Labels"] == "40"
    assert float(metrics["CV accuracy"]) > 0.5
    assert metrics["Time"].endswith(" s")
    history = project.store.history()
    assert history["n_labels"].tolist() == [40]
    assert _charts(app) == 3  # accuracy vs labels, labels per class, confusion matrix
    assert project.scheduler.snapshot.result.cv_predictions is not None


def test_retrain_reranks_the_pool(app, project):
    label_correctly(app, project, 30)
    before = project.store.next_item("me")
    _model_page(app)
    app.button(key=S.MODEL_RETRAIN).click().run()
    snapshot = project.scheduler.snapshot
    pool = snapshot.pool_ids[snapshot.result.order]
    project.store.skip(before, "me")  # release the item leased before the retrain
    assert project.store.next_item("other") == pool[0] or project.store.next_item("other") in pool[:3]


def test_retrain_with_one_class_is_a_message(app, project):
    for _ in range(5):
        click_class(app, 4)
    _model_page(app)
    app.button(key=S.MODEL_RETRAIN).click().run()
    assert app.exception == []
    assert any("at least 2 classes" in e for e in errors(app))
    assert len(project.store.history()) == 0
    app.run()  # the page keeps working
    assert app.exception == []


def test_retrain_without_labels_is_a_message(app):
    _model_page(app)
    app.button(key=S.MODEL_RETRAIN).click().run()
    assert app.exception == []
    assert any("No labels yet" in e for e in errors(app))
    assert any("appears after the first retrain" in c for c in captions(app))


def test_settings_are_saved_in_the_project(app, project):
    _model_page(app)
    app.selectbox(key=S.MODEL_STRATEGY).select("entropy")
    app.selectbox(key=S.MODEL_CHOICE).select("random_forest")
    app.slider(key=S.MODEL_SHUFFLE).set_value(0.2)
    app.toggle(key=S.MODEL_AUTO).set_value(True)
    app.number_input(key=S.MODEL_EVERY).set_value(7)
    app.button(key=S.MODEL_SAVE).click().run()
    ok(app)
    settings = project.store.settings
    assert (settings.strategy, settings.model, settings.shuffle_prop, settings.retrain_every) == (
        "entropy", "random_forest", 0.2, 7
    )
    app.switch_page("pages/label.py").run()
    label_correctly(app, project, 20)
    _model_page(app)
    app.button(key=S.MODEL_RETRAIN).click().run()
    ok(app)
    assert project.store.history()["model"].tolist()[-1] == "random_forest"
    assert project.store.history()["strategy"].tolist()[-1] == "entropy"


def test_automatic_retrain_runs_in_the_background_every_n_labels(app, project):
    project.store.update_settings(retrain_every=10)
    label_correctly(app, project, 9)
    assert project.scheduler.version == 0
    label_correctly(app, project, 1)  # the 10th label starts a background retrain
    assert project.scheduler.wait(60)
    assert project.scheduler.version == 1
    assert project.scheduler.snapshot is not None and project.scheduler.snapshot.result.n_labels == 10
    label_correctly(app, project, 9)
    assert project.scheduler.version == 1
    label_correctly(app, project, 1)
    assert project.scheduler.wait(60)
    assert project.scheduler.version == 2
    assert project.store.history()["n_labels"].tolist() == [10, 20]


def test_a_failing_automatic_retrain_keeps_labelling_working(app, project):
    project.store.update_settings(retrain_every=3)
    for _ in range(3):
        click_class(app, 1)  # one class: the background retrain fails
    assert project.scheduler.wait(60)
    assert "at least 2 classes" in project.scheduler.error
    click_class(app, 2)
    ok(app)
    assert len(project.store.labels()) == 4


def test_a_failed_cold_start_is_shown_and_labelling_goes_on(tmp_path):
    """A project whose strategy cannot order it (here: a strategy name that no longer exists)."""
    from streamlit.testing.v1 import AppTest

    from superintendent_core.data.demo import digits_batch
    from superintendent_core.store import ProjectSettings
    from ui.project import create_project, open_project

    from .conftest import APP

    settings = ProjectSettings(name="odd", classes=tuple("0123456789"), strategy="no_such_strategy")
    path = create_project(str(tmp_path / "odd"), settings, digits_batch(50))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params[S.QP_PROJECT] = path
    at.run()
    ok(at)
    project = open_project(path)
    try:
        assert project.scheduler.wait(60)
        assert "no_such_strategy" in project.scheduler.cold_start_error
        assert project.store.revision().order == 0  # nothing half-ordered
        click_class(at, 3)
        ok(at)
        assert len(project.store.labels()) == 1
        _model_page(at)
        assert any("representative first items" in w.value for w in at.warning)
    finally:
        project.store.close()
        open_project.clear()


def test_labels_per_class_chart_waits_for_the_first_label(app, project):
    _model_page(app)
    assert any(c == "No labels yet." for c in captions(app))
    assert _charts(app) == 0  # no empty bar chart with a 0.000000 axis
    app.switch_page("pages/label.py").run()
    label_correctly(app, project, 3)
    _model_page(app)
    assert not any(c == "No labels yet." for c in captions(app))
    assert _charts(app) == 1


def test_each_strategy_is_listed_once_with_what_it_does(app, project):
    from superintendent_core.acquisition import strategy_description, strategy_names
    from superintendent_core.strategies import DEFAULT_STRATEGY

    _model_page(app)
    options = app.selectbox(key=S.MODEL_STRATEGY).options
    names = [o.split(":")[0] for o in options]
    assert names[0] == f"default ({DEFAULT_STRATEGY})"
    assert DEFAULT_STRATEGY not in names  # the default is not listed a second time under its own name
    assert sorted(names[1:]) == sorted(n for n in strategy_names() if n != DEFAULT_STRATEGY)
    assert len(options) == len(strategy_names())
    for option in options:  # every entry says what it does, in one line
        name, _, description = option.partition(": ")
        assert description and "\n" not in description
    assert f"margin: {strategy_description('margin')}" in options
    assert app.selectbox(key=S.MODEL_STRATEGY).value is None  # the stored setting: None, the default


def test_the_defaults_own_name_stays_stored_and_shows_as_the_default(app, project):
    from superintendent_core.strategies import DEFAULT_STRATEGY

    project.store.update_settings(strategy=DEFAULT_STRATEGY)
    _model_page(app)
    assert app.selectbox(key=S.MODEL_STRATEGY).value is None
    app.button(key=S.MODEL_SAVE).click().run()
    ok(app)
    assert project.store.settings.strategy == DEFAULT_STRATEGY
    app.selectbox(key=S.MODEL_STRATEGY).select("margin")
    app.button(key=S.MODEL_SAVE).click().run()
    assert project.store.settings.strategy == "margin"


def test_a_stored_strategy_this_app_does_not_know_is_kept(app, project):
    project.store.update_settings(strategy="someone_elses")
    _model_page(app)
    assert app.selectbox(key=S.MODEL_STRATEGY).value == "someone_elses"
    assert any("not registered" in o for o in app.selectbox(key=S.MODEL_STRATEGY).options)
    app.button(key=S.MODEL_SAVE).click().run()
    assert project.store.settings.strategy == "someone_elses"
