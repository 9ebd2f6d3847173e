"""A SQL project's retrain outputs: one row per retrain in ``si_history``; the latest suggestions in ``si_suggestions``."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import _rules
from ..suggestions import Suggestions, check_suggestions, decode_suggestions, encode_suggestions

__all__ = ["SQLHistory"]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.timestamp()
    return str(value)


class SQLHistory:
    """Retrain history: methods of :class:`~.store.SQLStore` (its state is set up there)."""

    def record_retrain(self, entry: Mapping[str, Any]) -> None:
        text, at = _rules.retrain_entry(entry, _json_default)
        self._run(
            lambda c: self._x(
                c, "INSERT INTO si_history (at, entry) VALUES (:at, :e)", {"at": at, "e": text}
            )
        )

    def history(self) -> pd.DataFrame:
        rows = self._fetch("SELECT entry FROM si_history ORDER BY seq")
        return _rules.history_frame([json.loads(r[0]) for r in rows])

    def save_suggestions(self, ids, labels, probabilities, meta=None) -> int:
        ids, labels, probs, meta_text = check_suggestions(ids, labels, probabilities, meta, self._check_ids)
        at = json.loads(meta_text)["time"]
        params = {"at": float(at) if isinstance(at, int | float) else time.time(), "m": meta_text,
                  "d": encode_suggestions(ids, labels, probs)}
        # One statement: concurrent savers each get their own version (+1), whoever wins last stays.
        return int(self._run(lambda c: self._x(
            c,
            "INSERT INTO si_suggestions (id, version, at, meta, data) VALUES (1, 1, :at, :m, :d) "
            "ON CONFLICT (id) DO UPDATE SET version = si_suggestions.version + 1, at = excluded.at, "
            "meta = excluded.meta, data = excluded.data RETURNING version",
            params,
        ).scalar_one()))

    def suggestions_version(self) -> int:
        self._check_open()
        value = self._fetch("SELECT version FROM si_suggestions WHERE id = 1", how="scalar")
        return 0 if value is None else int(value)

    def suggestions(self) -> Suggestions | None:
        version = self.suggestions_version()
        cached = getattr(self, "_suggestions_cache", None)
        if version == 0 or (cached is not None and cached.version == version):
            return cached if version else None
        row = self._fetch("SELECT version, meta, data FROM si_suggestions WHERE id = 1", how="first")
        if row is None:
            return None
        try:
            cached = decode_suggestions(bytes(row[2]), int(row[0]), row[1])
        except (ValueError, KeyError, pa.ArrowException):
            return None  # derived data: the next retrain writes them again
        self._suggestions_cache = cached
        return cached
