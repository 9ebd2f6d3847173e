"""Counts and labels of a SQL project: progress, revision, the labels in force, training data.

Counting is incremental: ``progress()`` and ``revision()`` read counters kept up
to date by every label transaction (``si_counters``, ``si_tally``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from .. import _rules
from ..ledger import EVENT_SKIP
from ..protocol import Progress, Revision
from .schema import TALLY_CLASS

__all__ = ["SQLProgress"]


class SQLProgress:
    """Counts and labels: methods of :class:`~.store.SQLStore` (its state is set up there)."""

    def progress(self) -> Progress:
        rows = self._fetch(
            "SELECT 0, p.settings, c.labelled, c.done, p.n_items FROM si_counters c CROSS JOIN si_project p "
            "WHERE c.id = 1 AND p.id = 1 "
            "UNION ALL SELECT 1, NULL, COUNT(*), 0, 0 FROM si_items "
            "WHERE lease_owner IS NOT NULL AND lease_until > :now AND {d.open} "
            "UNION ALL SELECT 2 + kind, key, n, 0, 0 FROM si_tally WHERE n <> 0",
            {"now": float(self._clock())},
        )
        settings = self._settings_obj
        labelled = done = total = leased = 0
        per_class: dict[str, int] = {}
        per_labeller: dict[str, int] = {}
        for part, key, a, b, c in rows:
            if part == 0:
                settings = self._parse_settings(key)
                labelled, done, total = int(a), int(b), int(c)
            elif part == 1:
                leased = int(a)
            elif part == 2 + TALLY_CLASS:
                per_class[key] = int(a)
            else:
                per_labeller[key] = int(a)
        assert settings is not None
        classes = _rules.per_class(settings.classes, per_class.items(), settings.multi_label)
        return Progress(
            labelled=labelled,
            total=total,
            per_class=classes,
            per_labeller=dict(sorted(per_labeller.items())),
            leased=leased,
            done=done,
        )

    def skip_counts(self) -> dict[str, int]:
        rows = self._fetch(
            "SELECT labeller, COUNT(*) FROM si_events WHERE kind = :k GROUP BY labeller", {"k": EVENT_SKIP}
        )
        return dict(sorted((str(who), int(n)) for who, n in rows))

    def revision(self) -> Revision:
        row = self._fetch(
            "SELECT p.n_items, c.events, p.order_version FROM si_project p CROSS JOIN si_counters c "
            "WHERE p.id = 1 AND c.id = 1",
            how="one",
        )
        return Revision(int(row[0]), int(row[1]), int(row[2]))

    def labels(self) -> pd.DataFrame:
        rows = self._fetch(
            "SELECT e.item_id, i.name, e.label, e.labeller, e.at, e.seconds, b.event_seq IS NOT NULL "
            "FROM si_events e JOIN si_items i ON i.id = e.item_id "
            "LEFT JOIN si_bulk_labels b ON b.event_seq = e.seq WHERE e.{d.active} ORDER BY e.seq"
        )
        n = len(rows)
        cols = list(zip(*rows, strict=True)) if rows else [()] * 7
        return pd.DataFrame(
            {
                "item_id": np.fromiter(cols[0], dtype=np.int64, count=n),
                "name": pd.array(list(cols[1]), dtype=object),
                "label": np.array(cols[2], dtype=object),
                "labeller": np.array(cols[3], dtype=object),
                "time": pd.to_datetime(
                    np.fromiter(cols[4], dtype=np.float64, count=n), unit="s", utc=True
                ),
                "seconds": np.array(
                    [np.nan if s is None else s for s in cols[5]], dtype=np.float64
                ),
                "bulk": np.array([bool(b) for b in cols[6]], dtype=bool),
            }
        )

    def training_data(self) -> tuple[np.ndarray, Any, list]:
        def work(conn: Connection) -> tuple[np.ndarray, Any, list]:
            settings, shape = self._head(conn)
            rows = self._x(
                conn,
                "SELECT id, train_label FROM si_items WHERE train_label IS NOT NULL ORDER BY id",
            ).all()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            y = [_rules.split_label(r[1], settings.multi_label) for r in rows]
            return (
                ids,
                self._features(
                    conn, ids, shape, shape.feature_kind if shape else settings.feature_kind,
                    settings.feature_set,
                ),
                y,
            )

        return self._read(work)
