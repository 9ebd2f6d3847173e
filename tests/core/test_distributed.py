"""Scoring the pool on a Dask cluster gives the single-process retrain's order, on every backend.

One real ``LocalCluster(n_workers=3, processes=True, threads_per_worker=1)`` for the
module; projects of a few thousand items, cut into partitions of a few hundred so
every retrain runs several tasks on several workers.
"""

from __future__ import annotations

import socket
import sys

import numpy as np
import pytest

pytest.importorskip("distributed", reason="dask[distributed] is in requirements-test.txt")

import cloudpickle  # noqa: E402  (comes with distributed)
import dask  # noqa: E402
import dask_faults  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from fresh_python import run_fresh  # noqa: E402
from sql_helpers import POSTGRES_URL, drop_schemas, fresh_schema, postgres_available, require  # noqa: E402

from superintendent_core.learning.distributed import (  # noqa: E402
    DaskScorer,
    DistributedError,
    connect,
    feature_source,
    run_retrain_distributed,
)
from superintendent_core.learning.training import run_retrain  # noqa: E402
from superintendent_core.orchestrate import EXIT_ERROR, EXIT_OK, main, retrain_once  # noqa: E402
from superintendent_core.store import ItemBatch, ProjectSettings, open_store  # noqa: E402
from superintendent_core.store.sql import SQLStore  # noqa: E402

cloudpickle.register_pickle_by_value(dask_faults)

N_ITEMS = 3000
N_FEATURES = 64
CLASSES = ("a", "b", "c")
PARTITION = 700  # 3000 unlabelled-ish items: 5 tasks, the last one short


@pytest.fixture(scope="module", autouse=True)
def _plain_main():
    """Worker processes start with multiprocessing's spawn, which re-runs ``__main__`` from its file.

    Streamlit's AppTest (tests/app, earlier in a full run) leaves ``__main__`` pointing at a
    temporary script of its own, which a worker cannot run ("Nanny failed to start"). The
    workers need nothing from ``__main__``: give them a bare one while this module runs.
    """
    import sys
    import types

    saved = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = saved


@pytest.fixture(scope="module")
def client(_plain_main):
    # A task may kill one worker and be retried; a second death fails it (default: 3 more tries,
    # each a worker restart, slow on a loaded machine).
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(n_workers=3, processes=True, threads_per_worker=1, dashboard_address=":0")
        c = Client(cluster)
        try:
            yield c
        finally:
            c.close()
            cluster.close()


def _data(seed: int = 0, n_items: int = N_ITEMS):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.5, size=(len(CLASSES), N_FEATURES))
    y = rng.integers(0, len(CLASSES), size=n_items)
    X = (centres[y] + rng.normal(size=(n_items, N_FEATURES))).astype(np.float32)
    X[::97] = X[5]  # exact duplicates across partitions: tied keys, broken by item id
    return X, np.asarray(CLASSES, dtype=object)[y]


def _fill(store, *, kind: str = "image", n_labels: int = 80, n_items: int = N_ITEMS) -> None:
    X, y = _data(n_items=n_items)
    names = tuple(f"i{i}" for i in range(n_items))
    if kind == "table":
        import pandas as pd

        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(N_FEATURES)])
        store.add_items(ItemBatch(names=names, kind="table", features=frame,
                                  payloads=[{"row": i} for i in range(n_items)], true_labels=list(y)))
    else:
        store.add_items(ItemBatch(names=names, kind="image", features=X, image_shape=(8, 8),
                                  pixel_max=4.0, true_labels=list(y)))
    for i in range(n_labels):
        store.submit(i, y[i], "ann")


def _settings(strategy: str = "margin", **kw) -> ProjectSettings:
    base = dict(classes=CLASSES, model="logistic_regression", strategy=strategy, shuffle_prop=0.1,
                retrain_every=10, random_state=7)
    return ProjectSettings(**(base | kw))


