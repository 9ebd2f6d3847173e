"""The SQL store against superintendent 0.6.0's DatabaseQueue, both on the same PostgreSQL.

Run (the peer is installed only in the bench venv):

    /work/main/.bench-venv/bin/python benchmarks/bench_sql.py [--n 70000] [--quick]

Server: ``$SUPERINTENDENT_TEST_DATABASE_URL`` or postgresql://postgres@127.0.0.1:5432/test.
Ours lives in a fresh schema of that database; the peer (whose table name is
fixed) in a fresh database on the same server. Both are dropped at the end.

Measured, with 70,000 MNIST-sized items (784 uint8 pixels each, made here):

- **enqueue**: ours ``add_items`` (one transaction, binary COPY); peer ``enqueue``.
- **pop + submit** at 0 % and at 99 % labelled, median and p99 of ``--pops`` labels.
  Ours: ``next_item`` + ``item`` (the picture to show) + durable ``submit``; peer:
  ``pop`` (returns the features) + ``submit``. The 99 % state is made with bulk SQL
  on both sides (not 69,300 pops): the first 99 % of the serving order is marked
  labelled, as if the labellers had followed the order.
- **reorder** of every item: ours ``set_order`` (70k ids); peer ``reorder`` with a
  priority for each id. The peer's reorder is quadratic (``list.index`` per row);
  with ``--quick`` it is measured at 10,000 items only (ours too, for the ratio).
- **listing**: the labelled items with their features and labels at 99 % (ours
  ``training_data``; peer ``list_completed``) and the unlabelled items with their
  features at 0 % (ours ``unlabelled_ids`` + ``features``; peer ``list_uncompleted``).
  Ours from a freshly opened store (no cached features).

Also printed: one durable single-row commit on this server (the floor of any
durable label: both sides pay it; the peer twice per label, as its pop commits
durably too).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from benchmarks.synthetic import synthetic_mnist  # noqa: E402
from superintendent_core.store import ItemBatch, ProjectSettings  # noqa: E402
from superintendent_core.store.sql import SQLStore  # noqa: E402

URL = os.environ.get(
    "SUPERINTENDENT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CLASSES = tuple(str(d) for d in range(10))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def p50_p99(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), float(np.percentile(samples, 99))


def commit_floor(url: str) -> float:
    """Median seconds of one durable single-row INSERT commit on this server."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = "bench_floor_" + uuid.uuid4().hex[:6]
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {name} (a int)")
        samples = []
        for _ in range(200):
            t, _ = timed(lambda: conn.exec_driver_sql(f"INSERT INTO {name} VALUES (1)"))
            samples.append(t)
        conn.exec_driver_sql(f"DROP TABLE {name}")
    engine.dispose()
    return statistics.median(samples)


# --------------------------------------------------------------------------- ours


def label_99_percent_ours(store: SQLStore, order: np.ndarray, y: np.ndarray, k: int) -> None:
    """Bulk SQL: the first ``k`` items of the serving order labelled by 'bulk' (keeps the counters exact)."""
    ids = order[:k]
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE bulk (id bigint, label text) ON COMMIT DROP")
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy("COPY bulk (id, label) FROM STDIN") as copy:
            for i in ids.tolist():
                copy.write_row((i, y[i]))
        now = time.time()
        conn.exec_driver_sql(
            "INSERT INTO si_events (kind, item_id, labeller, label, at, active) "
            f"SELECT 0, id, 'bulk', label, {now}, true FROM bulk ORDER BY id"
        )
        conn.exec_driver_sql(
            "UPDATE si_items SET n_active = 1, done = true, train_label = b.label FROM bulk b WHERE si_items.id = b.id"
        )
        conn.exec_driver_sql(
            "INSERT INTO si_tally (kind, key, n) SELECT 0, label, COUNT(*) FROM bulk GROUP BY label "
            "ON CONFLICT (kind, key) DO UPDATE SET n = si_tally.n + excluded.n"
        )
        conn.exec_driver_sql(
            f"INSERT INTO si_tally (kind, key, n) VALUES (1, 'bulk', {k}) "
            "ON CONFLICT (kind, key) DO UPDATE SET n = si_tally.n + excluded.n"
        )
        conn.exec_driver_sql(
            f"UPDATE si_counters SET events = events + {k}, labelled = labelled + {k}, done = done + {k}"
        )
        conn.exec_driver_sql("ANALYZE si_items")
        conn.exec_driver_sql("ANALYZE si_events")


def pop_ours(store: SQLStore, y: np.ndarray, with_item: bool = True) -> float:
    """One label: next_item (+ item, the picture to show) + durable submit; seconds."""
    start = time.perf_counter()
    i = store.next_item("bench")
    if with_item:
        assert store.item(i).payload
    store.submit(i, y[i], "bench")
    return time.perf_counter() - start


