"""The pool of a folder project: adding items (one parquet file per batch) and reading them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._lazy import lazy_module
from .. import _rules
from ..errors import InvalidInput
from ..items import PreparedBatch, StreamState, batch_table, render_grey_png
from ..protocol import Item, ItemBatch
from . import files as folder_files
from .batches import ItemsFile, copy_rows, take_rows
from .files import DISPLAY_GROUP_BYTES, npy_header, write_atomic, write_rows

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")
    pa = lazy_module("pyarrow")
    pc = lazy_module("pyarrow.compute")
    pq = lazy_module("pyarrow.parquet")

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
        return self.add_items_stream([batch])

    def add_items_stream(self, batches: Iterable[ItemBatch]) -> np.ndarray:
        """Add the rows of every batch of ``batches`` as ONE new batch of the pool, all or nothing.

        Each chunk is validated as it comes and its rows appended to the new batch's
        ``.npy`` and parquet files (``.tmp`` files named by no manifest); only when the
        last chunk was written and the names were checked across chunks are the files
        renamed into place and the manifest written. Any refusal or failure (a bad row in
        a late chunk, a full disk) removes the ``.tmp`` files: the project stays as it was.
        Memory holds one chunk, plus the new names and labels.
        """
        with self._lock:
            self._check_open()
            state = StreamState(self._settings, self._shape)
            start = len(self._queue)
            files: _BatchFiles | None = None
            positions: list[np.ndarray] = []
            values: list[str] = []
            labeller = "import"
            try:
                for batch in batches:
                    at = start + state.n
                    prepared = state.prepare(batch)
                    if files is None:
                        files = _BatchFiles(self.path, self._next_name("items"), prepared)
                    files.append(prepared, at)
                    if len(prepared.label_positions):
                        positions.append(prepared.label_positions + (at - start))
                        values += prepared.label_values
                        labeller = prepared.labeller
                state.check_names()
                assert files is not None
                existing = self._existing_names()
                if existing is not None:
                    new_names = state.all_names()
                    dup = pc.is_in(new_names, value_set=existing)
                    if pc.any(dup).as_py():
                        names = pc.filter(new_names, dup).to_pylist()
                        raise _rules.names_taken(names, len(names))
                files.commit()
            except BaseException:
                if files is not None:
                    files.abort()
                raise
            label_positions = np.concatenate(positions) if positions else np.empty(0, dtype=np.int64)
            return self._register(files, start, state, label_positions, values, labeller)

    def _register(self, files: _BatchFiles, start: int, state: StreamState, label_positions: np.ndarray,
                  label_values: list[str], labeller: str) -> np.ndarray:
        """Name the batch's files (already in place) in the manifest, with the labels it came with."""
        settings, n = state.settings, state.n
        meta = files.meta(start, n, state.has_true)
        old_state = (self._settings, self._shape, list(self._batches))
        self._settings, self._shape = settings, state.shape
        self._batches.append(ItemsFile(self.path, meta, self._decoded))
        ids = np.arange(start, start + n, dtype=np.int64)
        self._ledger.grow(n)
        self._queue.grow(n)
        try:
            if len(label_positions):
                self._ledger.bulk_labels(ids[label_positions], label_values, labeller, time.time())
                labelled = ids[label_positions]
                self._queue.set_done(labelled[self._ledger.n_active[labelled] >= settings.overlap])
                self._compact()  # snapshot (with the new labels) + manifest in one commit
            else:
                self._write_manifest()
        except BaseException:
            # Memory is ahead of disk: reload what is on disk.
            self._settings, self._shape, self._batches = old_state
            files.remove()
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

    def features_into(self, ids: Sequence[int] | np.ndarray, out: np.ndarray) -> bool:
        """Copy the features of ``ids`` into ``out`` (one row per id) when they are numbers in ``.npy`` files.

        The value is what :meth:`features` gives (its array, or its frame's ``to_numpy()``),
        copied straight from the mapped files without an intermediate array or frame. Only when
        every batch involved holds these features as one 2-D ``.npy`` block in the pool's
        column order and ``out`` has their dtype; otherwise returns False and writes nothing
        (the caller reads :meth:`features`). A retrain reads the pool this way.

        The store's lock is held only to find the files: mapping, checking and copying run
        without it (a copy of 1M × 64 takes 0.5 s, during which the app serves items and takes
        labels). The files read are never written again (a batch's ``.npy`` is replaced only
        by a new file), and a mapping outlives the store's closing.
        """
        with self._lock:
            self._check_open()
            ids = self._check_ids(ids)
            shape = self._shape
            if shape is None or len(ids) != len(out) or (self._settings.feature_set and self._set_in_use()):
                return False
            kind = shape.feature_kind
            width = shape.n_features if kind == "array" else len(shape.feature_columns)
            if kind not in ("array", "table") or out.ndim != 2 or out.shape[1] != width:
                return False
            if len(ids) == 0:
                return True
            which = self._batch_of(ids)
            one = bool((which == which[0]).all())
            batches = [int(which[0])] if one else np.unique(which).tolist()
            files = []
            for k in batches:
                b = self._batches[k]
                if b.features_file is None:
                    return False
                if kind == "table" and (list(b.npy_columns or ()) != list(shape.feature_columns)
                                        or b._parquet_table_columns(shape)):
                    return False
                files.append((k, b))
        sources = []
        for k, b in files:
            arr = b.mapped(shape)
            want = np.float32 if kind == "array" else arr.dtype
            if arr.ndim != 2 or out.dtype != want:
                return False
            sources.append((k, b, arr))
        for k, b, arr in sources:
            if len(sources) == 1:
                copy_rows(arr, ids - b.start, out)
            else:
                pos = np.flatnonzero(which == k)
                out[pos] = take_rows(arr, ids[pos] - b.start)
        return True

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