@pytest.fixture(params=["folder", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request):
    return request.param


@pytest.fixture
def make_project(tmp_path):
    """``make_project(backend, settings, kind=...)`` -> an open store, filled and labelled (closed after)."""
    schemas: list[str] = []
    stores = []

    def make(backend: str, settings: ProjectSettings, kind: str = "image"):
        n = len(stores)
        if backend == "folder":
            store = open_store(tmp_path / f"proj{n}", settings=settings)
        elif backend == "sqlite":
            store = open_store(f"sqlite:///{tmp_path / f'proj{n}.db'}", settings=settings)
        else:
            require(postgres_available(), "PostgreSQL")
            schemas.append(fresh_schema())
            store = SQLStore(POSTGRES_URL, settings=settings, schema=schemas[-1])
        stores.append(store)
        _fill(store, kind=kind)
        return store

    yield make
    for store in stores:
        store.close()
    drop_schemas(schemas)


def _label_served(store, n: int = 30) -> None:
    """Label what the store serves (audit slots included, so the estimate has records)."""
    _, y = _data()
    for _ in range(n):
        item = store.next_item("bob")
        store.submit(item, y[item], "bob")


def _assert_same(single, dist, exact_audit: bool = True) -> None:
    a, b = single.result, dist.result
    np.testing.assert_array_equal(a.order, b.order)
    assert (a.audit is None) == (b.audit is None)
    if a.audit is not None:
        np.testing.assert_array_equal(a.audit.ids, b.audit.ids)
        if exact_audit:
            np.testing.assert_array_equal(a.audit.probability, b.audit.probability)
        else:
            # The same draws; their probabilities to rounding. On one machine (session 11) the pool's
            # 1 - margin from predict_proba over partitions of 333 or 973 rows did not equal the whole
            # pool's in the last bits (their sums differed by 2e-11 and 4e-11 relative; BLAS picks its
            # kernel by row count and CPU), nor, then, the proposal's normalising sum: the audit
            # probabilities differed by 2e-13 relative. With one partition they were bit-identical.
            np.testing.assert_allclose(a.audit.probability, b.audit.probability, rtol=1e-10, atol=0)
        np.testing.assert_array_equal(a.audit.support, b.audit.support)
    np.testing.assert_array_equal(single.pool_ids, dist.pool_ids)
    assert single.pool_labels.tolist() == dist.pool_labels.tolist()
    np.testing.assert_array_equal(single.pool_probability, dist.pool_probability)
    assert single.opinions.tolist() == dist.opinions.tolist()
    assert a.score == b.score and a.cv_folds == b.cv_folds and a.strategy == b.strategy
    assert (a.estimate is None) == (b.estimate is None)
    if a.estimate is not None:
        assert a.estimate.to_entry() == b.estimate.to_entry()


def _compare(store, client, **scorer_kw):
    """The single-process retrain and the distributed one, on the same labels and seed."""
    single = run_retrain(store, source="orchestrate")
    revision = store.revision().order
    dist = run_retrain_distributed(store, DaskScorer(client, partition_rows=PARTITION, **scorer_kw))
    assert store.revision().order > revision  # it wrote its order
    _assert_same(single, dist)
    return single, dist


def test_same_order_as_single_process_on_every_backend(backend, make_project, client):
    store = make_project(backend, _settings("margin"))
    first, _ = _compare(store, client)
    assert first.result.audit is not None and len(first.result.audit.ids)  # the audit draws were compared
    _label_served(store)  # served items, audit slots among them: the estimate now has records
    _, dist = _compare(store, client)
    assert dist.estimate is not None and dist.estimate.n_audited > 0
    assert store.history()["by"].tolist()[-1] == "orchestrate"


@pytest.mark.parametrize(
    ("n_labels", "n_items"),
    [(4, N_ITEMS), (20, N_ITEMS), (80, N_ITEMS), (20, 900)],
    ids=["coverage-continues", "neighbourhood-average", "handed-over", "small-pool"],
)
@pytest.mark.parametrize("where", ["folder", "sqlite"])
def test_the_default_neighbourhood_strategy_gives_the_same_order(tmp_path, client, where, n_labels, n_items):
    """Every regime of the default strategy: its sampled rows are read on the workers, the rest never."""
    location = tmp_path / "p" if where == "folder" else f"sqlite:///{tmp_path / 'p.db'}"
    store = open_store(location, settings=_settings(None))
    _fill(store, n_labels=n_labels, n_items=n_items)
    _, dist = _compare(store, client)
    pool = n_items - n_labels
    read = dist.result.timings["rows_read"]
    assert 0 < read <= pool and (read < pool / 2 if pool > 2000 else True)  # a sample, not the pool
    store.update_settings(strategy="margin")
    margin_order = run_retrain(store).result.order
    assert not np.array_equal(margin_order[:10], dist.result.order[:10])  # the features did matter
    store.close()


@pytest.mark.parametrize("strategy", ["entropy", "certainty", "random"])
def test_every_supported_strategy_gives_the_same_order(make_project, client, strategy):
    # Strategies are backend-independent (the backends are covered by the margin test).
    store = make_project("sqlite", _settings(strategy, shuffle_prop=0.0))
    _compare(store, client)


@pytest.mark.parametrize("where", ["folder", "sqlite"])
def test_table_features_read_on_workers(make_project, client, where):
    # PostgreSQL's table features go through the same SQLStore.features as SQLite's.
    store = make_project(where, _settings("margin"), kind="table")
    _compare(store, client)


def test_ties_are_broken_by_item_id_across_partitions(make_project, client):
    store = make_project("folder", _settings("margin", shuffle_prop=0.0, audit_share=0.0))
    single, dist = _compare(store, client)
    pool = dist.pool_ids
    order = pool[dist.result.order]
    duplicates = set(np.arange(0, N_ITEMS, 97).tolist()) | {5}
    tied = [i for i in order.tolist() if i in duplicates and i in set(pool.tolist())]
    assert len(tied) > 20 and tied == sorted(tied)  # identical rows, identical keys: by id, in every partition


def test_partition_sizes_do_not_change_the_order(tmp_path, client):
    store = open_store(tmp_path / "p", settings=_settings("margin"))
    _fill(store)
    single = run_retrain(store)
    for rows in (333, 973, 10_000):  # 2920 pool items = 3 x 973 + 1: the one-row remainder joins the last
        dist = run_retrain_distributed(store, DaskScorer(client, partition_rows=rows))
        _assert_same(single, dist, exact_audit=rows >= 2920)  # one partition: bit-identical
    assert DaskScorer(client, partition_rows=5).partitions(11) == [(0, 5), (5, 11)]  # never one row alone
    store.close()


def _nothing_written(store, history_len: int, revision) -> None:
    assert len(store.history()) == history_len
    assert store.revision().order == revision.order


def test_a_user_strategy_is_refused_before_anything_is_written(tmp_path, client):
    from superintendent_core.strategies import margin, register_strategy
    from superintendent_core.strategies.registry import STRATEGIES

    register_strategy("reversed_margin_for_test", lambda p: margin(p)[::-1])
    try:
        store = open_store(tmp_path / "p", settings=_settings("reversed_margin_for_test"))
        _fill(store)
        revision = store.revision()
        with pytest.raises(DistributedError, match="'reversed_margin_for_test' cannot be scored distributed.*margin"):
            run_retrain_distributed(store, DaskScorer(client))
    finally:
        STRATEGIES.pop("reversed_margin_for_test", None)
    report_store_history = len(store.history())
    _nothing_written(store, report_store_history, revision)
    assert report_store_history == 0
    store.close()


def test_multi_label_is_refused(tmp_path, client):
    store = open_store(tmp_path / "p", settings=_settings("margin", multi_label=True))
    with pytest.raises(DistributedError, match="multi-label"):
        run_retrain_distributed(store, DaskScorer(client))
    store.close()


def test_a_project_on_a_feature_set_is_refused_before_anything_is_written(tmp_path, client):
    store = open_store(tmp_path / "p", settings=_settings("margin"))
    _fill(store)
    n = len(store)
    store.write_feature_set("mine", np.arange(n), np.random.default_rng(0).random((n, 3), dtype=np.float32))
    store.update_settings(feature_set="mine")
    revision = store.revision()
    with pytest.raises(DistributedError, match="feature set 'mine'"):
        run_retrain_distributed(store, DaskScorer(client))
    _nothing_written(store, 0, revision)
    store.close()


def test_in_memory_sqlite_cannot_be_reached_by_workers():
    store = SQLStore("sqlite://", settings=_settings("margin"))
    with pytest.raises(DistributedError, match="in-memory"):
        feature_source(store)
    store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_that_does_not_answer_is_a_message_and_no_retrain(tmp_path, capsys):
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(DistributedError, match="does not answer"):
        connect(address, timeout=1)
    db = tmp_path / "p.db"
    with open_store(f"sqlite:///{db}", settings=_settings("margin")) as store:
        _fill(store)
    status = main(["--database-url", f"sqlite:///{db}", "--dask-scheduler", address, "--dask-timeout", "1"])
    err = capsys.readouterr().err
    assert status == EXIT_ERROR
    assert f"The Dask scheduler at {address} does not answer" in err and "Traceback" not in err
    with SQLStore(f"sqlite:///{db}", create=False) as store:
        assert len(store.history()) == 0 and store.revision().order == 0


def test_the_command_scores_on_a_cluster(tmp_path, client, capsys):
    db = tmp_path / "p.db"
    with open_store(f"sqlite:///{db}", settings=_settings("margin")) as store:
        _fill(store)
        single = run_retrain(store, source="app")
    status = main(["--database-url", f"sqlite:///{db}", "--dask-scheduler", client.scheduler.address,
                   "--dask-partition-rows", "500"])
    assert status == EXIT_OK, capsys.readouterr().err
    assert "retrained on 80 labels" in capsys.readouterr().out
    with SQLStore(f"sqlite:///{db}", create=False) as store:
        history = store.history()
        assert history["by"].tolist() == ["app", "orchestrate"]
        saved = store.suggestions()
        probe = int(single.pool_ids[17])
        assert saved.suggestion(probe) == single.suggestion(probe)


def test_the_command_starts_a_local_cluster(tmp_path, capsys):
    db = tmp_path / "p.db"
    with open_store(f"sqlite:///{db}", settings=_settings("certainty")) as store:
        _fill(store)
    status = main(["--database-url", f"sqlite:///{db}", "--dask-local", "1"])
    assert status == EXIT_OK, capsys.readouterr().err
    with SQLStore(f"sqlite:///{db}", create=False) as store:
        assert store.history()["by"].tolist() == ["orchestrate"]
    assert main(["--database-url", f"sqlite:///{db}", "--dask-local", "0"]) == EXIT_ERROR
    assert "--dask-local must be 1 or more" in capsys.readouterr().err


def test_retrain_once_takes_a_scorer_and_reports_refusals(tmp_path, client):
    store = open_store(tmp_path / "p", settings=_settings("entropy"))
    _fill(store)
    report = retrain_once(store, random_state=3, scorer=DaskScorer(client, partition_rows=PARTITION))
    assert report.ok and "retrained on 80 labels" in report.message
    store.update_settings(multi_label=True)
    with pytest.raises(DistributedError, match="multi-label"):
        retrain_once(store, scorer=DaskScorer(client))
    assert len(store.history()) == 1
    store.close()


def test_a_worker_dying_mid_score_is_retried_by_dask_and_the_order_is_the_same(tmp_path, client):
    store = open_store(tmp_path / "p", settings=_settings("margin"))
    _fill(store)
    single = run_retrain(store)
    marker = tmp_path / "died"
    source = dask_faults.DiesOnce(feature_source(store), str(marker))
    dist = run_retrain_distributed(store, DaskScorer(client, partition_rows=PARTITION, source=source))
    assert marker.exists()  # a worker did die
    _assert_same(single, dist)
    store.close()


def test_workers_that_keep_dying_fail_the_retrain_and_write_nothing(tmp_path, client):
    store = open_store(tmp_path / "p", settings=_settings("margin"))
    _fill(store)
    run_retrain(store)
    revision, n_history = store.revision(), len(store.history())
    deaths = tmp_path / "deaths"
    deaths.mkdir()
    source = dask_faults.AlwaysDies(str(deaths))
    with pytest.raises(DistributedError, match="Workers died while scoring"):
        run_retrain_distributed(store, DaskScorer(client, partition_rows=N_ITEMS, source=source))
    assert len(list(deaths.iterdir())) == 2  # retried once on another worker, then given up
    _nothing_written(store, n_history, revision)
    store.close()


def test_a_task_error_names_it_and_writes_nothing(tmp_path, client):
    store = open_store(tmp_path / "p", settings=_settings("margin"))
    _fill(store)
    revision = store.revision()
    source = dask_faults.WrongWidth(feature_source(store))
    with pytest.raises(DistributedError, match="failed on a worker: ValueError: .*features"):
        run_retrain_distributed(store, DaskScorer(client, partition_rows=PARTITION, source=source))
    _nothing_written(store, 0, revision)
    store.close()


@pytest.mark.parametrize("address", ["not-an-address", "tcp://", "http://127.0.0.1:8787", "tcp://host:port"])
def test_a_malformed_scheduler_address_is_refused_before_connecting(address):
    with pytest.raises(DistributedError, match="is not a Dask scheduler address.*tcp://host:8786"):
        connect(address, timeout=1)


def test_bad_partition_rows_and_arguments_are_refused(client):
    with pytest.raises(DistributedError, match="partition_rows"):
        DaskScorer(client, partition_rows=1).partitions(10)
    with pytest.raises(DistributedError, match="either"):
        connect()
    with pytest.raises(DistributedError, match="1 or more"):
        connect(local_workers=0)


def test_the_engine_imports_and_explains_without_dask():
    code = (
        "import sys\n"
        "for m in ('dask', 'distributed'):\n"
        "    sys.modules[m] = None  # as if not installed\n"
        "import superintendent_core, superintendent_core.orchestrate\n"
        "from superintendent_core.learning import distributed as d\n"
        "from superintendent_core.learning.training import run_retrain\n"
        "try:\n"
        "    d.connect('tcp://127.0.0.1:1')\n"
        "except d.DistributedError as e:\n"
        "    print(e)\n"
    )
    out = run_fresh(code)
    assert "pip install 'superintendent-core[distributed]'" in out
    assert sys.modules.get("distributed") is not None  # this process has it; the fresh one did not