# --------------------------------------------------------------------------- peer


def peer_url(base: str, database: str) -> str:
    url = sa.engine.make_url(base).set(drivername="postgresql+psycopg2", database=database)
    return url.render_as_string(hide_password=False)


def label_99_percent_peer(queue, order: np.ndarray, y: np.ndarray, k: int) -> None:
    """Bulk SQL: the first ``k`` items by priority completed (ids are 1-based in the peer)."""
    with queue.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE bulk (id bigint, label text) ON COMMIT DROP")
        raw = conn.connection.driver_connection  # psycopg2
        import io

        buf = io.StringIO("".join(f'{int(i) + 1}\t"{y[i]}"\n' for i in order[:k]))
        raw.cursor().copy_expert("COPY bulk (id, label) FROM STDIN", buf)
        conn.exec_driver_sql(
            "UPDATE superintendentdata SET output = b.label, completed_at = now(), worker_id = 'bulk' "
            "FROM bulk b WHERE superintendentdata.id = b.id"
        )
        conn.exec_driver_sql("ANALYZE superintendentdata")


def pop_peer(queue, y: np.ndarray) -> float:
    """One label: pop (returns the features) + submit; seconds."""
    start = time.perf_counter()
    id_, data = queue.pop()
    queue.submit(id_, y[id_ - 1])
    elapsed = time.perf_counter() - start
    assert len(data) == 784
    return elapsed


