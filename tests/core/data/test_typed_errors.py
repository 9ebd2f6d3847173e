"""Issue 14: public functions refuse bad input with the project's own errors and a sentence naming it."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from superintendent_core.data import (
    add_features,
    batch_from_python,
    export_project_zip,
    import_project_zip,
    suggest_columns,
    table_batch,
)
from superintendent_core.store import InvalidInput, ProjectSettings, StoreError, open_store


@pytest.fixture
def table_store(tmp_path):
    store = open_store(tmp_path / "p", settings=ProjectSettings(name="t", kind="table", classes=("a", "b")))
    yield store
    store.close()


def test_a_mixed_type_column_is_named_not_an_arrow_error(table_store):
    df = pd.DataFrame({"size": [1, "large", 2.5], "weight": [1.0, 2.0, 3.0]})
    with pytest.raises(InvalidInput, match=r"Column 'size' mixes numbers and text \(row 0 is 1, row 1 is 'large'\)"):
        add_features(table_store, df)
    assert len(table_store) == 0


def test_a_mixed_type_feature_column_in_a_table_is_named():
    df = pd.DataFrame({"text": ["x", "y"], "score": pd.Series([1, "n/a"], dtype=object)})
    with pytest.raises(InvalidInput, match="Column 'score' mixes numbers and text"):
        table_batch(df, kind="table", display_columns=["text"], feature_columns=["score"])


def test_duplicate_column_names_are_named():
    df = pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"])
    with pytest.raises(InvalidInput, match="'a' is used twice"):
        batch_from_python(df)


def test_import_project_zip_to_a_file_is_a_sentence(tmp_path, table_store):
    add_features(table_store, np.zeros((3, 2)))
    data = export_project_zip(table_store)
    a_file = tmp_path / "taken.txt"
    a_file.write_text("x")
    with pytest.raises(InvalidInput, match=r"taken\.txt is a file, not a folder"):
        import_project_zip(data, a_file)
    with pytest.raises(InvalidInput, match=r"taken\.txt is a file, not a folder"):
        import_project_zip(data, a_file / "inside")
    assert a_file.read_text() == "x"


def test_export_project_zip_to_a_folder_is_a_sentence(tmp_path, table_store):
    with pytest.raises(InvalidInput, match="is a folder; give the path of the .zip file"):
        export_project_zip(table_store, tmp_path)
    with pytest.raises(InvalidInput, match="does not exist"):
        export_project_zip(table_store, tmp_path / "no" / "such" / "p.zip")


@pytest.mark.parametrize("url", ["mysql://bob:secret@db.example.org/labels", "file:///tmp/p", "https://x.org/p",
                                 "mongodb+srv://h/d"])
def test_open_store_refuses_other_schemes(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="not supported: a project is a folder path, a sqlite:///… URL") as info:
        open_store(url)
    assert url.split(":")[0] in str(info.value) and "secret" not in str(info.value)
    assert os.listdir(tmp_path) == []  # no folder named like the URL


def test_open_store_still_takes_folders_and_sqlite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = ProjectSettings(name="t", kind="table", classes=("a", "b"))
    open_store("./odd:name", settings=settings).close()
    open_store(tmp_path / "plain", settings=settings).close()
    open_store(f"sqlite:///{tmp_path / 'p.db'}", settings=settings).close()
    assert sorted(os.listdir(tmp_path)) == ["odd:name", "p.db", "plain"]


def test_suggest_columns_shows_the_longest_text_and_proposes_the_id():
    df = pd.DataFrame({
        "id": [10, 11, 12],
        "title": ["A", "B", "C"],
        "review": ["a long review text", "another long review", "a third fairly long one"],
        "stars": [1, 5, 3],
    })
    s = suggest_columns(df)
    assert (s.kind, s.display, s.name) == ("text", ["review"], "id")
    assert s.name_candidates[0] == "id" and "stars" in s.name_candidates


def test_suggest_columns_numbers_only_is_a_table():
    df = pd.DataFrame({"x": [0.1, 0.2, 0.3], "y": [1, 2, 3]})
    s = suggest_columns(df)
    assert s.kind == "table" and s.display == ["x", "y"] and s.name is None


def test_suggest_columns_numbers_written_as_text_are_not_text():
    df = pd.DataFrame({"code": ["001", "002", "003"], "note": ["ok then", "fine", "bad one here"]})
    s = suggest_columns(df)
    assert s.display == ["note"]


def test_a_chosen_name_column_names_the_items(table_store, tmp_path):
    df = pd.DataFrame({"sku": ["A-1", "B-2"], "w": [1.0, 2.0]})
    batch = table_batch(df, kind="table", display_columns=["w"], name_column="sku")
    ids = table_store.add_items(batch)
    table_store.relabel(int(ids[1]), "b", "ann")
    assert table_store.item(int(ids[0])).name == "A-1"
    assert table_store.labels()["name"].tolist() == ["B-2"]


@pytest.mark.parametrize("call", [
    lambda: __import__("superintendent_core.data", fromlist=["x"]).read_table(42),
    lambda: __import__("superintendent_core.data", fromlist=["x"]).images_from_zip(42),
    lambda: import_project_zip(42, "unused"),
    lambda: table_batch([1, 2], display_columns="a"),
    lambda: batch_from_python({"a": 1}),
], ids=["read_table", "images_from_zip", "import_project_zip", "table_batch", "batch_from_python"])
def test_a_wrong_kind_of_argument_is_a_sentence_naming_it(call):
    with pytest.raises(InvalidInput, match=r"must be .* not (int|list|dict)\."):
        call()
