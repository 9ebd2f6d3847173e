"""Pre-annotations in a SQL project (rules in :mod:`superintendent_core.store.preannotations`).

Table ``si_preannotations`` (item_id primary key, label, score, source, at), created
with the bulk-label table by :func:`~.bulk.ensure_extra_tables`; a save is one
transaction of upserts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from ..preannotations import check_preannotations, empty_preannotations

__all__ = ["SQLPreannotations"]


class SQLPreannotations:
    """Pre-annotations: methods of :class:`~.store.SQLStore` (its state is set up there)."""

    def save_preannotations(
        self, ids: Sequence[int] | np.ndarray, labels: Sequence[Any], scores: Any = None, *, source: str = "import"
    ) -> int:
        self._check_open()
        now = time.time()

        def work(conn: Connection) -> int:
            head = self._x(conn, "SELECT settings, n_items FROM si_project WHERE id = 1 {d.for_share}").one()
            arr, texts, score_arr, src = check_preannotations(ids, labels, scores, source,
                                                              self._parse_settings(head[0]), int(head[1]))
            rows = [{"id": int(i), "label": t, "score": None if np.isnan(s) else float(s), "src": src, "at": now}
                    for i, t, s in zip(arr.tolist(), texts, score_arr.tolist(), strict=True)]
            for k in range(0, len(rows), 1000):
                conn.exec_driver_sql(self.d.sql(
                    "INSERT INTO si_preannotations (item_id, label, score, source, at) "
                    "VALUES (:id, :label, :score, :src, :at) ON CONFLICT (item_id) DO UPDATE SET "
                    "label = excluded.label, score = excluded.score, source = excluded.source, at = excluded.at"),
                    rows[k : k + 1000])
            return len(rows)

        return self._run(work)

    def preannotations(self) -> pd.DataFrame:
        rows = self._fetch("SELECT item_id, label, score, source FROM si_preannotations ORDER BY item_id")
        if not rows:
            return empty_preannotations()
        ids, labels, scores, sources = zip(*rows, strict=True)
        return pd.DataFrame({
            "item_id": np.asarray(ids, dtype=np.int64),
            "label": np.asarray(labels, dtype=object),
            "score": np.asarray([np.nan if s is None else s for s in scores], dtype=np.float64),
            "source": np.asarray(sources, dtype=object),
        })

    def preannotation(self, item_id: int) -> tuple[str, float] | None:
        item_id = self._check_id(item_id)
        row = self._fetch("SELECT label, score FROM si_preannotations WHERE item_id = :id", {"id": item_id},
                          how="first")
        if row is None:
            return None
        return str(row[0]), (np.nan if row[1] is None else float(row[1]))
