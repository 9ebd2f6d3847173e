"""The Review page's list of labels most likely wrong, through app.py."""

from __future__ import annotations

from ui import state as S
from ui.label_errors import finder_for

from .conftest import click_class, label_correctly, ok


def _review(app, project):
    """Open the Review page, let the finder finish in the background, and draw the page again."""
    app.switch_page("pages/review.py").run()
    assert finder_for(project).wait(60)
    return ok(app.run())


def _listed(app) -> list[int]:
    prefix = "review_error_fix_"
    return [int(b.key[len(prefix):]) for b in app.button if b.key and b.key.startswith(prefix)]


def _infos(app) -> list[str]:
    return [i.value for i in app.info]


def _label_with_mistakes(app, project, n_right: int, n_wrong: int) -> list[int]:
    label_correctly(app, project, n_right)
    wrong = []
    for _ in range(n_wrong):
        item = project.store.next_item(app.query_params[S.QP_LABELLER])
        truth = project.store.true_labels([item])[0]
        click_class(app, (int(truth) + 3) % 10)
        wrong.append(item)
    return wrong


def test_too_few_labels_says_why_and_lists_nothing(app, project):
    for i in range(5):
        click_class(app, i)
    _review(app, project)
    assert _listed(app) == []
    assert any("Not enough labels to look for errors: 5 so far" in text for text in _infos(app))
    assert app.toggle(key=S.REVIEW_DISAGREE).proto.disabled  # no out-of-fold opinion: nothing to filter by


def test_a_retrain_without_cross_validation_gives_no_opinion_of_its_own_labels(app, project):
    """Cross-validation is skipped when a class has 1 label; the retrained model's in-sample predictions of its
    own training labels are never shown as the model's opinion (the old page did, silently)."""
    label_correctly(app, project, 11)
    counts = project.store.labels()["label"].value_counts()
    assert (counts == 1).any()  # some class has a single label: no cross-validation, no out-of-fold opinion
    snapshot = project.scheduler.run()
    assert snapshot.result.cv_predictions is None
    _review(app, project)
    table = app.dataframe(key=S.REVIEW_EDITOR).value
    assert set(table["model"]) == {"—"}
    assert app.toggle(key=S.REVIEW_DISAGREE).proto.disabled
    assert any("has only 1 label" in text for text in _infos(app))


def test_one_class_says_why(app, project):
    for _ in range(12):
        click_class(app, 4)
    _review(app, project)
    assert _listed(app) == []
    assert any("every label is '4'" in text for text in _infos(app))


def test_mistakes_are_listed_first_and_corrected_from_the_list(app, project):
    wrong = _label_with_mistakes(app, project, 60, 2)
    _review(app, project)
    listed = _listed(app)
    assert set(wrong) <= set(listed[:4])
    item = wrong[0]
    truth = project.store.true_labels([item])[0]
    result, _ = finder_for(project).current(start=False)
    suggested = result.candidates.set_index("item_id").loc[item, "suggested"]
    assert app.selectbox(key=S.review_error_label_key(item)).value == suggested  # the model's label is proposed
    app.selectbox(key=S.review_error_label_key(item)).select(truth)
    app.button(key=S.review_error_fix_key(item)).click().run()
    ok(app)
    assert project.store.labels().set_index("item_id").loc[item, "label"] == truth
    assert item not in _listed(app)  # gone at once, before the finder recomputes
    assert finder_for(project).wait(60)
    app.run()
    assert item not in _listed(app) and wrong[1] in _listed(app)


def test_another_label_can_be_chosen_in_the_list(app, project):
    wrong = _label_with_mistakes(app, project, 60, 1)
    _review(app, project)
    item = wrong[0]
    app.selectbox(key=S.review_error_label_key(item)).select("9")
    app.button(key=S.review_error_fix_key(item)).click().run()
    ok(app)
    assert project.store.labels().set_index("item_id").loc[item, "label"] == "9"


def test_label_is_right_takes_it_off_the_list(app, project):
    wrong = _label_with_mistakes(app, project, 60, 1)
    _review(app, project)
    item = wrong[0]
    given = project.store.labels().set_index("item_id").loc[item, "label"]
    app.button(key=S.review_error_keep_key(item)).click().run()
    ok(app)
    assert item not in _listed(app)
    assert project.store.labels().set_index("item_id").loc[item, "label"] == given  # nothing relabelled


