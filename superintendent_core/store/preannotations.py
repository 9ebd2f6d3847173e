"""Pre-annotations: labels another model made, kept as suggestions apart from human labels.

The rules every backend follows:

- They live in their own table / file (folder: ``preannotations-NNNNNN.parquet``
  named by the manifest; SQL: ``si_preannotations``), never among the label
  events: ``labels()``, ``training_data()``, ``progress()``, the audit records,
  the accuracy estimate and every export of labels ignore them. The project zip
  does not carry them either (import the file again).
- One per item: saving pre-annotations for items that have one replaces theirs;
  other items keep theirs. A save is all or nothing (checked whole first, then
  one atomic write / one transaction).
- A pre-annotation has a label (a class of the project; several in a
  multi-label project, stored joined by ``"|"`` in class order), an optional
  score (a finite number; NaN when not given) and a source (free text naming
  the model or file, at most :data:`MAX_SOURCE_CHARS` characters).
- Accepting one on the Label page is an ordinary ``submit`` of its label by the
  labeller (the label is then that labeller's, with its audit record if the item
  was served from an audit slot); the pre-annotation itself stays as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from . import _rules
from .errors import InvalidInput, UnknownItem
from .protocol import ProjectSettings

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")

__all__ = [
    "MAX_SOURCE_CHARS",
    "PREANNOTATION_COLUMNS",
    "check_preannotations",
    "empty_preannotations",
    "merge_preannotations",
]

#: Longest source name kept.
MAX_SOURCE_CHARS = 200
#: Columns of ``store.preannotations()``.
PREANNOTATION_COLUMNS = ("item_id", "label", "score", "source")


def empty_preannotations() -> pd.DataFrame:
    """``store.preannotations()`` of a project without any."""
    return pd.DataFrame({"item_id": np.empty(0, np.int64), "label": np.empty(0, object),
                         "score": np.empty(0, np.float64), "source": np.empty(0, object)})


def check_preannotations(
    ids: Any,
    labels: Any,
    scores: Any,
    source: Any,
    settings: ProjectSettings,
    n_items: int,
) -> tuple[np.ndarray, list[str], np.ndarray, str]:
    """Validate a whole save of pre-annotations before anything is written.

    Returns
    -------
    ids : ndarray of int64, shape (n,)
    texts : list of str
        Each row's canonical label string.
    scores : ndarray of float64, shape (n,)
        NaN where no score was given.
    source : str

    Raises
    ------
    InvalidInput
        Lengths that differ, an item listed twice, a label that is not a class,
        a score that is not a finite number, a bad source; the message names the
        first rows at fault and how many there are.
    UnknownItem
        An id outside the project.
    """
    if not isinstance(source, str) or not source.strip() or len(source) > MAX_SOURCE_CHARS:
        raise InvalidInput(f"A pre-annotation source is a name (text of 1 to {MAX_SOURCE_CHARS} characters).")
    if isinstance(labels, str | bytes) or not hasattr(labels, "__len__"):
        raise InvalidInput("labels must be a list with one label per item id.")
    arr = _rules.check_ids(ids, n_items, lambda: n_items)
    n = len(arr)
    if scores is None:
        score_arr = np.full(n, np.nan)
    else:
        try:
            score_arr = np.asarray([np.nan if s is None else s for s in scores], dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise InvalidInput("Scores must be numbers (or empty).") from None
    if len(labels) != n or len(score_arr) != n:
        raise InvalidInput(f"Got {n} item ids, {len(labels)} labels and {len(score_arr)} scores; they must match.")
    if _rules.has_repeats(arr):
        raise InvalidInput("An item is listed twice; give each item at most one pre-annotation. Nothing was saved.")
    problems: list[str] = []
    texts: list[str] = []
    for row, label in enumerate(labels):
        try:
            texts.append(_rules.normalize_label(label, settings.classes, settings.multi_label))
        except (InvalidInput, UnknownItem) as exc:
            problems.append(f"row {row}: {exc}")
            texts.append("")
    bad_scores = np.flatnonzero(np.isinf(score_arr))
    problems += [f"row {r}: the score must be a finite number" for r in bad_scores.tolist()]
    if problems:
        shown = "; ".join(problems[: _rules.SHOWN_ROWS])
        more = f"; and {len(problems) - _rules.SHOWN_ROWS} more" if len(problems) > _rules.SHOWN_ROWS else ""
        raise InvalidInput(f"{len(problems)} of {n} pre-annotation(s) cannot be saved, nothing was saved: "
                           f"{shown}{more}.")
    return arr, texts, score_arr, source


def merge_preannotations(
    old: pd.DataFrame, ids: np.ndarray, texts: Sequence[str], scores: np.ndarray, source: str
) -> pd.DataFrame:
    """``old`` with the rows of ``ids`` replaced or added, by item id."""
    new = pd.DataFrame({"item_id": ids.astype(np.int64), "label": np.asarray(texts, dtype=object),
                        "score": scores.astype(np.float64), "source": np.full(len(ids), source, dtype=object)})
    kept = old[~old["item_id"].isin(ids)]
    out = pd.concat([kept, new], ignore_index=True) if len(kept) else new
    return out.sort_values("item_id", kind="stable").reset_index(drop=True)
