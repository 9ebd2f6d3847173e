"""The latest model's suggestions, as a store keeps them (shared by every backend).

A retrain predicts a label for every unlabelled item; the store keeps the
latest set so that every process showing the project (app processes, and the
``orchestrate`` process that retrained) shows the same suggestions. They are
data, not a model: item ids, labels, probabilities and a little JSON about the
retrain — nothing is unpickled from a shared database.

Both backends keep one parquet file's bytes (a file in a project folder, one
row of ``si_suggestions`` in a database) and a version number that grows by one
with every save, so a reader checks the number and reads the data only when it
changed.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from .errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")
    pa = lazy_module("pyarrow")
    pq = lazy_module("pyarrow.parquet")

__all__ = ["Suggestions", "check_suggestions", "decode_suggestions", "encode_suggestions"]


@dataclass(frozen=True)
class Suggestions:
    """The latest saved suggestions of a project.

    Attributes
    ----------
    version : int
        1 for the first save, then 2, 3, ... (per project, whoever saved).
    meta : dict
        What the saver recorded (``model``, ``by``, ``time``, ``n_labels`` ...).
    ids : ndarray of int64, shape (n,)
        Item ids, ascending.
    labels : ndarray of object, shape (n,)
        The suggested label of each (str; multi-label joined by ``"|"``).
    probabilities : ndarray of float64, shape (n,)
        The probability of that label.
    """

    version: int
    meta: dict[str, Any] = field(default_factory=dict)
    ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    labels: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    probabilities: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.ids)

    def suggestion(self, item_id: int) -> tuple[str, float] | None:
        """``(label, probability)`` for one item, or None when it has none (a binary search)."""
        i = int(np.searchsorted(self.ids, item_id))
        if i < len(self.ids) and self.ids[i] == item_id:
            return str(self.labels[i]), float(self.probabilities[i])
        return None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def check_suggestions(
    ids: Any,
    labels: Sequence[str],
    probabilities: Any,
    meta: Mapping[str, Any] | None,
    check_ids: Callable[[Any], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Validate suggestions before saving; return them sorted by id, and the meta as JSON.

    Parameters
    ----------
    ids : array-like of int, shape (n,)
        Distinct item ids of the project.
    labels : sequence of str, shape (n,)
        Or a ``pandas.Categorical`` of str categories (no missing value): checked
        per category and written as dictionary codes, so a million rows cost
        milliseconds instead of a Python object per row.
    probabilities : array-like of float, shape (n,)
        Each in [0, 1].
    meta : mapping or None
        JSON-able facts about the retrain; ``time`` is added when missing.
    check_ids : callable
        The store's id check (raises ``UnknownItem`` for an id outside the project).

    Raises
    ------
    InvalidInput
        Lengths that differ, a repeated id, a label that is not text, a
        probability outside [0, 1], or meta that is not a mapping.
    """
    from ._rules import few, has_repeats  # _rules imports the protocol, which imports this module

    ids = check_ids(ids)
    if isinstance(labels, str | bytes) or not hasattr(labels, "__len__"):
        raise InvalidInput("Suggested labels must be a list with one label per item id.")
    coded = isinstance(labels, pd.Categorical)
    if not coded:
        labels = list(labels)
    try:
        probs = np.asarray(probabilities, dtype=np.float64) if len(labels) else np.empty(0)
    except (TypeError, ValueError):
        raise InvalidInput("Suggestion probabilities must be numbers, one per item id.") from None
    if probs.ndim != 1:
        raise InvalidInput(f"Suggestion probabilities must be a flat list, one per item id; got shape {probs.shape}.")
    if not len(ids) == len(labels) == len(probs):
        raise InvalidInput(
            f"Suggestions need one label and one probability per item id; got {len(ids)} ids, "
            f"{len(labels)} labels and {len(probs)} probabilities."
        )
    if has_repeats(ids):  # not np.unique (see there)
        raise InvalidInput("Suggestions name an item id more than once; give each item one suggestion.")
    if coded:
        names = labels.categories.tolist()
        codes = np.asarray(labels.codes)
        bad = np.flatnonzero(codes < 0).tolist()
        bad_names = {j for j, v in enumerate(names) if not isinstance(v, str)}
        if bad_names:
            bad += np.flatnonzero(np.isin(codes, list(bad_names))).tolist()
    else:
        bad = [k for k, v in enumerate(labels) if not isinstance(v, str)]
    if bad:
        raise InvalidInput(f"Suggested labels must be text; rows {few(bad)} are not.")
    out = np.flatnonzero(~((probs >= 0.0) & (probs <= 1.0)))
    if len(out):
        raise InvalidInput(
            f"Suggestion probabilities must be between 0 and 1; rows {few(out.tolist())} are not."
        )
    if meta is not None and not isinstance(meta, Mapping):
        raise InvalidInput("The suggestions' meta must be a mapping of names to values.")
    row = dict(meta or {})
    row.setdefault("time", time.time())
    try:
        text = json.dumps(row, default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"The suggestions' meta cannot be saved ({exc}).") from None
    if len(ids) > 1 and bool(np.all(ids[1:] > ids[:-1])):  # already ascending (a retrain's pool): no copy
        return ids, (labels if coded else np.array(labels, dtype=object)), probs, text
    order = np.argsort(ids, kind="stable")
    if coded:
        return ids[order], labels[order], probs[order], text
    return ids[order], np.array(labels, dtype=object)[order], probs[order], text


