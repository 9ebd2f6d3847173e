"""Model page, "Compare strategies on my labels", through app.py: refusals, a run, the advice, the switch."""

from __future__ import annotations

import pandas as pd
import pytest

from superintendent_core.service.compare import JobStatus, recommend
from superintendent_core.strategies import DEFAULT_STRATEGY
from ui import compare
from ui import state as S

from .conftest import ok

COMPARE_TITLE = "accuracy on held-out labelled items"


@pytest.fixture(autouse=True)
def _close_runners():
    yield
    compare._runner.clear()  # cancel and drop this test's runners


def _label_truly(project, n: int) -> None:
    """``n`` labels with the demo's hidden truth, straight into the store (fast)."""
    ids = project.store.unlabelled_ids()[:n]
    for item_id, truth in zip(ids, project.store.true_labels(ids), strict=True):
        project.store.submit(int(item_id), str(truth), "me")


def _model_page(at):
    at.switch_page("pages/model.py").run()
    return ok(at)


def _compare_charts(at) -> int:
    return sum(COMPARE_TITLE in str(chart.proto.spec) for chart in at.get("vega_lite_chart"))


def test_too_few_labels_is_a_reason_and_no_chart(app, project):
    _label_truly(project, 25)
    _model_page(app)
    app.button(key=S.COMPARE_START).click().run()
    assert app.exception == []
    warnings = [w.value for w in app.warning]
    assert any("Not enough labels" in w and "Label 15 more" in w for w in warnings), warnings
    assert _compare_charts(app) == 0
    assert compare.comparison_runner(project).status().state == "idle"


def test_the_button_runs_a_comparison_and_shows_curves_and_advice(app, project):
    _label_truly(project, 60)
    _model_page(app)
    app.button(key=S.COMPARE_START).click().run()
    ok(app)
    runner = compare.comparison_runner(project)
    assert runner.status().active
    assert len(app.get("progress")) == 1  # progress while it runs
    status = runner.wait(180)
    assert status.state == "done", status.error
    app.run()
    ok(app)
    advice = [m.value for m in (*app.info, *app.success)]
    assert any(status.result.advice.split(":")[0] in a.replace("\\", "") for a in advice), advice
    assert _compare_charts(app) == 1
    assert any("60 labelled items" in c.value for c in app.caption)
    assert len(app.get("progress")) == 0
    # labelling goes on: the result says it was made on fewer labels than there are now
    _label_truly(project, 1)
    app.run()
    assert any("Compared on 60 labels; the project has 61 now" in c.value for c in app.caption)


def _crafted(runner, winner: str) -> JobStatus:
    """A finished comparison whose rule recommends ``winner`` (replays made up, the rule is real)."""
    grid = [10, 20, 30]
    rows = [
        {"strategy": name, "seed": seed, "n_labels": n, "accuracy": a + (0.1 if name == winner else 0.0)}
        for name in dict.fromkeys([DEFAULT_STRATEGY, "margin", "random", runner.store.settings.strategy or DEFAULT_STRATEGY])
        for seed in range(3)
        for n, a in zip(grid, [0.5, 0.6, 0.7], strict=True)
    ]
    runs = pd.DataFrame(rows)
    current = runner.store.settings.strategy or DEFAULT_STRATEGY
    recommended, advice, summary, target = recommend(runs, current)
    from superintendent_core.service.compare import ComparisonResult, _mean_curves

    result = ComparisonResult(
        curves=_mean_curves(runs, list(dict.fromkeys(runs["strategy"]))), runs=runs, summary=summary,
        current=current, recommended=recommended, advice=advice, target=target, n_labelled=40, n_items=40,
        n_pool=28, n_test=12, budget=28, batch_size=1, initial=10, seeds=(0, 1, 2), seconds=1.0,
    )
    return JobStatus("done", 1.0, "Done", result=result, key=runner.key())


@pytest.mark.parametrize(("start", "winner", "stored"), [(None, "margin", "margin"), ("random", DEFAULT_STRATEGY, None)])
def test_switch_to_the_recommended_strategy(app, project, start, winner, stored):
    project.store.update_settings(strategy=start)
    runner = compare.comparison_runner(project)
    runner._status = _crafted(runner, winner)
    _model_page(app)
    assert any(f"switch to {compare.display_name(winner)}" in s.value.replace("\\", "") for s in app.success)
    app.button(key=S.COMPARE_SWITCH).click().run()
    ok(app)
    assert project.store.settings.strategy == stored
    assert any("Strategy switched to" in s.value for s in app.success)
    assert app.selectbox(key=S.MODEL_STRATEGY).value == stored  # the settings form shows it
    assert not any(b.key == S.COMPARE_SWITCH for b in app.button)  # nothing left to switch to


def test_no_switch_button_when_the_differences_are_noise(app, project):
    runner = compare.comparison_runner(project)
    crafted = _crafted(runner, "nobody")
    runner._status = crafted
    _model_page(app)
    assert crafted.result.recommended is None
    assert any("within noise" in m.value for m in app.info)
    assert not any(b.key == S.COMPARE_SWITCH for b in app.button)


def test_multi_label_projects_are_refused_with_the_reason(tmp_path):
    from streamlit.testing.v1 import AppTest

    from superintendent_core.data.demo import digits_batch
    from superintendent_core.store import ProjectSettings
    from ui.project import create_project, open_project

    from .conftest import APP

    settings = ProjectSettings(name="multi", classes=tuple("0123456789"), multi_label=True)
    path = create_project(str(tmp_path / "multi"), settings, digits_batch(80))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params[S.QP_PROJECT] = path
    at.run()
    project = open_project(path)
    try:
        project.scheduler.wait(60)
        for item_id in project.store.unlabelled_ids()[:50]:
            project.store.submit(int(item_id), [str(item_id % 10)], "me")
        _model_page(at)
        at.button(key=S.COMPARE_START).click().run()
        assert at.exception == []
        assert any("single-label projects only" in w.value for w in at.warning)
        assert _compare_charts(at) == 0
    finally:
        project.scheduler.wait(60)
        open_project.clear()


def test_only_a_role_that_may_manage_the_project_gets_the_section(monkeypatch):
    from superintendent_core.auth import Role
    from ui.auth import Access

    for role, expected in ((Role.ADMIN, True), (Role.LABELLER, False), (None, False)):
        monkeypatch.setattr(compare, "current_access", lambda role=role: Access(role, None, False))
        assert compare._may_manage() is expected
    monkeypatch.setattr(compare, "current_access", lambda: Access(Role.ADMIN, None, False, "broken secrets"))
    assert compare._may_manage() is False
