"""The rules every store backend shares; a backend only decides how to store the result.

Argument checks
    Item ids, labeller names, seconds spent, a serving order, label values and
    whole tables of labels to import.
Labels
    A label's canonical string (:func:`normalize_label`), the value an item is
    trained on (:func:`split_label`), classes named by the labels of a batch
    (:func:`batch_classes`), and how labels in force count per class
    (:func:`class_usage`, :func:`per_class`).
Retrain history
    How an entry is saved (:func:`retrain_entry`) and read back (:func:`history_frame`).
Errors
    The messages for item names already taken (:func:`names_taken`) and for bad
    rows of a label import.

Item ids are checked against the number of items in two steps: first against a
count the caller already knows (free), and only when that fails against the true
count (``count()``, which may cost a database round trip). Items are never
removed, so a known count only ever grows and an id below it is always valid.

Leases
    How many items identities that have not labelled anything may hold at once
    (:func:`idle_lease_cap`, :data:`IDLE_LEASE_MIN`, :data:`IDLE_LEASE_PERCENT`).

The rules of *who may undo what* and *which item is served next* are the same
in both backends and documented in :mod:`.ledger` and :mod:`.queue` (the folder
store's in-memory state) and in :mod:`.sql.schema` (the same steps in SQL).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..labels import SEPARATOR, split_labels
from .audit import AuditDraws
from .errors import InvalidInput, UnknownItem
from .protocol import ItemBatch, ProjectSettings

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")

__all__ = [
    "ESTIMATE_COLUMNS",
    "check_audit",
    "batch_classes",
    "check_id",
    "check_ids",
    "check_label_rows",
    "check_labeller",
    "check_order",
    "check_seconds",
    "class_usage",
    "few",
    "has_repeats",
    "history_frame",
    "idle_lease_cap",
    "names_taken",
    "normalize_label",
    "per_class",
    "retrain_entry",
    "split_label",
]

#: Bad rows named in the message of a refused label import.
SHOWN_ROWS = 5


def few(values: Sequence[Any], k: int = 3) -> str:
    """The first ``k`` values (repr) and how many more there are."""
    shown = ", ".join(repr(v) for v in list(values)[:k])
    return shown + (f" and {len(values) - k} more" if len(values) > k else "")


# --------------------------------------------------------------------------- ids, labellers, seconds


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


def has_repeats(ids: np.ndarray) -> bool:
    """Whether a flat int array holds a value twice, by sorting.

    Not ``np.unique``: numpy 2.4's (hash-based) took 1.5-3.7 s for a million
    distinct ids on the benchmark machine, a sort about 40 ms.
    """
    ordered = np.sort(ids)
    return len(ordered) > 1 and bool((ordered[1:] == ordered[:-1]).any())


def check_order(ids: Any) -> np.ndarray:
    """A serving order as an int64 array of shape (n_ids,), each id once.

    Whether the ids are items of the project is checked by the caller
    (:func:`check_ids`, or inside the transaction that writes the order).

    Raises
    ------
    InvalidInput
        Not a flat sequence of whole numbers, or an id listed twice.
    """
    arr = np.asarray(ids)
    if arr.size and (arr.ndim != 1 or arr.dtype.kind not in "iu"):
        raise InvalidInput("The order must be a flat list of item ids (whole numbers).")
    arr = arr.astype(np.int64).reshape(-1)
    if has_repeats(arr):
        raise InvalidInput("The order lists an item twice; each item may appear once.")
    return arr


def check_audit(audit: Any, order: np.ndarray, seq: int) -> dict[int, tuple[float, int, int]]:
    """An order's audit draws as ``{item: (probability, support, seq)}`` (``{}`` for None).

    ``audit`` is an :class:`~.audit.AuditDraws` (or anything with its three
    arrays); ``seq`` is the number of labelled items now.

    Raises
    ------
    InvalidInput
        Draws that are not valid (:class:`~.audit.AuditDraws`) or not all in ``order``.
    """
    if audit is None:
        return {}
    if not isinstance(audit, AuditDraws):
        try:
            audit = AuditDraws(audit.ids, audit.probability, audit.support)
        except AttributeError:
            raise InvalidInput("audit must be AuditDraws (ids, probability, support) or None.") from None
    audit.check_in_order(order)
    return audit.slots(seq)


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


# --------------------------------------------------------------------------- leases

#: Items that identities with no label in force may hold at once, at least (see :func:`idle_lease_cap`).
IDLE_LEASE_MIN = 20
#: ... or this percentage of the open items (rounded up), whichever is larger.
IDLE_LEASE_PERCENT = 5


def idle_lease_cap(n_open: int) -> int:
    """How many items *idle* identities may hold at once: ``max(20, ceil(5 % of n_open))``.

    An identity is idle while it has no label in force (a name just typed, or
    invented by a script). Every identity holds at most one item (``next_item``
    returns the item it already holds). Once idle identities together hold this
    many items, a further idle identity is *shown* the best free item without a
    lease (it may label it; the item stays free for everybody else), so names
    invented in bulk cannot reserve more than this share of the pool, and a
    labeller who has labelled before gets a free item while more than this many
    items are open. A lease expires after ``ProjectSettings.lease_seconds``.

    Parameters
    ----------
    n_open : int
        Items that still need labels (not done).
    """
    # integer arithmetic, exactly as the PostgreSQL function computes it
    return max(IDLE_LEASE_MIN, (IDLE_LEASE_PERCENT * max(0, int(n_open)) + 99) // 100)


# --------------------------------------------------------------------------- labels


def normalize_label(label: Any, classes: Sequence[str], multi_label: bool) -> str:
    """The canonical string of a label, or ``InvalidInput`` naming the valid classes.

    Single-label: one class name (a one-element sequence is accepted).
    Multi-label: a sequence of class names (or one name), returned joined by
    ``"|"`` in class order; the empty sequence is allowed ("none of these").
    """
    if not classes:
        raise InvalidInput("The project has no classes yet; define the classes before labelling.")
    if isinstance(label, str):
        parts = [label]
    elif isinstance(label, Sequence | np.ndarray | set | frozenset):
        parts = list(label)
    else:
        raise InvalidInput(f"A label must be a class name (text), got {type(label).__name__} {label!r}.")
    if not multi_label and len(parts) != 1:
        raise InvalidInput(
            f"This project takes exactly one label per item, got {len(parts)}: {parts!r}."
        )
    bad = [p for p in parts if not isinstance(p, str) or p not in classes]
    if bad:
        raise InvalidInput(
            f"Label {few(bad)} is not one of the project's classes ({few(list(classes), 12)}). "
            "Add the class in the project settings first, or fix the label."
        )
    if len(set(parts)) != len(parts):
        raise InvalidInput(f"Label {parts!r} names a class twice.")
    if not multi_label:
        return parts[0]
    chosen = set(parts)
    return SEPARATOR.join(c for c in classes if c in chosen)


def split_label(text: str, multi_label: bool) -> str | tuple[str, ...]:
    """What an item is trained on: the stored string, or its classes in a multi-label project."""
    return split_labels(text) if multi_label else text


def batch_classes(batch: ItemBatch, multi_label: bool) -> list[str]:
    """Classes named by a batch's labels and true labels, sorted (for a project without classes)."""
    found: set[str] = set()
    for seq in (batch.labels or (), batch.true_labels or ()):
        for lab in seq:
            if isinstance(lab, str) and lab:
                found.update(split_labels(lab) if multi_label else [lab])
    return sorted(found)


