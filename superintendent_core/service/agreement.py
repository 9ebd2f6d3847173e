"""Agreement between labellers: Cohen's kappa for two, Fleiss' kappa for more, and the disagreements.

When a project asks for every item to be labelled by several people
(``ProjectSettings.overlap > 1``) the Review page shows how far they agree and
lists the items to settle. Everything here works on the store's labels table
(:meth:`LabelStore.labels`: columns ``item_id``, ``name``, ``label``,
``labeller``, ``time`` …), one row per label in force.

A label is compared as a whole: in a multi-label project ``"cat|dog"`` and
``"cat"`` are two different answers.

Kappa is ``(p_o - p_e) / (1 - p_e)``: 1 is perfect agreement, 0 is what chance
gives, below 0 worse than chance. When ``p_e == 1`` (everyone always gives one
and the same class) it is undefined and reported as NaN, as scikit-learn does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._lazy import lazy_module

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")

__all__ = [
    "Agreement",
    "agreement",
    "cohen_kappa",
    "disagreements",
    "fleiss_kappa",
    "rating_counts",
    "rating_table",
]

_REQUIRED = ("item_id", "label", "labeller")


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa between two labellers' labels on the same items.

    Parameters
    ----------
    a, b : sequence of hashable, length n
        The two labellers' labels; ``a[i]`` and ``b[i]`` are for the same item.

    Returns
    -------
    float
        Kappa in ``[-1, 1]``; NaN when undefined (no items, or both always give
        one and the same class).

    Raises
    ------
    ValueError
        If ``a`` and ``b`` differ in length.
    """
    a = list(a)
    b = list(b)
    if len(a) != len(b):
        raise ValueError(
            f"cohen_kappa: the two labellers have {len(a)} and {len(b)} labels; "
            "pass labels of the same items, in the same order."
        )
    n = len(a)
    if n == 0:
        return float("nan")
    categories = {c: i for i, c in enumerate(dict.fromkeys(a + b))}
    ia = np.fromiter((categories[x] for x in a), dtype=np.int64, count=n)
    ib = np.fromiter((categories[x] for x in b), dtype=np.int64, count=n)
    k = len(categories)
    p_o = float(np.mean(ia == ib))
    p_e = float(np.dot(np.bincount(ia, minlength=k), np.bincount(ib, minlength=k))) / (n * n)
    return _kappa(p_o, p_e)


