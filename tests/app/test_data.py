"""Data page through app.py: create projects from each source, bad input, classes, labels, switching."""

from __future__ import annotations

import io
import os
import zipfile

import pandas as pd
from PIL import Image

from ui import state as S
from ui.project import is_project, open_project

from .conftest import captions, errors, label_buttons, ok


def _png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 16), colour).save(out, "PNG")
    return out.getvalue()


def _image_zip(n: int = 6) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(n):
            folder = "red" if i % 2 else "blue"
            zf.writestr(f"{folder}/{i}.png", _png((255, 0, 0) if i % 2 else (0, 0, 255)))
        zf.writestr("README.txt", "not an image")
    return buf.getvalue()


def _data_page(app):
    app.switch_page("pages/data.py").run()
    return ok(app)


def _new_project(app, tmp_path, name: str, source: str):
    _data_page(app)
    app.text_input(key=S.DATA_NAME).input(name).run()
    app.text_input(key=S.DATA_PATH).input(str(tmp_path / name)).run()
    app.radio(key=S.DATA_SOURCE).set_value(source).run()
    return str(tmp_path / name)


def test_the_page_shows_the_current_project(app, project_dir):
    _data_page(app)
    assert any("Digits demo" in m.value and project_dir in m.value for m in app.markdown)
    assert app.text_input(key=S.DATA_EDIT_CLASSES).value == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9"


def test_create_from_an_image_zip_with_labels_from_folders(app, tmp_path):
    path = _new_project(app, tmp_path, "colours", "zip")
    app.file_uploader(key="new" + S.DATA_ZIP).upload("colours.zip", _image_zip(), "application/zip").run()
    app.checkbox(key="new_zip_labels").check().run()
    ok(app)
    assert app.text_input(key=S.DATA_CLASSES).value == "blue, red"
    assert any("README.txt" in c for c in captions(app))  # the skipped file is reported
    app.button(key=S.DATA_CREATE).click().run()
    ok(app)
    assert app.query_params[S.QP_PROJECT] == path
    store = open_project(path).store
    assert len(store) == 6 and store.settings.classes == ("blue", "red")
    assert len(store.labels()) == 6
    assert any("Done: all 6 items are labelled" in s.value for s in app.success)


def test_create_from_an_image_zip_then_label(app, tmp_path):
    path = _new_project(app, tmp_path, "plain", "zip")
    app.file_uploader(key="new" + S.DATA_ZIP).upload("plain.zip", _image_zip(4), "application/zip").run()
    app.text_input(key=S.DATA_CLASSES).input("warm, cold").run()
    app.button(key=S.DATA_CREATE).click().run()
    ok(app)
    assert [b.label for b in label_buttons(app)] == ["warm", "cold"]
    app.button(key=S.label_class_key(1)).click().run()
    assert open_project(path).store.labels()["label"].tolist() == ["cold"]


def test_a_broken_zip_is_a_message_and_nothing_is_created(app, tmp_path):
    path = _new_project(app, tmp_path, "broken", "zip")
    app.file_uploader(key="new" + S.DATA_ZIP).upload("broken.zip", b"PK\x03\x04 this is not a zip", "application/zip").run()
    assert app.exception == []
    assert any("zip" in e.lower() for e in errors(app))
    assert not os.path.exists(path)
    assert app.button(key=S.DATA_CREATE).proto.disabled


def test_an_empty_upload_is_a_message(app, tmp_path):
    _new_project(app, tmp_path, "empty", "table")
    app.file_uploader(key="new" + S.DATA_TABLE).upload("empty.csv", b"", "text/csv").run()
    assert app.exception == []
    assert any("empty" in e for e in errors(app))