def class_usage(counts: Iterable[tuple[str | None, int]]) -> dict[str, int]:
    """Labels in force per class, from ``(label string, labels in force)`` pairs.

    Every class of a multi-label string counts (whatever the project's mode), so
    a class still in use can never be removed.
    """
    usage: dict[str, int] = {}
    for text, count in counts:
        for part in split_labels(text):
            usage[part] = usage.get(part, 0) + int(count)
    return usage


def per_class(
    classes: Sequence[str], counts: Iterable[tuple[str, int]], multi_label: bool
) -> dict[str, int]:
    """``Progress.per_class``: items per class from ``(training label, items)`` pairs.

    Every class of the project appears (0 when unused); in a multi-label project
    an item counts for each of its classes.
    """
    out = dict.fromkeys(classes, 0)
    for text, count in counts:
        if not count:
            continue
        for part in split_labels(text) if multi_label else ([text] if text else []):
            out[part] = out.get(part, 0) + int(count)
    return out


def check_label_rows(
    ids: Any,
    labels: Any,
    labellers: str | Sequence[str],
    settings: ProjectSettings,
    n_items: int,
) -> tuple[np.ndarray, list[str], list[str]]:
    """Validate a whole label import before anything is written.

    Parameters
    ----------
    ids : sequence of int, length n
        Item ids.
    labels : sequence, length n
        One label per row, as :meth:`~.protocol.LabelStore.relabel` takes it.
    labellers : str or sequence of str, length n
        Who made each label (one name: every row).
    settings : ProjectSettings
        The classes and multi-label flag the labels must fit.
    n_items : int
        Items in the project (ids ``0 .. n_items - 1`` exist).

    Returns
    -------
    ids : ndarray of int64, shape (n,)
    texts : list of str
        Each row's canonical label string.
    who : list of str
        Each row's labeller.

    Raises
    ------
    InvalidInput
        Lengths that do not match, or bad rows: the message names the first
        :data:`SHOWN_ROWS` bad rows (position, id and problem) and how many there are.
    """
    if isinstance(ids, str | bytes) or not hasattr(ids, "__len__"):
        raise InvalidInput("Item ids must be a flat list of whole numbers.")
    if isinstance(labels, str | bytes) or not hasattr(labels, "__len__"):
        raise InvalidInput("labels must be a list with one label per item id.")
    n = len(ids)
    if isinstance(labellers, str):
        who = [labellers] * n
    elif isinstance(labellers, bytes) or not hasattr(labellers, "__len__"):
        raise InvalidInput("labellers must be one name, or a list with one name per item id.")
    else:
        who = list(labellers)
    if len(labels) != n or len(who) != n:
        raise InvalidInput(
            f"Got {n} item ids, {len(labels)} labels and {len(who)} labellers; they must match."
        )
    out_ids = np.empty(n, dtype=np.int64)
    texts: list[str] = []
    problems: list[str] = []
    for row, (item_id, label, by) in enumerate(zip(list(ids), list(labels), who, strict=True)):
        try:
            out_ids[row] = check_id(item_id, n_items, lambda: n_items)
            check_labeller(by)
            texts.append(normalize_label(label, settings.classes, settings.multi_label))
        except (InvalidInput, UnknownItem) as exc:
            problems.append(f"row {row} (item {item_id!r}): {exc}")
            texts.append("")
    if problems:
        shown = "; ".join(problems[:SHOWN_ROWS])
        more = f"; and {len(problems) - SHOWN_ROWS} more" if len(problems) > SHOWN_ROWS else ""
        raise InvalidInput(
            f"{len(problems)} of {n} label row(s) cannot be imported, nothing was imported: {shown}{more}."
        )
    return out_ids, texts, who


