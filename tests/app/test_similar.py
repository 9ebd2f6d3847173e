"""Show similar and bulk labels through app.py, on the Label and Review pages."""

from __future__ import annotations

from ui import state as S

from .conftest import click_class, ok, open_project
from .test_hostile_names import hostile_app  # noqa: F401  (a fixture)
from .test_roles import SECRETS as TEAM_SECRETS
from .test_roles import team as team  # noqa: F401  (a fixture)


def _picks(app, where, item_id):
    prefix = f"similar_pick_{where}_{item_id}_"
    return {int(c.key[len(prefix):]): c for c in app.checkbox if c.key and c.key.startswith(prefix)}


def test_show_similar_labels_the_chosen_items_in_one_step_and_undoes_them(app, project):
    store = project.store
    current = store.next_item("me")
    app.toggle(key=S.similar_show_key("label")).set_value(True).run()
    ok(app)
    picks = _picks(app, "label", current)
    assert len(picks) == 24 and current not in picks
    assert all(c.value for c in picks.values())  # nothing labelled yet: all ticked
    untick = sorted(picks)[:4]
    for i in untick:
        app.checkbox(key=S.similar_pick_key("label", current, i)).uncheck()
    truth = store.true_labels([current])[0]
    app.selectbox(key=S.similar_label_key("label")).set_value(truth).run()
    assert "Label 20 chosen items" in app.button(key=S.similar_apply_key("label")).label
    app.button(key=S.similar_apply_key("label")).click().run()
    ok(app)
    labels = store.labels()
    assert len(labels) == 20 and labels["bulk"].all() and set(labels["labeller"]) == {"me"}
    assert set(labels["item_id"]) == set(picks) - set(untick)
    assert set(labels["label"]) == {truth}
    assert store.next_item("me") == current  # the item on screen is still the one to label
    # the list now says these are labelled, by me, and they cannot be chosen again
    picks = _picks(app, "label", current)
    mine = set(labels["item_id"])
    assert all(picks[i].proto.disabled and not picks[i].value for i in mine)
    assert any(f"me: {truth}" in t.value for t in app.text)
    undo = app.button(key=S.similar_undo_key("label"))
    assert "20 items" in undo.label
    undo.click().run()
    ok(app)
    assert len(store.labels()) == 0
    assert any("20 label(s) removed" in s.value for s in app.success)


def test_no_label_chosen_is_a_hint_and_nothing_is_written(app, project):
    current = project.store.next_item("me")
    app.toggle(key=S.similar_show_key("label")).set_value(True).run()
    app.button(key=S.similar_apply_key("label")).click().run()
    ok(app)
    assert len(project.store.labels()) == 0
    assert any("Choose the label" in i.value for i in app.info)
    assert current == project.store.next_item("me")


def test_ordinary_undo_after_a_bulk_undoes_the_bulk_as_one_step(app, project):
    current = project.store.next_item("me")
    app.toggle(key=S.similar_show_key("label")).set_value(True).run()
    app.selectbox(key=S.similar_label_key("label")).set_value("1").run()
    app.button(key=S.similar_apply_key("label")).click().run()
    assert len(project.store.labels()) == 24
    app.button(key=S.LABEL_UNDO).click().run()
    ok(app)
    assert len(project.store.labels()) == 0 and project.store.next_item("me") == current


def test_review_page_shows_similar_for_the_chosen_label(app, project):
    click_class(app, 0)
    app.switch_page("pages/review.py").run()
    ok(app)
    item = app.selectbox(key=S.REVIEW_ITEM).value
    app.toggle(key=S.similar_show_key("review")).set_value(True).run()
    ok(app)
    picks = _picks(app, "review", item)
    assert len(picks) == 24
    app.selectbox(key=S.similar_label_key("review")).set_value("0").run()
    app.button(key=S.similar_apply_key("review")).click().run()
    ok(app)
    assert len(project.store.labels()) == 25


