"""Features people bring: a vector column of a table, or a file of vectors matched to items by name.

- :func:`vector_column`: one table column whose cells are vectors (lists, numpy
  arrays — parquet list columns read that way — or JSON-array strings such as
  ``"[0.1, 0.2]"`` from a CSV) as a float32 ``(n, d)`` array;
- :func:`read_feature_file`: an ``.npy`` matrix with its item names (a names
  file, one per line or a CSV/parquet ``name`` column), or a parquet of
  ``(name, vector)`` (a list column or a JSON-string column; or ``name`` and numeric
  columns), as ``(names, matrix)``;
- :func:`import_feature_set`: those vectors into a project's feature set, matched
  by item name; refused WHOLE (nothing written) for a wrong dimension, NaN/inf,
  a non-numeric value, a repeated name, a name the project does not have, or an
  item of the project the file misses.

Every refusal is an :class:`~superintendent_core.store.errors.InvalidInput`
whose message names the fault and an example.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..store.errors import InvalidInput
from ..store.feature_sets import check_feature_dtype, check_feature_rows, check_set_name

__all__ = ["MAX_FEATURE_FILE_BYTES", "import_feature_set", "is_vector_column", "read_feature_file", "vector_column"]

#: Largest feature file read (bytes): 2 GiB.
MAX_FEATURE_FILE_BYTES = 2 * 1024**3
#: Rows per durable write when a file's vectors are stored.
WRITE_ROWS = 8192


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            raise ValueError("not a JSON array")
        return json.loads(text)
    return value


def is_vector_column(series: pd.Series) -> bool:
    """Whether a column looks like vectors (its first non-empty cell is a list/array or a JSON array string)."""
    first = series.dropna().head(1)
    if first.empty:
        return False
    v = first.iloc[0]
    return isinstance(v, list | tuple | np.ndarray) or (isinstance(v, str) and v.strip().startswith("["))


def vector_column(series: pd.Series, *, names: Sequence[str] | None = None) -> np.ndarray:
    """A column of vectors as float32 ``(n, d)``; every refusal names the column and an example row.

    Parameters
    ----------
    series : Series
        Cells: list / tuple / 1-D array of numbers, or a JSON array string.
    names : sequence of str, optional
        Row names, to name the faulty row (default its position).
    """
    col = str(series.name)
    fast = _stacked(series)
    if fast is not None:
        return fast
    rows: list[np.ndarray] = []
    for k, value in enumerate(series.tolist()):
        where = repr(names[k]) if names is not None else f"{k}"
        if value is None or (isinstance(value, float) and np.isnan(value)):
            raise InvalidInput(f"Row {where} has no vector in column {col!r}; every row needs one.")
        try:
            arr = np.asarray(_cell(value))
            if arr.dtype == object or arr.dtype.kind not in "iufb":
                raise ValueError("not numbers")
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            raise InvalidInput(
                f"Row {where} of column {col!r} is not a vector of numbers (e.g. [0.1, 0.2]): {str(value)[:60]!r}."
            ) from None
        if arr.ndim != 1 or arr.size == 0:
            raise InvalidInput(f"Row {where} of column {col!r} is not a flat, non-empty list of numbers.")
        if not np.isfinite(arr).all():
            raise InvalidInput(f"Row {where} of column {col!r} holds NaN or infinite values.")
        if rows and arr.size != rows[0].size:
            raise InvalidInput(
                f"Row {where} of column {col!r} has {arr.size} numbers; the first row has {rows[0].size}. "
                "Every vector must have the same length."
            )
        rows.append(arr)
    if not rows:
        raise InvalidInput(f"Column {col!r} has no rows.")
    out = np.vstack(rows)
    with np.errstate(over="ignore"):
        f32 = out.astype(np.float32)
    if not np.isfinite(f32).all():
        raise InvalidInput(f"Column {col!r} holds values too large for 32-bit floats.")
    return f32


def _stacked(series: pd.Series) -> np.ndarray | None:
    """The common case at once: every cell a 1-D numeric array of one length (a parquet list column), all finite.

    None for anything else: the row-by-row check then names the faulty row.
    """
    values = series.to_numpy()
    if not len(values) or not all(type(v) is np.ndarray for v in values):
        return None
    try:
        out = np.stack(values)
    except ValueError:  # lengths differ
        return None
    if out.ndim != 2 or out.shape[1] == 0 or out.dtype.kind not in "iufb":
        return None
    if out.dtype.kind != "f":
        out = out.astype(np.float64)  # as the row-by-row path converts (whole numbers rounded once there too)
    with np.errstate(over="ignore"):
        f32 = out.astype(np.float32)
    return f32 if np.isfinite(out).all() and np.isfinite(f32).all() else None


def _names_from(data: bytes, filename: str) -> list[str]:
    lower = filename.lower()
    if lower.endswith(".parquet") or lower.endswith(".csv"):
        df = pd.read_parquet(io.BytesIO(data)) if lower.endswith(".parquet") else pd.read_csv(
            io.BytesIO(data), dtype=str, keep_default_na=False)
        if "name" not in df.columns:
            raise InvalidInput(f"The names file {filename!r} has no 'name' column.")
        return [str(v) for v in df["name"].tolist()]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"The names file {filename!r} is not UTF-8 text (one item name per line).") from None
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def read_feature_file(
    data: bytes, filename: str, *, names_data: bytes | None = None, names_filename: str = "names.txt"
) -> tuple[list[str], np.ndarray]:
    """``(names, matrix float32 (n, d))`` from an ``.npy`` (+ names file) or a parquet of (name, vector).

    Raises
    ------
    InvalidInput
        An unreadable file, an object/pickled ``.npy``, a matrix that is not 2-D,
        names that do not match the rows in number, no vector column, NaN/inf.
    """
    if len(data) > MAX_FEATURE_FILE_BYTES:
        raise InvalidInput(f"{filename} is larger than {MAX_FEATURE_FILE_BYTES // 1024**3} GiB.")
    lower = filename.lower()
    if lower.endswith(".npy"):
        try:
            matrix = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InvalidInput(f"{filename} is not a readable .npy array of numbers ({exc}).") from None
        if matrix.dtype.kind not in "iuf":
            raise InvalidInput(f"{filename} holds {matrix.dtype} values; features must be numbers.")
        if matrix.ndim != 2:
            raise InvalidInput(f"{filename} is a {matrix.ndim}-D array; features are 2-D (one row per item).")
        if names_data is None:
            raise InvalidInput(f"{filename} has no item names: add a names file (one name per line, in row order).")
        names = _names_from(names_data, names_filename)
        if len(names) != len(matrix):
            raise InvalidInput(
                f"The names file has {len(names)} name(s) for {len(matrix)} row(s) of {filename}; they must match."
            )
        return names, matrix
    if lower.endswith(".parquet"):
        try:
            df = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises many kinds
            raise InvalidInput(f"{filename} is not a readable parquet file ({type(exc).__name__}).") from None
        if "name" not in df.columns:
            raise InvalidInput(f"{filename} has no 'name' column (the item names the vectors belong to).")
        names = [str(v) for v in df["name"].tolist()]
        rest = [c for c in df.columns if c != "name"]
        vectors = [c for c in rest if is_vector_column(df[c])]
        if len(vectors) == 1:
            return names, vector_column(df[vectors[0]], names=names)
        if len(vectors) > 1:
            raise InvalidInput(f"{filename} has several vector columns ({vectors[:3]}); keep one.")
        numeric = [c for c in rest if pd.api.types.is_numeric_dtype(df[c])]
        if not numeric or len(numeric) != len(rest):
            raise InvalidInput(f"{filename} needs a 'name' column and one vector column (or only numeric columns).")
        return names, df[numeric].to_numpy(dtype=np.float64)
    raise InvalidInput(f"{filename}: feature files are .npy (with a names file) or .parquet (name, vector).")


def import_feature_set(store: Any, name: str, names: Sequence[str], matrix: Any, *, dtype: str | None = None) -> int:
    """Store vectors matched by item name as the feature set ``name``; all or nothing.

    Every check runs before anything is written: the name is new, names are
    distinct and each is an item of the project, every item of the project has
    a vector, the matrix is 2-D, numeric and finite (within ±65504 when the set is
    float16: ``dtype``, or else the project's ``feature_dtype``).

    Returns
    -------
    int
        Items stored (the whole pool).
    """
    check_set_name(name)
    if name in store.feature_sets():
        raise InvalidInput(f"The project has a feature set named {name!r} already; choose another name.")
    names = [str(n) for n in names]
    seen: dict[str, int] = {}
    for k, n in enumerate(names):
        if n in seen:
            raise InvalidInput(f"The item name {n!r} appears twice in the feature file (rows {seen[n]} and {k}).")
        seen[n] = k
    n_items = len(store)
    project_names = store.names(np.arange(n_items, dtype=np.int64))
    index = {n: i for i, n in enumerate(project_names)}
    unknown = [n for n in names if n not in index]
    if unknown:
        raise InvalidInput(
            f"{len(unknown)} name(s) of the feature file are not items of the project (e.g. {unknown[0]!r}); "
            "nothing was stored."
        )
    missing = [n for n in project_names if n not in seen]
    if missing:
        raise InvalidInput(
            f"The feature file has no vector for {len(missing)} item(s) of the project (e.g. {missing[0]!r}); "
            "nothing was stored."
        )
    ids = np.fromiter((index[n] for n in names), dtype=np.int64, count=len(names))
    dtype = check_feature_dtype(dtype if dtype is not None else store.settings.feature_dtype)
    ids, rows = check_feature_rows(ids, matrix, n_items=n_items, dim=None, dtype=dtype)  # whole file first
    order = np.argsort(ids)
    ids, rows = ids[order], rows[order]
    for start in range(0, len(ids), WRITE_ROWS):
        store.write_feature_set(name, ids[start:start + WRITE_ROWS], rows[start:start + WRITE_ROWS], dtype=dtype)
    return len(ids)