def test_model_disagrees_uses_the_out_of_fold_opinions(app, project):
    wrong = _label_with_mistakes(app, project, 60, 1)
    _review(app, project)
    app.toggle(key=S.REVIEW_DISAGREE).set_value(True).run()
    ok(app)
    table = app.dataframe(key=S.REVIEW_EDITOR).value
    assert wrong[0] in set(table["item_id"])
    assert (table["model"] != table["label"]).all()
    # the same disagreements as the finder's list (the finder's opinion of every label)
    assert set(table["item_id"]) == set(_listed_all(project))


def _listed_all(project) -> list[int]:
    result, _ = finder_for(project).current(start=False)
    return result.candidates["item_id"].tolist()


def test_multi_label_project_lists_and_corrects_per_class(tmp_path):
    import numpy as np
    from streamlit.testing.v1 import AppTest

    from superintendent_core.store import ItemBatch, ProjectSettings
    from ui.project import create_project, open_project

    from .conftest import APP

    rng = np.random.RandomState(0)
    pixels = rng.choice([20.0, 60.0, 200.0, 240.0], size=(120, 2))  # far from the class boundaries
    truth = [[c for c, on in (("dark", a < 128), ("bright", b > 128)) if on] for a, b in pixels]
    labels = [list(t) for t in truth]
    planted = [7, 55]
    labels[7] = [c for c in ("dark", "bright") if (c in truth[7]) != (c == "dark")]  # "dark" flipped
    labels[55] = [c for c in ("dark", "bright") if (c in truth[55]) != (c == "bright")]  # "bright" flipped
    batch = ItemBatch(names=tuple(f"x{i}" for i in range(120)), kind="image", features=pixels,
                      image_shape=(1, 2), pixel_max=255.0, labels=["|".join(v) for v in labels])
    settings = ProjectSettings(name="multi", kind="image", classes=("dark", "bright"), multi_label=True)
    path = create_project(str(tmp_path / "multi"), settings, batch)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params[S.QP_PROJECT] = path
    at.run()
    project = open_project(path)
    _review(at, project)
    assert set(planted) == set(_listed(at)[:2])
    item = planted[0]
    proposed = at.multiselect(key=S.review_error_label_key(item)).value
    assert sorted(proposed) == sorted(truth[item])  # the model's set of classes
    at.button(key=S.review_error_fix_key(item)).click().run()
    ok(at)
    rows = project.store.labels()
    now = rows[rows["item_id"] == item]["label"].iloc[-1]  # the most recent label in force (the imported one stays)
    assert sorted(c for c in now.split("|") if c) == sorted(truth[item])
    assert item not in _listed(at)


def test_hostile_names_in_the_list_are_shown_literally(project_dir):
    """Class names, item names, texts and the labeller are Markdown/HTML: the list shows them as text."""
    import numpy as np
    from streamlit.testing.v1 import AppTest

    from superintendent_core.store import ItemBatch, ProjectSettings
    from superintendent_core.store.folder import FolderStore
    from ui.project import open_project

    from .conftest import APP, exceptions
    from .test_hostile_names import HOSTILE, LABELLER, rendered_markdown, unescaped

    rng = np.random.RandomState(0)
    per_class = 4
    classes = np.repeat(np.arange(len(HOSTILE)), per_class)
    features = np.eye(len(HOSTILE))[classes] * 5 + rng.normal(scale=0.3, size=(len(classes), len(HOSTILE)))
    names = tuple(f"{HOSTILE[c]} #{i}" for i, c in enumerate(classes))
    settings = ProjectSettings(name="hostile", kind="text", classes=tuple(HOSTILE))
    with FolderStore(project_dir, settings=settings) as store:
        store.add_items(ItemBatch(names=names, kind="text", features=features.astype(np.float32),
                                  payloads=[f"{HOSTILE[c]}\n# heading" for c in classes]))
        for i, c in enumerate(classes):
            store.submit(i, HOSTILE[(c + 1) % len(HOSTILE)] if i == 5 else HOSTILE[c], LABELLER)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params[S.QP_LABELLER] = LABELLER
    at.run()
    project = open_project(project_dir)
    try:
        at.switch_page("pages/review.py").run()
        assert finder_for(project).wait(60)
        at.run()
        assert exceptions(at) == []
        assert 5 in _listed(at)
        shown = rendered_markdown(at)
        for text in [*HOSTILE, LABELLER]:
            raw = [(kind, s) for kind, s in shown if unescaped(text, s)]
            assert raw == [], f"{text!r} reaches Markdown unescaped: {raw}"
    finally:
        project.scheduler.wait(60)
        project.store.close()
        open_project.clear()
