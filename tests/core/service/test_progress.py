"""Team progress per labeller: labels today / total, median seconds, skips, disagreement share in overlap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from superintendent_core.service import PROGRESS_COLUMNS, labeller_progress, progress_table
from superintendent_core.store import ItemBatch, ProjectSettings
from superintendent_core.store.folder import FolderStore


def _table(rows):
    return pd.DataFrame(rows, columns=["item_id", "label", "labeller", "time", "seconds"]).assign(
        time=lambda f: pd.to_datetime(f["time"], utc=True)
    )


def test_counts_speed_skips_and_disagreements_per_labeller():
    labels = _table([
        (0, "cat", "ann", "2026-12-01 23:59", 2.0),   # yesterday
        (0, "dog", "bob", "2026-12-02 08:00", 4.0),   # item 0: ann and bob disagree
        (1, "cat", "ann", "2026-12-02 09:00", 4.0),
        (1, "cat", "bob", "2026-12-02 09:30", np.nan),  # item 1: they agree; bob's time unknown
        (2, "cat", "ann", "2026-12-02 10:00", 9.0),   # item 2: ann alone
    ])
    table = progress_table(labels, {"bob": 3, "cy": 1}, now=pd.Timestamp("2026-12-02 12:00", tz="UTC"))
    assert list(table.columns) == list(PROGRESS_COLUMNS)
    rows = table.set_index("labeller")
    assert list(rows.index) == ["ann", "bob", "cy"]  # cy only skipped: listed too
    assert rows.loc["ann", "labels_today"] == 2 and rows.loc["ann", "labels_total"] == 3
    assert rows.loc["bob", "labels_today"] == 2 and rows.loc["bob", "labels_total"] == 2
    assert rows.loc["ann", "median_seconds"] == 4.0
    assert rows.loc["bob", "median_seconds"] == 4.0  # the unknown time is left out
    assert rows.loc[["ann", "bob", "cy"], "skips"].tolist() == [0, 3, 1]
    assert rows.loc["ann", "overlap_items"] == 2 and rows.loc["ann", "disagreement_share"] == 0.5
    assert rows.loc["bob", "disagreement_share"] == 0.5
    assert rows.loc["cy", "labels_total"] == 0 and np.isnan(rows.loc["cy", "median_seconds"])
    assert np.isnan(rows.loc["cy", "disagreement_share"])  # no overlap: not known, not 0


def test_today_is_the_utc_day_of_now_and_a_naive_now_is_utc():
    labels = _table([(0, "cat", "ann", "2026-12-02 00:30", 1.0)])
    aware = progress_table(labels, now=pd.Timestamp("2026-12-02 01:00", tz="Europe/Paris"))  # 00:00 UTC
    assert aware["labels_today"].tolist() == [1]
    assert progress_table(labels, now=pd.Timestamp("2026-12-03 00:10"))["labels_today"].tolist() == [0]


def test_an_empty_project_gives_an_empty_table_with_the_columns():
    table = progress_table(_table([]), {})
    assert list(table.columns) == list(PROGRESS_COLUMNS) and len(table) == 0


def test_a_table_without_the_columns_is_refused_by_name():
    with pytest.raises(ValueError, match="'seconds'"):
        progress_table(pd.DataFrame({"item_id": [], "label": [], "labeller": [], "time": []}))


def test_labeller_progress_reads_the_store_fresh_after_each_label(tmp_path):
    settings = ProjectSettings(classes=("cat", "dog"), overlap=2)
    with FolderStore(tmp_path / "p", settings=settings) as store:
        store.add_items(ItemBatch(names=("a", "b", "c"), kind="image", features=np.zeros((3, 4), np.uint8),
                                  image_shape=(2, 2), pixel_max=1.0))
        assert len(labeller_progress(store)) == 0
        store.submit(0, "cat", "ann", seconds=3.0)
        assert labeller_progress(store).set_index("labeller").loc["ann", "labels_total"] == 1
        store.submit(0, "dog", "bob", seconds=5.0)
        store.skip(1, "bob")
        rows = labeller_progress(store).set_index("labeller")
        assert rows.loc["ann", "labels_today"] == 1
        assert rows.loc["bob", "skips"] == 1
        assert rows.loc["bob", "median_seconds"] == 5.0
        assert rows.loc["ann", "disagreement_share"] == 1.0
