"""Finish with the model: every item, its human label or the model's prediction, CSV and parquet."""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sql_helpers import PostgresFactory, SQLiteFactory, postgres_available, require
from store_contract import CLASSES, image_batch

from superintendent_core.data import digits_batch, digits_settings
from superintendent_core.data.export import neutralise_csv_cell, restore_csv_cell
from superintendent_core.data.finish import (
    COLUMNS,
    finish_bytes,
    finish_frames,
    plan_finish,
    write_finish,
)
from superintendent_core.learning.training import run_retrain
from superintendent_core.store import InvalidInput, ProjectSettings
from superintendent_core.store.folder import FolderStore
from superintendent_core.store.suggestions import Suggestions


class _Folders:
    def __init__(self, root):
        self.root, self.n = root, 0

    def new(self, settings):
        self.n += 1
        return FolderStore(self.root / f"p{self.n}", settings=settings)

    def reopen(self, store):
        store.close()
        return FolderStore(store.path, create=False)

    def cleanup(self):
        pass


@pytest.fixture(params=["folder", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request, tmp_path):
    if request.param == "folder":
        factory = _Folders(tmp_path)
    elif request.param == "sqlite":
        factory = SQLiteFactory(tmp_path)
    else:
        require(postgres_available(), "PostgreSQL")
        factory = PostgresFactory()
    made = []

    def new(n=6, **settings_kw):
        store = factory.new(ProjectSettings(classes=CLASSES, **settings_kw))
        if n:
            store.add_items(image_batch(n))
        made.append(store)
        return store

    new.reopen = factory.reopen
    yield new
    for store in made:
        try:
            store.close()
        except Exception:
            pass
    factory.cleanup()


def _csv(data: bytes) -> pd.DataFrame:
    """The CSV as a spreadsheet user's pandas reads it (empty cells as "")."""
    return pd.read_csv(io.BytesIO(data), keep_default_na=False, dtype={"name": str, "label": str})


def _parquet(data: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data))


def _retrain_meta(n_labels: int, **extra) -> dict:
    return {"n_labels": n_labels, "seconds": 0.0, "by": "test", **extra}


# --------------------------------------------------------------------------- single-label


def test_single_label_every_item_once_human_first_then_model(backend):
    store = backend(6)
    store.submit(0, "cat", "ann")
    store.submit(1, "dog", "ann")
    store.submit(1, "owl", "bob")  # a second labeller: the most recent label in force counts
    store.save_suggestions([2, 3, 4, 5], ["dog", "owl", "cat", "cat"], [0.9, 0.6, 0.75, 0.5], _retrain_meta(2))
    for fmt, read in (("csv", _csv), ("parquet", _parquet)):
        data, summary = finish_bytes(store, fmt=fmt)
        df = read(data)
        assert list(df.columns) == list(COLUMNS)
        assert df["item_id"].tolist() == [0, 1, 2, 3, 4, 5]
        assert df["name"].tolist() == [f"img{i}.png" for i in range(6)]
        assert df["label"].tolist() == ["cat", "owl", "dog", "owl", "cat", "cat"]
        assert df["source"].tolist() == ["human", "human", "model", "model", "model", "model"]
        probability = pd.to_numeric(df["probability"].replace("", np.nan))
        assert probability.isna().tolist() == [True, True, False, False, False, False]
        assert probability.iloc[2:].tolist() == [0.9, 0.6, 0.75, 0.5]
        assert summary.counts == {"human": 2, "model": 4, "none": 0}
        assert summary.stale is None


def test_a_label_made_after_the_retrain_wins_over_its_prediction_and_is_counted_stale(backend):
    store = backend(5)
    store.submit(0, "cat", "ann")
    store.save_suggestions([1, 2, 3, 4], ["dog"] * 4, [0.7] * 4, _retrain_meta(1))
    time.sleep(0.01)
    store.submit(3, "owl", "ann")
    plan = plan_finish(store)
    df = pd.concat(finish_frames(plan))
    assert df.set_index("item_id").loc[3, ["label", "source"]].tolist() == ["owl", "human"]
    assert np.isnan(df.set_index("item_id").loc[3, "probability"])
    assert plan.summary.counts == {"human": 2, "model": 3, "none": 0}
    assert plan.summary.n_changed == 1
    assert "1 item was labelled or relabelled since the retrain" in plan.summary.stale
    assert "the predictions of the 3 model-labelled items come from a model that had not seen" in plan.summary.stale


