"""The SQL store beyond the shared contract: URLs, schema versions, compact features, indexes,
counters, overlap, durability under SIGKILL, serving while the order is rewritten."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from forked_python import Zygote
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sql_helpers import POSTGRES_URL, drop_schemas, fresh_schema, postgres_available, require

from superintendent_core.store import (
    InvalidInput,
    ItemBatch,
    ProjectSettings,
    StoreError,
    VersionError,
)
from superintendent_core.store.audit import AuditDraws
from superintendent_core.store.sql import (
    SQLStore,
    is_database_url,
    normalise_url,
)
from superintendent_core.store.sql.schema import SCHEMA_VERSION

CLASSES = ("cat", "dog", "owl")


def batch(n: int, start: int = 0, d: int = 16) -> ItemBatch:
    feats = np.random.default_rng(start).integers(0, 256, size=(n, d)).astype(np.uint8)
    side = int(np.sqrt(d))
    return ItemBatch(
        names=tuple(f"img{start + i}.png" for i in range(n)),
        kind="image",
        features=feats,
        image_shape=(side, side),
        pixel_max=255,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def make(request, tmp_path):
    """``make(**settings) -> SQLStore`` on a fresh SQLite file or PostgreSQL schema; ``make.url/.schema``."""
    schemas: list[str] = []
    stores: list[SQLStore] = []

    def factory(n: int = 0, **kw):
        if request.param == "sqlite":
            url, schema = f"sqlite:///{tmp_path / f'p{len(stores)}.db'}", None
        else:
            require(postgres_available(), "PostgreSQL")
            url, schema = POSTGRES_URL, fresh_schema()
            schemas.append(schema)
        store = SQLStore(url, settings=ProjectSettings(classes=CLASSES, **kw), schema=schema)
        stores.append(store)
        if n:
            store.add_items(batch(n))
        return store

    factory.backend = request.param
    yield factory
    for store in stores:
        store.close()
    drop_schemas(schemas)


def _engine(store: SQLStore) -> sa.Engine:
    return store.engine


# --------------------------------------------------------------------------- URLs


def test_urls_are_normalised():
    url, schema = normalise_url("postgres://u:pw@db.example.org:5432/labels?schema=team_a")
    assert url.drivername == "postgresql+psycopg" and schema == "team_a"
    assert "schema" not in url.query
    assert normalise_url("postgresql://u@h/d")[0].drivername == "postgresql+psycopg"
    assert normalise_url("postgresql+psycopg://u@h/d")[0].drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db") == (sa.engine.make_url("sqlite:///x.db"), None)
    for bad in ("mysql://u@h/d", "not a url", "http://example.org"):
        with pytest.raises(InvalidInput, match="postgresql"):
            normalise_url(bad)
    assert is_database_url("sqlite:///x.db") and is_database_url("postgres://h/d")
    assert not is_database_url("labelling-project") and not is_database_url(None)


def test_bad_schema_names_are_refused(tmp_path):
    with pytest.raises(InvalidInput, match="PostgreSQL"):
        SQLStore(f"sqlite:///{tmp_path / 'x.db'}", schema="abc")
    for bad in ("Robert'); DROP TABLE x;--", "1abc", "a" * 64, "with space"):
        with pytest.raises(InvalidInput, match="not allowed"):
            SQLStore(POSTGRES_URL, schema=bad)


def test_unreachable_database_is_a_readable_error_without_password():
    with pytest.raises(StoreError, match="cannot be reached") as info:
        SQLStore("postgresql://someone:hunter2secret@127.0.0.1:1/nowhere")
    assert "hunter2secret" not in str(info.value)
    assert "127.0.0.1" in str(info.value)


def test_repr_hides_password(tmp_path):
    store = SQLStore(f"sqlite:///{tmp_path / 'x.db'}")
    assert "x.db" in repr(store)
    store.close()
    url, _ = normalise_url("postgresql://u:topsecret@h/d")
    assert "topsecret" not in url.render_as_string(hide_password=True)


# --------------------------------------------------------------------------- schema versions


def test_open_existing_and_create_false(make, tmp_path):
    store = make(3)
    url = store.url.render_as_string(hide_password=False)
    store.close()
    again = SQLStore(url, schema=store.schema, create=False)
    assert len(again) == 3 and again.settings.classes == CLASSES
    again.close()
    if make.backend == "sqlite":
        with pytest.raises(StoreError, match="no labelling project"):
            SQLStore(f"sqlite:///{tmp_path / 'empty.db'}", create=False)


def test_newer_schema_is_refused(make):
    store = make(2)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE si_schema_version SET version = 99")
    url = store.url.render_as_string(hide_password=False)
    store.close()
    with pytest.raises(VersionError, match="newer version"):
        SQLStore(url, schema=store.schema)


def test_damaged_database_is_refused(make):
    store = make(2)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE si_schema_version")
    url = store.url.render_as_string(hide_password=False)
    store.close()
    with pytest.raises(VersionError, match="damaged"):
        SQLStore(url, schema=store.schema)


def test_two_projects_in_one_postgres_database():
    require(postgres_available(), "PostgreSQL")
    a, b = fresh_schema(), fresh_schema()
    try:
        with (
            SQLStore(
                f"{POSTGRES_URL}?schema={a}", settings=ProjectSettings(classes=CLASSES)
            ) as one,
            SQLStore(POSTGRES_URL, schema=b, settings=ProjectSettings(classes=("x", "y"))) as two,
        ):
            one.add_items(batch(3))
            two.add_items(batch(5))
            one.submit(0, "cat", "ann")
            assert (len(one), len(two)) == (3, 5)
            assert two.settings.classes == ("x", "y") and len(two.labels()) == 0
    finally:
        drop_schemas([a, b])


# --------------------------------------------------------------------------- storage


def test_features_are_stored_as_raw_bytes_and_one_item_is_read_alone(make):
    store = make()
    n, d = 5000, 784
    feats = np.zeros((n, d), dtype=np.uint8)
    feats[:, ::7] = np.arange(n, dtype=np.uint8)[:, None]
    store.add_items(
        ItemBatch(
            names=tuple(map(str, range(n))), kind="image", features=feats, image_shape=(28, 28)
        )
    )
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT encoding, dtype, codec, raw_bytes, length(data) FROM si_features"
        ).all()
    assert {r[:3] for r in rows} == {("ndarray", "uint8", "none")}
    assert (
        sum(r[3] for r in rows) == sum(r[4] for r in rows) == n * d
    )  # one byte per pixel, no JSON text
    np.testing.assert_array_equal(store.features([4999, 0]), feats[[4999, 0]].astype(np.float32))
    url = store.url.render_as_string(hide_password=False)
    with SQLStore(url, schema=store.schema, create=False) as fresh:
        png = fresh.item(4321).payload
        assert fresh._cache._size == 0  # drawn from that item's bytes alone, no chunk loaded
    from io import BytesIO

    from PIL import Image

    pixels = np.asarray(Image.open(BytesIO(png))).reshape(-1)
    np.testing.assert_array_equal(pixels, feats[4321])


def test_text_features_are_compressed(make):
    store = make()
    texts = ["the same sentence again and again"] * 3000
    store.add_items(ItemBatch(names=tuple(map(str, range(3000))), kind="text", features=texts))
    with store.engine.connect() as conn:
        codec, raw, stored = conn.exec_driver_sql(
            "SELECT codec, SUM(raw_bytes), SUM(length(data)) FROM si_features GROUP BY codec"
        ).one()
    assert codec == "zstd" and stored < raw / 10
    assert store.features([2999]) == [texts[0]]


def test_next_item_is_an_index_scan(make):
    store = make(50)
    if make.backend == "sqlite":
        with store.engine.connect() as conn:
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + store.d.sql(SQLStore._CANDIDATE),
                {"who": "ann", "now": 0.0, "overlap": 1},
            ).all()
        text = " ".join(str(r[-1]) for r in plan)
    else:
        with store.engine.connect() as conn:
            conn.exec_driver_sql(
                "SET enable_seqscan = off"
            )  # tiny table: ask whether the index can serve
            plan = conn.exec_driver_sql(
                "EXPLAIN " + store.d.sql(SQLStore._CANDIDATE) + " FOR UPDATE OF i SKIP LOCKED",
                {"who": "ann", "now": 0.0, "overlap": 1},
            ).all()
        text = " ".join(r[0] for r in plan)
    assert "ix_si_items_open" in text


# --------------------------------------------------------------------------- counters and overlap


def test_overlap_two_labellers_each(make):
    store = make(4, overlap=2)
    for who in ("ann", "bob"):
        served = []
        while (i := store.next_item(who)) is not None:
            served.append(i)
            store.submit(i, "cat", who)
        assert sorted(served) == [0, 1, 2, 3]  # each labeller gets every item once
    p = store.progress()
    assert (p.labelled, p.done, p.per_labeller) == (4, 4, {"ann": 4, "bob": 4})
    assert store.next_item("cid") is None
    store.update_settings(overlap=3)
    assert store.progress().done == 0 and store.next_item("cid") == 0
    store.update_settings(overlap=1)
    assert store.progress().done == 4
    assert store.check() == []


_ops = st.lists(
    st.tuples(
        st.sampled_from(["next", "submit", "skip", "undo", "relabel", "order", "overlap"]),
        st.sampled_from(["ann", "bob", "cid"]),
        st.integers(0, 5),
        st.sampled_from(CLASSES),
    ),
    max_size=30,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_ops)
def test_counters_always_match_a_recount(make, ops):
    store = make(6)
    for op, who, i, lab in ops:
        if op == "next":
            store.next_item(who)
        elif op in ("submit", "relabel"):
            getattr(store, op)(i, lab, who)
        elif op == "skip":
            store.skip(i, who)
        elif op == "undo":
            store.undo(who)
        elif op == "order":
            store.set_order([(i + k) % 6 for k in range(6)])
        else:
            store.update_settings(overlap=1 + i % 3)
    assert store.check() == []
    p = store.progress()
    labels = store.labels()
    assert p.labelled == labels["item_id"].nunique()
    assert p.per_labeller == labels["labeller"].value_counts().sort_index().to_dict()
    assert store.revision().events >= len(labels)


# --------------------------------------------------------------------------- serving while re-ordering


def test_serving_never_stalls_while_the_order_is_rewritten(make):
    """``set_order`` rewrites every rank (locking rows on PostgreSQL); ``next_item`` must wait, not
    report an empty pool."""
    n = 3000
    store = make(n)
    rng = np.random.default_rng(0)
    stop = threading.Event()
    errors: list[str] = []

    def reorder() -> None:
        try:
            while not stop.is_set():
                store.set_order(rng.permutation(n)[: n // 2])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    t = threading.Thread(target=reorder)
    t.start()
    try:
        for k in range(150):
            i = store.next_item("ann")
            assert i is not None, f"next_item gave None with {n - k} items open"
            store.submit(i, "cat", "ann")
    finally:
        stop.set()
        t.join()
    assert errors == []
    assert store.progress().labelled == 150 and store.check() == []


# --------------------------------------------------------------------------- durability (SQLite file)

_WRITER = """
import sys
sys.path.insert(0, {root!r})
from superintendent_core.store.sql import SQLStore
store = SQLStore({url!r}, create=False)
while (i := store.next_item("ann")) is not None:
    store.submit(i, "cat", "ann")
    print(i, flush=True)
