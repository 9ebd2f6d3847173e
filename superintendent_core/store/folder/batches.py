"""One items file of a project folder, read lazily, and the bounded cache of decoded features.

Since format 3 a batch's numeric features sit in an ``.npy`` file beside its
parquet file (``items-000001.npy``): memory-mapped and read zero-copy, so a
process never decodes them whole (mapped pages are the kernel's page cache, not
a copy). Names, display values, true labels and text features stay in the
parquet file, in row groups of about :data:`~.files.DISPLAY_GROUP_BYTES`, read
one row group at a time. Batches of earlier versions keep their features in the
parquet file (one row group); they are decoded whole on first use and held in
the store's :class:`DecodedCache`, like text features and non-numeric table
columns.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._lazy import lazy_module
from ..errors import VersionError
from ..items import FEATURE_CACHE_BYTES, PoolShape
from ..mapped import release_rows
from .files import restore_hint

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")
    pa = lazy_module("pyarrow")
    pq = lazy_module("pyarrow.parquet")

__all__ = ["DEFAULT_CACHE_BYTES", "DecodedCache", "ItemsFile", "copy_rows", "decoded_size", "take_rows"]

#: Decoded features a store keeps by default (every backend's ``feature_cache_bytes``).
DEFAULT_CACHE_BYTES = FEATURE_CACHE_BYTES


def decoded_size(value: Any) -> int:
    """Bytes of decoded features (ndarray, DataFrame, Arrow array or list of str)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(deep=True, index=False).sum())
    if isinstance(value, pa.Array | pa.ChunkedArray):
        return int(value.nbytes)
    return sum(len(v) for v in value) + 56 * len(value)


#: :func:`take_rows` copies runs of consecutive rows as slices when the runs are at least this
#: long on average; shorter runs are gathered row by row (numpy's fancy indexing).
MIN_MEAN_RUN = 64


