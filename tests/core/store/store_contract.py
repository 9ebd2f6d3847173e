"""The contract every :class:`~superintendent_core.store.protocol.LabelStore` backend must pass.

Use it from a backend's test module::

    from store_contract import *  # noqa: F401,F403  (the tests below)

    @pytest.fixture
    def store_factory(tmp_path):
        return MyFactory(tmp_path)   # has .new(settings=None, *, clock=None) and .reopen(store)

``new`` makes a fresh, empty project (``clock``: a zero-argument callable used
for lease expiry; the backend must honour it); ``reopen`` closes a store and
opens the same project again (to check persistence).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from superintendent_core.store import (
    InvalidInput,
    ItemBatch,
    LabelStore,
    ProjectSettings,
    StoreError,
    UnknownItem,
)
from superintendent_core.store._rules import IDLE_LEASE_MIN, IDLE_LEASE_PERCENT, idle_lease_cap
from superintendent_core.store.audit import AuditDraws

__all__ = [name for name in dict(globals()) if name.startswith("test_")]  # filled at the end


class StoreFactory(Protocol):
    def new(self, settings: ProjectSettings | None = None, *, clock: Any = None) -> LabelStore: ...

    def reopen(self, store: LabelStore) -> LabelStore: ...


class FakeClock:
    """A clock the test moves by hand (no sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


CLASSES = ("cat", "dog", "owl")


def image_batch(n: int, *, start: int = 0, labels=None, true_labels=None, d: int = 16) -> ItemBatch:
    rng = np.random.default_rng(start)
    feats = rng.integers(0, 17, size=(n, d)).astype(np.uint8)
    side = int(np.sqrt(d))
    return ItemBatch(
        names=tuple(f"img{start + i}.png" for i in range(n)),
        kind="image",
        features=feats,
        image_shape=(side, side),
        pixel_max=16,
        labels=labels,
        true_labels=true_labels,
    )


def new_store(factory: StoreFactory, n: int = 10, *, clock=None, **settings_kw) -> LabelStore:
    store = factory.new(ProjectSettings(classes=CLASSES, **settings_kw), clock=clock)
    if n:
        store.add_items(image_batch(n))
    return store


# --------------------------------------------------------------------------- basics


def test_empty_store(store_factory):
    with store_factory.new(ProjectSettings(classes=CLASSES)) as store:
        assert len(store) == 0
        assert store.next_item("ann") is None
        p = store.progress()
        assert (p.labelled, p.total, p.fraction) == (0, 0, 0.0)
        assert p.per_class == dict.fromkeys(CLASSES, 0)
        labels = store.labels()
        assert list(labels.columns) == ["item_id", "name", "label", "labeller", "time", "seconds", "bulk"]
        assert len(labels) == 0
        ids, X, y = store.training_data()
        assert len(ids) == 0 and len(X) == 0 and y == []
        assert len(store.history()) == 0
        assert store.unlabelled_ids().tolist() == []
        assert isinstance(store, LabelStore)


def test_a_sound_project_reports_no_damage(store_factory):
    with store_factory.new(ProjectSettings(classes=CLASSES)) as store:
        assert store.damage_report() == []


def test_add_items_assigns_consecutive_ids_and_keeps_names(store_factory):
    with store_factory.new(ProjectSettings(classes=CLASSES)) as store:
        a = store.add_items(image_batch(5))
        b = store.add_items(image_batch(3, start=5))
        assert a.dtype == np.int64 and a.tolist() == [0, 1, 2, 3, 4]
        assert b.tolist() == [5, 6, 7]
        assert len(store) == 8
        assert store.names([7, 0]) == ["img7.png", "img0.png"]
        item = store.item(6)
        assert (item.id, item.name, item.kind, item.mime) == (6, "img6.png", "image", "image/png")
        assert item.payload[:8] == b"\x89PNG\r\n\x1a\n"
        X = store.features([1, 6])
        assert X.dtype == np.float32 and X.shape == (2, 16)
        np.testing.assert_array_equal(X[1], image_batch(3, start=5).features[1].astype(np.float32))
        assert store.revision().items == 8


def test_unknown_ids_are_refused(store_factory):
    with new_store(store_factory, 3) as store:
        for bad in (3, -1, 10**9):
            with pytest.raises(UnknownItem, match="no item"):
                store.item(bad)
            with pytest.raises(UnknownItem):
                store.submit(bad, "cat", "ann")
        with pytest.raises(UnknownItem):
            store.features([0, 5])
        with pytest.raises(InvalidInput):
            store.item("1")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- serving


def test_next_item_leases_one_item_per_labeller(store_factory):
    with new_store(store_factory, 4) as store:
        a = store.next_item("ann")
        assert store.next_item("ann") == a  # a rerun does not burn items
        b = store.next_item("bob")
        assert b != a
        store.submit(a, "cat", "ann")
        c = store.next_item("ann")
        assert c not in (a, b)


def test_every_item_served_once_then_none(store_factory):
    with new_store(store_factory, 7) as store:
        seen = []
        labellers = ["ann", "bob", "cid"]
        k = 0
        while (i := store.next_item(labellers[k % 3])) is not None:
            seen.append(i)
            store.submit(i, CLASSES[i % 3], labellers[k % 3])
            k += 1
        assert sorted(seen) == list(range(7))
        assert store.next_item("ann") is None
        assert store.progress().labelled == 7


def test_lease_blocks_others_until_it_expires(store_factory):
    clock = FakeClock()
    with new_store(store_factory, 2, clock=clock, lease_seconds=60) as store:
        assert store.next_item("ann") == 0
        assert store.next_item("bob") == 1
        assert store.next_item("cid") is None  # both leased
        clock.now += 59
        assert store.next_item("cid") is None
        clock.now += 2  # ann's and bob's leases expire
        assert store.next_item("cid") == 0
        assert store.next_item("ann") == 1  # ann's old lease is gone; she gets another item
        store.submit(0, "cat", "cid")
        assert store.progress().labelled == 1


# --------------------------------------------------------------------------- bounded leases (issue 13)


def test_one_identity_holds_one_item_however_often_it_asks(store_factory):
    with new_store(store_factory, 50) as store:
        got = {store.next_item("ann") for _ in range(30)}
        assert len(got) == 1
        assert store.progress().leased == 1


def test_invented_names_hold_at_most_the_idle_share_and_real_labellers_still_get_items(store_factory):
    n = 1797
    with new_store(store_factory, n) as store:
        first = store.next_item("ann")
        store.submit(first, "cat", "ann")  # ann has labelled: not idle any more
        store.submit(store.next_item("bob"), "dog", "bob")
        cap = idle_lease_cap(n - 2)
        assert cap == max(IDLE_LEASE_MIN, -(-IDLE_LEASE_PERCENT * (n - 2) // 100)) == 90
        shown = [store.next_item(f"script-{k}") for k in range(2000)]
        assert all(i is not None for i in shown)  # a newcomer is always shown an item...
        assert store.progress().leased == cap  # ...but invented names reserve at most the cap
        mine = store.next_item("ann")
        assert mine is not None and store.next_item("ann") == mine  # reserved for ann
        assert mine == shown[-1]  # the best free item: shown to the script, not held by it
        theirs = store.next_item("bob")
        assert theirs not in (None, mine)
        assert store.progress().leased == cap + 2
        assert store.next_item("newcomer") not in (None, mine, theirs)
        store.submit(mine, "owl", "ann")
        assert store.progress().labelled == 3


def test_idle_leases_expire_and_the_items_come_back(store_factory):
    clock = FakeClock()
    with new_store(store_factory, 100, clock=clock, lease_seconds=60) as store:
        cap = idle_lease_cap(100)
        held = [store.next_item(f"script-{k}") for k in range(cap + 10)]
        assert store.progress().leased == cap
        assert held[:cap] == list(range(cap))
        clock.now += 61  # the names labelled nothing: their items go back
        assert store.progress().leased == 0
        assert store.next_item("late") == 0
        assert store.progress().leased == 1


def test_submit_releases_and_records(store_factory):
    with new_store(store_factory, 3) as store:
        i = store.next_item("ann")
        store.submit(i, "dog", "ann", seconds=2.5)
        df = store.labels()
        assert len(df) == 1
        row = df.iloc[0]
        assert (row.item_id, row["name"], row.label, row.labeller, row.seconds) == (i, f"img{i}.png", "dog", "ann", 2.5)
        assert str(df["time"].dtype) == "datetime64[ns, UTC]"
        assert df["item_id"].dtype == np.int64
        assert i not in store.unlabelled_ids()
        assert store.progress().per_labeller == {"ann": 1}


def test_invalid_labels_are_refused_and_nothing_recorded(store_factory):
    with new_store(store_factory, 3) as store:
        for bad in ("fish", ["cat", "dog"], 3, None, ""):
            with pytest.raises(InvalidInput):
                store.submit(0, bad, "ann")
        for who in ("", None, "  "):
            with pytest.raises(InvalidInput):
                store.submit(0, "cat", who)
        with pytest.raises(InvalidInput):
            store.submit(0, "cat", "ann", seconds=-1)
        assert len(store.labels()) == 0
        assert store.revision().events == 0


def test_skip_serves_others_first_and_skipper_last(store_factory):
    with new_store(store_factory, 3) as store:
        assert store.next_item("ann") == 0
        store.skip(0, "ann")
        assert store.next_item("ann") == 1  # not the skipped one
        assert store.next_item("bob") == 0  # others get it first, at its rank
        store.skip(0, "bob")
        store.submit(1, "cat", "ann")
        assert store.next_item("ann") == 2
        store.submit(2, "cat", "ann")
        assert store.next_item("ann") == 0  # nothing else left: the skipped item comes back
        store.submit(0, "owl", "ann")
        assert store.next_item("ann") is None
        assert store.next_item("bob") is None


def test_undo_removes_last_label_and_reserves_item(store_factory):
    with new_store(store_factory, 5) as store:
        assert store.undo("ann") is None
        store.submit(store.next_item("ann"), "cat", "ann")
        store.submit(store.next_item("ann"), "dog", "ann")
        store.submit(store.next_item("bob"), "owl", "bob")
        assert store.next_item("ann") == 3
        assert store.undo("ann") == 1
        assert store.next_item("ann") == 1  # served again, next
        assert store.next_item("cid") == 3  # ann's lease on 3 went back to the pool; 1 is hers
        assert store.labels()["item_id"].tolist() == [0, 2]
        assert store.undo("ann") == 0
        assert store.undo("ann") is None
        assert store.labels()["labeller"].tolist() == ["bob"]
        assert store.progress().labelled == 1


def test_relabel_replaces_labellers_label(store_factory):
    with new_store(store_factory, 3) as store:
        store.submit(0, "cat", "ann")
        store.relabel(0, "dog", "ann")
        df = store.labels()
        assert df[["item_id", "label", "labeller"]].values.tolist() == [[0, "dog", "ann"]]
        store.submit(0, "owl", "ann")  # submitting again also replaces
        assert store.labels()["label"].tolist() == ["owl"]
        store.relabel(1, "cat", "admin")  # relabel of an unlabelled item adds a label
        assert store.progress().labelled == 2


def test_second_labeller_kept_beside_first_latest_trains(store_factory):
    with new_store(store_factory, 3) as store:
        store.submit(0, "cat", "ann")
        store.submit(0, "dog", "bob")
        df = store.labels()
        assert df[["label", "labeller"]].values.tolist() == [["cat", "ann"], ["dog", "bob"]]
        ids, X, y = store.training_data()
        assert ids.tolist() == [0] and y == ["dog"]  # the most recent label in force
        assert store.progress().labelled == 1
        assert store.progress().per_class == {"cat": 0, "dog": 1, "owl": 0}
        assert store.progress().per_labeller == {"ann": 1, "bob": 1}
        store.undo("bob")
        assert store.training_data()[2] == ["cat"]


def test_set_order_then_items_added_after(store_factory):
    with new_store(store_factory, 6) as store:
        store.submit(4, "cat", "ann")
        store.set_order([5, 3, 4])
        served = []
        while (i := store.next_item("ann")) is not None:
            served.append(i)
            if len(served) == 2:
                store.add_items(image_batch(2, start=6))
            store.submit(i, "cat", "ann")
        assert served == [5, 3, 0, 1, 2, 6, 7]
        assert store.revision().order == 1


def test_set_order_refuses_bad_orders(store_factory):
    with new_store(store_factory, 4) as store:
        with pytest.raises(InvalidInput, match="twice"):
            store.set_order([1, 1])
        with pytest.raises(UnknownItem):
            store.set_order([0, 9])
        with pytest.raises(InvalidInput):
            store.set_order([[0, 1]])
        store.set_order([])  # empty order: id order
        assert store.next_item("ann") == 0


def test_skip_counts_per_labeller_survive_labels_undo_and_reopening(store_factory):
    store = new_store(store_factory, 4)
    assert store.skip_counts() == {}
    store.skip(0, "bob")
    store.skip(1, "ann")
    store.skip(0, "ann")
    store.submit(0, "cat", "ann")  # a label after a skip does not erase the skip
    store.undo("ann")
    assert store.skip_counts() == {"ann": 2, "bob": 1}
    assert list(store.skip_counts()) == ["ann", "bob"]  # sorted by name
    store = store_factory.reopen(store)
    try:
        assert store.skip_counts() == {"ann": 2, "bob": 1}
        store.skip(2, "bob")
        assert store.skip_counts() == {"ann": 2, "bob": 2}
    finally:
        store.close()


def test_set_order_keeps_leases_and_skips(store_factory):
    with new_store(store_factory, 4) as store:
        assert store.next_item("ann") == 0
        store.set_order([0, 1, 2, 3])
        assert store.next_item("bob") == 1  # 0 is still ann's
        assert store.next_item("ann") == 0


def test_progress_counts(store_factory):
    with new_store(store_factory, 5) as store:
        store.submit(0, "cat", "ann")
        store.submit(1, "cat", "bob")
        store.submit(2, "owl", "bob")
        p = store.progress()
        assert (p.labelled, p.total) == (3, 5)
        assert p.per_class == {"cat": 2, "dog": 0, "owl": 1}
        assert p.per_labeller == {"ann": 1, "bob": 2}
        assert p.fraction == pytest.approx(0.6)


def test_training_data_matches_features(store_factory):
    with new_store(store_factory, 6) as store:
        for i, lab in [(4, "dog"), (1, "cat"), (2, "owl")]:
            store.submit(i, lab, "ann")
        ids, X, y = store.training_data()
        assert ids.tolist() == [1, 2, 4]
        assert y == ["cat", "owl", "dog"]
        np.testing.assert_array_equal(X, store.features(ids))
        assert store.unlabelled_ids().tolist() == [0, 3, 5]


def test_multi_label(store_factory):
    with new_store(store_factory, 3, multi_label=True) as store:
        store.submit(0, ["owl", "cat"], "ann")
        store.submit(1, [], "ann")
        store.submit(2, "dog", "ann")
        assert store.labels()["label"].tolist() == ["cat|owl", "", "dog"]
        _, _, y = store.training_data()
        assert y == [("cat", "owl"), (), ("dog",)]
        assert store.progress().per_class == {"cat": 1, "dog": 1, "owl": 1}
        with pytest.raises(InvalidInput, match="twice"):
            store.submit(0, ["cat", "cat"], "ann")
        with pytest.raises(InvalidInput, match="not one of"):
            store.submit(0, ["cat", "eel"], "ann")


def test_update_settings_validates_and_protects_labels(store_factory):
    with new_store(store_factory, 3) as store:
        store.submit(0, "cat", "ann")
        with pytest.raises(InvalidInput, match="'cat' still has 1 label"):
            store.update_settings(classes=["dog", "owl"])
        s = store.update_settings(classes=["cat", "dog", "eel"], shuffle_prop=0.25, strategy="margin")
        assert s.classes == ("cat", "dog", "eel") and store.settings.classes == ("cat", "dog", "eel")
        for bad in ({"shuffle_prop": 2}, {"retrain_every": 0}, {"classes": ["a", "a"]}, {"colour": "red"},
                    {"classes": ["a|b"]}, {"kind": "text"}, {"lease_seconds": -1}, {"overlap": 0}):
            with pytest.raises(InvalidInput):
                store.update_settings(**bad)
        assert store.settings.shuffle_prop == 0.25
        store.update_settings(retrain_every=20, extra={"note": "x"})
        store = store_factory.reopen(store)
        assert store.settings.classes == ("cat", "dog", "eel")
        assert store.settings.retrain_every == 20 and dict(store.settings.extra) == {"note": "x"}


def test_switching_multi_label_keeps_labels(store_factory):
    with new_store(store_factory, 3) as store:
        store.submit(0, "cat", "ann")
        store.update_settings(multi_label=True)
        assert store.training_data()[2] == [("cat",)]
        store.submit(1, ["cat", "dog"], "ann")
        with pytest.raises(InvalidInput, match="several"):
            store.update_settings(multi_label=False)
        store.undo("ann")
        store.update_settings(multi_label=False)
        assert store.training_data()[2] == ["cat"]


def test_history(store_factory):
    with new_store(store_factory, 3) as store:
        store.record_retrain({"n_labels": 10, "score": 0.5, "metric": "accuracy", "strategy": "entropy",
                              "model": "logistic_regression", "seconds": 0.2, "cv_folds": 3})
        store.record_retrain({"n_labels": 20, "score": np.float64(0.75)})
        h = store.history()
        assert list(h.columns[:7]) == ["time", "n_labels", "score", "metric", "strategy", "model", "seconds"]
        assert h["score"].tolist() == [0.5, 0.75]
        assert h["cv_folds"].iloc[0] == 3
        assert str(h["time"].dtype).startswith("datetime64") and str(h["time"].dt.tz) == "UTC"
        store = store_factory.reopen(store)
        assert store.history()["n_labels"].tolist() == [10, 20]


def test_suggestions_round_trip_and_replace(store_factory):
    with new_store(store_factory, 6) as store:
        assert store.suggestions_version() == 0 and store.suggestions() is None
        v1 = store.save_suggestions([4, 1, 2], ["b", "a", ""], [0.9, 0.6, 0.5],
                                    {"model": "logistic_regression", "by": "orchestrate", "n_labels": 3})
        assert v1 == 1 and store.suggestions_version() == 1
        got = store.suggestions()
        assert got.version == 1 and got.ids.tolist() == [1, 2, 4]  # sorted by id
        assert got.labels.tolist() == ["a", "", "b"] and got.probabilities.tolist() == [0.6, 0.5, 0.9]
        assert got.meta["by"] == "orchestrate" and got.meta["n_labels"] == 3 and got.meta["time"] > 0
        assert got.suggestion(4) == ("b", 0.9) and got.suggestion(0) is None and got.suggestion(99) is None
        assert store.save_suggestions(np.array([0], dtype=np.int64), ["a"], np.array([1.0])) == 2
        assert store.suggestions().ids.tolist() == [0]
        store = store_factory.reopen(store)
        assert store.suggestions_version() == 2
        got = store.suggestions()
        assert (got.version, got.ids.tolist(), got.labels.tolist()) == (2, [0], ["a"])
        assert store.save_suggestions([], [], []) == 3 and len(store.suggestions()) == 0


def test_suggestions_as_codes_round_trip(store_factory):
    """A retrain saves its labels as a Categorical (codes, no string per item): read back as plain str."""
    with new_store(store_factory, 6) as store:
        coded = pd.Categorical.from_codes([2, 0, 0, 1], categories=["cat", "dog", ""])
        assert store.save_suggestions([5, 1, 3, 0], coded, [0.9, 0.6, 0.5, 0.7]) == 1
        got = store.suggestions()
        assert got.ids.tolist() == [0, 1, 3, 5]  # sorted by id, labels with them
        assert got.labels.tolist() == ["dog", "cat", "cat", ""]
        assert all(type(v) is str for v in got.labels)
        assert got.suggestion(5) == ("", 0.9) and got.suggestion(0) == ("dog", 0.7)
        store = store_factory.reopen(store)
        assert store.suggestions().labels.tolist() == ["dog", "cat", "cat", ""]
        for bad, match in [
            (pd.Categorical.from_codes([0, -1], categories=["a"]), "must be text"),  # a missing label
            (pd.Categorical([1, 2]), "must be text"),  # categories that are not text
        ]:
            with pytest.raises(InvalidInput, match=match):
                store.save_suggestions([0, 1], bad, [0.5, 0.5])
        with pytest.raises(InvalidInput, match="one label and one probability"):
            store.save_suggestions([0, 1, 2], pd.Categorical(["a", "b"]), [0.5, 0.5, 0.5])
        assert store.suggestions_version() == 1


def test_bad_suggestions_are_refused_and_nothing_saved(store_factory):
    with new_store(store_factory, 4) as store:
        store.save_suggestions([0], ["a"], [0.5])
        for args, match in [
            (([0, 1], ["a"], [0.5, 0.5]), "one label and one probability"),
            (([0, 0], ["a", "b"], [0.5, 0.5]), "more than once"),
            (([0], ["a"], [1.5]), "between 0 and 1"),
            (([0], ["a"], [float("nan")]), "between 0 and 1"),
            (([0], [3], [0.5]), "must be text"),
            (([0], None, [0.5]), "one label per item id"),
            (([0], ["a"], ["x"]), "must be numbers"),
            (([0], ["a"], [[0.5, 0.5]]), "flat list"),
        ]:
            with pytest.raises(InvalidInput, match=match):
                store.save_suggestions(*args)
        with pytest.raises(UnknownItem):
            store.save_suggestions([7], ["a"], [0.5])
        assert store.suggestions_version() == 1 and store.suggestions().ids.tolist() == [0]


def test_true_labels(store_factory):
    with new_store(store_factory, 2) as store:
        assert store.true_labels([0, 1]) is None
        store.add_items(image_batch(2, start=2, true_labels=["owl", "cat"]))
        assert store.true_labels([3, 2, 0]).tolist() == ["cat", "owl", None]


def test_existing_labels_and_adding_keeps_labels(store_factory):
    with new_store(store_factory, 0) as store:
        store.add_items(image_batch(3, labels=["cat", None, "owl"]))
        store.submit(1, "dog", "ann")
        store.add_items(image_batch(2, start=3, labels=[None, "dog"]))
        df = store.labels()
        assert sorted(df[["item_id", "label"]].values.tolist()) == [[0, "cat"], [1, "dog"], [2, "owl"], [4, "dog"]]
        assert set(df["labeller"]) == {"import", "ann"}
        assert store.next_item("ann") == 3


def test_bad_batches_change_nothing(store_factory):
    with new_store(store_factory, 2) as store:
        store.submit(0, "cat", "ann")
        before = store.labels()
        bad_batches = [
            image_batch(2),  # names already in the project
            image_batch(2, start=10, labels=["cat", "fish"]),  # label outside the classes
            ItemBatch(names=("a", "a"), kind="image", features=np.zeros((2, 16)), image_shape=(4, 4)),
            ItemBatch(names=(), kind="image", features=np.zeros((0, 16)), image_shape=(4, 4)),
            ItemBatch(names=("x",), kind="image", features=np.full((1, 16), np.nan), image_shape=(4, 4)),
            ItemBatch(names=("x",), kind="image", features=np.full((1, 16), np.inf), image_shape=(4, 4)),
            ItemBatch(names=("x",), kind="image", features=np.zeros((1, 9)), image_shape=(3, 3)),
            ItemBatch(names=("x",), kind="text", features=["hello"]),
        ]
        for batch in bad_batches:
            with pytest.raises(InvalidInput) as info:
                store.add_items(batch)
            assert str(info.value)  # a readable message
        assert len(store) == 2
        pd.testing.assert_frame_equal(store.labels(), before)
        store = store_factory.reopen(store)
        assert len(store) == 2
        pd.testing.assert_frame_equal(store.labels(), before)


def test_text_items(store_factory):
    with store_factory.new(ProjectSettings(classes=("pos", "neg"))) as store:
        store.add_items(ItemBatch(names=("r1", "r2"), kind="text", features=["good film", "bad film"]))
        assert store.settings.kind == "text" and store.settings.feature_kind == "text"
        assert store.item(1).payload == "bad film"
        store.submit(0, "pos", "ann")
        ids, X, y = store.training_data()
        assert X == ["good film"] and y == ["pos"]
        assert store.features([1, 0]) == ["bad film", "good film"]


def test_table_items(store_factory):
    with store_factory.new(ProjectSettings(classes=("a", "b"))) as store:
        feats = pd.DataFrame({"x": [1.0, 2.0, 3.0], "colour": ["red", "blue", "red"]})
        rows = [{"x": 1.0, "colour": "red", "note": "n"}, {"x": 2.0, "colour": "blue", "note": None},
                {"x": 3.0, "colour": "red", "note": "m"}]
        store.add_items(ItemBatch(names=("0", "1", "2"), kind="table", features=feats, payloads=rows))
        assert store.item(1).payload == {"x": 2.0, "colour": "blue", "note": None}
        X = store.features([2, 0])
        assert isinstance(X, pd.DataFrame) and X["x"].tolist() == [3.0, 1.0]
        store.submit(2, "b", "ann")
        ids, X, y = store.training_data()
        assert X["colour"].tolist() == ["red"] and y == ["b"]


def test_persistence_round_trip(store_factory):
    store = new_store(store_factory, 6)
    store.submit(0, "cat", "ann", seconds=1.0)
    store.submit(1, "dog", "ann")
    store.submit(1, "owl", "bob")
    assert store.undo("ann") == 1
    assert store.next_item("ann") == 1
    store.submit(1, "cat", "ann")  # no lease left open: backends may or may not keep leases on reopen
    store.skip(2, "ann")
    store.set_order([5, 2, 4])
    before = store.labels()
    store = store_factory.reopen(store)
    try:
        pd.testing.assert_frame_equal(store.labels(), before)
        assert store.next_item("ann") == 5
        assert store.next_item("ann") == 5
        store.submit(5, "cat", "ann")
        assert store.next_item("ann") == 4  # 2 was skipped by ann: others first
        assert store.next_item("bob") == 2
        assert store.undo("ann") == 5  # undo works on labels from before the reopen
    finally:
        store.close()


def test_closed_store_refuses_politely(store_factory):
    store = new_store(store_factory, 2)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.next_item("ann")


# --------------------------------------------------------------------------- concurrency


def test_threads_never_share_a_lease_and_lose_no_label(store_factory):
    n, n_threads = 300, 8
    with new_store(store_factory, n) as store:
        holders: dict[int, str] = {}
        guard = threading.Lock()
        errors: list[str] = []
        barrier = threading.Barrier(n_threads)

        def work(name: str) -> None:
            barrier.wait()
            while (i := store.next_item(name)) is not None:
                with guard:
                    if i in holders and holders[i] != name:
                        errors.append(f"{i} served to {holders[i]} and {name}")
                    holders[i] = name
                store.submit(i, CLASSES[i % 3], name)

        threads = [threading.Thread(target=work, args=(f"t{k}",)) for k in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        df = store.labels()
        assert sorted(df["item_id"]) == list(range(n))  # every item labelled exactly once
        assert Counter(df["labeller"]) == Counter(holders.values())
        store = store_factory.reopen(store)
        assert len(store.labels()) == n


# --------------------------------------------------------------------------- property


_ops = st.lists(
    st.tuples(st.sampled_from(["next", "submit", "skip", "undo", "relabel", "order"]),
              st.sampled_from(["ann", "bob"]), st.integers(0, 7), st.sampled_from(CLASSES)),
    max_size=40,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_ops)
def test_random_operations_keep_invariants(store_factory, ops):
    """Against a tiny reference model: labels in force, audit records, no double lease, survives reopen."""
    store = new_store(store_factory, 8)
    model: dict[tuple[int, str], str] = {}  # (item, labeller) -> label
    history: dict[str, list[int]] = {"ann": [], "bob": []}
    undone: dict[str, int | None] = {}
    # the audit rules (superintendent_core.store.audit), modelled
    slots: dict[int, tuple[float, int, int]] = {}  # the current order's audit slots
    held: dict[str, int | None] = {}  # each labeller's lease
    served: dict[str, tuple[int, tuple | None]] = {}  # last item served anew to each, and its slot
    records: dict[int, tuple] = {}  # item -> (probability, support, seq, labeller)

    def serve(who: str, got: int | None) -> None:
        if got is not None and got != held.get(who):
            served[who] = (got, slots.get(got))
        if got is not None:
            held[who] = got

    def labelled(item: int) -> bool:
        return any(k[0] == item for k in model)

    try:
        for op, who, i, lab in ops:
            if op == "next":
                got = store.next_item(who)
                serve(who, got)
                if got is not None and got != undone.get(who):
                    assert not labelled(got)  # never serves a labelled item
                    # (except the item this labeller just undid: undo serves it to them again)
                other_who = "bob" if who == "ann" else "ann"
                other = store.next_item(other_who)
                serve(other_who, other)
                assert got is None or got != other
            elif op in ("submit", "relabel"):
                mine = served.get(who)
                if op == "submit" and mine is not None and mine[0] == i:
                    if mine[1] is not None and not labelled(i):
                        records[i] = (*mine[1], who)
                    del served[who]
                getattr(store, op)(i, lab, who)
                model[(i, who)] = lab
                history[who] = [x for x in history[who] if x != i] + [i]
                held.update({w: None for w, h in held.items() if h == i})  # done: no lease on it
            elif op == "skip":
                store.skip(i, who)
                if held.get(who) == i and not labelled(i):
                    held[who] = None
            elif op == "undo":
                got = store.undo(who)
                expect = history[who].pop() if history[who] else None
                assert got == expect
                if got is not None:
                    undone[who] = got
                if expect is not None:
                    del model[(expect, who)]
                    voided = records.pop(expect, None) if not labelled(expect) else None
                    served[who] = (expect, None if voided is None else voided[:3])
                    held[who] = expect
            else:
                order = [(i + k) % 8 for k in range(8)]
                slots = {item: ((item + 1) / 16, 8 - k, len({k[0] for k in model}))
                         for k, item in enumerate(order) if k % 2 == 0}
                ids = np.array(list(slots), dtype=np.int64)
                store.set_order(order, audit=AuditDraws(ids, np.array([slots[x][0] for x in ids]),
                                                        np.array([slots[x][1] for x in ids])))
        got_labels = {(int(r.item_id), r.labeller): r.label for r in store.labels().itertuples()}
        assert got_labels == model
        assert store.progress().labelled == len({k[0] for k in model})

        def got_records() -> dict[int, tuple]:
            return {int(r.item_id): (r.probability, int(r.support), int(r.seq), r.labeller)
                    for r in store.audit_records().itertuples()}

        assert got_records() == records
        store = store_factory.reopen(store)
        assert {(int(r.item_id), r.labeller): r.label for r in store.labels().itertuples()} == model
        assert got_records() == records
    finally:
        store.close()


# --------------------------------------------------------------------------- importing labels


def _state(store):
    labels = store.labels().drop(columns=["time"])
    return labels, store.progress(), store.revision().events, store.training_data()[2]


def test_import_labels_means_relabel_row_by_row(store_factory):
    rows = [(0, "cat", "ann"), (1, "dog", "bob"), (0, "owl", "ann"), (2, "dog", "ann"), (1, "cat", "ann")]
    with new_store(store_factory, 6) as a, new_store(store_factory, 6) as b:
        a.submit(1, "owl", "bob")
        b.submit(1, "owl", "bob")
        for i, label, who in rows:
            a.relabel(i, label, who)
        ids, labels, who = (list(c) for c in zip(*rows, strict=True))
        assert b.import_labels(np.array(ids), labels, who) == len(rows)
        la, pa_, ea, ya = _state(a)
        lb, pb, eb, yb = _state(b)
        pd.testing.assert_frame_equal(la, lb)
        assert pa_ == pb and ea == eb and ya == yb
        assert lb["label"].tolist() == ["dog", "owl", "dog", "cat"]  # later rows win, oldest first
        assert lb["item_id"].tolist() == [1, 0, 2, 1]
        assert b.unlabelled_ids().tolist() == [3, 4, 5]
        b = store_factory.reopen(b)
        pd.testing.assert_frame_equal(b.labels().drop(columns=["time"]), la)
        b.close()


def test_import_labels_releases_leases_and_finishes_items(store_factory):
    with new_store(store_factory, 4) as store:
        assert store.next_item("ann") == 0
        assert store.next_item("bob") == 1
        assert store.import_labels([0, 1], ["cat", "dog"], "ann") == 2  # one labeller for every row
        assert store.progress().leased == 0 and store.progress().done == 2
        assert store.next_item("bob") == 2
        assert set(store.labels()["labeller"]) == {"ann"}


def test_import_labels_bad_row_in_the_middle_writes_nothing(store_factory):
    with new_store(store_factory, 5) as store:
        store.submit(4, "cat", "ann")
        before = store.revision()
        with pytest.raises(InvalidInput) as err:
            store.import_labels([0, 1, 2, 3], ["cat", "dog", "fish", "owl"], ["ann"] * 4)
        message = str(err.value)
        assert "1 of 4" in message and "row 2" in message and "fish" in message
        assert "row 0" not in message and "row 3" not in message
        assert store.revision() == before
        assert store.labels()["item_id"].tolist() == [4]
        assert store.unlabelled_ids().tolist() == [0, 1, 2, 3]
        store = store_factory.reopen(store)
        assert store.labels()["item_id"].tolist() == [4] and store.revision().events == before.events
        store.close()


def test_import_labels_with_labellers_of_the_wrong_type_is_refused(store_factory):
    with new_store(store_factory, 2) as store:
        for bad in (None, 5):
            with pytest.raises(InvalidInput, match="labellers must be"):
                store.import_labels([0, 1], ["cat", "dog"], bad)
        assert len(store.labels()) == 0


def test_import_labels_names_the_first_bad_rows_and_counts_them(store_factory):
    with new_store(store_factory, 3) as store:
        ids = [0, 99, 1, 2, -1, 0, 1, 2, 0]
        labels = ["cat", "dog", "fish", "owl", "cat", "cat", ["dog", "owl"], "dog", "cat"]
        who = ["ann", "ann", "ann", "", "ann", "ann", "ann", "ann", 7]
        with pytest.raises(InvalidInput) as err:
            store.import_labels(ids, labels, who)
        message = str(err.value)
        assert "6 of 9" in message and "and 1 more" in message
        for shown in ("row 1 (item 99)", "row 2", "fish", "row 3", "row 4 (item -1)", "row 6"):
            assert shown in message
        assert "row 8" not in message  # beyond the first five
        assert store.labels().empty and store.revision().events == 0
        with pytest.raises(InvalidInput, match="must match"):
            store.import_labels([0, 1], ["cat"], "ann")
        with pytest.raises(InvalidInput, match="must match"):
            store.import_labels([0, 1], ["cat", "dog"], ["ann"])
        assert store.import_labels([], [], "ann") == 0
        assert store.labels().empty


def test_import_labels_multi_label(store_factory):
    with new_store(store_factory, 3, multi_label=True) as store:
        assert store.import_labels([0, 1, 2], [["owl", "cat"], [], "dog"], "ann") == 3
        assert store.labels()["label"].tolist() == ["cat|owl", "", "dog"]
        assert store.training_data()[2] == [("cat", "owl"), (), ("dog",)]
        with pytest.raises(InvalidInput, match="row 0"):
            store.import_labels([0], ["cat|owl"], "ann")  # joined cells are split by the caller


# --------------------------------------------------------------------------- audit records (issue 12)


def draws(ids, q=0.25, support=8) -> AuditDraws:
    ids = np.asarray(ids, dtype=np.int64)
    return AuditDraws(ids, np.full(len(ids), q, dtype=float), np.full(len(ids), support, dtype=np.int64))


def audit_ids(store) -> list[int]:
    return store.audit_records()["item_id"].tolist()


def test_audit_records_start_empty_with_typed_columns(store_factory):
    with new_store(store_factory, 3) as store:
        df = store.audit_records()
        assert list(df.columns) == ["item_id", "probability", "support", "seq", "labeller", "time"]
        assert len(df) == 0
        assert [str(df[c].dtype) for c in df.columns] == ["int64", "float64", "int64", "int64", "object",
                                                            "float64"]


def test_a_label_served_from_an_audit_slot_records_the_draw(store_factory):
    with new_store(store_factory, 8) as store:
        store.submit(7, "cat", "imp")  # 1 labelled item when the order is written
        store.set_order([4, 2, 5], audit=AuditDraws(np.array([2, 5]), np.array([0.5, 0.125]),
                                                    np.array([6, 3])))
        before = time.time()
        served = []
        for label in ("cat", "dog", "owl"):
            i = store.next_item("ann")
            served.append(i)
            store.submit(i, label, "ann", seconds=1.0)
        assert served == [4, 2, 5]
        df = store.audit_records()
        assert df["item_id"].tolist() == [2, 5]  # 4 was not an audit slot; 7 was never served
        assert df["probability"].tolist() == [0.5, 0.125]
        assert df["support"].tolist() == [6, 3]
        assert df["seq"].tolist() == [1, 1]
        assert df["labeller"].tolist() == ["ann", "ann"]
        assert (df["time"] >= before - 1).all() and (df["time"] <= time.time() + 1).all()


def test_relabel_keeps_the_record_and_undo_voids_it(store_factory):
    with new_store(store_factory, 6) as store:
        store.set_order([0, 1, 2], audit=draws([0, 1]))
        for _ in range(2):
            store.submit(store.next_item("ann"), "cat", "ann")
        store.relabel(0, "owl", "ann")  # Review page: the latest label is the truth, the draw stays
        store.relabel(1, "dog", "bob")  # another labeller beside: still the same draw
        assert audit_ids(store) == [0, 1]
        assert store.undo("ann") == 0  # ann's latest label (the relabel of item 0): 0 is unlabelled
        assert audit_ids(store) == [1]
        assert store.undo("ann") == 1  # bob's label on item 1 keeps it labelled, and its record
        assert audit_ids(store) == [1]
        assert store.undo("bob") == 1
        assert audit_ids(store) == []


def test_labelling_again_right_after_an_undo_brings_the_record_back(store_factory):
    with new_store(store_factory, 6) as store:
        store.set_order([0, 1], audit=draws([0], q=0.5))
        store.submit(store.next_item("ann"), "cat", "ann")
        assert store.undo("ann") == 0 and audit_ids(store) == []
        assert store.next_item("ann") == 0  # leased back to ann
        store.submit(0, "dog", "ann")
        df = store.audit_records()
        assert df["item_id"].tolist() == [0] and df["probability"].tolist() == [0.5]


def test_an_undone_item_served_later_from_a_plain_slot_has_no_record(store_factory):
    clock = FakeClock()
    with new_store(store_factory, 6, clock=clock) as store:
        store.set_order([0, 1], audit=draws([0]))
        store.submit(store.next_item("ann"), "cat", "ann")
        assert store.undo("ann") == 0
        store.skip(0, "ann")  # not labelled again at once
        store.set_order([0, 1])  # a new order: 0 is a plain slot now
        assert store.next_item("bob") == 0
        store.submit(0, "cat", "bob")
        assert audit_ids(store) == []


def test_the_slot_an_item_was_served_from_counts_not_the_current_order(store_factory):
    with new_store(store_factory, 6) as store:
        store.set_order([0, 1, 2], audit=draws([0]))
        assert store.next_item("ann") == 0  # served from an audit slot
        assert store.next_item("bob") == 1  # served from a plain slot
        store.set_order([1, 0, 2], audit=draws([1]))  # a retrain writes a new order meanwhile
        store.submit(0, "cat", "ann")
        store.submit(1, "cat", "bob")
        df = store.audit_records()
        assert df["item_id"].tolist() == [0]


def test_labels_not_served_from_an_audit_slot_have_no_record(store_factory):
    with new_store(store_factory, 8) as store:
        store.set_order([0, 1, 2, 3, 4, 5], audit=draws([0, 1, 2, 3, 4, 5]))
        assert store.next_item("ann") == 0
        store.submit(3, "cat", "ann")  # ann holds 0; 3 was never served to her (Review page)
        store.relabel(4, "cat", "ann")  # a relabel of an unlabelled item
        store.import_labels([5, 0], ["dog", "dog"], "imp")  # an import
        store.submit(0, "owl", "ann")  # 0 is labelled already: not its first label
        store.add_items(image_batch(2, start=8, labels=["cat", None]))  # labels arriving with items
        assert audit_ids(store) == []
        assert store.next_item("bob") == 1
        store.submit(1, "cat", "bob")
        assert audit_ids(store) == [1]


def test_only_the_labeller_served_from_the_slot_records_it(store_factory):
    clock = FakeClock()
    with new_store(store_factory, 6, clock=clock, lease_seconds=10) as store:
        store.set_order([0, 1], audit=draws([0]))
        assert store.next_item("ann") == 0
        clock.now += 11  # ann's lease expires; bob is served the same slot
        assert store.next_item("bob") == 0
        store.submit(0, "cat", "bob")
        store.submit(0, "dog", "ann")  # ann's late label: not the item's first
        df = store.audit_records()
        assert df["item_id"].tolist() == [0] and df["labeller"].tolist() == ["bob"]


def test_with_overlap_only_the_first_label_records(store_factory):
    with new_store(store_factory, 4, overlap=2) as store:
        store.set_order([0, 1], audit=draws([0, 1]))
        assert store.next_item("ann") == 0 and store.next_item("bob") == 1
        store.submit(0, "cat", "ann")
        store.submit(1, "cat", "bob")
        assert store.next_item("ann") == 1 and store.next_item("bob") == 0
        store.submit(1, "dog", "ann")
        store.submit(0, "dog", "bob")
        df = store.audit_records()
        assert df["item_id"].tolist() == [0, 1] and df["labeller"].tolist() == ["ann", "bob"]


def test_audit_records_survive_reopening(store_factory):
    with new_store(store_factory, 6) as store:
        store.set_order([0, 1, 2], audit=draws([1, 2], q=0.5, support=5))
        for _ in range(3):
            store.submit(store.next_item("ann"), "cat", "ann")
        store.undo("ann")  # voids 2
        before = store.audit_records()
        assert before["item_id"].tolist() == [1]
        store = store_factory.reopen(store)
        pd.testing.assert_frame_equal(store.audit_records(), before)
        # the order's draws came back too: a slot served after reopening records
        store.set_order([3, 4], audit=draws([4], q=1.0, support=1))
        store = store_factory.reopen(store)
        assert store.next_item("bob") == 3
        store.submit(3, "cat", "bob")
        assert store.next_item("bob") == 4
        store.submit(4, "cat", "bob")
        df = store.audit_records()
        assert df["item_id"].tolist() == [1, 4] and df["probability"].tolist() == [0.5, 1.0]
        store = store_factory.reopen(store)
        assert store.audit_records()["item_id"].tolist() == [1, 4]


@pytest.mark.parametrize(
    "bad",
    [
        lambda: AuditDraws(np.array([9]), np.array([0.5]), np.array([2])),  # not in the order
        lambda: AuditDraws(np.array([0, 0]), np.array([0.5, 0.5]), np.array([2, 2])),
        lambda: AuditDraws(np.array([0]), np.array([0.0]), np.array([2])),
        lambda: AuditDraws(np.array([0]), np.array([1.5]), np.array([2])),
        lambda: AuditDraws(np.array([0]), np.array([np.nan]), np.array([2])),
        lambda: AuditDraws(np.array([0]), np.array([0.5]), np.array([0])),
        lambda: AuditDraws(np.array([0, 1]), np.array([0.5]), np.array([2, 2])),
        lambda: AuditDraws(np.array([0.5]), np.array([0.5]), np.array([2])),
        lambda: "not draws",
    ],
)
def test_bad_audit_draws_are_refused_and_the_order_kept(store_factory, bad):
    with new_store(store_factory, 10) as store:
        store.set_order([1, 0], audit=draws([1]))
        revision = store.revision().order
        with pytest.raises(InvalidInput):
            store.set_order([0, 1, 2], audit=bad())
        assert store.revision().order == revision
        assert store.next_item("ann") == 1
        store.submit(1, "cat", "ann")
        assert audit_ids(store) == [1]  # the old order and its draws stand



def test_history_has_the_estimate_columns_also_for_entries_without_them(store_factory):
    with new_store(store_factory, 3) as store:
        store.record_retrain({"n_labels": 10, "score": 0.5})  # written before the estimate existed
        store.record_retrain({"n_labels": 20, "score": 0.6, "estimate": 0.91, "estimate_low": 0.85,
                              "estimate_high": 0.95, "estimate_target": "new", "estimate_n": 12,
                              "estimate_note": "from 12 audited labels"})
        store.record_retrain({"n_labels": 30, "score": 0.7, "estimate": None, "estimate_low": None,
                              "estimate_high": None, "estimate_target": "new", "estimate_n": 0,
                              "estimate_note": "not enough audited labels"})
        for _ in range(2):
            h = store.history()
            assert np.isnan(h["estimate"].iloc[0]) and h["estimate"].iloc[1] == 0.91
            assert np.isnan(h["estimate"].iloc[2])  # None: no number, and the note says why
            assert h["estimate_low"].iloc[1] == 0.85 and h["estimate_high"].iloc[1] == 0.95
            assert h["estimate_target"].tolist() == [None, "new", "new"]
            assert h["estimate_note"].tolist() == [None, "from 12 audited labels", "not enough audited labels"]
            assert np.isnan(h["estimate_n"].iloc[0]) and h["estimate_n"].tolist()[1:] == [12, 0]
            store = store_factory.reopen(store)
        store.close()
    with new_store(store_factory, 0) as empty:
        h = empty.history()
        assert len(h) == 0 and {"estimate", "estimate_note", "estimate_target"} <= set(h.columns)


def test_audit_share_is_a_setting_from_0_to_one_half(store_factory):
    with new_store(store_factory, 2) as store:
        assert store.settings.audit_share == 0.2
        for bad in (-0.1, 0.6, True, "0.2", None, float("nan")):
            with pytest.raises(InvalidInput, match="audit_share"):
                store.update_settings(audit_share=bad)
        assert store.settings.audit_share == 0.2
        assert store.update_settings(audit_share=0).audit_share == 0.0
        store.update_settings(audit_share=0.5)
        store = store_factory.reopen(store)
        assert store.settings.audit_share == 0.5
        store.close()


# --------------------------------------------------------------------------- feature sets


def test_feature_set_is_written_in_chunks_read_back_and_survives_reopening(store_factory):
    store = new_store(store_factory, 6)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 5)).astype(np.float32)
    assert store.feature_sets() == {}
    assert store.missing_feature_ids("net").tolist() == [0, 1, 2, 3, 4, 5]
    assert store.write_feature_set("net", [4, 1], X[[4, 1]]) == 2
    assert store.feature_sets() == {"net": (5, 2)}
    assert store.missing_feature_ids("net").tolist() == [0, 2, 3, 5]
    # not complete: it cannot become the project's features, and features() is unchanged
    with pytest.raises(InvalidInput, match="4 item"):
        store.update_settings(feature_set="net")
    assert store.features([0]).shape == (1, 16)
    assert store.write_feature_set("net", [0, 2, 3, 5], X[[0, 2, 3, 5]].astype(np.float64)) == 4
    store = store_factory.reopen(store)
    assert store.feature_sets() == {"net": (5, 6)}
    assert store.missing_feature_ids("net").tolist() == []
    assert store.features_in_use() == ""
    store.update_settings(feature_set="net")
    assert store.features_in_use() == "net"
    got = store.features([5, 0, 3, 1])
    assert got.dtype == np.float32 and got.shape == (4, 5)
    np.testing.assert_array_equal(got, X[[5, 0, 3, 1]])
    store.submit(store.next_item("ann"), "cat", "ann")
    ids, Xt, _ = store.training_data()
    np.testing.assert_array_equal(Xt, X[ids])
    store = store_factory.reopen(store)
    assert store.settings.feature_set == "net"
    np.testing.assert_array_equal(store.features(np.arange(6)), X)
    store.update_settings(feature_set="")  # back to the import features
    assert store.features([0]).shape == (1, 16)
    store.close()


def test_feature_set_write_is_idempotent_per_id(store_factory):
    with new_store(store_factory, 4) as store:
        first = np.ones((2, 3))
        assert store.write_feature_set("s", [0, 1], first) == 2
        assert store.write_feature_set("s", [1, 0], np.zeros((2, 3))) == 0  # all stored already
        assert store.write_feature_set("s", [1, 2], np.full((2, 3), 7.0)) == 1  # only id 2 is new
        assert store.write_feature_set("s", [3], np.full((1, 3), 9.0)) == 1
        store.update_settings(feature_set="s")
        np.testing.assert_array_equal(store.features([0, 1, 2, 3])[:, 0], [1, 1, 7, 9])
        assert store.feature_sets() == {"s": (3, 4)}


@pytest.mark.parametrize(
    ("ids", "matrix", "match"),
    [
        ([0, 1], np.ones((2, 4)), "4 numbers per item; the feature set has 3"),
        ([0, 1], np.array([[1, 2, np.nan], [1, 2, 3]]), "NaN or infinite"),
        ([0, 1], np.array([[1, 2, np.inf], [1, 2, 3]]), "NaN or infinite"),
        ([0, 1], np.array([[1e300, 2, 3], [1, 2, 3]]), "too large"),
        ([0, 9], np.ones((2, 3)), "not in the project"),
        ([-1, 0], np.ones((2, 3)), "not in the project"),
        ([1, 1], np.ones((2, 3)), "twice"),
        ([0, 1], np.ones((3, 3)), "3 feature row"),
        ([0, 1], np.array([["a", "b", "c"], ["d", "e", "f"]]), "real numbers"),
        ([0, 1], np.ones(3), "2-D"),
        ([0.5, 1], np.ones((2, 3)), "whole numbers"),
    ],
)
def test_bad_feature_rows_are_refused_whole(store_factory, ids, matrix, match):
    with new_store(store_factory, 5) as store:
        store.write_feature_set("s", [2], np.ones((1, 3)))
        with pytest.raises(InvalidInput, match=match):
            store.write_feature_set("s", ids, matrix)
        assert store.feature_sets() == {"s": (3, 1)}
        assert store.missing_feature_ids("s").tolist() == [0, 1, 3, 4]


@pytest.mark.parametrize("name", ["", "../x", "a/b", "x" * 65, ".hidden", 3, None])
def test_bad_feature_set_names_are_refused(store_factory, name):
    with new_store(store_factory, 2) as store:
        with pytest.raises(InvalidInput, match="Feature set name"):
            store.write_feature_set(name, [0], np.ones((1, 2)))
        assert store.feature_sets() == {}


def test_an_unknown_feature_set_cannot_be_chosen(store_factory):
    with new_store(store_factory, 2) as store:
        with pytest.raises(InvalidInput, match="no feature set"):
            store.update_settings(feature_set="nope")
        with pytest.raises(InvalidInput, match="feature_set"):
            store.update_settings(feature_set=3)
        assert store.settings.feature_set == ""
        store.update_settings(feature_extractor="efficientnet_lite0")
        assert store.settings.feature_extractor == "efficientnet_lite0"


def test_items_added_after_a_set_was_chosen_fall_back_to_import_features_until_it_is_complete(store_factory):
    with new_store(store_factory, 3) as store:
        store.write_feature_set("s", [0, 1, 2], np.ones((3, 2)))
        store.update_settings(feature_set="s")
        store.add_items(image_batch(2, start=3))
        assert store.features_in_use() == ""  # the set lacks ids 3, 4: the import features, for every id
        assert store.features([0, 4]).shape == (2, 16)
        assert store.missing_feature_ids("s").tolist() == [3, 4]
        store.write_feature_set("s", [3, 4], np.zeros((2, 2)))
        assert store.features_in_use() == "s"
        assert store.features([0, 4]).shape == (2, 2)
        assert store.settings.feature_set == "s"


def test_float16_feature_set_round_trips_within_half_precision_and_the_model_sees_float32(store_factory):
    rng = np.random.default_rng(1)
    X = rng.normal(scale=3.0, size=(6, 7)).astype(np.float32)
    X[0, 0] = 65504.0  # the largest float16: stored, not refused
    store = new_store(store_factory, 6)
    assert store.settings.feature_dtype == "float32"
    assert store.write_feature_set("half", [3, 1, 5], X[[3, 1, 5]], dtype="float16") == 3
    assert store.write_feature_set("full", np.arange(6), X) == 6
    # a later write keeps the set's dtype, whatever the project's default says
    store.update_settings(feature_dtype="float16")
    assert store.write_feature_set("half", [0, 2, 4], X[[0, 2, 4]].astype(np.float64)) == 3
    assert store.feature_set_dtypes() == {"full": "float32", "half": "float16"}
    with pytest.raises(InvalidInput, match="stored as float16"):
        store.write_feature_set("half", [0], X[[0]], dtype="float32")
    store = store_factory.reopen(store)
    assert store.settings.feature_dtype == "float16"
    assert store.feature_set_dtypes() == {"full": "float32", "half": "float16"}
    assert store.feature_sets() == {"full": (7, 6), "half": (7, 6)}
    store.update_settings(feature_set="half")
    got = store.features([5, 0, 3])
    assert got.dtype == np.float32 and got.shape == (3, 7)
    np.testing.assert_array_equal(got, X[[5, 0, 3]].astype(np.float16).astype(np.float32))
    np.testing.assert_allclose(got, X[[5, 0, 3]], rtol=2**-11, atol=0)  # float16: 11 significant bits
    store.submit(store.next_item("ann"), "cat", "ann")
    ids, Xt, _ = store.training_data()
    assert Xt.dtype == np.float32
    np.testing.assert_array_equal(Xt, X[ids].astype(np.float16).astype(np.float32))
    store.update_settings(feature_set="full")
    np.testing.assert_array_equal(store.features(np.arange(6)), X)
    store.close()


def test_float16_feature_dtype_is_the_default_for_new_sets_only(store_factory):
    with new_store(store_factory, 3, feature_dtype="float16") as store:
        store.write_feature_set("a", [0, 1, 2], np.ones((3, 2)))
        store.write_feature_set("b", [0, 1, 2], np.ones((3, 2)), dtype="float32")
        assert store.feature_set_dtypes() == {"a": "float16", "b": "float32"}
        for bad in ("float64", "half", 16, None, "int8"):
            with pytest.raises(InvalidInput, match="float32"):
                store.update_settings(feature_dtype=bad)
            with pytest.raises(InvalidInput, match="float32"):
                store.write_feature_set("c", [0], np.ones((1, 2)), dtype=bad if bad is not None else "x")
        assert store.settings.feature_dtype == "float16"
        assert set(store.feature_sets()) == {"a", "b"}


@pytest.mark.parametrize("big", [65504.5, 65520.0, 70000.0, -1e6, 3e38])
def test_float16_out_of_range_is_refused_whole_and_the_project_is_unchanged(store_factory, big):
    with new_store(store_factory, 5) as store:
        store.write_feature_set("s", [2], np.ones((1, 3)), dtype="float16")
        before = store.revision()
        rows = np.ones((3, 3))
        rows[1, 2] = big
        with pytest.raises(InvalidInput, match="float16's range") as err:
            store.write_feature_set("s", [0, 1, 3], rows)
        assert "item id 1" in str(err.value) and "nothing was written" in str(err.value)
        assert store.feature_sets() == {"s": (3, 1)}
        assert store.missing_feature_ids("s").tolist() == [0, 1, 3, 4]
        # a new set is not created by a refused first write
        with pytest.raises(InvalidInput, match="float16's range"):
            store.write_feature_set("t", [0, 1, 3], rows, dtype="float16")
        assert set(store.feature_sets()) == {"s"}
        assert store.revision() == before
        # NaN is refused as for float32
        with pytest.raises(InvalidInput, match="NaN or infinite"):
            store.write_feature_set("s", [0], np.array([[1.0, np.nan, 2.0]]))
        # the same values fit a float32 set
        assert store.write_feature_set("u", [0, 1, 3], rows, dtype="float32") == 3


def test_a_copy_of_a_project_keeps_each_feature_set_dtype(store_factory, tmp_path):
    from superintendent_core.data.export import copy_project, export_project_zip, import_project_zip
    from superintendent_core.store.folder import FolderStore

    X = np.random.default_rng(2).normal(size=(4, 5)).astype(np.float32)
    with new_store(store_factory, 4) as store:
        store.write_feature_set("half", np.arange(4), X, dtype="float16")
        store.write_feature_set("full", np.arange(4), X)
        store.update_settings(feature_set="half", feature_dtype="float16")
        copy = copy_project(store, tmp_path / "copy")
        export_project_zip(store, tmp_path / "p.zip")
    import_project_zip(tmp_path / "p.zip", tmp_path / "unzipped")
    with copy, FolderStore(tmp_path / "unzipped", create=False) as unzipped:
        for out in (copy, unzipped):
            assert out.feature_set_dtypes() == {"full": "float32", "half": "float16"}
            assert out.settings.feature_set == "half" and out.settings.feature_dtype == "float16"
            np.testing.assert_array_equal(out.features(np.arange(4)), X.astype(np.float16).astype(np.float32))
            out.update_settings(feature_set="full")
            np.testing.assert_array_equal(out.features(np.arange(4)), X)


# --------------------------------------------------------------------------- bulk labels


def test_bulk_label_records_each_item_by_that_labeller_marked_bulk(store_factory):
    with new_store(store_factory, 10) as store:
        store.submit(0, "cat", "bob")
        before = store.revision().events
        assert store.bulk_label([3, 1, 0], "dog", "ann") == 3
        assert store.bulk_label([], "dog", "ann") == 0
        labels = store.labels()
        assert labels["bulk"].dtype == bool
        mine = labels[labels["labeller"] == "ann"].sort_values("item_id")
        assert mine["item_id"].tolist() == [0, 1, 3] and set(mine["label"]) == {"dog"}
        assert mine["bulk"].all() and not labels[labels["labeller"] == "bob"]["bulk"].any()
        assert mine["seconds"].isna().all()
        assert store.revision().events == before + 3
        p = store.progress()
        assert p.labelled == 3 and p.per_labeller == {"bob": 1, "ann": 3}
        assert p.per_class == {"cat": 0, "dog": 3, "owl": 0}  # item 0 trains on its latest label
        assert store.audit_records().empty  # bulk labels get no audit record
        ids, _, y = store.training_data()
        assert ids.tolist() == [0, 1, 3] and y == ["dog", "dog", "dog"]
        assert 1 not in store.unlabelled_ids().tolist()
        store = store_factory.reopen(store)
        again = store.labels()
        assert again[again["labeller"] == "ann"]["bulk"].all() and len(again) == 4
        assert store.last_bulk("ann") == 3 and store.last_bulk("bob") == 0
        store.close()


def test_bulk_label_is_undone_as_one_step_by_its_labeller(store_factory):
    with new_store(store_factory, 10) as store:
        store.submit(5, "owl", "ann")
        store.submit(2, "cat", "bob")
        store.bulk_label([1, 2, 3], "dog", "ann")
        assert store.last_bulk("ann") == 3
        assert store.undo("bob") == 2  # bob's own label, not ann's bulk
        assert store.undo("ann") == 1  # the whole bulk, in one step; its first item
        labels = store.labels()
        assert labels[["item_id", "labeller", "label"]].values.tolist() == [[5, "ann", "owl"]]
        assert store.last_bulk("ann") == 0
        p = store.progress()
        assert p.labelled == 1 and p.per_class == {"cat": 0, "dog": 0, "owl": 1} and p.per_labeller == {"ann": 1}
        assert set(store.unlabelled_ids().tolist()) == set(range(10)) - {5}
        assert store.undo("ann") == 5  # then the label before it, as usual
        store = store_factory.reopen(store)
        assert len(store.labels()) == 0 and store.progress().labelled == 0
        store.close()


def test_undoing_a_bulk_keeps_what_others_and_later_labels_did(store_factory):
    with new_store(store_factory, 10, overlap=2) as store:
        store.bulk_label([0, 1, 2], "dog", "ann")
        store.submit(1, "cat", "bob")  # another labeller's label on a bulk item stays
        store.relabel(2, "owl", "ann")  # ann's own relabel replaces her bulk label on item 2
        assert store.last_bulk("ann") == 0  # her latest label is the relabel
        assert store.undo("ann") == 2  # the relabel first
        assert store.last_bulk("ann") == 2  # what is left of the bulk in force: items 0 and 1
        store.undo("ann")
        labels = store.labels()
        assert labels[["item_id", "labeller", "label", "bulk"]].values.tolist() == [[1, "bob", "cat", False]]
        ids, _, y = store.training_data()
        assert ids.tolist() == [1] and y == ["cat"]
        assert store.progress().per_class == {"cat": 1, "dog": 0, "owl": 0}


def test_bulk_label_refuses_bad_input_and_writes_nothing(store_factory):
    with new_store(store_factory, 5) as store:
        store.submit(4, "cat", "ann")
        events = store.revision().events
        with pytest.raises(InvalidInput, match="not one of the project's classes"):
            store.bulk_label([0, 1], "horse", "ann")
        with pytest.raises(InvalidInput, match="twice"):
            store.bulk_label([0, 0], "dog", "ann")
        with pytest.raises(UnknownItem):
            store.bulk_label([0, 99], "dog", "ann")
        with pytest.raises(InvalidInput):
            store.bulk_label([0, 1], "dog", " ")
        with pytest.raises(InvalidInput, match="already carry ann's label.*img4.png"):
            store.bulk_label([0, 4], "dog", "ann")  # would replace her label; undo could not bring it back
        with pytest.raises(InvalidInput):
            store.bulk_label(["0"], "dog", "ann")
        assert store.revision().events == events and len(store.labels()) == 1
        assert store.bulk_label([0, 4], "dog", "bob") == 2  # another labeller may


def test_bulk_label_multi_label(store_factory):
    with new_store(store_factory, 4, multi_label=True) as store:
        store.bulk_label([0, 1], ["owl", "cat"], "ann")
        assert store.labels()["label"].tolist() == ["cat|owl", "cat|owl"]
        _, _, y = store.training_data()
        assert y == [("cat", "owl"), ("cat", "owl")]


def test_bulk_label_releases_the_labellers_lease_and_keeps_serving_right(store_factory):
    with new_store(store_factory, 4) as store:
        served = store.next_item("ann")
        store.bulk_label([served, 3], "dog", "ann")
        nxt = store.next_item("ann")
        assert nxt not in (served, 3, None)
        store.undo("ann") if store.last_bulk("ann") else None
        assert store.progress().labelled == 0



# --------------------------------------------------------------------------- pre-annotations


def test_preannotations_are_kept_apart_from_labels(store_factory):
    with new_store(store_factory, 6) as store:
        assert store.preannotations().empty and store.preannotation(0) is None
        assert store.save_preannotations([2, 0], ["dog", "cat"], [0.9, None], source="resnet") == 2
        store.submit(1, "owl", "ann")
        assert store.preannotation(2) == ("dog", 0.9)
        label, score = store.preannotation(0)
        assert label == "cat" and np.isnan(score)
        # never labels: not in labels(), training data, progress or the audit records
        assert store.labels()["item_id"].tolist() == [1]
        ids, _, y = store.training_data()
        assert ids.tolist() == [1] and y == ["owl"]
        p = store.progress()
        assert p.labelled == 1 and p.per_class == {"cat": 0, "dog": 0, "owl": 1}
        assert 0 in store.unlabelled_ids().tolist() and 2 in store.unlabelled_ids().tolist()
        # a later save replaces the items it names and keeps the others
        store.save_preannotations([2, 5], ["owl", "owl"], source="second model")
        store = store_factory.reopen(store)
        pre = store.preannotations()
        assert list(pre.columns) == ["item_id", "label", "score", "source"]
        assert pre["item_id"].tolist() == [0, 2, 5]
        assert pre["label"].tolist() == ["cat", "owl", "owl"]
        assert pre["source"].tolist() == ["resnet", "second model", "second model"]
        assert np.isnan(pre["score"]).tolist() == [True, True, True]
        assert len(store.labels()) == 1
        store.close()


def test_preannotations_bad_input_saves_nothing(store_factory):
    with new_store(store_factory, 4, multi_label=True) as store:
        store.save_preannotations([0], [["cat", "owl"]], source="m")
        assert store.preannotation(0)[0] == "cat|owl"
        before = store.preannotations()
        with pytest.raises(InvalidInput, match="horse"):
            store.save_preannotations([1, 2], [["dog"], ["horse"]])
        with pytest.raises(InvalidInput, match="twice"):
            store.save_preannotations([1, 1], [["dog"], ["dog"]])
        with pytest.raises(UnknownItem):
            store.save_preannotations([1, 9], [["dog"], ["dog"]])
        with pytest.raises(InvalidInput, match="finite"):
            store.save_preannotations([1], [["dog"]], [float("inf")])
        with pytest.raises(InvalidInput, match="source"):
            store.save_preannotations([1], [["dog"]], source="")
        with pytest.raises(InvalidInput, match="match"):
            store.save_preannotations([1, 2], [["dog"]])
        pd.testing.assert_frame_equal(store.preannotations(), before)


__all__ = [name for name in list(globals()) if name.startswith("test_")] + ["FakeClock", "image_batch"]
