"""Argument checks every store backend shares: item ids, labeller names, seconds.

Ids are checked against the number of items in two steps: first against a count
the caller already knows (free), and only when that fails against the true count
(``count()``, which may cost a database round trip). Items are never removed, so a
known count only ever grows and an id below it is always valid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import InvalidInput, UnknownItem

__all__ = ["check_id", "check_ids", "check_labeller", "check_seconds"]


def _unknown(item_id: int, n: int) -> UnknownItem:
    return UnknownItem(f"There is no item {item_id} in this project ({n} items).")


def check_id(item_id: Any, known: int, count: Callable[[], int]) -> int:
    """One item id as an ``int``.

    Parameters
    ----------
    item_id : int or numpy integer
    known : int
        A number of items the caller knows exist (ids below it are valid).
    count : callable
        Returns the current number of items; called only when ``item_id >= known``.

    Raises
    ------
    InvalidInput
        Not a whole number (``bool`` included).
    UnknownItem
        Outside ``0 .. count() - 1``.
    """
    if isinstance(item_id, bool) or not isinstance(item_id, int | np.integer):
        raise InvalidInput(f"Item ids are whole numbers, got {item_id!r}.")
    item_id = int(item_id)
    if 0 <= item_id < known:
        return item_id
    n = count()
    if not 0 <= item_id < n:
        raise _unknown(item_id, n)
    return item_id


def check_ids(ids: Any, known: int, count: Callable[[], int]) -> np.ndarray:
    """Many item ids as an int64 array of shape (n_ids,); see :func:`check_id`.

    Raises
    ------
    InvalidInput
        Not a flat sequence of whole numbers.
    UnknownItem
        Names the first id outside the project.
    """
    arr = np.asarray(ids)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise InvalidInput("Item ids must be a flat list of whole numbers.")
    arr = arr.astype(np.int64)
    if int(arr.min()) >= 0 and int(arr.max()) < known:
        return arr
    n = count()
    bad = arr[(arr < 0) | (arr >= n)]
    if len(bad):
        raise _unknown(int(bad[0]), n)
    return arr


def check_labeller(labeller: Any) -> str:
    """A labeller's name: non-empty text (returned unchanged)."""
    if not isinstance(labeller, str) or not labeller.strip():
        raise InvalidInput("A labeller needs a name (non-empty text).")
    return labeller


def check_seconds(seconds: Any) -> float | None:
    """Seconds spent on a label: None, or a finite non-negative number (as ``float``)."""
    if seconds is None:
        return None
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float | np.number)
        or not np.isfinite(seconds)
        or seconds < 0
    ):
        raise InvalidInput(f"seconds must be a non-negative number or None, got {seconds!r}.")
    return float(seconds)