def take_rows(arr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``arr[rows]`` as a new array; runs of consecutive rows are copied as slices (no gather).

    A retrain reads the unlabelled items in id order: long runs broken only where an item is
    labelled. Copying each run as one slice of the mapped file is a ``memcpy`` per run instead
    of a gather per row (1M × 64 float32: about 3× less CPU). When ``arr`` is a read-only
    memory map, the pages the copy read are then dropped from this process
    (:func:`~superintendent_core.store.mapped.release_rows`): the caller's copy is the only
    memory the read leaves behind.
    """
    rows = np.asarray(rows)
    if len(rows) < 2:
        return arr[rows]
    out = np.empty((len(rows), *arr.shape[1:]), dtype=arr.dtype)
    copy_rows(arr, rows, out)
    return out


def copy_rows(arr: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """``out[:] = arr[rows]`` (cast to ``out``'s dtype), runs of consecutive rows copied as slices.

    A read-only memory map's pages that were read are dropped from the process afterwards
    (:func:`~superintendent_core.store.mapped.release_rows`).
    """
    rows = np.asarray(rows)
    n = len(rows)
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1 if n > 1 else np.empty(0, dtype=np.intp)
    if n == 0:
        return
    if n < MIN_MEAN_RUN * (len(breaks) + 1):
        out[...] = arr[rows]
    else:
        lo = 0
        for hi in [*breaks.tolist(), n]:
            first = int(rows[lo])
            out[lo:hi] = arr[first : first + hi - lo]
            lo = hi
    release_rows(arr, int(rows.min()), int(rows.max()) + 1)


class DecodedCache:
    """Decoded features by key, least recently used dropped beyond ``limit_bytes`` (thread-safe).

    A value larger than the whole budget is returned to its caller but not kept.
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit = int(limit_bytes)
        self._data: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self.size = 0
        self._lock = threading.Lock()

    def get(self, key: Any, load: Callable[[], Any]) -> Any:
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
                return hit[0]
        value = load()
        size = decoded_size(value)
        if size > self.limit:
            return value
        with self._lock:
            if key not in self._data:
                self._data[key] = (value, size)
                self.size += size
            while self.size > self.limit and self._data:
                _, (_, dropped) = self._data.popitem(last=False)
                self.size -= dropped
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.size = 0


class ItemsFile:
    """One items file (plus its ``.npy`` features file since format 3), loaded lazily.

    Names, display values and true labels are read one row group at a time and a
    few row groups are kept (:attr:`_CACHED_GROUPS`); nothing reads a whole file to
    show one item. Numeric features are memory-mapped.
    """

    _CACHED_GROUPS = 8

    def __init__(self, folder: Path, meta: dict[str, Any], cache: DecodedCache | None = None) -> None:
        self.folder = folder
        self.meta = meta
        self.file = meta["file"]
        self.features_file: str | None = meta.get("features_file")  # format 3
        self.npy_columns: list[str] | None = meta.get("npy_columns")  # table features in the .npy
        self.start = int(meta["start"])
        self.count = int(meta["count"])
        self.image_shape = tuple(meta["image_shape"]) if meta.get("image_shape") else None
        self.pixel_max = float(meta.get("pixel_max", 255.0))
        self.has_true = bool(meta.get("has_true_labels", False))
        self.cache = cache if cache is not None else DecodedCache(DEFAULT_CACHE_BYTES)
        self._file: pq.ParquetFile | None = None
        self._group_starts: np.ndarray | None = None
        self._groups: OrderedDict[tuple[int, str], pa.Array] = OrderedDict()
        self._mapped: np.ndarray | None = None
        self._lock = threading.Lock()
        self._map_lock = threading.Lock()  # the first map and its check, apart from the row-group cache

    def _read_error(self, exc: Exception, file: str | None = None) -> VersionError:
        return VersionError(
            f"Items file {file or self.file} of the project cannot be read ({exc}); the items it holds exist "
            f"nowhere else in the project. {restore_hint(self.folder)}"
        )

    # ------------------------------------------------------------------ parquet, per row group

    def _parquet(self) -> pq.ParquetFile:
        if self._file is None:
            try:
                pf = pq.ParquetFile(self.folder / self.file, memory_map=True)
            except (OSError, pa.ArrowException) as exc:
                raise self._read_error(exc) from None
            md = pf.metadata
            if md.num_rows != self.count:
                raise VersionError(f"Items file {self.file} has {md.num_rows} rows, expected {self.count}.")
            sizes = [md.row_group(g).num_rows for g in range(md.num_row_groups)]
            self._group_starts = np.cumsum([0] + sizes[:-1]).astype(np.int64)
            self._file = pf
        return self._file

    def _group(self, g: int, column: str) -> pa.Array:
        if column == "features":  # decoded features: the store's budget, not the small LRU
            return self.cache.get((self.file, column, g), lambda: self._read_group(g, column))
        key = (g, column)
        with self._lock:
            hit = self._groups.get(key)
            if hit is not None:
                self._groups.move_to_end(key)
                return hit
        values = self._read_group(g, column)
        with self._lock:
            self._groups[key] = values
            while len(self._groups) > self._CACHED_GROUPS:
                self._groups.popitem(last=False)
        return values

    def _read_group(self, g: int, column: str) -> pa.Array:
        try:
            return self._parquet().read_row_group(g, columns=[column]).column(0).combine_chunks()
        except (OSError, pa.ArrowException) as exc:
            raise self._read_error(exc) from None

    def column_rows(self, column: str, rows: np.ndarray) -> np.ndarray:
        """Values of ``column`` at ``rows`` (positions in this file) as an object array."""
        self._parquet()
        assert self._group_starts is not None
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty(len(rows), dtype=object)
        which = np.searchsorted(self._group_starts, rows, side="right") - 1
        for g in np.unique(which).tolist():
            mask = which == g
            col = self._group(g, column)
            out[mask] = col.take(pa.array(rows[mask] - self._group_starts[g])).to_numpy(zero_copy_only=False)
        return out

    def value(self, column: str, row: int) -> Any:
        self._parquet()
        assert self._group_starts is not None
        g = int(np.searchsorted(self._group_starts, row, side="right") - 1)
        return self._group(g, column)[row - int(self._group_starts[g])].as_py()

    def display(self, row: int) -> Any:
        """The display value of one row."""
        return self.value("display", row)

    def all_names(self) -> pa.Array:
        """Every name of this file (read now, not kept): for the duplicate check of an import."""
        try:
            return pq.read_table(self.folder / self.file, columns=["name"]).column(0).combine_chunks()
        except (OSError, pa.ArrowException) as exc:
            raise self._read_error(exc) from None

    # ------------------------------------------------------------------ features

    def _npy_error(self, reason: str) -> VersionError:
        return VersionError(
            f"The features file {self.features_file} of the project does not match its items ({reason}); "
            f"it is refused whole. {restore_hint(self.folder)}"
        )

    def mapped(self, shape: PoolShape) -> np.ndarray:
        """The ``.npy`` features, memory-mapped and checked once (length, dtype, width, finite).

        Thread-safe on its own (the first call maps and checks, under this file's own lock),
        so a caller need not hold the store's lock: the check reads every value once
        (0.1 s for 244 MB), which must not hold up an item being served meanwhile.
        """
        arr = self._mapped
        if arr is not None:
            return arr
        with self._map_lock:
            if self._mapped is None:
                self._mapped = self._map(shape)
            return self._mapped

    def _map(self, shape: PoolShape) -> np.ndarray:
        assert self.features_file is not None
        try:
            # a record array of many mixed columns has a long header: allow what its columns need
            limit = max(10_000, 64 * len(self.npy_columns or ()) + 1024)
            arr = np.load(self.folder / self.features_file, mmap_mode="r", allow_pickle=False,
                          max_header_size=limit)
        except (OSError, ValueError, EOFError) as exc:  # truncated: "mmap length is greater than file size"
            raise self._npy_error(f"it cannot be read: {exc}") from None
        arr = np.asarray(arr)  # the mapped buffer, as a plain read-only ndarray (no copy)
        if arr.shape[0] != self.count:
            raise self._npy_error(f"{arr.shape[0]} rows for {self.count} items")
        if shape.feature_kind == "array":
            if arr.ndim != 2 or arr.shape[1] != shape.n_features:
                raise self._npy_error(f"shape {arr.shape}, expected ({self.count}, {shape.n_features})")
            if arr.dtype != np.dtype(shape.dtype):
                raise self._npy_error(f"dtype {arr.dtype}, expected {shape.dtype}")
        else:
            cols = self.npy_columns or []
            want = self.meta.get("npy_dtypes") or []
            if arr.ndim == 2:
                ok = arr.shape[1] == len(cols) and all(np.dtype(d) == arr.dtype for d in want)
                got = f"{arr.shape[1]} columns of {arr.dtype}"
            else:
                names = arr.dtype.names or ()
                ok = len(names) == len(cols) and [str(arr.dtype[k]) for k in names] == [str(np.dtype(d))
                                                                                      for d in want]
                got = f"fields {arr.dtype}"
            if not ok:
                raise self._npy_error(f"{got}, expected {len(cols)} columns of {want}")
        self._check_finite(arr)
        return arr

    def _check_finite(self, arr: np.ndarray) -> None:
        fields = arr.dtype.names
        step = max(1, (16 << 20) // max(1, arr.itemsize * (arr.shape[1] if arr.ndim == 2 else 1)))
        for lo in range(0, len(arr), step):
            block = arr[lo:lo + step]
            parts = [block[f] for f in fields] if fields else [block]
            for part in parts:
                if part.dtype.kind == "f" and not np.isfinite(part).all():
                    bad = lo + int(np.flatnonzero(~np.isfinite(part.reshape(len(part), -1)).all(axis=1))[0])
                    raise self._npy_error(f"row {bad} holds NaN or infinite values")
            release_rows(arr, lo, lo + step)  # read once: the pages go back as the check moves on

    def features(self, shape: PoolShape) -> Any:
        """All features of this file: mapped array (array kind), list of str (text) or DataFrame (table).

        Mapped arrays cost no decoded memory; anything decoded goes through the cache.
        """
        if shape.feature_kind == "array":
            if self.features_file is not None:
                return self.mapped(shape)
            return self.cache.get((self.file, "features"), lambda: self._legacy_array(shape))
        if shape.feature_kind == "text":
            return self.column_rows("features", np.arange(self.count)).tolist()
        return self.table_rows(shape, None)

    def _column(self, column: str) -> pa.Array:
        try:
            t = pq.read_table(self.folder / self.file, columns=[column], memory_map=True)
        except (OSError, pa.ArrowException) as exc:
            raise self._read_error(exc) from None
        if t.num_rows != self.count:
            raise VersionError(f"Items file {self.file} has {t.num_rows} rows, expected {self.count}.")
        return t.column(0).combine_chunks()

    def _legacy_array(self, shape: PoolShape) -> np.ndarray:
        col = self._column("features")
        dtype = np.dtype(shape.dtype).newbyteorder("<")
        width = shape.n_features * dtype.itemsize
        flat = np.frombuffer(col.buffers()[1], dtype=dtype, count=self.count * shape.n_features,
                             offset=col.offset * width)
        return flat.reshape(self.count, shape.n_features)

    def _parquet_table_columns(self, shape: PoolShape) -> list[str]:
        in_npy = set(self.npy_columns or [])
        return [c for c in shape.feature_columns if c not in in_npy]

    def table_rows(self, shape: PoolShape, rows: np.ndarray | None) -> pd.DataFrame:
        """Table features of ``rows`` (None: every row) as a DataFrame in the pool's column order."""
        parts: dict[str, Any] = {}
        if self.features_file is not None and self.npy_columns:
            arr = self.mapped(shape)
            if rows is None:
                block = np.array(arr)  # decoded: a copy the caller owns (the mapping is read-only)
                release_rows(arr)
            else:
                block = take_rows(arr, rows)
            if block.ndim == 2 and not self._parquet_table_columns(shape):  # one 2-D block, no copy
                df = pd.DataFrame(block, columns=list(self.npy_columns), copy=False)
                return df if list(self.npy_columns) == list(shape.feature_columns) else df[list(shape.feature_columns)]
            if block.ndim == 2:
                for k, c in enumerate(self.npy_columns):
                    parts[c] = block[:, k]
            else:
                for k, c in zip(block.dtype.names, self.npy_columns, strict=True):
                    parts[c] = block[k]
        rest = self._parquet_table_columns(shape)
        if rest:
            frame = self.cache.get((self.file, "table"), lambda: self._legacy_table(rest))
            sub = frame if rows is None else frame.iloc[rows]
            for c in rest:
                parts[c] = sub[c].reset_index(drop=True)
        df = pd.DataFrame({c: parts[c] for c in shape.feature_columns})
        return df

    def _legacy_table(self, columns: list[str]) -> pd.DataFrame:
        try:
            t = pq.read_table(self.folder / self.file, columns=["f:" + c for c in columns], memory_map=True)
        except (OSError, pa.ArrowException) as exc:
            raise self._read_error(exc) from None
        df = t.to_pandas()
        df.columns = [c[2:] for c in t.column_names]
        return df