class _BatchFiles:
    """The files of one new batch, written chunk by chunk into ``.tmp`` files, renamed into place by :meth:`commit`.

    The numeric features go to one ``.npy`` file (array features, or a table's numeric
    columns: their dtypes are set by the first chunk; a later chunk must fit them); its
    header is written for a placeholder length first and rewritten with the real one at
    the end. Names, display values, true labels and other features go to one parquet
    file, a few row groups per chunk. Nothing names the ``.tmp`` files, and a reload
    deletes them, so a crash or a refusal midway leaves the project as it was.
    """

    def __init__(self, folder: Path, name: str, first: PreparedBatch) -> None:
        self.folder, self.name = folder, name
        self.kind = first.shape.feature_kind
        self.npy_columns: list[str] = []
        self.npy_dtypes: list[str] = []
        if self.kind == "table":
            self.npy_columns, self.npy_dtypes = _numeric_columns(first.features)
        self.features_name = (name[: -len(".parquet")] + ".npy"
                              if self.kind == "array" or self.npy_columns else None)
        self.lazy = first.kind == "image" and first.display is not None
        self.image_shape, self.pixel_max = first.image_shape, first.pixel_max
        self._npy: Any = None
        self._npy_rows = 0
        self._npy_dtype: np.dtype | None = None
        self._npy_width = 0
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._placed: list[str] = []

    # ------------------------------------------------------------------ writing chunks

    def append(self, prepared: PreparedBatch, start: int) -> None:
        skip: bool | list[str] = True if self.kind == "array" else self.npy_columns
        table = batch_table(prepared, start, skip_features=skip)
        if self.features_name is not None:
            if self.kind == "array":
                self._write_rows(prepared.features)
            else:
                self._write_rows(self._table_block(prepared))
        self._write_table(table)

    def _table_block(self, prepared: PreparedBatch) -> Any:
        # the columns' dtypes are the first chunk's (StreamState); a float64 column is stored as float32
        # when the first chunk's values fit, so a later chunk's values must fit too
        cols, dtypes = _numeric_columns(prepared.features)
        for c, got, want in zip(cols, dtypes, self.npy_dtypes, strict=True):
            if got != want and not np.can_cast(np.dtype(got), np.dtype(want), "safe"):
                raise InvalidInput(
                    f"Column {c!r} holds values too large for 32-bit floats from row {prepared.names[0]!r} "
                    "on, but not before; rescale them first. Nothing was imported."
                )
        return _table_matrix(prepared.features, self.npy_columns, self.npy_dtypes)

    def _write_rows(self, array: Any) -> None:
        if self._npy is None:
            self._npy_dtype = np.dtype(array.dtype)
            self._npy_rest = tuple(int(x) for x in array.shape[1:])
            self._npy_width = len(npy_header(self._npy_dtype, (10**15, *self._npy_rest)))  # room for any length
            self._npy = open(self.folder / (self.features_name + ".tmp"), "wb")  # noqa: SIM115 (kept open)
            self._npy.write(b"\0" * self._npy_width)
        assert self._npy_dtype is not None
        self._npy_rows += write_rows(self._npy, array, self._npy_dtype)

    def _write_table(self, table: pa.Table) -> None:
        # ~1 MB of names and display values per row group: one item() reads about that much
        rows_per_group = int(min(1 << 20, max(8, DISPLAY_GROUP_BYTES // max(_mean_row_bytes(table), 1))))
        if self._parquet is None:
            self._schema = table.schema
            lazy = self.lazy
            self._parquet = pq.ParquetWriter(
                self.folder / (self.name + ".tmp"), table.schema, use_dictionary=["true_label"],
                # pictures are compressed already (PNG/JPEG); everything else zstd
                compression={c: "none" if lazy and c == "display" else "zstd" for c in table.column_names},
                compression_level={c: 1 for c in table.column_names if not (lazy and c == "display")},
                write_statistics=["id"])
        elif table.schema != self._schema:
            assert self._schema is not None
            try:
                table = table.cast(self._schema)
            except (pa.ArrowException, ValueError):
                odd = next((f.name for f in self._schema if f.name not in table.column_names
                            or table.schema.field(f.name).type != f.type), "?")
                raise InvalidInput(
                    f"Column {odd.removeprefix('f:')!r} changes type from row {table.column('name')[0].as_py()!r} "
                    "on; make it one type first. Nothing was imported.") from None
        self._parquet.write_table(table, row_group_size=rows_per_group)

    # ------------------------------------------------------------------ committing

    def commit(self) -> None:
        """fsync and rename the files into place (features first): still named by no manifest."""
        if self.features_name is not None:
            assert self._npy_dtype is not None
            header = npy_header(self._npy_dtype, (self._npy_rows, *self._npy_rest), self._npy_width)

            def finish_npy(tmp: Path) -> None:
                self._npy.seek(0)
                folder_files.write_chunk(self._npy, header)
                self._npy.close()

            write_atomic(self.folder / self.features_name, finish_npy)
            self._placed.append(self.features_name)
        assert self._parquet is not None
        write_atomic(self.folder / self.name, lambda tmp: self._parquet.close())
        self._placed.append(self.name)

    def abort(self) -> None:
        """Close and delete everything written (the ``.tmp`` files and any file already renamed)."""
        for handle in (self._npy, self._parquet):
            try:
                if handle is not None:
                    handle.close()
            except (OSError, pa.ArrowException):
                pass
        for f in (self.name, self.features_name):
            if f is not None:
                (self.folder / (f + ".tmp")).unlink(missing_ok=True)
        self.remove()

    def remove(self) -> None:
        for f in self._placed:  # named by no manifest: the project stays as it was
            (self.folder / f).unlink(missing_ok=True)

    def meta(self, start: int, n: int, has_true: bool) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "file": self.name, "start": start, "count": n,
            "image_shape": list(self.image_shape) if self.image_shape else None,
            "pixel_max": self.pixel_max, "has_true_labels": has_true, "lazy_display": self.lazy,
        }
        if self.features_name is not None:
            meta["features_file"] = self.features_name
        if self.kind == "table" and self.npy_columns:
            meta["npy_columns"] = self.npy_columns
            meta["npy_dtypes"] = self.npy_dtypes
        return meta


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
