"""Label events in a SQL project: label, relabel, undo, and importing many labels in one transaction.

PostgreSQL runs ``si_label`` / ``si_undo`` (:mod:`.schema`) server-side; SQLite
runs the same steps here inside one ``BEGIN IMMEDIATE`` transaction. Lock order,
everywhere: item row(s) in id order, then ``si_tally`` rows in (kind, key) order,
then ``si_counters``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from .. import _rules
from ..errors import StoreError
from ..ledger import EVENT_LABEL, EVENT_RELABEL, EVENT_UNDO
from .bulk import _NOT_BULK
from .schema import TALLY_CLASS, TALLY_LABELLER

__all__ = ["SQLLabels"]


class SQLLabels:
    """Label events: methods of :class:`~.store.SQLStore` (its state is set up there)."""

    def _write_label(
        self, item_id: Any, label: Any, labeller: Any, seconds: Any, kind: int
    ) -> None:
        labeller = self._check_labeller(labeller)
        seconds = self._check_seconds(seconds)
        item_id = self._check_id(item_id)
        now = time.time()
        if not self.d.pg:
            self._run(lambda c: self._sqlite_label(c, item_id, label, labeller, seconds, kind, now))
            return
        for _ in range(5):
            text_settings = self._settings_text
            if text_settings is None or self._settings_obj is None:
                self.settings  # noqa: B018 - refreshes the cached settings
                continue
            settings = self._settings_obj
            text = _rules.normalize_label(label, settings.classes, settings.multi_label)

            def attempt(text: str = text, text_settings: str = text_settings) -> int:
                with self._single() as conn:
                    return int(
                        self._x(
                            conn,
                            "SELECT si_label(:id, :who, :label, CAST(:kind AS smallint), :at, :sec, :settings)",
                            {
                                "id": item_id,
                                "who": labeller,
                                "label": text,
                                "kind": kind,
                                "at": now,
                                "sec": seconds,
                                "settings": text_settings,
                            },
                        ).scalar_one()
                    )

            if self._retrying(attempt) == 0:
                return
            self.settings  # noqa: B018 - settings changed elsewhere: reload, validate again
        raise StoreError("The project settings kept changing while labelling; try again.")

    def _sqlite_label(
        self,
        conn: Connection,
        item_id: int,
        label: Any,
        labeller: str,
        seconds: float | None,
        kind: int,
        now: float,
    ) -> None:
        """SQLite: the steps of ``si_label`` inside one BEGIN IMMEDIATE transaction."""
        settings = self._parse_settings(
            self._x(conn, "SELECT settings FROM si_project WHERE id = 1").scalar_one()
        )
        text = _rules.normalize_label(label, settings.classes, settings.multi_label)
        old_n, old_train, was_done = self._x(
            conn, "SELECT n_active, train_label, done FROM si_items WHERE id = :id", {"id": item_id}
        ).one()
        replaced = self._x(
            conn,
            "UPDATE si_events SET active = 0 WHERE item_id = :id AND labeller = :who AND active = 1",
            {"id": item_id, "who": labeller},
        ).rowcount
        event = self._x(
            conn,
            "INSERT INTO si_events (kind, item_id, labeller, label, at, seconds, active) "
            "VALUES (:k, :id, :who, :label, :at, :sec, 1)",
            {"k": kind, "id": item_id, "who": labeller, "label": text, "at": now, "sec": seconds},
        ).lastrowid
        if kind == EVENT_LABEL:
            # a submit of the item served to this labeller from an audit slot: its first label records the draw
            slot = self._x(
                conn,
                "DELETE FROM si_served WHERE labeller = :who AND item_id = :id RETURNING probability, support, seq",
                {"who": labeller, "id": item_id},
            ).first()
            if slot is not None and slot[0] is not None and int(old_n) == 0:
                self._x(
                    conn,
                    "INSERT OR REPLACE INTO si_audit (item_id, event_seq, probability, support, seq, labeller, at) "
                    "VALUES (:id, :e, :q, :s, :o, :who, :at)",
                    {"id": item_id, "e": event, "q": slot[0], "s": slot[1], "o": slot[2], "who": labeller,
                     "at": now},
                )
        n = int(old_n) + (0 if replaced else 1)
        done = n >= settings.overlap
        self._x(
            conn,
            "UPDATE si_items SET n_active = :n, done = :done, train_label = :label, "
            "lease_until = CASE WHEN :done OR lease_owner = :who THEN NULL ELSE lease_until END, "
            "lease_owner = CASE WHEN :done OR lease_owner = :who THEN NULL ELSE lease_owner END WHERE id = :id",
            {"n": n, "done": done, "label": text, "who": labeller, "id": item_id},
        )
        self._tally_move(conn, TALLY_CLASS, old_train, text)
        if not replaced:
            self._tally_add(conn, TALLY_LABELLER, labeller, 1)
        self._x(
            conn,
            "UPDATE si_counters SET events = events + 1, labelled = labelled + :l, done = done + :d WHERE id = 1",
            {"l": 1 if old_n == 0 else 0, "d": 1 if done and not was_done else 0},
        )

    def _tally_move(self, conn: Connection, kind: int, old: str | None, new: str | None) -> None:
        if old == new:
            return
        if old is not None:
            self._tally_add(conn, kind, old, -1)
        if new is not None:
            self._tally_add(conn, kind, new, 1)

    def submit(self, item_id: int, label: Any, labeller: str, seconds: float | None = None) -> None:
        self._write_label(item_id, label, labeller, seconds, EVENT_LABEL)

    def relabel(self, item_id: int, label: Any, labeller: str) -> None:
        self._write_label(item_id, label, labeller, None, EVENT_RELABEL)


    def undo(self, labeller: str) -> int | None:
        labeller = self._check_labeller(labeller)
        bulk = self._undo_bulk(labeller)  # the labeller's latest label is a bulk label: undone whole (.bulk)
        if bulk is not _NOT_BULK:
            return bulk
        now = time.time()
        lease_now = float(self._clock())
        if self.d.pg:

            def attempt() -> int | None:
                with self._single() as conn:
                    got = self._x(
                        conn,
                        "SELECT si_undo(:who, :at, :now)",
                        {"who": labeller, "at": now, "now": lease_now},
                    ).scalar()
                return None if got is None else int(got)

            return self._retrying(attempt)
        return self._run(lambda c: self._sqlite_undo(c, labeller, now, lease_now))

    def _sqlite_undo(
        self, conn: Connection, labeller: str, now: float, lease_now: float
    ) -> int | None:
        """SQLite: the steps of ``si_undo`` inside one BEGIN IMMEDIATE transaction."""
        target = self._x(
            conn,
            "SELECT seq, item_id FROM si_events WHERE labeller = :who AND active = 1 "
            "ORDER BY seq DESC LIMIT 1",
            {"who": labeller},
        ).first()
        if target is None:
            return None
        seq, item_id = int(target[0]), int(target[1])
        settings = self._parse_settings(
            self._x(conn, "SELECT settings FROM si_project WHERE id = 1").scalar_one()
        )
        old_n, old_train, was_done = self._x(
            conn, "SELECT n_active, train_label, done FROM si_items WHERE id = :id", {"id": item_id}
        ).one()
        self._x(conn, "UPDATE si_events SET active = 0 WHERE seq = :seq", {"seq": seq})
        latest = self._x(
            conn,
            "SELECT label FROM si_events WHERE item_id = :id AND active = 1 "
            "ORDER BY seq DESC LIMIT 1",
            {"id": item_id},
        ).first()
        new_train = None if latest is None else latest[0]
        self._x(
            conn,
            "INSERT INTO si_events (kind, item_id, labeller, at, active, ref) "
            "VALUES (:k, :id, :who, :at, 0, :ref)",
            {"k": EVENT_UNDO, "id": item_id, "who": labeller, "at": now, "ref": seq},
        )
        self._x(
            conn,
            "UPDATE si_items SET lease_owner = NULL, lease_until = NULL "
            "WHERE lease_owner = :who AND id <> :id",
            {"who": labeller, "id": item_id},
        )
        n = int(old_n) - 1
        # no longer labelled: the audit record is void; labelling the item again at once
        # (it is leased back to this labeller) brings it back
        slot = None if n else self._x(
            conn, "DELETE FROM si_audit WHERE item_id = :id RETURNING probability, support, seq", {"id": item_id}
        ).first()
        if slot is not None:
            self._put_served(conn, labeller, item_id, tuple(slot))
        else:
            self._x(conn, "DELETE FROM si_served WHERE labeller = :who", {"who": labeller})
        done = n >= settings.overlap
        self._x(
            conn,
            "UPDATE si_items SET n_active = :n, done = :done, train_label = :t, lease_owner = :who, "
            "lease_until = :until WHERE id = :id",
            {
                "n": n,
                "done": done,
                "t": new_train,
                "who": labeller,
                "until": lease_now + settings.lease_seconds,
                "id": item_id,
            },
        )
        self._tally_move(conn, TALLY_CLASS, old_train, new_train)
        self._tally_add(conn, TALLY_LABELLER, labeller, -1)
        self._x(
            conn,
            "UPDATE si_counters SET events = events + 1, labelled = labelled - :l, done = done - :d "
            "WHERE id = 1",
            {"l": 1 if n == 0 else 0, "d": 1 if was_done and not done else 0},
        )
        return item_id


    def _tally_add(self, conn: Connection, kind: int, key: str, delta: int) -> None:
        self._x(
            conn,
            "INSERT INTO si_tally (kind, key, n) VALUES (:kind, :key, :n) "
            "ON CONFLICT (kind, key) DO UPDATE SET n = si_tally.n + excluded.n",
            {"kind": kind, "key": key, "n": delta},
        )


    def import_labels(
        self,
        ids: Sequence[int] | Any,
        labels: Sequence[Any],
        labellers: str | Sequence[str],
    ) -> int:
        self._check_open()
        now = time.time()

        def work(conn: Connection) -> int:
            # Settings read under a share lock: they cannot change until the import commits.
            head = self._x(
                conn, "SELECT settings, n_items FROM si_project WHERE id = 1 {d.for_share}"
            ).one()
            settings = self._parse_settings(head[0])
            arr, texts, who = _rules.check_label_rows(ids, labels, labellers, settings, int(head[1]))
            if not len(arr):
                return 0
            state = self._lock_items(conn, sorted(set(arr.tolist())))
            tally: Counter[tuple[int, str]] = Counter()
            labelled = done_delta = 0
            for item_id, text, by in zip(arr.tolist(), texts, who, strict=True):
                n_old, train_old, was_done = state[item_id]
                replaced = self._x(
                    conn,
                    "UPDATE si_events SET active = {d.false} "
                    "WHERE item_id = :id AND labeller = :who AND {d.active}",
                    {"id": item_id, "who": by},
                ).rowcount
                self._x(
                    conn,
                    "INSERT INTO si_events (kind, item_id, labeller, label, at, seconds, active) "
                    "VALUES (:k, :id, :who, :label, :at, NULL, {d.true})",
                    {"k": EVENT_RELABEL, "id": item_id, "who": by, "label": text, "at": now},
                )
                n = n_old + (0 if replaced else 1)
                done = n >= settings.overlap
                self._x(
                    conn,
                    "UPDATE si_items SET n_active = :n, done = :done, train_label = :label, "
                    "lease_until = CASE WHEN :done OR lease_owner = :who THEN NULL ELSE lease_until END, "
                    "lease_owner = CASE WHEN :done OR lease_owner = :who THEN NULL ELSE lease_owner END "
                    "WHERE id = :id",
                    {"n": n, "done": done, "label": text, "who": by, "id": item_id},
                )
                if train_old != text:
                    if train_old is not None:
                        tally[(TALLY_CLASS, train_old)] -= 1
                    tally[(TALLY_CLASS, text)] += 1
                if not replaced:
                    tally[(TALLY_LABELLER, by)] += 1
                labelled += n_old == 0
                done_delta += done and not was_done
                state[item_id] = (n, text, done)
            for (kind, key), delta in sorted(tally.items()):  # lock order: tallies by (kind, key)
                if delta:
                    self._tally_add(conn, kind, key, delta)
            self._x(
                conn,
                "UPDATE si_counters SET events = events + :k, labelled = labelled + :l, "
                "done = done + :d WHERE id = 1",
                {"k": len(arr), "l": labelled, "d": done_delta},
            )
            return len(arr)

        return self._run(work)

    def _lock_items(self, conn: Connection, ids: list[int]) -> dict[int, tuple[int, str | None, bool]]:
        """``(n_active, train_label, done)`` of ``ids`` (ascending), their rows locked in id order."""
        if self.d.pg:
            rows = self._x(
                conn,
                "SELECT id, n_active, train_label, done FROM si_items "
                "WHERE id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR UPDATE",
                {"ids": ids},
            ).all()
        else:  # BEGIN IMMEDIATE already holds the database's write lock
            rows = []
            for k in range(0, len(ids), 500):
                part = ids[k : k + 500]
                marks = ",".join("?" * len(part))
                rows += conn.exec_driver_sql(
                    f"SELECT id, n_active, train_label, done FROM si_items WHERE id IN ({marks})",
                    tuple(part),
                ).all()
        return {int(r[0]): (int(r[1]), r[2], bool(r[3])) for r in rows}
