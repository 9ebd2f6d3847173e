"""Validating item batches and laying them out as Arrow tables (shared by backends).

:func:`prepare_batch` checks a whole :class:`~.protocol.ItemBatch` before any
byte is written (all-or-nothing imports) and normalises it: features to a
compact 2-D array (uint8 stays uint8), labels to their canonical strings.
:func:`batch_table` turns the result into the Arrow table a backend stores.
"""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..labels import SEPARATOR, split_labels
from ._rules import batch_classes, normalize_label
from ._rules import few as _few
from .errors import InvalidInput
from .protocol import DATA_KINDS, ItemBatch, ProjectSettings
from .settings import check_classes

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")
    pa = lazy_module("pyarrow")
    pc = lazy_module("pyarrow.compute")

__all__ = [
    "FEATURE_CACHE_BYTES",
    "PoolShape",
    "PreparedBatch",
    "TableRows",
    "StreamState",
    "batch_table",
    "feature_kind_of",
    "prepare_batch",
    "render_grey_png",
]

#: Every backend's default budget for decoded features a store keeps (``feature_cache_bytes``): chunks
#: decoded from SQL, text features and non-numeric table columns, features of folder batches written
#: before format 3. Memory-mapped ``.npy`` features are not counted: their pages are the kernel's cache.
FEATURE_CACHE_BYTES = 256 << 20

_KEEP_DTYPES = {np.dtype(t) for t in ("uint8", "int8", "uint16", "int16", "int32", "float32")}


def feature_kind_of(features: Any) -> str:
    if isinstance(features, pd.DataFrame):
        return "table"
    if isinstance(features, np.ndarray):
        return "text" if features.dtype.kind in "OUS" and features.ndim == 1 else "array"
    if isinstance(features, Sequence) and len(features) and all(isinstance(f, str) for f in features[:100]):
        return "text"
    return "array"


@dataclass(frozen=True)
class PoolShape:
    """What every batch of a pool must agree on (set by the first batch)."""

    kind: str
    feature_kind: str
    n_features: int = 0  # array features: columns
    dtype: str = ""  # array features: dtype on disk
    feature_columns: tuple[str, ...] = ()  # table features

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "feature_kind": self.feature_kind, "n_features": self.n_features,
                "dtype": self.dtype, "feature_columns": list(self.feature_columns)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PoolShape:
        return cls(d["kind"], d["feature_kind"], int(d.get("n_features", 0)), d.get("dtype", ""),
                   tuple(d.get("feature_columns", ())))


@dataclass(frozen=True)
class PreparedBatch:
    """A validated batch: everything normalised, ready to write."""

    names: list[str]
    kind: str
    shape: PoolShape
    features: Any  # ndarray (n, d) | list[str] | DataFrame
    display: list[Any] | pa.Array | None  # bytes | str | json str (an Arrow array for TableRows), or None
    image_shape: tuple[int, int] | None
    pixel_max: float
    label_positions: np.ndarray  # rows with an existing label
    label_values: list[str]  # their canonical labels
    labeller: str
    true_labels: list[str | None] | None
    names_array: pa.Array | None = None  # ``names`` as Arrow strings, when the check made them

    def __len__(self) -> int:
        return len(self.names)


def _check_names(names: Sequence[Any]) -> tuple[list[str], pa.Array | None]:
    if len(names) == 0:
        raise InvalidInput("There are no items to add (the data has no rows / no files).")
    try:  # the common case in C: all text, none blank, all different
        arr = pa.array(names, type=pa.string())
    except (pa.ArrowException, TypeError, ValueError):
        arr = None
    if arr is not None and arr.null_count == 0:
        blank = pc.or_(pc.utf8_is_space(arr), pc.equal(pc.binary_length(arr), 0))
        if not pc.any(blank).as_py() and len(pc.unique(arr)) == len(arr):
            return (names if isinstance(names, list) else list(names)), arr
    out = []
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput(f"Item {i} has an empty or non-text name ({name!r}); every item needs a name.")
        out.append(name)
    if len(set(out)) != len(out):
        dups = [n for n, c in Counter(out).items() if c > 1]
        raise InvalidInput(
            f"Duplicate item names: {_few(dups)}. Every item needs a unique name; rename or drop the duplicates."
        )
    return out, None


