"""CSV exports never carry a spreadsheet formula (OWASP "CSV injection"); parquet keeps raw values."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from superintendent_core.data import labels_csv, labels_parquet
from superintendent_core.data.export import neutralise_csv_cell, restore_csv_cell
from superintendent_core.data.label_import import import_label_table
from superintendent_core.store import ItemBatch, ProjectSettings
from superintendent_core.store.folder import FolderStore

HOSTILE = ['=HYPERLINK("http://x","y")', "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"]
CLASSES = HOSTILE[:4]  # a class name cannot start with a space, tab or CR (ProjectSettings refuses it)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _store(path, classes, names, multi=False):
    store = FolderStore(path, settings=ProjectSettings(classes=tuple(classes), multi_label=multi, kind="text"))
    store.add_items(ItemBatch(names=tuple(names), kind="text", features=np.eye(len(names), dtype=np.float32),
                              payloads=[f"text {i}" for i in range(len(names))]))
    return store


def _raw_cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


@pytest.fixture
def hostile(tmp_path):
    store = _store(tmp_path / "p", CLASSES, HOSTILE)
    for i in range(len(HOSTILE)):
        store.submit(i, CLASSES[i % len(CLASSES)], CLASSES[(i + 1) % len(CLASSES)], seconds=1.5)
    yield store
    store.close()


def test_no_text_cell_of_the_csv_starts_a_formula(hostile):
    rows = _raw_cells(labels_csv(hostile))
    header, body = rows[0], rows[1:]
    assert header == ["item_id", "name", "label", "labeller", "time", "seconds", "bulk"]
    assert len(body) == len(HOSTILE)
    for row in body:
        cells = dict(zip(header, row, strict=True))
        for column in ("name", "label", "labeller"):
            assert not cells[column].startswith(FORMULA_START), (column, cells[column])
            assert cells[column].startswith("'")
        assert cells["seconds"] == "1.5" and cells["item_id"].isdigit()  # numbers stay numbers
    assert {r[1] for r in body} == {"'" + h for h in HOSTILE}
    assert {r[2] for r in body} == {"'" + c for c in CLASSES}


def test_parquet_keeps_raw_values(hostile):
    df = pd.read_parquet(io.BytesIO(labels_parquet(hostile)))
    assert set(df["label"]) == set(CLASSES)
    assert sorted(df["name"]) == sorted(HOSTILE)


def test_csv_reimport_gives_the_same_labels(hostile, tmp_path):
    exported = labels_csv(hostile)
    target = _store(tmp_path / "q", CLASSES, HOSTILE)
    try:
        table = pd.read_csv(io.BytesIO(exported), keep_default_na=False, dtype=str)
        assert import_label_table(target, table, labeller="me") == len(HOSTILE)
        got = target.labels().sort_values("item_id")[["name", "label", "labeller"]].values.tolist()
        want = hostile.labels().sort_values("item_id")[["name", "label", "labeller"]].values.tolist()
        assert got == want
    finally:
        target.close()


def test_normal_names_round_trip_unchanged(tmp_path):
    classes = ["cat", "dog", "it's", "a-b", "3"]
    store = _store(tmp_path / "p", classes, ["img 1.png", "'quoted'", "x-y", "1-2"], multi=True)
    try:
        store.submit(0, ["cat", "a-b"], "ann")
        store.submit(1, ["it's"], "o'neil")
        store.submit(2, ["3"], "bob")
        data = labels_csv(store)
        df = pd.read_csv(io.BytesIO(data), keep_default_na=False)
        assert df["label"].tolist() == ["cat|a-b", "it's", "3"]
        assert df["name"].tolist() == ["img 1.png", "'quoted'", "x-y"]
        assert df["labeller"].tolist() == ["ann", "o'neil", "bob"]
    finally:
        store.close()


@pytest.mark.parametrize("text", [*HOSTILE, "'=x", "''-1", "cat", "'cat", "", "a=b"])
def test_neutralise_is_undone_exactly(text):
    assert restore_csv_cell(neutralise_csv_cell(text)) == text
    assert not neutralise_csv_cell(text).startswith(FORMULA_START)


def test_numbers_are_not_quoted():
    assert neutralise_csv_cell(-3) == -3 and neutralise_csv_cell(-0.5) == -0.5
