"""CSV / parquet importers: encodings, columns, labels, and bad input (fixtures built here)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from superintendent_core.data import read_table, table_batch, table_import
from superintendent_core.store import InvalidInput, ProjectSettings
from superintendent_core.store.folder import FolderStore

CSV = "id,review,stars,len,label\nr1,Très bon film,5,13,pos\nr2,Mauvais,1,7,\nr3,Ça va,3,5,neg\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_unicode_encodings_are_detected(encoding):
    df, notes = read_table(CSV.encode(encoding))
    assert df["review"].tolist() == ["Très bon film", "Mauvais", "Ça va"]
    assert notes == []


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_legacy_encodings_are_read_with_a_note(encoding):
    df, notes = read_table(CSV.encode(encoding))
    assert df["review"].tolist()[0] == "Très bon film"
    assert "not UTF-8" in notes[0]


def test_forced_wrong_encoding_gives_clear_message():
    with pytest.raises(InvalidInput, match="cannot be read as utf-8"):
        read_table(CSV.encode("latin-1"), encoding="utf-8")


def test_semicolon_csv_and_parquet(tmp_path):
    df, _ = read_table(CSV.replace(",", ";").encode())
    assert list(df.columns) == ["id", "review", "stars", "len", "label"]
    pd.read_csv(io.StringIO(CSV)).to_parquet(tmp_path / "t.parquet")
    df, _ = read_table(tmp_path / "t.parquet")
    assert len(df) == 3


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (b"id,review\n", "no rows"),
    (b"\n\n", "no columns"),
    (b"PAR1garbage", "not a readable parquet"),
    (b"\x00\x01\x02\x03binary" * 10, "not a text CSV"),
])
def test_bad_files(data, message):
    with pytest.raises(InvalidInput, match=message):
        read_table(data)


def test_text_batch_with_existing_labels_and_names(tmp_path):
    result = table_import(CSV.encode(), kind="text", display_columns="review", label_column="label",
                          name_column="id")
    b = result.batch
    assert b.names == ("r1", "r2", "r3") and b.features[1] == "Mauvais"
    assert b.labels == ["pos", None, "neg"]
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("pos", "neg"))) as store:
        store.add_items(b)
        assert store.progress().labelled == 2
        assert store.next_item("ann") == 1
        assert store.item(0).payload == "Très bon film"


def test_table_batch_default_numeric_features():
    df, _ = read_table(CSV.encode())
    b = table_batch(df, display_columns=["review", "stars"], label_column="label")
    assert list(b.features.columns) == ["stars", "len"]
    assert b.payloads[0] == {"review": "Très bon film", "stars": 5}


def test_labels_from_the_file_define_classes_of_a_new_project(tmp_path):
    b = table_import(CSV.encode(), kind="text", display_columns="review", label_column="label").batch
    with FolderStore(tmp_path / "p") as store:
        store.add_items(b)
        assert store.settings.classes == ("neg", "pos")


@pytest.mark.parametrize("kwargs,message", [
    ({"display_columns": "text"}, "display column 'text' is not in the file"),
    ({"display_columns": "review", "label_column": "lab"}, "label column 'lab'"),
    ({"display_columns": "review", "feature_columns": ["nope"], "kind": "table"}, "feature column 'nope'"),
    ({"display_columns": ["review", "stars"], "kind": "text"}, "one column"),
    ({"display_columns": "review", "kind": "image"}, "kind must be"),
])
def test_missing_columns(kwargs, message):
    df, _ = read_table(CSV.encode())
    with pytest.raises(InvalidInput, match=message):
        table_batch(df, **{"kind": "text", **kwargs})


def test_duplicate_row_names_refused_by_store(tmp_path):
    df = pd.DataFrame({"id": ["a", "a"], "t": ["x", "y"]})
    b = table_batch(df, kind="text", display_columns="t", name_column="id")
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("c",))) as store:
        with pytest.raises(InvalidInput, match="Duplicate item names: 'a'"):
            store.add_items(b)
        assert len(store) == 0


def test_labels_outside_classes_refused_nothing_added(tmp_path):
    b = table_import(CSV.encode(), kind="text", display_columns="review", label_column="label").batch
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("pos", "meh"))) as store:
        with pytest.raises(InvalidInput, match=r"not among the project's classes.*'neg'"):
            store.add_items(b)
        assert len(store) == 0


def test_nan_inf_features_refused(tmp_path):
    df = pd.DataFrame({"t": ["a", "b", "c"], "x": [1.0, np.nan, 2.0], "y": [0.0, 1.0, np.inf]})
    b = table_batch(df, display_columns="t", feature_columns=["x", "y"])
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("c",))) as store:
        with pytest.raises(InvalidInput, match="2 row\\(s\\) have missing, NaN or infinite"):
            store.add_items(b)
    tb = table_batch(df, kind="text", display_columns="t", feature_columns=["x"])
    with FolderStore(tmp_path / "q", settings=ProjectSettings(classes=("c",))) as store:
        with pytest.raises(InvalidInput, match="NaN or infinite"):
            store.add_items(tb)


def test_empty_text_cells_refused():
    df = pd.DataFrame({"t": ["a", None]})
    with pytest.raises(InvalidInput, match="no text"):
        table_batch(df, kind="text", display_columns="t")


def test_numeric_label_column_becomes_text(tmp_path):
    df = pd.DataFrame({"t": ["a", "b", "c"], "label": [1.0, np.nan, 0.0]})
    b = table_batch(df, kind="text", display_columns="t", label_column="label")
    assert b.labels == ["1", None, "0"]
