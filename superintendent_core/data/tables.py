"""Text and table rows from CSV or parquet.

:func:`read_table` reads a CSV (encoding detected: UTF-8 with or without BOM,
UTF-16 with BOM or by its zero bytes, otherwise Windows-1252 with a note) or a
parquet file into a DataFrame; :func:`table_batch` turns the chosen columns into
an :class:`ItemBatch`: what to display, what the model sees, and optionally a
column of existing labels and a column of names.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..store.errors import InvalidInput
from ..store.items import TableRows
from ..store.protocol import ItemBatch
from .images import ImportResult

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")

__all__ = ["check_frame", "read_table", "sniff_separator", "suggest_columns", "table_batch", "table_import"]

_PARQUET_MAGIC = b"PAR1"


def _read_bytes(source: str | os.PathLike | bytes | IO[bytes]) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray):
        return bytes(source), "upload"
    if isinstance(source, str | os.PathLike):
        p = Path(source)
        if not p.is_file():
            raise InvalidInput(f"{p} does not exist or is not a file.")
        return p.read_bytes(), p.name
    if not hasattr(source, "read"):
        raise InvalidInput(f"The table must be a path, bytes or a file object, not {type(source).__name__}.")
    data = source.read()
    return data, getattr(source, "name", "upload")


def _marked_encoding(head: bytes) -> str | None:
    """The encoding a file's first bytes show: a BOM (UTF-8, UTF-16), or UTF-16 by its zero bytes; else None."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = head[:4096]
    if len(head) >= 4 and head.count(0) > len(head) // 4:
        # UTF-16 without a BOM: every other byte of ASCII text is zero.
        return "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
    return None


def _decode(data: bytes, encoding: str | None) -> tuple[str, str | None]:
    """(text, note)."""
    if encoding:
        try:
            return data.decode(encoding), None
        except (UnicodeDecodeError, LookupError) as exc:
            raise InvalidInput(f"The file cannot be read as {encoding}: {exc}.") from None
    marked = _marked_encoding(data[:4096])
    if marked is not None:
        try:
            return data.decode(marked), None
        except UnicodeDecodeError:
            raise InvalidInput(f"The file looks like {marked} text but cannot be decoded; save it as UTF-8.") from None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
        enc = "Windows-1252"
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        enc = "latin-1"
    return text, (f"The file is not UTF-8; it was read as {enc}. If accents look wrong, "
                  "save it as UTF-8 and import again.")


def read_table(
    source: str | os.PathLike | bytes | IO[bytes],
    *,
    encoding: str | None = None,
    sep: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """A CSV or parquet file as a DataFrame, plus notes.

    Parameters
    ----------
    source : path, bytes or file object
    encoding : str, optional
        Force a text encoding (CSV only); default: detect.
    sep : str, optional
        CSV separator; default: sniffed (comma, semicolon, tab …).

    Returns
    -------
    (DataFrame, notes)
    """
    data, name = _read_bytes(source)
    if not data:
        raise InvalidInput(f"{name} is empty (0 bytes); choose the file again.")
    notes: list[str] = []
    if data[:4] == _PARQUET_MAGIC:
        try:
            df = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises many kinds
            raise InvalidInput(f"{name} is not a readable parquet file ({exc}).") from None
    else:
        if b"\x00" in data[:4096] and data[:2] not in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) \
                and data[:4096].count(0) <= len(data[:4096]) // 4:
            raise InvalidInput(f"{name} is not a text CSV or a parquet file.")
        text, note = _decode(data, encoding)
        if note:
            notes.append(note)
        if not text.strip():
            raise InvalidInput(f"{name} has no columns or rows.")
        if sep is None:
            sep = sniff_separator(text)
        try:
            df = pd.read_csv(io.StringIO(text), sep=sep)
        except pd.errors.EmptyDataError:
            raise InvalidInput(f"{name} has no columns or rows.") from None
        except (pd.errors.ParserError, ValueError, csv.Error) as exc:
            raise InvalidInput(f"{name} cannot be read as CSV ({exc}).") from None
    if len(df.columns) == 0:
        raise InvalidInput(f"{name} has no columns.")
    if len(df) == 0:
        raise InvalidInput(f"{name} has a header but no rows.")
    df.columns = [str(c) for c in df.columns]
    return df, notes


_MIXED = ("mixed", "mixed-integer")