def test_create_from_a_csv_with_column_pickers_and_preview(app, tmp_path):
    csv = pd.DataFrame(
        {"text": ["good film", "bad film", "great", "awful", "fine"], "sentiment": ["pos", "neg", None, None, None]}
    ).to_csv(index=False).encode()
    path = _new_project(app, tmp_path, "reviews", "table")
    app.file_uploader(key="new" + S.DATA_TABLE).upload("reviews.csv", csv, "text/csv").run()
    ok(app)
    assert len(app.dataframe) >= 1  # the preview
    app.multiselect(key="new" + S.DATA_DISPLAY_COLS).set_value(["text"]).run()
    app.selectbox(key="new" + S.DATA_LABEL_COL).select("sentiment").run()
    assert app.text_input(key=S.DATA_CLASSES).value == "neg, pos"
    app.button(key=S.DATA_CREATE).click().run()
    ok(app)
    store = open_project(path).store
    assert store.settings.kind == "text" and store.settings.feature_kind == "text"
    assert store.settings.model == "text_logistic_regression"
    assert len(store) == 5 and len(store.labels()) == 2
    assert any("great" in m.value for m in app.markdown)  # the next text item is shown


def test_a_csv_label_outside_the_classes_is_refused_whole(app, tmp_path):
    csv = b"text,label\nhello,a\nworld,zzz\n"
    path = _new_project(app, tmp_path, "bad-labels", "table")
    app.file_uploader(key="new" + S.DATA_TABLE).upload("t.csv", csv, "text/csv").run()
    app.selectbox(key="new" + S.DATA_LABEL_COL).select("label").run()
    app.text_input(key=S.DATA_CLASSES).input("a, b").run()
    app.button(key=S.DATA_CREATE).click().run()
    assert app.exception == []
    assert any("zzz" in e for e in errors(app))
    assert not is_project(path)


def test_create_the_demo_in_a_new_folder(app, tmp_path):
    path = _new_project(app, tmp_path, "demo2", "demo")
    app.button(key=S.DATA_CREATE).click().run()
    ok(app)
    assert len(open_project(path).store) == 1797


def test_a_new_project_goes_under_projects_beside_the_default_one_by_default(app, project_dir):
    _data_page(app)
    app.text_input(key=S.DATA_NAME).input("birds").run()
    expected = os.path.join(os.path.dirname(project_dir), "projects", "birds")
    assert app.text_input(key=S.DATA_PATH).value == expected  # a git-ignored folder, not the repository root
    app.radio(key=S.DATA_SOURCE).set_value("demo").run()
    app.button(key=S.DATA_CREATE).click().run()
    ok(app)
    assert is_project(expected) and len(open_project(expected).store) == 1797
    _data_page(app)  # it is listed among the projects that may be opened
    assert any("birds" in c for c in captions(app))


def test_an_existing_project_folder_is_not_overwritten(app, project_dir):
    _data_page(app)
    app.text_input(key=S.DATA_PATH).input(project_dir).run()
    app.button(key=S.DATA_CREATE).click().run()
    assert any("already holds a project" in e for e in errors(app))


def test_edit_classes(app, project):
    _data_page(app)
    app.text_input(key=S.DATA_EDIT_CLASSES).input("0, 1, 2, 3, 4, 5, 6, 7, 8, 9, other")
    app.button(key=S.DATA_SAVE_CLASSES).click().run()
    ok(app)
    assert project.store.settings.classes[-1] == "other"


def test_removing_a_class_with_labels_is_refused(app, project):
    app.button(key=S.label_class_key(9)).click().run()
    _data_page(app)
    app.text_input(key=S.DATA_EDIT_CLASSES).input("0, 1, 2")
    app.button(key=S.DATA_SAVE_CLASSES).click().run()
    assert app.exception == []
    assert errors(app)
    assert len(project.store.settings.classes) == 10


def test_import_existing_labels(app, project):
    csv = b"name,label\ndigit-0000,0\ndigit-0001,1\ndigit-0002,\n"
    _data_page(app)
    app.file_uploader(key=S.DATA_LABELS_FILE).upload("labels.csv", csv, "text/csv").run()
    app.button(key=S.DATA_IMPORT_LABELS).click().run()
    ok(app)
    labels = project.store.labels()
    assert labels["name"].tolist() == ["digit-0000", "digit-0001"]
    assert labels["label"].tolist() == ["0", "1"]


