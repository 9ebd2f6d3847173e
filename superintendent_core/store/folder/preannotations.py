"""Pre-annotations in a folder project (rules in :mod:`superintendent_core.store.preannotations`).

One parquet file, ``preannotations-NNNNNN.parquet`` (item_id, label, score, source),
named by the manifest's ``preannotations`` key; a save writes the whole merged
table to a new file, then the manifest (the atomic step), then deletes the old
file. Code that does not know the key ignores the file: pre-annotations are never
labels, so nothing is misread. Read once and kept in memory (a dict for the Label
page's one-item look-up).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._lazy import lazy_module
from ..preannotations import check_preannotations, empty_preannotations, merge_preannotations
from .files import write_atomic

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")
    pa = lazy_module("pyarrow")
    pq = lazy_module("pyarrow.parquet")

__all__ = ["FolderPreannotations"]


class FolderPreannotations:
    """The pre-annotation methods of :class:`~.store.FolderStore` (its state is set up there)."""

    def _no_preannotations(self) -> None:
        self._pre_file: str | None = None
        self._pre_frame: pd.DataFrame | None = None
        self._pre_lookup: dict[int, tuple[str, float]] | None = None

    def _pre_table(self) -> pd.DataFrame:
        if self._pre_frame is None:
            if self._pre_file is None:
                frame = empty_preannotations()
            else:
                frame = pq.read_table(self.path / self._pre_file).to_pandas()
                frame["label"] = frame["label"].astype(object)
                frame["source"] = frame["source"].astype(object)
            self._pre_frame = frame
            self._pre_lookup = None
        return self._pre_frame

    def save_preannotations(
        self, ids: Sequence[int] | np.ndarray, labels: Sequence[Any], scores: Any = None, *, source: str = "import"
    ) -> int:
        with self._lock:
            self._check_open()
            arr, texts, score_arr, source = check_preannotations(ids, labels, scores, source, self._settings,
                                                                 len(self._queue))
            if not len(arr):
                return 0
            merged = merge_preannotations(self._pre_table(), arr, texts, score_arr, source)
            table = pa.table({
                "item_id": pa.array(merged["item_id"].to_numpy(), type=pa.int64()),
                "label": pa.array(merged["label"].tolist(), type=pa.string()),
                "score": pa.array(merged["score"].to_numpy(), type=pa.float64()),
                "source": pa.array(merged["source"].tolist(), type=pa.string()),
            })
            old = self._pre_file
            name = self._next_name("preannotations")
            write_atomic(self.path / name, lambda p: pq.write_table(table, p, compression="zstd"))
            self._pre_file = name
            try:
                self._write_manifest()
            except BaseException:
                self._pre_file = old
                (self.path / name).unlink(missing_ok=True)
                raise
            self._pre_frame, self._pre_lookup = merged, None
            if old:
                (self.path / old).unlink(missing_ok=True)
            return len(arr)

    def preannotations(self) -> pd.DataFrame:
        with self._lock:
            self._check_open()
            return self._pre_table().copy()

    def preannotation(self, item_id: int) -> tuple[str, float] | None:
        with self._lock:
            self._check_open()
            item_id = self._check_id(item_id)
            if self._pre_file is None and self._pre_frame is None:
                return None  # none saved: no table to build (nor pandas to import) for the Label page
            if self._pre_lookup is None:
                t = self._pre_table()
                self._pre_lookup = dict(zip(t["item_id"].tolist(),
                                            zip(t["label"].tolist(), t["score"].tolist(), strict=True),
                                            strict=True))
            return self._pre_lookup.get(item_id)
