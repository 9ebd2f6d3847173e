"""The pool of a folder project: adding items (one parquet file per batch) and reading them."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import _rules
from ..items import PreparedBatch, batch_table, prepare_batch, render_grey_png
from ..protocol import Item, ItemBatch, ProjectSettings
from ..settings import check_classes
from .batches import ItemsFile, take_rows
from .files import DISPLAY_GROUP_BYTES, write_atomic, write_npy

__all__ = ["FolderItems"]


class FolderItems:
    """The pool methods of :class:`~.store.FolderStore` (its state is set up there)."""

    def __len__(self) -> int:
        return len(self._queue)

    def _existing_names(self) -> pa.Array | None:
        if not self._batches:
            return None
        return pa.concat_arrays([b.all_names() for b in self._batches])

    def add_items(self, batch: ItemBatch) -> np.ndarray:
        with self._lock:
            self._check_open()
            settings = self._settings
            if not settings.classes:
                found = _rules.batch_classes(batch, settings.multi_label)
                if found:
                    settings = dataclasses.replace(settings, classes=check_classes(found))
            prepared = prepare_batch(batch, settings, self._shape)
            existing = self._existing_names()
            if existing is not None:
                new_names = prepared.names_array
                if new_names is None:
                    new_names = pa.array(prepared.names, type=pa.string())
                dup = pc.is_in(new_names, value_set=existing)
                if pc.any(dup).as_py():
                    names = [n for n, d in zip(prepared.names, dup.to_pylist(), strict=True) if d]
                    raise _rules.names_taken(names, len(names))
            if self._shape is None and (settings.kind != prepared.kind
                                        or settings.feature_kind != prepared.shape.feature_kind):
                settings = dataclasses.replace(settings, kind=prepared.kind,
                                               feature_kind=prepared.shape.feature_kind)
            return self._add_prepared(prepared, settings)

    def _add_prepared(self, prepared: PreparedBatch, settings: ProjectSettings) -> np.ndarray:
        start = len(self._queue)
        n = len(prepared)
        kind = prepared.shape.feature_kind
        npy_columns: list[str] = []
        npy_dtypes: list[str] = []
        if kind == "table":
            npy_columns, npy_dtypes = _numeric_columns(prepared.features)
        table = batch_table(prepared, start, skip_features=True if kind == "array" else npy_columns)
        name = self._next_name("items")
        features_name = name[: -len(".parquet")] + ".npy" if kind == "array" or npy_columns else None
        lazy = prepared.kind == "image" and prepared.display is not None
        # ~1 MB of names and display values per row group: one item() reads about that much
        rows_per_group = int(min(1 << 20, max(8, DISPLAY_GROUP_BYTES // max(_mean_row_bytes(table), 1))))
        written: list[str] = []
        try:
            if features_name is not None:
                if kind == "array":
                    write_npy(self.path / features_name, prepared.features)
                else:
                    write_npy(self.path / features_name, _table_matrix(prepared.features, npy_columns, npy_dtypes))
                written.append(features_name)
            write_atomic(self.path / name, lambda p: pq.write_table(
                table, p, use_dictionary=["true_label"],
                # pictures are compressed already (PNG/JPEG); everything else zstd
                compression={c: "none" if lazy and c == "display" else "zstd" for c in table.column_names},
                compression_level={c: 1 for c in table.column_names if not (lazy and c == "display")},
                write_statistics=["id"], row_group_size=rows_per_group))
            written.append(name)
        except BaseException:
            for f in written:  # named by no manifest: the project stays as it was
                (self.path / f).unlink(missing_ok=True)
            raise
        meta = {
            "file": name, "start": start, "count": n,
            "image_shape": list(prepared.image_shape) if prepared.image_shape else None,
            "pixel_max": prepared.pixel_max, "has_true_labels": prepared.true_labels is not None,
            "lazy_display": lazy,
        }
        if features_name is not None:
            meta["features_file"] = features_name
        if kind == "table" and npy_columns:
            meta["npy_columns"] = npy_columns
            meta["npy_dtypes"] = npy_dtypes
        old_state = (self._settings, self._shape, list(self._batches))
        self._settings, self._shape = settings, prepared.shape
        self._batches.append(ItemsFile(self.path, meta, self._decoded))
        ids = np.arange(start, start + n, dtype=np.int64)
        self._ledger.grow(n)
        self._queue.grow(n)
        try:
            if len(prepared.label_positions):
                self._ledger.bulk_labels(ids[prepared.label_positions], prepared.label_values,
                                         prepared.labeller, time.time())
                labelled = ids[prepared.label_positions]
                self._queue.set_done(labelled[self._ledger.n_active[labelled] >= settings.overlap])
                self._compact()  # snapshot (with the new labels) + manifest in one commit
            else:
                self._write_manifest()
        except BaseException:
            # Memory is ahead of disk: reload what is on disk.
            self._settings, self._shape, self._batches = old_state
            for f in written:
                (self.path / f).unlink(missing_ok=True)
            self._reload()
            raise
        return ids

    def _batch_of(self, ids: np.ndarray) -> np.ndarray:
        starts = np.fromiter((b.start for b in self._batches), dtype=np.int64, count=len(self._batches))
        return np.searchsorted(starts, ids, side="right") - 1

    def item(self, item_id: int) -> Item:
        with self._lock:
            self._check_open()
            item_id = self._check_id(item_id)
            b = self._batches[int(self._batch_of(np.array([item_id]))[0])]
            row = item_id - b.start
            name = b.value("name", row)
            display = b.display(row)
            kind = self._settings.kind
            if kind == "image":
                if display is None:
                    assert b.image_shape is not None and self._shape is not None
                    values = take_rows(b.features(self._shape), np.array([row]))[0]
                    display = render_grey_png(values, b.image_shape, b.pixel_max)
                mime = "image/jpeg" if display[:3] == b"\xff\xd8\xff" else "image/png"
                return Item(item_id, name, "image", display, mime)
            if kind == "table":
                return Item(item_id, name, "table", json.loads(display))
            return Item(item_id, name, "text", display)

    def names(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        with self._lock:
            self._check_open()
            ids = self._check_ids(ids)
            return self._names(ids)

    def _names(self, ids: np.ndarray) -> list[str]:
        if len(ids) == 0:
            return []
        out = np.empty(len(ids), dtype=object)
        which = self._batch_of(ids)
        for k in np.unique(which).tolist():
            mask = which == k
            b = self._batches[k]
            out[mask] = b.column_rows("name", ids[mask] - b.start)
        return out.tolist()

    def features(self, ids: Sequence[int] | np.ndarray) -> Any:
        with self._lock:
            self._check_open()
            ids = self._check_ids(ids)
            return self._features(ids)

    def _base_features(self, ids: Sequence[int] | np.ndarray) -> Any:
        """The features the items were added with, whatever feature set is active (for copies)."""
        with self._lock:
            self._check_open()
            return self._features(self._check_ids(ids), use_set=False)

    def _features(self, ids: np.ndarray, use_set: bool = True) -> Any:
        if use_set and self._settings.feature_set and (name := self._set_in_use()):  # a feature set
            return self._set_features(name, ids)
        shape = self._shape
        kind = shape.feature_kind if shape else self._settings.feature_kind
        if shape is None or len(ids) == 0:
            if kind == "array":
                return np.empty((0, shape.n_features if shape else 0), dtype=np.float32)
            if kind == "text":
                return []
            return pd.DataFrame(columns=list(shape.feature_columns) if shape else [])
        which = self._batch_of(ids)
        if kind == "array":
            batches = np.unique(which).tolist()
            if len(batches) == 1:
                b = self._batches[batches[0]]
                return take_rows(b.features(shape), ids - b.start).astype(np.float32, copy=False)
            out = np.empty((len(ids), shape.n_features), dtype=np.float32)
            for k in batches:
                pos = np.flatnonzero(which == k)
                b = self._batches[k]
                out[pos] = take_rows(b.features(shape), ids[pos] - b.start)
            return out
        if kind == "text":
            out_text = np.empty(len(ids), dtype=object)
            for k in np.unique(which).tolist():
                b = self._batches[k]
                pos = np.flatnonzero(which == k)
                out_text[pos] = b.column_rows("features", ids[pos] - b.start)
            return out_text.tolist()
        parts, positions = [], []
        for k in np.unique(which).tolist():
            pos = np.flatnonzero(which == k)
            b = self._batches[k]
            parts.append(b.table_rows(shape, ids[pos] - b.start))
            positions.append(pos)
        if len(parts) == 1:
            return parts[0]
        df = pd.concat(parts, ignore_index=True)
        order = np.argsort(np.concatenate(positions), kind="stable")
        return df.iloc[order].reset_index(drop=True)

    def unlabelled_ids(self) -> np.ndarray:
        with self._lock:
            self._check_open()
            return np.flatnonzero(self._ledger.n_active == 0).astype(np.int64)

    def true_labels(self, ids: Sequence[int] | np.ndarray) -> np.ndarray | None:
        with self._lock:
            self._check_open()
            ids = self._check_ids(ids)
            if not any(b.has_true for b in self._batches):
                return None
            out = np.full(len(ids), None, dtype=object)
            which = self._batch_of(ids)
            for k in np.unique(which).tolist():
                b = self._batches[k]
                if not b.has_true:
                    continue
                mask = which == k
                out[mask] = b.column_rows("true_label", ids[mask] - b.start)
            return out



def _mean_row_bytes(table: pa.Table) -> float:
    """Mean bytes per row of what the parquet file holds (names, display, labels, text features)."""
    return table.nbytes / max(table.num_rows, 1)


def _numeric_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Table feature columns that go to the ``.npy`` file, and their stored dtypes.

    Plain numpy numbers and booleans; floats are stored as float32 (float64 values
    beyond float32's range keep float64). Anything else (text, categories, dates,
    pandas' nullable types) stays in the parquet file.
    """
    cols, dtypes = [], []
    for c in frame.columns:
        dt = frame[c].dtype
        if not isinstance(dt, np.dtype) or dt.kind not in "biuf":
            continue
        if dt.kind == "f" and dt != np.float32:
            big = np.abs(frame[c].to_numpy()).max(initial=0) > np.finfo(np.float32).max
            dt = np.dtype(np.float64) if big else np.dtype(np.float32)
        cols.append(str(c))
        dtypes.append(str(dt))
    return cols, dtypes


