"""Items from Python objects: arrays, DataFrames, lists of texts (superintendent's ``add_features``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..store.errors import InvalidInput
from ..store.protocol import ItemBatch, LabelStore
from .tables import check_frame

__all__ = ["add_features", "batch_from_python"]


def _json_value(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def batch_from_python(
    features: Any,
    labels: Sequence[Any] | None = None,
    *,
    names: Sequence[str] | None = None,
    start: int = 0,
    image_shape: tuple[int, int] | None = None,
    pixel_max: float | None = None,
    labeller: str = "import",
) -> ItemBatch:
    """An :class:`ItemBatch` from an array, a DataFrame or a list of texts.

    Parameters
    ----------
    features : ndarray (n, d) or (n, h, w), DataFrame, or list of str
        A 3-D array is a stack of grey images (display drawn from the pixels);
        a 2-D array whose width is a square number is shown as square images when
        ``image_shape`` is given, else as a table row. A DataFrame becomes table
        rows (every column shown, every column a feature). A list of str becomes
        text items.
    labels : sequence, optional
        Existing labels (None / NaN for unlabelled items).
    names : sequence of str, optional
        Item names; default the future ids as text (``str(start + i)``), or the
        DataFrame's index when it is unique.
    start : int
        First id the items will get (``len(store)``), for default names.
    image_shape : (h, w), optional
    pixel_max : float, optional
        Value drawn as white; default the array's maximum (at least 1).
    """
    if isinstance(features, pd.DataFrame):
        check_frame(features)
        n = len(features)
        if names is None:
            names = ([str(i) for i in features.index] if features.index.is_unique and
                     not isinstance(features.index, pd.RangeIndex) else [str(start + i) for i in range(n)])
        rows = [{str(k): _json_value(v) for k, v in r.items()} for r in features.to_dict("records")]
        return ItemBatch(names=tuple(names), kind="table", features=features, payloads=rows,
                         labels=labels, labeller=labeller)
    if isinstance(features, list | tuple) and features and all(isinstance(t, str) for t in features):
        n = len(features)
        return ItemBatch(names=tuple(names or [str(start + i) for i in range(n)]), kind="text",
                         features=list(features), labels=labels, labeller=labeller)
    if isinstance(features, dict | set | str | bytes) or features is None:
        raise InvalidInput(
            f"features must be an array, a DataFrame or a list of texts, not {type(features).__name__}."
        )
    try:
        arr = np.asarray(features)
    except (ValueError, TypeError):
        raise InvalidInput("features must be an array, a DataFrame or a list of texts.") from None
    if arr.ndim == 0 or arr.size == 0 and arr.ndim < 2:
        raise InvalidInput("There are no items to add (the features are empty).")
    if arr.dtype.kind not in "biuf":
        raise InvalidInput(f"Array features must be numbers; got {arr.dtype}.")
    n = arr.shape[0]
    if arr.ndim == 3:
        image_shape = (arr.shape[1], arr.shape[2])
        arr = arr.reshape(n, -1)
    names = tuple(names) if names is not None else tuple(str(start + i) for i in range(n))
    if image_shape is not None:
        finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
        top = float(finite.max()) if finite.size else 1.0
        return ItemBatch(names=names, kind="image", features=arr, image_shape=tuple(image_shape),
                         pixel_max=float(pixel_max or max(top, 1.0)), labels=labels, labeller=labeller)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    rows = [{f"x{j}": _json_value(v) for j, v in enumerate(r)} for r in arr.tolist()] if arr.ndim == 2 else None
    return ItemBatch(names=names, kind="table", features=arr, payloads=rows, labels=labels, labeller=labeller)


def add_features(store: LabelStore, features: Any, labels: Sequence[Any] | None = None, **kwargs: Any) -> np.ndarray:
    """Add items to ``store`` from Python objects (superintendent's ``add_features``); returns the new ids.

    Keyword arguments are those of :func:`batch_from_python`.
    """
    return store.add_items(batch_from_python(features, labels, start=len(store), **kwargs))
