"""Feature sets: named, alternative feature matrices of a project's items (shared by every backend).

A *feature set* holds one row per item, of one dimension and one storage
dtype fixed by the first write (float32, or float16 for big embeddings: half
the disk and page cache; read back as float32 a chunk at a time), for some or all of a project's items: the features a pretrained
network computed in the background, or features a user brought
(:mod:`superintendent_core.data.feature_files`). The setting
``ProjectSettings.feature_set`` names the set :meth:`LabelStore.features` and
``training_data`` return; ``""`` means the features given when the items were
imported.

Rules every backend follows (this module states them; backends only store):

- rows are written in *chunks* (one durable write each); a chunk is validated
  whole first: ids in the pool and distinct, a 2-D real matrix of the set's
  dimension, finite, and finite in the set's dtype (|x| <= 65504 for float16,
  never rounded to inf) — any fault refuses the chunk whole (``InvalidInput``)
  and nothing is written;
- an id written again is ignored (the first write wins): a background job that
  resumes after a crash may recompute a chunk without harm;
- a set may become the project's features only once it holds every item
  (``missing_feature_ids`` empty).

Reading keeps the chunks as they are stored (memory-mapped files in a folder
project) and an index ``id -> (chunk, row)`` of 8 bytes per item.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InvalidInput
from .mapped import release_rows

__all__ = [
    "FEATURE_DTYPES",
    "FEATURE_SET_NAME",
    "FLOAT16_MAX",
    "FeatureSetIndex",
    "check_feature_dtype",
    "check_feature_rows",
    "check_set_name",
    "chunk_dtype",
    "set_dtype",
]

#: Allowed feature-set names: letters, digits, ``_ . -``, 1 to 64 characters, starting with a letter or digit.
FEATURE_SET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


#: How a feature set's rows may be stored: float32 (the default) or float16 (half the bytes;
#: about 3 significant digits, |x| <= 65504). Every read returns float32.
FEATURE_DTYPES: tuple[str, ...] = ("float32", "float16")
#: The largest finite float16 (``np.finfo(np.float16).max``); a value beyond it would become inf.
FLOAT16_MAX = float(np.finfo(np.float16).max)


def check_feature_dtype(dtype: Any) -> str:
    """``dtype`` as one of :data:`FEATURE_DTYPES` (``"float32"``/``"float16"``), else ``InvalidInput``."""
    try:
        name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    except TypeError:
        name = None
    if name not in FEATURE_DTYPES:
        raise InvalidInput(
            f"A feature set is stored as one of {list(FEATURE_DTYPES)}; got {str(dtype)[:40]!r}."
        )
    return name


def chunk_dtype(n_bytes: int, n: int, dim: int) -> str:
    """The dtype of a stored chunk of ``n`` rows of ``dim`` numbers from its size in bytes.

    A chunk's byte count says its dtype (``n * dim * 4`` float32, ``* 2`` float16); any
    other size is damage (``ValueError``).
    """
    for name in FEATURE_DTYPES:
        if n_bytes == n * dim * np.dtype(name).itemsize:
            return name
    raise ValueError(f"a chunk of {n} x {dim} numbers holds {n_bytes} bytes")


def set_dtype(name: str, existing: str | None, asked: Any, default: str) -> str:
    """The dtype a write to the set ``name`` stores: the set's own (``existing``), or for a new set
    ``asked`` or else the project's ``default``; asking an existing set for another is ``InvalidInput``."""
    if asked is not None:
        asked = check_feature_dtype(asked)
    if existing is None:
        return check_feature_dtype(asked if asked is not None else default)
    if asked is not None and asked != existing:
        raise InvalidInput(
            f"The feature set {name!r} is stored as {existing}; its rows cannot be written as {asked}. "
            "Nothing was written."
        )
    return existing


def check_set_name(name: Any) -> str:
    """``name`` if it is a valid feature-set name, else ``InvalidInput``."""
    if not isinstance(name, str) or not FEATURE_SET_NAME.match(name):
        raise InvalidInput(
            f"Feature set name {str(name)[:80]!r} is not allowed; use 1 to 64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit."
        )
    return name


