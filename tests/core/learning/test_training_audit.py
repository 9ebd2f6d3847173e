"""run_retrain and the accuracy estimate's plumbing (issue 12): audit records in, audit draws and estimate out.

The estimate itself is the Learner's (``learning/estimate.py``); here a Learner
that takes ``audited=`` and returns ``audit`` / ``estimate`` is stood in by a
wrapper around the real one, so these tests check only what ``run_retrain`` and
the store do with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from superintendent_core.data.demo import digits_batch
from superintendent_core.learning import learner as learner_module
from superintendent_core.learning.training import (
    audited_rows,
    order_draws,
    retrain_project,
    run_retrain,
)
from superintendent_core.orchestrate import retrain_once
from superintendent_core.store import ProjectSettings, open_store
from superintendent_core.store.audit import AuditDraws


@dataclass(frozen=True)
class FakeEstimate:
    value: float | None = 0.9
    n_audited: int = 0

    def to_entry(self) -> dict:
        return {"estimate": self.value, "estimate_low": 0.8, "estimate_high": 0.95, "estimate_target": "new",
                "estimate_n": self.n_audited, "estimate_note": "from audited labels"}


@dataclass(frozen=True)
class PoolDraws:  # what RetrainResult.audit holds: pool positions
    ids: np.ndarray
    probability: np.ndarray
    support: np.ndarray


@pytest.fixture(params=["folder", "sqlite"])
def store(request, tmp_path):
    settings = ProjectSettings(name="d", kind="image", classes=tuple(str(i) for i in range(10)))
    where = tmp_path / "p" if request.param == "folder" else f"sqlite:///{tmp_path / 'p.db'}"
    store = open_store(where, settings=settings)
    store.add_items(digits_batch(200))
    yield store
    store.close()


@pytest.fixture
def estimating_learner(monkeypatch):
    """Learner.retrain(..., audited=) that draws the 1st and 3rd items of its order and returns an
    estimate; what it was given is kept in ``calls`` (one dict per retrain)."""
    calls: list[dict] = []
    real = learner_module.Learner.retrain

    def retrain(self, X_labelled, y, X_pool, *, audited=None):
        calls.append({"audited": audited})
        result = real(self, X_labelled, y, X_pool)
        result.audit = PoolDraws(np.asarray(result.order)[[0, 2]], np.array([0.5, 0.125]), np.array([40, 40]))
        result.estimate = FakeEstimate(n_audited=0 if audited is None else len(audited))
        return result

    monkeypatch.setattr(learner_module.Learner, "retrain", retrain)
    return calls


def _label(store, n, labeller="t"):
    served = []
    for _ in range(n):
        item = store.next_item(labeller)
        store.submit(item, store.true_labels([item])[0], labeller)
        served.append(item)
    return served


def test_run_retrain_writes_the_draws_with_the_order_and_the_estimate_in_the_history(store, estimating_learner):
    _label(store, 30)
    snap = run_retrain(store, random_state=0)
    assert len(estimating_learner) == 1 and estimating_learner[0]["audited"].empty  # no audited labels yet
    assert snap.estimate == FakeEstimate(n_audited=0)
    # the draws are pool positions (the 1st and 3rd of the order): run_retrain maps them to item ids
    drawn = snap.pool_ids[np.asarray(snap.result.order)[[0, 2]]]
    served = _label(store, 60)
    records = store.audit_records()
    assert sorted(records["item_id"].tolist()) == sorted(set(drawn.tolist()) & set(served))
    assert set(records["item_id"]) == set(drawn.tolist())  # both drawn items were served within 60
    assert records.set_index("item_id").loc[drawn[0], "probability"] == 0.5
    assert (records["seq"] == 30).all()  # 30 labelled items when the order was written
    h = store.history()
    assert h["estimate"].tolist() == [0.9] and h["estimate_target"].tolist() == ["new"]
    assert h["estimate_n"].tolist() == [0] and h["estimate_note"].tolist() == ["from audited labels"]

    snap2 = run_retrain(store, random_state=0)
    audited = estimating_learner[-1]["audited"]
    assert list(audited.columns) == ["row", "probability", "support", "seq"]
    ids, _, _ = store.training_data()
    assert sorted(np.asarray(ids)[audited["row"]].tolist()) == sorted(drawn.tolist())
    assert snap2.estimate.n_audited == 2
    assert store.history()["estimate_n"].tolist() == [0, 2]


def test_with_the_audit_share_at_0_the_orders_carry_no_draws_and_there_is_no_estimate(store):
    store.update_settings(audit_share=0.0)
    _label(store, 60)
    snap = run_retrain(store, random_state=0)
    assert snap.estimate is not None and snap.estimate.value is None  # said, not made up
    _label(store, 10)
    assert len(store.audit_records()) == 0  # the order had no draws


def test_orchestrate_retrains_through_the_same_function(store, estimating_learner):
    _label(store, 30)
    report = retrain_once(store, random_state=0)
    assert report.ok
    assert store.history()["by"].tolist() == ["orchestrate"]
    assert store.history()["estimate"].tolist() == [0.9]
    assert retrain_project(store, random_state=0).n_labels == 30


def test_audited_rows_maps_records_to_training_rows_and_drops_others():
    class Stub:
        def audit_records(self):
            return pd.DataFrame({"item_id": np.array([9, 4, 7], dtype=np.int64),
                                 "probability": [0.5, 0.25, 1.0], "support": np.array([3, 4, 5]),
                                 "seq": np.array([1, 2, 3]), "labeller": ["a", "b", "c"],
                                 "time": [1.0, 2.0, 3.0]})

    rows = audited_rows(Stub(), np.array([7, 2, 9], dtype=np.int64))  # 4 is no longer a training row
    assert rows["row"].tolist() == [0, 2]
    assert rows["probability"].tolist() == [1.0, 0.5]
    assert rows["support"].tolist() == [5, 3] and rows["seq"].tolist() == [3, 1]
    assert audited_rows(Stub(), np.array([1, 2], dtype=np.int64)) is None
    assert audited_rows(Stub(), np.array([], dtype=np.int64)) is None


def test_order_draws_maps_pool_positions_to_item_ids():
    pool = np.array([10, 20, 30, 40], dtype=np.int64)
    got = order_draws(pool, PoolDraws(np.array([3, 0]), np.array([0.5, 1.0]), np.array([4, 4])))
    assert isinstance(got, AuditDraws) and got.ids.tolist() == [40, 10]
    assert order_draws(pool, None) is None
    assert order_draws(pool, PoolDraws(np.array([], dtype=np.int64), np.array([]), np.array([]))) is None




def test_the_projects_default_audit_share_is_the_estimators():
    from superintendent_core.learning.estimate import DEFAULT_AUDIT_SHARE
    from superintendent_core.store import ProjectSettings

    assert ProjectSettings(name="p", kind="image").audit_share == DEFAULT_AUDIT_SHARE