def interleaved(n: int, ours, peer) -> tuple[list[float], list[float], list[float]]:
    """``n`` labels each side, alternating in blocks of 10 so both see the same machine load."""
    a, b, bare = [], [], []
    for start in range(0, n, 10):
        for _ in range(min(10, n - start)):
            a.append(ours(True))
        for _ in range(min(10, n - start)):
            bare.append(ours(False))
        if peer is not None:
            for _ in range(min(10, n - start)):
                b.append(peer())
    return a, b, bare


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=70_000)
    parser.add_argument("--pops", type=int, default=200)
    parser.add_argument(
        "--quick", action="store_true", help="measure the peer's quadratic reorder at 10k only"
    )
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    n, target = args.n, int(args.n * 0.99)  # labelled items in the 99 % state
    reorder_n = min(n, 10_000) if args.quick else n
    if n - target < 2 * args.pops:
        parser.error(
            f"--pops {args.pops} needs at least {2 * args.pops} unlabelled items at 99 %; use a larger --n"
        )
    X, y = synthetic_mnist(n)
    y = y.astype(str)
    order = np.random.default_rng(1).permutation(n)
    priorities = np.empty(n, dtype=np.int64)
    priorities[order] = np.arange(n)
    small = order[order < reorder_n]  # the same kind of order over the first reorder_n ids

    DatabaseQueue = None
    if not args.no_peer:
        try:
            from superintendent.db_queue import DatabaseQueue
        except ImportError:
            print(
                "superintendent 0.6.0 is not importable here: ours only (run with /work/main/.bench-venv/bin/python)."
            )

    floor = commit_floor(URL)
    print(
        f"PostgreSQL at {sa.engine.make_url(URL).render_as_string(hide_password=True)}; "
        f"one durable commit here: {floor * 1e3:.2f} ms (median of 200)"
    )
    print(
        f"{n:,} items × 784 uint8; pop+submit: median (p99) of {args.pops} labels, ours and peer alternating\n"
    )

    ours: dict[str, float] = {}
    peer: dict[str, float | None] = dict.fromkeys(
        ["enqueue", "pop0", "pop99", "reorder", "list_lab", "list_unl"]
    )
    schema = "bench_" + uuid.uuid4().hex[:8]
    database = "bench_peer_" + uuid.uuid4().hex[:6]
    admin = sa.create_engine(URL, isolation_level="AUTOCOMMIT")
    queue = None
    store = None
    try:
        # ---- enqueue, listing at 0 %, reorder
        store = SQLStore(URL, schema=schema, settings=ProjectSettings(classes=CLASSES))
        batch = ItemBatch(
            names=tuple(f"mnist-{i:05d}.png" for i in range(n)),
            kind="image",
            features=X,
            image_shape=(28, 28),
            pixel_max=255,
        )
        ours["enqueue"], _ = timed(lambda: store.add_items(batch))
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE si_items")
        fresh = SQLStore(URL, schema=schema, create=False)
        ours["list_unl"], _ = timed(lambda: fresh.features(fresh.unlabelled_ids()))
        fresh.close()
        t_reorder_full, _ = timed(lambda: store.set_order(order))
        if reorder_n < n:
            ours["reorder"], _ = timed(lambda: store.set_order(small))
            store.set_order(order)
        else:
            ours["reorder"] = t_reorder_full
        if DatabaseQueue is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {database}")
            queue = DatabaseQueue(peer_url(URL, database))
            peer["enqueue"], _ = timed(lambda: queue.enqueue(X))
            peer["list_unl"], _ = timed(queue.list_uncompleted)
            if reorder_n == n:
                peer["reorder"], _ = timed(
                    lambda: queue.reorder({i + 1: int(priorities[i]) for i in range(n)})
                )
            else:
                pr = np.empty(reorder_n, dtype=np.int64)
                pr[small] = np.arange(reorder_n)
                peer["reorder"], _ = timed(
                    lambda: queue.reorder({i + 1: int(pr[i]) for i in range(reorder_n)})
                )
                with (
                    queue.engine.begin() as conn
                ):  # the full order for the pops, untimed (bulk SQL)
                    conn.exec_driver_sql(
                        "UPDATE superintendentdata SET priority = t.p FROM unnest(%(ids)s::bigint[], "
                        "%(p)s::bigint[]) AS t(id, p) WHERE superintendentdata.id = t.id",
                        {"ids": list(range(1, n + 1)), "p": priorities.tolist()},
                    )
            with queue.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE superintendentdata")

        # ---- pop + submit at 0 %, then the 99 % state, then again
        peer_pop = None if queue is None else (lambda: pop_peer(queue, y))
        full0, p0, bare0 = interleaved(args.pops, lambda item: pop_ours(store, y, item), peer_pop)
        label_99_percent_ours(store, order[2 * args.pops :], y, target - 2 * args.pops)
        if queue is not None:
            label_99_percent_peer(queue, order[args.pops :], y, target - args.pops)
        full99, p99, bare99 = interleaved(
            args.pops, lambda item: pop_ours(store, y, item), peer_pop
        )
        ours["pop0"], ours["pop99"] = statistics.median(full0), statistics.median(full99)
        if queue is not None:
            peer["pop0"], peer["pop99"] = statistics.median(p0), statistics.median(p99)

        # ---- listing at 99 %
        fresh = SQLStore(URL, schema=schema, create=False)
        ours["list_lab"], (ids, _, _) = timed(fresh.training_data)
        fresh.progress()
        t_progress, _ = timed(fresh.progress)
        fresh.close()
        if queue is not None:
            peer["list_lab"], _ = timed(queue.list_completed)
        with admin.connect() as conn:
            size = conn.exec_driver_sql(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                f"JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = '{schema}' AND c.relkind = 'r'"
            ).scalar()
    finally:
        if store is not None:
            store.close()
        if queue is not None:
            queue.engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.dispose()

    print(
        f"ours: database size {float(size) / 1e6:.0f} MB (tables, indexes, TOAST); progress() at 99 %: "
        f"{t_progress * 1e3:.1f} ms; labelled listing: {len(ids):,} rows"
    )
    print(
        f"ours: pop+submit without item(): 0 % {statistics.median(bare0) * 1e3:.2f} ms, "
        f"99 % {statistics.median(bare99) * 1e3:.2f} ms; set_order of all {n:,}: {t_reorder_full:.2f} s\n"
    )
    p99s = {
        "pop0": (p50_p99(full0)[1], p50_p99(p0)[1] if p0 else None),
        "pop99": (p50_p99(full99)[1], p50_p99(p99)[1] if p99 else None),
    }
    names = {
        "enqueue": f"enqueue {n:,}",
        "pop0": "pop+submit, 0 %",
        "pop99": "pop+submit, 99 %",
        "reorder": f"reorder {reorder_n:,}",
        "list_lab": f"list labelled (~{target:,})",
        "list_unl": f"list unlabelled ({n:,})",
    }
    header = f"{'operation':<26} {'ours':>16} {'peer':>16} {'peer/ours':>10}"
    print(header)
    print("-" * len(header))
    for key, title in names.items():
        o, p = ours[key], peer[key]
        if key.startswith("pop"):
            o_s = f"{o * 1e3:.2f} ({p99s[key][0] * 1e3:.1f}) ms"
            p_s = "—" if p is None else f"{p * 1e3:.1f} ({p99s[key][1] * 1e3:.0f}) ms"
        else:
            o_s = f"{o:.3f} s"
            p_s = "—" if p is None else f"{p:.2f} s"
        ratio = "—" if p is None else f"{p / o:.1f}×"
        print(f"{title:<26} {o_s:>16} {p_s:>16} {ratio:>10}")
    if reorder_n < n:
        print(
            f"\n(--quick: reorder compared at {reorder_n:,} ids in the {n:,}-item pool; ours of all {n:,}: "
            f"{t_reorder_full:.2f} s)"
        )


if __name__ == "__main__":
    main()
