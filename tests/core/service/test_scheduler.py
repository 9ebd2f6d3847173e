"""A project's retrains: retrain_project, the model snapshot, the background scheduler, the cold start."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest

from superintendent_core.data.demo import digits_batch
from superintendent_core.learning.learner import TrainingError
from superintendent_core.learning.models import DEFAULT_MODEL
from superintendent_core.learning.training import (
    PoolBuffer,
    RetrainScheduler,
    cold_start_project,
    retrain_project,
    run_retrain,
)
from superintendent_core.store import ProjectSettings, open_store

# --------------------------------------------------------------------------- retrain_project


@pytest.fixture
def digits_store(tmp_path):
    settings = ProjectSettings(name="d", kind="image", classes=tuple(str(i) for i in range(10)))
    store = open_store(tmp_path / "p", settings=settings)
    store.add_items(digits_batch(300))
    yield store
    store.close()


def _label(store, n, labeller="t"):
    for _ in range(n):
        item = store.next_item(labeller)
        store.submit(item, store.true_labels([item])[0], labeller)


def test_retrain_project_sets_the_order_and_the_history(digits_store):
    _label(digits_store, 40)
    result = retrain_project(digits_store, random_state=0)
    assert result.n_labels == 40 and result.score is not None
    pool = digits_store.unlabelled_ids()
    assert sorted(result.order.tolist()) == list(range(len(pool)))
    assert digits_store.next_item("other") == pool[result.order[0]]
    history = digits_store.history()
    assert history["n_labels"].tolist() == [40]
    assert history["model"].tolist() == [DEFAULT_MODEL]


def test_retrain_project_is_reproducible(digits_store):
    _label(digits_store, 30)
    digits_store.update_settings(shuffle_prop=0.3, strategy="margin")
    a = retrain_project(digits_store, random_state=7).order
    b = retrain_project(digits_store, random_state=7).order
    np.testing.assert_array_equal(a, b)


def test_every_retrain_saves_its_suggestions_in_the_store(digits_store):
    _label(digits_store, 40)
    snapshot = run_retrain(digits_store, random_state=0, source="orchestrate")
    stored = digits_store.suggestions()
    assert snapshot.stored_version == stored.version == digits_store.suggestions_version() == 1
    np.testing.assert_array_equal(stored.ids, snapshot.pool_ids)
    assert stored.labels.tolist() == snapshot.pool_labels.tolist()
    np.testing.assert_allclose(stored.probabilities, snapshot.pool_probability)
    assert stored.meta["by"] == "orchestrate" and stored.meta["n_labels"] == 40
    retrain_project(digits_store, random_state=0)
    assert digits_store.suggestions_version() == 2 and digits_store.suggestions().meta["by"] == "app"


def test_scheduler_shows_the_newest_suggestions_its_own_or_another_processes(digits_store):
    scheduler = RetrainScheduler(digits_store, random_state=0)
    assert scheduler.suggestions() is None and scheduler.suggestion(100) is None  # "No model yet"
    _label(digits_store, 40)
    own = scheduler.run()
    pool = own.pool_ids
    assert scheduler.suggestions() is own and scheduler.suggestion(int(pool[0])) == own.suggestion(int(pool[0]))
    # another process (orchestrate) saves newer suggestions: they win over this process's snapshot
    digits_store.save_suggestions(pool, ["7"] * len(pool), np.full(len(pool), 0.25), {"by": "orchestrate"})
    assert scheduler.suggestion(int(pool[0])) == ("7", 0.25)
    first = scheduler.suggestions()
    assert scheduler.suggestions() is first  # read once per version, not on every rerun
    # this process retrains again: its snapshot is the newest once more
    again = scheduler.run()
    assert again.stored_version == 3 and scheduler.suggestions() is again


def test_snapshot_suggestions_and_opinions(digits_store):
    _label(digits_store, 40)
    snap = run_retrain(digits_store, random_state=0)
    pool = digits_store.unlabelled_ids()
    label, p = snap.suggestion(int(pool[0]))
    assert label in digits_store.settings.classes and 0 <= p <= 1
    assert snap.suggestion(int(snap.labelled_ids[0])) is None
    opinions = snap.opinion_of(np.r_[snap.labelled_ids[:3], pool[:2], [10_000]])
    assert opinions[-1] is None and all(o is not None for o in opinions[:-1])
    true = digits_store.true_labels(pool)
    assert np.mean(snap.pool_labels == true) > 0.6


def test_retrain_errors_are_readable(digits_store):
    with pytest.raises(TrainingError, match="No labels"):
        retrain_project(digits_store)
    item = digits_store.next_item("t")
    digits_store.submit(item, "3", "t")
    with pytest.raises(TrainingError, match="at least 2 classes"):
        retrain_project(digits_store)
    assert len(digits_store.history()) == 0


# --------------------------------------------------------------------------- scheduler


class _FakeRunner:
    """Counts calls; blocks until released, so tests can see 'running' without sleeping."""

    def __init__(self):
        self.calls = 0
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, store, *, random_state=None, version=1, progress=None):
        self.calls += 1
        self.started.set()
        self.release.wait(30)
        return run_retrain(store, random_state=random_state, version=version)


def test_scheduler_retrains_every_n_labels_one_at_a_time(digits_store):
    digits_store.update_settings(retrain_every=10)
    runner = _FakeRunner()
    scheduler = RetrainScheduler(digits_store, runner=runner)
    _label(digits_store, 9)
    assert scheduler.notify(9) is False
    _label(digits_store, 1)
    assert scheduler.notify(10) is True
    assert runner.started.wait(30)
    assert scheduler.running
    _label(digits_store, 15)
    assert scheduler.notify(25) is False  # one retrain at a time
    runner.release.set()
    assert scheduler.wait(60)
    assert runner.calls == 1 and scheduler.snapshot.version == 1
    assert scheduler.snapshot.result.n_labels == 25  # it read the labels when it ran
    assert scheduler.notify(25) is False  # so nothing is due until 10 more
    _label(digits_store, 10)
    assert scheduler.notify(35) is True
    assert scheduler.wait(60)
    assert runner.calls == 2 and scheduler.snapshot.result.n_labels == 35


def test_scheduler_without_interval_never_starts(digits_store):
    scheduler = RetrainScheduler(digits_store)
    assert scheduler.notify(1000) is False
    assert scheduler.version == 0


def test_scheduler_keeps_the_error_of_a_failed_background_retrain(digits_store):
    digits_store.update_settings(retrain_every=2)
    scheduler = RetrainScheduler(digits_store)
    for _ in range(2):
        item = digits_store.next_item("t")
        digits_store.submit(item, "1", "t")
    assert scheduler.notify(2)
    assert scheduler.wait(60)
    assert "at least 2 classes" in scheduler.error
    assert scheduler.snapshot is None


def test_concurrent_notifies_start_one_retrain(digits_store):
    digits_store.update_settings(retrain_every=5)
    runner = _FakeRunner()
    scheduler = RetrainScheduler(digits_store, runner=runner)
    _label(digits_store, 10)
    started = []
    barrier = threading.Barrier(8)

    def hit():
        barrier.wait()
        started.append(scheduler.notify(10))

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runner.release.set()
    assert scheduler.wait(60)
    assert started.count(True) == 1 and runner.calls == 1


# --------------------------------------------------------------------------- cold start


def test_cold_start_project_serves_representative_items_first(digits_store):
    from superintendent_core.strategies.coverage import coverage_order

    pool = digits_store.unlabelled_ids()
    ordered = cold_start_project(digits_store, random_state=0)
    assert sorted(ordered.tolist()) == pool.tolist()
    assert digits_store.revision().order == 1
    expected = pool[coverage_order(digits_store.features(pool), random_state=0)]
    np.testing.assert_array_equal(ordered, expected)
    served = []
    for _ in range(10):
        item = digits_store.next_item("t")
        served.append(item)
        digits_store.submit(item, digits_store.true_labels([item])[0], "t")
    assert served == ordered[:10].tolist()
    assert len(set(digits_store.true_labels(served))) >= 8  # ten labels already span the classes


def test_scheduler_cold_starts_a_never_ordered_project_once(digits_store):
    scheduler = RetrainScheduler(digits_store, random_state=0)
    assert scheduler.warm_up() is True
    assert scheduler.warm_up() is False  # once per scheduler, cheap afterwards
    assert scheduler.wait(60)
    assert scheduler.cold_start_error is None
    assert digits_store.revision().order == 1
    assert not scheduler.running and scheduler.version == 0  # not a retrain
    first = cold_start_project(digits_store, random_state=0)[0]
    assert digits_store.next_item("someone") == first


def test_warm_up_leaves_an_ordered_project_without_a_model_alone(digits_store):
    digits_store.set_order(np.arange(len(digits_store))[::-1])  # e.g. ordered by another tool
    scheduler = RetrainScheduler(digits_store, random_state=0)
    assert scheduler.warm_up()
    assert scheduler.wait(60)
    assert digits_store.revision().order == 1 and scheduler.snapshot is None
    assert digits_store.next_item("other") == len(digits_store) - 1


def test_warm_up_brings_a_retrained_projects_model_back(digits_store):
    """After a restart (a new scheduler) the model comes back: same labels, same order."""
    _label(digits_store, 30)
    order = retrain_project(digits_store, random_state=0).order
    scheduler = RetrainScheduler(digits_store, random_state=0)
    assert scheduler.snapshot is None
    assert scheduler.warm_up()
    assert scheduler.wait(60)
    assert scheduler.error is None and scheduler.snapshot is not None
    assert scheduler.snapshot.result.n_labels == 30
    np.testing.assert_array_equal(scheduler.snapshot.result.order, order)
    pool = digits_store.unlabelled_ids()
    assert scheduler.snapshot.suggestion(int(pool[0])) is not None
    assert len(digits_store.history()) == 2


def test_a_failed_cold_start_is_reported_and_changes_nothing(digits_store):
    class Broken:
        def __init__(self, store):
            self._store = store

        def __getattr__(self, name):
            return getattr(self._store, name)

        def features(self, ids):
            raise OSError("disk gone")

    scheduler = RetrainScheduler(Broken(digits_store))
    assert scheduler.warm_up()
    assert scheduler.wait(60)
    assert "disk gone" in scheduler.cold_start_error
    assert digits_store.revision().order == 0
    assert not scheduler.running


def test_cold_start_of_a_text_project_is_a_seeded_shuffle(tmp_path):
    from superintendent_core.store import ItemBatch

    settings = ProjectSettings(name="t", kind="text", classes=("a", "b"), feature_kind="text")
    with open_store(tmp_path / "t", settings=settings) as store:
        texts = [f"text number {i}" for i in range(50)]
        store.add_items(ItemBatch(names=tuple(f"r{i}" for i in range(50)), kind="text", features=texts, payloads=texts))
        ordered = cold_start_project(store, random_state=0)
        assert sorted(ordered.tolist()) == list(range(50)) and ordered.tolist() != list(range(50))


@pytest.mark.parametrize("strategy", [None, "margin"])
def test_the_second_batch_still_spans_the_classes(digits_store, strategy):
    """After the cold start's ten labels, the default's next batch spans the classes.

    Margin, from a model with one label per class, crowds its batch into a few confused classes.
    """
    if strategy:
        digits_store.update_settings(strategy=strategy)
    cold_start_project(digits_store, random_state=0)
    _label(digits_store, 10)
    retrain_project(digits_store, random_state=0)
    batch = []
    for _ in range(10):
        item = digits_store.next_item("t")
        batch.append(digits_store.true_labels([item])[0])
        digits_store.submit(item, batch[-1], "t")
    if strategy is None:
        assert len(set(batch)) >= 7, batch
    else:
        assert len(set(batch)) <= 5, batch


def test_below_two_labels_per_class_a_project_retrain_continues_the_coverage(digits_store):
    """Through the store and the learner: the labelled items reach the strategy, which keeps covering."""
    from superintendent_core.strategies.coverage import coverage_continuation

    cold_start_project(digits_store, random_state=0)
    _label(digits_store, 10)
    _, X, _ = digits_store.training_data()
    pool = digits_store.unlabelled_ids()
    expected = coverage_continuation(digits_store.features(pool), np.asarray(X), 10, random_state=0)
    assert 1 <= expected.size  # (a 290-item pool: the pool is used whole, so the seed does not matter)
    order = retrain_project(digits_store, random_state=0).order
    np.testing.assert_array_equal(order[: expected.size], expected)
    assert len(set(order[:10].tolist())) == 10  # filled up to the batch when coverage runs out


@pytest.mark.parametrize("kind", ["array", "table", "text"])
def test_read_features_in_chunks_is_one_call(tmp_path, kind):
    """A retrain reads the pool a chunk at a time (so clicks do not wait); the value is the same."""
    import pandas as pd

    from superintendent_core.data.tables import table_batch
    from superintendent_core.learning.training import read_features

    if kind == "array":
        batch = digits_batch(300)
    else:
        rng = np.random.default_rng(0)
        df = pd.DataFrame(rng.normal(size=(300, 3)).astype(np.float32), columns=["a", "b", "c"])
        df["text"] = [f"row {i}" for i in range(300)]
        batch = table_batch(df, kind=kind, display_columns=["text"], feature_columns=None if kind == "text"
                            else ["a", "b", "c"])
    store = open_store(tmp_path / kind, settings=ProjectSettings(name=kind, kind="image" if kind == "array"
                                                                 else kind, classes=("x", "y")))
    try:
        store.add_items(batch)
        ids = np.r_[np.arange(0, 300, 7), [5, 3, 299]]
        whole = store.features(ids)
        for chunk in (1, 10, 1000):
            got = read_features(store, ids, chunk=chunk)
            if isinstance(whole, pd.DataFrame):
                pd.testing.assert_frame_equal(got, whole)
            elif isinstance(whole, np.ndarray):
                np.testing.assert_array_equal(got, whole)
                assert got.dtype == whole.dtype
            else:
                assert got == whole
    finally:
        store.close()


@pytest.mark.skipif(not hasattr(os, "getpriority") or sys.platform != "linux", reason="per-thread nice is Linux's")
def test_background_work_runs_at_a_lower_priority_than_the_app(digits_store):
    """Automatic retrains and the warm-up run below the threads that serve clicks; "Retrain now" does not."""
    import threading

    seen = []

    def runner(store, **kwargs):
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        raise RuntimeError("recorded")

    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    scheduler = RetrainScheduler(digits_store, runner=runner)
    assert scheduler.request()
    scheduler.wait(30)
    with pytest.raises(RuntimeError):
        scheduler.run()  # the caller's thread: its own priority, unchanged
    assert seen[0] == min(19, mine + 5) and seen[1] == mine
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine


def test_read_features_into_a_pool_buffer_reuses_its_memory(tmp_path):
    """The scheduler's buffer: the same values as a new array, the same memory from one read to the next."""
    import pandas as pd

    from superintendent_core.data.tables import table_batch
    from superintendent_core.learning.training import read_features

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(300, 3)).astype(np.float32), columns=["a", "b", "c"])
    df["text"] = [f"row {i}" for i in range(300)]
    batch = table_batch(df, kind="table", display_columns=["text"], feature_columns=["a", "b", "c"])
    store = open_store(tmp_path / "t", settings=ProjectSettings(name="t", kind="table", classes=("x", "y")))
    try:
        store.add_items(batch)
        buffer = PoolBuffer()
        pool = np.setdiff1d(np.arange(300), [3, 150])
        first = read_features(store, pool, chunk=64, buffer=buffer)
        pd.testing.assert_frame_equal(first, store.features(pool))
        kept = buffer.nbytes
        assert kept == len(pool) * 3 * 4
        smaller = np.setdiff1d(pool, [10, 11])  # the pool after two more labels: the same memory
        second = read_features(store, smaller, chunk=64, buffer=buffer)
        pd.testing.assert_frame_equal(second, store.features(smaller))
        assert np.shares_memory(first.to_numpy(), second.to_numpy()) and buffer.nbytes == kept
        whole = read_features(store, np.arange(300), chunk=64, buffer=buffer)  # larger: new memory
        pd.testing.assert_frame_equal(whole, store.features(np.arange(300)))
        assert buffer.nbytes == 300 * 3 * 4
        buffer.release()
        assert buffer.nbytes == 0
    finally:
        store.close()