def test_an_undo_after_the_retrain_leaves_an_item_with_neither_and_says_so(backend):
    store = backend(4)
    store.submit(0, "cat", "ann")
    store.submit(1, "dog", "ann")
    store.save_suggestions([2, 3], ["dog", "owl"], [0.6, 0.8], _retrain_meta(2))
    assert store.undo("ann") == 1
    summary = plan_finish(store).summary
    assert summary.counts == {"human": 1, "model": 2, "none": 1}
    assert "at least 1 label it was trained on was undone" in summary.stale
    df = _parquet(finish_bytes(store, fmt="parquet")[0])
    row = df.set_index("item_id").loc[1]
    assert row["source"] == "none" and pd.isna(row["label"]) and np.isnan(row["probability"])


def test_items_added_after_the_retrain_have_no_prediction(backend):
    store = backend(3)
    store.submit(0, "cat", "ann")
    store.save_suggestions([1, 2], ["dog", "owl"], [0.6, 0.8], _retrain_meta(1))
    store.add_items(image_batch(2, start=3))
    data, summary = finish_bytes(store, fmt="csv")
    df = _csv(data)
    assert df["source"].tolist() == ["human", "model", "model", "none", "none"]
    assert df["label"].tolist()[3:] == ["", ""] and df["probability"].tolist()[3:] == ["", ""]
    assert summary.counts == {"human": 1, "model": 2, "none": 2}
    assert summary.stale is None  # no label changed: new items are not a stale model


def test_no_model_yet_every_unlabelled_item_has_neither(backend):
    store = backend(3)
    store.submit(2, "owl", "ann")
    data, summary = finish_bytes(store, fmt="parquet")
    df = _parquet(data)
    assert df["source"].tolist() == ["none", "none", "human"]
    assert summary.counts == {"human": 1, "model": 0, "none": 2}
    assert summary.accuracy.startswith("No model yet")
    assert summary.stale is None


def test_an_empty_project_gives_the_header_and_no_rows(backend):
    store = backend(0)
    csv, summary = finish_bytes(store, fmt="csv")
    assert csv.decode().splitlines() == [",".join(f'"{c}"' for c in COLUMNS)]
    table = pq.read_table(io.BytesIO(finish_bytes(store, fmt="parquet")[0]))
    assert table.num_rows == 0 and table.column_names == list(COLUMNS)
    assert summary.counts == {"human": 0, "model": 0, "none": 0}


# --------------------------------------------------------------------------- multi-label


def test_multi_label_joined_as_the_project_joins_them(backend):
    store = backend(5, multi_label=True)
    store.submit(0, ["cat", "owl"], "ann")
    store.submit(1, [], "ann")  # "none of these": a human label, the empty string
    store.save_suggestions([2, 3, 4], ["dog|owl", "", "cat"], [0.4, 0.9, 0.55], _retrain_meta(2))
    df = _parquet(finish_bytes(store, fmt="parquet")[0])
    assert df["label"].tolist() == ["cat|owl", "", "dog|owl", "", "cat"]
    assert df["source"].tolist() == ["human", "human", "model", "model", "model"]
    assert df["probability"].tolist()[2:] == [0.4, 0.9, 0.55]
    raw = finish_bytes(store, fmt="csv")[0].decode()
    # a label of no class is a quoted empty text; a missing probability an empty cell
    assert raw.splitlines()[2] == '1,"img1.png","",,"human"'
    assert _csv(finish_bytes(store, fmt="csv")[0])["label"].tolist() == ["cat|owl", "", "dog|owl", "", "cat"]


# --------------------------------------------------------------------------- the model in process or saved


def test_the_snapshot_and_the_saved_suggestions_give_the_same_table_after_a_restart(tmp_path):
    settings = digits_settings()
    store = FolderStore(tmp_path / "digits", settings=settings)
    store.add_items(digits_batch(200))
    truth = store.true_labels(np.arange(200))
    for i in range(40):
        store.submit(i, truth[i], "ann")
    snapshot = run_retrain(store, random_state=0)
    from_snapshot, summary = finish_bytes(store, snapshot, fmt="parquet")
    store.close()
    with FolderStore(tmp_path / "digits", create=False) as reopened:  # a new process: no snapshot
        from_saved, saved_summary = finish_bytes(reopened, fmt="parquet")
    pd.testing.assert_frame_equal(_parquet(from_snapshot), _parquet(from_saved))
    assert summary == saved_summary
    df = _parquet(from_saved)
    assert summary.counts == {"human": 40, "model": 160, "none": 0}
    model = df[df["source"] == "model"]
    assert set(model["label"]) <= set(settings.classes)
    assert ((model["probability"] > 0) & (model["probability"] <= 1)).all()
    assert (model["label"] == truth[model["item_id"]]).mean() > 0.5  # the model's predictions, not noise


def test_a_model_object_of_another_kind_is_refused(backend):
    store = backend(2)
    with pytest.raises(InvalidInput, match="Not a model's predictions"):
        plan_finish(store, model=object())


