"""The retrain history of a SQL project: one row per retrain in ``si_history``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import _rules

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