def test_pool_buffer_makes_new_memory_for_another_width_or_dtype():
    buffer = PoolBuffer()
    a = buffer.take((10, 4), np.float32)
    assert a.shape == (10, 4) and a.dtype == np.float32
    assert np.shares_memory(buffer.take((8, 4), np.float32), a)
    assert not np.shares_memory(buffer.take((8, 5), np.float32), a)
    b = buffer.take((8, 5), np.float64)
    assert b.dtype == np.float64 and b.shape == (8, 5)


def test_scheduler_retrains_give_what_a_retrain_without_the_buffer_gives(digits_store, monkeypatch):
    """The kept pool memory changes no result: the same order, suggestions and estimate as a plain retrain."""
    from superintendent_core.learning import training

    monkeypatch.setattr(training, "FEATURE_CHUNK", 64)  # the digits' pool is read in several chunks
    _label(digits_store, 40)
    scheduler = RetrainScheduler(digits_store, random_state=0)
    assert scheduler.pool_buffer.nbytes == 0
    snapshots = [scheduler.run()]
    assert scheduler.pool_buffer.nbytes > 0
    _label(digits_store, 5)
    snapshots.append(scheduler.run())
    plain = run_retrain(digits_store, random_state=0)
    for got in (snapshots[1], plain):
        assert got.pool_ids.tolist() == digits_store.unlabelled_ids().tolist()
    np.testing.assert_array_equal(snapshots[1].result.order, plain.result.order)
    np.testing.assert_array_equal(snapshots[1].pool_probability, plain.pool_probability)
    assert snapshots[1].pool_labels.tolist() == plain.pool_labels.tolist()
    assert snapshots[1].estimate.to_entry() == plain.estimate.to_entry()