"""


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_label(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with SQLStore(url, settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(batch(400))
    root = str(Path(__file__).resolve().parents[3])
    acknowledged: set[int] = set()
    # Each writer is a child forked from an interpreter that imported the engine once
    # (tests/core/forked_python.py): a separate process, killed with SIGKILL, without the import.
    with Zygote(["superintendent_core.store.sql"]) as zygote:
        for round_ in range(8):
            proc = zygote.spawn(_WRITER.format(root=root, url=url))
            for _ in range(5 + 3 * round_):  # kill after a varying number of acknowledged labels
                line = proc.stdout.readline()
                if not line:
                    break
                acknowledged.add(int(line))
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
            assert proc.returncode == -signal.SIGKILL
            with SQLStore(url, create=False) as store:
                labelled = set(store.labels()["item_id"].tolist())
                assert acknowledged <= labelled
                assert store.check() == []
    assert len(acknowledged) >= 8 * 5


@pytest.mark.postgres
def test_next_item_waits_for_locked_rows_instead_of_reporting_an_empty_pool():
    """Every open row locked by another transaction (as during a set_order's commit): next_item
    must wait for the lock and serve, not skip everything and answer None."""
    require(postgres_available(), "PostgreSQL")
    schema = fresh_schema()
    try:
        with SQLStore(
            POSTGRES_URL, schema=schema, settings=ProjectSettings(classes=CLASSES)
        ) as store:
            store.add_items(batch(20))
            locker = sa.create_engine(
                POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}
            )
            result: list = []
            # The poller is a second connection in autocommit: pg_stat_activity is a snapshot
            # taken once per transaction, so polling inside the locking transaction would keep
            # reading the first (stale) answer.
            with locker.connect() as conn, locker.connect() as poll_conn:
                poller = poll_conn.execution_options(isolation_level="AUTOCOMMIT")
                tx = conn.begin()
                conn.exec_driver_sql("SELECT id FROM si_items FOR UPDATE")
                worker = threading.Thread(target=lambda: result.append(store.next_item("ann")))
                worker.start()
                # Wait (by polling the server, not by sleeping) until next_item is blocked on our locks.
                waiting = 0
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and worker.is_alive():
                    waiting = poller.exec_driver_sql(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND position('si_next_item' in query) > 0"
                    ).scalar_one()
                    if waiting:
                        break
                answered_while_locked = list(result)
                tx.commit()
                worker.join()
            locker.dispose()
            assert answered_while_locked == [], "next_item answered while every row was locked"
            assert waiting, "next_item did not wait for the locked rows"
            assert result == [0]
    finally:
        drop_schemas([schema])


def test_sqlite_writers_of_one_process_queue_instead_of_busy_waiting(tmp_path):
    """Threads of one process wait for each other in the store, not in SQLite's busy handler
    (whose sleeps let a thread starve for seconds). Proof: with SQLite's own wait turned off,
    six labeller threads still label everything without a single 'database is locked'."""
    store = SQLStore(f"sqlite:///{tmp_path / 'p.db'}", settings=ProjectSettings(classes=CLASSES), pool_size=6)
    try:
        store.add_items(batch(300))
        store.engine.dispose()

        @sa.event.listens_for(store.engine, "connect")
        def _no_busy_wait(dbapi_conn, record):
            dbapi_conn.execute("PRAGMA busy_timeout=0")

        errors: list[str] = []
        done: dict[str, int] = {}
        barrier = threading.Barrier(6)

        def work(name: str) -> None:
            barrier.wait()
            n = 0
            try:
                while (item := store.next_item(name)) is not None:
                    store.submit(item, CLASSES[item % 3], name)
                    n += 1
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            done[name] = n

        threads = [threading.Thread(target=work, args=(f"t{k}",)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sum(done.values()) == 300 and len(store.labels()) == 300
    finally:
        store.close()


# --------------------------------------------------------------------------- audit records (schema 3)


def _all_audit(store: SQLStore, n: int) -> None:
    ids = np.arange(n, dtype=np.int64)
    store.set_order(ids, audit=AuditDraws(ids, np.full(n, 0.5), np.full(n, 4, dtype=np.int64)))


def test_audit_record_is_right_whichever_process_served_and_submitted(make):
    """Two stores on one database stand for two app processes: the serve and the submit may be in either."""
    a = make(6)
    url = a.url.render_as_string(hide_password=False)
    b = SQLStore(url, schema=a.schema, create=False)
    try:
        a.set_order([0, 1, 2, 3], audit=AuditDraws(np.array([0, 2]), np.array([0.5, 0.25]), np.array([4, 4])))
        assert b.next_item("ann") == 0  # served by process b from an audit slot
        a.submit(0, "cat", "ann")  # submitted through process a
        assert a.next_item("bob") == 1  # a plain slot
        b.set_order([1, 2, 3], audit=AuditDraws(np.array([1]), np.array([1.0]), np.array([1])))
        b.submit(1, "cat", "bob")  # 1 was not served from an audit slot: no record
        assert b.next_item("bob") == 2  # 2 is not an audit slot of b's order
        a.submit(2, "cat", "bob")
        for store in (a, b):
            df = store.audit_records()
            assert df["item_id"].tolist() == [0]
            assert (df["probability"].tolist(), df["seq"].tolist(), df["labeller"].tolist()) == ([0.5], [0], ["ann"])
        assert b.undo("ann") == 0  # undone through b: the record is void for both
        assert a.audit_records()["item_id"].tolist() == []
        assert a.next_item("ann") == 0  # leased back to ann; labelled again through a: it comes back
        a.submit(0, "dog", "ann")
        assert b.audit_records()["item_id"].tolist() == [0]
    finally:
        b.close()


def test_a_schema_2_database_is_migrated_in_place(make):
    store = make(4)
    store.submit(0, "cat", "ann")
    with store.engine.begin() as conn:
        for table in ("si_order_audit", "si_served", "si_audit"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql("UPDATE si_schema_version SET version = 2")
    url = store.url.render_as_string(hide_password=False)
    store.close()
    with SQLStore(url, schema=store.schema, create=False) as again:
        with again.engine.begin() as conn:
            assert conn.exec_driver_sql("SELECT version FROM si_schema_version").scalar_one() == SCHEMA_VERSION == 3
        assert again.labels()["item_id"].tolist() == [0]
        assert len(again.audit_records()) == 0
        _all_audit(again, 4)
        item = again.next_item("bob")
        again.submit(item, "dog", "bob")
        assert again.audit_records()["item_id"].tolist() == [item]
        assert again.check() == []


_AUDIT_WRITER = """
import sys
sys.path.insert(0, {root!r})
from superintendent_core.store.sql import SQLStore
store = SQLStore({url!r}, create=False)
while (i := store.next_item("ann")) is not None:
    store.submit(i, "cat", "ann")
    print(i, flush=True)
"""


@pytest.mark.slow
def test_sigkill_writes_the_audit_record_with_its_label_or_neither(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with SQLStore(url, settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(batch(300))
        _all_audit(store, 300)  # every slot is an audit slot: every label of the writer has a record
    root = str(Path(__file__).resolve().parents[3])
    acknowledged: set[int] = set()
    with Zygote(["superintendent_core.store.sql"]) as zygote:  # forks each writer (see above)
        for round_ in range(8):
            proc = zygote.spawn(_AUDIT_WRITER.format(root=root, url=url))
            for _ in range(3 + 2 * round_):
                line = proc.stdout.readline()
                if not line:
                    break
                acknowledged.add(int(line))
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
            assert proc.returncode == -signal.SIGKILL
            with SQLStore(url, create=False) as store:
                labelled = set(store.labels()["item_id"].tolist())
                assert acknowledged <= labelled
                assert set(store.audit_records()["item_id"].tolist()) == labelled
                assert store.check() == []
    assert len(acknowledged) >= 8 * 3


def test_a_sqlite_older_than_3_35_is_refused_with_a_message(tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.34.1")
    with pytest.raises(StoreError, match="SQLite is 3.34.1; a SQLite project needs 3.35"):
        SQLStore(f"sqlite:///{tmp_path / 'old.db'}")