def test_similar_grid_and_preannotation_show_hostile_names_literally(hostile_app, project_dir):  # noqa: F811
    from ui.project import open_project

    from .conftest import exceptions
    from .test_hostile_names import HOSTILE, LABELLER, rendered_markdown, unescaped

    store = open_project(project_dir).store
    current = store.next_item("ann")
    store.save_preannotations([current], [HOSTILE[2]], source=HOSTILE[0])
    at = hostile_app.run()
    at.toggle(key=S.similar_show_key("label")).set_value(True).run()
    assert exceptions(at) == []
    assert len(_picks(at, "label", current)) == len(HOSTILE) - 1
    assert at.button(key=S.LABEL_ACCEPT)
    shown = rendered_markdown(at)
    for text in [*HOSTILE, LABELLER]:
        raw = [(kind, s) for kind, s in shown if unescaped(text, s)]
        assert raw == [], f"{text!r} reaches Markdown unescaped: {raw}"
    assert any(HOSTILE[1] in t.value for t in at.text)  # item names as text, literally
    at.button(key=S.LABEL_ACCEPT).click().run()
    assert exceptions(at) == []
    mine = store.labels()
    assert mine[(mine["labeller"] == "ann") & (mine["item_id"] == current)]["label"].tolist() == [HOSTILE[2]]


def _grid_texts(app) -> list[str]:
    return [t.value for t in app.text]


def test_a_labeller_sees_neither_who_nor_what_and_cannot_bulk_label_others_items(team, project_dir):

    at = team(TEAM_SECRETS)
    at.session_state[S.ROLE] = "labeller"
    at.session_state[S.AUTH_NAME] = "carol"
    at.run()
    project = open_project(project_dir)
    project.scheduler.wait(60)
    store = project.store
    current = store.next_item("carol")
    others = [i for i in range(300) if i != current]
    store.bulk_label(others[:200], "7", "bob-the-other-labeller")
    at.run()
    at.toggle(key=S.similar_show_key("label")).set_value(True).run()
    ok(at)
    assert not [t for t in _grid_texts(at) if "bob" in t or ": 7" in t]
    picks = _picks(at, "label", current)
    bobs = [i for i in picks if i in set(others[:200])]
    assert bobs, "the demo's nearest items include some bob labelled"
    assert any(t == "labelled" for t in _grid_texts(at))
    assert all(picks[i].proto.disabled and not picks[i].value for i in bobs)
    # a forged tick (session state) on bob's items is ignored when the button is pressed
    for i in bobs:
        at.session_state[S.similar_pick_key("label", current, i)] = True
    at.selectbox(key=S.similar_label_key("label")).set_value("1").run()
    at.button(key=S.similar_apply_key("label")).click().run()
    ok(at)
    labels = store.labels()
    assert set(labels.loc[labels["labeller"] == "carol", "item_id"]).isdisjoint(bobs)
    assert (labels.loc[labels["item_id"].isin(bobs), "label"] == "7").all()


def test_an_admin_sees_who_labelled_and_an_item_with_overlap_labellers_cannot_be_chosen(team, project_dir):

    at = team(TEAM_SECRETS)
    at.session_state[S.ROLE] = "admin"
    at.session_state[S.AUTH_NAME] = "boss"
    at.run()
    project = open_project(project_dir)
    project.scheduler.wait(60)
    store = project.store
    store.update_settings(overlap=2)
    current = store.next_item("boss")
    others = [i for i in range(300) if i != current]
    store.bulk_label(others[:200], "7", "bob")
    store.bulk_label(others[:100], "7", "dan")
    at.run()
    at.toggle(key=S.similar_show_key("label")).set_value(True).run()
    ok(at)
    picks = _picks(at, "label", current)
    assert any("bob: 7" in t for t in _grid_texts(at))
    two = [i for i in picks if i in set(others[:100])]
    one = [i for i in picks if i in set(others[100:200])]
    assert all(picks[i].proto.disabled for i in two)  # overlap reached
    assert all(not picks[i].proto.disabled and not picks[i].value for i in one)  # a manager may add one
