"""Review & export page through app.py: the table, filters, corrections, downloads, restore."""

from __future__ import annotations

import io
import json
import zipfile

import pyarrow.parquet as pq
import pytest

from superintendent_core.data.export import export_project_zip
from ui import state as S
from ui.label_errors import finder_for
from ui.project import open_project

from .conftest import captions, click_class, errors, label_correctly, ok


def _review(app):
    app.switch_page("pages/review.py").run()
    return ok(app)


def _table(app):
    return app.dataframe(key=S.REVIEW_EDITOR).value


def test_every_label_is_in_the_table_with_a_thumbnail(app, project):
    for i in range(5):
        click_class(app, i)
    _review(app)
    table = _table(app)
    assert len(table) == 5
    assert table["label"].tolist() == ["0", "1", "2", "3", "4"]
    assert table["item"].str.startswith("data:image/png;base64,").all()
    assert set(table["labeller"]) == {"me"}
    assert set(table["model"]) == {"—"}  # no model yet
    assert any("5 label(s) shown" in c for c in captions(app))


def test_filters_by_class_and_labeller(app, project):
    click_class(app, 1)
    click_class(app, 2)
    project.store.relabel(100, "2", "bob")
    _review(app)
    app.multiselect(key=S.REVIEW_CLASSES).set_value(["2"]).run()
    assert sorted(_table(app)["labeller"]) == ["bob", "me"]
    app.multiselect(key=S.REVIEW_LABELLERS).set_value(["bob"]).run()
    assert _table(app)["item_id"].tolist() == [100]


def test_disagreement_with_the_model(app, project):
    label_correctly(app, project, 40)
    wrong = project.store.next_item("me")
    truth = project.store.true_labels([wrong])[0]
    click_class(app, (int(truth) + 1) % 10)  # one deliberate mistake
    project.scheduler.run()
    _review(app)
    assert finder_for(project).wait(60)  # the out-of-fold opinions are computed in the background
    app.run()
    app.toggle(key=S.REVIEW_DISAGREE).set_value(True).run()
    ok(app)
    table = _table(app)
    assert 1 <= len(table) < 41
    assert (table["model"] != table["label"]).all()


def test_correct_a_label_in_place(app, project):
    click_class(app, 3)
    item_id = int(project.store.labels()["item_id"][0])
    _review(app)
    app.selectbox(key=S.REVIEW_ITEM).select(item_id)
    app.selectbox(key=S.REVIEW_NEW_LABEL).select("8")
    app.button(key=S.REVIEW_CORRECT).click().run()
    ok(app)
    assert project.store.labels().set_index("item_id").loc[item_id, "label"] == "8"
    assert _table(app)["label"].tolist() == ["8"]


def test_downloads_are_offered(app, monkeypatch):
    import superintendent_core.data.export as export

    written = []
    for name in ("labels_csv", "labels_parquet"):
        monkeypatch.setattr(export, name, lambda store, name=name: written.append(name) or b"")
    click_class(app, 0)
    _review(app)
    buttons = {b.key: b for b in app.get("download_button")}
    # The label files are written when their button is clicked (deferred), never on a rerun of the page.
    assert buttons[S.REVIEW_CSV].proto.deferred_file_id
    assert buttons[S.REVIEW_PARQUET].proto.deferred_file_id
    assert written == []
    app.button(key=S.REVIEW_ZIP_BUILD).click().run()
    ok(app)
    assert any(b.key == S.REVIEW_ZIP for b in app.get("download_button"))


def test_restore_a_project_zip(app, project, tmp_path):
    click_class(app, 0)
    click_class(app, 1)
    data = export_project_zip(project.store)
    _review(app)
    target = str(tmp_path / "restored")
    app.file_uploader(key=S.REVIEW_RESTORE).upload("project.zip", data, "application/zip").run()
    app.text_input(key=S.REVIEW_RESTORE_PATH).input(target).run()
    app.button(key=S.REVIEW_RESTORE_GO).click().run()
    ok(app)
    assert app.query_params[S.QP_PROJECT] == target
    assert open_project(target).store.labels()["label"].tolist() == ["0", "1"]


def test_restore_outside_the_projects_folder_is_refused_and_writes_nothing(app, project, tmp_path_factory):
    click_class(app, 0)
    data = export_project_zip(project.store)
    outside = tmp_path_factory.mktemp("elsewhere") / "restored"
    _review(app)
    app.file_uploader(key=S.REVIEW_RESTORE).upload("project.zip", data, "application/zip").run()
    app.text_input(key=S.REVIEW_RESTORE_PATH).input(str(outside)).run()
    app.button(key=S.REVIEW_RESTORE_GO).click().run()
    assert app.exception == []
    assert any("projects folder" in e or "must be inside" in e for e in errors(app))
    assert not outside.exists()


def test_a_tampered_project_zip_is_refused(app, project, tmp_path):
    click_class(app, 0)
    data = export_project_zip(project.store)
    tampered = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "project.json":
                content = content.replace(b"Digits demo", b"Digits DEMO")
            dst.writestr(info, content)
    _review(app)
    app.file_uploader(key=S.REVIEW_RESTORE).upload("project.zip", tampered.getvalue(), "application/zip").run()
    app.text_input(key=S.REVIEW_RESTORE_PATH).input(str(tmp_path / "t")).run()
    app.button(key=S.REVIEW_RESTORE_GO).click().run()
    assert app.exception == []
    assert errors(app)
    assert not (tmp_path / "t" / "project.json").exists()


def test_a_broken_restore_upload_is_a_message(app, tmp_path):
    _review(app)
    app.file_uploader(key=S.REVIEW_RESTORE).upload("project.zip", b"not a zip", "application/zip").run()
    app.text_input(key=S.REVIEW_RESTORE_PATH).input(str(tmp_path / "x")).run()
    app.button(key=S.REVIEW_RESTORE_GO).click().run()
    assert app.exception == []
    assert errors(app)