def test_import_labels_with_unknown_names_imports_nothing(app, project):
    csv = b"name,label\ndigit-0000,0\nno-such-item,1\n"
    _data_page(app)
    app.file_uploader(key=S.DATA_LABELS_FILE).upload("labels.csv", csv, "text/csv").run()
    app.button(key=S.DATA_IMPORT_LABELS).click().run()
    assert any("no-such-item" in e for e in errors(app))
    assert len(project.store.labels()) == 0


def test_import_labels_with_a_bad_row_in_the_middle_imports_nothing(app, project):
    """All or nothing: row 3's class does not exist, so rows 1, 2 and 4 are not recorded either."""
    csv = b"name,label\ndigit-0000,0\ndigit-0001,1\ndigit-0002,dog\ndigit-0003,3\n"
    _data_page(app)
    app.file_uploader(key=S.DATA_LABELS_FILE).upload("labels.csv", csv, "text/csv").run()
    app.button(key=S.DATA_IMPORT_LABELS).click().run()
    assert app.exception == []
    assert any("dog" in e and "nothing was imported" in e for e in errors(app))
    assert len(project.store.labels()) == 0


def test_open_a_missing_project_is_a_message(app, tmp_path):
    _data_page(app)
    app.text_input(key=S.DATA_OPEN_PATH).input(str(tmp_path / "nope")).run()
    app.button(key=S.DATA_OPEN).click().run()
    assert app.exception == []
    assert any("holds no project" in e for e in errors(app))  # (message reworded with the location rule)


def test_switch_projects_and_back(app, tmp_path, project_dir):
    path = _new_project(app, tmp_path, "second", "demo")
    app.button(key=S.DATA_CREATE).click().run()
    app.button(key=S.label_class_key(0)).click().run()
    assert app.query_params[S.QP_PROJECT] == path
    _data_page(app)
    app.text_input(key=S.DATA_OPEN_PATH).input(project_dir).run()
    app.button(key=S.DATA_OPEN).click().run()
    ok(app)
    assert S.QP_PROJECT not in app.query_params
    assert len(open_project(project_dir).store.labels()) == 0
    assert len(open_project(path).store.labels()) == 1


