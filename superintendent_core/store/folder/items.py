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
from .batches import ItemsFile
from .files import DISPLAY_GROUP_BYTES, write_atomic

__all__ = ["FolderItems"]


class FolderItems:
    """The pool methods of :class:`~.store.FolderStore` (its state is set up there)."""

    def __len__(self) -> int:
        return len(self._queue)

    def _existing_names(self) -> pa.ChunkedArray | None:
        if not self._batches:
            return None
        return pa.chunked_array([b.table.column("name").combine_chunks() for b in self._batches])

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
                dup = pc.is_in(pa.array(prepared.names), value_set=existing.combine_chunks())
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
        table = batch_table(prepared, start)
        name = self._next_name("items")
        lazy = prepared.kind == "image" and prepared.display is not None
        rows_per_group = 1 << 20
        if lazy:  # ~1 MB of pictures per row group: one item() reads about that much
            mean_bytes = sum(len(d) for d in prepared.display) / n
            rows_per_group = int(min(1 << 20, max(8, DISPLAY_GROUP_BYTES // max(mean_bytes, 1))))
        write_atomic(self.path / name, lambda p: pq.write_table(
            table, p, use_dictionary=["true_label"],
            # pictures are compressed already (PNG/JPEG); everything else zstd
            compression={c: "none" if lazy and c == "display" else "zstd" for c in table.column_names},
            compression_level={c: 1 for c in table.column_names if not (lazy and c == "display")},
            write_statistics=["id"], row_group_size=rows_per_group))
        meta = {
            "file": name, "start": start, "count": n,
            "image_shape": list(prepared.image_shape) if prepared.image_shape else None,
            "pixel_max": prepared.pixel_max, "has_true_labels": prepared.true_labels is not None,
            "lazy_display": lazy,
        }
        old_state = (self._settings, self._shape, list(self._batches))
        self._settings, self._shape = settings, prepared.shape
        self._batches.append(ItemsFile(self.path, meta))
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
            (self.path / name).unlink(missing_ok=True)
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
            t = b.table
            name = t.column("name")[row].as_py()
            display = b.display(row)
            kind = self._settings.kind
            if kind == "image":
                if display is None:
                    assert b.image_shape is not None and self._shape is not None
                    display = render_grey_png(b.features(self._shape)[row], b.image_shape, b.pixel_max)
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
            out[mask] = b.table.column("name").take(pa.array(ids[mask] - b.start)).to_numpy(zero_copy_only=False)
        return out.tolist()

    def features(self, ids: Sequence[int] | np.ndarray) -> Any:
        with self._lock:
            self._check_open()
            ids = self._check_ids(ids)
            return self._features(ids)

    def _features(self, ids: np.ndarray) -> Any:
        if self._settings.feature_set and (name := self._set_in_use()):  # a feature set (feature_sets.py)
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
                return b.features(shape)[ids - b.start].astype(np.float32, copy=False)
            out = np.empty((len(ids), shape.n_features), dtype=np.float32)
            for k in batches:
                pos = np.flatnonzero(which == k)
                b = self._batches[k]
                out[pos] = b.features(shape)[ids[pos] - b.start]
            return out
        if kind == "text":
            out_list: list[Any] = [None] * len(ids)
            for k in np.unique(which).tolist():
                b = self._batches[k]
                texts = b.features(shape)
                for pos in np.flatnonzero(which == k).tolist():
                    out_list[pos] = texts[int(ids[pos]) - b.start]
            return out_list
        parts, positions = [], []
        for k in np.unique(which).tolist():
            pos = np.flatnonzero(which == k)
            b = self._batches[k]
            parts.append(b.features(shape).iloc[ids[pos] - b.start])
            positions.append(pos)
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
                col = b.table.column("true_label")
                out[mask] = col.take(pa.array(ids[mask] - b.start)).to_numpy(zero_copy_only=False)
            return out

