"""Serving a SQL project's items: the next item and its lease, skips, the serving order.

PostgreSQL runs ``si_next_item`` (:mod:`.schema`) server-side; SQLite runs the
same steps here inside one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .. import _rules
from ..audit import AuditDraws, audit_frame
from ..ledger import EVENT_SKIP
from .schema import UNRANKED

__all__ = ["SQLServing"]


class SQLServing:
    """Serving: methods of :class:`~.store.SQLStore` (its state is set up there)."""

    def next_item(self, labeller: str) -> int | None:
        labeller = self._check_labeller(labeller)
        now = float(self._clock())
        if self.d.pg:

            def attempt() -> int | None:
                with self._single() as conn:
                    got = self._x(
                        conn, "SELECT si_next_item(:who, :now)", {"who": labeller, "now": now}
                    ).scalar()
                return None if got is None else int(got)

            return self._retrying(attempt)
        return self._run(lambda c: self._sqlite_next(c, labeller, now), lease=True)

    _CANDIDATE = (
        "SELECT i.id FROM si_items i WHERE {d.open_i} AND (i.lease_until IS NULL OR i.lease_until <= :now) "
        "AND NOT EXISTS (SELECT 1 FROM si_skips s WHERE s.item_id = i.id AND s.labeller = :who) "
        "AND (:overlap = 1 OR NOT EXISTS (SELECT 1 FROM si_events e WHERE e.item_id = i.id "
        "AND e.labeller = :who AND e.{d.active})) ORDER BY i.rank LIMIT 1"
    )
    _OWN_SKIPPED = (
        "SELECT i.id FROM si_items i JOIN si_skips s ON s.item_id = i.id AND s.labeller = :who "
        "WHERE {d.open_i} AND (i.lease_until IS NULL OR i.lease_until <= :now) "
        "AND (:overlap = 1 OR NOT EXISTS (SELECT 1 FROM si_events e WHERE e.item_id = i.id "
        "AND e.labeller = :who AND e.{d.active})) ORDER BY i.rank LIMIT 1"
    )

    _ACTIVE = "SELECT COUNT(*) FROM si_tally WHERE kind = 1 AND key = :who AND n > 0"
    _IDLE_HELD = (
        "SELECT COUNT(*) FROM si_items i WHERE i.lease_owner IS NOT NULL AND i.lease_until > :now "
        "AND NOT EXISTS (SELECT 1 FROM si_tally t WHERE t.kind = 1 AND t.key = i.lease_owner AND t.n > 0)"
    )

    def _sqlite_may_lease(self, conn: Connection, labeller: str, now: float) -> bool:
        """Idle labellers (no label in force) together hold at most ``_rules.idle_lease_cap`` items."""
        if self._x(conn, self._ACTIVE, {"who": labeller}).scalar_one():
            return True
        n_open = self._x(
            conn,
            "SELECT p.n_items - c.done FROM si_project p CROSS JOIN si_counters c WHERE p.id = 1 AND c.id = 1",
        ).scalar_one()
        held = self._x(conn, self._IDLE_HELD, {"now": now}).scalar_one()
        return int(held) < _rules.idle_lease_cap(int(n_open))

    def _sqlite_next(self, conn: Connection, labeller: str, now: float) -> int | None:
        """SQLite: the steps of ``si_next_item`` inside one BEGIN IMMEDIATE transaction."""
        current = self._x(
            conn,
            "SELECT id FROM si_items WHERE lease_owner = :who AND lease_until > :now "
            "ORDER BY lease_until DESC LIMIT 1",
            {"who": labeller, "now": now},
        ).first()
        if current is not None:
            return int(current[0])
        settings = self._parse_settings(
            self._x(conn, "SELECT settings FROM si_project WHERE id = 1").scalar_one()
        )
        params = {"who": labeller, "now": now, "overlap": settings.overlap}
        may_lease = self._sqlite_may_lease(conn, labeller, now)
        row = self._x(conn, self._CANDIDATE, params).first()
        if row is None:
            row = self._x(conn, self._OWN_SKIPPED, params).first()
            if row is not None and may_lease:
                self._x(
                    conn,
                    "DELETE FROM si_skips WHERE item_id = :id AND labeller = :who",
                    {"id": int(row[0]), "who": labeller},
                )
        if row is None:
            return None
        chosen = int(row[0])
        if may_lease:  # else shown, not reserved (see _rules.idle_lease_cap)
            self._x(
                conn,
                "UPDATE si_items SET lease_owner = :who, lease_until = :until WHERE id = :id",
                {"who": labeller, "until": now + settings.lease_seconds, "id": chosen},
            )
        self._note_served(conn, labeller, chosen)
        return chosen

    def _note_served(self, conn: Connection, labeller: str, item_id: int) -> None:
        """Remember whether ``item_id`` was served to ``labeller`` from an audit slot (as ``si_next_item``).

        One statement (SQLite, on the click's path): the row says NULL for a plain slot.
        """
        self._x(
            conn,
            "INSERT OR REPLACE INTO si_served (labeller, item_id, probability, support, seq) "
            "SELECT :who, :id, a.probability, a.support, a.seq FROM (SELECT 1) "
            "LEFT JOIN si_order_audit a ON a.item_id = :id",
            {"who": labeller, "id": item_id},
        )

    def _put_served(self, conn: Connection, labeller: str, item_id: int, slot: tuple) -> None:
        self._x(
            conn,
            "INSERT INTO si_served (labeller, item_id, probability, support, seq) "
            "VALUES (:who, :id, :q, :s, :o) ON CONFLICT (labeller) DO UPDATE SET item_id = excluded.item_id, "
            "probability = excluded.probability, support = excluded.support, seq = excluded.seq",
            {"who": labeller, "id": item_id, "q": float(slot[0]), "s": int(slot[1]), "o": int(slot[2])},
        )

    def skip(self, item_id: int, labeller: str) -> None:
        labeller = self._check_labeller(labeller)
        item_id = self._check_id(item_id)
        now = time.time()

        def work(conn: Connection) -> None:
            done = self._x(
                conn, "SELECT done FROM si_items WHERE id = :id {d.for_update}", {"id": item_id}
            ).scalar_one()
            if not done:
                self._x(
                    conn,
                    "INSERT INTO si_skips (item_id, labeller) VALUES (:id, :who) ON CONFLICT DO NOTHING",
                    {"id": item_id, "who": labeller},
                )
                self._x(
                    conn,
                    "UPDATE si_items SET lease_owner = NULL, lease_until = NULL "
                    "WHERE id = :id AND lease_owner = :who",
                    {"id": item_id, "who": labeller},
                )
            self._x(
                conn,
                "INSERT INTO si_events (kind, item_id, labeller, at, active) "
                "VALUES (:k, :id, :who, :at, {d.false})",
                {"k": EVENT_SKIP, "id": item_id, "who": labeller, "at": now},
            )
            self._x(conn, "UPDATE si_counters SET events = events + 1 WHERE id = 1")

        self._run(work)


    def set_order(self, ids: Sequence[int] | np.ndarray, audit: AuditDraws | None = None) -> None:
        self._check_open()
        arr = _rules.check_order(ids)
        drawn = _rules.check_audit(audit, arr, 0)  # refused before any transaction

        def work(conn: Connection) -> None:
            n = int(
                self._x(
                    conn, "SELECT n_items FROM si_project WHERE id = 1 {d.for_update}"
                ).scalar_one()
            )
            _rules.check_ids(arr, n, lambda: n)  # inside the transaction: the count it locked
            if self.d.pg:
                # Two statements, only rows whose rank changes are written: items leaving the order
                # go back to UNRANKED + id; the order's items get ranks 0 .. k-1.
                self._x(
                    conn,
                    "UPDATE si_items SET rank = :big + id WHERE rank < :big "
                    "AND id <> ALL(CAST(:ids AS bigint[]))",
                    {"big": UNRANKED, "ids": arr.tolist()},
                )
                self._x(
                    conn,
                    "UPDATE si_items SET rank = t.k - 1 FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY "
                    "AS t(id, k) WHERE si_items.id = t.id AND si_items.rank <> t.k - 1",
                    {"ids": arr.tolist()},
                )
            else:
                _sqlite_ranks(conn, arr, n)
            # the order's audit slots, replaced with it (seq: labelled items now, in this transaction)
            labelled = int(self._x(conn, "SELECT labelled FROM si_counters WHERE id = 1").scalar_one())
            slots = {i: (q, s, labelled) for i, (q, s, _) in drawn.items()}
            self._x(conn, "DELETE FROM si_order_audit")
            if slots:
                rows = [{"id": i, "q": q, "s": sup, "o": o} for i, (q, sup, o) in slots.items()]
                conn.execute(
                    sa.text("INSERT INTO si_order_audit (item_id, probability, support, seq) "
                            "VALUES (:id, :q, :s, :o)"),
                    rows,
                )
            self._x(conn, "UPDATE si_project SET order_version = order_version + 1 WHERE id = 1")

        self._run(work)

    def audit_records(self) -> pd.DataFrame:
        """Audit records of the items labelled now (see :mod:`superintendent_core.store.audit`)."""
        self._check_open()
        rows = self._fetch(
            "SELECT a.item_id, a.probability, a.support, a.seq, a.labeller, a.at FROM si_audit a "
            "JOIN si_items i ON i.id = a.item_id WHERE i.n_active > 0 ORDER BY a.item_id"
        )
        return audit_frame([tuple(r) for r in rows])


def _sqlite_ranks(conn: Connection, arr: np.ndarray, n: int) -> None:
    """Write an order's ranks in SQLite: the rows whose rank changes, in one statement each way.

    The order travels as one JSON array (``json_each``: rank = position), as PostgreSQL's
    does as one array; one ``UPDATE`` per row (``executemany``) took 5 s per 100k rows here,
    and reading the old ranks through SQLAlchemy rows into numpy 11 s per 30k. Without JSON
    support in the SQLite library, the rows are updated one by one (plain tuples).
    """
    if not len(arr):
        conn.exec_driver_sql("UPDATE si_items SET rank = ? + id WHERE rank < ?", (UNRANKED, UNRANKED))
        return
    text = "[" + ",".join(map(str, arr.tolist())) + "]"
    try:
        conn.exec_driver_sql("DROP TABLE IF EXISTS temp.si_order_new")
        conn.exec_driver_sql(
            "CREATE TEMP TABLE si_order_new AS SELECT CAST(value AS INTEGER) AS id, CAST(key AS INTEGER) AS k "
            "FROM json_each(?)", (text,))
    except sa.exc.OperationalError as exc:
        if "json" not in str(exc).lower():
            raise
        # no JSON in this SQLite: the slow path (tuples, not SQLAlchemy rows, into numpy)
        rows = conn.exec_driver_sql("SELECT id, rank FROM si_items").all()
        old = np.zeros(n, dtype=np.int64)
        pairs = np.array([tuple(r) for r in rows], dtype=np.int64).reshape(-1, 2)
        old[pairs[:, 0]] = pairs[:, 1]
        rank = UNRANKED + np.arange(n, dtype=np.int64)
        rank[arr] = np.arange(len(arr), dtype=np.int64)
        changed = np.flatnonzero(old != rank)
        if len(changed):
            conn.exec_driver_sql("UPDATE si_items SET rank = ? WHERE id = ?",
                                 list(zip(rank[changed].tolist(), changed.tolist(), strict=True)))
        return
    try:
        conn.exec_driver_sql("CREATE UNIQUE INDEX temp.si_order_new_id ON si_order_new (id)")
        conn.exec_driver_sql(
            "UPDATE si_items SET rank = ? + id WHERE rank < ? "
            "AND id NOT IN (SELECT id FROM temp.si_order_new)", (UNRANKED, UNRANKED))
        conn.exec_driver_sql(
            "UPDATE si_items SET rank = o.k FROM temp.si_order_new AS o "
            "WHERE si_items.id = o.id AND si_items.rank <> o.k")
    finally:
        conn.exec_driver_sql("DROP TABLE IF EXISTS temp.si_order_new")