def check_feature_rows(
    ids: Sequence[int] | np.ndarray, matrix: Any, *, n_items: int, dim: int | None, dtype: str = "float32"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate one chunk of a feature set; return ``(ids int64, matrix of dtype, C-ordered)``.

    Parameters
    ----------
    ids : sequence of int, shape (k,)
        Item ids, distinct, each in ``0 .. n_items-1``.
    matrix : array-like, shape (k, d)
        Real numbers, finite.
    n_items : int
        Items in the pool.
    dim : int or None
        The set's dimension (None: the set is new, any d >= 1).
    dtype : {"float32", "float16"}
        How the set stores its rows: a value that would not be finite in it
        (|x| > 65504 for float16) refuses the chunk whole, never becomes inf.

    Raises
    ------
    InvalidInput
        The message names the fault; nothing may be written.
    """
    dtype = check_feature_dtype(dtype)
    try:
        id_arr = np.asarray(ids)
    except (TypeError, ValueError):
        raise InvalidInput("Feature set ids must be whole numbers (item ids).") from None
    if id_arr.ndim != 1 or (id_arr.size and id_arr.dtype.kind not in "iu"):
        raise InvalidInput("Feature set ids must be a 1-D list of whole numbers (item ids).")
    id_arr = id_arr.astype(np.int64, copy=False)
    if id_arr.size and (id_arr.min() < 0 or id_arr.max() >= n_items):
        bad = id_arr[(id_arr < 0) | (id_arr >= n_items)]
        raise InvalidInput(
            f"{len(bad)} feature row(s) name items that are not in the project (e.g. id {int(bad[0])}; "
            f"the project has {n_items} items); nothing was written."
        )
    if len(np.unique(id_arr)) != len(id_arr):
        raise InvalidInput("An item appears twice in one chunk of features; nothing was written.")
    arr = np.asarray(matrix)
    if arr.dtype == object or arr.dtype.kind not in "iuf":
        raise InvalidInput(
            f"Features must be real numbers (a numeric array); got values of type {arr.dtype}; nothing was written."
        )
    if arr.ndim != 2:
        raise InvalidInput(f"Features must be a 2-D array (one row per item); got {arr.ndim} dimension(s).")
    if arr.shape[0] != len(id_arr):
        raise InvalidInput(f"{arr.shape[0]} feature row(s) for {len(id_arr)} item id(s); they must match.")
    if arr.shape[1] < 1:
        raise InvalidInput("Feature rows must have at least one number.")
    if dim is not None and arr.shape[1] != dim:
        raise InvalidInput(
            f"These features have {arr.shape[1]} numbers per item; the feature set has {dim}. "
            "Nothing was written."
        )
    finite64 = np.isfinite(arr).all(axis=1) if arr.dtype.kind == "f" else np.ones(len(arr), dtype=bool)
    if not finite64.all():
        first = int(id_arr[np.flatnonzero(~finite64)[0]])
        raise InvalidInput(
            f"{int((~finite64).sum())} feature row(s) hold NaN or infinite values (e.g. item id {first}); "
            "nothing was written."
        )
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=np.float32)
    too_big = ~np.isfinite(out).all(axis=1)
    if too_big.any():
        first = int(id_arr[np.flatnonzero(too_big)[0]])
        raise InvalidInput(
            f"{int(too_big.sum())} feature row(s) hold values too large for 32-bit floats (e.g. item id {first}); "
            "nothing was written."
        )
    if dtype == "float16":
        too_big = (np.abs(out) > FLOAT16_MAX).any(axis=1)  # 65504 < |x| < 65520 would round down: refused too
        if too_big.any():
            k = int(np.flatnonzero(too_big)[0])
            worst = float(np.abs(out[k]).max())
            raise InvalidInput(
                f"{int(too_big.sum())} feature row(s) hold values beyond float16's range of ±{FLOAT16_MAX:g} "
                f"(e.g. item id {int(id_arr[k])}: {worst:.6g}); nothing was written. Store this feature set "
                "as float32, or scale the features first."
            )
        out = out.astype(np.float16)
    return id_arr, out


class FeatureSetIndex:
    """One set's rows as stored: a list of chunks ``(ids, matrix)`` and where each id sits.

    ``matrix`` may be a read-only memory map, float32 or float16 (``dtype``); :meth:`gather`
    copies only the rows asked for, as float32, one chunk at a time, then drops the map's pages
    it read from the process (:func:`~.mapped.release_rows`).
    """

    def __init__(self, dim: int, dtype: str = "float32") -> None:
        self.dim = int(dim)
        self.dtype = check_feature_dtype(dtype)
        self.chunks: list[tuple[np.ndarray, Any]] = []
        self._chunk = np.full(0, -1, dtype=np.int32)
        self._row = np.zeros(0, dtype=np.int32)
        self.n_stored = 0

    def _grow(self, n: int) -> None:
        if n > len(self._chunk):
            self._chunk = np.concatenate([self._chunk, np.full(n - len(self._chunk), -1, dtype=np.int32)])
            self._row = np.concatenate([self._row, np.zeros(n - len(self._row), dtype=np.int32)])

    def add(self, ids: np.ndarray, matrix: Any) -> None:
        """Index a chunk; ids already indexed keep their first row."""
        k = len(self.chunks)
        self.chunks.append((ids, matrix))
        if len(ids) == 0:
            return
        self._grow(int(ids.max()) + 1)
        new = self._chunk[ids] < 0
        self._chunk[ids[new]] = k
        self._row[ids[new]] = np.flatnonzero(new).astype(np.int32)
        self.n_stored += int(new.sum())

    def new_ids(self, ids: np.ndarray) -> np.ndarray:
        """Mask of ``ids`` not stored yet."""
        out = np.ones(len(ids), dtype=bool)
        inside = ids < len(self._chunk)
        out[inside] = self._chunk[ids[inside]] < 0
        return out

    def missing(self, n_items: int) -> np.ndarray:
        """Ids ``0 .. n_items-1`` with no row, ascending (int64)."""
        self._grow(n_items)
        return np.flatnonzero(self._chunk[:n_items] < 0).astype(np.int64)

    def gather(self, ids: np.ndarray, set_name: str) -> np.ndarray:
        """Rows for ``ids`` (float32, shape ``(len(ids), dim)``); ``InvalidInput`` if some are missing."""
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        if len(ids) == 0:
            return out
        self._grow(int(ids.max()) + 1)
        which = self._chunk[ids]
        if (which < 0).any():
            missing = ids[which < 0]
            raise InvalidInput(
                f"The feature set {set_name!r} has no features yet for {len(missing)} of these items "
                f"(e.g. id {int(missing[0])}); wait for it to complete or choose the import features."
            )
        rows = self._row[ids]
        for k in np.unique(which).tolist():
            pos = np.flatnonzero(which == k)
            order = np.argsort(rows[pos], kind="stable")  # ascending rows: a memory map reads forward
            chunk_rows = rows[pos][order]
            matrix = self.chunks[k][1]
            out[pos[order]] = matrix[chunk_rows]  # float16 rows widen here, per chunk
            # a map's pages go back to the kernel's cache (mapped.py)
            release_rows(matrix, int(chunk_rows[0]), int(chunk_rows[-1]) + 1)
        return out
