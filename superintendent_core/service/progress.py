"""Team progress: per labeller, how much, how fast, how often skipped and how often in disagreement.

For team leads (the Review page's "Team progress"): computed from the store on
every call (:meth:`LabelStore.labels` and :meth:`LabelStore.skip_counts`), so the
counts are fresh after each label; nothing is cached here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from .._lazy import lazy_module
from ..store.protocol import LabelStore

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")

__all__ = ["PROGRESS_COLUMNS", "labeller_progress", "progress_table"]

#: The columns of :func:`labeller_progress`, in order.
PROGRESS_COLUMNS = (
    "labeller", "labels_today", "labels_total", "median_seconds", "skips", "overlap_items", "disagreement_share",
)


def labeller_progress(store: LabelStore, now: datetime | pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per labeller of ``store``: labels today and in total, speed, skips, disagreements.

    Parameters
    ----------
    store : LabelStore
    now : datetime or Timestamp, optional
        "Today" is the UTC calendar day of ``now`` (default: the current time);
        a naive value is taken as UTC.

    Returns
    -------
    DataFrame
        See :func:`progress_table`.
    """
    return progress_table(store.labels(), store.skip_counts(), now=now)


def progress_table(
    labels: pd.DataFrame, skips: dict[str, int] | None = None, *, now: datetime | pd.Timestamp | None = None
) -> pd.DataFrame:
    """Per-labeller progress from a labels table (:meth:`LabelStore.labels`) and skip counts.

    Parameters
    ----------
    labels : DataFrame
        One row per label in force: ``item_id``, ``label``, ``labeller``,
        ``time`` (UTC), ``seconds`` (NaN when unknown).
    skips : dict of str to int, optional
        Skips per labeller (:meth:`LabelStore.skip_counts`).
    now : datetime or Timestamp, optional
        Defines "today" (its UTC day); default the current time.

    Returns
    -------
    DataFrame with columns :data:`PROGRESS_COLUMNS`, one row per labeller who labelled or skipped, sorted by name
        ``labels_today`` (int): labels in force given since midnight UTC of ``now``'s day;
        ``labels_total`` (int): labels in force; ``median_seconds`` (float): median time per label, NaN when no
        label has a time; ``skips`` (int); ``overlap_items`` (int): their labelled items that someone else labelled
        too; ``disagreement_share`` (float): share of those items on which the labels are not all the same, NaN
        when there is no overlap (not known, not 0).
    """
    skips = dict(skips or {})
    missing = [c for c in ("item_id", "label", "labeller", "time", "seconds") if c not in labels.columns]
    if missing:
        raise ValueError(f"The labels table has no column(s) {', '.join(map(repr, missing))}.")
    now = pd.Timestamp(now if now is not None else datetime.now(UTC))
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    midnight = now.normalize()

    names = sorted(set(labels["labeller"].astype(str)) | set(skips))
    if not names:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in PROGRESS_COLUMNS})
    frame = labels.assign(labeller=labels["labeller"].astype(str))
    times = pd.to_datetime(frame["time"], utc=True)
    by = frame.groupby("labeller")
    total = by.size()
    today = frame[(times >= midnight).to_numpy()].groupby("labeller").size()
    median = by["seconds"].median()

    # Overlap: items with labels from two or more people; disagreement: not all their labels are the same.
    per_item = frame.groupby("item_id")["label"].agg(["size", "nunique"])
    shared = per_item[per_item["size"] >= 2]
    in_overlap = frame[frame["item_id"].isin(shared.index)]
    overlap = in_overlap.groupby("labeller").size()
    disagreed_items = shared.index[shared["nunique"] > 1]
    disagreed = in_overlap[in_overlap["item_id"].isin(disagreed_items)].groupby("labeller").size()

    rows = []
    for name in names:
        n_overlap = int(overlap.get(name, 0))
        rows.append({
            "labeller": name,
            "labels_today": int(today.get(name, 0)),
            "labels_total": int(total.get(name, 0)),
            "median_seconds": float(median.get(name, np.nan)),
            "skips": int(skips.get(name, 0)),
            "overlap_items": n_overlap,
            "disagreement_share": int(disagreed.get(name, 0)) / n_overlap if n_overlap else np.nan,
        })
    return pd.DataFrame(rows, columns=list(PROGRESS_COLUMNS))


def _dtype(column: str) -> str:
    return {"labeller": "object", "median_seconds": "float64", "disagreement_share": "float64"}.get(column, "int64")
