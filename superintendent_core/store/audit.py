"""Audit draws: the random draws woven into a serving order, and the records kept when they are labelled.

An order the Learner writes may fill some of its positions by a random draw
from the not-yet-placed unlabelled items, each with a known probability ``q``
(see :mod:`superintendent_core.learning.estimate`). :class:`AuditDraws` carries
those draws to ``store.set_order(ids, audit=...)``; the store keeps, with the
label, where the item was served from (:data:`AUDIT_COLUMNS`), so an accuracy
estimate can weigh each audited label by ``1 / (support * q)``.

This module is the canonical home of :class:`AuditDraws` and imports neither
scikit-learn nor anything of the store's backends.

How the store treats labels (every backend)
-------------------------------------------
- A record is made when an item served by ``next_item`` from an audit slot of
  the order it was served from gets its **first** label in force, from the
  labeller it was served to. It is written in the same durable write as the
  label (folder: the same log record; SQL: the same transaction).
- A relabel keeps the record (the latest label is the truth). An undo that
  leaves the item without a label voids it; if the labeller labels the item
  again straight away (``undo`` leases it back to them), the record comes back
  with the same draw. An item served later from a non-audit slot gets none.
- Labels from an import, a bulk label, the Review page (``relabel``) or a
  ``submit`` without an audit lease have no record.
- ``seq`` is the number of labelled items when the order was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from .errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")

__all__ = ["AUDIT_COLUMNS", "AuditDraws", "AuditSlot", "audit_frame", "empty_audit_records"]

#: Columns of ``store.audit_records()`` and their dtypes.
AUDIT_COLUMNS: dict[str, Any] = {
    "item_id": np.int64,
    "probability": np.float64,
    "support": np.int64,
    "seq": np.int64,
    "labeller": object,
    "time": np.float64,
}

#: What a store remembers of an audit slot: (probability, support, seq).
AuditSlot = tuple[float, int, int]


def _error(message: str) -> Exception:
    return InvalidInput(message)


@dataclass(frozen=True)
class AuditDraws:
    """The random draws woven into one serving order.

    Attributes
    ----------
    ids : ndarray of int64, shape (k,)
        The drawn items (item ids, or pool positions before ``run_retrain`` maps
        them), each once.
    probability : ndarray of float64, shape (k,)
        ``q``: the chance the item had of being drawn at its slot, in (0, 1].
    support : ndarray of int64, shape (k,)
        How many items it was drawn from (at least 1).

    Raises
    ------
    InvalidInput
        Lengths that differ, an id listed twice or negative, a probability
        outside (0, 1] or not finite, a support below 1. Whether the ids are in
        the order is checked by ``set_order``.
    """

    ids: np.ndarray
    probability: np.ndarray
    support: np.ndarray

    def __post_init__(self) -> None:
        ids = _as_int(self.ids, "ids")
        try:
            prob = np.asarray(self.probability, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise _error("Audit draw probabilities must be numbers in (0, 1].") from None
        support = _as_int(self.support, "support")
        if not (len(ids) == len(prob) == len(support)):
            raise _error(f"Audit draws need as many probabilities and supports as ids; got {len(ids)} ids, "
                         f"{len(prob)} probabilities and {len(support)} supports.")
        if len(np.unique(ids)) != len(ids):
            raise _error("Audit draws list an item twice; each item is drawn at most once per order.")
        if len(ids) and ids.min() < 0:
            raise _error("Audit draw ids must be item ids (0 or more).")
        if not np.all(np.isfinite(prob) & (prob > 0) & (prob <= 1)):
            raise _error("Audit draw probabilities must be numbers in (0, 1].")
        if len(support) and support.min() < 1:
            raise _error("Audit draw supports must be whole numbers of 1 or more.")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "probability", prob)
        object.__setattr__(self, "support", support)

    @classmethod
    def empty(cls) -> AuditDraws:
        """No draws."""
        return cls(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    def check_in_order(self, order: np.ndarray) -> None:
        """Raise ``InvalidInput`` unless every drawn id is in ``order``."""
        if not len(self.ids):
            return
        order = np.asarray(order, dtype=np.int64)
        if len(order) and order.min() >= 0:  # O(n) with a table (an order may hold a million ids)
            present = np.zeros(max(int(order.max()), int(self.ids.max())) + 1, dtype=bool)
            present[order] = True
            missing = self.ids[~present[self.ids]]
        else:
            missing = self.ids[~np.isin(self.ids, order)]
        if len(missing):
            raise _error(f"Audit draw(s) {missing[:3].tolist()} are not in the order; "
                         "a draw must be one of the order's items.")

    def slots(self, seq: int) -> dict[int, AuditSlot]:
        """``{item id: (probability, support, seq)}``: what a store keeps of this order's draws."""
        return {int(i): (float(q), int(s), int(seq))
                for i, q, s in zip(self.ids.tolist(), self.probability.tolist(), self.support.tolist(),
                                   strict=True)}


def _as_int(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise _error(f"Audit draw {what} must be a flat list of whole numbers.")
    return arr.astype(np.int64)


def empty_audit_records() -> pd.DataFrame:
    """``audit_records()`` with no rows (the right columns and dtypes)."""
    return pd.DataFrame({k: pd.Series(dtype=t) for k, t in AUDIT_COLUMNS.items()})


def audit_frame(rows: list[tuple[Any, ...]] | dict[str, Any]) -> pd.DataFrame:
    """``audit_records()`` from rows ``(item_id, probability, support, seq, labeller, time)``, by item id."""
    if isinstance(rows, dict):
        df = pd.DataFrame(rows)
    else:
        if not rows:
            return empty_audit_records()
        df = pd.DataFrame(rows, columns=list(AUDIT_COLUMNS))
    if not len(df):
        return empty_audit_records()
    df = df.astype(AUDIT_COLUMNS)
    df["labeller"] = df["labeller"].astype(str).astype(object)
    return df.sort_values("item_id", kind="stable").reset_index(drop=True)
