"""Importing existing labels from a table (a CSV or parquet with ``name`` and ``label`` columns)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..labels import cell_value
from ..store.errors import InvalidInput
from ..store.protocol import LabelStore
from .export import restore_csv_cell

__all__ = ["import_label_table", "label_cell_text"]


def label_cell_text(value: Any) -> str:
    """A label cell as text (a CSV column with gaps reads 3 as 3.0; the quote our CSV export
    puts before a formula-like text is removed)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return restore_csv_cell(str(value).strip())


def import_label_table(store: LabelStore, table: pd.DataFrame, *, labeller: str) -> int:
    """Record the labels of ``table`` in ``store``, all or none.

    Parameters
    ----------
    store : LabelStore
    table : DataFrame
        Columns ``name`` (an item's name in the project) and ``label`` (a class;
        ``"a|b"`` for several classes in a multi-label project); optionally
        ``labeller``. Rows without a label are ignored. A text cell that begins
        with ``'`` followed by ``= + - @``, a tab or a CR loses that one quote:
        it is how :func:`~superintendent_core.data.export.labels_csv` keeps
        spreadsheets from running formulas, so our CSV exports import unchanged.
    labeller : str
        Who made the labels of rows without a ``labeller`` column.

    Returns
    -------
    int
        The number of labels recorded.

    Raises
    ------
    InvalidInput
        A column is missing, a name is not an item of the project, or a row
        cannot be recorded (see :meth:`LabelStore.import_labels`); nothing is
        recorded then.
    """
    for column in ("name", "label"):
        if column not in table.columns:
            raise InvalidInput(f"The labels file needs a {column!r} column; its columns are {list(table.columns)}.")
    ids_by_name = {n: i for i, n in enumerate(store.names(range(len(store))))}
    rows = table.dropna(subset=["label"])
    names = [restore_csv_cell(str(n)) for n in rows["name"]]
    unknown = [n for n in names if n not in ids_by_name]
    if unknown:
        raise InvalidInput(
            f"{len(unknown)} name(s) are not items of this project, e.g. {unknown[0]!r}; nothing was imported."
        )
    multi_label = store.settings.multi_label
    ids = [ids_by_name[name] for name in names]
    labels = [cell_value(label_cell_text(v), multi_label) for v in rows["label"]]
    who = [restore_csv_cell(w) for w in rows["labeller"].astype(str)] if "labeller" in rows.columns else labeller
    if not ids:
        return 0
    return store.import_labels(ids, labels, who)
