"""The Model page leads with the estimated accuracy and says when to stop, through app.py.

History entries are written with ``store.record_retrain`` (the real interface: free-form JSON on every backend)
with the keys of ``AccuracyEstimate.to_entry()``; the estimator itself is not faked.
"""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pyarrow as pa
import pytest

from ui import state as S

from .conftest import captions, click_class, exceptions, label_correctly, ok

NO_ESTIMATE = "No accuracy estimate yet"


def _model_page(app):
    app.switch_page("pages/model.py").run()
    assert exceptions(app) == []
    return app


def _subheaders(app) -> list[str]:
    return [s.value for s in app.subheader]


def _headline(app) -> str:
    """The first subheader: the page leads with the estimate."""
    return _subheaders(app)[0]


def _record(project, n, value=None, half=0.03, **extra):
    entry = {"n_labels": n, "score": 0.55 + n / 1000, "metric": "accuracy", "strategy": "neighbourhood",
             "model": "logistic_regression", "seconds": 0.1, "cv_folds": 3, "by": "app"}
    if value is not None:
        entry.update(estimate=value, estimate_low=max(0.0, value - half), estimate_high=min(1.0, value + half),
                     estimate_target="new", estimate_n=max(1, n // 3), estimate_note="")
    entry.update(extra)
    project.store.record_retrain(entry)


def _chart_rows(app) -> pd.DataFrame:
    """The accuracy chart's line layer data, from the element's Arrow datasets."""
    chart = app.get("vega_lite_chart")[0].proto
    spec = json.loads(chart.spec)
    line = [layer for layer in spec["layer"] if layer["mark"]["type"] == "line"]
    assert len(line) == 1
    datasets = {d.name: d.data.data for d in chart.datasets}
    return pa.ipc.open_stream(datasets[line[0]["data"]["name"]]).read_all().to_pandas()


def _chart_spec(app) -> dict:
    return json.loads(app.get("vega_lite_chart")[0].proto.spec)


def test_the_page_leads_with_the_estimate_its_basis_and_the_stop_advice(app, project):
    for n in range(10, 160, 10):
        _record(project, n, 0.89 + 0.0001 * n, half=0.032)
    _model_page(app)
    ok(app)
    assert _headline(app) == "Estimated accuracy 90 % (90 % interval 87–94 %) on new items"
    assert any(c.startswith("Rests on 50 of the 150 labels: items drawn at random") for c in captions(app))
    advice = [s.value for s in app.success]
    assert advice and advice[0].startswith("The estimate rose 0.5 points over the last 50 labels")
    assert "less than its noise (±3.2 points): more labels are unlikely to help this model much." in advice[0]
    assert any("active learning picks the items the model finds hard" in c for c in captions(app))


def test_the_estimators_own_words_say_what_it_rests_on(app, project):
    note = ("The model's confidence on the 1,647 unlabelled items, corrected by how often it was right on 50 "
            "audited labels (items served at random for the estimate, each scored by a model that had not seen it).")
    _record(project, 150, 0.93, estimate_target="unlabelled", estimate_note=note)
    _model_page(app)
    ok(app)
    assert _headline(app) == "Estimated accuracy 93 % (90 % interval 90–96 %) on the items not yet labelled"
    assert note + " Model trained on 150 labels." in captions(app)


def test_still_improving_is_said_with_its_figures(app, project):
    for n in range(10, 110, 10):
        _record(project, n, 0.5 + 0.004 * n)
    _model_page(app)
    ok(app)
    assert app.info[0].value == (  # right under the headline (other sections may add their own notes below)
        "Still improving: +12.0 points over the last 30 labels (78.0 % → 90.0 %), more than its noise (±3.0 points).")


def test_why_the_estimate_starts_later_than_the_score(app, project):
    _record(project, 20, None, estimate=None, estimate_note="not enough audited labels yet: 2 of the 10 needed.")
    _record(project, 40, 0.8)
    _model_page(app)
    ok(app)
    assert ("The estimate starts at 40 labels. At 20 labels: not enough audited labels yet: 2 of the 10 needed."
            in captions(app))


def test_unlabelled_target_is_named(app, project):
    _record(project, 40, 0.8, estimate_target="unlabelled")
    _model_page(app)
    assert _headline(app).endswith("on the items not yet labelled")
    assert any(c.startswith("Not enough history yet to say when to stop") for c in captions(app))


def test_chart_has_one_point_per_label_count_and_integer_ticks(app, project):
    """A restart's warm-up retrain (the same label count again) adds no second point."""
    for n, value in [(10, 0.6), (20, 0.7), (30, 0.8), (30, 0.81), (40, 0.85)]:
        _record(project, n, value)
    _model_page(app)
    ok(app)
    rows = _chart_rows(app)
    for series, part in rows.groupby("series"):
        assert part["n_labels"].tolist() == [10, 20, 30, 40], series
    estimated = rows[rows["series"].str.startswith("estimated")]
    assert estimated["value"].tolist() == [0.6, 0.7, 0.81, 0.85]  # the latest entry at 30 labels
    spec = json.dumps(_chart_spec(app))
    assert '"format": "d"' in spec and '"tickMinStep": 1' in spec
    assert '"mark": {"type": "area"' in spec  # the 90 % band


def test_a_warm_up_retrain_through_the_app_adds_no_second_point(app, project):
    """Labels, a recorded retrain at 20 labels with an estimate, then a retrain of the same labels in the app."""
    label_correctly(app, project, 20)
    _record(project, 20, 0.7)
    _model_page(app)
    app.button(key=S.MODEL_RETRAIN).click().run()
    ok(app)
    assert project.store.history()["n_labels"].tolist() == [20, 20]
    rows = _chart_rows(app)
    assert sorted(rows["series"]) == ["cross-validated score", "estimated accuracy (90 % interval)"]
    assert rows["n_labels"].tolist() == [20, 20]  # one point per series
    # this app's retrain recorded no estimate of its own: the headline says whose estimate it shows
    assert _headline(app).startswith("Estimated accuracy 70 %")


def test_no_retrain_yet_says_so_and_draws_no_number(app):
    _model_page(app)
    ok(app)
    assert _headline(app) == NO_ESTIMATE
    assert any(c.startswith("No retrain recorded yet: label items of at least 2 classes") for c in captions(app))
    assert not any("%" in s for s in _subheaders(app))
    assert not any(c.startswith("Not enough history") for c in captions(app))  # nothing to advise on yet
    assert any("appears after the first retrain" in c for c in captions(app))


def test_zero_labels_and_retrain_is_a_statement(app):
    _model_page(app)
    app.button(key=S.MODEL_RETRAIN).click().run()
    assert exceptions(app) == []
    assert any("No labels yet" in e.value for e in app.error)
    assert _headline(app) == NO_ESTIMATE


def test_one_class_is_a_statement(app, project):
    for _ in range(5):
        click_class(app, 4)
    _model_page(app)
    app.button(key=S.MODEL_RETRAIN).click().run()
    assert exceptions(app) == []
    assert any("at least 2 classes" in e.value for e in app.error)
    assert _headline(app) == NO_ESTIMATE
    assert any("No retrain recorded yet" in c for c in captions(app))


def test_only_skipped_items_is_a_statement(app, project):
    for _ in range(4):
        app.button(key=S.LABEL_SKIP).click().run()
    assert len(project.store.labels()) == 0
    _model_page(app)
    app.button(key=S.MODEL_RETRAIN).click().run()
    assert exceptions(app) == []
    assert any("No labels yet" in e.value for e in app.error)
    assert _headline(app) == NO_ESTIMATE


def test_an_estimate_that_could_not_be_computed_gives_its_reason(app, project):
    """E.g. a multi-label project or too few audited labels: the estimator's own words, never a number."""
    note = "Not enough audited labels yet: 3 of the 10 needed (multi-label projects count each item once)."
    _record(project, 30, None, estimate=None, estimate_low=None, estimate_high=None, estimate_target="new",
            estimate_n=3, estimate_note=note)
    _model_page(app)
    ok(app)
    assert _headline(app) == NO_ESTIMATE
    assert any(c.startswith("Not enough audited labels yet: 3 of the 10 needed") for c in captions(app))
    assert any("No retrain has an accuracy estimate yet" in c for c in captions(app))  # CV line only
    assert set(_chart_rows(app)["series"]) == {"cross-validated score"}


def test_entries_from_before_the_estimate_say_so(app, project):
    for n in (10, 20, 30):
        project.store.record_retrain({"n_labels": n, "score": 0.6, "metric": "accuracy", "model": "lr"})
    _model_page(app)
    ok(app)
    assert _headline(app) == NO_ESTIMATE
    assert any("predate the accuracy estimate: retrain to get one" in c for c in captions(app))
    lines = [m.value for m in app.markdown if "Last recorded retrain" in m.value]
    assert lines and "estimate" not in lines[0]


@pytest.mark.parametrize("entry", [
    {"estimate": float("nan"), "estimate_low": float("nan"), "estimate_high": float("nan"),
     "estimate_note": float("nan"), "estimate_n": float("nan")},
    {"estimate": "not a number", "estimate_low": "x", "estimate_high": None},
    {"estimate": 1.5, "estimate_low": 0.2, "estimate_high": 2.0, "estimate_target": "new"},
    {"estimate": 0.9, "estimate_low": 0.95, "estimate_high": 0.99, "estimate_target": "new"},
    {"estimate": math.inf, "estimate_target": "new"},
])
def test_nan_and_nonsense_values_are_a_statement_not_a_number(app, project, entry):
    project.store.record_retrain({"n_labels": 25, "score": 0.6, "metric": "accuracy", **entry})
    project.store.record_retrain({"n_labels": "??", "estimate": 0.9})  # no label count: left out of the chart
    _model_page(app)
    ok(app)
    assert _headline(app) == NO_ESTIMATE
    assert not any("%" in s for s in _subheaders(app))
    rows = _chart_rows(app)
    assert rows["n_labels"].tolist() == [25] and rows["series"].tolist() == ["cross-validated score"]


def test_a_value_without_its_interval_is_not_shown(app, project):
    _record(project, 30, None, estimate=0.84, estimate_target="new", estimate_n=10)
    _model_page(app)
    ok(app)
    assert _headline(app) == NO_ESTIMATE
    assert any("not a valid accuracy with its 90 % interval" in c for c in captions(app))


def test_an_older_estimate_is_labelled_as_such(app, project):
    _record(project, 40, 0.85)
    _record(project, 50, None, estimate=None, estimate_note="the estimate is off: audit share 0")
    _model_page(app)
    ok(app)
    assert _headline(app).startswith("Estimated accuracy 85 %")
    assert any("the latest retrain (50 labels) has none: the estimate is off: audit share 0" in c
               for c in captions(app))


def test_hostile_notes_and_targets_are_shown_as_text(app, project):
    _record(project, 30, None, estimate=None, estimate_note="[click me](http://evil.example) <img src=x>")
    _record(project, 40, 0.8, estimate_target="<b>new</b>", estimate_note="**bold**")
    _model_page(app)
    ok(app)
    assert _headline(app) == "Estimated accuracy 80 % (90 % interval 77–83 %)"  # no claim about an unknown target
    app_text = " ".join(captions(app) + _subheaders(app) + [m.value for m in app.markdown])
    assert "\\<img src=x\\>" in app_text and "[click me\\](http" in app_text  # shown, escaped
    assert not re.search(r"(?<!\\)<", app_text) and not re.search(r"(?<!\\)\]\(", app_text)  # nothing raw
    assert "<b>" not in app_text and "new</b>" not in app_text  # an unknown target is not shown at all


def test_a_multi_label_project_retrains_and_says_what_it_can(tmp_path):
    """A real multi-label retrain through the app: no traceback; the headline is a statement (the estimator may
    give no number for multi-label projects, with its reason), never a number without its interval."""
    from streamlit.testing.v1 import AppTest

    from superintendent_core.data.demo import digits_batch
    from superintendent_core.store import ProjectSettings
    from ui.project import create_project, open_project

    from .conftest import APP

    batch = digits_batch(80)
    settings = ProjectSettings(name="tags", kind="image", classes=("even", "big"), multi_label=True)
    path = create_project(str(tmp_path / "tags"), settings, batch)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params[S.QP_PROJECT] = path
    at.run()
    project = open_project(path)
    try:
        assert project.scheduler.wait(60)
        for _ in range(30):
            item = project.store.next_item("me")
            digit = int(project.store.true_labels([item])[0])
            tags = tuple(t for t, on in (("even", digit % 2 == 0), ("big", digit >= 5)) if on)
            project.store.submit(item, tags, "me")
        _model_page(at)
        at.button(key=S.MODEL_RETRAIN).click().run()
        ok(at)
        assert any(s.value.startswith("Retrained on 30 labels") for s in at.success)
        # no item is drawn at random before 50 labels: a multi-label project of 30 labels has no number yet
        assert _headline(at) == NO_ESTIMATE
        assert any(c.startswith("Not enough audited labels yet: 0 of the 10 needed") for c in captions(at))
        _record(project, 30, None, estimate=None, estimate_note="Multi-label projects have no accuracy estimate yet.")
        at.run()
        ok(at)
        assert _headline(at) == NO_ESTIMATE
        assert "Multi-label projects have no accuracy estimate yet." in captions(at)
    finally:
        project.scheduler.wait(60)
        project.store.close()
        open_project.clear()


def test_the_estimate_turned_off_is_said(app, project):
    project.store.update_settings(audit_share=0.0)
    _record(project, 40, None, estimate=None, estimate_note="the estimate is off (audit share 0).")
    _model_page(app)
    ok(app)
    assert _headline(app) == NO_ESTIMATE
    assert any(c.startswith("The estimate is turned off for this project (audit share 0") for c in captions(app))
