"""The retrain history of a folder project: one small parquet file, rewritten on each retrain."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import _rules
from .files import write_atomic

__all__ = ["FolderHistory"]


class FolderHistory:
    """The history methods of :class:`~.store.FolderStore` (its state is set up there)."""

    def _load_history(self) -> list[dict[str, Any]]:
        if self._history_file is None:
            return []
        t = pq.read_table(self.path / self._history_file)
        return [json.loads(s) for s in t.column("entry").to_pylist()]

    def record_retrain(self, entry: Mapping[str, Any]) -> None:
        with self._lock:
            self._check_open()
            text, _ = _rules.retrain_entry(
                entry, lambda v: v.item() if isinstance(v, np.generic) else str(v))
            history = self._history + [json.loads(text)]
            old = self._history_file
            name = self._next_name("history")
            table = pa.table({"entry": pa.array([json.dumps(h) for h in history], type=pa.string())})
            write_atomic(self.path / name, lambda p: pq.write_table(table, p))
            self._history_file = name
            self._write_manifest()
            self._history = history
            if old:
                (self.path / old).unlink(missing_ok=True)

    def history(self) -> pd.DataFrame:
        with self._lock:
            return _rules.history_frame(list(self._history))