def _table_matrix(frame: pd.DataFrame, columns: list[str], dtypes: list[str]) -> Any:
    """The numeric columns as a 2-D array (one dtype) or a record array (several), built by chunks."""
    n = len(frame)
    if len(set(dtypes)) == 1:
        dtype = np.dtype(dtypes[0])
        sub = frame[columns]
        if all(sub[c].dtype == dtype for c in columns):
            # one block: a view of pandas' column-major data; each chunk is transposed once (in C)
            view = sub.to_numpy()
            return _Chunked((n, len(columns)), dtype, lambda lo, hi: view[lo:hi])
        return _Chunked((n, len(columns)), dtype,
                        lambda lo, hi: np.column_stack([frame[c].to_numpy()[lo:hi] for c in columns]).astype(
                            dtype, copy=False))
    rec = np.dtype([(f"c{k}", d) for k, d in enumerate(dtypes)])

    def block(lo: int, hi: int) -> np.ndarray:
        out = np.empty(hi - lo, dtype=rec)
        for k, c in enumerate(columns):
            out[f"c{k}"] = frame[c].to_numpy()[lo:hi]
        return out
    return _Chunked((n,), rec, block)


class _Chunked:
    """An array to write by row chunks (:func:`~.files.write_npy`), never held whole."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, block: Any) -> None:
        self.shape, self.dtype, self.block = shape, dtype, block