def sniff_separator(text: str) -> str:
    """The delimiter of a CSV text (``,`` ``;`` tab or ``|``) guessed from its first 64 kB; ``,`` if unclear."""
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def check_frame(df: pd.DataFrame, columns: Sequence[str] | None = None) -> None:
    """Refuse, with ``InvalidInput`` naming the column, what a project cannot store.

    Duplicate column names, and columns that mix numbers and text (pandas'
    ``object`` columns: pyarrow would raise ``ArrowInvalid`` on saving).
    """
    names = [str(c) for c in df.columns]
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise InvalidInput(f"The column name {dupes[0]!r} is used twice; every column needs its own name.")
    for col in df.columns if columns is None else columns:
        series = df[col]
        if series.dtype != object:
            continue
        if pd.api.types.infer_dtype(series, skipna=True) in _MIXED:
            kinds: dict[str, Any] = {}
            for pos, v in enumerate(series):
                if v is None or (isinstance(v, float) and np.isnan(v)):
                    continue
                kinds.setdefault("text" if isinstance(v, str) else "number", (pos, v))
            text_at = kinds.get("text", (None, None))
            num_at = kinds.get("number", (None, None))
            example = ""
            if text_at[0] is not None and num_at[0] is not None:
                example = f" (row {num_at[0]} is {num_at[1]!r}, row {text_at[0]} is {str(text_at[1])[:40]!r})"
            raise InvalidInput(
                f"Column {str(col)!r} mixes numbers and text{example}; make it one type first, e.g. "
                f"df[{str(col)!r}] = df[{str(col)!r}].astype(str) or pd.to_numeric(df[{str(col)!r}], errors='coerce')."
            )


def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> list[str]:
    cols = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InvalidInput(
            f"The {what} column {missing[0]!r} is not in the file; its columns are {list(df.columns)}."
        )
    return cols


def table_batch(
    df: pd.DataFrame,
    *,
    kind: str = "table",
    display_columns: Sequence[str] | str,
    feature_columns: Sequence[str] | str | None = None,
    label_column: str | None = None,
    name_column: str | None = None,
    labeller: str = "import",
    start: int = 0,
) -> ItemBatch:
    """An :class:`ItemBatch` of text or table rows from a DataFrame.

    Parameters
    ----------
    df : DataFrame
    kind : {"text", "table"}
        ``"text"``: one display column of text; the model's features are that text
        unless ``feature_columns`` (numbers, e.g. embeddings) are given.
        ``"table"``: the display columns are shown as a small table; the features
        are ``feature_columns`` (default: every numeric column but the label's).
    display_columns : str or list of str
    feature_columns : str or list of str, optional
    label_column : str, optional
        Existing labels; empty cells mean unlabelled.
    name_column : str, optional
        Unique row names (e.g. an id column); default the row number from 0 (+ ``start``).
    """
    if kind not in ("text", "table"):
        raise InvalidInput(f"kind must be 'text' or 'table', got {kind!r}.")
    if not isinstance(df, pd.DataFrame):
        raise InvalidInput(f"The table must be a pandas DataFrame, not {type(df).__name__}.")
    if len(df) == 0:
        raise InvalidInput("The table has no rows.")
    df = df.rename(columns=str)
    check_frame(df, columns=[])  # duplicate column names
    display = _require(df, display_columns, "display")
    if kind == "text" and len(display) != 1:
        raise InvalidInput("Text items show one column; choose a single text column.")
    if label_column is not None:
        _require(df, [label_column], "label")
    if name_column is not None:
        _require(df, [name_column], "name")
        raw = df[name_column]
        if raw.isna().any():
            raise InvalidInput(f"The name column {name_column!r} has empty cells; every row needs a name.")
        names = tuple(str(v) for v in raw)
    else:
        names = tuple(str(start + i) for i in range(len(df)))
    labels = None
    if label_column is not None:
        labels = [None if pd.isna(v) or (isinstance(v, str) and not v.strip()) else
                  (str(int(v)) if isinstance(v, float) and float(v).is_integer() else str(v).strip())
                  for v in df[label_column]]
    if feature_columns is None and kind == "table":
        skip = {label_column, name_column}
        feature_columns = [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])]
        if not feature_columns:
            raise InvalidInput("The table has no numeric columns for the model; choose the feature columns.")
    vector = _vector_feature(df, feature_columns, names)
    if kind == "text":
        col = df[display[0]]
        bad = np.flatnonzero(col.isna().to_numpy())
        if len(bad):
            raise InvalidInput(
                f"{len(bad)} row(s) have no text in column {display[0]!r}, e.g. row {names[bad[0]]!r}. "
                "Drop or fill those rows first."
            )
        texts = [str(v) for v in col]
        if vector is not None:
            return ItemBatch(names=names, kind="text", features=vector, payloads=texts, labels=labels,
                             labeller=labeller)
        if feature_columns is None:
            return ItemBatch(names=names, kind="text", features=texts, payloads=texts, labels=labels,
                             labeller=labeller)
        feats = df[_require(df, feature_columns, "feature")]
        return ItemBatch(names=names, kind="text", features=_numeric(feats), payloads=texts, labels=labels,
                         labeller=labeller)
    if vector is not None:
        return ItemBatch(names=names, kind="table", features=vector, payloads=TableRows(df[display]), labels=labels,
                         labeller=labeller)
    fcols = _require(df, feature_columns, "feature")
    check_frame(df[fcols])
    # The rows to show stay columns until the store encodes them (by column: fast at a million rows).
    return ItemBatch(names=names, kind="table", features=df[fcols].reset_index(drop=True),
                     payloads=TableRows(df[display]), labels=labels, labeller=labeller)


