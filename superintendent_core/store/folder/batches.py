"""One items file of a project folder, read lazily."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import VersionError
from ..items import PoolShape
from .files import restore_hint

__all__ = ["ItemsFile"]


class ItemsFile:
    """One items file, loaded lazily.

    Names, true labels and features are read whole on first use (compact). The
    display column is too, except for image batches with their own pictures
    (``lazy_display``): those are read one small row group at a time, so a
    project of photos does not sit in memory.
    """

    _CACHED_GROUPS = 8

    def __init__(self, folder: Path, meta: dict[str, Any]) -> None:
        self.folder = folder
        self.meta = meta
        self.file = meta["file"]
        self.start = int(meta["start"])
        self.count = int(meta["count"])
        self.image_shape = tuple(meta["image_shape"]) if meta.get("image_shape") else None
        self.pixel_max = float(meta.get("pixel_max", 255.0))
        self.has_true = bool(meta.get("has_true_labels", False))
        self.lazy_display = bool(meta.get("lazy_display", False))
        self._table: pa.Table | None = None
        self._features: Any = None
        self._file: pq.ParquetFile | None = None
        self._group_starts: np.ndarray | None = None
        self._groups: dict[int, pa.Array] = {}

    def _read_error(self, exc: Exception) -> VersionError:
        return VersionError(
            f"Items file {self.file} of the project cannot be read ({exc}); the items it holds exist nowhere "
            f"else in the project. {restore_hint(self.folder)}"
        )

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            try:
                pf = pq.ParquetFile(self.folder / self.file, memory_map=True)
                columns = [c for c in pf.schema_arrow.names if not (self.lazy_display and c == "display")]
                self._table = pf.read(columns=columns)
            except (OSError, pa.ArrowException) as exc:
                raise self._read_error(exc) from None
            if self._table.num_rows != self.count:
                raise VersionError(f"Items file {self.file} has {self._table.num_rows} rows, expected {self.count}.")
        return self._table

    def display(self, row: int) -> Any:
        """The display value of one row."""
        if not self.lazy_display:
            return self.table.column("display")[row].as_py()
        try:
            if self._file is None:
                self._file = pq.ParquetFile(self.folder / self.file, memory_map=True)
                md = self._file.metadata
                sizes = [md.row_group(g).num_rows for g in range(md.num_row_groups)]
                self._group_starts = np.cumsum([0] + sizes[:-1])
            g = int(np.searchsorted(self._group_starts, row, side="right") - 1)
            column = self._groups.pop(g, None)
            if column is None:
                column = self._file.read_row_group(g, columns=["display"]).column(0).combine_chunks()
            self._groups[g] = column  # most recently used last
            while len(self._groups) > self._CACHED_GROUPS:
                self._groups.pop(next(iter(self._groups)))
            return column[row - int(self._group_starts[g])].as_py()
        except (OSError, pa.ArrowException) as exc:
            raise self._read_error(exc) from None

    def features(self, shape: PoolShape) -> Any:
        if self._features is None:
            t = self.table
            if shape.feature_kind == "array":
                col = t.column("features").combine_chunks()
                dtype = np.dtype(shape.dtype).newbyteorder("<")
                width = shape.n_features * dtype.itemsize
                flat = np.frombuffer(col.buffers()[1], dtype=dtype, count=self.count * shape.n_features,
                                     offset=col.offset * width)
                self._features = flat.reshape(self.count, shape.n_features)
            elif shape.feature_kind == "text":
                self._features = t.column("features").to_pylist()
            else:
                cols = [c for c in t.column_names if c.startswith("f:")]
                df = t.select(cols).to_pandas()
                df.columns = [c[2:] for c in cols]
                self._features = df
        return self._features