def test_unsorted_suggestions_from_a_caller_are_looked_up_by_id(backend):
    store = backend(4)
    saved = Suggestions(version=1, meta={"time": time.time()}, ids=np.array([3, 1, 2, 0]),
                        labels=np.array(["owl", "dog", "cat", "dog"], dtype=object),
                        probabilities=np.array([0.3, 0.4, 0.5, 0.6]))
    df = pd.concat(finish_frames(plan_finish(store, saved)))
    assert df["label"].tolist() == ["dog", "dog", "cat", "owl"]
    assert df["probability"].tolist() == [0.6, 0.4, 0.5, 0.3]


# --------------------------------------------------------------------------- the accuracy sentence


def _with_estimate(backend, **estimate):
    store = backend(4)
    store.submit(0, "cat", "ann")
    store.save_suggestions([1, 2, 3], ["dog"] * 3, [0.7] * 3, _retrain_meta(1))
    store.record_retrain(_retrain_meta(1, **estimate))
    return plan_finish(store).summary


def test_an_estimate_for_the_unlabelled_items_is_given_with_its_interval(backend):
    summary = _with_estimate(backend, estimate=0.912, estimate_low=0.87, estimate_high=0.95,
                             estimate_target="unlabelled", estimate_n=64, estimate_note="cross-fitted")
    assert summary.accuracy == ("Estimated accuracy of the 3 model-labelled items: 91 % "
                                "(90 % interval 87–95 %), from 64 audited labels.")
    assert (summary.estimate, summary.estimate_low, summary.estimate_high) == (0.912, 0.87, 0.95)


def test_an_estimate_for_new_items_is_not_passed_off_as_the_model_labelled_part(backend):
    summary = _with_estimate(backend, estimate=0.93, estimate_low=0.89, estimate_high=0.96,
                             estimate_target="new", estimate_n=50, estimate_note="")
    assert summary.accuracy.startswith("No estimate for the model-labelled items themselves")
    assert "is for new items like the pool" in summary.accuracy
    assert summary.estimate is None and summary.estimate_target == "new"


def test_no_number_when_the_estimate_could_not_be_made(backend):
    summary = _with_estimate(backend, estimate=None, estimate_low=None, estimate_high=None,
                             estimate_target="unlabelled", estimate_n=0,
                             estimate_note="not enough audited labels yet (3 of the 20 needed)")
    assert summary.accuracy == "No estimate yet: not enough audited labels yet (3 of the 20 needed)."
    assert summary.estimate is None


# (Text such as "0.9" never reaches here: store.history() reads the estimate columns as numbers.)
@pytest.mark.parametrize("bad", [1.7, -0.1, float("inf")])
def test_a_recorded_estimate_that_is_not_a_proportion_is_not_shown(backend, bad):
    summary = _with_estimate(backend, estimate=bad, estimate_low=0.1, estimate_high=0.9,
                             estimate_target="unlabelled", estimate_n=40, estimate_note="")
    assert summary.accuracy.startswith("No estimate yet: the recorded estimate (")
    assert "%" not in summary.accuracy and summary.estimate is None


def test_an_interval_that_does_not_hold_the_estimate_is_left_out(backend):
    summary = _with_estimate(backend, estimate=0.9, estimate_low=0.95, estimate_high=0.99,
                             estimate_target="unlabelled", estimate_n=40, estimate_note="")
    assert summary.accuracy == "Estimated accuracy of the 3 model-labelled items: 90 %, from 40 audited labels."
    assert summary.estimate_low is None and summary.estimate_high is None


def test_an_old_history_without_estimate_keys_says_there_is_none(backend):
    summary = _with_estimate(backend)
    assert summary.accuracy.startswith("No estimate yet: the last retrain recorded no estimate")
    assert summary.estimate is None and summary.estimate_target is None


def test_the_models_own_estimate_wins_over_a_later_history_row(backend):
    store = backend(3)
    store.submit(0, "cat", "ann")
    store.save_suggestions([1, 2], ["dog", "dog"], [0.7, 0.8], _retrain_meta(
        1, estimate=0.8, estimate_low=0.7, estimate_high=0.9, estimate_target="unlabelled", estimate_n=30))
    store.record_retrain(_retrain_meta(1))  # e.g. a retrain that failed to save suggestions
    assert plan_finish(store).summary.estimate == 0.8


def test_an_estimate_recorded_before_the_models_retrain_is_not_taken_for_its_own(backend):
    store = backend(3)
    store.submit(0, "cat", "ann")
    store.record_retrain(_retrain_meta(1, estimate=0.8, estimate_low=0.7, estimate_high=0.9,
                                       estimate_target="unlabelled", estimate_n=30))
    time.sleep(0.01)
    store.save_suggestions([1, 2], ["dog", "dog"], [0.7, 0.8], _retrain_meta(1))  # its history row never came
    summary = plan_finish(store).summary
    assert summary.estimate is None and summary.accuracy.startswith("No estimate yet")


