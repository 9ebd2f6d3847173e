"""Bulk labels: one label given to many items at once by one labeller ("Label N chosen items").

The rules every backend follows (each backend stores the result its own way):

- A bulk label is recorded **per item**, by that labeller, as an ordinary label in
  force that is marked as bulk (``store.labels()["bulk"]`` is True) and belongs to
  one bulk (a number per project).
- It is written in **one durable action**: after a crash (kill -9) either every
  item of the bulk carries it or none does (folder: one snapshot and manifest;
  SQL: one transaction).
- ``store.undo(labeller)``, when that labeller's most recent label in force is a
  bulk label, removes **every** label of that bulk still in force, as one step
  (one durable action too), and leases no item back (a single item's undo leases
  it back; a bulk has many). :meth:`~.protocol.LabelStore.last_bulk` says how many
  labels that undo would remove, so a page can offer "Undo bulk label (N items)".
- A labeller's own label on an item is never overwritten by a bulk: items they
  already labelled are refused (relabel them one by one), so undoing a bulk can
  never lose an earlier label. Items labelled by *others* are fine (each labeller
  keeps their own label side by side).
- Bulk labels get no audit record (:mod:`.audit`): they were not served from a
  random draw. They are trained on like any label.
- At most :data:`MAX_BULK` items per bulk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _rules
from .errors import InvalidInput

__all__ = ["MAX_BULK", "check_bulk", "refuse_own_labels"]

#: Items one bulk label may cover.
MAX_BULK = 10_000


def check_bulk(ids: Any, n_items: int) -> np.ndarray:
    """The items of a bulk label as int64 ids, in the given order.

    Raises
    ------
    InvalidInput
        Not a flat list of whole numbers, an item listed twice, more than :data:`MAX_BULK` items.
    UnknownItem
        An id outside the project.
    """
    arr = _rules.check_ids(ids, n_items, lambda: n_items)
    if len(arr) > MAX_BULK:
        raise InvalidInput(f"A bulk label covers at most {MAX_BULK} items; got {len(arr)}. Choose fewer.")
    if _rules.has_repeats(arr):
        raise InvalidInput("The bulk label lists an item twice; choose each item once.")
    return arr


def refuse_own_labels(ids: Sequence[int], names: Sequence[str], labeller: str) -> None:
    """Raise ``InvalidInput`` naming the items ``labeller`` already labelled (``ids``, ``names``), if any."""
    if len(ids):
        raise InvalidInput(
            f"{len(ids)} of the chosen items already carry {labeller}'s label, e.g. {_rules.few(list(names))}; "
            "a bulk label does not replace a label. Leave them out, or relabel them one by one. "
            "Nothing was labelled."
        )