def _vector_feature(df: pd.DataFrame, feature_columns: Any, names: Sequence[str]) -> np.ndarray | None:
    """The features as float32 ``(n, d)`` when the one feature column holds vectors (lists or JSON arrays)."""
    from .vectors import is_vector_column, vector_column

    cols = [feature_columns] if isinstance(feature_columns, str) else list(feature_columns or [])
    if len(cols) != 1 or cols[0] not in df.columns or not is_vector_column(df[cols[0]]):
        if any(c in df.columns and is_vector_column(df[c]) for c in cols):
            raise InvalidInput("A vector column must be the only feature column; choose it alone.")
        return None
    return vector_column(df[cols[0]], names=names)


def _numeric(feats: pd.DataFrame) -> np.ndarray:
    non_numeric = [c for c in feats.columns if not pd.api.types.is_numeric_dtype(feats[c])]
    if non_numeric:
        raise InvalidInput(f"Feature column {non_numeric[0]!r} is not numeric; choose numeric columns.")
    return feats.to_numpy(dtype=np.float64, na_value=np.nan)


def table_import(source: Any, *, encoding: str | None = None, **kwargs: Any) -> ImportResult:
    """:func:`read_table` then :func:`table_batch` in one call (keyword arguments: :func:`table_batch`'s)."""
    df, notes = read_table(source, encoding=encoding)
    return ImportResult(table_batch(df, **kwargs), notes)


#: Column names that usually hold an item's id or name (compared lower-case).
_NAME_HINTS = ("id", "name", "key", "uid", "uuid", "filename", "file", "path", "url", "slug", "code")


@dataclass(frozen=True)
class ColumnSuggestion:
    """What the import form proposes for a table (see :func:`suggest_columns`).

    Attributes
    ----------
    kind : {"text", "table"}
        ``"text"`` when a column holds text, ``"table"`` when every column is numeric.
    display : list of str
        The column(s) to show: the longest text-like column, or (numbers only)
        every column but the proposed name column, up to 8.
    name_candidates : list of str
        Columns that can name the items (unique, no empty cell, short values),
        likely ones (``id``, ``name``, ``…_id``) first.
    name : str or None
        The proposed name column: a candidate whose header says it is an id or a
        name, else None (rows are numbered).
    """

    kind: str
    display: list[str]
    name_candidates: list[str]
    name: str | None


def _is_text_like(series: pd.Series) -> bool:
    """Text that is not numbers written as text (``"12"``, ``"3.5"``)."""
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    values = series.dropna()
    if values.empty or not all(isinstance(v, str) for v in values.head(200)):
        return False
    as_numbers = pd.to_numeric(values.head(200), errors="coerce")
    return bool(as_numbers.isna().mean() > 0.5)


def _looks_like_name(column: str) -> bool:
    low = column.strip().lower()
    return low in _NAME_HINTS or low.endswith(("_id", " id", "-id")) or (low.endswith("id") and len(low) <= 8)


def suggest_columns(df: pd.DataFrame) -> ColumnSuggestion:
    """The import form's defaults for a table: what to show, what may name the items, text or table.

    The shown column is the longest text-like column (by mean length), never
    simply the first one (often an id); a table of numbers only is imported as
    table rows.
    """
    columns = [str(c) for c in df.columns]
    frame = df.set_axis(columns, axis=1)
    texts = [c for c in columns if _is_text_like(frame[c])]

    def mean_length(c: str) -> float:
        return float(frame[c].dropna().astype(str).str.len().mean() or 0.0)

    candidates = []
    for c in columns:
        s = frame[c]
        if s.isna().any() or not s.is_unique:
            continue
        if pd.api.types.is_float_dtype(s) and not (s % 1 == 0).all():
            continue
        if pd.api.types.is_bool_dtype(s) or (s.dtype == object and mean_length(c) > 64):
            continue
        candidates.append(c)
    candidates.sort(key=lambda c: not _looks_like_name(c))  # stable: file order among equals
    name = next((c for c in candidates if _looks_like_name(c)), None)
    if texts:
        shown = [c for c in texts if c != name] or texts
        return ColumnSuggestion("text", [max(shown, key=mean_length)], candidates, name)
    return ColumnSuggestion("table", [c for c in columns if c != name][:8] or columns[:8], candidates, name)
