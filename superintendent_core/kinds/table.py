"""Table rows: shown as ``(column, value)`` pairs; imported from a CSV / parquet file.

The model's features are the chosen numeric columns (a DataFrame).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from ..data.tables import table_batch, table_import
from ..store.protocol import Item
from .formatting import format_value
from .registry import DataKind, Importer
from .views import Rows

__all__ = ["TABLE", "display", "format_row", "preview"]

#: Longest value, in characters, in a preview; longest preview.
PREVIEW_VALUE_CHARS = 30
PREVIEW_CHARS = 160


def format_row(row: Mapping[str, Any], max_chars: int = 200) -> list[tuple[str, str]]:
    """A table row as ``(column, value)`` pairs of display strings.

    Floats are shown with 6 significant digits, missing values as empty text,
    long values cut to ``max_chars``.
    """
    out = []
    for column, value in row.items():
        text = format_value(value)
        if len(text) > max_chars:
            text = text[: max_chars - 1] + "…"
        out.append((str(column), text))
    return out


def display(item: Item, size: int | None = None) -> Rows:
    """The item's row as ``(column, value)`` pairs (``size`` is ignored), captioned by its name."""
    return Rows(tuple(format_row(item.payload if isinstance(item.payload, dict) else {})), caption=item.name)


def preview(item: Item) -> str:
    """``column=value, …`` on one line."""
    return ", ".join(f"{c}={v}" for c, v in format_row(item.payload, max_chars=PREVIEW_VALUE_CHARS))[:PREVIEW_CHARS]


#: The table kind, registered by :mod:`superintendent_core.kinds`.
TABLE = DataKind(
    name="table",
    label="Table rows",
    display=display,
    preview=preview,
    preview_format="text",
    default_models={"table": "logistic_regression", "array": "logistic_regression"},
    importers=(
        Importer("table", "Table rows: a DataFrame", functools.partial(table_batch, kind="table")),
        Importer("file", "Table rows: a CSV / parquet file", functools.partial(table_import, kind="table")),
    ),
)