def fleiss_kappa(counts: np.ndarray | Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa from a table of counts.

    Parameters
    ----------
    counts : array-like of int, shape (n_items, n_categories)
        ``counts[i, j]`` = how many labellers put item ``i`` in category ``j``.
        Items may have different numbers of labellers (each at least 2; rows
        with fewer are ignored): each item's agreement is the share of agreeing
        pairs among its own labellers, and the chance agreement comes from the
        pooled category shares.

    Returns
    -------
    float
        Kappa; NaN when undefined (no item with two labels, or one category only).

    Raises
    ------
    ValueError
        If ``counts`` is not a 2-D table of non-negative integers.
    """
    table = np.asarray(counts)
    if table.ndim != 2:
        raise ValueError(
            f"fleiss_kappa: expected a table (items × categories), got {table.ndim} dimension(s)."
        )
    if table.size and (table.dtype.kind not in "iub" and not np.all(np.mod(table, 1) == 0)):
        raise ValueError("fleiss_kappa: counts must be whole numbers of labellers.")
    table = table.astype(np.int64)
    if np.any(table < 0):
        raise ValueError("fleiss_kappa: counts cannot be negative.")
    raters = table.sum(axis=1)
    table = table[raters >= 2]
    raters = raters[raters >= 2]
    if table.shape[0] == 0:
        return float("nan")
    agreeing_pairs = (table * (table - 1)).sum(axis=1)
    p_items = agreeing_pairs / (raters * (raters - 1))
    p_o = float(p_items.mean())
    shares = table.sum(axis=0) / raters.sum()
    p_e = float(np.dot(shares, shares))
    return _kappa(p_o, p_e)


def _kappa(p_o: float, p_e: float) -> float:
    if np.isclose(p_e, 1.0):
        return float("nan")
    return (p_o - p_e) / (1.0 - p_e)


def _check_labels(labels: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(labels, pd.DataFrame):
        raise TypeError("labels: expected the store's labels DataFrame (store.labels()).")
    missing = [c for c in _REQUIRED if c not in labels.columns]
    if missing:
        raise ValueError(
            f"labels: column(s) {', '.join(missing)} missing; pass store.labels() "
            "(columns item_id, name, label, labeller, time)."
        )
    frame = labels
    if "time" in frame.columns:
        frame = frame.sort_values("time", kind="stable")
    # One answer per labeller and item: the latest (the store already guarantees this).
    frame = frame.drop_duplicates(["item_id", "labeller"], keep="last")
    return frame


def rating_table(labels: pd.DataFrame) -> pd.DataFrame:
    """Items × labellers: each labeller's label on each item (None where they gave none).

    Parameters
    ----------
    labels : DataFrame
        The store's labels table (``item_id``, ``label``, ``labeller``; ``time`` if present).

    Returns
    -------
    DataFrame, shape (n_items, n_labellers)
        Indexed by ``item_id`` (ascending), one column per labeller (sorted), object dtype.
    """
    frame = _check_labels(labels)
    if frame.empty:
        return pd.DataFrame(index=pd.Index([], name="item_id", dtype="int64"))
    wide = frame.pivot(index="item_id", columns="labeller", values="label")
    wide = wide.sort_index().reindex(sorted(wide.columns), axis=1).astype(object)
    wide = wide.where(wide.notna(), None)
    wide.columns.name = None
    return wide


def rating_counts(labels: pd.DataFrame) -> pd.DataFrame:
    """Items × categories: how many labellers gave each label (the input of :func:`fleiss_kappa`).

    Returns
    -------
    DataFrame of int64, shape (n_items, n_categories)
        Indexed by ``item_id``; columns are the labels used, sorted.
    """
    frame = _check_labels(labels)
    if frame.empty:
        return pd.DataFrame(index=pd.Index([], name="item_id", dtype="int64"), dtype="int64")
    counts = pd.crosstab(frame["item_id"], frame["label"].astype(str))
    counts.columns.name = None
    return counts.astype("int64")


@dataclass(frozen=True)
class Agreement:
    """How far labellers agree.

    Attributes
    ----------
    method : {"cohen", "fleiss"} or None
        Cohen's kappa when exactly two labellers share items, Fleiss' kappa when
        more do; None when no item has two labels yet.
    kappa : float
        The overall kappa (NaN when undefined or ``method`` is None).
    n_items : int
        Items labelled by at least two labellers (the ones compared).
    n_labellers : int
        Labellers who labelled at least one compared item.
    observed : float
        Share of agreeing labeller pairs over the compared items (NaN if none).
    n_disagreements : int
        Compared items on which not everyone gave the same label.
    pairwise : DataFrame
        One row per pair of labellers sharing items: ``labeller_a``,
        ``labeller_b``, ``n_items``, ``observed``, ``kappa`` (Cohen's) — spots a
        labeller who disagrees with everyone.
    """

    method: Literal["cohen", "fleiss"] | None
    kappa: float
    n_items: int
    n_labellers: int
    observed: float
    n_disagreements: int
    pairwise: pd.DataFrame


def agreement(labels: pd.DataFrame) -> Agreement:
    """Agreement over every item labelled by two or more labellers.

    Parameters
    ----------
    labels : DataFrame
        The store's labels table.

    Returns
    -------
    Agreement
    """
    wide = rating_table(labels)
    if not wide.empty:
        n_raters = wide.notna().sum(axis=1)
        wide = wide[n_raters >= 2]
        wide = wide.loc[:, wide.notna().any(axis=0)]
    empty_pairs = pd.DataFrame(
        {
            "labeller_a": pd.Series(dtype=object),
            "labeller_b": pd.Series(dtype=object),
            "n_items": pd.Series(dtype="int64"),
            "observed": pd.Series(dtype="float64"),
            "kappa": pd.Series(dtype="float64"),
        }
    )
    if wide.empty:
        return Agreement(None, float("nan"), 0, 0, float("nan"), 0, empty_pairs)

    rows = []
    for a, b in combinations(wide.columns, 2):
        both = wide[[a, b]].dropna()
        if both.empty:
            continue
        rows.append(
            {
                "labeller_a": a,
                "labeller_b": b,
                "n_items": len(both),
                "observed": float((both[a] == both[b]).mean()),
                "kappa": cohen_kappa(both[a].tolist(), both[b].tolist()),
            }
        )
    pairwise = pd.DataFrame(rows, columns=list(empty_pairs.columns)) if rows else empty_pairs
    pairwise = pairwise.astype({"n_items": "int64", "observed": "float64", "kappa": "float64"})

    counts = _counts_from_wide(wide)
    per_item_raters = counts.sum(axis=1)
    observed = float(
        ((counts * (counts - 1)).sum(axis=1) / (per_item_raters * (per_item_raters - 1))).mean()
    )
    n_disagreements = int((np.count_nonzero(counts, axis=1) > 1).sum())
    if wide.shape[1] == 2:
        a, b = wide.columns
        method: Literal["cohen", "fleiss"] = "cohen"
        kappa = cohen_kappa(wide[a].tolist(), wide[b].tolist())
    else:
        method = "fleiss"
        kappa = fleiss_kappa(counts)
    return Agreement(
        method=method,
        kappa=kappa,
        n_items=int(wide.shape[0]),
        n_labellers=int(wide.shape[1]),
        observed=observed,
        n_disagreements=n_disagreements,
        pairwise=pairwise.reset_index(drop=True),
    )


def _counts_from_wide(wide: pd.DataFrame) -> np.ndarray:
    values = wide.to_numpy(dtype=object)
    categories = sorted({v for v in values.ravel() if v is not None and v == v}, key=str)
    index = {c: j for j, c in enumerate(categories)}
    counts = np.zeros((values.shape[0], len(categories)), dtype=np.int64)
    for i, row in enumerate(values):
        for v in row:
            if v is not None and v == v:
                counts[i, index[v]] += 1
    return counts


def disagreements(labels: pd.DataFrame) -> pd.DataFrame:
    """Items whose labellers gave different labels, to settle on the Review page.

    Parameters
    ----------
    labels : DataFrame
        The store's labels table.

    Returns
    -------
    DataFrame
        One row per item labelled by two or more labellers with at least two
        different labels, most contested first (lowest share for the majority),
        then by ``item_id``. Columns: ``item_id`` (int64), ``name`` (str, when the
        labels table has names), ``n_labellers`` (int64), ``majority`` (the most
        given label, missing (NA) on a tie), ``majority_share`` (float), ``votes``
        (``"3 ×2, 5 ×1"``), ``by_labeller`` (``"alice: 3, bob: 5"``).
    """
    frame = _check_labels(labels)
    columns = [
        "item_id",
        "name",
        "n_labellers",
        "majority",
        "majority_share",
        "votes",
        "by_labeller",
    ]
    rows = []
    names = (
        frame.drop_duplicates("item_id").set_index("item_id")["name"]
        if "name" in frame.columns
        else None
    )
    for item_id, group in frame.sort_values(["item_id", "labeller"], kind="stable").groupby(
        "item_id", sort=True
    ):
        if len(group) < 2 or group["label"].nunique() < 2:
            continue
        tally = Counter(group["label"].tolist())
        ranked = sorted(tally.items(), key=lambda kv: (-kv[1], str(kv[0])))
        top = ranked[0][1]
        tied = sum(1 for _, c in ranked if c == top) > 1
        rows.append(
            {
                "item_id": int(item_id),
                "name": None if names is None else str(names.get(item_id)),
                "n_labellers": len(group),
                "majority": None if tied else ranked[0][0],
                "majority_share": top / len(group),
                "votes": ", ".join(f"{label} ×{c}" for label, c in ranked),
                "by_labeller": ", ".join(
                    f"{who}: {label}"
                    for who, label in zip(group["labeller"], group["label"], strict=True)
                ),
            }
        )
    result = pd.DataFrame(rows, columns=columns)
    if result.empty:
        return result.astype(
            {"item_id": "int64", "n_labellers": "int64", "majority_share": "float64"}
        )
    result = result.sort_values(["majority_share", "item_id"], kind="stable").reset_index(drop=True)
    return result.astype({"item_id": "int64", "n_labellers": "int64", "majority_share": "float64"})