def encode_suggestions(ids: np.ndarray, labels: np.ndarray | pd.Categorical, probabilities: np.ndarray) -> bytes:
    """Checked suggestions as parquet bytes (zstd); a ``Categorical`` is written from its codes."""
    if isinstance(labels, pd.Categorical):
        label_array = pa.DictionaryArray.from_arrays(
            pa.array(np.asarray(labels.codes, dtype=np.int32)),
            pa.array(labels.categories.tolist(), type=pa.string()),
        )
    else:
        label_array = pa.array(labels.tolist(), type=pa.string())
    table = pa.table(
        {
            "id": pa.array(ids, type=pa.int64()),
            "label": label_array,
            "probability": pa.array(probabilities, type=pa.float64()),
        }
    )
    sink = io.BytesIO()
    # Ascending ids as deltas, the labels as a dictionary, no statistics: at 1M items
    # 0.3 s and 7.9 MB, where zstd with the default encodings took 1.1 s for 9.5 MB.
    pq.write_table(table, sink, compression="zstd", use_dictionary=["label"], write_statistics=False,
                   column_encoding={"id": "DELTA_BINARY_PACKED"})
    return sink.getvalue()


def decode_suggestions(data: bytes, version: int, meta_text: str) -> Suggestions:
    """Inverse of :func:`encode_suggestions` (raises ``ArrowException`` / ``ValueError`` if damaged)."""
    # The labels are read as codes into their distinct values (files written before labels were
    # dictionary-encoded are read the same way): one Python string per distinct label, not per row.
    table = pq.read_table(io.BytesIO(data), read_dictionary=["label"])
    meta = json.loads(meta_text)
    if not isinstance(meta, dict):
        raise ValueError("meta is not a JSON object")
    probs = table.column("probability").to_numpy(zero_copy_only=False).astype(np.float64)
    return Suggestions(
        version=int(version),
        meta=meta,
        ids=table.column("id").to_numpy(zero_copy_only=False).astype(np.int64),
        labels=_label_objects(table.column("label")),
        probabilities=probs,
    )


def _label_objects(column: pa.ChunkedArray) -> np.ndarray:
    """A (dictionary-encoded) string column as an object array of str, one Python string per distinct value."""
    parts = []
    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):
            parts.append(np.array(chunk.to_pylist(), dtype=object))
            continue
        names = np.empty(len(chunk.dictionary), dtype=object)
        names[:] = chunk.dictionary.to_pylist()
        codes = chunk.indices.to_numpy(zero_copy_only=False)
        if chunk.null_count:
            raise ValueError("a suggested label is missing")
        parts.append(names[codes.astype(np.intp)] if len(codes) else np.empty(0, dtype=object))
    return np.concatenate(parts) if parts else np.empty(0, dtype=object)