def _array_features(features: Any, names: list[str], shape: PoolShape | None) -> np.ndarray:
    try:
        arr = np.asarray(features)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"The features cannot be read as an array: {exc}.") from None
    if arr.dtype.kind not in "biuf":
        raise InvalidInput(
            f"Features must be numbers; got values of type {arr.dtype}. Convert them, or pick numeric columns."
        )
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[0] != len(names):
        raise InvalidInput(f"Got {len(names)} items but {arr.shape[0]} rows of features; they must match.")
    if arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
    elif arr.dtype.kind == "f":
        bad = ~np.isfinite(arr).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise InvalidInput(
                f"{len(rows)} item(s) have NaN or infinite features, e.g. {_few([names[r] for r in rows])}. "
                "Fill or drop those values first."
            )
        if arr.dtype != np.float32:
            if np.abs(arr).max(initial=0) > np.finfo(np.float32).max:
                raise InvalidInput("Some features are too large for 32-bit floats; rescale them first.")
            arr = arr.astype(np.float32)
    elif arr.dtype not in _KEEP_DTYPES:
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        for t in ("uint8", "int8", "uint16", "int16", "int32"):
            info = np.iinfo(t)
            if info.min <= lo and hi <= info.max:
                arr = arr.astype(t)
                break
        else:
            arr = arr.astype(np.float32)
    if shape is not None:
        if arr.shape[1] != shape.n_features:
            raise InvalidInput(
                f"The new items have {arr.shape[1]} features but the project's items have {shape.n_features}."
            )
        target = np.dtype(shape.dtype)
        if arr.dtype != target:
            if np.can_cast(arr.dtype, target, "safe") or target == np.float32:
                arr = arr.astype(target)
            else:
                raise InvalidInput(
                    f"The new items' features are {arr.dtype} but the project stores {target}; "
                    "convert them to match."
                )
    return np.ascontiguousarray(arr)


