"""Pre-annotations through app.py: imported on the Data page, shown on the Label page, accepted with one key."""

from __future__ import annotations

from ui import state as S

from .conftest import ok


def test_label_page_shows_the_preannotation_and_accept_labels_it(app, project):
    store = project.store
    current = store.next_item("me")
    store.save_preannotations([current], ["7"], [0.83], source="other model")
    app.run()
    ok(app)
    accept = app.button(key=S.LABEL_ACCEPT)
    assert accept.proto.shortcut.lower() == "p"
    assert any("Pre-annotation" in m.value and "7" in m.value and "0.83" in m.value for m in app.markdown)
    accept.click().run()
    ok(app)
    labels = store.labels()
    assert labels[["item_id", "label", "labeller"]].values.tolist() == [[current, "7", "me"]]
    assert not labels["bulk"].any() and labels["seconds"].notna().all()
    assert store.next_item("me") != current
    # the next item has no pre-annotation: no box, no button
    assert not [b for b in app.button if b.key == S.LABEL_ACCEPT]


def test_no_class_key_is_p(app, project):
    assert all((b.proto.shortcut or "").lower() != "p" for b in app.button if b.key and b.key.startswith("label_class_"))


def test_data_page_imports_a_file_and_refuses_a_bad_one_whole(app, project):
    store = project.store
    names = store.names([0, 1])
    app.switch_page("pages/data.py").run()
    ok(app)
    uploader = app.file_uploader(key=S.DATA_PRE_FILE)
    bad = f"name,label\n{names[0]},3\nnot-an-item,4\n{names[1]},cat\n".encode()
    uploader.upload("pre.csv", bad, "text/csv").run()
    app.button(key=S.DATA_IMPORT_PRE).click().run()
    assert any("not items of this project" in e.value for e in app.error)
    assert store.preannotations().empty
    good = f"name,label,score\n{names[0]},3,0.5\n{names[1]},4,\n".encode()
    uploader = app.file_uploader(key=S.DATA_PRE_FILE)
    uploader.upload("pre.csv", good, "text/csv").run()
    app.button(key=S.DATA_IMPORT_PRE).click().run()
    ok(app)
    assert store.preannotations()["label"].tolist() == ["3", "4"]
    assert len(store.labels()) == 0
