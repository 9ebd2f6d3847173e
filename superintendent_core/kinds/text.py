"""Text items: read wrapped and cut; imported from a column of a CSV / parquet file.

The model featurises the text itself (TF-IDF inside the default model), unless
the import chose numeric feature columns (e.g. embeddings).
"""

from __future__ import annotations

import functools
import textwrap
from typing import Any

from ..data.tables import table_batch, table_import
from ..store.protocol import Item
from .registry import DataKind, Importer
from .views import Text

__all__ = ["TEXT", "display", "format_text", "preview"]

#: Longest preview in lists, in characters.
PREVIEW_CHARS = 160


def format_text(text: Any, width: int = 100, max_chars: int = 5000) -> str:
    """A text item, wrapped for reading and cut to ``max_chars`` (with a note).

    Paragraph breaks are kept; very long lines are wrapped at ``width`` columns.
    """
    text = "" if text is None else str(text)
    cut = len(text) > max_chars
    text = text[:max_chars]
    paragraphs = [
        "\n".join(textwrap.wrap(p, width=width, break_long_words=True, replace_whitespace=False)) or ""
        for p in text.splitlines()
    ]
    out = "\n".join(paragraphs)
    return out + (f"\n… ({len(text):,}+ characters, cut)" if cut else "")


def display(item: Item, size: int | None = None) -> Text:
    """The item's text wrapped for reading (``size`` is ignored), captioned by its name."""
    return Text(format_text(item.payload), caption=item.name)


def preview(item: Item) -> str:
    """The start of the item's text, on one line as far as it goes."""
    return format_text(item.payload, width=10_000, max_chars=PREVIEW_CHARS)


#: The text kind, registered by :mod:`superintendent_core.kinds`.
TEXT = DataKind(
    name="text",
    label="Texts",
    display=display,
    preview=preview,
    preview_format="text",
    default_models={"text": "text_logistic_regression", "array": "logistic_regression"},
    importers=(
        Importer("table", "Text: one column of a DataFrame", functools.partial(table_batch, kind="text")),
        Importer("file", "Text: a column of a CSV / parquet file", functools.partial(table_import, kind="text")),
    ),
)