def _text_features(features: Any, names: list[str]) -> list[str]:
    texts = list(features)
    if len(texts) != len(names):
        raise InvalidInput(f"Got {len(names)} items but {len(texts)} texts; they must match.")
    bad = [names[i] for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise InvalidInput(f"{len(bad)} item(s) have no text (empty or missing), e.g. {_few(bad)}.")
    return texts


def _table_features(features: pd.DataFrame, names: list[str], shape: PoolShape | None) -> pd.DataFrame:
    if len(features) != len(names):
        raise InvalidInput(f"Got {len(names)} items but {len(features)} feature rows; they must match.")
    df = features.reset_index(drop=True)
    if any(not isinstance(c, str) for c in df.columns):
        df = df.set_axis([str(c) for c in df.columns], axis=1)
    if shape is not None and tuple(df.columns) != shape.feature_columns:
        raise InvalidInput(
            f"The new rows have feature columns {list(df.columns)} but the project uses "
            f"{list(shape.feature_columns)}."
        )
    num = df.select_dtypes(include=["number"])
    if len(num.columns):
        bad = np.zeros(len(df), dtype=bool)
        for c in num.columns:  # one column at a time: no float64 copy of the whole table
            dt = num[c].dtype
            if isinstance(dt, np.dtype) and dt.kind in "iub":
                continue
            values = num[c].to_numpy() if isinstance(dt, np.dtype) else num[c].to_numpy(np.float64, na_value=np.nan)
            bad |= ~np.isfinite(values)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise InvalidInput(
                f"{len(rows)} row(s) have missing, NaN or infinite feature values, e.g. "
                f"{_few([names[r] for r in rows])}. Fill or drop them first."
            )
    return df


class TableRows(Sequence):
    """Table rows to display, backed by a DataFrame: a sequence of dicts, encoded to JSON by column.

    :func:`~superintendent_core.data.table_batch` passes its display columns this
    way: indexing gives the same dict a row's payload would be, and
    :meth:`json_rows` encodes a million rows in about a second (a dict per row
    and ``json.dumps`` per row took ten).
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame.reset_index(drop=True).set_axis([str(c) for c in frame.columns], axis=1)

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return TableRows(self.frame.iloc[i])
        i = int(i)  # column by column: a row Series would turn ints into floats beside a float column
        values = {k: self.frame[k].iat[i] for k in self.frame.columns}
        return {k: (None if _missing(v) else (v.item() if isinstance(v, np.generic) else v))
                for k, v in values.items()}

    def json_rows(self) -> pa.Array:
        """Each row as the JSON object :func:`prepare_batch` stores (NaN, None and infinities as null)."""
        n = len(self.frame)
        if not len(self.frame.columns):
            return ["{}"] * n
        parts: list[Any] = []
        for k, key in enumerate(self.frame.columns):
            prefix = ("{" if k == 0 else ", ") + json.encoder.encode_basestring_ascii(key) + ": "
            parts += [pa.scalar(prefix), _json_column(self.frame[key])]
        return pc.binary_join_element_wise(*parts, pa.scalar("}"), "")


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float | np.floating) and not math.isfinite(v)


def _json_column(col: pd.Series) -> pa.Array:
    """One column's values as JSON text (an Arrow string array), numbers encoded in C."""
    kind = col.dtype.kind if isinstance(col.dtype, np.dtype) else "O"  # nullable/extension: per value
    if kind == "f":
        values = col.to_numpy(dtype=np.float64)  # float32 too: its value as a double, as json.dumps writes it
        finite = np.isfinite(values)
        text = pc.cast(pa.array(np.where(finite, values, 0.0)), pa.string())
        # Arrow writes 2.0 as "2" (and 1e15 as "1e+15"): a whole number without an exponent gets ".0"
        whole = finite & (values == np.trunc(np.where(finite, values, 0.0)))
        if whole.any():
            whole &= ~pc.match_substring(text, "e").to_numpy(zero_copy_only=False)
            text = pc.if_else(pa.array(whole), pc.binary_join_element_wise(text, pa.scalar(".0"), ""), text)
        return pc.if_else(pa.array(finite), text, pa.scalar("null"))
    if kind in "iu":
        return pc.cast(pa.array(col.to_numpy()), pa.string())
    if kind == "b":
        return pa.array(np.where(col.to_numpy(), "true", "false"), type=pa.string())
    arr = None
    if pd.api.types.is_string_dtype(col) or col.dtype == object:
        try:  # refused unless every value is text or missing
            arr = pa.array(col, type=pa.string())
        except (pa.ArrowException, TypeError, ValueError):
            arr = None
    if arr is not None:
        # plain printable ASCII needs only quotes (in C); other text is escaped as json.dumps does
        plain = pc.fill_null(pc.match_substring_regex(arr, r'^[ !#-\[\]-~]*$'), False)
        quoted = pc.binary_join_element_wise(pa.scalar('"'), arr, pa.scalar('"'), "")
        if pc.all(plain).as_py():
            return quoted
        mask = plain.to_numpy(zero_copy_only=False)
        out = np.asarray(quoted.to_numpy(zero_copy_only=False), dtype=object)
        for i in np.flatnonzero(~mask).tolist():
            out[i] = _json_value(col.iat[i])
        return pa.array(out, type=pa.string())
    return pa.array([_json_value(v) for v in col.tolist()], type=pa.string())


def _json_value(v: Any) -> str:
    if isinstance(v, str):
        return json.encoder.encode_basestring_ascii(v)
    if _missing(v):
        return "null"
    return json.dumps(_clean_json(v.item() if isinstance(v, np.generic) else v), default=_json_default,
                      allow_nan=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _clean_json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def prepare_batch(batch: ItemBatch, settings: ProjectSettings, shape: PoolShape | None) -> PreparedBatch:
    """Validate ``batch`` against the project; raise ``InvalidInput`` on the first problem.

    Parameters
    ----------
    batch : ItemBatch
    settings : ProjectSettings
        The classes and multi-label flag validate existing labels.
    shape : PoolShape or None
        The pool's shape (None for an empty pool: this batch defines it).
    """
    names, names_array = _check_names(batch.names)
    n = len(names)
    if batch.kind not in DATA_KINDS:
        raise InvalidInput(f"Unknown kind of data {batch.kind!r}; use one of {list(DATA_KINDS)}.")
    if shape is not None and batch.kind != shape.kind:
        raise InvalidInput(f"This project holds {shape.kind} items; cannot add {batch.kind} items to it.")
    fkind = feature_kind_of(batch.features)
    if shape is not None and fkind != shape.feature_kind:
        raise InvalidInput(
            f"This project's features are of kind {shape.feature_kind!r}; the new items have {fkind!r}."
        )
    if batch.kind == "image" and fkind != "array":
        raise InvalidInput("Image items need numeric array features (e.g. thumbnails).")
    if fkind == "array":
        features = _array_features(batch.features, names, shape)
        new_shape = shape or PoolShape(batch.kind, fkind, features.shape[1], str(features.dtype))
    elif fkind == "text":
        features = _text_features(batch.features, names)
        new_shape = shape or PoolShape(batch.kind, fkind)
    else:
        features = _table_features(batch.features, names, shape)
        new_shape = shape or PoolShape(batch.kind, fkind, feature_columns=tuple(features.columns))

    display: list[Any] | None
    if batch.payloads is None:
        if batch.kind == "image":
            if batch.image_shape is None or fkind != "array":
                raise InvalidInput("Image items need their picture bytes or an image_shape to draw them.")
            h, w = batch.image_shape
            if h * w != features.shape[1]:
                raise InvalidInput(f"image_shape {batch.image_shape} does not match {features.shape[1]} features.")
            display = None
        elif batch.kind == "text" and fkind == "text":
            display = list(features)
        else:
            raise InvalidInput(f"{batch.kind.capitalize()} items need something to display (payloads).")
    else:
        payloads = batch.payloads if isinstance(batch.payloads, TableRows) else list(batch.payloads)
        if len(payloads) != n:
            raise InvalidInput(f"Got {n} items but {len(payloads)} things to display; they must match.")
        if batch.kind == "image":
            bad = [names[i] for i, p in enumerate(payloads) if not isinstance(p, bytes | bytearray) or not p]
            if bad:
                raise InvalidInput(f"{len(bad)} image(s) have no picture bytes, e.g. {_few(bad)}.")
            display = [bytes(p) for p in payloads]
        elif batch.kind == "text":
            bad = [names[i] for i, p in enumerate(payloads) if not isinstance(p, str)]
            if bad:
                raise InvalidInput(f"{len(bad)} item(s) have no text to show, e.g. {_few(bad)}.")
            display = payloads
        elif isinstance(batch.payloads, TableRows):  # dicts by construction, encoded by column
            display = batch.payloads.json_rows()
        else:
            bad = [names[i] for i, p in enumerate(payloads) if not isinstance(p, dict)]
            if bad:
                raise InvalidInput(f"{len(bad)} row(s) have nothing to show, e.g. {_few(bad)}.")
            display = [
                json.dumps({str(k): _clean_json(v) for k, v in p.items()}, default=_json_default,
                           allow_nan=False)
                for p in payloads
            ]

    positions: list[int] = []
    values: list[str] = []
    if batch.labels is not None:
        labels = list(batch.labels)
        if len(labels) != n:
            raise InvalidInput(f"Got {n} items but {len(labels)} labels; they must match.")
        problems = []
        for i, lab in enumerate(labels):
            if lab is None or (isinstance(lab, float) and math.isnan(lab)) or lab is pd.NA or lab == "":
                continue
            if settings.multi_label and isinstance(lab, str) and SEPARATOR in lab:
                lab = list(split_labels(lab))
            try:
                values.append(normalize_label(lab, settings.classes, settings.multi_label))
                positions.append(i)
            except InvalidInput:
                problems.append((names[i], lab))
        if problems:
            outside = sorted({str(lab) for _, lab in problems})
            raise InvalidInput(
                f"{len(problems)} existing label(s) are not among the project's classes "
                f"({_few(list(settings.classes), 12)}): {_few(outside)} (e.g. item {problems[0][0]!r}). "
                "Add those classes to the project first, or fix the labels."
            )
    true_labels = None
    if batch.true_labels is not None:
        true_labels = [None if t is None or (isinstance(t, float) and math.isnan(t)) else str(t)
                       for t in batch.true_labels]
        if len(true_labels) != n:
            raise InvalidInput(f"Got {n} items but {len(true_labels)} true labels; they must match.")
    return PreparedBatch(
        names=names,
        kind=batch.kind,
        shape=new_shape,
        features=features,
        display=display,
        image_shape=tuple(batch.image_shape) if batch.image_shape else None,
        pixel_max=float(batch.pixel_max),
        label_positions=np.asarray(positions, dtype=np.int64),
        label_values=values,
        labeller=str(batch.labeller or "import"),
        true_labels=true_labels,
        names_array=names_array,
    )


def batch_table(prepared: PreparedBatch, start_id: int, *, skip_features: bool | Sequence[str] = False) -> pa.Table:
    """The Arrow table of a prepared batch: ``id, name, display, true_label`` + features.

    Array features are a ``fixed_size_binary(d * itemsize)`` column ``features``
    holding each row's values little-endian in the pool's dtype; text features a
    string column ``features``; table features one column ``f:<name>`` each.
    ``skip_features``: True leaves array features out, a list of names leaves out
    those table columns (the folder store keeps them in an ``.npy`` file).
    """
    n = len(prepared)
    cols: dict[str, pa.Array] = {
        "id": pa.array(np.arange(start_id, start_id + n, dtype=np.int64)),
        "name": prepared.names_array if prepared.names_array is not None
        else pa.array(prepared.names, type=pa.string()),
    }
    if prepared.display is None:
        cols["display"] = pa.nulls(n, type=pa.binary())
    elif prepared.kind == "image":
        cols["display"] = pa.array(prepared.display, type=pa.binary())
    elif isinstance(prepared.display, pa.Array):
        cols["display"] = prepared.display
    else:
        cols["display"] = pa.array(prepared.display, type=pa.string())
    cols["true_label"] = (
        pa.nulls(n, type=pa.string()) if prepared.true_labels is None
        else pa.array(prepared.true_labels, type=pa.string())
    )
    f = prepared.features
    if prepared.shape.feature_kind == "array":
        if skip_features is not True:
            # One fixed-size binary value per row (little-endian): parquet writes and reads it as a
            # flat byte column, ~10x faster than a list<uint8> column.
            data = np.ascontiguousarray(f, dtype=f.dtype.newbyteorder("<"))
            width = f.shape[1] * f.dtype.itemsize
            cols["features"] = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(width), n, [None, pa.py_buffer(data.tobytes())])
    elif prepared.shape.feature_kind == "text":
        cols["features"] = pa.array(f, type=pa.string())
    else:
        skip = set() if isinstance(skip_features, bool) else set(skip_features)
        kept = f[[c for c in f.columns if c not in skip]]
        if len(kept.columns):
            table = pa.Table.from_pandas(kept, preserve_index=False)
            for name, column in zip(table.column_names, table.columns, strict=True):
                cols["f:" + name] = column.combine_chunks()
    return pa.table(cols)


class StreamState:
    """What every backend tracks while it adds a stream of batches as one batch (``add_items_stream``).

    :meth:`prepare` validates one chunk against the project as the whole import
    would: a project without classes takes every class the chunks' labels name so
    far (sorted, as ``add_items`` does for one batch), the first chunk sets the pool's
    shape, and each chunk's names are kept (as Arrow strings, about 15 MB per million)
    for :meth:`check_names`, which refuses a name used twice across chunks.
    """

    def __init__(self, settings: ProjectSettings, shape: PoolShape | None) -> None:
        self.settings, self.shape = settings, shape
        self._derive = not settings.classes
        self._found: set[str] = set()
        self.names: list[pa.Array] = []
        self.n = 0
        self.has_true = False
        self._dtypes: dict[str, Any] | None = None

    def prepare(self, batch: ItemBatch) -> PreparedBatch:
        settings = self.settings
        if self._derive:
            found = set(batch_classes(batch, settings.multi_label))
            if found - self._found:
                self._found |= found
                settings = replace(settings, classes=check_classes(sorted(self._found)))
        prepared = prepare_batch(batch, settings, self.shape)
        if self.shape is None and (settings.kind != prepared.kind
                                   or settings.feature_kind != prepared.shape.feature_kind):
            settings = replace(settings, kind=prepared.kind, feature_kind=prepared.shape.feature_kind)
        self.settings, self.shape = settings, prepared.shape
        if prepared.shape.feature_kind == "table":
            prepared = self._same_columns(prepared)
        self.names.append(prepared.names_array if prepared.names_array is not None
                          else pa.array(prepared.names, type=pa.string()))
        self.n += len(prepared)
        self.has_true = self.has_true or prepared.true_labels is not None
        return prepared

    def _same_columns(self, prepared: PreparedBatch) -> PreparedBatch:
        """Table features keep the first chunk's dtypes: a later chunk is cast if that is safe, else refused."""
        frame = prepared.features
        if self._dtypes is None:
            self._dtypes = dict(frame.dtypes)
            return prepared
        changed = {}
        for c, got in frame.dtypes.items():
            want = self._dtypes[c]
            if got == want:
                continue
            if isinstance(got, np.dtype) and isinstance(want, np.dtype) and np.can_cast(got, want, "safe"):
                changed[c] = frame[c].astype(want)
                continue
            if isinstance(want, np.dtype) and want.kind in "iuf":  # name the first value that is no number
                values = frame[c]
                odd = np.flatnonzero((pd.to_numeric(values, errors="coerce").isna() & values.notna()).to_numpy())
                if len(odd):
                    k = int(odd[0])
                    raise InvalidInput(
                        f"Column {c!r} holds {str(values.iat[k])[:40]!r} in row {prepared.names[k]!r}, not a number "
                        "as in the rows before; fix or drop that row. Nothing was imported."
                    )
            raise InvalidInput(
                f"Column {c!r} holds {got} values from row {prepared.names[0]!r} on but {want} values before; "
                "make it one type first (e.g. numbers with decimals in every row). Nothing was imported."
            )
        return replace(prepared, features=frame.assign(**changed)) if changed else prepared

    def all_names(self) -> pa.ChunkedArray:
        return pa.chunked_array(self.names, type=pa.string())

    def check_names(self) -> None:
        """Refuse the import (``InvalidInput`` naming both rows) when two chunks use one name."""
        if self.n == 0:
            raise InvalidInput("There are no items to add (the data has no rows / no files).")
        if len(self.names) < 2:
            return  # one chunk: prepare_batch checked it
        names = self.all_names()
        if len(pc.unique(names)) == len(names):
            return
        counts = pc.value_counts(names)
        twice = pc.filter(counts, pc.greater(counts.field("counts"), 1))
        name = twice[0]["values"].as_py()
        rows = np.flatnonzero(pc.equal(names, name).to_numpy(zero_copy_only=False))[:2].tolist()
        raise InvalidInput(
            f"The item name {name!r} is used twice, by rows {rows[0]} and {rows[1]}; every item needs a unique "
            "name. Nothing was imported."
        )


def render_grey_png(values: np.ndarray, image_shape: tuple[int, int], pixel_max: float) -> bytes:
    """Grey pixels (0 = black, ``pixel_max`` = white) as PNG bytes."""
    from PIL import Image

    scale = 255.0 / pixel_max if pixel_max else 1.0
    pixels = np.clip(np.asarray(values, dtype=np.float32) * scale, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels.reshape(image_shape))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