def test_create_from_a_folder_of_images(app, tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERINTENDENT_IMPORT_ROOT", str(tmp_path))  # server-folder import needs a root
    images = tmp_path / "images"
    (images / "a").mkdir(parents=True)
    for i in range(3):
        (images / "a" / f"{i}.png").write_bytes(_png((i * 80, 0, 0)))
    path = _new_project(app, tmp_path, "folder", "folder")
    app.text_input(key="new" + S.DATA_FOLDER).input(str(images)).run()
    app.text_input(key=S.DATA_CLASSES).input("x, y").run()
    app.button(key=S.DATA_CREATE).click().run()
    ok(app)
    assert len(open_project(path).store) == 3


def test_a_folder_that_does_not_exist_is_a_message(app, tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERINTENDENT_IMPORT_ROOT", str(tmp_path))  # server-folder import needs a root
    _new_project(app, tmp_path, "nofolder", "folder")
    app.text_input(key="new" + S.DATA_FOLDER).input(str(tmp_path / "missing")).run()
    assert app.exception == []
    assert any("no such folder" in e for e in errors(app))  # (message reworded with the root rule)


def test_add_items_to_the_open_project_keeps_labels(app, tmp_path):
    path = _new_project(app, tmp_path, "grow", "zip")
    app.file_uploader(key="new" + S.DATA_ZIP).upload("a.zip", _image_zip(4), "application/zip").run()
    app.text_input(key=S.DATA_CLASSES).input("warm, cold").run()
    app.button(key=S.DATA_CREATE).click().run()
    app.button(key=S.label_class_key(0)).click().run()
    _data_page(app)
    more = io.BytesIO()
    with zipfile.ZipFile(more, "w") as zf:
        zf.writestr("new/extra.png", _png((0, 255, 0)))
    app.file_uploader(key="add" + S.DATA_ZIP).upload("more.zip", more.getvalue(), "application/zip").run()
    app.button(key=S.DATA_ADD).click().run()
    ok(app)
    store = open_project(path).store
    assert len(store) == 5 and store.labels()["label"].tolist() == ["warm"]


def test_adding_items_that_do_not_fit_the_pool_is_a_message(app, project):
    app.button(key=S.label_class_key(0)).click().run()
    _data_page(app)
    app.file_uploader(key="add" + S.DATA_ZIP).upload("photos.zip", _image_zip(2), "application/zip").run()
    app.button(key=S.DATA_ADD).click().run()
    assert app.exception == []
    assert errors(app)  # 16x16 thumbnails do not match the digits' 64 features
    assert len(project.store) == 1797 and len(project.store.labels()) == 1


# --- issue 14: bad images skipped and listed, progress closed, table defaults from the engine ---


def _zip_with_bad_images() -> bytes:
    buf = io.BytesIO()
    big = _png((0, 255, 0))
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(3):
            zf.writestr(f"good/{i}.png", _png((255, 0, 0)))
        zf.writestr("bad/garbage.png", b"this is not a picture")
        zf.writestr("bad/truncated.png", big[: len(big) // 2])
    return buf.getvalue()


def _progress_bars(app) -> list:
    return list(app.get("progress"))


def test_a_zip_with_bad_images_imports_the_good_ones_and_lists_the_bad(app, tmp_path):
    path = _new_project(app, tmp_path, "some-bad", "zip")
    app.file_uploader(key="new" + S.DATA_ZIP).upload("some-bad.zip", _zip_with_bad_images(), "application/zip").run()
    ok(app)
    warning = " ".join(w.value for w in app.warning)
    assert "2 image(s) cannot be read" in warning and "3 will be" in warning
    assert "bad/garbage.png" in warning and "bad/truncated.png" in warning
    assert "BytesIO" not in warning and " at 0x" not in warning
    assert _progress_bars(app) == []
    app.text_input(key=S.DATA_CLASSES).input("warm, cold").run()
    app.button(key=S.DATA_CREATE).click().run()
    ok(app)
    assert sorted(open_project(path).store.names(range(3))) == ["good/0.png", "good/1.png", "good/2.png"]


def test_refusing_bad_images_is_a_message_naming_them_and_the_bar_closes(app, tmp_path):
    path = _new_project(app, tmp_path, "refuse-bad", "zip")
    app.checkbox(key="new" + S.DATA_REFUSE_BAD).check().run()
    app.file_uploader(key="new" + S.DATA_ZIP).upload("refuse.zip", _zip_with_bad_images(), "application/zip").run()
    assert app.exception == []
    message = " ".join(errors(app))
    assert "nothing was imported" in message and "bad/garbage.png" in message and "BytesIO" not in message
    assert _progress_bars(app) == []  # the bar closed on the error
    assert app.button(key=S.DATA_CREATE).proto.disabled
    assert not os.path.exists(path)


def test_csv_defaults_show_the_longest_text_and_name_items_by_their_id(app, tmp_path):
    csv = pd.DataFrame({
        "id": ["r-17", "r-18", "r-19"],
        "review": ["a long and careful review", "short but not tiny", "another thoughtful review"],
        "stars": [1, 5, 3],
    }).to_csv(index=False).encode()
    path = _new_project(app, tmp_path, "named", "table")
    app.file_uploader(key="new" + S.DATA_TABLE).upload("named.csv", csv, "text/csv").run()
    ok(app)
    assert app.radio(key="new" + S.DATA_TABLE_KIND).value == "text"
    assert app.multiselect(key="new" + S.DATA_DISPLAY_COLS).value == ["review"]
    assert app.selectbox(key="new" + S.DATA_NAME_COL).value == "id"
    app.text_input(key=S.DATA_CLASSES).input("pos, neg").run()
    app.button(key=S.DATA_CREATE).click().run()
    ok(app)
    store = open_project(path).store
    assert store.names(range(3)) == ["r-17", "r-18", "r-19"]


def test_a_csv_of_numbers_only_defaults_to_table_rows(app, tmp_path):
    csv = b"x,y,z\n0.1,1,5\n0.2,2,6\n0.3,3,7\n"
    path = _new_project(app, tmp_path, "numbers", "table")
    app.file_uploader(key="new" + S.DATA_TABLE).upload("numbers.csv", csv, "text/csv").run()
    ok(app)
    assert app.radio(key="new" + S.DATA_TABLE_KIND).value == "table"
    assert app.multiselect(key="new" + S.DATA_DISPLAY_COLS).value == ["x", "y", "z"]
    app.text_input(key=S.DATA_CLASSES).input("a, b").run()
    app.button(key=S.DATA_CREATE).click().run()
    ok(app)
    assert open_project(path).store.settings.kind == "table"


def test_the_progress_bar_closes_when_the_import_fails(app, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.png", b"not a picture")
        zf.writestr("b.png", b"nor this")
    _new_project(app, tmp_path, "all-bad", "zip")
    app.file_uploader(key="new" + S.DATA_ZIP).upload("all-bad.zip", buf.getvalue(), "application/zip").run()
    assert app.exception == []
    assert any("None of the images could be read" in e or "nothing was imported" in e for e in errors(app))
    assert _progress_bars(app) == []


def test_import_jsonl_labels_all_or_nothing(app, project):
    good = b'{"name": "digit-0000", "label": "0"}\n{"name": "digit-0001", "label": "1", "labeller": "ann"}\n'
    bad = good + b'{"name": "digit-0002", "label": "dog"}\n'
    _data_page(app)
    app.file_uploader(key=S.DATA_LABELS_FILE).upload("labels.jsonl", bad, "application/jsonl").run()
    app.button(key=S.DATA_IMPORT_LABELS).click().run()
    assert app.exception == []
    assert any("Line 3" in e and "'dog'" in e and "nothing was imported" in e for e in errors(app))
    assert len(project.store.labels()) == 0
    app.file_uploader(key=S.DATA_LABELS_FILE).upload("labels.jsonl", good, "application/jsonl").run()
    app.button(key=S.DATA_IMPORT_LABELS).click().run()
    ok(app)
    labels = project.store.labels()
    assert labels[["name", "label", "labeller"]].values.tolist() == [["digit-0000", "0", "me"],
                                                                     ["digit-0001", "1", "ann"]]


def test_create_from_a_hugging_face_parquet(app, tmp_path):
    from superintendent_core.data.formats import write_hf_parquet
    from superintendent_core.store import ItemBatch, ProjectSettings, open_store

    source = open_store(tmp_path / "source", settings=ProjectSettings(classes=("blue", "red"), kind="image"))
    source.add_items(ItemBatch(names=("a.png", "b.png", "c.png"), kind="image", features=[[0.0], [1.0], [2.0]],
                               payloads=[_png("blue"), _png("red"), _png("green")]))
    source.import_labels([0, 1], ["blue", "red"], "ann")
    data = io.BytesIO()
    write_hf_parquet(source, data)
    source.close()
    path = _new_project(app, tmp_path, "from-hf", "hf_parquet")
    app.file_uploader(key="new" + S.DATA_HF_PARQUET).upload("train.parquet", data.getvalue(),
                                                          "application/octet-stream").run()
    ok(app)
    assert app.text_input(key=S.DATA_CLASSES).value == "blue, red"
    app.button(key=S.DATA_CREATE).click().run()
    ok(app)
    store = open_project(path).store
    assert store.names(range(len(store))) == ["a.png", "b.png"]  # the export holds the labelled items
    assert dict(zip(store.labels()["name"], store.labels()["label"], strict=True)) == {"a.png": "blue", "b.png": "red"}


def test_a_parquet_without_images_is_a_message(app, tmp_path):
    _new_project(app, tmp_path, "nope", "hf_parquet")
    out = io.BytesIO()
    pd.DataFrame({"name": ["a"], "label": ["x"]}).to_parquet(out)
    app.file_uploader(key="new" + S.DATA_HF_PARQUET).upload("t.parquet", out.getvalue(), "application/octet-stream").run()
    assert app.exception == []
    assert any("no image column" in e for e in errors(app))
