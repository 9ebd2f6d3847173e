"""Bulk labels in a SQL project (the rules are in :mod:`superintendent_core.store.bulk`).

A bulk label is one transaction: a label event per item (kind ``label``, no
seconds) and a row per event in ``si_bulk_labels`` naming its bulk; undoing it
is one transaction too. The table is created by :func:`ensure_extra_tables`
(``CREATE ... IF NOT EXISTS``) when a store opens, outside the versioned
metadata of :mod:`.schema`, so a database of the current schema opens without a
migration. Code that does not know the table reads bulk labels as ordinary
labels (and undoes them one at a time); it does not misread anything else.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from .. import _rules
from ..bulk import check_bulk, refuse_own_labels
from ..ledger import EVENT_LABEL, EVENT_UNDO
from .schema import TALLY_CLASS, TALLY_LABELLER

__all__ = ["EXTRA_DDL", "SQLBulk", "ensure_extra_tables"]

#: Tables added after schema 3 (not yet in :data:`~.schema.SCHEMA_VERSION`; created when a store opens).
#: ``si_bulk_labels``: one row per bulk label event. ``si_preannotations``: labels another model made,
#: kept apart from the label events (:mod:`superintendent_core.store.preannotations`).
EXTRA_DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS si_bulk_labels ("
    " event_seq BIGINT PRIMARY KEY,"
    " bulk_id BIGINT NOT NULL,"
    " labeller TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_si_bulk_labels_bulk ON si_bulk_labels (bulk_id, labeller)",
    "CREATE TABLE IF NOT EXISTS si_preannotations ("
    " item_id BIGINT PRIMARY KEY,"
    " label TEXT NOT NULL,"
    " score DOUBLE PRECISION NULL,"
    " source TEXT NOT NULL,"
    " at DOUBLE PRECISION NOT NULL)",
)

_NOT_BULK = object()


def ensure_extra_tables(conn: Connection) -> None:
    """Create the tables of :data:`EXTRA_DDL` when missing (in the caller's transaction)."""
    for ddl in EXTRA_DDL:
        conn.exec_driver_sql(ddl)


class SQLBulk:
    """Bulk labels: methods of :class:`~.store.SQLStore` (its state is set up there)."""

    def _in_ids(self, column: str) -> str:
        """``column`` is one of the ids passed as ``:ids`` (see :meth:`_ids_param`)."""
        if self.d.pg:
            return f"{column} = ANY(CAST(:ids AS bigint[]))"
        return f"{column} IN (SELECT value FROM json_each(:ids))"

    def _ids_param(self, ids: Sequence[int]) -> Any:
        return list(ids) if self.d.pg else json.dumps(list(ids))

    def bulk_label(self, ids: Sequence[int] | np.ndarray, label: Any, labeller: str) -> int:
        labeller = self._check_labeller(labeller)
        self._check_open()
        now = time.time()

        def work(conn: Connection) -> int:
            head = self._x(conn, "SELECT settings, n_items FROM si_project WHERE id = 1 {d.for_share}").one()
            settings = self._parse_settings(head[0])
            arr = check_bulk(ids, int(head[1]))
            if not len(arr):
                return 0
            text = _rules.normalize_label(label, settings.classes, settings.multi_label)
            order = arr.tolist()
            state = self._lock_items(conn, sorted(order))
            p = self._ids_param(order)
            mine = [int(r[0]) for r in self._x(
                conn, "SELECT item_id FROM si_events WHERE labeller = :who AND {d.active} AND "
                + self._in_ids("item_id") + " ORDER BY item_id", {"who": labeller, "ids": p}).all()]
            if mine:
                names = [str(r[0]) for r in self._x(
                    conn, "SELECT name FROM si_items WHERE " + self._in_ids("id") + " ORDER BY id",
                    {"ids": self._ids_param(mine[:3])}).all()]
                refuse_own_labels(mine, names, labeller)
            if self.d.pg:  # one bulk number per bulk, whichever process writes it
                self._x(conn, "SELECT pg_advisory_xact_lock(1507, 0)")
            bulk = int(self._x(conn, "SELECT COALESCE(MAX(bulk_id), 0) + 1 FROM si_bulk_labels").scalar_one())
            tally: Counter[tuple[int, str]] = Counter()
            labelled = done_delta = 0
            for item_id in order:
                n_old, train_old, was_done = state[item_id]
                seq = self._x(
                    conn,
                    "INSERT INTO si_events (kind, item_id, labeller, label, at, seconds, active) "
                    "VALUES (:k, :id, :who, :label, :at, NULL, {d.true}) RETURNING seq",
                    {"k": EVENT_LABEL, "id": item_id, "who": labeller, "label": text, "at": now},
                ).scalar_one()
                self._x(conn, "INSERT INTO si_bulk_labels (event_seq, bulk_id, labeller) VALUES (:s, :b, :who)",
                        {"s": int(seq), "b": bulk, "who": labeller})
                n = n_old + 1
                done = n >= settings.overlap
                self._x(
                    conn,
                    "UPDATE si_items SET n_active = :n, done = :done, train_label = :label, "
                    "lease_until = CASE WHEN :done OR lease_owner = :who THEN NULL ELSE lease_until END, "
                    "lease_owner = CASE WHEN :done OR lease_owner = :who THEN NULL ELSE lease_owner END "
                    "WHERE id = :id",
                    {"n": n, "done": done, "label": text, "who": labeller, "id": item_id},
                )
                if train_old != text:
                    if train_old is not None:
                        tally[(TALLY_CLASS, train_old)] -= 1
                    tally[(TALLY_CLASS, text)] += 1
                labelled += n_old == 0
                done_delta += done and not was_done
            tally[(TALLY_LABELLER, labeller)] += len(order)
            self._x(conn, "DELETE FROM si_served WHERE labeller = :who AND " + self._in_ids("item_id"),
                    {"who": labeller, "ids": p})
            for (kind, key), delta in sorted(tally.items()):  # lock order: tallies by (kind, key)
                if delta:
                    self._tally_add(conn, kind, key, delta)
            self._x(conn, "UPDATE si_counters SET events = events + :k, labelled = labelled + :l, "
                    "done = done + :d WHERE id = 1", {"k": len(order), "l": labelled, "d": done_delta})
            return len(order)

        return self._run(work)

    def _bulk_group(self, conn: Connection, labeller: str) -> list[tuple[int, int]] | None:
        """``(seq, item_id)`` of the active labels of ``labeller``'s latest bulk when it is their latest label."""
        top = self._x(
            conn,
            "SELECT e.seq, b.bulk_id FROM si_events e LEFT JOIN si_bulk_labels b ON b.event_seq = e.seq "
            "WHERE e.labeller = :who AND e.{d.active} ORDER BY e.seq DESC LIMIT 1",
            {"who": labeller},
        ).first()
        if top is None or top[1] is None:
            return None
        rows = self._x(
            conn,
            "SELECT e.seq, e.item_id FROM si_bulk_labels b JOIN si_events e ON e.seq = b.event_seq "
            "WHERE b.bulk_id = :b AND b.labeller = :who AND e.{d.active} ORDER BY e.seq",
            {"b": int(top[1]), "who": labeller},
        ).all()
        return [(int(s), int(i)) for s, i in rows]

    def last_bulk(self, labeller: str) -> int:
        labeller = self._check_labeller(labeller)
        group = self._read(lambda conn: self._bulk_group(conn, labeller))
        return len(group) if group else 0

    def _undo_bulk(self, labeller: str) -> Any:
        """Undo ``labeller``'s latest bulk label in one transaction: its first item, or ``_NOT_BULK``."""
        now = time.time()

        def work(conn: Connection) -> Any:
            group = self._bulk_group(conn, labeller)
            if not group:
                return _NOT_BULK
            settings = self._parse_settings(self._x(conn, "SELECT settings FROM si_project WHERE id = 1").scalar_one())
            state = self._lock_items(conn, sorted({i for _, i in group}))
            group = self._bulk_group(conn, labeller) or []  # again, with the rows locked
            if not group:
                return _NOT_BULK
            seqs = [s for s, _ in group]
            self._x(conn, "UPDATE si_events SET active = {d.false} WHERE " + self._in_ids("seq"),
                    {"ids": self._ids_param(seqs)})
            tally: Counter[tuple[int, str]] = Counter()
            unlabelled = undone = 0
            for seq, item_id in group:
                n_old, train_old, was_done = state[item_id]
                latest = self._x(conn, "SELECT label FROM si_events WHERE item_id = :id AND {d.active} "
                                 "ORDER BY seq DESC LIMIT 1", {"id": item_id}).first()
                new_train = None if latest is None else latest[0]
                self._x(conn, "INSERT INTO si_events (kind, item_id, labeller, at, active, ref) "
                        "VALUES (:k, :id, :who, :at, {d.false}, :ref)",
                        {"k": EVENT_UNDO, "id": item_id, "who": labeller, "at": now, "ref": seq})
                n = n_old - 1
                done = n >= settings.overlap
                if n == 0:
                    self._x(conn, "DELETE FROM si_audit WHERE item_id = :id", {"id": item_id})
                self._x(conn, "UPDATE si_items SET n_active = :n, done = :done, train_label = :t WHERE id = :id",
                        {"n": n, "done": done, "t": new_train, "id": item_id})
                if train_old != new_train:
                    if train_old is not None:
                        tally[(TALLY_CLASS, train_old)] -= 1
                    if new_train is not None:
                        tally[(TALLY_CLASS, new_train)] += 1
                unlabelled += n == 0
                undone += was_done and not done
            tally[(TALLY_LABELLER, labeller)] -= len(group)
            self._x(conn, "DELETE FROM si_served WHERE labeller = :who", {"who": labeller})
            for (kind, key), delta in sorted(tally.items()):
                if delta:
                    self._tally_add(conn, kind, key, delta)
            self._x(conn, "UPDATE si_counters SET events = events + :k, labelled = labelled - :l, "
                    "done = done - :d WHERE id = 1", {"k": len(group), "l": unlabelled, "d": undone})
            return group[0][1]

        return self._run(work)