def test_no_labels_yet(app):
    _review(app)
    assert any("No labels yet" in i.value for i in app.info)


def _progress_rows(app):
    from superintendent_core.service import PROGRESS_COLUMNS

    tables = [d.value for d in app.dataframe if list(d.value.columns) == list(PROGRESS_COLUMNS)]
    assert len(tables) == 1
    return tables[0].set_index("labeller")


def test_team_progress_per_labeller_fresh_after_each_label(app, project):
    first = project.store.next_item("me")
    click_class(app, 1)
    click_class(app, 2)
    app.button(key=S.LABEL_SKIP).click().run()
    project.store.relabel(first, "5", "bob")  # bob disagrees with me on my first item
    _review(app)
    assert any(s.value == "Team progress" for s in app.subheader)
    rows = _progress_rows(app)
    assert list(rows.index) == ["bob", "me"]
    assert rows.loc["me", "labels_total"] == 2 and rows.loc["me", "labels_today"] == 2
    assert rows.loc["me", "skips"] == 1 and rows.loc["bob", "skips"] == 0
    assert rows.loc["me", "median_seconds"] > 0  # the Label page records the seconds
    assert rows.loc["me", "overlap_items"] == 1 and rows.loc["me", "disagreement_share"] == 1.0
    app.switch_page("pages/label.py").run()
    click_class(app, 3)
    _review(app)
    assert _progress_rows(app).loc["me", "labels_total"] == 3  # fresh after the next label


def test_no_team_progress_before_anyone_labels_or_skips(app):
    _review(app)
    assert not any(s.value == "Team progress" for s in app.subheader)


# --------------------------------------------------------------------------- standard formats


@pytest.fixture
def prepared(monkeypatch):
    """Every export the page prepares, as (format, bytes), through the engine's real writer."""
    import superintendent_core.data.formats as formats

    calls: list[tuple[str, bytes]] = []
    real = formats.prepare_export

    def spy(store, fmt):
        spool, result = real(store, fmt)
        with spool:
            data = spool.read()
        calls.append((fmt, data))
        return io.BytesIO(data), result

    monkeypatch.setattr(formats, "prepare_export", spy)
    return calls


def _format_button(app):
    return [b for b in app.get("download_button") if b.key == S.REVIEW_FORMAT_FILE]


def test_standard_formats_are_written_only_when_asked(app, project, prepared):
    for i in range(3):
        click_class(app, i)
    _review(app)
    assert app.selectbox(key=S.REVIEW_FORMAT).options == ["Labels (JSONL)", "Image folders (zip)",
                                                          "Hugging Face parquet"]
    app.run()
    app.multiselect(key=S.REVIEW_CLASSES).set_value(["1"]).run()  # reruns and other widgets write nothing
    assert prepared == [] and _format_button(app) == []
    app.button(key=S.REVIEW_FORMAT_BUILD).click().run()
    ok(app)
    assert [fmt for fmt, _ in prepared] == ["jsonl"]
    lines = [json.loads(line) for line in prepared[0][1].decode().splitlines()]
    assert sorted(o["label"] for o in lines) == ["0", "1", "2"] and {o["labeller"] for o in lines} == {"me"}
    (button,) = _format_button(app)
    assert button.proto.label == f"Labels (JSONL): 3 labelled item(s), {len(prepared[0][1]) / 1000:.1f} kB"
    app.run()
    assert len(prepared) == 1 and _format_button(app) == []  # not written again on the next rerun


def test_image_folders_and_hugging_face_parquet_from_the_page(app, project, prepared):
    for i in range(4):
        click_class(app, i)
    _review(app)
    app.selectbox(key=S.REVIEW_FORMAT).select("imagefolder").run()
    app.button(key=S.REVIEW_FORMAT_BUILD).click().run()
    ok(app)
    names = zipfile.ZipFile(io.BytesIO(prepared[-1][1])).namelist()
    assert sorted(n.split("/")[0] for n in names) == ["0", "1", "2", "3"]
    assert _format_button(app)[0].proto.url.endswith(".zip")
    app.selectbox(key=S.REVIEW_FORMAT).select("hf_parquet").run()
    app.button(key=S.REVIEW_FORMAT_BUILD).click().run()
    ok(app)
    table = pq.read_table(io.BytesIO(prepared[-1][1]))
    assert sorted(table.column("label").to_pylist()) == [0, 1, 2, 3]
    assert _format_button(app)[0].proto.label.startswith("Hugging Face parquet: 4 labelled item(s), ")


def test_a_multi_label_project_is_not_offered_image_folders(app, project):
    project.store.update_settings(multi_label=True)
    _review(app)
    assert app.selectbox(key=S.REVIEW_FORMAT).options == ["Labels (JSONL)", "Hugging Face parquet"]


def test_an_export_that_fails_is_a_message(app, project, monkeypatch):
    import superintendent_core.data.formats as formats
    from superintendent_core.store import InvalidInput

    def refuse(store, fmt):
        raise InvalidInput("The disk is full.")

    monkeypatch.setattr(formats, "prepare_export", refuse)
    click_class(app, 0)
    _review(app)
    app.button(key=S.REVIEW_FORMAT_BUILD).click().run()
    assert app.exception == [] and errors(app) == ["The disk is full."]
    assert _format_button(app) == []


def test_nothing_labelled_is_said_not_downloaded(app, prepared):
    _review(app)
    app.button(key=S.REVIEW_FORMAT_BUILD).click().run()
    ok(app)
    assert any("Nothing to export yet" in i.value for i in app.info)
    assert _format_button(app) == []