def test_when_every_item_is_labelled_nothing_is_model_labelled(backend):
    store = backend(2)
    store.save_suggestions([0, 1], ["dog", "dog"], [0.7, 0.8], _retrain_meta(0))
    store.submit(0, "cat", "ann")
    store.submit(1, "cat", "ann")
    summary = plan_finish(store).summary
    assert summary.counts == {"human": 2, "model": 0, "none": 0}
    assert summary.accuracy.startswith("Nothing is labelled by the model")


# --------------------------------------------------------------------------- cells, chunks, bad input

HOSTILE = ("=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tTab", "\rCR", "'=quoted", "a,b", 'q"q',
           "line\nbreak", "plain")


def test_formula_cells_are_neutralised_in_the_csv_and_kept_raw_in_parquet(tmp_path):
    settings = ProjectSettings(classes=("=cmd", "-1", "ok"), kind="text", feature_kind="text")
    store = FolderStore(tmp_path / "p", settings=settings)
    from superintendent_core.store import ItemBatch

    store.add_items(ItemBatch(names=HOSTILE, kind="text", features=list(HOSTILE), payloads=list(HOSTILE)))
    store.submit(0, "=cmd", "ann")
    store.save_suggestions(list(range(1, len(HOSTILE))), ["-1"] * (len(HOSTILE) - 1), [0.5] * (len(HOSTILE) - 1),
                           _retrain_meta(1))
    df = _csv(finish_bytes(store, fmt="csv")[0])
    assert df["name"].tolist() == [neutralise_csv_cell(n) for n in HOSTILE]
    assert df["label"].tolist() == ["'=cmd"] + ["'-1"] * (len(HOSTILE) - 1)
    assert [restore_csv_cell(v) for v in df["name"]] == list(HOSTILE)  # the import's inverse gives them back
    raw = _parquet(finish_bytes(store, fmt="parquet")[0])
    assert raw["name"].tolist() == list(HOSTILE) and raw["label"].tolist()[0] == "=cmd"
    store.close()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet="'=+-@\t\r\nab ,\"", max_size=6)), max_size=20))
def test_the_column_rule_is_the_labels_exports_cell_rule(values):
    import pyarrow as pa

    from superintendent_core.data.finish import _neutralise

    assert _neutralise(pa.array(values, type=pa.string())).to_pylist() == [neutralise_csv_cell(v) for v in values]


def test_chunks_do_not_change_the_file(backend):
    store = backend(10)
    store.submit(4, "owl", "ann")
    store.save_suggestions([0, 1, 2, 3, 5, 6, 7], ["cat"] * 7, np.linspace(0.4, 1, 7), _retrain_meta(1))
    plan = plan_finish(store)
    for fmt in ("csv", "parquet"):
        outputs = []
        for chunk in (1, 3, 10, 1000):
            sink = io.BytesIO()
            write_finish(plan, sink, fmt, chunk=chunk)
            outputs.append(sink.getvalue())
        read = _csv if fmt == "csv" else _parquet
        for other in outputs[1:]:
            pd.testing.assert_frame_equal(read(outputs[0]), read(other))
    assert pd.read_parquet(io.BytesIO(outputs[0]))["source"].tolist() == (
        ["model"] * 4 + ["human"] + ["model"] * 3 + ["none"] * 2)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"fmt": "xlsx"}, "format must be one of csv, parquet"),
    ({"fmt": "csv", "chunk": 0}, "chunk must be a whole number"),
    ({"fmt": "csv", "chunk": 2.5}, "chunk must be a whole number"),
])
def test_bad_arguments_are_refused_in_words(backend, kwargs, message):
    store = backend(2)
    with pytest.raises(InvalidInput, match=message):
        finish_bytes(store, **kwargs)


def test_a_suggestions_time_that_is_missing_says_staleness_cannot_be_told(backend):
    store = backend(3)
    store.submit(0, "cat", "ann")
    saved = Suggestions(version=1, meta={}, ids=np.array([1, 2]), labels=np.array(["dog", "owl"], dtype=object),
                        probabilities=np.array([0.5, 0.6]))
    summary = plan_finish(store, saved).summary
    assert summary.n_changed is None
    assert "cannot be told" in summary.stale


def test_the_finish_sentence_writes_the_estimate_as_the_model_page_does(backend):
    """0.996 is not "100 %", and the interval is rounded outwards (it still holds its own ends)."""
    summary = _with_estimate(backend, estimate=0.996, estimate_low=0.987, estimate_high=0.9991,
                             estimate_target="unlabelled", estimate_n=40, estimate_note="")
    assert "99.6 %" in summary.accuracy and "(90 % interval 98–100 %)" in summary.accuracy