def test_the_snapshot_seconds_cover_the_writes(digits_store, monkeypatch):
    """The app's "Retrained on ... in X s" is the whole retrain: the order, suggestions and history writes too."""
    import time

    _label(digits_store, 30)
    slow = 0.3
    for name in ("set_order", "record_retrain"):
        original = getattr(digits_store, name)

        def delayed(*args, _original=original, **kwargs):
            time.sleep(slow)
            return _original(*args, **kwargs)

        monkeypatch.setattr(digits_store, name, delayed)
    snapshot = run_retrain(digits_store, random_state=0)
    recorded = float(digits_store.history()["seconds"].iloc[-1])
    assert snapshot.seconds >= recorded + 2 * slow


def test_a_failed_suggestions_write_fails_the_retrain(digits_store, monkeypatch):
    """The suggestions are written beside the order, in another thread: its error still reaches the caller."""
    from superintendent_core.store import StoreError

    _label(digits_store, 30)

    def refuse(*args, **kwargs):
        raise StoreError("disk full")

    monkeypatch.setattr(digits_store, "save_suggestions", refuse)
    with pytest.raises(StoreError, match="disk full"):
        run_retrain(digits_store, random_state=0)
    assert len(digits_store.history()) == 0  # no history entry for a retrain whose writes failed


def test_a_scheduler_that_keeps_no_pool_memory_retrains_the_same(digits_store):
    _label(digits_store, 40)
    kept = RetrainScheduler(digits_store, random_state=0).run()
    plain = RetrainScheduler(digits_store, random_state=0, keep_pool=False)
    assert plain.pool_buffer is None
    np.testing.assert_array_equal(plain.run().result.order, kept.result.order)