# --------------------------------------------------------------------------- names


def names_taken(examples: Sequence[str], count: int | None = None) -> InvalidInput:
    """The error for new items whose names are already in the project."""
    if count is None:
        return InvalidInput(
            f"Item name(s) already in the project, e.g. {examples[0]!r}. Rename them or leave them out."
        )
    return InvalidInput(
        f"{count} item name(s) are already in the project, e.g. {examples[0]!r}. "
        "Rename them or leave them out."
    )


# --------------------------------------------------------------------------- retrain history

HISTORY_COLUMNS = ("time", "n_labels", "score", "metric", "strategy", "model", "seconds")


def retrain_entry(entry: Mapping[str, Any], default: Callable[[Any], Any]) -> tuple[str, float]:
    """A retrain entry as stored: JSON text (``time`` added if missing) and its time.

    Parameters
    ----------
    entry : mapping
    default : callable
        ``json.dumps``'s ``default`` for values JSON cannot hold.

    Raises
    ------
    InvalidInput
        The entry cannot be saved.
    """
    row = dict(entry)
    row.setdefault("time", time.time())
    if isinstance(row["time"], pd.Timestamp):
        row["time"] = row["time"].timestamp()
    try:
        text = json.dumps(row, default=default, allow_nan=True)
        at = float(row["time"])
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"The retrain entry cannot be saved ({exc}).") from None
    return text, at


#: The accuracy estimate's keys (``AccuracyEstimate.to_entry()``); entries written before it lack them.
ESTIMATE_COLUMNS = ("estimate", "estimate_low", "estimate_high", "estimate_target", "estimate_n", "estimate_note")
_TEXT_COLUMNS = ("metric", "strategy", "model", "estimate_target", "estimate_note")


def history_frame(entries: list[dict[str, Any]]) -> pd.DataFrame:
    """``LabelStore.history()`` from the stored entries, oldest first.

    The estimate's columns are always there: NaN (numbers) or None (text) in
    entries without them (older retrains, or no estimate).
    """
    base = list(HISTORY_COLUMNS)
    df = pd.DataFrame(entries)
    for c in (*base, *ESTIMATE_COLUMNS):
        if c not in df.columns:
            df[c] = pd.Series([None] * len(df), dtype=object) if c in _TEXT_COLUMNS else (
                pd.Series([np.nan] * len(df), dtype=float))
    for c in ("estimate", "estimate_low", "estimate_high", "estimate_n"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    for c in ("estimate_target", "estimate_note"):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    df = df[base + [c for c in df.columns if c not in base]]
    df["time"] = pd.to_datetime(df["time"].astype(float), unit="s", utc=True)
    return df
